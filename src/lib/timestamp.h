/* P1 timestamps, converted to UTC without ever looking at the host's time
 * zone.
 *
 *  - "YYMMDDhhmmssX": X = 'W'/'w' (winter, UTC+1) or 'S'/'s' (summer, UTC+2).
 *  - "YYMMDDhhmmss" without X (Belgian and some Iskra meters): local time of
 *    Brussels/Amsterdam; DST from the EU rule (last Sunday of March 01:00 UTC
 *    to last Sunday of October 01:00 UTC). In the repeated October hour the
 *    first (summer) occurrence is taken; a time in the skipped March hour is
 *    read as winter time.
 *  - COSEM octet-string clock, 24 hex digits (12 bytes): year (2 bytes),
 *    month, day, weekday, hour, minute, second, hundredths, deviation (2
 *    bytes, signed minutes: UTC = local + deviation; 0x8000 = unspecified,
 *    then the EU rule applies), clock status. Example
 *    07E8061C050A2B2B00FF8880 = 2024-06-28 10:43:43 local, deviation -120
 *    -> 08:43:43Z. "Not specified" (0xFF, year 0xFFFF) or wildcard (0xFD,
 *    0xFE) year/month/day/hour/minute/second, or a deviation outside
 *    -840..720, is DSMR_TS_INVALID; weekday, hundredths and status are
 *    ignored.
 *  YY 00..69 is 2000..2069, 70..99 is 1970..1999 (as POSIX): meters write
 *  "700101010000W" for an empty M-Bus channel.
 */
#ifndef DSMR_TIMESTAMP_H
#define DSMR_TIMESTAMP_H

#include <stdint.h>

#include "span.h"

enum dsmr_ts_status {
  DSMR_TS_OK = 0,
  DSMR_TS_NOT_TIMESTAMP = -1, /* wrong shape: not digits/flag or wrong length */
  DSMR_TS_INVALID = -2,       /* right shape, impossible date (month 25...) */
};

/* Either form of "YYMMDDhhmmss[X]". *flagged tells whether X was present
 * (may be NULL). */
enum dsmr_ts_status dsmr_parse_timestamp(struct dsmr_span s, int64_t *utc,
                                         int *flagged);

/* COSEM clock (24 hex digits, either case). */
enum dsmr_ts_status dsmr_parse_cosem_clock(struct dsmr_span s, int64_t *utc);

/* Calendar helpers (proleptic Gregorian, UTC). */
int64_t dsmr_days_from_civil(int64_t y, unsigned m, unsigned d);
void dsmr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* UTC seconds of the EU DST start / end in year y. */
int64_t dsmr_eu_dst_start(int64_t y);
int64_t dsmr_eu_dst_end(int64_t y);

/* Writes "YYYY-MM-DDThh:mm:ssZ" (21 bytes with NUL) into buf. */
void dsmr_format_utc(int64_t utc, char buf[21]);

#endif
