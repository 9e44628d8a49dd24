/* P1 timestamps to UTC by pure arithmetic.
 *
 * The meter's clock runs on Dutch/Belgian local time. The host running
 * collectd may be anywhere (or on UTC, or have no tzdata), so nothing here
 * calls mktime/localtime or reads TZ: the EU summer-time rule is computed
 * directly, and the civil-date conversions are Howard Hinnant's
 * days_from_civil / civil_from_days algorithms. */
#include <stdio.h>
#include <string.h>

#include "timestamp.h"

#include "hex.h"

#define SECS_PER_DAY 86400
#define HOUR 3600

int64_t dsmr_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   /* 0..399 */
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* 0..365 */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* 0..146096 */
  return era * 146097 + doe - 719468;
}

void dsmr_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  unsigned dd = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (mm <= 2);
  *m = mm;
  *d = dd;
}

/* Days since 1970-01-01 of the last Sunday of month m (31 days long). */
static int64_t last_sunday(int64_t y, unsigned m) {
  int64_t days = dsmr_days_from_civil(y, m, 31);
  /* 1970-01-01 was a Thursday; with Sunday = 0 that is weekday 4. */
  int64_t wd = (days + 4) % 7;
  if (wd < 0)
    wd += 7;
  return days - wd;
}

int64_t dsmr_eu_dst_start(int64_t y) {
  return last_sunday(y, 3) * SECS_PER_DAY + 1 * HOUR;
}

int64_t dsmr_eu_dst_end(int64_t y) {
  return last_sunday(y, 10) * SECS_PER_DAY + 1 * HOUR;
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Seconds of the civil time as if it were UTC, or -1 if the fields do not
 * name a real time. */
static int civil_seconds(int64_t y, unsigned mo, unsigned d, unsigned h,
                         unsigned mi, unsigned s, int64_t *out) {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
      mi > 59 || s > 59)
    return -1;
  *out = dsmr_days_from_civil(y, mo, d) * SECS_PER_DAY + h * HOUR + mi * 60 + s;
  return 0;
}

/* Local Amsterdam/Brussels wall-clock time (as if UTC) to UTC. Summer time
 * is chosen when the local time read as CEST falls inside the DST period:
 * that takes the first occurrence of the repeated October hour, and makes
 * the non-existent March hour (whose CEST reading lies before the switch)
 * fall back to CET. */
static int64_t eu_local_to_utc(int64_t local, int64_t year) {
  int64_t as_summer = local - 2 * HOUR;
  if (as_summer >= dsmr_eu_dst_start(year) && as_summer < dsmr_eu_dst_end(year))
    return as_summer;
  return local - 1 * HOUR;
}

/* Days from 1970-01-01 to 2000-01-01. */
#define DAYS_TO_2000 10957

/* Days before month m (1..12) in a common year. */
static const unsigned short days_before_month[13] = {
    0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334,
};

/* Meters write a timestamp or two per object in every telegram, so this
 * avoids the general calendar code: the twelve digits are checked and
 * paired eight bytes at a time, and for 2000..2099 every fourth year is a
 * leap year (2000 included), so the day count is a few additions. */
enum dsmr_ts_status dsmr_parse_timestamp(struct dsmr_span s, int64_t *utc,
                                         int *flagged) {
  if (s.len != 12 && s.len != 13)
    return DSMR_TS_NOT_TIMESTAMP;

  uint64_t x;
  uint32_t y;
  memcpy(&x, s.ptr, 8);
  memcpy(&y, s.ptr + 8, 4);
  /* All bytes 0x30..0x3F, and still 0x30..0x3F after adding 6 (no byte
   * can carry: they are all below 0x46 then). */
  if ((x & 0xF0F0F0F0F0F0F0F0ULL) != 0x3030303030303030ULL ||
      ((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) !=
          0x3030303030303030ULL ||
      (y & 0xF0F0F0F0u) != 0x30303030u ||
      ((y + 0x06060606u) & 0xF0F0F0F0u) != 0x30303030u)
    return DSMR_TS_NOT_TIMESTAMP;

  int offset = 0; /* hours east of UTC; 0 = unknown, use the EU rule */
  if (s.len == 13) {
    switch (s.ptr[12]) {
    case 'W':
    case 'w':
      offset = 1;
      break;
    case 'S':
    case 's':
      offset = 2;
      break;
    default:
      return DSMR_TS_NOT_TIMESTAMP;
    }
  }

  /* The digits are known good now: two per field. */
  const char *t = s.ptr;
#define TWO(i) ((unsigned)(t[i] & 0x0F) * 10u + (unsigned)(t[i + 1] & 0x0F))
  unsigned yy = TWO(0), mo = TWO(2), d = TWO(4), h = TWO(6), mi = TWO(8),
           sec = TWO(10);
#undef TWO

  unsigned leap = yy % 4 == 0;
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
    return DSMR_TS_INVALID;
  if (d > 28) {
    static const unsigned char dim[13] = {0,  31, 28, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};
    if (d > dim[mo] + (unsigned)(mo == 2 && leap))
      return DSMR_TS_INVALID;
  }
  /* YY 70..99 is 1970..1999, as in POSIX: meters write "700101010000W"
   * for "no reading" (the Unix epoch in their time zone), and it must read
   * as the past, not as the year 2070. */
  int64_t year = yy >= 70 ? 1900 + (int64_t)yy : 2000 + (int64_t)yy;
  int64_t days = yy >= 70 ? dsmr_days_from_civil(year, mo, d)
                          : DAYS_TO_2000 + yy * 365 + (yy + 3) / 4 +
                                days_before_month[mo] +
                                (unsigned)(mo > 2 && leap) + d - 1;
  int64_t local = days * SECS_PER_DAY + h * HOUR + mi * 60 + sec;

  /* A flag is trusted as written, even on a date where it looks wrong:
   * the meter knows which offset its clock used. */
  *utc = offset ? local - offset * HOUR : eu_local_to_utc(local, year);
  if (flagged)
    *flagged = offset != 0;
  return DSMR_TS_OK;
}

enum dsmr_ts_status dsmr_parse_cosem_clock(struct dsmr_span s, int64_t *utc) {
  unsigned char b[12];

  if (s.len != 24)
    return DSMR_TS_NOT_TIMESTAMP;
  for (size_t i = 0; i < 12; i++) {
    int hi = dsmr_hex_digit((unsigned char)s.ptr[2 * i]),
        lo = dsmr_hex_digit((unsigned char)s.ptr[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return DSMR_TS_NOT_TIMESTAMP;
    b[i] = (unsigned char)(hi << 4 | lo);
  }

  /* 0xFFFF year and 0xFF fields mean "not specified" in COSEM, and
   * 0xFD/0xFE month/day are schedule wildcards; none of them names an
   * instant, and the range checks below reject them all. Weekday,
   * hundredths and the status byte carry nothing we need. */
  unsigned year = (unsigned)b[0] << 8 | b[1];
  if (year == 0xFFFF)
    return DSMR_TS_INVALID;
  int64_t local;
  if (civil_seconds(year, b[2], b[3], b[5], b[6], b[7], &local) != 0)
    return DSMR_TS_INVALID;

  uint16_t dev_bits = (uint16_t)(b[9] << 8 | b[10]);
  if (dev_bits == 0x8000) {
    *utc = eu_local_to_utc(local, year);
    return DSMR_TS_OK;
  }
  /* Deviation is minutes to add to local time to get UTC (-120 in CEST);
   * real zones lie within UTC-12 .. UTC+14. */
  int dev = dev_bits >= 0x8000 ? (int)dev_bits - 0x10000 : (int)dev_bits;
  if (dev < -840 || dev > 720)
    return DSMR_TS_INVALID;
  *utc = local + (int64_t)dev * 60;
  return DSMR_TS_OK;
}

void dsmr_format_utc(int64_t utc, char buf[21]) {
  int64_t days = utc / SECS_PER_DAY, secs = utc % SECS_PER_DAY;
  if (secs < 0) {
    secs += SECS_PER_DAY;
    days--;
  }
  int64_t y;
  unsigned m, d;
  dsmr_civil_from_days(days, &y, &m, &d);
  /* snprintf bounds the output: a year beyond 9999 is cut, never
   * written past the buffer. */
  snprintf(buf, 21, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
           (unsigned)(secs / HOUR), (unsigned)(secs / 60 % 60),
           (unsigned)(secs % 60));
}
