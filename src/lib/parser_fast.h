/* The parser's fast path (parser.c says why it is fast), for parser.c and,
 * inlined into its loop, the mapper: an ordinary object line read in one
 * go, anything unusual left to dsmr_parser_next. Internal to libdsmr. */
#ifndef DSMR_PARSER_FAST_H
#define DSMR_PARSER_FAST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "inline.h"
#include "obis_table.h"
#include "parser.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- byte scanning ---------------------------------------------------- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, sizeof x); /* one unaligned load on every target we meet */
  return x;
}

/* High bit set in each byte below n (n <= 0x80). A borrow can flag a byte
 * above a true hit, never below one, so the lowest flagged byte is always a
 * real hit. */
#define BELOW(x, n) (((x)-ONES * (n)) & ~(x)&HIGHS)

/* Inside a group only '(' (0x28), ')' (0x29), CR and LF matter. They are
 * all below '*' (0x2A), and value text is digits, letters, '.', '-' and
 * '*', all above it: so one test of "byte < 0x2A" per 8 bytes finds every
 * candidate, and the rare false hit (a space in a text value) costs one
 * extra turn of the loop. */
#define GROUP_STOP 0x2A
/* Line ends and other control bytes. */
#define CTL_STOP 0x0E

#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAGGED(m) ((size_t)__builtin_ctzll(m) >> 3)
#define LITTLE_ENDIAN_WORDS 1
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) &&                          \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
/* Big-endian (s390x): the words of the id texts (obis.c) have their first
 * byte lowest, so id_fast byte-swaps what it loads. */
#define SWAPPED_TEXT_WORDS 1
#endif

/* First byte in [s, e) below `stop`, or e. */
static inline const char *scan_below(const char *s, const char *e,
                                     unsigned char stop) {
  for (; e - s >= 8; s += 8) {
    uint64_t x = load64(s), m = BELOW(x, stop);
    if (m) {
#ifdef FIRST_FLAGGED
      return s + FIRST_FLAGGED(m);
#else
      break; /* the byte loop finds it within these 8 bytes */
#endif
    }
  }
  for (; s < e; s++)
    if ((unsigned char)*s < stop)
      return s;
  return e;
}

/* ---- OBIS ids --------------------------------------------------------- */

#define DIGIT(c) ((unsigned)(unsigned char)(c) - '0')

/* The longest id, "255-255:255.255.255*255", plus the byte after it. */
#define OBIS_MAX 24

/* One decimal field of 1..3 digits, 0..255, with at least 3 readable
 * bytes at s (a 4th digit is caught by the separator test after it). */
static inline const char *field_fast(const char *s, uint8_t *out) {
  unsigned v = DIGIT(s[0]), d;
  if (v > 9)
    return NULL;
  if ((d = DIGIT(s[1])) > 9) {
    *out = (uint8_t)v;
    return s + 1;
  }
  v = v * 10 + d;
  if ((d = DIGIT(s[2])) > 9) {
    *out = (uint8_t)v;
    return s + 2;
  }
  v = v * 10 + d;
  if (v > 255)
    return NULL;
  *out = (uint8_t)v;
  return s + 3;
}

/* A-B:C.D.E[*F] with at least OBIS_MAX readable bytes at s; returns the
 * end of the id, or NULL. Ids are a third of a telegram's bytes, so this
 * is the parser's second hot spot after the group scan. */
static HOT_INLINE const char *obis_fast(const char *s, struct dsmr_obis *o) {
#ifdef LITTLE_ENDIAN_WORDS
  /* Nearly every id starts "d-d:" (A and B are single digits): check the
   * four bytes at once. Bytes 0 and 2 must be 0x30..0x39: high nibble 3,
   * and still 3 after adding 6. */
  uint32_t w;
  memcpy(&w, s, sizeof w);
  if ((w & 0xFFF0FFF0u) == 0x3A302D30u &&
      ((w + 0x00060006u) & 0x00F000F0u) == 0x00300030u) {
    o->a = (uint8_t)(w & 0x0F);
    o->b = (uint8_t)(w >> 16 & 0x0F);
    s += 4;
  } else
#endif
  {
    if (!(s = field_fast(s, &o->a)) || *s != '-' ||
        !(s = field_fast(s + 1, &o->b)) || *s != ':')
      return NULL;
    s++;
  }
  if (!(s = field_fast(s, &o->c)) || *s != '.' ||
      !(s = field_fast(s + 1, &o->d)) || *s != '.' ||
      !(s = field_fast(s + 1, &o->e)))
    return NULL;
  o->f = 255;
  /* F as "*255" (Q3D meters) or ".255" (the DSMR 4.2.2 standard's own
   * example telegram): the same group. */
  if (*s == '*' || *s == '.')
    s = field_fast(s + 1, &o->f);
  return s;
}

/* ---- the fast path ---------------------------------------------------- */

/* Ids end at the first byte below '-': '(' or '*' (or a line end). */
#define ID_STOP 0x2D

/* An id with at least OBIS_MAX readable bytes at s, followed by '(', for
 * the fast path: returns its end (the '(') or NULL and, in *row, 1 + its
 * row in the OBIS table when it is one the library knows by its text
 * (obis.c), else 0. Those ids, nearly all of a real telegram, are found by
 * hashing their bytes and comparing them with the canonical text of the
 * table's ids ("1-0:1.8.1"): half the cost of reading five numbers digit
 * by digit, and the mapper need not look the id up again. The digit
 * parser gives any such text the same numbers. */
static HOT_INLINE const char *id_fast(const char *s, struct dsmr_obis *o,
                                      unsigned *row) {
#if defined(LITTLE_ENDIAN_WORDS) || defined(SWAPPED_TEXT_WORDS)
  /* Known ids are 9..15 bytes long, so they end in the second word; bytes
   * 0..7 are compared whole, so a shorter id there cannot match. */
  uint64_t lo = load64(s), hi = load64(s + 8);
#ifdef SWAPPED_TEXT_WORDS
  lo = __builtin_bswap64(lo);
  hi = __builtin_bswap64(hi);
#endif
  uint64_t m = BELOW(hi, ID_STOP);
  if (m) {
    size_t len = 8 + ((size_t)__builtin_ctzll(m) >> 3);
    hi &= ~(~0ULL << (8 * (len - 8))); /* zeros after the text */
    const struct obis_text *t = dsmr_obis_find_text(lo, hi);
    if (t && s[len] == '(') {
      *o = t->obis;
      *row = t->row;
      return s + len;
    }
  }
#endif
  *row = 0;
  s = obis_fast(s, o);
  return s && *s == '(' ? s : NULL;
}

#ifdef __SSE2__
/* Which of the 16 bytes at s can end a group (are below GROUP_STOP), as a
 * bit mask: the step of scan_group (parser.c) and group_end_fast. Bytes
 * <= 0x29 are those that saturate to 0 when 0x29 is subtracted. */
static HOT_INLINE unsigned group_stop_mask16(const char *s) {
  const __m128i top = _mm_set1_epi8(GROUP_STOP - 1);
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
  return (unsigned)_mm_movemask_epi8(
      _mm_cmpeq_epi8(_mm_subs_epu8(x, top), _mm_setzero_si128()));
}
#endif

/* For the fast path: the first byte at or after s that can end a group
 * (scan_group), if the two bytes after it are readable; else NULL. With
 * SSE2 a hit within a 16-byte step taken at least 18 bytes before the end
 * has them without a test. */
static HOT_INLINE const char *group_end_fast(const char *s, const char *e) {
#ifdef __SSE2__
  for (; e - s >= 18; s += 16) {
    unsigned m = group_stop_mask16(s);
    if (m)
      return s + (unsigned)__builtin_ctz(m);
  }
  /* The last bytes of the telegram: byte by byte, which needs none of the
   * word-wide constants in the registers of the fast path. */
  while (s < e && (unsigned char)*s >= GROUP_STOP)
    s++;
#else
  s = scan_below(s, e, GROUP_STOP);
#endif
  return e - s >= 3 ? s : NULL;
}

/* The common case, which is nearly every line of a real telegram: an id,
 * groups with nothing but value text in them, and a line end (CR LF or
 * LF) that is not followed by a continuation line. Returns where the next
 * line starts (and, in *row, what id_fast says), or NULL for anything else
 * (then next_general reads the line again from its start, so what the fast path
 * accepts it must parse exactly as next_general would). Kept apart and small,
 * so that it needs few registers: the general parser spends a good part of
 * its time per object saving and restoring them. Always inlined: left to
 * the compiler it stays a call in the mapper's loop, which costs more than
 * inlining saves (HACKING.md, "Benchmarks"). */
static HOT_INLINE const char *line_fast(const char *s, const char *e,
                                        struct dsmr_object *obj,
                                        unsigned *row) {
  const char *id = s;
  if (!(s = id_fast(s, &obj->obis, row)))
    return NULL;
  obj->id.ptr = id;
  obj->id.len = (size_t)(s - id);
  unsigned n = 0;
  for (;;) {
    const char *g = ++s;
    /* ')' and room for the line end after it (s + 1 < e below) */
    if (!(s = group_end_fast(s, e)) || *s != ')')
      return NULL;
    obj->groups[n].ptr = g;
    obj->groups[n].len = (size_t)(s - g);
    n++;
    if (*++s != '(')
      break;
    if (n == DSMR_MAX_GROUPS)
      return NULL;
  }
  if (s[0] == '\r' && s[1] == '\n')
    s += 2;
  else if (s[0] == '\n')
    s++;
  else
    return NULL;
  if (s < e && *s == '(')
    return NULL; /* a continuation line */
  obj->flags = 0;
  obj->ngroups = n;
  return s;
}

#endif
