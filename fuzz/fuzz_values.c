/* fuzz_values: the value parsers on arbitrary text.
 *
 * The input is tried as a whole, and cut at '(' ')' and line ends into
 * pieces that are tried one by one (so that one input like a telegram line
 * "(230101120000W)(00012.345*m3)" exercises several values). Each piece is
 * copied into an allocation of exactly its size, so that AddressSanitizer
 * reports a parser reading one byte past a value.
 *
 * Every parser is compared with an independent reference (value_oracle.c):
 * number grammar, exact scaling, correct rounding to double, timestamps
 * against timegm and the EU summer-time rule, COSEM clocks, and the UTC
 * formatter against gmtime_r. The first 8 bytes, read as an integer, also
 * go to the formatter and the calendar round trip.
 *
 * The input up to its first NUL is also read as a POSIX TZ rule
 * (tz.h, the TimeZone option); one that parses is checked at times taken
 * from the bytes after the NUL against a slow reference (each transition
 * date found by walking the days of its month) and for local -> UTC
 * agreeing with those offsets (OK: one reading, GAP: none, AMBIGUOUS:
 * two). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"
#include "timestamp.h"
#include "tz.h"
#include "value_oracle.h"

static void check_span(const char *p, size_t n) {
  /* malloc(0) may return NULL; a 1-byte allocation keeps the pointer
   * valid while the span stays empty. */
  char *copy = malloc(n ? n : 1);
  FZ_ASSERT(copy != NULL);
  memcpy(copy, p, n);
  struct dsmr_span s = {copy, n};
  check_number(s);
  check_timestamp(s);
  check_cosem_clock(s);
  free(copy);
}

/* ---- TZ rules ----------------------------------------------------------- */

static int leap(int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* The day (since 1970) of a rule date in year y, found the slow way. */
static int64_t ref_rule_day(int64_t y, const struct dsmr_tz_date *d) {
  static const unsigned len[13] = {0,  31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  if (d->kind == 'D')
    return dsmr_days_from_civil(y, 1, 1) + d->day;
  if (d->kind == 'J') { /* day n of 365, February 29 not counted */
    unsigned n = d->day, m = 1;
    while (n > len[m])
      n -= len[m++];
    return dsmr_days_from_civil(y, m, n);
  }
  unsigned mlen = len[d->month] + (d->month == 2 && leap(y)), seen = 0;
  int64_t last = 0;
  for (unsigned day = 1; day <= mlen; day++) {
    int64_t days = dsmr_days_from_civil(y, d->month, day);
    if ((((days + 4) % 7) + 7) % 7 != d->wday) /* 1970-01-01: Thursday */
      continue;
    last = days;
    if (++seen == d->week)
      return days;
  }
  return last; /* week 5: the last one */
}

/* The offset at utc: the latest transition at or before it (a start wins
 * a tie), over the years around it. */
static int32_t ref_offset(const struct dsmr_tz *tz, int64_t utc) {
  int64_t y, best = INT64_MIN;
  unsigned m, d;
  int dst = 0;
  if (!tz->has_dst)
    return tz->std_off;
  dsmr_civil_from_days((utc - (utc % 86400 + 86400) % 86400) / 86400, &y, &m,
                       &d);
  for (int64_t k = y - 3; k <= y + 2; k++) {
    int64_t e = ref_rule_day(k, &tz->end) * 86400 + tz->end.time - tz->dst_off;
    int64_t s =
        ref_rule_day(k, &tz->start) * 86400 + tz->start.time - tz->std_off;
    if (e <= utc && e > best) {
      best = e;
      dst = 0;
    }
    if (s <= utc && s >= best) {
      best = s;
      dst = 1;
    }
  }
  return dst ? tz->dst_off : tz->std_off;
}

static void check_tz(const uint8_t *data, size_t size) {
  char rule[81];
  size_t n = 0;
  struct dsmr_tz tz;
  const char *why = NULL;

  while (n < size && n < sizeof rule - 1 && data[n])
    rule[n] = (char)data[n], n++;
  rule[n] = 0;
  if (dsmr_tz_parse(rule, &tz, &why) != 0) {
    FZ_ASSERT(why != NULL && why[0]);
    return;
  }
  /* times from the bytes after the rule: 1900..2300 */
  for (size_t at = n + 1; at + 8 <= size; at += 8) {
    uint64_t raw;
    memcpy(&raw, data + at, sizeof raw);
    int64_t t =
        (int64_t)(raw % (UINT64_C(400) * 366 * 86400)) - INT64_C(2208988800);
    int32_t off = dsmr_tz_offset_at(&tz, t, NULL);
    FZ_ASSERT_MSG(off == ref_offset(&tz, t), "rule %s at %lld: %ld, ref %ld",
                  rule, (long long)t, (long)off, (long)ref_offset(&tz, t));
    /* local -> UTC: the readings u with u + offset(u) == local */
    for (int k = 0; k < 2; k++) {
      int64_t local = k ? t + off : t, u;
      int64_t us = local - tz.std_off, ud = local - tz.dst_off;
      int s_ok = ref_offset(&tz, us) == tz.std_off;
      int d_ok = ref_offset(&tz, ud) == tz.dst_off && tz.has_dst;
      int readings = (s_ok || d_ok) + (s_ok && d_ok && us != ud);
      enum dsmr_tz_result r = dsmr_tz_local_to_utc(&tz, local, &u);
      FZ_ASSERT_MSG((int)r == (readings == 1   ? DSMR_TZ_OK
                               : readings == 0 ? DSMR_TZ_GAP
                                               : DSMR_TZ_AMBIGUOUS),
                    "rule %s local %lld: %d, %d readings", rule,
                    (long long)local, (int)r, readings);
      if (r == DSMR_TZ_OK)
        FZ_ASSERT(u + ref_offset(&tz, u) == local);
      if (k) { /* the local time of a real instant: never a gap */
        FZ_ASSERT(r != DSMR_TZ_GAP);
        FZ_ASSERT(r != DSMR_TZ_OK || u == t);
        FZ_ASSERT(r != DSMR_TZ_AMBIGUOUS || t == us || t == ud);
      }
    }
  }
}

static int is_cut(char c) {
  return c == '(' || c == ')' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;

  check_span(text, size);
  for (size_t i = 0, start = 0; i <= size; i++) {
    if (i < size && !is_cut(text[i]))
      continue;
    if (start > 0 || i < size) /* the whole input was tried above */
      check_span(text + start, i - start);
    start = i + 1;
  }

  if (size >= 8) {
    uint64_t raw;
    memcpy(&raw, data, sizeof(raw));
    check_utc((int64_t)raw);
    /* Mostly the interesting range: 1900..2300, where gmtime_r compares
     * the full string, and around the DST switches. */
    check_utc((int64_t)(raw % (UINT64_C(400) * 366 * 86400)) -
              INT64_C(2208988800));
    check_dst_rule((int64_t)(raw >> 48));
  }
  check_tz(data, size);
  return 0;
}
