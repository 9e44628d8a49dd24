/* ReportInterval: one point per identifier per interval instead of one per
 * telegram. Collectd-free, no I/O, no allocation; times are plain integers
 * in cdtime_t units (2^-30 s since the epoch), as in store_rules.h.
 *
 * Which readings: those that carry the telegram's time (electricity).
 * Readings with their own capture time (M-Bus gas, water, heat, the peak
 * demand and its history) are not delayed: they change once in minutes.
 *
 * What a point is, per identifier and interval:
 *  - registers and counts (DERIVE readings, and the whole-number `count`
 *    and `dsmr_tariff` ones: power failures, sags, swells, the tariff):
 *    the last value received, at its time;
 *  - every other gauge (power, voltage, current, frequency...): the mean
 *    over the telegrams received in the interval, at the time of the last
 *    of them. The mean of power is the energy moved in the interval
 *    divided by its length (as far as the telegrams sample it). It is
 *    summed as differences from the first value: exactly the
 *    correctly rounded mean when the values are whole numbers (power in
 *    W), exactly the value when they are all the same, within a few units
 *    in the last place otherwise.
 * A telegram lost (or rejected) inside an interval only lowers n.
 *
 * Intervals are aligned to multiples of the interval in UTC (10 s: :00,
 * :10, :20...; 60 s: whole minutes), like collectd's own reads and the
 * buckets of InfluxDB and Graphite, so meters and restarts line up. A
 * telegram belongs to the interval its stored time falls in. A point
 * carries the time of the last telegram that gave it a value, moved to
 * the next whole second (by less than a second) when it would round to the
 * same second as the point before (rrdtool keeps one update a second). An
 * interval's points are taken when the first telegram of a later one arrives,
 * or at shutdown (dsmr_report_take without dsmr_report_due). */
#ifndef DSMR_REPORT_H
#define DSMR_REPORT_H

#include <stdint.h>

#include "mapper.h"

/* Keys are small integers given by the caller, below this (the storing
 * rules' identifier index: 2 * DSMR_MAX_READINGS of them). */
#define DSMR_REPORT_SLOTS (2 * DSMR_MAX_READINGS)

enum dsmr_report_kind {
  DSMR_REPORT_LAST = 0, /* registers, counts: the last value */
  DSMR_REPORT_MEAN = 1, /* gauges: the mean */
};

struct dsmr_report_slot {
  const char *type, *type_instance; /* the mapper's static strings */
  enum dsmr_ds_type ds;
  enum dsmr_report_kind kind;
  unsigned n;          /* values in the open interval, 0: none */
  double first, sum;   /* MEAN: the first value, sum of (x - first) */
  int64_t derive;      /* LAST: the last value */
  double gauge;        /* LAST of a gauge count */
  uint64_t time;       /* of the last value */
  uint64_t last_point; /* time of the last point taken, 0: none */
};

/* One meter's state (~25 KiB: keep it in the meter). */
struct dsmr_report {
  uint64_t interval; /* cdtime_t units, 0: off */
  uint64_t end;      /* end of the open interval, 0: none open */
  unsigned nopen;    /* keys of the slots with values in it: */
  unsigned short open[DSMR_REPORT_SLOTS];
  struct dsmr_report_slot slots[DSMR_REPORT_SLOTS];
};

/* A point to dispatch: value, its time, and how many telegrams made it. */
struct dsmr_report_point {
  const char *type, *type_instance;
  enum dsmr_ds_type ds;
  int64_t derive; /* ds == DSMR_DS_DERIVE */
  double gauge;   /* else */
  uint64_t time;
  unsigned n;
};

/* interval in cdtime_t units; 0: off (every telegram reported). Zeroes
 * everything, the times of the points taken before included. */
void dsmr_report_init(struct dsmr_report *r, uint64_t interval);

/* Whether reading rd waits for its interval (on, and it carries the
 * telegram's time). */
int dsmr_report_delays(const struct dsmr_report *r,
                       const struct dsmr_reading *rd);

enum dsmr_report_kind dsmr_report_kind_of(const struct dsmr_reading *rd);

/* A telegram stored at time t: 1 when an interval is open and t lies
 * beyond it: take its points (dsmr_report_take) before adding. */
int dsmr_report_due(const struct dsmr_report *r, uint64_t t);

/* Reading rd of identifier key (< DSMR_REPORT_SLOTS), stored at time t,
 * into the open interval (opened at t when none is). Returns -1 (nothing
 * kept) for a key out of range. */
int dsmr_report_add(struct dsmr_report *r, unsigned key,
                    const struct dsmr_reading *rd, uint64_t t);

/* The next point of the open interval into *p (and forgets it): 1, or 0
 * when none is left, the interval then closed. */
int dsmr_report_take(struct dsmr_report *r, struct dsmr_report_point *p);

#endif
