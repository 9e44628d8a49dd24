/* Numbers in P1 value groups: "[-]digits[.digits][*unit]".
 *
 * Meters write energy registers with a fixed number of zero-padded
 * decimals ("000687.138*kWh"), so the value is kept as an exact decimal
 * (integer mantissa + number of decimals): converting kWh to Wh must not
 * pass through binary floating point, or counters would drift by an ulp and
 * a DERIVE rate would show phantom spikes. */
#include <stdint.h>

#include "parser.h"

/* Significant digits that always fit an int64_t (10^18 < 2^63). */
#define MAX_DIGITS 18
#define MAX_UNIT 16

static const int64_t pow10_i64[MAX_DIGITS + 1] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

static int is_unit_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z');
}

int dsmr_parse_number(struct dsmr_span group, struct dsmr_number *out) {
  const unsigned char *p = (const unsigned char *)group.ptr;
  const unsigned char *e = p + group.len;
  int neg = 0;
  uint64_t m = 0;
  unsigned sig = 0, decimals = 0, ndigits;

  if (group.len == 0)
    return -1;
  if (*p == '-') {
    neg = 1;
    p++;
  }

  /* Integer part: at least one digit. Leading zeros are padding, not
   * precision, so they do not count towards the 18-digit limit. */
  ndigits = 0;
  for (; p < e && (unsigned)(*p - '0') < 10; p++, ndigits++) {
    if (m == 0 && *p == '0')
      continue;
    if (++sig > MAX_DIGITS)
      return -1;
    m = m * 10 + (unsigned)(*p - '0');
  }
  if (ndigits == 0)
    return -1;

  if (p < e && *p == '.') {
    p++;
    ndigits = 0;
    for (; p < e && (unsigned)(*p - '0') < 10; p++, ndigits++) {
      /* Every decimal counts for the scale; only the ones after the first
       * non-zero digit count as significant. The scale itself is capped at
       * 18 too, so that 10^decimals is always an exact int64_t. */
      if (++decimals > MAX_DIGITS)
        return -1;
      if (m == 0 && *p == '0')
        continue;
      if (++sig > MAX_DIGITS)
        return -1;
      m = m * 10 + (unsigned)(*p - '0');
    }
    if (ndigits == 0) /* "5." is not a meter's number */
      return -1;
  }

  struct dsmr_span unit = {NULL, 0};
  if (p < e) {
    if (*p != '*')
      return -1;
    p++;
    unit.ptr = (const char *)p;
    unit.len = (size_t)(e - p);
    if (unit.len == 0 || unit.len > MAX_UNIT)
      return -1;
    for (; p < e; p++)
      if (!is_unit_char(*p))
        return -1;
  }

  out->mantissa = neg ? -(int64_t)m : (int64_t)m;
  out->decimals = decimals;
  out->unit = unit;
  return 0;
}

int dsmr_number_scaled(const struct dsmr_number *n, unsigned want_decimals,
                       int64_t *out) {
  int64_t m = n->mantissa;

  if (want_decimals >= n->decimals) {
    unsigned shift = want_decimals - n->decimals;
    if (m == 0) {
      *out = 0;
      return 0;
    }
    if (shift > MAX_DIGITS)
      return -1;
    int64_t f = pow10_i64[shift];
    if (m > INT64_MAX / f || m < INT64_MIN / f)
      return -1;
    *out = m * f;
    return 0;
  }

  /* Fewer decimals than written: drop digits, rounding toward minus
   * infinity so that a counter read at coarser resolution never appears
   * to have advanced further than it has. */
  unsigned drop = n->decimals - want_decimals;
  if (drop > MAX_DIGITS) { /* |m| < 10^19: only the sign survives */
    *out = m < 0 ? -1 : 0;
    return 0;
  }
  int64_t f = pow10_i64[drop];
  int64_t q = m / f, r = m % f;
  if (r < 0)
    q--;
  *out = q;
  return 0;
}

double dsmr_number_double(const struct dsmr_number *n) {
  /* Powers of ten up to 10^22 are exact doubles, and so is any mantissa
   * below 2^53: then one IEEE division gives the correctly rounded
   * quotient. Larger mantissas (16..18 significant digits, which no meter
   * writes) are rounded once on conversion, so the result may be 1 ulp
   * off. */
  static const double p10[MAX_DIGITS + 1] = {
      1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
      1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
  };
  double v = (double)n->mantissa;
  unsigned d = n->decimals;
  /* dsmr_parse_number never yields more than 18 decimals; a hand-built
   * struct with more still gets a sensible (if not exact) answer. */
  for (; d > MAX_DIGITS; d -= MAX_DIGITS)
    v /= p10[MAX_DIGITS];
  return v / p10[d];
}
