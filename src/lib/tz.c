/* POSIX TZ rules: parsing and local <-> UTC (see tz.h). */
#include "tz.h"

#include <string.h>

#include "timestamp.h"

#define DAY 86400

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}
static int is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A zone abbreviation: 3+ letters, or <3+ letters, digits, '+', '-'>. */
static const char *parse_name(const char *s, char out[DSMR_TZ_NAME_MAX]) {
  size_t n = 0;
  if (*s == '<') {
    s++;
    while (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '+' || s[n] == '-')
      n++;
    if (s[n] != '>' || n < 3 || n >= DSMR_TZ_NAME_MAX)
      return NULL;
    memcpy(out, s, n);
    out[n] = 0;
    return s + n + 1;
  }
  while (is_alpha(s[n]))
    n++;
  if (n < 3 || n >= DSMR_TZ_NAME_MAX)
    return NULL;
  memcpy(out, s, n);
  out[n] = 0;
  return s + n;
}

/* Up to `maxd` digits as a number; NULL when there is none. */
static const char *parse_num(const char *s, int maxd, int32_t *v) {
  int n = 0;
  *v = 0;
  while (n < maxd && is_digit(s[n]))
    *v = *v * 10 + (s[n++] - '0');
  return n ? s + n : NULL;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h, as signed seconds. */
static const char *parse_hms(const char *s, int32_t max_h, int32_t *secs) {
  int32_t h, m = 0, sec = 0, sign = 1;
  if (*s == '+' || *s == '-')
    sign = *s++ == '-' ? -1 : 1;
  if (!(s = parse_num(s, 3, &h)) || h > max_h)
    return NULL;
  if (*s == ':') {
    if (!(s = parse_num(s + 1, 2, &m)) || m > 59)
      return NULL;
    if (*s == ':' && (!(s = parse_num(s + 1, 2, &sec)) || sec > 59))
      return NULL;
  }
  *secs = sign * (h * 3600 + m * 60 + sec);
  return s;
}

/* ,Jn | ,n | ,Mm.w.d then [/time] */
static const char *parse_date(const char *s, struct dsmr_tz_date *d) {
  int32_t v;
  memset(d, 0, sizeof(*d));
  if (*s == 'J') {
    if (!(s = parse_num(s + 1, 3, &v)) || v < 1 || v > 365)
      return NULL;
    d->kind = 'J';
    d->day = (uint16_t)v;
  } else if (*s == 'M') {
    int32_t m, w, wd;
    if (!(s = parse_num(s + 1, 2, &m)) || m < 1 || m > 12 || *s != '.' ||
        !(s = parse_num(s + 1, 1, &w)) || w < 1 || w > 5 || *s != '.' ||
        !(s = parse_num(s + 1, 1, &wd)) || wd > 6)
      return NULL;
    d->kind = 'M';
    d->month = (uint8_t)m;
    d->week = (uint8_t)w;
    d->wday = (uint8_t)wd;
  } else {
    if (!(s = parse_num(s, 3, &v)) || v > 365)
      return NULL;
    d->kind = 'D';
    d->day = (uint16_t)v;
  }
  d->time = 2 * 3600;
  return s;
}

static const char *parse_time(const char *s, struct dsmr_tz_date *d) {
  if (*s != '/')
    return s;
  return parse_hms(s + 1, 167, &d->time);
}

int dsmr_tz_parse(const char *s, struct dsmr_tz *tz, const char **why) {
  int32_t off;
  const char *p;

  memset(tz, 0, sizeof(*tz));
  if (!s || !*s) {
    *why = "empty rule";
    return -1;
  }
  if (!(p = parse_name(s, tz->std_name))) {
    *why = "standard time name: 3 or more letters, or <quoted> letters, "
           "digits, + and -";
    return -1;
  }
  if (!(s = parse_hms(p, 24, &off))) {
    *why = "standard time offset: [+-]hh[:mm[:ss]] west of Greenwich, "
           "hh 0..24";
    return -1;
  }
  tz->std_off = tz->dst_off = -off;
  if (!*s)
    return 0;
  if (!(p = parse_name(s, tz->dst_name))) {
    *why = "daylight saving time name: 3 or more letters, or <quoted>";
    return -1;
  }
  s = p;
  tz->has_dst = 1;
  tz->dst_off = tz->std_off + 3600;
  if (*s && *s != ',') {
    if (!(s = parse_hms(s, 24, &off))) {
      *why = "daylight saving time offset: [+-]hh[:mm[:ss]], hh 0..24";
      return -1;
    }
    tz->dst_off = -off;
  }
  if (*s != ',') {
    *why = "daylight saving time without its dates (,start[/time],end[/time])";
    return -1;
  }
  if (!(s = parse_date(s + 1, &tz->start))) {
    *why = "start date: Jn (1..365), n (0..365) or Mm.w.d";
    return -1;
  }
  if (!(s = parse_time(s, &tz->start))) {
    *why = "start time: [+-]hh[:mm[:ss]], hh -167..167";
    return -1;
  }
  if (*s != ',' || !(s = parse_date(s + 1, &tz->end))) {
    *why = "end date: ',' then Jn (1..365), n (0..365) or Mm.w.d";
    return -1;
  }
  if (!(s = parse_time(s, &tz->end))) {
    *why = "end time: [+-]hh[:mm[:ss]], hh -167..167";
    return -1;
  }
  if (*s) {
    *why = "characters after the rule";
    return -1;
  }
  return 0;
}

void dsmr_tz_utc(struct dsmr_tz *tz) {
  memset(tz, 0, sizeof(*tz));
  memcpy(tz->std_name, "UTC", 4);
}

static int is_leap(int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int64_t mod7(int64_t x) {
  return ((x % 7) + 7) % 7;
}

static const uint8_t month_days[13] = {0,  31, 28, 31, 30, 31, 30,
                                       31, 31, 30, 31, 30, 31};

/* Days since 1970-01-01 of the rule's date in year y. */
static int64_t rule_day(int64_t y, const struct dsmr_tz_date *d) {
  int64_t jan1 = dsmr_days_from_civil(y, 1, 1);
  if (d->kind == 'J')
    return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60);
  if (d->kind == 'D')
    return jan1 + d->day;
  int64_t first = dsmr_days_from_civil(y, d->month, 1);
  int64_t len = month_days[d->month] + (d->month == 2 && is_leap(y));
  /* 1970-01-01 was a Thursday (4) */
  int64_t day = first + mod7(d->wday - mod7(first + 4)) + 7 * (d->week - 1);
  while (day >= first + len)
    day -= 7;
  return day;
}

int32_t dsmr_tz_offset_at(const struct dsmr_tz *tz, int64_t utc, int *is_dst) {
  int dst = 0;
  if (tz->has_dst) {
    int64_t y, best = INT64_MIN;
    unsigned m, d;
    int64_t days = (utc + tz->std_off) / DAY;
    if ((utc + tz->std_off) % DAY < 0)
      days--;
    dsmr_civil_from_days(days, &y, &m, &d);
    /* The last transition at or before utc, among those of the years
     * around it (rule times reach a week either side of their date). At
     * the same instant a start wins: DST all year ends one year as it
     * starts the next. */
    for (int64_t k = y - 2; k <= y + 1; k++) {
      int64_t s = rule_day(k, &tz->start) * DAY + tz->start.time - tz->std_off;
      int64_t e = rule_day(k, &tz->end) * DAY + tz->end.time - tz->dst_off;
      if (e <= utc && e > best) {
        best = e;
        dst = 0;
      }
      if (s <= utc && s >= best) {
        best = s;
        dst = 1;
      }
    }
  }
  if (is_dst)
    *is_dst = dst;
  return dst ? tz->dst_off : tz->std_off;
}

enum dsmr_tz_result dsmr_tz_local_to_utc(const struct dsmr_tz *tz,
                                         int64_t local, int64_t *utc) {
  int64_t us = local - tz->std_off, ud = local - tz->dst_off;
  int s_ok, d_ok, dst;

  *utc = us;
  if (!tz->has_dst)
    return DSMR_TZ_OK;
  dsmr_tz_offset_at(tz, us, &dst);
  s_ok = !dst;
  dsmr_tz_offset_at(tz, ud, &dst);
  d_ok = dst;
  if (s_ok && d_ok && us != ud) {
    *utc = us < ud ? us : ud;
    return DSMR_TZ_AMBIGUOUS;
  }
  if (s_ok)
    return DSMR_TZ_OK;
  if (d_ok) {
    *utc = ud;
    return DSMR_TZ_OK;
  }
  return DSMR_TZ_GAP;
}
