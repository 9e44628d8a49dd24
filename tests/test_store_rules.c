/* The storing rules (src/lib/store_rules.h), one rule at a time, on
 * telegrams built reading by reading: what is stored, at which time, and
 * which events are raised. */
#include "store_rules.h"
#include "timestamp.h"

#include <stdlib.h>

#include "tap.h"

#define SEC DSMR_RULES_SECOND
#define T(s) ((uint64_t)(s) << 30)

/* --- what the rules returned, walked into a record -------------------- */

struct stored {
  const char *ti;
  int64_t derive;
  double gauge;
  uint64_t time, interval;
};

static struct {
  struct stored st[64];
  unsigned nst;
  struct dsmr_rules_event ev[64];
  unsigned nev;
} rec;

static void store_cb(void *ctx, const struct dsmr_reading *r,
                     const struct dsmr_rules_store *st) {
  uint64_t time = st->time, interval = st->interval;
  (void)ctx;
  if (rec.nst < 64)
    rec.st[rec.nst++] =
        (struct stored){r->type_instance, r->derive, r->gauge, time, interval};
}

static void event_cb(void *ctx, const struct dsmr_rules_event *ev) {
  (void)ctx;
  if (rec.nev < 64)
    rec.ev[rec.nev++] = *ev;
}

static struct dsmr_rules_result result; /* ~40 KiB: not on the stack */

/* The stored reading of instance ti in the last telegram, NULL if none. */
static const struct stored *got(const char *ti) {
  for (unsigned i = 0; i < rec.nst; i++)
    if (strcmp(rec.st[i].ti, ti) == 0)
      return &rec.st[i];
  return NULL;
}

static unsigned events(enum dsmr_rules_event_kind k) {
  unsigned n = 0;
  for (unsigned i = 0; i < rec.nev; i++)
    n += rec.ev[i].kind == k;
  return n;
}

static const struct dsmr_rules_event *event(enum dsmr_rules_event_kind k) {
  for (unsigned i = 0; i < rec.nev; i++)
    if (rec.ev[i].kind == k)
      return &rec.ev[i];
  return NULL;
}

/* --- building telegrams ---------------------------------------------- */

static struct dsmr_telegram tg;

static void start(int64_t meter_time) {
  memset(&tg, 0, sizeof(tg));
  tg.info.version = 50;
  tg.info.has_meter_time = meter_time != 0;
  tg.info.meter_time = meter_time;
}

static struct dsmr_reading *add(const char *type, const char *ti) {
  struct dsmr_reading *r = &tg.readings[tg.nreadings++];
  r->type = type;
  r->type_instance = ti;
  return r;
}

static void energy(const char *ti, int64_t wh) {
  struct dsmr_reading *r = add("dsmr_energy", ti);
  r->ds = DSMR_DS_DERIVE;
  r->derive = wh;
}

static void power(double w) {
  add("power", "import")->gauge = w;
}

static void gas(int64_t capture, int64_t litres) {
  struct dsmr_reading *r = add("dsmr_volume", "gas");
  r->ds = DSMR_DS_DERIVE;
  r->derive = litres;
  r->time_kind = DSMR_AT_CAPTURE;
  r->capture_time = capture;
  r->channel = 1;
}

static void capture_gauge(const char *ti, int64_t capture, double w,
                          unsigned flags) {
  struct dsmr_reading *r = add("power", ti);
  r->gauge = w;
  r->time_kind = DSMR_AT_CAPTURE;
  r->capture_time = capture;
  r->flags = (uint8_t)flags;
}

static void equipment(const char *id) {
  tg.info.equipment_id.ptr = id;
  tg.info.equipment_id.len = strlen(id);
}

static struct dsmr_rules rules;

/* Judge tg arriving at `arrival` (cdtime units); returns the verdict. */
static int feed(uint64_t arrival) {
  int rejected;

  rec.nst = rec.nev = 0;
  rejected = dsmr_rules_telegram(&rules, &tg, arrival, &result);
  if (result.rejected != rejected || result.events_lost != 0 ||
      (rejected && result.nstore != 0)) {
    printf("Bail out! result inconsistent: rejected %d/%d, %u stored, "
           "%u events lost\n",
           rejected, result.rejected, result.nstore, result.events_lost);
    exit(1);
  }
  dsmr_rules_result_walk(&result, &tg, NULL, store_cb, event_cb);
  return rejected;
}

/* One electricity telegram: import_t1 Wh and power W, meter clock. */
static int elec(int64_t clock, uint64_t arrival, int64_t wh, double w) {
  start(clock);
  energy("import_t1", wh);
  power(w);
  return feed(arrival);
}

#define T0 1704888000 /* 2024-01-10 12:00:00 UTC */

/* --- the rules ------------------------------------------------------- */

static void back_by_one(void) {
  dsmr_rules_init(&rules);
  is_int(elec(T0, T(T0), 1000000, 100), 0, "first telegram stored");
  ok(got("import_t1") && got("import_t1")->derive == 1000000,
     "first reading is the baseline");
  for (int i = 1; i <= 4; i++) {
    is_int(elec(T0 + i, T(T0 + i), 999999, 100 + i), 0,
           "back by 1 Wh (%d): the telegram is not rejected", i);
    ok(!got("import_t1"), "back by 1 Wh (%d): the register is not stored", i);
    ok(got("import") && got("import")->gauge == 100 + i,
       "back by 1 Wh (%d): the power of the telegram is stored", i);
    is_int(events(DSMR_EV_HELD), 1, "back by 1 Wh (%d): one HELD event", i);
    is_int(events(DSMR_EV_RESTARTED) + events(DSMR_EV_BACKWARDS), 0,
           "back by 1 Wh (%d): no restart, no implausible telegram", i);
  }
  elec(T0 + 5, T(T0 + 5), 999990, 1);
  const struct dsmr_rules_event *e = event(DSMR_EV_HELD);
  ok(e && e->old_value == 1000000 && e->new_value == 999990,
     "back by 10 Wh: still a rounding, the event says 1000000 -> 999990");
  is_int(elec(T0 + 6, T(T0 + 6), 1000000, 1), 0, "the meter catches up");
  ok(got("import_t1") && got("import_t1")->derive == 1000000,
     "the same value as stored is stored again");
  is_int(elec(T0 + 7, T(T0 + 7), 1000001, 1), 0, "and grows on");
  ok(got("import_t1") && got("import_t1")->derive == 1000001, "1000001 stored");
  /* A larger step back is implausible: the whole telegram goes. */
  is_int(elec(T0 + 8, T(T0 + 8), 999990, 1), 1,
         "back by 11 Wh: the telegram is rejected");
  is_int(rec.nst, 0, "back by 11 Wh: nothing stored");
  e = event(DSMR_EV_BACKWARDS);
  ok(e && e->old_value == 1000001 && e->new_value == 999990 &&
         strcmp(e->limit->unit, "Wh") == 0,
     "back by 11 Wh: BACKWARDS event with old and new value");
}

static void meter_swap(void) {
  dsmr_rules_init(&rules);
  elec(T0, T(T0), 5000000, 1);
  is_int(elec(T0 + 10, T(T0 + 10), 3, 1), 1, "swap: near 0 rejected (1)");
  is_int(elec(T0 + 20, T(T0 + 20), 5, 1), 1, "swap: growing, rejected (2)");
  is_int(events(DSMR_EV_BACKWARDS), 1, "swap: each a BACKWARDS event");
  is_int(elec(T0 + 30, T(T0 + 30), 8, 1), 0,
         "swap: the third agreeing reading is stored");
  const struct dsmr_rules_event *e = event(DSMR_EV_RESTARTED);
  ok(e && e->old_value == 5000000 && e->new_value == 8,
     "swap: RESTARTED event (5000000 -> 8)");
  ok(got("import_t1") && got("import_t1")->derive == 8, "swap: 8 Wh stored");
  is_int(elec(T0 + 40, T(T0 + 40), 12, 1), 0, "swap: the new series goes on");
  is_int(rec.nev, 0, "swap: without events");
  /* Readings that disagree with each other are no series. */
  elec(T0 + 50, T(T0 + 50), 1, 1);
  elec(T0 + 60, T(T0 + 60), 900000, 1);
  is_int(elec(T0 + 70, T(T0 + 70), 0, 1), 1,
         "three low readings that do not agree: no restart");
  is_int(events(DSMR_EV_RESTARTED), 0, "no RESTARTED event");
  /* A new equipment id: taken at once, lower or not. */
  start(T0 + 80);
  equipment("E0043007131626799");
  energy("import_t1", 50);
  is_int(feed(T(T0 + 80)), 0, "a new equipment id is taken at once (first)");
  start(T0 + 90);
  equipment("E0043007131626700");
  energy("import_t1", 1);
  is_int(feed(T(T0 + 90)), 0, "a changed equipment id: the telegram stored");
  is_int(events(DSMR_EV_REPLACED), 1, "a changed equipment id: REPLACED");
  ok(got("import_t1") && got("import_t1")->derive == 1,
     "the replaced meter's register is stored from its own value");
  ok(memcmp(rules.prev_equipment_id, "E0043007131626799", 17) == 0,
     "the old id is kept for the message");
}

static void jump(void) {
  dsmr_rules_init(&rules);
  elec(T0, T(T0), 1000000, 1);
  /* 100 kW x (60 s + 10 s) = 1944.4 Wh */
  is_int(elec(T0 + 60, T(T0 + 60), 1001944, 2), 0,
         "+1944 Wh in 60 s: within 100 kW");
  is_int(elec(T0 + 120, T(T0 + 120), 1003889, 3), 1,
         "+1945 Wh in 60 s: beyond what the meter can measure");
  const struct dsmr_rules_event *e = event(DSMR_EV_JUMPED);
  ok(e && e->elapsed_s == 60.0 && e->allowed > 1944.0 && e->allowed < 1945.0 &&
         strcmp(e->limit->limit, "100 kW") == 0,
     "JUMPED event: elapsed 60 s, allowed 1944.4 Wh at 100 kW");
  is_int(rec.nst, 0, "nothing of the telegram stored");
  /* The meter's own clock tells the truth about a burst. */
  is_int(elec(T0 + 180, T(T0 + 121), 1004000, 4), 0,
         "+2056 Wh in 1 s of arrival but 120 s of meter clock: plausible");
  /* Gas: 40 m3/h */
  dsmr_rules_init(&rules);
  start(T0);
  gas(T0 - 300, 100000);
  feed(T(T0));
  start(T0 + 300);
  gas(T0, 103500);
  is_int(feed(T(T0 + 300)), 1, "gas +3500 L in 300 s (40 m3/h: 3444 L)");
  start(T0 + 301);
  gas(T0, 103500);
  power(5);
  is_int(feed(T(T0 + 301)), 0,
         "the rejected capture repeated: the telegram is stored");
  ok(!got("gas") && got("import"), "... without the gas reading");
  is_int(rec.nev, 0, "... and it is not judged again");
}

static void dst_clock(void) {
  /* A meter whose clock jumps an hour (DST written wrongly): its values
   * carry the arrival, strictly increasing, and its registers are judged
   * by the arrival while its clock is that far ahead. */
  dsmr_rules_init(&rules);
  elec(T0, T(T0), 1000000, 1);
  uint64_t t1 = got("import")->time;
  is_int(elec(T0 + 3600 + 1, T(T0 + 1), 1000010, 2), 0,
         "meter clock an hour ahead: stored");
  ok(got("import") && got("import")->time == T(T0 + 1) &&
         got("import")->time > t1,
     "at the arrival time, not the meter's");
  is_int(elec(T0 + 3602, T(T0 + 2), 1050000, 3), 1,
         "+50 kWh in 1 s while the meter clock is an hour ahead: implausible "
         "(the clock is not believed)");
  is_int(elec(T0 + 3, T(T0 + 3), 1000020, 4), 0,
         "meter clock back an hour: stored");
  ok(got("import_t1") && got("import_t1")->time == T(T0 + 3),
     "at the arrival time");
  /* A clock that moves with the arrival is believed: a burst. */
  is_int(elec(T0 + 603, T(T0 + 4), 1010000, 5), 0,
         "+10 kWh in 1 s of arrival, 600 s of meter clock: plausible");
}

static void mbus_times(void) {
  dsmr_rules_init(&rules);
  int64_t c0 = T0 - 200;
  start(T0);
  gas(c0, 100000);
  feed(T(T0));
  ok(got("gas") && got("gas")->time == T(c0), "gas stored at its capture");
  is_int(got("gas")->interval, T(300), "interval 300 s for DSMR 5 at first");
  start(T0 + 1);
  gas(c0, 100000);
  feed(T(T0 + 1));
  ok(!got("gas"), "the same capture repeated: not stored again");
  start(T0 + 2);
  gas(c0 - 300, 99000);
  feed(T(T0 + 2));
  ok(!got("gas"), "a capture going back: not stored");
  is_int(rec.nev, 0, "and not judged (no event)");
  start(T0 + 100);
  gas(c0 + 300, 100010);
  feed(T(T0 + 100));
  ok(got("gas") && got("gas")->time == T(c0 + 300) &&
         got("gas")->interval == T(300),
     "the next capture stored, interval the observed 300 s");
  start(T0 + 400);
  gas(c0 + 900, 100020);
  feed(T(T0 + 400));
  ok(got("gas") && got("gas")->interval == T(300),
     "a lost capture (600 s gap) keeps the interval at 300 s");
  start(T0 + 401);
  gas(900000000, 5);
  feed(T(T0 + 401));
  ok(!got("gas") && rec.nev == 0, "a capture before 2000: no reading");
  tg.info.version = 42;
  dsmr_rules_init(&rules);
  start(T0);
  tg.info.version = 42;
  gas(c0, 100000);
  feed(T(T0));
  is_int(got("gas") ? got("gas")->interval : 0, T(3600),
         "interval 3600 s before DSMR 5");
}

static void period(void) {
  dsmr_rules_init(&rules);
  is_int(dsmr_rules_interval(&rules), T(10), "10 s until measured");
  uint64_t prev = 0, t = T(T0);
  /* every second, with telegrams 3, 4 and 7 lost */
  for (int i = 1; i <= 10; i++) {
    if (i == 3 || i == 4 || i == 7)
      continue;
    dsmr_rules_note_arrival(&rules, prev, t + T(i));
    prev = t + T(i);
  }
  is_int(dsmr_rules_interval(&rules), T(1), "lost telegrams: still 1 s");
  /* a burst out of a buffer says nothing */
  dsmr_rules_init(&rules);
  prev = 0;
  for (int i = 0; i < 10; i++) {
    dsmr_rules_note_arrival(&rules, prev, T(T0) + (uint64_t)i * (SEC / 100));
    prev = T(T0) + (uint64_t)i * (SEC / 100);
  }
  is_int(dsmr_rules_interval(&rules), T(10), "a burst: not a period");
  dsmr_rules_note_arrival(&rules, 0, T(T0 + 100));
  is_int(dsmr_rules_interval(&rules), T(10), "after a reconnect: no gap");
  dsmr_rules_note_arrival(&rules, T(T0 + 100), T(T0 + 110) + SEC / 3);
  is_int(dsmr_rules_interval(&rules), T(10), "10.33 s rounds to 10 s");
  struct dsmr_period p = {{0}, 0, 0};
  for (int i = 0; i < DSMR_PERIOD_WINDOW; i++)
    dsmr_period_add(&p, T(5));
  dsmr_period_add(&p, T(9));
  is_int(dsmr_period_get(&p), T(5), "the smallest of the window");
  for (int i = 0; i < DSMR_PERIOD_WINDOW; i++)
    dsmr_period_add(&p, T(9));
  is_int(dsmr_period_get(&p), T(9), "old gaps leave the window");
}

static void time_separation(void) {
  dsmr_rules_init(&rules);
  uint64_t a = T(T0) + SEC / 10;
  elec(T0, a, 1, 1);
  uint64_t t1 = got("import")->time;
  elec(T0, a, 1, 2);
  uint64_t t2 = got("import")->time;
  ok(t2 > t1 && t2 - t1 < SEC / 500, "same arrival: ~1 ms later");
  /* x.6 s then x+1.3 s: both round to x+1 */
  dsmr_rules_init(&rules);
  elec(T0, T(T0) + SEC * 6 / 10, 1, 1);
  elec(T0 + 1, T(T0 + 1) + SEC * 3 / 10, 1, 1);
  is_int(got("import")->time, T(T0 + 1) + SEC / 2,
         "a real period later but in the same rounded second: moved to x+1.5");
  /* clock going back */
  elec(T0 + 2, T(T0 - 100), 1, 1);
  ok(got("import")->time > T(T0 + 1) + SEC / 2,
     "arrival going back: still later");
}

static void peaks(void) {
  /* 1-0:1.6.0 and the 0-0:98.1.0 history (one identifier, a value per
   * month at its own time). Months: Nov, Dec, then Jan. */
  const int64_t nov = 1700000000, dec = nov + 30 * 86400,
                jan = dec + 31 * 86400;
  dsmr_rules_init(&rules);
  start(jan + 3600);
  capture_gauge("demand_peak_month", jan + 1800, 2500, DSMR_READING_PEAK);
  capture_gauge("demand_peak_history", nov, 4000, 0);
  capture_gauge("demand_peak_history", dec, 3000, 0);
  feed(T(jan + 3600));
  is_int(rec.nst, 3, "first telegram: the peak and both months stored");
  is_int(events(DSMR_EV_PEAK), 0, "first telegram: no new-peak event");
  start(jan + 3610);
  capture_gauge("demand_peak_month", jan + 1800, 2500, DSMR_READING_PEAK);
  capture_gauge("demand_peak_history", nov, 4000, 0);
  capture_gauge("demand_peak_history", dec, 3000, 0);
  feed(T(jan + 3610));
  is_int(rec.nst + rec.nev, 0, "the same again: nothing");
  start(jan + 7200);
  capture_gauge("demand_peak_month", jan + 5400, 2800, DSMR_READING_PEAK);
  capture_gauge("demand_peak_history", nov, 4000, 0);
  capture_gauge("demand_peak_history", dec, 3000, 0);
  feed(T(jan + 7200));
  const struct dsmr_rules_event *e = event(DSMR_EV_PEAK);
  ok(e && e->old_gauge == 2500 && e->new_gauge == 2800 &&
         e->old_time == jan + 1800 && e->capture == jan + 5400,
     "a higher peak: PEAK event with old and new value and time");
  /* Month change: January's peak goes into the history, Nov drops out,
   * the month's peak restarts. */
  const int64_t feb = jan + 31 * 86400;
  start(feb + 900);
  capture_gauge("demand_peak_month", feb + 900, 1200, DSMR_READING_PEAK);
  capture_gauge("demand_peak_history", dec, 3000, 0);
  capture_gauge("demand_peak_history", jan + 5400, 2800, 0);
  feed(T(feb + 900));
  is_int(events(DSMR_EV_PEAK), 1, "month change: the new month's peak");
  ok(got("demand_peak_month") && got("demand_peak_month")->time == T(feb + 900),
     "month change: the month's peak stored at its time");
  const struct stored *h = got("demand_peak_history");
  ok(h && h->gauge == 2800 && h->time == T(jan + 5400) && rec.nst == 2,
     "month change: only January is new in the history");
  /* A restart: nothing remembered, the history is stored again whole and
   * the first peak is only a baseline. */
  dsmr_rules_init(&rules);
  feed(T(feb + 1000));
  is_int(rec.nst, 3, "restart: the peak and the history stored again");
  is_int(events(DSMR_EV_PEAK), 0, "restart: no new-peak event");
}

/* --- fixes (issue 14) ------------------------------------------------ */

static void future_capture(void) {
  const int64_t year = 365 * 86400;
  dsmr_rules_init(&rules);
  start(T0);
  gas(T0 - 100, 100000);
  feed(T(T0));
  for (int i = 1; i <= 3; i++) {
    start(T0 + i);
    gas(T0 + year, 100050);
    power(i);
    is_int(feed(T(T0 + i)), 0, "gas a year ahead (%d): telegram stored", i);
    ok(!got("gas") && got("import"), "... without the gas reading (%d)", i);
    is_int(events(DSMR_EV_FUTURE), i == 1,
           "... one FUTURE event per capture (%d)", i);
  }
  const struct dsmr_rules_event *e;
  start(T0 + 4);
  gas(T0 + year, 100050);
  feed(T(T0 + 4));
  is_int(rules.idents[rules.ident_of[0]].last_time, T(T0 - 100),
         "the future time never became the last time");
  start(T0 + 300);
  gas(T0 + 200, 100060);
  feed(T(T0 + 300));
  ok(got("gas") && got("gas")->time == T(T0 + 200),
     "the next normal reading is stored");
  /* a capture 15 min ahead is tolerated, 15 min + 1 s is not */
  start(T0 + 600);
  gas(T0 + 600 + DSMR_RULES_FUTURE_S + 1, 100070);
  feed(T(T0 + 600));
  e = event(DSMR_EV_FUTURE);
  ok(!got("gas") && e && e->capture - e->against == DSMR_RULES_FUTURE_S + 1,
     "901 s ahead: refused, the event says how far");
  start(T0 + 601);
  gas(T0 + 601 + DSMR_RULES_FUTURE_S, 100070);
  feed(T(T0 + 601));
  ok(got("gas") != NULL, "900 s ahead: stored");
  /* The meter's own clock a year ahead for a few telegrams. */
  dsmr_rules_init(&rules);
  start(T0);
  gas(T0 - 100, 100000);
  energy("import_t1", 1000000);
  feed(T(T0));
  for (int i = 1; i <= 3; i++) {
    start(T0 + year + i);
    gas(T0 + year + i - 50, 100010);
    energy("import_t1", 1000000 + i);
    is_int(feed(T(T0 + i)), 0, "meter clock a year ahead (%d): stored", i);
    ok(!got("gas") && got("import_t1"),
       "... electricity, not its future gas capture (%d)", i);
  }
  start(T0 + 300);
  gas(T0 + 200, 100020);
  energy("import_t1", 1000010);
  feed(T(T0 + 300));
  ok(got("gas") && got("gas")->time == T(T0 + 200) && got("import_t1"),
     "clock back to normal: gas and electricity stored");
}

static void dst_end(void) {
  /* DSMR 2.2/3: hourly gas, flagless local time. 2024-10-27 02:00 local
   * happens at 00:00 and at 01:00 UTC; both read as 00:00 UTC. */
  const int64_t end = dsmr_eu_dst_end(2024), c1 = end - 3600;
  is_int(end, 1729990800, "DST ends 2024-10-27 01:00 UTC");
  dsmr_rules_init(&rules);
  start(0);
  tg.info.version = 0;
  gas(c1 - 3600, 500000); /* 01:00 local = 23:00 UTC */
  feed(T(c1 - 3000));
  start(0);
  gas(c1, 500100);
  feed(T(c1 + 600));
  ok(got("gas") && got("gas")->time == T(c1), "02:00 local, first: 00:00 UTC");
  start(0);
  gas(c1, 500100);
  feed(T(c1 + 3610));
  ok(!got("gas"), "the same capture and value an hour later: a repeat");
  start(0);
  gas(c1, 500250);
  feed(T(c1 + 3620));
  ok(got("gas") && got("gas")->time == T(c1 + 3600) &&
         got("gas")->derive == 500250,
     "02:00 local again with another value: stored at 01:00 UTC");
  is_int(events(DSMR_EV_DST_REPEAT), 1, "a DST_REPEAT event");
  start(0);
  gas(c1, 500250);
  feed(T(c1 + 3700));
  ok(!got("gas"), "that one repeated: not stored again");
  start(0);
  gas(end + 3600, 500300); /* 03:00 local (CET) = 02:00 UTC */
  feed(T(end + 3700));
  ok(got("gas") && got("gas")->time == T(end + 3600), "03:00 local: 02:00 UTC");
  /* Not an hour later yet: a changed value is not the second occurrence. */
  dsmr_rules_init(&rules);
  start(0);
  gas(c1, 500100);
  feed(T(c1 + 60));
  start(0);
  gas(c1, 500150);
  feed(T(c1 + 1800));
  ok(!got("gas"), "another value half an hour after the first: not stored");
  /* Outside the repeated hour, a capture that does not move on stays a
   * repeat. */
  dsmr_rules_init(&rules);
  start(0);
  gas(c1 - 7200, 500100);
  feed(T(c1 - 7000));
  start(0);
  gas(c1 - 7200, 500150);
  feed(T(c1 - 3000));
  ok(!got("gas"), "a changed value for an old capture in another hour: not "
                  "stored");
  /* DSMR 5 style, every 5 min: the second pass starts over at 02:00. */
  dsmr_rules_init(&rules);
  for (int i = 0; i < 12; i++) {
    start(0);
    gas(c1 + 300 * i, 600000 + i);
    feed(T(c1 + 300 * i + 10));
  }
  start(0);
  gas(c1, 600012);
  feed(T(end + 10));
  ok(got("gas") && got("gas")->time == T(end), "5-min captures: 02:00 second "
                                               "pass at 01:00 UTC");
  start(0);
  gas(c1 + 300, 600012);
  feed(T(end + 310));
  ok(got("gas") && got("gas")->time == T(end + 300),
     "02:05 second pass, same value as before: 01:05 UTC");
}

static void register_twice(void) {
  /* Two readings of one register in a telegram (two M-Bus channels that
   * map to one name): only the judged one may be stored. */
  dsmr_rules_init(&rules);
  start(T0);
  gas(T0 - 100, 100000);
  feed(T(T0));
  start(T0 + 300);
  gas(T0 + 200, 100010);
  gas(T0 + 250, 5000000);
  is_int(feed(T(T0 + 300)), 0, "telegram stored");
  is_int(rec.nst, 1, "only the first (judged) reading stored");
  ok(got("gas") && got("gas")->derive == 100010, "its value");
}

int main(void) {
  back_by_one();
  meter_swap();
  jump();
  dst_clock();
  mbus_times();
  period();
  time_separation();
  peaks();
  future_capture();
  dst_end();
  register_twice();
  return tap_done();
}
