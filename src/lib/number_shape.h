/* The number stage's fast path: a value checked against the format its
 * register had in an earlier telegram (struct dsmr_number_shape, kept in
 * the caller's struct dsmr_map_state) and converted at fixed positions.
 * Internal to libdsmr (the mapper uses it).
 *
 * Why it gives exactly what dsmr_parse_number_key gives: a shape is
 * learnt from a value that parser read (at most 16 bytes, at most 16
 * digits before and after the point), and holds every byte that is not a
 * digit of the number ('-', '.', '*', the unit) and where the digits are.
 * The parser's path through a value depends only on which bytes are digits
 * and on the other bytes themselves, so a value of the same length with
 * the same other bytes and digits in the same places takes the same path:
 * its mantissa is its digits in order, its decimals and unit those of the
 * shape. Anything else (another length, a byte that differs, a digit
 * where none was) is read by the full parser. */
#ifndef DSMR_NUMBER_SHAPE_H
#define DSMR_NUMBER_SHAPE_H

#include <stdint.h>
#include <string.h>

#include "inline.h"
#include "mapper.h"
#include "number.h"
#include "parser.h"

#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DSMR_NUMBER_SHAPES 1

static inline uint64_t dsmr_shape_load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, sizeof x);
  return x;
}

/* Whether the 16 bytes from p and the 8 before it are inside the frame:
 * the loads below read the value's 16 bytes, and 8 before the end of each
 * run of digits (16 for runs longer than 8), which is never more than 8
 * bytes before p. */
static inline int dsmr_shape_window(const char *p, const char *fstart,
                                    const char *fend) {
  return fend - p >= 16 && p - fstart >= 8;
}

/* The same as one unsigned comparison, with lo = fstart + 8 and
 * span = (fend - 16) - lo computed once per frame. When the frame is
 * shorter than 24 bytes, lo = span = 0: only a NULL pointer would pass,
 * and no value of a frame is at NULL. */
static inline int dsmr_shape_window_fast(const char *p, uintptr_t lo,
                                         uintptr_t span) {
  return (uintptr_t)p - lo <= span;
}

/* The n digits (1..8) that end at `end` as a number; the 8 bytes before
 * `end` must be readable. The bytes before the digits (first in memory,
 * lowest in the word) are masked to zero, so they count as
 * leading zeros; then the SWAR conversion of eight digits (first digit in
 * the lowest byte): pairs, quads, the whole. */
static HOT_INLINE uint64_t dsmr_shape_digits8(const char *end, unsigned n) {
  uint64_t v = (dsmr_shape_load64(end - 8) ^ 0x3030303030303030ULL) &
               (~0ULL << (8 * (8 - n)));
  v = v * 10 + (v >> 8);
  v = (((v & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32))) +
       (((v >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >>
      32;
  return (uint32_t)v;
}

/* n digits (1..16) ending at `end`; 16 bytes before it readable. */
static HOT_INLINE uint64_t dsmr_shape_digits(const char *end, unsigned n) {
  if (n <= 8)
    return dsmr_shape_digits8(end, n);
  return dsmr_shape_digits8(end - 8, n - 8) * 100000000ULL +
         dsmr_shape_digits8(end, 8);
}

/* Whether the value g (inside the frame, whose window bounds lo_bound
 * and span are as for dsmr_shape_window_fast) has shape sh. */
static HOT_INLINE int dsmr_shape_match(const struct dsmr_number_shape *sh,
                                       struct dsmr_span g, uintptr_t lo_bound,
                                       uintptr_t span) {
  const char *p = g.ptr;
  /* (len_tag 0, nothing learnt, matches no length: "()" is not a number) */
  if (g.len + 0x80 != sh->len_tag || !dsmr_shape_window_fast(p, lo_bound, span))
    return 0;
  uint64_t lo = dsmr_shape_load64(p), hi = dsmr_shape_load64(p + 8);
  uint64_t dlo = (lo ^ 0x3030303030303030ULL) & sh->dig[0];
  uint64_t dhi = (hi ^ 0x3030303030303030ULL) & sh->dig[1];
  /* A digit byte d (x ^ '0') is 0..9: below 0x80, and below 0x80 after
   * adding 0x76. A byte at or above 0x80 is caught by `| d` before any
   * carry it makes can reach the next byte. */
  uint64_t bad = ((((dlo + 0x7676767676767676ULL) | dlo) & sh->dig[0]) |
                  (((dhi + 0x7676767676767676ULL) | dhi) & sh->dig[1])) &
                 0x8080808080808080ULL;
  bad |= ((lo ^ sh->pat[0]) & sh->fix[0]) | ((hi ^ sh->pat[1]) & sh->fix[1]);
  return bad == 0;
}

/* The digits of a value p that has shape sh, as one number (the
 * mantissa without its sign). */
static HOT_INLINE uint64_t
dsmr_shape_magnitude(const struct dsmr_number_shape *sh, const char *p) {
  uint64_t m = dsmr_shape_digits(p + sh->int_end, sh->int_digits);
  if (sh->frac_digits) {
    static const uint64_t p10[17] = {
        1ULL,
        10ULL,
        100ULL,
        1000ULL,
        10000ULL,
        100000ULL,
        1000000ULL,
        10000000ULL,
        100000000ULL,
        1000000000ULL,
        10000000000ULL,
        100000000000ULL,
        1000000000000ULL,
        10000000000000ULL,
        100000000000000ULL,
        1000000000000000ULL,
        10000000000000000ULL,
    };
    m = m * p10[sh->frac_digits] +
        dsmr_shape_digits(p + sh->int_end + 1 + sh->frac_digits,
                          sh->frac_digits);
  }
  return m;
}

/* The value g read by shape sh: 0, or -1 when it does not have that shape
 * (then *out and *unit_key are untouched). */
static HOT_INLINE int dsmr_number_by_shape(const struct dsmr_number_shape *sh,
                                           struct dsmr_span g,
                                           uintptr_t lo_bound, uintptr_t span,
                                           struct dsmr_number *out,
                                           uint64_t *unit_key) {
  if (!dsmr_shape_match(sh, g, lo_bound, span))
    return -1;
  uint64_t m = dsmr_shape_magnitude(sh, g.ptr);
  out->mantissa = sh->neg ? -(int64_t)m : (int64_t)m;
  out->decimals = sh->frac_digits;
  out->unit.ptr = sh->unit_len ? g.ptr + sh->unit_off : NULL;
  out->unit.len = sh->unit_len;
  *unit_key = sh->unit_key;
  return 0;
}
#endif

/* Learn the shape of g, which dsmr_parse_number_key read as *n with unit
 * key `key` (number.c). Values that do not fit a shape leave *sh empty. */
void dsmr_number_shape_learn(struct dsmr_number_shape *sh, struct dsmr_span g,
                             const struct dsmr_number *n, uint64_t key);

#endif
