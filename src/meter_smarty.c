/* Luxembourg Smarty meters (a meter with DecryptionKey): the line's bytes
 * go through the DLMS/AES-GCM decoder (smarty.h), and only the plaintext
 * telegrams it yields reach the framer, so that everything after (CRC,
 * mapping, dispatch, counters) is the same as for any meter. A refused
 * frame (wrong key, replay, cut) dispatches nothing and is complained
 * about, rate-limited. Reader thread only, except dsmr_meter_smarty_start
 * (init). */
#include "core/daemon/collectd.h"

#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include "meter.h"

/* The decoder's counts on top of the framer's; under m->lock. The bytes
 * are those of the line (the framer only sees plaintext), a frame cut short
 * is a dropped telegram. */
void dsmr_meter_smarty_account(struct dsmr_meter *m) {
  const struct dsmr_smarty_stats *s = &m->smarty.stats;
  m->stats.bytes = s->bytes;
  m->stats.too_large = m->framer.stats.too_large + s->too_large;
  m->stats.dropped = m->dropped_telegrams + s->malformed;
  m->stats.decrypt_error = s->auth_failures;
  m->stats.replayed = s->replays;
}

/* A frame the decoder refused: nothing of it is dispatched. */
static void smarty_refused(struct dsmr_meter *m, enum dsmr_smarty_event ev,
                           const struct dsmr_smarty_frame *f, cdtime_t now) {
  switch (ev) {
  case DSMR_SMARTY_AUTH_FAILED:
    /* Before the first good frame it is almost surely the key. */
    dsmr_meter_complain(
        m, &m->complain_decrypt, now,
        "Smarty frame %" PRIu32 " failed authentication (GCM tag): %s; "
        "nothing dispatched",
        f->frame_counter,
        m->smarty.stats.frames_ok == 0
            ? "wrong DecryptionKey or AuthenticationKey for this meter "
              "(the keys come from the grid operator)"
            : "a corrupted frame, or the keys changed");
    break;
  case DSMR_SMARTY_REPLAY:
    dsmr_meter_complain(m, &m->complain_replay, now,
                        "Smarty frame counter %" PRIu32
                        " is not above the last accepted "
                        "%" PRIu32 ": refused as a replay, nothing dispatched",
                        f->frame_counter, f->last_counter);
    break;
  case DSMR_SMARTY_TOO_LARGE:
    dsmr_meter_complain(
        m, &m->complain_size, now,
        "Smarty frame larger than MaxTelegramSize %zu bytes allows: "
        "dropped",
        m->cfg.max_telegram);
    break;
  default: /* MALFORMED: cut short by a glitch or the next frame */
    dsmr_meter_complain(m, &m->complain_dropped, now,
                        "a Smarty frame was cut short or malformed: dropped");
    break;
  }
}

/* Like handle_bytes, for an encrypted line: returns the number of frames
 * completed (any verdict, refused Smarty frames included). */
unsigned dsmr_meter_smarty_bytes(struct dsmr_meter *m, const char *p,
                                 size_t len, cdtime_t now) {
  enum dsmr_smarty_event ev;
  struct dsmr_smarty_frame f;
  unsigned frames = 0;

  do {
    size_t n = dsmr_smarty_feed(&m->smarty, p, len, &ev, &f);
    p += n;
    len -= n;
    if (ev == DSMR_SMARTY_PLAINTEXT) {
      if (m->smarty.stats.frames_ok == 1) /* the keys are right: say so */
        INFO("dsmr plugin: meter \"%s\": Smarty frames decrypt (system "
             "title %02X%02X%02X%02X%02X%02X%02X%02X, frame counter "
             "%" PRIu32 "%s)",
             m->cfg.name, f.system_title[0], f.system_title[1],
             f.system_title[2], f.system_title[3], f.system_title[4],
             f.system_title[5], f.system_title[6], f.system_title[7],
             f.frame_counter, f.hdlc ? ", in HDLC frames" : "");
      frames += dsmr_meter_handle_bytes(m, f.data, f.len, now);
    } else if (ev != DSMR_SMARTY_NONE) {
      smarty_refused(m, ev, &f, now);
      frames++; /* paced like any frame: a flood of bad ones too */
    }
  } while (len > 0 || ev != DSMR_SMARTY_NONE);
  pthread_mutex_lock(&m->lock);
  dsmr_meter_smarty_account(m);
  pthread_mutex_unlock(&m->lock);
  return frames;
}

/* Called from collectd's init callback (via dsmr_meter_start), after every
 * config callback: see dsmr_smarty_init on libgcrypt's initialisation. The
 * keys go into libgcrypt's handle; our copies are wiped. */
int dsmr_meter_smarty_start(struct dsmr_meter *m) {
  char err[256];
  size_t cap = DSMR_SMARTY_BUF_SIZE(m->cfg.max_telegram);
  int rc = -1;

  m->smarty_buf = malloc(cap);
  if (!m->smarty_buf)
    snprintf(err, sizeof(err), "out of memory");
  else
    rc = dsmr_smarty_init(&m->smarty, m->cfg.decryption_key,
                          m->cfg.auth_key_set ? m->cfg.auth_key : NULL,
                          m->smarty_buf, cap, err, sizeof(err));
  explicit_bzero(m->cfg.decryption_key, sizeof(m->cfg.decryption_key));
  explicit_bzero(m->cfg.auth_key, sizeof(m->cfg.auth_key));
  if (rc != 0)
    ERROR("dsmr plugin: meter \"%s\": cannot set up Smarty decryption: %s",
          m->cfg.name, err);
  return rc;
}
