/* A meter's reader thread: connect (with backoff), read, pass the bytes
 * through the meter's input chain (input_chain.h: line probe for Baudrate
 * "auto", Smarty decryption, framer), turn what comes out of it into
 * counters, log lines and notifications, and hand clean telegrams to
 * meter_dispatch.c. Stoppable within a
 * second in every state: every wait also watches the meter's wake pipe.
 *
 * Logging rule: a loss and a recovery are logged once each; failed
 * attempts in between are logged only when their reason changes (a
 * device that is missing for an hour must not fill the log). */
#include "core/daemon/collectd.h"

#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include <fcntl.h>
#include <poll.h>

#include "latency_probe.h"
#include "meter.h"

#define OPEN_TIMEOUT_MS 10000
#define READ_WAIT_MS 1000
/* A real meter sends a telegram every second (DSMR 5) or every 10 s. A
 * source that delivers far more is a replay, a buffer being emptied, or
 * hostile: beyond a burst of PACE_BURST, the reader takes at most
 * PACE_RATE telegrams a second and otherwise waits, so that the peer is
 * slowed down by flow control (TCP window, full tty buffer) instead of
 * collectd's write queue growing without bound (measured without it: a
 * TCP peer sending valid telegrams at full speed grew collectd by 30 MB a
 * second). Nothing is dropped by the pacing itself. */
#define PACE_RATE 100.0
#define PACE_BURST 100.0
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 30000
/* Repeated complaints of one kind: at most one log line a minute. */
#define COMPLAIN_EVERY TIME_T_TO_CDTIME_T(60)

static int stopping(struct dsmr_meter *m) {
  return atomic_load(&m->stopping);
}

/* Sleep ms unless told to stop; -1 when told. */
static int backoff_wait(struct dsmr_meter *m, int ms) {
  struct pollfd p = {.fd = m->wake[0], .events = POLLIN};
  if (stopping(m))
    return -1;
  if (poll(&p, 1, ms) > 0 || stopping(m))
    return -1;
  return 0;
}

void dsmr_meter_complain(struct dsmr_meter *m, struct dsmr_complaint *c,
                         cdtime_t now, const char *fmt, ...) {
  char msg[512];
  va_list ap;

  if (c->last != 0 && now - c->last < COMPLAIN_EVERY) {
    c->suppressed++;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (c->suppressed)
    WARNING("dsmr plugin: meter \"%s\": %s (and %" PRIu64
            " more like it in the last minute)",
            m->cfg.name, msg, c->suppressed);
  else
    WARNING("dsmr plugin: meter \"%s\": %s", m->cfg.name, msg);
  c->last = now;
  c->suppressed = 0;
}

/* A telegram from the input chain: judged, mapped, dispatched. */
static void dispatch_clean(struct dsmr_meter *m, cdtime_t now);

static void handle_frame(struct dsmr_meter *m, const struct dsmr_input_out *o,
                         cdtime_t now) {
  const struct dsmr_frame *f = &o->frame;
  unsigned errors;

  dsmr_meter_note_arrival(m, now);
  if (o->check != DSMR_INPUT_CHECK_OK) {
    pthread_mutex_lock(&m->lock);
    m->stats.crc_error++;
    pthread_mutex_unlock(&m->lock);
    if (o->check == DSMR_INPUT_CHECK_CRC_BAD)
      dsmr_meter_complain(
          m, &m->complain_crc, now,
          "telegram of %zu bytes failed its CRC check (sent %04X, "
          "computed %04X): nothing dispatched",
          f->len, f->crc_given, f->crc_computed);
    else
      dsmr_meter_complain(
          m, &m->complain_crc, now,
          "telegram of %zu bytes has no CRC although this meter sends "
          "one: nothing dispatched",
          f->len);
    return;
  }

  errors =
      dsmr_map_telegram_state(f->data, f->len, &m->telegram, &m->map_state);
  if (m->telegram.unitless_new[0])
    INFO("dsmr plugin: meter \"%s\": values without a unit, read in the "
         "unit of the OBIS table: %s",
         m->cfg.name, m->telegram.unitless_new);
  /* Line noise can frame as '/' junk '!' without a CRC (a DSMR 2.2 meter
   * sends none): with no OBIS object in it, it is no telegram, and it must
   * not count as one (it would hide a silent meter). */
  if (errors == 0 && m->telegram.nobjects == 0) {
    errors = 1;
    m->telegram.first_error_line = 1;
    m->telegram.first_error_obis[0] = '\0';
    m->telegram.first_error = "no data objects";
  }
  if (errors) {
    pthread_mutex_lock(&m->lock);
    m->stats.malformed++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(
        m, &m->complain_malformed, now,
        "malformed telegram (%u error%s; first on line %u%s%s: %s): "
        "nothing dispatched",
        errors, errors == 1 ? "" : "s", m->telegram.first_error_line,
        m->telegram.first_error_obis[0] ? ", " : "",
        m->telegram.first_error_obis,
        m->telegram.first_error ? m->telegram.first_error : "?");
    return;
  }
  dispatch_clean(m, now);
}

/* A clean telegram in m->telegram (DSMR or a mapped HAN list): the storing
 * rules, dispatch, health. */
static void dispatch_clean(struct dsmr_meter *m, cdtime_t now) {
  int was_silent;

  if (dsmr_meter_dispatch(m, now) != 0) {
    /* A register in it is implausible: the notification is out. */
    pthread_mutex_lock(&m->lock);
    m->stats.implausible++;
    pthread_mutex_unlock(&m->lock);
    return;
  }
  DSMR_PROBE_DISPATCHED(); /* bench/ only: see latency_probe.h */

  pthread_mutex_lock(&m->lock);
  m->stats.ok++;
  m->last_valid = now;
  was_silent = m->silent;
  m->silent = 0;
  pthread_mutex_unlock(&m->lock);

  if (was_silent) {
    INFO("dsmr plugin: meter \"%s\": telegrams arrive again", m->cfg.name);
    dsmr_meter_notify(m, NOTIF_OKAY, "silence",
                      "meter \"%s\" sends valid telegrams again", m->cfg.name);
  }
}

/* A HAN list the chain decoded and mapped into m->telegram (input_chain.h:
 * han_telegram): the same path as a DSMR telegram from the mapper on. */
/* EnergyScaler: said once, on the first list with energy registers,
 * whether it applies (registers sent without a scaler_unit) or not (the
 * frame's own scaler_unit is used as sent). */
static void say_energy_scaler(struct dsmr_meter *m,
                              const struct dsmr_han_list *l) {
  unsigned implied = 0, sent = 0;

  if (!m->cfg.energy_scaler_set || m->energy_scaler_said || !l)
    return;
  for (unsigned i = 0; i < l->nvalues; i++) {
    const struct dsmr_han_value *v = &l->values[i];
    if (v->type != DSMR_HAN_NUMBER ||
        (v->unit != DSMR_DLMS_UNIT_WH && v->unit != DSMR_DLMS_UNIT_VARH &&
         v->unit != DSMR_DLMS_UNIT_VAH))
      continue;
    if (v->scaler_implied)
      implied++;
    else
      sent++;
  }
  if (!implied && !sent)
    return; /* no energy in this list: judged on the next one */
  m->energy_scaler_said = 1;
  if (implied)
    INFO("dsmr plugin: meter \"%s\": EnergyScaler %d: %u energy "
         "register%s sent without a scaler_unit read as counts of 10^%d Wh "
         "(list \"%.*s\")",
         m->cfg.name, m->cfg.energy_scaler, implied, implied == 1 ? "" : "s",
         m->cfg.energy_scaler, (int)l->list_id_len,
         l->list_id ? (const char *)l->list_id : "");
  else
    WARNING("dsmr plugin: meter \"%s\": EnergyScaler %d has no effect: "
            "this meter's list (\"%.*s\") sends the scaler_unit of its "
            "energy registers, which is used as sent; remove the option",
            m->cfg.name, m->cfg.energy_scaler, (int)l->list_id_len,
            l->list_id ? (const char *)l->list_id : "");
}

static void handle_han(struct dsmr_meter *m, const struct dsmr_input_out *o,
                       cdtime_t now) {
  unsigned errors = o->han_errors;

  dsmr_meter_note_arrival(m, now);
  say_energy_scaler(m, o->list);
  if (errors == 0 && m->telegram.nreadings == 0) {
    errors = 1;
    m->telegram.first_error_obis[0] = '\0';
    m->telegram.first_error = "no readings";
  }
  if (errors) {
    pthread_mutex_lock(&m->lock);
    m->stats.malformed++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(m, &m->complain_malformed, now,
                        "malformed HAN list (%u error%s; first%s%s: %s): "
                        "nothing dispatched",
                        errors, errors == 1 ? "" : "s",
                        m->telegram.first_error_obis[0] ? " at " : "",
                        m->telegram.first_error_obis,
                        m->telegram.first_error ? m->telegram.first_error
                                                : "?");
    return;
  }
  dispatch_clean(m, now);
}

/* A HAN frame or message the chain refused (or could not read). */
static void han_refused(struct dsmr_meter *m, const struct dsmr_input_out *o,
                        cdtime_t now) {
  switch (o->ev) {
  case DSMR_INPUT_HAN_FRAME_CHECK:
    dsmr_meter_note_arrival(m, now);
    pthread_mutex_lock(&m->lock);
    m->stats.crc_error++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(m, &m->complain_crc, now,
                        "HAN frame failed its check (%s): nothing dispatched",
                        o->detail ? o->detail : "?");
    break;
  case DSMR_INPUT_HAN_MISSING_SEGMENT:
  case DSMR_INPUT_HAN_BLOCK_REFUSED:
    dsmr_meter_complain(m, &m->complain_dropped, now,
                        "HAN message dropped (%s%s%s)",
                        dsmr_input_event_name(o->ev), o->detail ? ": " : "",
                        o->detail ? o->detail : "");
    break;
  case DSMR_INPUT_HAN_TOO_LARGE:
    dsmr_meter_complain(m, &m->complain_size, now,
                        "HAN message larger than %u bytes: dropped",
                        DSMR_HAN_MESSAGE_MAX);
    break;
  case DSMR_INPUT_HAN_PARSE_ERROR:
    pthread_mutex_lock(&m->lock);
    m->stats.malformed++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(m, &m->complain_malformed, now,
                        "HAN data-notification not decoded (%s): nothing "
                        "dispatched",
                        o->detail ? o->detail : "?");
    break;
  case DSMR_INPUT_HAN_NO_KEY:
    dsmr_meter_complain(
        m, &m->complain_decrypt, now,
        "encrypted HAN frame (system title "
        "%02X%02X%02X%02X%02X%02X%02X%02X) not read: %s",
        o->envelope.system_title[0], o->envelope.system_title[1],
        o->envelope.system_title[2], o->envelope.system_title[3],
        o->envelope.system_title[4], o->envelope.system_title[5],
        o->envelope.system_title[6], o->envelope.system_title[7],
        o->detail ? o->detail : "?");
    break;
  default:
    break;
  }
}

/* Baudrate "auto": the probe wants the source at its next setting. 0, or
 * -1 when the setting could not be applied (why). */
static int line_switch(struct dsmr_meter *m, const struct dsmr_line_probe *l,
                       char *why, size_t whylen) {
  const struct dsmr_line_setting *s = dsmr_line_probe_setting(l);
  if (l->windows == l->nsettings) {
    char all[96];
    dsmr_line_probe_list(l, all, sizeof(all));
    WARNING("dsmr plugin: meter \"%s\": Baudrate \"auto\": no valid "
            "%s at %s yet; still trying (is the meter sending? check "
            "the cable, DataRequest and whether the adapter inverts the "
            "signal)",
            m->cfg.name, dsmr_line_probe_wants(l), all);
  }
  return dsmr_source_set_line(&m->source, s->baudrate, s->databits,
                              s->parity == 'E' ? DSMR_PARITY_EVEN
                                               : DSMR_PARITY_NONE,
                              s->stopbits, why, whylen);
}

/* A Smarty envelope the chain refused: nothing of it is dispatched. */
static void envelope_refused(struct dsmr_meter *m,
                             const struct dsmr_input_out *o, cdtime_t now) {
  const struct dsmr_smarty_frame *f = &o->envelope;
  const char *kind = o->han ? "DLMS frame" : "Smarty frame";
  switch (o->ev) {
  case DSMR_INPUT_DECRYPT_FAILED:
    /* Before the first good frame it is almost surely the key. */
    dsmr_meter_complain(
        m, &m->complain_decrypt, now,
        "%s %" PRIu32 " failed %s: %s; nothing dispatched", kind,
        f->frame_counter,
        o->han ? "decryption (GCM tag, or the APDU inside does not decode)"
               : "authentication (GCM tag)",
        o->decrypted == 0
            ? "wrong DecryptionKey or AuthenticationKey for this meter "
              "(the keys come from the grid operator)"
            : "a corrupted frame, or the keys changed");
    break;
  case DSMR_INPUT_REPLAY:
    dsmr_meter_complain(m, &m->complain_replay, now,
                        "%s counter %" PRIu32 " is not above the last accepted "
                        "%" PRIu32 ": refused as a replay, nothing dispatched",
                        kind, f->frame_counter, f->last_counter);
    break;
  case DSMR_INPUT_ENVELOPE_TOO_LARGE:
    dsmr_meter_complain(
        m, &m->complain_size, now,
        "Smarty frame larger than MaxTelegramSize %zu bytes allows: "
        "dropped",
        m->cfg.max_telegram);
    break;
  default: /* malformed: cut short by a glitch or the next frame */
    dsmr_meter_complain(m, &m->complain_dropped, now,
                        "a %s was cut short or malformed: dropped", kind);
    break;
  }
}

/* The chain's counts into the read callback's (under m->lock). The bytes
 * are those of the line; a Smarty frame cut short is a dropped telegram. */
static void account(struct dsmr_meter *m) {
  const struct dsmr_input_stats *s = &m->input.stats;
  m->stats.bytes = s->bytes;
  m->stats.too_large = s->too_large + s->envelope_too_large + s->han_too_large;
  m->stats.dropped = s->cut + s->envelope_malformed + s->han_missing_segment +
                     s->han_block_refused;
  m->stats.decrypt_error = s->decrypt_failed + s->han_no_key;
  m->stats.replayed = s->replayed;
}

/* A chunk read from the source (n 0: a quiet second) through the meter's
 * input chain, and everything that came out of it into counters, log
 * lines and notifications. *frames: the frames completed (any verdict,
 * refused Smarty frames included: a flood of bad ones is paced too).
 * Returns 0, or -1 when the source could not be set to the line setting
 * the probe asked for (why). */
static int feed(struct dsmr_meter *m, char *p, size_t n, cdtime_t now,
                unsigned *frames, char *why, size_t whylen) {
  struct dsmr_input_out o = {0};
  enum dsmr_input_event ev;
  uint64_t ok;
  int rc = 0;

  *frames = 0;
  pthread_mutex_lock(&m->lock);
  ok = m->stats.ok;
  pthread_mutex_unlock(&m->lock);
  /* the clock only for the line probe, which keeps time by it */
  dsmr_input_feed(&m->input, p, n, m->cfg.source.line_auto ? dsmr_now_ms() : 0);
  while ((ev = dsmr_input_next(&m->input, &o)) != DSMR_INPUT_NONE) {
    switch (ev) {
    case DSMR_INPUT_FRAME:
      handle_frame(m, &o, now);
      (*frames)++;
      break;
    case DSMR_INPUT_TOO_LARGE:
      dsmr_meter_complain(
          m, &m->complain_size, now,
          "telegram larger than MaxTelegramSize %zu bytes: dropped "
          "(raise MaxTelegramSize if the meter really sends such)",
          m->cfg.max_telegram);
      break;
    case DSMR_INPUT_CUT:
      dsmr_meter_complain(m, &m->complain_dropped, now,
                          "an unfinished telegram was cut off by the next one");
      break;
    case DSMR_INPUT_LINE_FOUND:
      INFO("dsmr plugin: meter \"%s\": line detected: %s%s", m->cfg.name,
           o.line->found,
           o.line->masked ? " (read as 8N1 with bit 7, the parity bit, "
                            "cleared)"
                          : "");
      break;
    case DSMR_INPUT_LINE_SWITCH:
      if (rc == 0)
        rc = line_switch(m, o.line, why, whylen);
      break;
    case DSMR_INPUT_LINE_LOST:
      WARNING("dsmr plugin: meter \"%s\": line %s no longer works (%s): "
              "probing line settings again",
              m->cfg.name, o.line->found,
              o.line->lost_reason == DSMR_LINE_LOST_BAD_RUN
                  ? "invalid telegrams in a row"
                  : "bytes arrive but no valid telegram for a while");
      break;
    case DSMR_INPUT_HAN_TELEGRAM:
      handle_han(m, &o, now);
      (*frames)++;
      break;
    case DSMR_INPUT_HAN_FRAME_CHECK:
    case DSMR_INPUT_HAN_MISSING_SEGMENT:
    case DSMR_INPUT_HAN_BLOCK_REFUSED:
    case DSMR_INPUT_HAN_TOO_LARGE:
    case DSMR_INPUT_HAN_PARSE_ERROR:
    case DSMR_INPUT_HAN_NO_KEY:
      han_refused(m, &o, now);
      (*frames)++;
      break;
    case DSMR_INPUT_HAN_UNCHECKED:
      WARNING("dsmr plugin: meter \"%s\": CheckAuthenticationTag false: "
              "DLMS frames carry a GCM tag, decrypted WITHOUT checking it "
              "(a forged or damaged frame is caught only by the checks "
              "inside: DSMR CRC, the message's structure)",
              m->cfg.name);
      break;
    case DSMR_INPUT_HAN_TRANSPORT:
      INFO("dsmr plugin: meter \"%s\": HAN frames are %s", m->cfg.name,
           o.detail);
      break;
    case DSMR_INPUT_PROTOCOL:
      INFO("dsmr plugin: meter \"%s\": Protocol \"auto\": the meter sends "
           "%s",
           m->cfg.name,
           strcmp(o.detail, "DSMR") == 0 ? "DSMR telegrams"
                                         : "binary HAN (DLMS/COSEM) frames");
      break;
    case DSMR_INPUT_DECRYPT_OK:
      if (o.han) {
        INFO("dsmr plugin: meter \"%s\": DLMS frames decrypt (system title "
             "%02X%02X%02X%02X%02X%02X%02X%02X, invocation counter %" PRIu32
             ")",
             m->cfg.name, o.envelope.system_title[0],
             o.envelope.system_title[1], o.envelope.system_title[2],
             o.envelope.system_title[3], o.envelope.system_title[4],
             o.envelope.system_title[5], o.envelope.system_title[6],
             o.envelope.system_title[7], o.envelope.frame_counter);
        break;
      }
      INFO("dsmr plugin: meter \"%s\": Smarty frames decrypt (system "
           "title %02X%02X%02X%02X%02X%02X%02X%02X, frame counter "
           "%" PRIu32 "%s)",
           m->cfg.name, o.envelope.system_title[0], o.envelope.system_title[1],
           o.envelope.system_title[2], o.envelope.system_title[3],
           o.envelope.system_title[4], o.envelope.system_title[5],
           o.envelope.system_title[6], o.envelope.system_title[7],
           o.envelope.frame_counter, o.envelope.hdlc ? ", in HDLC frames" : "");
      break;
    default: /* a refused Smarty envelope */
      envelope_refused(m, &o, now);
      (*frames)++;
      break;
    }
  }
  pthread_mutex_lock(&m->lock);
  account(m);
  /* The rest of a chunk that carried a valid telegram is its CR LF. */
  if (m->stats.ok != ok) {
    m->bytes_at_valid = m->stats.bytes;
    m->at_valid = m->stats;
  }
  pthread_mutex_unlock(&m->lock);
  return rc;
}

/* Token bucket over frames (see PACE_RATE): -1 when told to stop while
 * waiting. */
static int pace(struct dsmr_meter *m, unsigned frames) {
  cdtime_t now = cdtime();
  int ms;

  if (m->pace_at == 0 || now < m->pace_at)
    m->pace_tokens = PACE_BURST;
  else
    m->pace_tokens += CDTIME_T_TO_DOUBLE(now - m->pace_at) * PACE_RATE;
  if (m->pace_tokens > PACE_BURST)
    m->pace_tokens = PACE_BURST;
  m->pace_at = now;
  m->pace_tokens -= frames;
  if (m->pace_tokens >= 0)
    return 0;
  dsmr_meter_complain(
      m, &m->complain_pace, now,
      "more than %.0f telegrams a second arrive: reading slowed down to "
      "that pace (a real meter sends one every second or every 10 s)",
      PACE_RATE);
  ms = (int)(-m->pace_tokens * 1000.0 / PACE_RATE) + 1;
  return backoff_wait(m, ms);
}

static void settings(const struct dsmr_meter *m, char *buf, size_t len) {
  const struct dsmr_source_config *c = &m->cfg.source;
  if (c->kind == DSMR_SOURCE_TCP) {
    buf[0] = '\0';
    return;
  }
  if (c->line_auto) {
    snprintf(buf, len, ", Baudrate auto");
    return;
  }
  snprintf(buf, len, ", %d %d%c%d", c->baudrate, c->databits,
           c->parity == DSMR_PARITY_EVEN  ? 'E'
           : c->parity == DSMR_PARITY_ODD ? 'O'
                                          : 'N',
           c->stopbits);
}

/* One chunk from the source (n 0: a quiet second) through the chain, and
 * its frames paced. 1 to go on reading, 0 when told to stop, -1 when the
 * source is lost (why). */
static int read_step(struct dsmr_meter *m, char *why, size_t whylen) {
  unsigned frames;
  ssize_t n = dsmr_source_read(&m->source, m->read_buf, sizeof(m->read_buf),
                               m->wake[0], READ_WAIT_MS, why, whylen);
  if (stopping(m))
    return 0;
  if (n < 0)
    return -1;
  /* A quiet second: is the configured path still the open device? A
   * repointed or removed link is followed by opening it again. */
  if (n == 0 && !dsmr_source_still_named(&m->source, why, whylen))
    return -1;
  if (n > 0)
    DSMR_PROBE_READ();
  /* Also a quiet second (n 0): Baudrate "auto" keeps time by it. All
   * frames completed by this chunk share its arrival time: the moment
   * their last byte was read. */
  if (feed(m, m->read_buf, (size_t)n, cdtime(), &frames, why, whylen) != 0)
    return -1;
  if (n > 0 && pace(m, frames) < 0)
    return 0;
  return 1;
}

/* Read until the source is lost (returns 1) or we are told to stop (0).
 * *good tells whether a clean telegram arrived on this connection. */
static int read_loop(struct dsmr_meter *m, char *why, size_t whylen,
                     int *good) {
  uint64_t ok_before;
  int rc;

  pthread_mutex_lock(&m->lock);
  ok_before = m->stats.ok;
  pthread_mutex_unlock(&m->lock);
  *good = 0;
  while ((rc = read_step(m, why, whylen)) > 0)
    ;
  if (rc == 0)
    return 0;
  pthread_mutex_lock(&m->lock);
  *good = m->stats.ok != ok_before;
  pthread_mutex_unlock(&m->lock);
  return 1;
}

/* What the reader thread keeps between connections. */
struct reader {
  char what[300]; /* the source, described */
  char set[32];   /* its line setting, for the log */
  char err[512], last_err[512];
  int backoff; /* ms before the next attempt */
  int was_connected, lost;
  unsigned failures; /* failed attempts since the last connection */
};

/* Sleep the backoff, then double it (up to BACKOFF_MAX_MS); -1 when told
 * to stop. */
static int reader_backoff(struct dsmr_meter *m, struct reader *r) {
  if (backoff_wait(m, r->backoff) < 0)
    return -1;
  r->backoff =
      r->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff * 2;
  return 0;
}

/* Step 1: open the source, at the line setting the probe wants (Baudrate
 * "auto"). 0 when open; 1 when it failed (logged when the reason changed;
 * backed off: try again); -1 when told to stop. */
static int reader_open(struct dsmr_meter *m, struct reader *r) {
  const struct dsmr_line_setting *line = dsmr_input_line(&m->input);
  int rc;

  if (line) { /* Baudrate "auto": the probe's setting */
    m->source.cfg.baudrate = line->baudrate;
    m->source.cfg.databits = line->databits;
    m->source.cfg.parity =
        line->parity == 'E' ? DSMR_PARITY_EVEN : DSMR_PARITY_NONE;
    m->source.cfg.stopbits = line->stopbits;
  }
  rc = dsmr_source_open(&m->source, m->wake[0], OPEN_TIMEOUT_MS, r->err,
                        sizeof(r->err));
  if (rc == -2)
    return -1;
  if (rc >= 0)
    return 0;
  r->failures++;
  if (strcmp(r->err, r->last_err) != 0) {
    if (r->lost)
      INFO("dsmr plugin: meter \"%s\": reconnecting to %s: %s; "
           "retrying (every %d s at most)",
           m->cfg.name, r->what, r->err, BACKOFF_MAX_MS / 1000);
    else
      WARNING("dsmr plugin: meter \"%s\": cannot open %s: %s; "
              "retrying (every %d s at most)",
              m->cfg.name, r->what, r->err, BACKOFF_MAX_MS / 1000);
    sstrncpy(r->last_err, r->err, sizeof(r->last_err));
  }
  return reader_backoff(m, r) < 0 ? -1 : 1;
}

/* Step 2: the source is open: say so (a restored connection is counted
 * and notified), and start the chain afresh. */
static void reader_connected(struct dsmr_meter *m, struct reader *r) {
  r->last_err[0] = '\0';
  if (r->lost) {
    pthread_mutex_lock(&m->lock);
    m->stats.reconnects++;
    pthread_mutex_unlock(&m->lock);
    INFO("dsmr plugin: meter \"%s\": connection to %s restored (via %s%s) "
         "after %u failed attempt%s",
         m->cfg.name, r->what, m->source.via, r->set, r->failures,
         r->failures == 1 ? "" : "s");
    dsmr_meter_notify(m, NOTIF_OKAY, "connection",
                      "meter \"%s\": connection to %s restored", m->cfg.name,
                      r->what);
  } else {
    INFO("dsmr plugin: meter \"%s\": connected to %s (via %s%s)", m->cfg.name,
         r->what, m->source.via, r->set);
    if (!r->was_connected && m->source.fallback_reason[0])
      INFO("dsmr plugin: meter \"%s\": opened with plain termios, as %s "
           "(normal for pseudo-terminals)",
           m->cfg.name, m->source.fallback_reason);
  }
  if (m->cfg.source.line_auto && !r->was_connected) {
    char all[96];
    dsmr_line_probe_list(&m->input.line, all, sizeof(all));
    INFO("dsmr plugin: meter \"%s\": Baudrate \"auto\": probing %s, "
         "%d s each",
         m->cfg.name, all, DSMR_LINE_WINDOW_MS / 1000);
  }
  if (m->source.data_request_note[0] && !r->was_connected)
    WARNING("dsmr plugin: meter \"%s\": %s", m->cfg.name,
            m->source.data_request_note);
  r->was_connected = 1;
  r->failures = 0;
  /* Bytes from before the loss belong to a telegram that will never
   * finish; Baudrate "auto" probes again from the setting that worked
   * last (if any). */
  dsmr_input_restart(&m->input, dsmr_now_ms());
  m->last_arrival = 0;
}

/* Step 4: the source was lost (r->err): close it, log and notify, back
 * off. -1 when told to stop while waiting. */
static int reader_lost(struct dsmr_meter *m, struct reader *r, int good) {
  dsmr_source_close(&m->source);
  r->lost = 1;
  WARNING("dsmr plugin: meter \"%s\": lost %s: %s; reconnecting", m->cfg.name,
          r->what, r->err);
  dsmr_meter_notify(m, NOTIF_FAILURE, "connection",
                    "meter \"%s\": connection to %s lost: %s", m->cfg.name,
                    r->what, r->err);
  /* A connection that delivered a telegram was a good one: start the
   * backoff again. One that did not (a peer that accepts and hangs up)
   * keeps growing it. */
  if (good)
    r->backoff = BACKOFF_FIRST_MS;
  return reader_backoff(m, r);
}

/* The reader thread: open (step 1), connected (2), read until lost or
 * stopped (3: read_loop, each chunk through feed), lost (4), again. */
static void *reader_main(void *arg) {
  struct dsmr_meter *m = arg;
  struct reader r = {.backoff = BACKOFF_FIRST_MS};

  dsmr_source_describe(&m->cfg.source, r.what, sizeof(r.what));
  settings(m, r.set, sizeof(r.set));

  while (!stopping(m)) {
    int rc = reader_open(m, &r), good;
    if (rc < 0)
      break;
    if (rc > 0)
      continue;
    reader_connected(m, &r);
    if (read_loop(m, r.err, sizeof(r.err), &good) == 0)
      break;
    if (reader_lost(m, &r, good) < 0)
      break;
  }
  dsmr_source_close(&m->source);
  return NULL;
}

struct dsmr_meter *dsmr_meter_new(const struct dsmr_meter_config *cfg) {
  struct dsmr_meter *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->cfg = *cfg;
  m->wake[0] = m->wake[1] = -1;
  dsmr_source_init(&m->source, &m->cfg.source);
  pthread_mutex_init(&m->lock, NULL);
  atomic_init(&m->stopping, 0);
  return m;
}

int dsmr_meter_start(struct dsmr_meter *m) {
  char tname[16], err[256];
  int rc;
  /* Called from collectd's init callback, after every config callback:
   * see dsmr_smarty_init on libgcrypt's initialisation. The keys go into
   * libgcrypt's handle; our copies are wiped. */
  struct dsmr_input_config in = {
      .max_telegram = m->cfg.max_telegram,
      .check_crc = m->cfg.check_crc,
      .line_probe = m->cfg.source.line_auto,
      .decryption_key = m->cfg.decrypt ? m->cfg.decryption_key : NULL,
      .auth_key = m->cfg.auth_key_set ? m->cfg.auth_key : NULL,
      .protocol = m->cfg.protocol,
      .han_telegram = &m->telegram, /* mapped in place for dispatch */
      .han_allow_unchecked = m->cfg.no_auth_check,
      .timezone = &m->cfg.timezone,
      .han_energy_scaler_set = m->cfg.energy_scaler_set,
      .han_energy_scaler = m->cfg.energy_scaler,
  };

  rc = dsmr_input_init(&m->input, &in, dsmr_now_ms(), err, sizeof(err));
  explicit_bzero(m->cfg.decryption_key, sizeof(m->cfg.decryption_key));
  explicit_bzero(m->cfg.auth_key, sizeof(m->cfg.auth_key));
  if (rc != 0) {
    if (m->cfg.decrypt)
      ERROR("dsmr plugin: meter \"%s\": cannot set up %s decryption: %s",
            m->cfg.name, m->cfg.protocol ? "DLMS" : "Smarty", err);
    else
      ERROR("dsmr plugin: meter \"%s\": %s", m->cfg.name, err);
    return -1;
  }
  if (pipe(m->wake) != 0) {
    ERROR("dsmr plugin: meter \"%s\": pipe: %s", m->cfg.name, STRERRNO);
    m->wake[0] = m->wake[1] = -1;
    return -1;
  }
  /* Non-blocking: a second stop request must not block on a full pipe.
   * Close-on-exec: exec'ing plugins (exec, unixsock) must not inherit it. */
  for (int i = 0; i < 2; i++) {
    fcntl(m->wake[i], F_SETFD, FD_CLOEXEC);
    fcntl(m->wake[i], F_SETFL, O_NONBLOCK);
  }
  pthread_mutex_lock(&m->lock);
  m->started = cdtime();
  pthread_mutex_unlock(&m->lock);

  /* Linux thread names hold 15 characters; collectd refuses longer. */
  snprintf(tname, sizeof(tname), "dsmr/%.10s", m->cfg.name);
  rc = plugin_thread_create(&m->thread, reader_main, m, tname);
  if (rc != 0) {
    ERROR("dsmr plugin: meter \"%s\": cannot start reader thread: %s",
          m->cfg.name, STRERROR(rc));
    return -1;
  }
  m->thread_started = 1;
  return 0;
}

void dsmr_meter_request_stop(struct dsmr_meter *m) {
  char c = 's';
  atomic_store(&m->stopping, 1);
  /* A full pipe is just as readable: the write may fail harmlessly. */
  if (m->wake[1] >= 0 && write(m->wake[1], &c, 1) < 0) {
  }
}

void dsmr_meter_stop(struct dsmr_meter *m) {
  if (!m->thread_started)
    return;
  dsmr_meter_request_stop(m);
  pthread_join(m->thread, NULL);
  m->thread_started = 0;
}

void dsmr_meter_free(struct dsmr_meter *m) {
  if (!m)
    return;
  dsmr_meter_stop(m);
  dsmr_source_close(&m->source);
  dsmr_source_free(&m->source);
  if (m->wake[0] >= 0)
    close(m->wake[0]);
  if (m->wake[1] >= 0)
    close(m->wake[1]);
  dsmr_input_free(&m->input); /* wipes the Smarty keys and buffer */
  pthread_mutex_destroy(&m->lock);
  free(m);
}
