/* Numbers in P1 value groups: "[-]digits[.digits][*unit]".
 *
 * Meters write energy registers with a fixed number of zero-padded
 * decimals ("000687.138*kWh"), so the value is kept as an exact decimal
 * (integer mantissa + number of decimals): converting kWh to Wh must not
 * pass through binary floating point, or counters would drift by an ulp and
 * a DERIVE rate would show phantom spikes. */
#include <stdint.h>
#include <string.h>

#include "number.h"
#include "obis_table.h"

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

/* Unit characters, [0-9A-Za-z], folded to lower case; 0 for any other
 * byte: one load per character checks and folds it. */
#define UNIT_DIGIT(c) [c] = c
#define UNIT_LETTER(c) [c] = c, [c - 'a' + 'A'] = c
static const unsigned char unit_char[256] = {
    UNIT_DIGIT('0'),  UNIT_DIGIT('1'),  UNIT_DIGIT('2'),  UNIT_DIGIT('3'),
    UNIT_DIGIT('4'),  UNIT_DIGIT('5'),  UNIT_DIGIT('6'),  UNIT_DIGIT('7'),
    UNIT_DIGIT('8'),  UNIT_DIGIT('9'),  UNIT_LETTER('a'), UNIT_LETTER('b'),
    UNIT_LETTER('c'), UNIT_LETTER('d'), UNIT_LETTER('e'), UNIT_LETTER('f'),
    UNIT_LETTER('g'), UNIT_LETTER('h'), UNIT_LETTER('i'), UNIT_LETTER('j'),
    UNIT_LETTER('k'), UNIT_LETTER('l'), UNIT_LETTER('m'), UNIT_LETTER('n'),
    UNIT_LETTER('o'), UNIT_LETTER('p'), UNIT_LETTER('q'), UNIT_LETTER('r'),
    UNIT_LETTER('s'), UNIT_LETTER('t'), UNIT_LETTER('u'), UNIT_LETTER('v'),
    UNIT_LETTER('w'), UNIT_LETTER('x'), UNIT_LETTER('y'), UNIT_LETTER('z'),
};

/* Digits from p up to e, at most `max` of them, into *m. */
static inline const unsigned char *digits(const unsigned char *p,
                                          const unsigned char *e, size_t max,
                                          uint64_t *m) {
  const unsigned char *lim = (size_t)(e - p) > max ? p + max : e;
  uint64_t v = *m;
  unsigned d;
  for (; p < lim && (d = (unsigned)*p - '0') <= 9; p++)
    v = v * 10 + d;
  *m = v;
  return p;
}

/* The unit after '*': 1..16 of [0-9A-Za-z], and its key (obis_table.h):
 * the bytes folded to lower case, first byte lowest, and the length on
 * top. Returns 0 or -1. */
static inline int parse_unit(const unsigned char *p, const unsigned char *e,
                             struct dsmr_span *unit, uint64_t *key) {
  size_t n = (size_t)(e - p);
  uint64_t k = 0;
  if (n == 0 || n > MAX_UNIT)
    return -1;
  for (unsigned shift = 0; p < e; p++, shift += 8) {
    unsigned c = unit_char[*p];
    if (c == 0)
      return -1;
    k |= (uint64_t)c << (shift & 63); /* past 7 bytes: not used */
  }
  unit->ptr = (const char *)e - n;
  unit->len = n;
  *key = n <= 7 ? k | DSMR_UNIT_LEN(n) : DSMR_UNIT_LONG;
  return 0;
}

/* The first byte in [p, e) that is not '0'. Meters pad numbers with zeros
 * ("000000.000*kWh", "0000002014*s"), so most digits of a telegram are
 * leading zeros, which need no arithmetic: eight at a time where eight
 * bytes are left (the first byte that is not '0' is the lowest non-zero
 * byte of x ^ "00000000"), else one at a time. */
static inline const unsigned char *skip_zeros(const unsigned char *p,
                                              const unsigned char *e) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; e - p >= 8; p += 8) {
    uint64_t x;
    memcpy(&x, p, sizeof x); /* one unaligned load */
    x ^= 0x3030303030303030ULL;
    if (x)
      return p + ((unsigned)__builtin_ctzll(x) >> 3);
  }
#endif
  while (p < e && *p == '0')
    p++;
  return p;
}

/* Numbers with more than 18 digits in all: only leading zeros can save
 * them, so count significant digits exactly and stop early on long digit
 * strings (a 34-digit serial number need not be read to its end). */
static int parse_long(const unsigned char *p, const unsigned char *e, int neg,
                      struct dsmr_number *out, uint64_t *unit_key) {
  uint64_t m = 0;
  unsigned decimals = 0;
  const unsigned char *start = p;
  while (p < e && *p == '0')
    p++;
  const unsigned char *sig0 = p;
  p = digits(p, e, MAX_DIGITS + 1, &m);
  if (p == start)
    return -1;
  size_t sig = (size_t)(p - sig0);
  if (p < e && *p == '.') {
    const unsigned char *frac = ++p;
    if (m == 0) /* "0.000123": these zeros are not significant either */
      while (p < e && *p == '0' && p - frac < MAX_DIGITS)
        p++;
    const unsigned char *fsig = p;
    p = digits(p, e, MAX_DIGITS + 1 - (size_t)(p - frac), &m);
    decimals = (unsigned)(p - frac);
    if (decimals == 0 || decimals > MAX_DIGITS)
      return -1;
    sig += (size_t)(p - fsig);
  }
  if (sig > MAX_DIGITS || (p < e && (unsigned)*p - '0' <= 9))
    return -1;
  struct dsmr_span unit = {NULL, 0};
  uint64_t key = DSMR_UNIT_NONE;
  if (p < e && (*p != '*' || parse_unit(p + 1, e, &unit, &key) != 0))
    return -1;
  out->mantissa = neg ? -(int64_t)m : (int64_t)m;
  out->decimals = decimals;
  out->unit = unit;
  *unit_key = key;
  return 0;
}

/* The mapper calls this on most groups of a telegram, so the usual case
 * (at most 18 digits in all, which always fit) is one plain pass. */
int dsmr_parse_number_key(struct dsmr_span group, struct dsmr_number *out,
                          uint64_t *unit_key) {
  const unsigned char *p = (const unsigned char *)group.ptr;
  const unsigned char *e = p + group.len;
  uint64_t m = 0;
  unsigned d;

  if (p == e)
    return -1;
  int neg = *p == '-';
  p += neg;

  const unsigned char *start = p;
  p = skip_zeros(p, e);
  for (; p < e && (d = (unsigned)*p - '0') <= 9; p++)
    m = m * 10 + d;
  size_t nint = (size_t)(p - start), ndec = 0;
  if (nint == 0) /* at least one digit before any '.' */
    return -1;
  if (p < e && *p == '.') {
    const unsigned char *frac = ++p;
    if (m == 0) /* "000000.000": these zeros leave m at 0 too */
      p = skip_zeros(p, e);
    for (; p < e && (d = (unsigned)*p - '0') <= 9; p++)
      m = m * 10 + d;
    ndec = (size_t)(p - frac);
    if (ndec == 0) /* "5." is not a meter's number */
      return -1;
  }
  /* Up to 18 digits in all, m is exact and the 18-significant-digit and
   * 18-decimal limits hold by themselves. */
  if (nint + ndec > MAX_DIGITS)
    return parse_long(start, e, neg, out, unit_key);

  struct dsmr_span unit = {NULL, 0};
  uint64_t key = DSMR_UNIT_NONE;
  if (p < e && (*p != '*' || parse_unit(p + 1, e, &unit, &key) != 0))
    return -1;
  out->mantissa = neg ? -(int64_t)m : (int64_t)m;
  out->decimals = (unsigned)ndec;
  out->unit = unit;
  *unit_key = key;
  return 0;
}

int dsmr_parse_number(struct dsmr_span group, struct dsmr_number *out) {
  uint64_t unit_key;
  return dsmr_parse_number_key(group, out, &unit_key);
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

#include "number_shape.h"

void dsmr_number_shape_learn(struct dsmr_number_shape *sh, struct dsmr_span g,
                             const struct dsmr_number *n, uint64_t key) {
  sh->len_tag = 0;
  sh->reading = 0;
  sh->has_last = 0;
#ifdef DSMR_NUMBER_SHAPES
  const char *p = g.ptr;
  if (g.len == 0 || g.len > 16)
    return;
  unsigned neg = p[0] == '-';
  size_t tail = n->unit.len ? n->unit.len + 1 : 0;
  size_t frac = n->decimals ? n->decimals + 1 : 0;
  if (g.len < neg + tail + frac + 1)
    return;
  size_t int_end = g.len - tail - frac;
  size_t int_digits = int_end - neg;
  if (int_digits < 1 || int_digits > 16 || n->decimals > 16)
    return;
  unsigned char pat[16] = {0}, fix[16] = {0}, dig[16] = {0};
  memcpy(pat, p, g.len);
  for (size_t i = 0; i < g.len; i++) {
    int is_digit = (i >= neg && i < int_end) ||
                   (frac && i > int_end && i < int_end + frac);
    /* What the parser read: digits where digits are, the rest as is. */
    if (is_digit && (unsigned)(unsigned char)p[i] - '0' > 9)
      return;
    (is_digit ? dig : fix)[i] = 0xFF;
  }
  if (frac && p[int_end] != '.')
    return;
  memcpy(sh->pat, pat, 16);
  memcpy(sh->fix, fix, 16);
  memcpy(sh->dig, dig, 16);
  sh->unit_key = key;
  sh->neg = (uint8_t)neg;
  sh->int_end = (uint8_t)int_end;
  sh->int_digits = (uint8_t)int_digits;
  sh->frac_digits = (uint8_t)n->decimals;
  sh->unit_off = (uint8_t)(g.len - n->unit.len);
  sh->unit_len = (uint8_t)n->unit.len;
  sh->len_tag = (uint8_t)(g.len + 0x80);
#else
  (void)g;
  (void)n;
  (void)key;
#endif
}
