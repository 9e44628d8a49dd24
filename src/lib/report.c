/* ReportInterval (see report.h for what a point is and why). */
#include "report.h"

#include <string.h>

void dsmr_report_init(struct dsmr_report *r, uint64_t interval) {
  memset(r, 0, sizeof(*r));
  r->interval = interval;
}

enum dsmr_report_kind dsmr_report_kind_of(const struct dsmr_reading *rd) {
  if (rd->ds == DSMR_DS_DERIVE)
    return DSMR_REPORT_LAST;
  /* whole-number states and counts (the mapper's emit_integer) */
  if (rd->type &&
      (strcmp(rd->type, "count") == 0 || strcmp(rd->type, "dsmr_tariff") == 0))
    return DSMR_REPORT_LAST;
  return DSMR_REPORT_MEAN;
}

int dsmr_report_delays(const struct dsmr_report *r,
                       const struct dsmr_reading *rd) {
  return r->interval != 0 && rd->time_kind != DSMR_AT_CAPTURE;
}

int dsmr_report_due(const struct dsmr_report *r, uint64_t t) {
  return r->end != 0 && t >= r->end;
}

int dsmr_report_add(struct dsmr_report *r, unsigned key,
                    const struct dsmr_reading *rd, uint64_t t) {
  struct dsmr_report_slot *s;

  if (key >= DSMR_REPORT_SLOTS || r->interval == 0)
    return -1;
  if (r->end == 0)
    r->end = (t / r->interval + 1) * r->interval;
  s = &r->slots[key];
  if (s->n == 0) {
    r->open[r->nopen++] = (unsigned short)key;
    s->type = rd->type;
    s->type_instance = rd->type_instance;
    s->ds = rd->ds;
    s->kind = dsmr_report_kind_of(rd);
    s->first = rd->gauge;
    s->sum = 0.0;
  } else if (s->kind == DSMR_REPORT_MEAN) {
    s->sum += rd->gauge - s->first;
  }
  s->n++;
  s->derive = rd->derive;
  s->gauge = rd->gauge;
  s->time = t;
  return 0;
}

/* rrdtool rounds times to whole seconds and keeps one update a second: a
 * point whose time rounds to the same second as the identifier's point
 * before (the last telegram of an interval at :09.9, the only one of the
 * next at :10.2) moves to the first instant of the next second (:10.5),
 * as the storing rules do for telegrams (store_rules.c). */
static uint64_t separate_second(uint64_t prev, uint64_t t) {
  const uint64_t half = (uint64_t)1 << 29;
  uint64_t prev_sec = (prev + half) >> 30;

  if (prev == 0 || ((t + half) >> 30) > prev_sec)
    return t;
  return (prev_sec << 30) + half;
}

int dsmr_report_take(struct dsmr_report *r, struct dsmr_report_point *p) {
  struct dsmr_report_slot *s;

  if (r->nopen == 0) {
    r->end = 0;
    return 0;
  }
  /* From the end: the order of a telegram's lines does not matter to the
   * stores, and this needs no second index. */
  s = &r->slots[r->open[--r->nopen]];
  p->type = s->type;
  p->type_instance = s->type_instance;
  p->ds = s->ds;
  p->derive = s->derive;
  if (s->kind == DSMR_REPORT_LAST)
    p->gauge = s->gauge;
  else if (s->sum == 0.0)
    p->gauge = s->first; /* all equal (or balanced): exactly the first */
  else /* n * first + sum is the exact total for whole numbers */
    p->gauge = ((double)s->n * s->first + s->sum) / s->n;
  p->time = separate_second(s->last_point, s->time);
  s->last_point = p->time;
  p->n = s->n;
  s->n = 0;
  if (r->nopen == 0)
    r->end = 0;
  return 1;
}
