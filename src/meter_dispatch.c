/* What a clean telegram becomes inside collectd: one value list per
 * reading, and notifications for the events it reveals (a new text
 * message, a new power failure, voltage sags or swells, a new monthly
 * peak demand).
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
 * Counters never lie (registers: dsmr_energy, dsmr_reactive_energy,
 * dsmr_volume, dsmr_heat, which only grow):
 *  - A register that goes backwards, or grows by more than the meter
 *    could physically measure since its last accepted value, is
 *    implausible. Physical limits, per register: electricity 100 kW
 *    (import and export separately: more than a direct-connected
 *    3 x 100 A household meter can carry), reactive 100 kvar, gas
 *    40 m3/h (a G25 meter's maximum flow), water 25 m3/h, heat and
 *    cooling 100 kW (0.36 GJ/h). Allowed growth = limit x (elapsed + 10 s);
 *    the 10 s absorb telegrams that arrive in a burst (buffered by a
 *    dongle, or right after a reconnect) and coarse register resolutions.
 *    Elapsed is the larger of the arrival times' and the meter clocks'
 *    (0-0:1.0.0) difference for electricity, the capture times' for M-Bus.
 *  - One implausible register rejects the whole telegram: nothing of it is
 *    dispatched, it counts as dsmr_telegrams-implausible (not ok), and each
 *    implausible register raises a WARNING notification naming the
 *    identifier, the old and the new value. A checksum-valid telegram that
 *    lies in one register cannot be trusted in the others. An M-Bus
 *    reading is judged once per capture time: the telegrams that repeat a
 *    rejected capture are dispatched without it, so a bad gas reading
 *    costs one telegram, not the next hour of electricity.
 *  - A replaced meter: when 0-0:96.1.1 (equipment id) changes, every
 *    baseline is forgotten, the new meter's registers are taken as they
 *    are, and a WARNING notification says a replaced meter was detected.
 *  - A register that restarted without a new equipment id (an M-Bus gas
 *    meter swapped, a wrong value that became the baseline right at
 *    start): after RESYNC_AFTER consecutive rejected readings that agree
 *    with each other (each plausible after the previous one), the new
 *    series becomes the baseline, with a WARNING notification. Without
 *    this, one bad baseline would reject the meter forever.
 *  - The first reading after collectd starts has nothing to compare with:
 *    it is taken. Capture times before 2000 (dead M-Bus channels) are never
 *    readings (here and in the mapper).
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
/* Consecutive values of an identifier are at least this far apart: csv,
 * InfluxDB and most stores keep milliseconds, so two telegrams read 0.3 ms
 * apart (a dongle emptying its buffer, found by the fault soak) would get
 * the same stored time, and InfluxDB would keep only the second. 1.001 ms,
 * not 1 ms: a time converted to a double (~0.24 us steps at today's
 * epoch) and rounded to milliseconds must still come out different. */
#define TIME_STEP US_TO_CDTIME_T(1001)

/* Plausibility of registers: see "Counters never lie" above. */
#define PLAUSIBLE_GRACE_S 10.0
#define RESYNC_AFTER 3

enum verdict {
  V_NONE = 0,    /* not a register, or not judged (repeat, no capture) */
  V_PLAUSIBLE,   /* dispatch, and it becomes the baseline */
  V_RESTARTED,   /* a confirmed new series: dispatch, new baseline */
  V_IMPLAUSIBLE, /* rejects the telegram */
  V_SKIP,        /* a repeat of a rejected M-Bus capture: not dispatched */
};

/* Largest growth per second a register can show, in its collectd unit. */
struct counter_limit {
  const char *type;
  const char *instance_prefix; /* NULL: any */
  double per_second;
  const char *unit;
  const char *limit; /* for messages */
};

static const struct counter_limit counter_limits[] = {
    {"dsmr_energy", NULL, 100000.0 / 3600, "Wh", "100 kW"},
    {"dsmr_reactive_energy", NULL, 100000.0 / 3600, "varh", "100 kvar"},
    {"dsmr_volume", "gas", 40000.0 / 3600, "L", "40 m3/h"},
    {"dsmr_volume", NULL, 25000.0 / 3600, "L", "25 m3/h"},
    {"dsmr_heat", NULL, 360.0 / 3600, "MJ", "100 kW"},
};

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

static void vnotify(const struct dsmr_meter *m, int severity, const char *type,
                    const char *type_instance, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void vnotify(const struct dsmr_meter *m, int severity, const char *type,
                    const char *type_instance, const char *fmt, va_list ap) {
  notification_t n = {.severity = severity, .time = cdtime()};

  vsnprintf(n.message, sizeof(n.message), fmt, ap);
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, "dsmr", sizeof(n.plugin));
  sstrncpy(n.plugin_instance, m->cfg.name, sizeof(n.plugin_instance));
  if (type)
    sstrncpy(n.type, type, sizeof(n.type));
  if (type_instance)
    sstrncpy(n.type_instance, type_instance, sizeof(n.type_instance));
  /* -1 only means that no plugin consumes notifications. */
  (void)plugin_dispatch_notification(&n);
}

void dsmr_meter_notify(const struct dsmr_meter *m, int severity,
                       const char *type_instance, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotify(m, severity, NULL, type_instance, fmt, ap);
  va_end(ap);
}

/* A notification about one identifier (type and type_instance set). */
static void notify_ident(const struct dsmr_meter *m, int severity,
                         const struct dsmr_reading *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void notify_ident(const struct dsmr_meter *m, int severity,
                         const struct dsmr_reading *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotify(m, severity, r->type, r->type_instance, fmt, ap);
  va_end(ap);
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

  if (hint < DSMR_MAX_READINGS && m->ident_of[hint] < m->nidents) {
    e = &m->idents[m->ident_of[hint]];
    if ((e->type == type || strcmp(e->type, type) == 0) &&
        (e->type_instance == ti || strcmp(e->type_instance, ti) == 0))
      return e;
  }
  /* The mapper's strings are static: the same identifier is nearly
   * always the same pointers. */
  for (unsigned i = 0; i < m->nidents; i++) {
    e = &m->idents[i];
    if (e->type == type && e->type_instance == ti) {
      if (hint < DSMR_MAX_READINGS)
        m->ident_of[hint] = (unsigned short)i;
      return e;
    }
  }
  for (unsigned i = 0; i < m->nidents; i++) {
    e = &m->idents[i];
    if (strcmp(e->type, type) == 0 && strcmp(e->type_instance, ti) == 0) {
      if (hint < DSMR_MAX_READINGS)
        m->ident_of[hint] = (unsigned short)i;
      return e;
    }
  }
  if (m->nidents == DSMR_IDENT_MAX) {
    if (!m->idents_full_logged)
      ERROR("dsmr plugin: meter \"%s\": more than %d distinct values; "
            "%s-%s and any further ones are not dispatched",
            m->cfg.name, DSMR_IDENT_MAX, type, ti);
    m->idents_full_logged = 1;
    return NULL;
  }
  if (hint < DSMR_MAX_READINGS)
    m->ident_of[hint] = (unsigned short)m->nidents;
  e = &m->idents[m->nidents++];
  memset(e, 0, sizeof(*e));
  /* The mapper's strings are static: keeping the pointers is safe. */
  e->type = type;
  e->type_instance = ti;
  return e;
}

static void dispatch_one(value_list_t *vl, const struct dsmr_reading *r,
                         cdtime_t t, cdtime_t interval) {
  value_t v;

  if (r->ds == DSMR_DS_DERIVE)
    v.derive = (derive_t)r->derive;
  else
    v.gauge = (gauge_t)r->gauge;
  vl->values = &v;
  vl->values_len = 1;
  vl->time = t;
  vl->interval = interval;
  sstrncpy(vl->type, r->type, sizeof(vl->type));
  sstrncpy(vl->type_instance, r->type_instance, sizeof(vl->type_instance));
#ifndef DSMR_BENCH_NO_DISPATCH
  plugin_dispatch_values(vl);
#endif /* else bench/: the plugin's own cost without collectd's */
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

/* 1-0:1.6.0, the month's peak demand (e-MUCS): Belgian users pay a
 * capacity tariff on it, so a new peak is worth a WARNING, with its value
 * and time. A new peak is any change of value or time from the last one
 * seen (a month's first peak too); the first telegram after start only
 * sets the baseline, as for the other logs. Checked on every telegram,
 * before the "times only move forward" rule could hide a change. */
static void check_peak(struct dsmr_meter *m, struct dsmr_ident *e,
                       const struct dsmr_reading *r) {
  if (e->has_value &&
      (r->gauge != e->last_value || r->capture_time != e->last_capture)) {
    char when[32] = "?", was[32] = "?";
    time_t tt = (time_t)r->capture_time, tw = (time_t)e->last_capture;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
      strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (gmtime_r(&tw, &tm))
      strftime(was, sizeof(was), "%Y-%m-%dT%H:%M:%SZ", &tm);
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": new monthly peak demand %.3f kW at %s "
                 "(was %.3f kW at %s)",
                 m->cfg.name, r->gauge / 1000.0, when, e->last_value / 1000.0,
                 was);
  }
  e->has_value = 1;
  e->last_value = r->gauge;
  e->last_capture = r->capture_time;
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

static const struct counter_limit *counter_limit(const struct dsmr_reading *r) {
  if (r->ds != DSMR_DS_DERIVE)
    return NULL;
  for (size_t i = 0; i < STATIC_ARRAY_SIZE(counter_limits); i++) {
    const struct counter_limit *l = &counter_limits[i];
    if (strcmp(r->type, l->type) == 0 &&
        (!l->instance_prefix || strncmp(r->type_instance, l->instance_prefix,
                                        strlen(l->instance_prefix)) == 0))
      return l;
  }
  return NULL;
}

/* Seconds from `from` to `to`: the larger of the two clocks' differences
 * (the meter's own clock tells the truth about telegrams that arrive in a
 * burst; ours about meters without a clock). */
static double elapsed_s(const struct dsmr_counter_point *from,
                        const struct dsmr_counter_point *to) {
  double el = to->at > from->at ? CDTIME_T_TO_DOUBLE(to->at - from->at) : 0.0;
  if (from->meter_time > 0 && to->meter_time > from->meter_time &&
      (double)(to->meter_time - from->meter_time) > el)
    el = (double)(to->meter_time - from->meter_time);
  return el;
}

/* Could the register have gone from `from` to `to`? *allowed: the most it
 * could have grown. */
static int plausible_step(const struct counter_limit *l,
                          const struct dsmr_counter_point *from,
                          const struct dsmr_counter_point *to,
                          double *allowed) {
  *allowed = l->per_second * (elapsed_s(from, to) + PLAUSIBLE_GRACE_S);
  return to->value >= from->value &&
         (double)(to->value - from->value) <= *allowed;
}

/* Judge register reading r (now: its value and time) against what came
 * before. Raises the WARNING for an implausible one; the notification for
 * a restarted series waits until the telegram is really dispatched. */
static enum verdict judge(const struct dsmr_meter *m, struct dsmr_ident *e,
                          const struct dsmr_reading *r,
                          const struct counter_limit *l,
                          const struct dsmr_counter_point *now) {
  double allowed, suspect_allowed;

  if (!e->has_base || plausible_step(l, &e->base, now, &allowed)) {
    e->suspects = 0;
    return V_PLAUSIBLE;
  }
  if (e->suspects > 0 && plausible_step(l, &e->suspect, now, &suspect_allowed))
    e->suspects++;
  else
    e->suspects = 1;
  e->suspect = *now;
  if (e->suspects >= RESYNC_AFTER)
    return V_RESTARTED;

  if (now->value < e->base.value)
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s went backwards from %" PRId64
                 " to %" PRId64 " %s: telegram not stored",
                 m->cfg.name, r->type, r->type_instance, e->base.value,
                 now->value, l->unit);
  else
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s jumped from %" PRId64 " to %" PRId64
                 " %s (+%" PRId64 " %s in %.0f s; at most %.0f %s possible "
                 "at %s): telegram not stored",
                 m->cfg.name, r->type, r->type_instance, e->base.value,
                 now->value, l->unit, now->value - e->base.value, l->unit,
                 elapsed_s(&e->base, now), allowed, l->unit, l->limit);
  return V_IMPLAUSIBLE;
}

/* A new equipment id (0-0:96.1.1) is a replaced meter: its registers
 * start from their own values, and its logs are news only from now on. */
static void check_equipment(struct dsmr_meter *m,
                            const struct dsmr_telegram *tg) {
  struct dsmr_span id = tg->info.equipment_id;
  size_t len =
      id.len < sizeof(m->equipment_id) ? id.len : sizeof(m->equipment_id);
  char was[sizeof(m->equipment_id) + 1], now[sizeof(m->equipment_id) + 1];

  if (len == 0)
    return; /* a telegram without the line says nothing */
  if (m->equipment_len == len && memcmp(m->equipment_id, id.ptr, len) == 0)
    return;
  if (m->equipment_len > 0) {
    dsmr_decode_text(m->equipment_id, m->equipment_len, was, sizeof(was));
    dsmr_decode_text(id.ptr, len, now, sizeof(now));
    for (unsigned i = 0; i < m->nidents; i++) {
      m->idents[i].has_base = 0;
      m->idents[i].suspects = 0;
      m->idents[i].rejected_capture = 0;
      m->idents[i].has_value = 0;
    }
    m->have_baseline = 0;
    WARNING("dsmr plugin: meter \"%s\": equipment id changed from %s to %s: "
            "a replaced meter; its registers are taken from their new values",
            m->cfg.name, was, now);
    dsmr_meter_notify(m, NOTIF_WARNING, "meter_replaced",
                      "meter \"%s\": a replaced meter was detected (equipment "
                      "id %s, was %s): its registers start again from their "
                      "own values",
                      m->cfg.name, now, was);
  }
  memcpy(m->equipment_id, id.ptr, len);
  m->equipment_len = len;
}

/* Pass 1: judge every register of the telegram that would be dispatched.
 * Returns how many are implausible. */
static unsigned judge_telegram(struct dsmr_meter *m, cdtime_t arrival,
                               uint64_t seq) {
  const struct dsmr_telegram *tg = &m->telegram;
  unsigned bad = 0;

  for (unsigned i = 0; i < tg->nreadings; i++) {
    const struct dsmr_reading *r = &tg->readings[i];
    const struct counter_limit *l;
    struct dsmr_counter_point now;
    struct dsmr_ident *e;

    if (!r->type || !r->type_instance || !(l = counter_limit(r)))
      continue;
    e = ident_get(m, r->type, r->type_instance, i);
    if (!e || e->judged == seq)
      continue; /* no room, or a repeat within the telegram */
    e->judged = seq;
    e->verdict = V_NONE;
    now.value = r->derive;
    if (r->time_kind == DSMR_AT_CAPTURE) {
      if (r->capture_time < MIN_CAPTURE_TIME)
        continue;
      now.at = TIME_T_TO_CDTIME_T(r->capture_time);
      now.meter_time = 0;
      if (e->last_time != 0 && now.at <= e->last_time)
        continue; /* the meter repeats its last reading */
      if (now.at == e->rejected_capture) {
        e->verdict = V_SKIP;
        continue;
      }
    } else {
      now.at = arrival;
      now.meter_time = tg->info.has_meter_time ? tg->info.meter_time : 0;
    }
    e->verdict = judge(m, e, r, l, &now);
    if (e->verdict == V_IMPLAUSIBLE) {
      bad++;
      if (r->time_kind == DSMR_AT_CAPTURE)
        e->rejected_capture = now.at;
    }
  }
  return bad;
}

/* Pass 2, for a register being dispatched: it is the new baseline. */
static void commit_register(const struct dsmr_meter *m, struct dsmr_ident *e,
                            const struct dsmr_reading *r, cdtime_t arrival) {
  const struct dsmr_telegram *tg = &m->telegram;

  if (e->verdict == V_RESTARTED)
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s restarted: %d readings in a row agree "
                 "on %" PRId64 " after %" PRId64 "; taken as its new "
                 "baseline",
                 m->cfg.name, r->type, r->type_instance, RESYNC_AFTER,
                 r->derive, e->base.value);
  e->has_base = 1;
  e->suspects = 0;
  e->base.value = r->derive;
  if (r->time_kind == DSMR_AT_CAPTURE) {
    e->base.at = TIME_T_TO_CDTIME_T(r->capture_time);
    e->base.meter_time = 0;
  } else {
    e->base.at = arrival;
    e->base.meter_time = tg->info.has_meter_time ? tg->info.meter_time : 0;
  }
}

int dsmr_meter_dispatch(struct dsmr_meter *m, cdtime_t arrival) {
  const struct dsmr_telegram *tg = &m->telegram;
  cdtime_t t = arrival, interval = dsmr_meter_interval(m);
  cdtime_t capture_default = TIME_T_TO_CDTIME_T(
      tg->info.version >= 50 ? CAPTURE_INTERVAL_DSMR5 : CAPTURE_INTERVAL_OLDER);

  check_equipment(m, tg);
  if (judge_telegram(m, arrival, ++m->judged) > 0)
    return 1;

  /* A clock step backwards, two telegrams in one read or in two reads
   * within a millisecond: still distinctly later than the previous
   * telegram's values. */
  if (m->last_tel_time != 0 && t < m->last_tel_time + TIME_STEP)
    t = m->last_tel_time + TIME_STEP;
  t = separate_seconds(m->last_tel_time, t);
  m->last_tel_time = t;
  m->seq++;

  /* One value list for the whole telegram: plugin_dispatch_values
   * copies it, and only type, type_instance, value and time change. */
  value_list_t vl = VALUE_LIST_INIT;
  sstrncpy(vl.plugin, "dsmr", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->cfg.name, sizeof(vl.plugin_instance));
  for (unsigned i = 0; i < tg->nreadings; i++) {
    const struct dsmr_reading *r = &tg->readings[i];
    struct dsmr_ident *e;

    if (!r->type || !r->type_instance)
      continue;
    e = ident_get(m, r->type, r->type_instance, i);
    if (!e)
      continue;
    /* The same identifier twice in one telegram: the first one counts;
     * values with their own capture time are told apart by it below (the
     * peak history gives one identifier a value per month). */
    if (e->seq == m->seq && r->time_kind != DSMR_AT_CAPTURE)
      continue;
    /* Registers were judged in pass 1; V_SKIP is a rejected capture the
     * meter repeats. */
    if (e->judged == m->judged && e->verdict == V_SKIP)
      continue;
    if (r->flags & DSMR_READING_PEAK)
      check_peak(m, e, r);

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
      dispatch_one(&vl, r, ct, iv);
    } else {
      cdtime_t et = t;
      if (e->last_time != 0 && et < e->last_time + TIME_STEP)
        et = e->last_time + TIME_STEP;
      e->seq = m->seq;
      e->last_time = et;
      dispatch_one(&vl, r, et, interval);
    }
    if (e->judged == m->judged && e->verdict != V_NONE)
      commit_register(m, e, r, arrival);
    if (is_quality_counter(r->type_instance))
      check_quality(m, e, r);
  }

  check_text(m, tg);
  check_failures(m, tg);
  m->have_baseline = 1;
  return 0;
}
