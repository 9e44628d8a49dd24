/* Reference implementations of the value parsers, for the fuzz targets.
 * See value_oracle.h for why they exist and how they are written. */
#define _GNU_SOURCE /* timegm */
#include "value_oracle.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* In fuzz_telegram's ASan build (build.sh, FZ_NOCOV_COPY) the checks
 * call the second copy of the library, built with the same sanitizers but
 * without coverage instrumentation (see "Two copies of the library" in
 * fuzz_telegram.c); fuzz_values calls the one copy it has. */
#ifdef FZ_NOCOV_COPY
#define dsmr_civil_from_days nc_dsmr_civil_from_days
#define dsmr_days_from_civil nc_dsmr_days_from_civil
#define dsmr_eu_dst_end nc_dsmr_eu_dst_end
#define dsmr_eu_dst_start nc_dsmr_eu_dst_start
#define dsmr_format_utc nc_dsmr_format_utc
#define dsmr_number_double nc_dsmr_number_double
#define dsmr_number_scaled nc_dsmr_number_scaled
#define dsmr_parse_cosem_clock nc_dsmr_parse_cosem_clock
#define dsmr_parse_number nc_dsmr_parse_number
#define dsmr_parse_number_key nc_dsmr_parse_number_key
#define dsmr_parse_timestamp nc_dsmr_parse_timestamp
#endif

#include "fuzz_assert.h"
#include "number.h"
#include "obis_table.h"
#include "timestamp.h"

#define HOUR 3600
#define DAY 86400

/* CRC-16/ARC of one byte, bit by bit: the definition (reflected
 * polynomial 0xA001). */
static unsigned crc16_bitwise_byte(unsigned crc, unsigned char c) {
  crc ^= c;
  for (int b = 0; b < 8; b++)
    crc = (crc & 1) ? (crc >> 1) ^ 0xA001u : crc >> 1;
  return crc;
}

/* The same, a byte at a time through a 256-entry table that the bitwise
 * definition fills at first use (the classic byte-wise form, unlike the
 * library's carry-less multiply and slice-by-16): each entry is the bitwise
 * step applied to the byte with a zero CRC, and crc >> 8 ^ table[(crc ^
 * byte) & 0xFF] equals the bitwise step for every crc and byte (the step is
 * linear over GF(2)). Eight times fewer steps than the bitwise loop, which
 * was a sixth of fuzz_telegram's time under AddressSanitizer. The table is
 * checked once against the bitwise step over every byte from a few CRCs. */
uint16_t oracle_crc16(const void *data, size_t len) {
  static uint16_t table[256];
  static int ready;
  const unsigned char *p = data;
  unsigned crc = 0;

  if (!ready) {
    for (unsigned b = 0; b < 256; b++)
      table[b] = (uint16_t)crc16_bitwise_byte(0, (unsigned char)b);
    static const unsigned probes[] = {0, 1, 0x8000, 0xA001, 0xFFFF, 0x1234};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++)
      for (unsigned b = 0; b < 256; b++)
        FZ_ASSERT((probes[k] >> 8 ^ table[(probes[k] ^ b) & 0xFF]) ==
                  crc16_bitwise_byte(probes[k], (unsigned char)b));
    ready = 1;
  }
  for (size_t i = 0; i < len; i++)
    crc = crc >> 8 ^ table[(crc ^ p[i]) & 0xFF];
  return (uint16_t)crc;
}

/* ---- numbers ---------------------------------------------------------- */

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_alnum_ascii(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

struct ref_number {
  int64_t mantissa;
  unsigned decimals;
  size_t unit_off, unit_len;
};

/* number.h: "[-]digits[.digits][*unit]", at most 18 significant digits
 * (leading zeros are not significant), at most 18 decimals, unit 1..16
 * characters of [A-Za-z0-9]. */
static int ref_parse_number(const char *s, size_t n, struct ref_number *r) {
  size_t i = 0, int0, int1, frac0 = 0, frac1 = 0;
  int neg = 0;

  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  int0 = i;
  while (i < n && is_digit(s[i]))
    i++;
  int1 = i;
  if (int1 == int0)
    return -1;
  if (i < n && s[i] == '.') {
    frac0 = ++i;
    while (i < n && is_digit(s[i]))
      i++;
    frac1 = i;
    if (frac1 == frac0 || frac1 - frac0 > 18)
      return -1;
  }
  r->unit_off = r->unit_len = 0;
  if (i < n) {
    if (s[i] != '*')
      return -1;
    r->unit_off = ++i;
    r->unit_len = n - i;
    if (r->unit_len < 1 || r->unit_len > 16)
      return -1;
    for (; i < n; i++)
      if (!is_alnum_ascii(s[i]))
        return -1;
  }

  /* The digits of integer and fraction part as one string, leading zeros
   * dropped: what is left is the significant digits. */
  unsigned __int128 v = 0;
  size_t sig = 0;
  int leading = 1;
  size_t last = frac1 ? frac1 : int1;
  for (size_t k = int0; k < last; k++) {
    if (k == int1)
      continue; /* the '.' */
    char c = s[k];
    if (leading && c == '0')
      continue;
    leading = 0;
    if (++sig > 18)
      return -1;
    v = v * 10 + (unsigned)(c - '0');
  }
  r->mantissa = neg ? -(int64_t)v : (int64_t)v;
  r->decimals = frac1 > 0 ? (unsigned)(frac1 - frac0) : 0;
  return 0;
}

static __int128 pow10_128(unsigned e) {
  __int128 p = 1;
  while (e--)
    p *= 10;
  return p;
}

/* number.h: m * 10^(want - decimals), floored when digits are dropped;
 * -1 exactly when the true result does not fit an int64_t. */
static void check_scaled(const struct dsmr_number *n, unsigned want) {
  int64_t got = 0x5A5A5A5A;
  int rc = dsmr_number_scaled(n, want, &got);
  __int128 expect;

  if (n->mantissa == 0) {
    expect = 0;
  } else if (want >= n->decimals) {
    unsigned shift = want - n->decimals;
    if (shift > 19) { /* |m| >= 1, 10^19 > INT64_MAX */
      FZ_ASSERT_MSG(rc == -1, "scaled(%lld e-%u, want %u) = %lld, rc %d",
                    (long long)n->mantissa, n->decimals, want, (long long)got,
                    rc);
      return;
    }
    expect = (__int128)n->mantissa * pow10_128(shift);
  } else {
    __int128 d = pow10_128(n->decimals - want);
    __int128 q = (__int128)n->mantissa / d;
    if ((__int128)n->mantissa % d < 0)
      q--; /* C truncates toward zero; the contract floors */
    expect = q;
  }
  if (expect > INT64_MAX || expect < INT64_MIN) {
    FZ_ASSERT_MSG(rc == -1, "scaled(%lld e-%u, want %u) should overflow",
                  (long long)n->mantissa, n->decimals, want);
    return;
  }
  FZ_ASSERT_MSG(rc == 0 && got == (int64_t)expect,
                "scaled(%lld e-%u, want %u) = %lld rc %d, expected %lld",
                (long long)n->mantissa, n->decimals, want, (long long)got, rc,
                (long long)expect);
}

/* "[-]i.fff" with exactly n->decimals decimals. */
static void print_number(const struct dsmr_number *n, char *buf, size_t len) {
  char digits[48];
  uint64_t a =
      n->mantissa < 0 ? 0 - (uint64_t)n->mantissa : (uint64_t)n->mantissa;
  snprintf(digits, sizeof(digits), "%0*llu", (int)n->decimals + 1,
           (unsigned long long)a);
  size_t nd = strlen(digits), ip = nd - n->decimals;
  snprintf(buf, len, "%s%.*s%s%s", n->mantissa < 0 ? "-" : "", (int)ip, digits,
           n->decimals ? "." : "", digits + ip);
}

int check_number(struct dsmr_span s) {
  struct dsmr_number n, again;
  struct ref_number r;
  /* Poisoned, to see that a failed parse leaves *out untouched. */
  memset(&n, 0xA5, sizeof(n));
  struct dsmr_number poison = n;

  int rc = dsmr_parse_number(s, &n);
  int ref = ref_parse_number(s.ptr, s.len, &r);
  FZ_ASSERT_MSG(rc == ref, "parse_number(\"%.*s\") = %d, reference %d",
                (int)s.len, s.ptr, rc, ref);
  if (rc != 0) {
    FZ_ASSERT(memcmp(&n, &poison, sizeof(n)) == 0);
    uint64_t key = 0x5A5A;
    FZ_ASSERT(dsmr_parse_number_key(s, &n, &key) == -1);
    FZ_ASSERT(memcmp(&n, &poison, sizeof(n)) == 0 && key == 0x5A5A);
    return 0;
  }
  FZ_ASSERT_MSG(n.mantissa == r.mantissa && n.decimals == r.decimals,
                "parse_number(\"%.*s\") = %lld e-%u, reference %lld e-%u",
                (int)s.len, s.ptr, (long long)n.mantissa, n.decimals,
                (long long)r.mantissa, r.decimals);
  if (r.unit_len == 0) {
    FZ_ASSERT(n.unit.len == 0);
  } else {
    FZ_ASSERT(n.unit.ptr == s.ptr + r.unit_off && n.unit.len == r.unit_len);
  }

  /* The mapper's variant: the same number, and the unit's key as
   * obis_table.h defines it (A-Z folded, first byte lowest, length on top;
   * DSMR_UNIT_LONG beyond 7 bytes). */
  struct dsmr_number k;
  uint64_t key = 0x5A5A, want_key = DSMR_UNIT_LEN(r.unit_len);
  FZ_ASSERT(dsmr_parse_number_key(s, &k, &key) == 0);
  FZ_ASSERT(k.mantissa == n.mantissa && k.decimals == n.decimals &&
            k.unit.ptr == n.unit.ptr && k.unit.len == n.unit.len);
  if (r.unit_len > 7) {
    want_key = DSMR_UNIT_LONG;
  } else {
    for (size_t i = 0; i < r.unit_len; i++) {
      unsigned char c = (unsigned char)s.ptr[r.unit_off + i];
      if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
      want_key |= (uint64_t)c << (8 * i);
    }
  }
  FZ_ASSERT_MSG(key == want_key, "unit key of \"%.*s\": %llx, want %llx",
                (int)s.len, s.ptr, (unsigned long long)key,
                (unsigned long long)want_key);

  static const unsigned wants[] = {0,  1,  2,  3,  4,  5,  6,
                                   17, 18, 19, 21, 36, 40, 0xFFFFFFFFu};
  for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
    check_scaled(&n, wants[i]);

  /* Re-printed, it parses to the same value (the digits a meter wrote,
   * less padding, are kept exactly). */
  char buf[64];
  print_number(&n, buf, sizeof(buf));
  FZ_ASSERT(dsmr_parse_number((struct dsmr_span){buf, strlen(buf)}, &again) ==
            0);
  FZ_ASSERT(again.mantissa == n.mantissa && again.decimals == n.decimals &&
            again.unit.len == 0);

  /* number.h: correctly rounded below 2^53, otherwise within an ulp. */
  double d = dsmr_number_double(&n), want = strtod(buf, NULL);
  int64_t am = n.mantissa < 0 ? -n.mantissa : n.mantissa;
  if (am < (INT64_C(1) << 53))
    FZ_ASSERT_MSG(d == want, "double(%s) = %.17g, strtod %.17g", buf, d, want);
  else
    FZ_ASSERT_MSG(d == want || d == nextafter(want, INFINITY) ||
                      d == nextafter(want, -INFINITY),
                  "double(%s) = %.17g, strtod %.17g", buf, d, want);
  return 1;
}

/* ---- time ------------------------------------------------------------- */

/* Seconds of a civil time read as UTC, or -1 when the fields do not name
 * a real time: libc normalises impossible fields (Feb 30 -> Mar 2), so a
 * round trip that changes them proves them impossible. */
static int ref_civil(int64_t y, unsigned mo, unsigned d, unsigned h,
                     unsigned mi, unsigned s, int64_t *out) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    return -1;
  struct tm t = {0}, back;
  t.tm_year = (int)(y - 1900);
  t.tm_mon = (int)mo - 1;
  t.tm_mday = (int)d;
  t.tm_hour = (int)h;
  t.tm_min = (int)mi;
  t.tm_sec = (int)s;
  time_t v = timegm(&t);
  FZ_ASSERT(gmtime_r(&v, &back) != NULL);
  if (back.tm_year != (int)(y - 1900) || back.tm_mon != (int)mo - 1 ||
      back.tm_mday != (int)d)
    return -1;
  *out = (int64_t)v;
  return 0;
}

/* 01:00 UTC on the last Sunday of month `mon` (1-based, a 31-day month). */
static int64_t ref_last_sunday_0100(int64_t y, unsigned mon) {
  int64_t t;
  struct tm tm;
  FZ_ASSERT(ref_civil(y, mon, 31, 0, 0, 0, &t) == 0);
  time_t tt = (time_t)t;
  FZ_ASSERT(gmtime_r(&tt, &tm) != NULL);
  return t - (int64_t)tm.tm_wday * DAY + 1 * HOUR;
}

void check_dst_rule(int64_t y) {
  FZ_ASSERT(dsmr_eu_dst_start(y) == ref_last_sunday_0100(y, 3));
  FZ_ASSERT(dsmr_eu_dst_end(y) == ref_last_sunday_0100(y, 10));
}

/* UTC offset in hours of Amsterdam/Brussels at instant utc. */
static int ref_eu_offset_at(int64_t utc) {
  struct tm tm;
  time_t tt = (time_t)utc;
  FZ_ASSERT(gmtime_r(&tt, &tm) != NULL);
  int64_t y = (int64_t)tm.tm_year + 1900;
  return utc >= ref_last_sunday_0100(y, 3) && utc < ref_last_sunday_0100(y, 10)
             ? 2
             : 1;
}

/* timestamp.h, for a local wall-clock time without offset: the instant at
 * which Amsterdam's clock showed it; of two such instants (the repeated
 * October hour) the first, summer one; of none (the skipped March hour),
 * the time read as winter time. */
static int64_t ref_eu_local_to_utc(int64_t local) {
  int64_t summer = local - 2 * HOUR, winter = local - 1 * HOUR;
  if (ref_eu_offset_at(summer) == 2)
    return summer;
  return winter; /* a real winter time, or the skipped hour read as one */
}

static unsigned dd(const char *p) {
  return (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
}

/* timestamp.h: YY 00..69 is 2000..2069, 70..99 is 1970..1999. */
static int64_t ref_year(unsigned yy) {
  return yy < 70 ? 2000 + yy : 1900 + yy;
}

void check_timestamp(struct dsmr_span s) {
  int64_t utc = 0x5A5A5A5A, local;
  int flagged = -1, offset = 0;
  enum dsmr_ts_status st = dsmr_parse_timestamp(s, &utc, &flagged);
  enum dsmr_ts_status expect = DSMR_TS_OK;

  if (s.len != 12 && s.len != 13)
    expect = DSMR_TS_NOT_TIMESTAMP;
  for (size_t i = 0; i < 12 && i < s.len; i++)
    if (!is_digit(s.ptr[i]))
      expect = DSMR_TS_NOT_TIMESTAMP;
  if (expect == DSMR_TS_OK && s.len == 13) {
    char f = s.ptr[12];
    if (f == 'W' || f == 'w')
      offset = 1;
    else if (f == 'S' || f == 's')
      offset = 2;
    else
      expect = DSMR_TS_NOT_TIMESTAMP;
  }
  if (expect == DSMR_TS_OK &&
      ref_civil(ref_year(dd(s.ptr)), dd(s.ptr + 2), dd(s.ptr + 4),
                dd(s.ptr + 6), dd(s.ptr + 8), dd(s.ptr + 10), &local) != 0)
    expect = DSMR_TS_INVALID;
  FZ_ASSERT_MSG(st == expect, "parse_timestamp(\"%.*s\") = %d, expected %d",
                (int)s.len, s.ptr, (int)st, (int)expect);
  if (st != DSMR_TS_OK) {
    FZ_ASSERT(utc == 0x5A5A5A5A && flagged == -1);
    return;
  }
  int64_t want = offset ? local - offset * HOUR : ref_eu_local_to_utc(local);
  FZ_ASSERT_MSG(utc == want, "parse_timestamp(\"%.*s\") = %lld, expected %lld",
                (int)s.len, s.ptr, (long long)utc, (long long)want);
  FZ_ASSERT(flagged == (offset != 0));
  /* A NULL flag pointer is allowed and changes nothing. */
  int64_t utc2;
  FZ_ASSERT(dsmr_parse_timestamp(s, &utc2, NULL) == DSMR_TS_OK && utc2 == utc);
  check_utc(utc);
}

static int hexval(char c) {
  if (is_digit(c))
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

void check_cosem_clock(struct dsmr_span s) {
  int64_t utc = 0x5A5A5A5A, local = 0, want = 0;
  unsigned char b[12];
  enum dsmr_ts_status st = dsmr_parse_cosem_clock(s, &utc);
  enum dsmr_ts_status expect = DSMR_TS_OK;

  if (s.len != 24)
    expect = DSMR_TS_NOT_TIMESTAMP;
  for (size_t i = 0; i < s.len && expect == DSMR_TS_OK; i++)
    if (hexval(s.ptr[i]) < 0)
      expect = DSMR_TS_NOT_TIMESTAMP;
  if (expect == DSMR_TS_OK) {
    for (int i = 0; i < 12; i++)
      b[i] =
          (unsigned char)(hexval(s.ptr[2 * i]) * 16 + hexval(s.ptr[2 * i + 1]));
    unsigned year = (unsigned)b[0] * 256 + b[1];
    int dev = (int)((unsigned)b[9] * 256 + b[10]);
    if (dev >= 0x8000)
      dev -= 0x10000;
    if (year == 0xFFFF ||
        ref_civil(year, b[2], b[3], b[5], b[6], b[7], &local) != 0)
      expect = DSMR_TS_INVALID;
    else if (dev == -0x8000) /* "deviation not specified" */
      want = ref_eu_local_to_utc(local);
    else if (dev < -840 || dev > 720)
      expect = DSMR_TS_INVALID;
    else
      want = local + dev * 60;
  }
  FZ_ASSERT_MSG(st == expect, "parse_cosem_clock(\"%.*s\") = %d, expected %d",
                (int)s.len, s.ptr, (int)st, (int)expect);
  if (st != DSMR_TS_OK) {
    FZ_ASSERT(utc == 0x5A5A5A5A);
    return;
  }
  FZ_ASSERT_MSG(utc == want, "parse_cosem_clock(\"%.*s\") = %lld, want %lld",
                (int)s.len, s.ptr, (long long)utc, (long long)want);
  check_utc(utc);
}

void check_utc(int64_t utc) {
  char buf[21], want[64];
  struct tm tm;
  time_t tt = (time_t)utc;

  memset(buf, 'x', sizeof(buf));
  dsmr_format_utc(utc, buf);
  FZ_ASSERT(memchr(buf, 0, sizeof(buf)) != NULL);

  int64_t days = utc / DAY - (utc % DAY < 0), y;
  unsigned m, d;
  dsmr_civil_from_days(days, &y, &m, &d);
  FZ_ASSERT(m >= 1 && m <= 12 && d >= 1 && d <= 31);
  FZ_ASSERT(dsmr_days_from_civil(y, m, d) == days);

  if (!gmtime_r(&tt, &tm))
    return; /* year beyond int: libc has no answer to compare with */
  FZ_ASSERT(y == (int64_t)tm.tm_year + 1900 && m == (unsigned)tm.tm_mon + 1 &&
            d == (unsigned)tm.tm_mday);
  if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    return; /* the format only promises four-digit years */
  snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec);
  FZ_ASSERT_MSG(strcmp(buf, want) == 0, "format_utc(%lld) = %s, want %s",
                (long long)utc, buf, want);
}
