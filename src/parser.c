/* The telegram parser: one framed telegram in, OBIS objects out, one per
 * call, as spans into the caller's buffer (no copy, no allocation).
 *
 * Speed matters because the plugin may run on a small router reading a
 * DSMR 5 meter every second, and fuzzers and benchmarks run it millions of
 * times. Most bytes of a telegram are value text, so the inner loop is the
 * search for the end of a group; it looks at 8 bytes per step (SWAR) for
 * the few bytes that matter there: '(' , ')' and line ends. Everything else
 * (OBIS ids, line breaks) is a handful of bytes per line. */
#include <stdint.h>
#include <string.h>

#include "parser.h"

/* ---- byte scanning ---------------------------------------------------- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

#if defined(__GNUC__)
#define COLD __attribute__((cold, noinline))
#else
#define COLD
#endif

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

static inline int is_eol(char c) {
  return c == '\r' || c == '\n';
}

/* The first CR or LF in [s, e), or e. */
static const char *find_eol(const char *s, const char *e) {
  for (;;) {
    s = scan_below(s, e, CTL_STOP);
    if (s == e || is_eol(*s))
      return s;
    s++; /* a tab or another control byte: part of the line */
  }
}

/* s points at CR or LF: step over one line end (CR LF, LF or CR). */
static inline const char *skip_eol(const char *s, const char *e) {
  if (*s++ == '\r' && s < e && *s == '\n')
    s++;
  return s;
}

/* ---- OBIS ids --------------------------------------------------------- */

static const char *const ERR_NOT_OBIS = "line is not an OBIS object";
static const char *const ERR_OPEN = "value group not closed";

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

/* The same, for the last bytes of the telegram. */
static const char *field_checked(const char *s, const char *e, uint8_t *out) {
  char tmp[3] = {'x', 'x', 'x'};
  size_t n = (size_t)(e - s) < 3 ? (size_t)(e - s) : 3;
  memcpy(tmp, s, n);
  const char *r = field_fast(tmp, out);
  return r ? s + (r - tmp) : NULL;
}

/* A-B:C.D.E[*F]; returns the end of the id, or NULL. Ids are about a
 * third of a telegram's bytes, hence the unchecked path when the id
 * cannot reach the end of the buffer. */
static const char *parse_obis(const char *s, const char *e,
                              struct dsmr_obis *o) {
  if (e - s >= OBIS_MAX) {
    if (!(s = field_fast(s, &o->a)) || *s != '-' ||
        !(s = field_fast(s + 1, &o->b)) || *s != ':' ||
        !(s = field_fast(s + 1, &o->c)) || *s != '.' ||
        !(s = field_fast(s + 1, &o->d)) || *s != '.' ||
        !(s = field_fast(s + 1, &o->e)))
      return NULL;
    o->f = 255;
    if (*s == '*')
      s = field_fast(s + 1, &o->f);
    return s;
  }
  if (!(s = field_checked(s, e, &o->a)) || s >= e || *s != '-' ||
      !(s = field_checked(s + 1, e, &o->b)) || s >= e || *s != ':' ||
      !(s = field_checked(s + 1, e, &o->c)) || s >= e || *s != '.' ||
      !(s = field_checked(s + 1, e, &o->d)) || s >= e || *s != '.' ||
      !(s = field_checked(s + 1, e, &o->e)))
    return NULL;
  o->f = 255;
  if (s < e && *s == '*')
    s = field_checked(s + 1, e, &o->f);
  return s;
}

/* Does a wrapped group's next line start a new object (or the end)? Then
 * the group was cut off, not wrapped. */
static int starts_object(const char *s, const char *e) {
  struct dsmr_obis scratch;
  return s >= e || *s == '!' || parse_obis(s, e, &scratch) != NULL;
}

/* ---- the parser ------------------------------------------------------- */

void dsmr_parser_init(struct dsmr_parser *p, const char *telegram, size_t len) {
  const char *s = telegram, *e = telegram ? telegram + len : telegram;

  p->end = e;
  p->line = 1;
  p->error_line = 0;
  p->error = NULL;
  p->header.ptr = s;
  p->header.len = 0;
  if (s < e && *s == '/') {
    const char *h = ++s;
    s = find_eol(s, e);
    p->header.ptr = h;
    p->header.len = (size_t)(s - h);
    if (s < e) {
      s = skip_eol(s, e);
      p->line = 2;
    } else if (p->header.len > 0 && s[-1] == '!') {
      p->header.len--; /* "/XYZ5!": a header and nothing else */
    }
  }
  /* Without a '/' there is no header: the first line is parsed as line 1,
   * so that nothing is silently swallowed. */
  p->pos = s;
}

COLD static enum dsmr_parse_status fail(struct dsmr_parser *p, unsigned line,
                                        const char *why, const char *resume,
                                        unsigned resume_line) {
  p->error_line = line;
  p->error = why;
  p->pos = resume;
  p->line = resume_line;
  return DSMR_PARSE_ERROR;
}

/* Error for the line at s: skip past its end. */
COLD static enum dsmr_parse_status fail_line(struct dsmr_parser *p,
                                             const char *s, unsigned line,
                                             const char *why) {
  const char *e = p->end;
  s = find_eol(s, e);
  if (s < e) {
    s = skip_eol(s, e);
    return fail(p, line, why, s, line + 1);
  }
  return fail(p, line, why, s, line);
}

enum dsmr_parse_status dsmr_parser_next(struct dsmr_parser *p,
                                        struct dsmr_object *obj) {
  const char *s = p->pos, *e = p->end;
  unsigned line = p->line;

  while (s < e && is_eol(*s)) { /* empty lines */
    s = skip_eol(s, e);
    line++;
  }
  if (s >= e || *s == '!') {
    p->pos = e;
    p->line = line;
    return DSMR_PARSE_END;
  }
  if (*s == '(') /* a continuation line is eaten by the object before it */
    return fail_line(p, s, line, "value group without an OBIS id");

  const char *id = s;
  s = parse_obis(s, e, &obj->obis);
  if (!s)
    return fail_line(p, id, line, ERR_NOT_OBIS);
  if (s >= e || *s != '(')
    return fail_line(p, s, line, "no '(' after the OBIS id");

  const unsigned first_line = line;
  unsigned flags = 0, n = 0;
  obj->id.ptr = id;
  obj->id.len = (size_t)(s - id);

  /* Each turn of this loop reads one group; s points at its '('. */
  for (;;) {
    const char *g = ++s;
    for (;;) {
      s = scan_below(s, e, GROUP_STOP);
      if (s >= e)
        return fail(p, first_line, ERR_OPEN, e, line);
      char c = *s;
      if (c == ')')
        break;
      if (c == '(') {
        flags |= DSMR_OBJ_NESTED;
        s++;
      } else if (is_eol(c)) {
        /* A group open at the end of the line: a wrapped text message
         * goes on, unless the next line is a new object or the end. */
        const char *next = skip_eol(s, e);
        line++;
        if (starts_object(next, e))
          return fail(p, first_line, ERR_OPEN, next, line);
        flags |= DSMR_OBJ_MULTILINE;
        s = next;
      } else {
        s++; /* a space or other low byte inside the text */
      }
    }
    if (n < DSMR_MAX_GROUPS) {
      obj->groups[n].ptr = g;
      obj->groups[n].len = (size_t)(s - g);
    }
    n++; /* counted beyond the limit so the whole object is consumed */
    if (++s >= e)
      break;
    if (*s == '(')
      continue;
    if (!is_eol(*s)) {
      /* "((ER11))" or other text after the last group: ignored. */
      flags |= DSMR_OBJ_TRAILING;
      s = find_eol(s, e);
      if (s >= e)
        break;
    }
    s = skip_eol(s, e);
    line++;
    if (s < e && *s == '(') {
      /* DSMR 3 gas: "0-1:24.3.0(...)(m3)" then "(00124.477)". */
      flags |= DSMR_OBJ_CONTINUATION;
      continue;
    }
    break;
  }

  p->pos = s;
  p->line = line;
  if (n > DSMR_MAX_GROUPS) {
    p->error_line = first_line;
    p->error = "too many value groups";
    return DSMR_PARSE_ERROR;
  }
  obj->line = first_line;
  obj->flags = flags;
  obj->ngroups = n;
  return DSMR_PARSE_OBJECT;
}
