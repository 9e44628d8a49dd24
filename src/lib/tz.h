/* A time zone as a POSIX TZ rule, for meter clocks that send local time
 * without saying its offset (a COSEM date-time with deviation 0x8000
 * "unspecified": Aidon list 3, Kaifa Norway, Kamstrup, L&G CH).
 *
 * The rule is the POSIX (2024) TZ string a TZif file ends with (its
 * "footer"), e.g.
 *   CET-1CEST,M3.5.0,M10.5.0/3      Europe/Oslo, Europe/Vienna
 *   EET-2EEST,M3.5.0/3,M10.5.0/4    Europe/Helsinki
 *   EST5EDT,M3.2.0,M11.1.0          America/New_York
 *   UTC0, <+03>-3                   no daylight saving
 * std offset [dst [offset] ,start[/time],end[/time]]: names of 3 or more
 * letters, or <quoted> with letters, digits, '+' and '-'; offsets
 * [+-]hh[:mm[:ss]] WEST of Greenwich (CET-1 is UTC+1), hh 0..24, the DST
 * offset one hour east of standard time when left out; dates Jn (1..365,
 * February 29 never counted), n (0..365, counted) or Mm.w.d (day d, 0 =
 * Sunday, of week w, 5 = the last, of month m); times [+-]hh[:mm[:ss]]
 * with hh -167..167 (POSIX 2024, TZif v3), default 02:00, in the local
 * time in force before the transition. A DST name without dates is
 * refused (POSIX leaves that rule to the implementation; TZif footers
 * always give the dates).
 *
 * The rule is the zone's current one: a meter's clock is "now", and the
 * historical transitions of a TZif file are not needed for it.
 *
 * Collectd-free, no I/O, no allocation (loading a zone file is src/
 * tz_load.c). */
#ifndef DSMR_TZ_H
#define DSMR_TZ_H

#include <stdint.h>

#define DSMR_TZ_NAME_MAX 16 /* abbreviation bytes, with the NUL */

struct dsmr_tz_date {
  uint8_t kind; /* 'J' (Jn), 'D' (n), 'M' (Mm.w.d) */
  uint8_t month, week, wday;
  uint16_t day;
  int32_t time; /* seconds after local midnight */
};

struct dsmr_tz {
  int32_t std_off; /* seconds EAST of UTC: local = UTC + std_off */
  int32_t dst_off;
  int has_dst;
  struct dsmr_tz_date start, end; /* into and out of daylight saving */
  char std_name[DSMR_TZ_NAME_MAX], dst_name[DSMR_TZ_NAME_MAX];
};

/* Parses a POSIX TZ rule (a leading ':' is not accepted: that names a
 * file). Returns 0, or -1 with *why (a static text) saying what is wrong. */
int dsmr_tz_parse(const char *s, struct dsmr_tz *tz, const char **why);

/* The zone UTC0 (std_name "UTC"). */
void dsmr_tz_utc(struct dsmr_tz *tz);

/* The offset east of UTC in force at utc (seconds); *is_dst may be NULL. */
int32_t dsmr_tz_offset_at(const struct dsmr_tz *tz, int64_t utc, int *is_dst);

enum dsmr_tz_result {
  DSMR_TZ_OK = 0,
  DSMR_TZ_GAP,       /* no such local time (the hour skipped in spring) */
  DSMR_TZ_AMBIGUOUS, /* the hour repeated in autumn: two UTC times */
};

/* UTC seconds of a local time (its fields read as if they were UTC, e.g.
 * dsmr_days_from_civil(y, m, d) * 86400 + h * 3600 + min * 60 + s).
 * OK: *utc is the one UTC time. GAP: *utc is local minus the standard
 * offset; AMBIGUOUS: *utc is the earlier (daylight saving) reading; in both
 * cases the local time alone does not say the instant and a caller should
 * not use it as a clock. */
enum dsmr_tz_result dsmr_tz_local_to_utc(const struct dsmr_tz *tz,
                                         int64_t local, int64_t *utc);

#endif
