/* ReportInterval (src/lib/report.h): exact means, last values, interval
 * boundaries on multiples of the interval, lost telegrams, the flush. */
#include "report.h"

#include "tap.h"

#define T(s) ((uint64_t)(s) << 30)
#define MS(ms) (((uint64_t)(ms) << 30) / 1000)
#define T0 1704888000 /* 2024-01-10 12:00:00 UTC, a multiple of 10 s */

static struct dsmr_report rep; /* ~25 KiB: not on the stack */

static struct dsmr_reading power(double w) {
  return (struct dsmr_reading){.type = "power",
                               .type_instance = "import",
                               .ds = DSMR_DS_GAUGE,
                               .gauge = w};
}
static struct dsmr_reading voltage(double v) {
  return (struct dsmr_reading){.type = "voltage",
                               .type_instance = "l1",
                               .ds = DSMR_DS_GAUGE,
                               .gauge = v};
}
static struct dsmr_reading energy(int64_t wh) {
  return (struct dsmr_reading){.type = "dsmr_energy",
                               .type_instance = "import_t1",
                               .ds = DSMR_DS_DERIVE,
                               .derive = wh};
}
static struct dsmr_reading tariff(double t) {
  return (struct dsmr_reading){.type = "dsmr_tariff",
                               .type_instance = "",
                               .ds = DSMR_DS_GAUGE,
                               .gauge = t};
}

enum { K_POWER, K_VOLTAGE, K_ENERGY, K_TARIFF, K_N };

/* One telegram at time t: power w, voltage v, energy wh, tariff tf. Takes
 * the open interval's points first when t is beyond it (as the plugin
 * does): returns how many, into pts[]. */
static struct dsmr_report_point pts[K_N];
static unsigned telegram(uint64_t t, double w, double v, int64_t wh,
                         double tf) {
  unsigned n = 0;
  struct dsmr_reading r;
  if (dsmr_report_due(&rep, t))
    while (n < K_N && dsmr_report_take(&rep, &pts[n]))
      n++;
  r = power(w);
  dsmr_report_add(&rep, K_POWER, &r, t);
  r = voltage(v);
  dsmr_report_add(&rep, K_VOLTAGE, &r, t);
  r = energy(wh);
  dsmr_report_add(&rep, K_ENERGY, &r, t);
  r = tariff(tf);
  dsmr_report_add(&rep, K_TARIFF, &r, t);
  return n;
}

static const struct dsmr_report_point *pt(unsigned n, const char *type) {
  for (unsigned i = 0; i < n; i++)
    if (strcmp(pts[i].type, type) == 0)
      return &pts[i];
  return NULL;
}

static void kinds(void) {
  struct dsmr_reading r = power(1), c = {.type = "count", .ds = DSMR_DS_GAUGE};
  is_int(dsmr_report_kind_of(&r), DSMR_REPORT_MEAN, "power: the mean");
  r = energy(1);
  is_int(dsmr_report_kind_of(&r), DSMR_REPORT_LAST, "energy: the last value");
  is_int(dsmr_report_kind_of(&c), DSMR_REPORT_LAST, "a count: the last value");
  r = tariff(1);
  is_int(dsmr_report_kind_of(&r), DSMR_REPORT_LAST, "the tariff: the last");
  dsmr_report_init(&rep, 0);
  r = power(1);
  ok(!dsmr_report_delays(&rep, &r), "off: nothing waits");
  ok(dsmr_report_add(&rep, 0, &r, T(T0)) == -1 && rep.nopen == 0,
     "off: nothing kept");
  dsmr_report_init(&rep, T(10));
  ok(dsmr_report_delays(&rep, &r), "on: a telegram-time reading waits");
  r.time_kind = DSMR_AT_CAPTURE;
  ok(!dsmr_report_delays(&rep, &r), "on: a capture reading does not");
  r = power(1);
  ok(dsmr_report_add(&rep, DSMR_REPORT_SLOTS, &r, T(T0)) == -1 &&
         rep.nopen == 0,
     "a key out of range is refused");
}

/* A DSMR 5 meter, one telegram a second, 10 s intervals. */
static void one_interval(void) {
  double watts[10] = {100, 250, 3000, 7, 0, 1234, 999, 1, 2, 404};
  double sum = 0;
  unsigned n;

  dsmr_report_init(&rep, T(10));
  for (int i = 0; i < 10; i++) {
    /* telegrams arrive 20 ms after the meter's second */
    n = telegram(T(T0 + i) + MS(20), watts[i], 230.0 + i / 10.0, 1000000 + i,
                 i < 5 ? 1 : 2);
    is_int(n, 0, "second %d: inside the interval, nothing reported", i);
    sum += watts[i];
  }
  ok(!dsmr_report_due(&rep, T(T0 + 9) + MS(999)), "9.999 s: still inside");
  ok(dsmr_report_due(&rep, T(T0 + 10)), "10.000 s: the next interval");
  n = telegram(T(T0 + 10) + MS(20), 50, 231, 1000010, 2);
  is_int(n, 4, "the first telegram of the next interval reports 4 points");
  const struct dsmr_report_point *p = pt(n, "power");
  ok(p && p->gauge == sum / 10, "power: the exact mean (%.17g W)", sum / 10);
  ok(p && p->n == 10 && p->time == T(T0 + 9) + MS(20),
     "power: 10 telegrams, at the last one's time");
  p = pt(n, "voltage");
  ok(p && p->gauge > 230.45 - 1e-12 && p->gauge < 230.45 + 1e-12,
     "voltage: the mean 230.45 V (to 1e-12)");
  p = pt(n, "dsmr_energy");
  ok(p && p->ds == DSMR_DS_DERIVE && p->derive == 1000009 &&
         p->time == T(T0 + 9) + MS(20),
     "energy: the last value 1000009 Wh, at its time");
  p = pt(n, "dsmr_tariff");
  ok(p && p->gauge == 2, "tariff: the last value, not a mean");
  is_int(rep.nopen, 4, "the new interval holds the new telegram");
}

/* Boundaries: multiples of the interval in UTC, whatever the first
 * telegram. */
static void boundaries(void) {
  unsigned n;
  dsmr_report_init(&rep, T(60));
  telegram(T(T0 + 45), 1, 230, 1, 1); /* 12:00:45 */
  ok(rep.end == T(T0 + 60), "60 s: the first interval ends at 12:01:00");
  n = telegram(T(T0 + 59) + MS(999), 3, 230, 2, 1);
  is_int(n, 0, "12:00:59.999 is in it");
  n = telegram(T(T0 + 60), 5, 230, 3, 1);
  is_int(n, 4, "12:01:00.000 starts the next");
  ok(pt(n, "power") && pt(n, "power")->gauge == 2 && pt(n, "power")->n == 2,
     "a partial first interval: the mean of its 2 telegrams");
  /* a silent meter: the next telegram, minutes later, closes the open one
   * and starts its own, aligned again */
  n = telegram(T(T0 + 60 * 5 + 7), 9, 230, 4, 1);
  ok(n == 4 && pt(n, "power")->gauge == 5 && rep.end == T(T0 + 360),
     "after 4 silent minutes: the old interval reported, the new one ends "
     "at 12:06:00");
}

/* A telegram lost inside an interval changes only the count. */
static void lost(void) {
  double w[10] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  double sum = 0;
  unsigned n, got = 0;
  dsmr_report_init(&rep, T(10));
  for (int i = 0; i < 10; i++) {
    if (i == 4)
      continue; /* lost */
    telegram(T(T0 + i), w[i], 230, 500 + i, 1);
    sum += w[i];
    got++;
  }
  n = telegram(T(T0 + 10), 0, 230, 600, 1);
  const struct dsmr_report_point *p = pt(n, "power");
  ok(p && p->n == 9 && p->gauge == sum / 9,
     "one lost: the mean of the 9 received (%.17g W)", sum / 9);
  ok(pt(n, "dsmr_energy") && pt(n, "dsmr_energy")->derive == 509,
     "one lost: the last value unchanged");
  (void)got;
  /* the last telegram of the interval lost: the last one received */
  dsmr_report_init(&rep, T(10));
  for (int i = 0; i < 9; i++)
    telegram(T(T0 + i), 1, 230, 700 + i, 1);
  n = telegram(T(T0 + 10), 1, 230, 800, 1);
  ok(pt(n, "dsmr_energy") && pt(n, "dsmr_energy")->derive == 708 &&
         pt(n, "dsmr_energy")->time == T(T0 + 8),
     "the interval's last telegram lost: the one before, at its time");
}

/* An identifier missing from some telegrams (a register held back) keeps
 * its own count and time; shutdown takes the partial interval. */
static void flush(void) {
  struct dsmr_report_point p;
  struct dsmr_reading r = power(100);
  unsigned n = 0;
  double total = 0;

  dsmr_report_init(&rep, T(10));
  dsmr_report_add(&rep, K_POWER, &r, T(T0 + 1));
  r = energy(5);
  dsmr_report_add(&rep, K_ENERGY, &r, T(T0 + 1));
  r = power(300);
  dsmr_report_add(&rep, K_POWER, &r, T(T0 + 2));
  while (dsmr_report_take(&rep, &p)) {
    n++;
    if (p.ds == DSMR_DS_GAUGE) {
      ok(p.n == 2 && p.time == T(T0 + 2), "flush: power from 2 telegrams");
      total = p.gauge;
    } else {
      ok(p.n == 1 && p.derive == 5 && p.time == T(T0 + 1),
         "flush: energy from its 1 telegram, at its time");
    }
  }
  ok(n == 2 && total == 200, "flush: both points, power the mean 200 W");
  ok(rep.end == 0 && rep.nopen == 0, "flush: nothing open afterwards");
  ok(!dsmr_report_take(&rep, &p), "flush twice: nothing more");
  ok(!dsmr_report_due(&rep, T(T0 + 100)), "nothing open: nothing due");
}

/* Two points never share a whole second (rrdtool keeps one update a
 * second): the only telegram of an interval 0.3 s after the last one of
 * the interval before moves to the next second's first instant. */
static void separate(void) {
  struct dsmr_report_point p;
  struct dsmr_reading r = energy(1);
  uint64_t half = (uint64_t)1 << 29;

  dsmr_report_init(&rep, T(10));
  dsmr_report_add(&rep, K_ENERGY, &r, T(T0 + 9) + MS(900));
  ok(dsmr_report_take(&rep, &p) && p.time == T(T0 + 9) + MS(900),
     "a point keeps its telegram's time");
  dsmr_report_take(&rep, &p);
  r = energy(2);
  dsmr_report_add(&rep, K_ENERGY, &r, T(T0 + 10) + MS(200));
  ok(dsmr_report_take(&rep, &p) && p.time == T(T0 + 10) + half,
     ":09.9 then :10.2 (both round to :10): the second at :10.5");
  dsmr_report_take(&rep, &p);
  r = energy(3);
  dsmr_report_add(&rep, K_ENERGY, &r, T(T0 + 20) + MS(200));
  ok(dsmr_report_take(&rep, &p) && p.time == T(T0 + 20) + MS(200),
     "then :20.2 (rounds to :20): its own time");
}

/* Means of large, varying values stay exact when they are whole numbers,
 * and equal values give themselves back exactly. */
static void exactness(void) {
  struct dsmr_report_point p;
  struct dsmr_reading r;
  double sum = 0;
  dsmr_report_init(&rep, T(3600));
  for (int i = 0; i < 3600; i++) {
    r = power((double)((i * 7919) % 17001));
    sum += r.gauge;
    dsmr_report_add(&rep, K_POWER, &r, T(T0 + i));
    r = voltage(0.1 * 2301); /* 230.1, not exact in binary */
    dsmr_report_add(&rep, K_VOLTAGE, &r, T(T0 + i));
  }
  while (dsmr_report_take(&rep, &p)) {
    if (strcmp(p.type, "power") == 0)
      ok(p.gauge == sum / 3600 && p.n == 3600,
         "an hour of whole watts: the exact mean");
    else
      ok(p.gauge == 0.1 * 2301, "the same voltage 3600 times: itself");
  }
}

int main(void) {
  kinds();
  one_interval();
  boundaries();
  lost();
  flush();
  separate();
  exactness();
  return tap_done();
}
