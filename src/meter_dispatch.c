/* What a clean telegram becomes inside collectd: one value list per
 * reading, and notifications for the events it reveals (a new text
 * message, a new power failure, voltage sags or swells).
 *
 * Time rules (see DESIGN.md "Time"):
 *  - Electricity values carry the arrival of the telegram's last byte and,
 *    as interval, the meter's observed telegram period (10 s until
 *    measured).
 *  - M-Bus values carry their capture time, are dispatched only when it
 *    moves forward, with the observed period between captures as interval
 *    (300 s for DSMR 5, 3600 s before, until measured).
 *  - No identifier ever gets a time at or before its previous one: the
 *    value cache would log "value too old" and rrdtool would drop it.
 *
 * Nothing here allocates: the per-identifier state is a fixed table in
 * the meter. */
#include "core/daemon/collectd.h"

#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include <math.h>

#include "meter.h"

#define DEFAULT_TELEGRAM_INTERVAL 10
#define CAPTURE_INTERVAL_DSMR5 300
#define CAPTURE_INTERVAL_OLDER 3600
/* Frames closer together than this came out of a buffer (after a
 * reconnect), not at the meter's pace: they say nothing of its period. */
#define MIN_PERIOD_GAP (TIME_T_TO_CDTIME_T(1) / 2)
/* Captures before 2000 are a dead M-Bus channel's "700101..." or a meter
 * clock that was never set: not a reading. */
#define MIN_CAPTURE_TIME 946684800
/* When a time must be moved past the previous one, by this much: csv and
 * most stores keep milliseconds, so one cdtime unit (~1 ns) would still
 * look like a repeated time there. */
#define TIME_STEP MS_TO_CDTIME_T(1)

void dsmr_period_add(struct dsmr_period *p, cdtime_t gap) {
  p->gaps[p->next] = gap;
  p->next = (p->next + 1) % DSMR_PERIOD_WINDOW;
  if (p->n < DSMR_PERIOD_WINDOW)
    p->n++;
}

cdtime_t dsmr_period_get(const struct dsmr_period *p) {
  cdtime_t best = 0;
  for (unsigned i = 0; i < p->n; i++)
    if (best == 0 || p->gaps[i] < best)
      best = p->gaps[i];
  return best;
}

/* Whole seconds, within [1 s, 1 day]: rrdtool's step is whole seconds. */
static cdtime_t round_interval(cdtime_t t) {
  uint64_t s = (uint64_t)((t + TIME_T_TO_CDTIME_T_STATIC(1) / 2) >> 30);
  if (s < 1)
    s = 1;
  if (s > 86400)
    s = 86400;
  return TIME_T_TO_CDTIME_T(s);
}

void dsmr_meter_note_arrival(struct dsmr_meter *m, cdtime_t arrival) {
  if (m->last_arrival != 0 && arrival > m->last_arrival &&
      arrival - m->last_arrival >= MIN_PERIOD_GAP)
    dsmr_period_add(&m->tel_period, arrival - m->last_arrival);
  m->last_arrival = arrival;
}

cdtime_t dsmr_meter_interval(const struct dsmr_meter *m) {
  cdtime_t p = dsmr_period_get(&m->tel_period);
  if (p == 0)
    return TIME_T_TO_CDTIME_T(DEFAULT_TELEGRAM_INTERVAL);
  return round_interval(p);
}

void dsmr_meter_notify(const struct dsmr_meter *m, int severity,
                       const char *type_instance, const char *fmt, ...) {
  notification_t n = {.severity = severity, .time = cdtime()};
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(n.message, sizeof(n.message), fmt, ap);
  va_end(ap);
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, "dsmr", sizeof(n.plugin));
  sstrncpy(n.plugin_instance, m->cfg.name, sizeof(n.plugin_instance));
  if (type_instance)
    sstrncpy(n.type_instance, type_instance, sizeof(n.type_instance));
  /* -1 only means that no plugin consumes notifications. */
  (void)plugin_dispatch_notification(&n);
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void dsmr_decode_text(const char *raw, size_t len, char *out, size_t outlen) {
  size_t o = 0, i;
  int hex = len > 0 && len % 2 == 0;

  if (outlen == 0)
    return;
  for (i = 0; hex && i < len; i++)
    if (hexval((unsigned char)raw[i]) < 0)
      hex = 0;
  for (i = 0; i < len && o + 1 < outlen; i += hex ? 2 : 1) {
    unsigned char c = hex ? (unsigned char)(hexval((unsigned char)raw[i]) << 4 |
                                            hexval((unsigned char)raw[i + 1]))
                          : (unsigned char)raw[i];
    if (c == 0)
      continue; /* padding some meters send */
    if (c == '\r' || c == '\n' || c == '\t')
      c = ' ';
    else if (c < 0x20 || c > 0x7e)
      c = '?';
    out[o++] = (char)c;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
}

/* The table entry of (type, type_instance); `hint` is where it was found
 * for the same reading index last time (telegrams repeat their layout). */
static struct dsmr_ident *ident_get(struct dsmr_meter *m, const char *type,
                                    const char *ti, unsigned hint) {
  struct dsmr_ident *e;

  if (hint < m->nidents) {
    e = &m->idents[hint];
    if ((e->type == type || strcmp(e->type, type) == 0) &&
        (e->type_instance == ti || strcmp(e->type_instance, ti) == 0))
      return e;
  }
  for (unsigned i = 0; i < m->nidents; i++) {
    e = &m->idents[i];
    if (strcmp(e->type, type) == 0 && strcmp(e->type_instance, ti) == 0)
      return e;
  }
  if (m->nidents == DSMR_IDENT_MAX) {
    if (!m->idents_full_logged)
      ERROR("dsmr plugin: meter \"%s\": more than %d distinct values; "
            "%s-%s and any further ones are not dispatched",
            m->cfg.name, DSMR_IDENT_MAX, type, ti);
    m->idents_full_logged = 1;
    return NULL;
  }
  e = &m->idents[m->nidents++];
  memset(e, 0, sizeof(*e));
  /* The mapper's strings are static: keeping the pointers is safe. */
  e->type = type;
  e->type_instance = ti;
  return e;
}

static void dispatch_one(const struct dsmr_meter *m,
                         const struct dsmr_reading *r, cdtime_t t,
                         cdtime_t interval) {
  value_t v;
  value_list_t vl = VALUE_LIST_INIT;

  if (r->ds == DSMR_DS_DERIVE)
    v.derive = (derive_t)r->derive;
  else
    v.gauge = (gauge_t)r->gauge;
  vl.values = &v;
  vl.values_len = 1;
  vl.time = t;
  vl.interval = interval;
  sstrncpy(vl.plugin, "dsmr", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->cfg.name, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, r->type, sizeof(vl.type));
  sstrncpy(vl.type_instance, r->type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

static int is_quality_counter(const char *ti) {
  return strncmp(ti, "voltage_sags", 12) == 0 ||
         strncmp(ti, "voltage_swells", 14) == 0;
}

/* Sags and swells only ever count up: each step is an event. */
static void check_quality(struct dsmr_meter *m, struct dsmr_ident *e,
                          const struct dsmr_reading *r) {
  double now = r->ds == DSMR_DS_DERIVE ? (double)r->derive : r->gauge;

  if (e->has_value && now > e->last_value)
    dsmr_meter_notify(m, NOTIF_WARNING, r->type_instance,
                      "meter \"%s\": %s rose from %.0f to %.0f", m->cfg.name,
                      r->type_instance, e->last_value, now);
  e->has_value = 1;
  e->last_value = now;
}

static void check_text(struct dsmr_meter *m, const struct dsmr_telegram *tg) {
  char text[DSMR_TEXT_MAX + 1];

  dsmr_decode_text(tg->info.text_message.ptr, tg->info.text_message.len, text,
                   sizeof(text));
  if (strcmp(text, m->text) == 0)
    return;
  sstrncpy(m->text, text, sizeof(m->text));
  /* A message already standing when we start is news to the user too. */
  if (text[0]) {
    INFO("dsmr plugin: meter \"%s\": text message: %s", m->cfg.name, text);
    dsmr_meter_notify(m, NOTIF_WARNING, "text_message",
                      "meter \"%s\": message from the grid operator: %s",
                      m->cfg.name, text);
  }
}

static void check_failures(struct dsmr_meter *m,
                           const struct dsmr_telegram *tg) {
  const struct dsmr_telegram_info *i = &tg->info;

  /* The log is history: the first telegram only sets the baseline. */
  if (m->have_baseline && (i->failure_log_entries > m->failure_entries ||
                           i->failure_last_end > m->failure_last_end)) {
    time_t end = (time_t)i->failure_last_end;
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&end, &tm))
      strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    dsmr_meter_notify(m, NOTIF_WARNING, "power_failure",
                      "meter \"%s\": new power failure logged: %" PRId64
                      " s, ended %s (%u in the log)",
                      m->cfg.name, i->failure_last_duration, when,
                      i->failure_log_entries);
  }
  m->failure_entries = i->failure_log_entries;
  m->failure_last_end = i->failure_last_end;
}

/* collectd's rrdtool plugin stores times rounded to whole seconds and
 * rejects a second update within one second. A DSMR 5 meter sends every
 * second, and read jitter makes two arrivals round to the same second now
 * and then (for hours, when the meter's phase sits near a half second):
 * rrdtool would drop one telegram each time. So when a telegram comes a
 * real period after the previous one (at least half a second) but rounds
 * to the same second, its time moves to the first instant that rounds to
 * the next second: by less than half a second, in practice by a few ms,
 * and without drift (the target depends on the previous second only).
 * Telegrams closer together came out of a buffer: they keep their
 * millisecond steps (csv keeps them; rrdtool cannot). */
static cdtime_t separate_seconds(cdtime_t prev, cdtime_t t) {
  const cdtime_t half = TIME_T_TO_CDTIME_T_STATIC(1) / 2;
  cdtime_t prev_sec;

  if (prev == 0 || t < prev + half)
    return t;
  prev_sec = (prev + half) >> 30; /* as CDTIME_T_TO_TIME_T rounds */
  if (((t + half) >> 30) > prev_sec)
    return t;
  return (prev_sec << 30) + half;
}

void dsmr_meter_dispatch(struct dsmr_meter *m, cdtime_t arrival) {
  const struct dsmr_telegram *tg = &m->telegram;
  cdtime_t t = arrival, interval = dsmr_meter_interval(m);
  cdtime_t capture_default = TIME_T_TO_CDTIME_T(
      tg->info.version >= 50 ? CAPTURE_INTERVAL_DSMR5 : CAPTURE_INTERVAL_OLDER);

  /* A clock step backwards, or two telegrams in one read: still later
   * than the previous telegram's values. */
  if (t <= m->last_tel_time)
    t = m->last_tel_time + TIME_STEP;
  t = separate_seconds(m->last_tel_time, t);
  m->last_tel_time = t;
  m->seq++;

  for (unsigned i = 0; i < tg->nreadings; i++) {
    const struct dsmr_reading *r = &tg->readings[i];
    struct dsmr_ident *e;

    if (!r->type || !r->type_instance)
      continue;
    e = ident_get(m, r->type, r->type_instance, i);
    if (!e)
      continue;
    /* The same identifier twice in one telegram: the first one counts. */
    if (e->seq == m->seq)
      continue;

    if (r->time_kind == DSMR_AT_CAPTURE) {
      cdtime_t ct, iv;
      if (r->capture_time < MIN_CAPTURE_TIME)
        continue;
      ct = TIME_T_TO_CDTIME_T(r->capture_time);
      /* Unchanged capture: the meter repeats its last reading. */
      if (e->last_time != 0 && ct <= e->last_time)
        continue;
      if (e->last_time != 0)
        dsmr_period_add(&e->period, ct - e->last_time);
      iv = dsmr_period_get(&e->period);
      iv = iv ? round_interval(iv) : capture_default;
      e->seq = m->seq;
      e->last_time = ct;
      dispatch_one(m, r, ct, iv);
    } else {
      cdtime_t et = t;
      if (et <= e->last_time)
        et = e->last_time + TIME_STEP;
      e->seq = m->seq;
      e->last_time = et;
      dispatch_one(m, r, et, interval);
    }
    if (is_quality_counter(r->type_instance))
      check_quality(m, e, r);
  }

  check_text(m, tg);
  check_failures(m, tg);
  m->have_baseline = 1;
}
