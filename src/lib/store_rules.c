/* The storing rules (see store_rules.h for what they are and why). */
#include "store_rules.h"

#include <string.h>

#include "timestamp.h"

#define SECOND DSMR_RULES_SECOND
#define DEFAULT_TELEGRAM_INTERVAL 10
#define CAPTURE_INTERVAL_DSMR5 300
#define CAPTURE_INTERVAL_OLDER 3600
/* Frames closer together than this came out of a buffer (after a
 * reconnect), not at the meter's pace: they say nothing of its period. */
#define MIN_PERIOD_GAP (SECOND / 2)
/* Captures before 2000-01-01 are a dead M-Bus channel's "700101..." or a
 * meter clock that was never set: not a reading. */
#define MIN_CAPTURE_TIME 946684800
/* Consecutive values of an identifier are at least this far apart: csv,
 * InfluxDB and most stores keep milliseconds, so two telegrams read 0.3 ms
 * apart (a dongle emptying its buffer, found by the fault soak) would get
 * the same stored time, and InfluxDB would keep only the second. 1.001 ms,
 * not 1 ms: a time converted to a double (~0.24 us steps at today's
 * epoch) and rounded to milliseconds must still come out different. The
 * value is collectd's US_TO_CDTIME_T(1001). */
#define TIME_STEP ((((uint64_t)1001 << 30) + 500000) / 1000000)
#define PLAUSIBLE_GRACE_S 10.0
#define HOUR 3600

enum verdict {
  V_NONE = 0,    /* not a register, or not judged (repeat, no capture) */
  V_PLAUSIBLE,   /* store, and it becomes the baseline */
  V_RESTARTED,   /* a confirmed new series: store, new baseline */
  V_IMPLAUSIBLE, /* rejects the telegram */
  V_SKIP,        /* a repeat of a rejected M-Bus capture: not stored */
  V_HELD,        /* a rounding step back: this register not stored */
};

static const struct dsmr_counter_limit counter_limits[] = {
    {"dsmr_energy", NULL, 100000.0 / 3600, "Wh", "100 kW"},
    {"dsmr_reactive_energy", NULL, 100000.0 / 3600, "varh", "100 kvar"},
    {"dsmr_volume", "gas", 40000.0 / 3600, "L", "40 m3/h"},
    {"dsmr_volume", NULL, 25000.0 / 3600, "L", "25 m3/h"},
    {"dsmr_heat", NULL, 360.0 / 3600, "MJ", "100 kW"},
};

static uint64_t secs(int64_t s) {
  return (uint64_t)s << 30;
}

void dsmr_period_add(struct dsmr_period *p, uint64_t gap) {
  p->gaps[p->next] = gap;
  p->next = (p->next + 1) % DSMR_PERIOD_WINDOW;
  if (p->n < DSMR_PERIOD_WINDOW)
    p->n++;
}

uint64_t dsmr_period_get(const struct dsmr_period *p) {
  uint64_t best = 0;
  for (unsigned i = 0; i < p->n; i++)
    if (best == 0 || p->gaps[i] < best)
      best = p->gaps[i];
  return best;
}

/* Whole seconds, within [1 s, 1 day]: rrdtool's step is whole seconds. */
static uint64_t round_interval(uint64_t t) {
  uint64_t s = (t + SECOND / 2) >> 30;
  if (s < 1)
    s = 1;
  if (s > 86400)
    s = 86400;
  return s << 30;
}

void dsmr_rules_init(struct dsmr_rules *s) {
  memset(s, 0, sizeof(*s));
}

void dsmr_rules_note_arrival(struct dsmr_rules *s, uint64_t prev,
                             uint64_t arrival) {
  if (prev != 0 && arrival > prev && arrival - prev >= MIN_PERIOD_GAP)
    dsmr_period_add(&s->tel_period, arrival - prev);
}

uint64_t dsmr_rules_interval(const struct dsmr_rules *s) {
  uint64_t p = dsmr_period_get(&s->tel_period);
  if (p == 0)
    return secs(DEFAULT_TELEGRAM_INTERVAL);
  return round_interval(p);
}

const struct dsmr_counter_limit *
dsmr_rules_counter_limit(const struct dsmr_reading *r) {
  if (r->ds != DSMR_DS_DERIVE || !r->type || !r->type_instance)
    return NULL;
  for (size_t i = 0; i < sizeof(counter_limits) / sizeof(counter_limits[0]);
       i++) {
    const struct dsmr_counter_limit *l = &counter_limits[i];
    if (strcmp(r->type, l->type) == 0 &&
        (!l->instance_prefix || strncmp(r->type_instance, l->instance_prefix,
                                        strlen(l->instance_prefix)) == 0))
      return l;
  }
  return NULL;
}

/* Record an event (see DSMR_RULES_MAX_EVENTS for why it fits). */
static void emit(struct dsmr_rules_result *res,
                 const struct dsmr_rules_event *ev) {
  if (res->nevents == DSMR_RULES_MAX_EVENTS) {
    res->events_lost++;
    return;
  }
  res->events[res->nevents] = *ev;
  res->events[res->nevents].before_store = res->nstore;
  res->nevents++;
}

void dsmr_rules_result_walk(const struct dsmr_rules_result *res,
                            const struct dsmr_telegram *tg, void *ctx,
                            void (*store)(void *ctx,
                                          const struct dsmr_reading *r,
                                          const struct dsmr_rules_store *st),
                            void (*event)(void *ctx,
                                          const struct dsmr_rules_event *ev)) {
  unsigned e = 0;

  for (unsigned k = 0; k <= res->nstore; k++) {
    for (; e < res->nevents && res->events[e].before_store <= k; e++)
      if (event)
        event(ctx, &res->events[e]);
    if (k < res->nstore && store) {
      const struct dsmr_rules_store *st = &res->store[k];
      store(ctx, &tg->readings[st->reading], st);
    }
  }
}

/* The table entry of (type, type_instance); `hint` is the reading index
 * (telegrams repeat their layout, so it is where it was found last time).
 * NULL when the table is full (reported once). */
static struct dsmr_ident *ident_get(struct dsmr_rules *s,
                                    const struct dsmr_reading *r, unsigned hint,
                                    struct dsmr_rules_result *res) {
  const char *type = r->type, *ti = r->type_instance;
  struct dsmr_ident *e;

  if (hint < DSMR_MAX_READINGS && s->ident_of[hint] < s->nidents) {
    e = &s->idents[s->ident_of[hint]];
    if ((e->type == type || strcmp(e->type, type) == 0) &&
        (e->type_instance == ti || strcmp(e->type_instance, ti) == 0))
      return e;
  }
  /* The mapper's strings are static: the same identifier is nearly always
   * the same pointers. */
  for (unsigned i = 0; i < s->nidents; i++) {
    e = &s->idents[i];
    if (e->type == type && e->type_instance == ti) {
      if (hint < DSMR_MAX_READINGS)
        s->ident_of[hint] = (unsigned short)i;
      return e;
    }
  }
  for (unsigned i = 0; i < s->nidents; i++) {
    e = &s->idents[i];
    if (strcmp(e->type, type) == 0 && strcmp(e->type_instance, ti) == 0) {
      if (hint < DSMR_MAX_READINGS)
        s->ident_of[hint] = (unsigned short)i;
      return e;
    }
  }
  if (s->nidents == DSMR_IDENT_MAX) {
    if (!s->idents_full_reported) {
      struct dsmr_rules_event ev = {
          .kind = DSMR_EV_IDENTS_FULL, .reading = (int)hint, .r = r};
      emit(res, &ev);
    }
    s->idents_full_reported = 1;
    return NULL;
  }
  if (hint < DSMR_MAX_READINGS)
    s->ident_of[hint] = (unsigned short)s->nidents;
  e = &s->idents[s->nidents++];
  memset(e, 0, sizeof(*e));
  e->type = type;
  e->type_instance = ti;
  return e;
}

/* --- capture times --------------------------------------------------- */

enum capture_status {
  CAP_OK,     /* *at: the time to store it at */
  CAP_DEAD,   /* before 2000: no reading */
  CAP_REPEAT, /* at or before the last one stored */
  CAP_FUTURE, /* too far ahead: refused */
};

static int same_value(const struct dsmr_ident *e,
                      const struct dsmr_reading *r) {
  return r->ds == DSMR_DS_DERIVE ? r->derive == e->last_derive
                                 : r->gauge == e->last_gauge;
}

/* The year a UTC time falls in. */
static int64_t year_of(int64_t t) {
  int64_t y;
  unsigned m, d;
  dsmr_civil_from_days(t / 86400, &y, &m, &d);
  return y;
}

/* When a capture of r at ct (UTC s) that did not move forward is the
 * second occurrence of the repeated local hour at the end of summer time,
 * its true UTC time (an hour later); else 0. */
static int64_t second_occurrence(const struct dsmr_ident *e,
                                 const struct dsmr_reading *r, int64_t ct,
                                 int64_t arrival_s) {
  int64_t end = dsmr_eu_dst_end(year_of(ct)), later = ct + HOUR;

  if (ct < end - HOUR || ct >= end)
    return 0;
  if (secs(later) <= e->last_time || later > arrival_s + DSMR_RULES_DST_SLACK_S)
    return 0;
  if (ct == e->last_raw_capture && same_value(e, r))
    return 0; /* the meter repeats its reading */
  return later;
}

/* The time a capture reading r would be stored at, given what e stored
 * before. *against: for CAP_FUTURE, the clock it is ahead of; *dst: set
 * when the time was moved to the second occurrence of a local hour. */
static enum capture_status capture_at(const struct dsmr_ident *e,
                                      const struct dsmr_reading *r,
                                      uint64_t arrival, uint64_t *at,
                                      int64_t *against, int *dst) {
  int64_t ct = r->capture_time, arrival_s = (int64_t)(arrival >> 30);

  *dst = 0;
  if (ct < MIN_CAPTURE_TIME)
    return CAP_DEAD;
  if (ct > arrival_s + DSMR_RULES_FUTURE_S) {
    *against = arrival_s;
    return CAP_FUTURE;
  }
  *at = secs(ct);
  if (e->last_time != 0 && *at <= e->last_time) {
    int64_t later = second_occurrence(e, r, ct, arrival_s);
    if (later == 0)
      return CAP_REPEAT;
    *at = secs(later);
    *dst = 1;
  }
  return CAP_OK;
}

/* --- registers ------------------------------------------------------- */

/* The meter's clock of tg, 0 when it has none or it is too far ahead of
 * the arrival to be believed. */
static int64_t meter_clock(const struct dsmr_telegram *tg, uint64_t arrival) {
  if (!tg->info.has_meter_time ||
      tg->info.meter_time > (int64_t)(arrival >> 30) + DSMR_RULES_FUTURE_S)
    return 0;
  return tg->info.meter_time;
}

/* Seconds from `from` to `to`: the larger of the two clocks' differences
 * (the meter's own clock tells the truth about telegrams that arrive in a
 * burst; ours about meters without a clock). */
static double elapsed_s(const struct dsmr_counter_point *from,
                        const struct dsmr_counter_point *to) {
  double el = to->at > from->at ? (double)(to->at - from->at) / SECOND : 0.0;
  if (from->meter_time > 0 && to->meter_time > from->meter_time &&
      (double)(to->meter_time - from->meter_time) > el)
    el = (double)(to->meter_time - from->meter_time);
  return el;
}

/* Could the register have gone from `from` to `to`? *allowed: the most it
 * could have grown. */
static int plausible_step(const struct dsmr_counter_limit *l,
                          const struct dsmr_counter_point *from,
                          const struct dsmr_counter_point *to,
                          double *allowed) {
  *allowed = l->per_second * (elapsed_s(from, to) + PLAUSIBLE_GRACE_S);
  return to->value >= from->value &&
         (double)(to->value - from->value) <= *allowed;
}

/* Judge register reading r (now: its value and time) against what came
 * before. Raises the event of an implausible or held one; the event of a
 * restarted series waits until the telegram is really stored. */
static enum verdict judge(struct dsmr_ident *e, const struct dsmr_reading *r,
                          unsigned i, const struct dsmr_counter_limit *l,
                          const struct dsmr_counter_point *now,
                          struct dsmr_rules_result *res) {
  double allowed, suspect_allowed;
  struct dsmr_rules_event ev = {.reading = (int)i,
                                .r = r,
                                .limit = l,
                                .old_value = e->base.value,
                                .new_value = now->value};

  if (!e->has_base || plausible_step(l, &e->base, now, &allowed)) {
    e->suspects = 0;
    return V_PLAUSIBLE;
  }
  if (now->value < e->base.value &&
      e->base.value - now->value <= DSMR_RULES_ROUNDING) {
    /* It agrees with the baseline, not with a new series. */
    e->suspects = 0;
    ev.kind = DSMR_EV_HELD;
    emit(res, &ev);
    return V_HELD;
  }
  if (e->suspects > 0 && plausible_step(l, &e->suspect, now, &suspect_allowed))
    e->suspects++;
  else
    e->suspects = 1;
  e->suspect = *now;
  if (e->suspects >= DSMR_RULES_RESYNC_AFTER)
    return V_RESTARTED;

  if (now->value < e->base.value) {
    ev.kind = DSMR_EV_BACKWARDS;
  } else {
    ev.kind = DSMR_EV_JUMPED;
    ev.elapsed_s = elapsed_s(&e->base, now);
    ev.allowed = allowed;
  }
  emit(res, &ev);
  return V_IMPLAUSIBLE;
}

/* A new equipment id (0-0:96.1.1) is a replaced meter: its registers
 * start from their own values, and its logs are news only from now on. */
static void check_equipment(struct dsmr_rules *s,
                            const struct dsmr_telegram *tg,
                            struct dsmr_rules_result *res) {
  struct dsmr_span id = tg->info.equipment_id;
  size_t len =
      id.len < sizeof(s->equipment_id) ? id.len : sizeof(s->equipment_id);

  if (len == 0)
    return; /* a telegram without the line says nothing */
  if (s->equipment_len == len && memcmp(s->equipment_id, id.ptr, len) == 0)
    return;
  memcpy(s->prev_equipment_id, s->equipment_id, s->equipment_len);
  s->prev_equipment_len = s->equipment_len;
  memcpy(s->equipment_id, id.ptr, len);
  s->equipment_len = len;
  if (s->prev_equipment_len > 0) {
    struct dsmr_rules_event ev = {.kind = DSMR_EV_REPLACED, .reading = -1};
    for (unsigned i = 0; i < s->nidents; i++) {
      s->idents[i].has_base = 0;
      s->idents[i].suspects = 0;
      s->idents[i].rejected_capture = 0;
      s->idents[i].has_value = 0;
    }
    s->have_baseline = 0;
    emit(res, &ev);
  }
}

/* The point of register reading r: its value and time. 0 when it is not
 * judged now (dead, repeated or future capture). */
static int register_point(const struct dsmr_ident *e,
                          const struct dsmr_reading *r,
                          const struct dsmr_telegram *tg, uint64_t arrival,
                          struct dsmr_counter_point *now) {
  now->value = r->derive;
  if (r->time_kind == DSMR_AT_CAPTURE) {
    int64_t against;
    int dst;
    if (capture_at(e, r, arrival, &now->at, &against, &dst) != CAP_OK)
      return 0;
    now->meter_time = 0;
  } else {
    now->at = arrival;
    now->meter_time = meter_clock(tg, arrival);
  }
  return 1;
}

/* Pass 1: judge every register of the telegram that would be stored.
 * Returns how many are implausible. */
static unsigned judge_telegram(struct dsmr_rules *s,
                               const struct dsmr_telegram *tg, uint64_t arrival,
                               struct dsmr_rules_result *res) {
  unsigned bad = 0;

  for (unsigned i = 0; i < tg->nreadings; i++) {
    const struct dsmr_reading *r = &tg->readings[i];
    const struct dsmr_counter_limit *l;
    struct dsmr_counter_point now;
    struct dsmr_ident *e;

    if (!(l = dsmr_rules_counter_limit(r)))
      continue;
    e = ident_get(s, r, i, res);
    if (!e || e->judged == s->judged)
      continue; /* no room, or a repeat within the telegram */
    e->judged = s->judged;
    e->judged_reading = i;
    e->verdict = V_NONE;
    if (!register_point(e, r, tg, arrival, &now))
      continue;
    if (r->time_kind == DSMR_AT_CAPTURE && now.at == e->rejected_capture) {
      e->verdict = V_SKIP;
      continue;
    }
    e->verdict = judge(e, r, i, l, &now, res);
    if (e->verdict == V_IMPLAUSIBLE)
      bad++;
    if ((e->verdict == V_IMPLAUSIBLE || e->verdict == V_HELD) &&
        r->time_kind == DSMR_AT_CAPTURE)
      e->rejected_capture = now.at;
  }
  return bad;
}

/* Pass 2, for a register being stored: it is the new baseline. */
static void commit_register(struct dsmr_ident *e, const struct dsmr_reading *r,
                            const struct dsmr_telegram *tg, uint64_t arrival,
                            uint64_t at) {
  e->has_base = 1;
  e->suspects = 0;
  e->base.value = r->derive;
  if (r->time_kind == DSMR_AT_CAPTURE) {
    e->base.at = at;
    e->base.meter_time = 0;
  } else {
    e->base.at = arrival;
    e->base.meter_time = meter_clock(tg, arrival);
  }
}

static int is_quality_counter(const char *ti) {
  return strncmp(ti, "voltage_sags", 12) == 0 ||
         strncmp(ti, "voltage_swells", 14) == 0;
}

/* Sags and swells only ever count up: each step is an event. */
static void check_quality(struct dsmr_ident *e, const struct dsmr_reading *r,
                          unsigned i, struct dsmr_rules_result *res) {
  double now = r->ds == DSMR_DS_DERIVE ? (double)r->derive : r->gauge;

  if (e->has_value && now > e->last_value) {
    struct dsmr_rules_event ev = {.kind = DSMR_EV_QUALITY,
                                  .reading = (int)i,
                                  .r = r,
                                  .old_gauge = e->last_value,
                                  .new_gauge = now};
    emit(res, &ev);
  }
  e->has_value = 1;
  e->last_value = now;
}

/* 1-0:1.6.0, the month's peak demand (e-MUCS): a new peak is any change of
 * value or time from the last one seen (a month's first peak too); the
 * first telegram after start only sets the baseline. Checked on every
 * telegram, before the "times only move forward" rule could hide a
 * change. */
static void check_peak(struct dsmr_ident *e, const struct dsmr_reading *r,
                       unsigned i, struct dsmr_rules_result *res) {
  if (e->has_value &&
      (r->gauge != e->last_value || r->capture_time != e->last_capture)) {
    struct dsmr_rules_event ev = {.kind = DSMR_EV_PEAK,
                                  .reading = (int)i,
                                  .r = r,
                                  .old_gauge = e->last_value,
                                  .new_gauge = r->gauge,
                                  .old_time = e->last_capture,
                                  .capture = r->capture_time};
    emit(res, &ev);
  }
  e->has_value = 1;
  e->last_value = r->gauge;
  e->last_capture = r->capture_time;
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
static uint64_t separate_seconds(uint64_t prev, uint64_t t) {
  const uint64_t half = SECOND / 2;
  uint64_t prev_sec;

  if (prev == 0 || t < prev + half)
    return t;
  prev_sec = (prev + half) >> 30; /* as CDTIME_T_TO_TIME_T rounds */
  if (((t + half) >> 30) > prev_sec)
    return t;
  return (prev_sec << 30) + half;
}

/* Pass 2 for a capture reading: whether to store it, and at which time
 * (*at). */
static enum capture_status capture_store_time(struct dsmr_ident *e,
                                              const struct dsmr_reading *r,
                                              unsigned i, uint64_t arrival,
                                              uint64_t *at,
                                              struct dsmr_rules_result *res) {
  int64_t against = 0;
  int dst;
  enum capture_status st = capture_at(e, r, arrival, at, &against, &dst);

  if (st == CAP_FUTURE && r->capture_time != e->future_capture) {
    struct dsmr_rules_event ev = {.kind = DSMR_EV_FUTURE,
                                  .reading = (int)i,
                                  .r = r,
                                  .capture = r->capture_time,
                                  .against = against};
    e->future_capture = r->capture_time;
    emit(res, &ev);
  }
  if (st == CAP_OK && dst) {
    struct dsmr_rules_event ev = {.kind = DSMR_EV_DST_REPEAT,
                                  .reading = (int)i,
                                  .r = r,
                                  .capture = r->capture_time,
                                  .against = (int64_t)(*at >> 30)};
    emit(res, &ev);
  }
  return st;
}

int dsmr_rules_telegram(struct dsmr_rules *s, const struct dsmr_telegram *tg,
                        uint64_t arrival, struct dsmr_rules_result *res) {
  uint64_t t = arrival, interval = dsmr_rules_interval(s);
  uint64_t capture_default = secs(
      tg->info.version >= 50 ? CAPTURE_INTERVAL_DSMR5 : CAPTURE_INTERVAL_OLDER);

  res->rejected = 0;
  res->nstore = res->nevents = res->events_lost = 0;
  res->time = 0;
  check_equipment(s, tg, res);
  res->had_baseline = s->have_baseline;
  s->judged++;
  if (judge_telegram(s, tg, arrival, res) > 0)
    return res->rejected = 1;

  /* A clock step backwards, two telegrams in one read or in two reads
   * within a millisecond: still distinctly later than the previous
   * telegram's values. */
  if (s->last_tel_time != 0 && t < s->last_tel_time + TIME_STEP)
    t = s->last_tel_time + TIME_STEP;
  t = separate_seconds(s->last_tel_time, t);
  s->last_tel_time = t;
  res->time = t;
  s->seq++;

  for (unsigned i = 0; i < tg->nreadings; i++) {
    const struct dsmr_reading *r = &tg->readings[i];
    int reg = dsmr_rules_counter_limit(r) != NULL;
    struct dsmr_ident *e;
    uint64_t at, iv;

    if (!r->type || !r->type_instance)
      continue;
    e = ident_get(s, r, i, res);
    if (!e)
      continue;
    /* The same identifier twice in one telegram: the first one counts;
     * values with their own capture time are told apart by it below (the
     * peak history gives one identifier a value per month). */
    if (e->seq == s->seq && r->time_kind != DSMR_AT_CAPTURE)
      continue;
    /* Registers were judged in pass 1: only the reading judged is stored,
     * and only when plausible (or a confirmed new series). */
    if (reg && (e->judged != s->judged || e->judged_reading != i ||
                (e->verdict != V_PLAUSIBLE && e->verdict != V_RESTARTED &&
                 e->verdict != V_NONE)))
      continue;

    if (r->time_kind == DSMR_AT_CAPTURE) {
      uint64_t before = e->last_time;
      enum capture_status st = capture_store_time(e, r, i, arrival, &at, res);
      if (st == CAP_FUTURE)
        continue; /* refused: touches no state */
      if (r->flags & DSMR_READING_PEAK)
        check_peak(e, r, i, res);
      if (st != CAP_OK || (reg && e->verdict == V_NONE))
        continue; /* dead channel, repeat; a register not judged */
      if (before != 0)
        dsmr_period_add(&e->period, at - before);
      iv = dsmr_period_get(&e->period);
      iv = iv ? round_interval(iv) : capture_default;
      e->last_raw_capture = r->capture_time;
    } else {
      if (r->flags & DSMR_READING_PEAK)
        check_peak(e, r, i, res);
      at = t;
      if (e->last_time != 0 && at < e->last_time + TIME_STEP)
        at = e->last_time + TIME_STEP;
      iv = interval;
    }
    e->seq = s->seq;
    e->last_time = at;
    e->last_derive = r->derive;
    e->last_gauge = r->gauge;
    if (reg && e->verdict == V_RESTARTED) {
      /* The event first: it explains the value that follows. */
      struct dsmr_rules_event ev = {.kind = DSMR_EV_RESTARTED,
                                    .reading = (int)i,
                                    .r = r,
                                    .limit = dsmr_rules_counter_limit(r),
                                    .old_value = e->base.value,
                                    .new_value = r->derive};
      emit(res, &ev);
    }
    res->store[res->nstore++] =
        (struct dsmr_rules_store){.reading = (int)i,
                                  .ident = (unsigned)(e - s->idents),
                                  .time = at,
                                  .interval = iv};
    if (reg)
      commit_register(e, r, tg, arrival, at);
    if (is_quality_counter(r->type_instance))
      check_quality(e, r, i, res);
  }
  s->have_baseline = 1;
  return 0;
}
