/* A meter's reader thread: connect (with backoff), read, pass the bytes
 * through the meter's input stage (meter_line.c for Baudrate "auto",
 * meter_smarty.c for an encrypted line), frame, judge each frame, hand
 * clean telegrams to meter_dispatch.c. Stoppable within a
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

/* One frame from the framer. */
void dsmr_meter_handle_frame(struct dsmr_meter *m, const struct dsmr_frame *f,
                             cdtime_t now) {
  unsigned errors;
  int was_silent;

  dsmr_meter_note_arrival(m, now);
  if (f->crc == DSMR_CRC_OK)
    m->seen_crc = 1;
  if (m->cfg.check_crc && f->crc == DSMR_CRC_BAD) {
    pthread_mutex_lock(&m->lock);
    m->stats.crc_error++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(
        m, &m->complain_crc, now,
        "telegram of %zu bytes failed its CRC check (sent %04X, "
        "computed %04X): nothing dispatched",
        f->len, f->crc_given, f->crc_computed);
    return;
  }
  /* DSMR 4+ meters always send a CRC: once one has, a telegram without
   * one is a CRC line that got corrupted, not a different meter. */
  if (m->cfg.check_crc && f->crc == DSMR_CRC_NONE && m->seen_crc) {
    pthread_mutex_lock(&m->lock);
    m->stats.crc_error++;
    pthread_mutex_unlock(&m->lock);
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

/* Returns the number of frames completed (any verdict). */
unsigned dsmr_meter_handle_bytes(struct dsmr_meter *m, const char *p,
                                 size_t len, cdtime_t now) {
  unsigned frames = 0;
  uint64_t ok;

  pthread_mutex_lock(&m->lock);
  ok = m->stats.ok;
  pthread_mutex_unlock(&m->lock);
  while (len > 0) {
    enum dsmr_frame_event ev;
    struct dsmr_frame frame;
    uint64_t dropped = m->framer.stats.dropped;
    /* Up to the next '/' after the first byte: the framer then cuts off at
     * most one unfinished telegram per call, at that first byte, and what
     * it held is still in its buffer to be judged (below). */
    const char *slash = len > 1 ? memchr(p + 1, '/', len - 1) : NULL;
    size_t seg = slash ? (size_t)(slash - p) : len;
    /* A dropped telegram is one that got past its identification line:
     * a '/' followed by anything but a line end is noise, not a telegram
     * (ten seconds of '/' bytes are not 115,200 lost telegrams). */
    int held_telegram = p[0] == '/' && dsmr_framer_collecting(&m->framer) &&
                        memchr(m->framer.buf, '\n', m->framer.len) != NULL;
    size_t n = dsmr_framer_feed(&m->framer, p, seg, &ev, &frame);
    p += n;
    len -= n;
    if (m->framer.stats.dropped != dropped && held_telegram) {
      m->dropped_telegrams++;
      dsmr_meter_complain(m, &m->complain_dropped, now,
                          "an unfinished telegram was cut off by the next one");
    }
    if (ev == DSMR_FRAME_TOO_LARGE)
      dsmr_meter_complain(
          m, &m->complain_size, now,
          "telegram larger than MaxTelegramSize %zu bytes: dropped "
          "(raise MaxTelegramSize if the meter really sends such)",
          m->cfg.max_telegram);
    else if (ev == DSMR_FRAME_TELEGRAM) {
      dsmr_meter_handle_frame(m, &frame, now);
      frames++;
      /* Baudrate "auto": the rest of a chunk that lost the line is
       * dropped (the probe starts over). */
      if (m->cfg.source.line_auto && dsmr_meter_line_judge(m, &frame) != 0)
        break;
    }
  }
  pthread_mutex_lock(&m->lock);
  m->stats.bytes = m->framer.stats.bytes;
  m->stats.too_large = m->framer.stats.too_large;
  m->stats.dropped = m->dropped_telegrams;
  if (m->cfg.decrypt)
    dsmr_meter_smarty_account(m);
  /* The rest of a chunk that carried a valid telegram is its CR LF. */
  if (m->stats.ok != ok) {
    m->bytes_at_valid = m->stats.bytes;
    m->at_valid = m->stats;
  }
  pthread_mutex_unlock(&m->lock);
  return frames;
}

/* A chunk read from the source, through the meter's input stage: the line
 * probe (meter_line.c), the Smarty decoder (meter_smarty.c) or straight to
 * the framer. Returns the number of frames completed (any verdict). */
static unsigned feed(struct dsmr_meter *m, char *p, size_t n, cdtime_t now) {
  if (m->cfg.source.line_auto)
    return dsmr_meter_line_bytes(m, p, n, now);
  if (m->cfg.decrypt)
    return dsmr_meter_smarty_bytes(m, p, n, now);
  return dsmr_meter_handle_bytes(m, p, n, now);
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

/* Read until the source is lost (returns 1) or we are told to stop (0).
 * *good tells whether a clean telegram arrived on this connection. */
static int read_loop(struct dsmr_meter *m, char *why, size_t whylen,
                     int *good) {
  uint64_t ok_before;

  pthread_mutex_lock(&m->lock);
  ok_before = m->stats.ok;
  pthread_mutex_unlock(&m->lock);
  *good = 0;
  for (;;) {
    ssize_t n = dsmr_source_read(&m->source, m->read_buf, sizeof(m->read_buf),
                                 m->wake[0], READ_WAIT_MS, why, whylen);
    if (stopping(m))
      return 0;
    if (n < 0)
      break;
    /* A quiet second: is the configured path still the open device? A
     * repointed or removed link is followed by opening it again. */
    if (n == 0 && !dsmr_source_still_named(&m->source, why, whylen))
      break;
    if (m->cfg.source.line_auto) {
      int skip = dsmr_meter_line_tick(m, (size_t)n, why, whylen);
      if (skip < 0)
        break;
      if (skip)
        continue;
    }
    if (n == 0)
      continue;
    DSMR_PROBE_READ();
    /* All frames completed by this chunk share its arrival time: the
     * moment their last byte was read. */
    if (pace(m, feed(m, m->read_buf, (size_t)n, cdtime())) < 0)
      return 0;
  }
  pthread_mutex_lock(&m->lock);
  *good = m->stats.ok != ok_before;
  pthread_mutex_unlock(&m->lock);
  return 1;
}

static void *reader_main(void *arg) {
  struct dsmr_meter *m = arg;
  char what[300], err[512], last_err[512] = "", set[32];
  int backoff = BACKOFF_FIRST_MS, was_connected = 0, lost = 0;
  unsigned failures = 0;

  dsmr_source_describe(&m->cfg.source, what, sizeof(what));
  settings(m, set, sizeof(set));

  while (!stopping(m)) {
    int rc, good;

    if (m->cfg.source.line_auto)
      dsmr_meter_line_to_config(m);
    rc = dsmr_source_open(&m->source, m->wake[0], OPEN_TIMEOUT_MS, err,
                          sizeof(err));
    if (rc == -2)
      break;
    if (rc < 0) {
      failures++;
      if (strcmp(err, last_err) != 0) {
        if (lost)
          INFO("dsmr plugin: meter \"%s\": reconnecting to %s: %s; "
               "retrying (every %d s at most)",
               m->cfg.name, what, err, BACKOFF_MAX_MS / 1000);
        else
          WARNING("dsmr plugin: meter \"%s\": cannot open %s: %s; "
                  "retrying (every %d s at most)",
                  m->cfg.name, what, err, BACKOFF_MAX_MS / 1000);
        sstrncpy(last_err, err, sizeof(last_err));
      }
      if (backoff_wait(m, backoff) < 0)
        break;
      backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
      continue;
    }

    last_err[0] = '\0';
    if (lost) {
      pthread_mutex_lock(&m->lock);
      m->stats.reconnects++;
      pthread_mutex_unlock(&m->lock);
      INFO("dsmr plugin: meter \"%s\": connection to %s restored (via %s%s) "
           "after %u failed attempt%s",
           m->cfg.name, what, m->source.via, set, failures,
           failures == 1 ? "" : "s");
      dsmr_meter_notify(m, NOTIF_OKAY, "connection",
                        "meter \"%s\": connection to %s restored", m->cfg.name,
                        what);
    } else {
      INFO("dsmr plugin: meter \"%s\": connected to %s (via %s%s)", m->cfg.name,
           what, m->source.via, set);
      if (!was_connected && m->source.fallback_reason[0])
        INFO("dsmr plugin: meter \"%s\": opened with plain termios, as %s "
             "(normal for pseudo-terminals)",
             m->cfg.name, m->source.fallback_reason);
    }
    if (m->cfg.source.line_auto && !was_connected) {
      char all[64];
      dsmr_line_settings_list(all, sizeof(all));
      INFO("dsmr plugin: meter \"%s\": Baudrate \"auto\": probing %s, "
           "%d s each",
           m->cfg.name, all, DSMR_LINE_WINDOW_MS / 1000);
    }
    if (m->source.data_request_note[0] && !was_connected)
      WARNING("dsmr plugin: meter \"%s\": %s", m->cfg.name,
              m->source.data_request_note);
    was_connected = 1;
    failures = 0;
    /* Bytes from before the loss belong to a telegram that will never
     * finish. */
    dsmr_framer_reset(&m->framer);
    if (m->cfg.source.line_auto) {
      /* from the setting that worked last (if any) */
      dsmr_line_probe_restart(&m->line, dsmr_line_now_ms());
      dsmr_meter_line_reset(m);
    }
    if (m->cfg.decrypt)
      dsmr_smarty_reset(&m->smarty); /* keeps the last frame counter */
    m->last_arrival = 0;

    if (read_loop(m, err, sizeof(err), &good) == 0)
      break;
    dsmr_source_close(&m->source);
    lost = 1;
    WARNING("dsmr plugin: meter \"%s\": lost %s: %s; reconnecting", m->cfg.name,
            what, err);
    dsmr_meter_notify(m, NOTIF_FAILURE, "connection",
                      "meter \"%s\": connection to %s lost: %s", m->cfg.name,
                      what, err);
    /* A connection that delivered a telegram was a good one: start the
     * backoff again. One that did not (a peer that accepts and hangs up)
     * keeps growing it. */
    if (good)
      backoff = BACKOFF_FIRST_MS;
    if (backoff_wait(m, backoff) < 0)
      break;
    backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
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
  char tname[16];
  int rc;

  m->frame_buf = malloc(m->cfg.max_telegram);
  if (!m->frame_buf) {
    ERROR("dsmr plugin: meter \"%s\": out of memory", m->cfg.name);
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
  dsmr_framer_init(&m->framer, m->frame_buf, m->cfg.max_telegram);
  if (m->cfg.source.line_auto && dsmr_meter_line_start(m) != 0)
    return -1;
  if (m->cfg.decrypt && dsmr_meter_smarty_start(m) != 0)
    return -1;
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
  free(m->frame_buf);
  free(m->line_buf);
  if (m->cfg.decrypt)
    dsmr_smarty_free(&m->smarty); /* wipes the buffer */
  free(m->smarty_buf);
  pthread_mutex_destroy(&m->lock);
  free(m);
}
