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

static inline uint64_t load64(const char *s) {
  uint64_t x;
  memcpy(&x, s, sizeof x); /* one unaligned load on every target we meet */
  return x;
}

/* High bit set in each byte < 0x0E (CR, LF and a few other controls).
 * Borrows can flag a byte above a true hit, never below one, so the lowest
 * flagged byte is always a real hit. */
static inline uint64_t ctl_mask(uint64_t x) {
  return (x - ONES * 0x0E) & ~x & HIGHS;
}

/* ... and in each byte that is '(' (0x28) or ')' (0x29): they differ only
 * in bit 0, so one comparison finds both. */
static inline uint64_t group_mask(uint64_t x) {
  uint64_t paren = (x | ONES) ^ (ONES * 0x29);
  return ((paren - ONES) & ~paren & HIGHS) | ctl_mask(x);
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                           \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAGGED(m) ((size_t)__builtin_ctzll(m) >> 3)
#endif

static inline int is_ctl(unsigned char c) {
  return c < 0x0E;
}

static inline int is_eol(char c) {
  return c == '\r' || c == '\n';
}

/* First byte in [s, e) that is '(', ')' or < 0x0E, or e. */
static const char *scan_group(const char *s, const char *e) {
  for (; e - s >= 8; s += 8) {
    uint64_t m = group_mask(load64(s));
    if (m) {
#ifdef FIRST_FLAGGED
      return s + FIRST_FLAGGED(m);
#else
      break; /* the byte loop finds it within these 8 bytes */
#endif
    }
  }
  for (; s < e; s++)
    if (*s == '(' || *s == ')' || is_ctl((unsigned char)*s))
      return s;
  return e;
}

/* First byte in [s, e) that is < 0x0E, or e. */
static const char *scan_ctl(const char *s, const char *e) {
  for (; e - s >= 8; s += 8) {
    uint64_t m = ctl_mask(load64(s));
    if (m) {
#ifdef FIRST_FLAGGED
      return s + FIRST_FLAGGED(m);
#else
      break;
#endif
    }
  }
  for (; s < e; s++)
    if (is_ctl((unsigned char)*s))
      return s;
  return e;
}

/* The first CR or LF in [s, e), or e. */
static const char *find_eol(const char *s, const char *e) {
  for (;;) {
    s = scan_ctl(s, e);
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

/* One decimal field of 1..3 digits, 0..255. */
static inline const char *parse_field(const char *s, const char *e,
                                      uint8_t *out) {
  unsigned v, d;

  if (s >= e || (v = (unsigned)(*s - '0')) > 9)
    return NULL;
  s++;
  if (s < e && (d = (unsigned)(*s - '0')) <= 9) {
    v = v * 10 + d;
    s++;
    if (s < e && (d = (unsigned)(*s - '0')) <= 9) {
      v = v * 10 + d;
      s++;
      if (v > 255)
        return NULL;
    }
  }
  *out = (uint8_t)v;
  return s;
}

/* A-B:C.D.E[*F]; returns the end of the id, or NULL. */
static const char *parse_obis(const char *s, const char *e,
                              struct dsmr_obis *o) {
  if (!(s = parse_field(s, e, &o->a)) || s >= e || *s++ != '-')
    return NULL;
  if (!(s = parse_field(s, e, &o->b)) || s >= e || *s++ != ':')
    return NULL;
  if (!(s = parse_field(s, e, &o->c)) || s >= e || *s++ != '.')
    return NULL;
  if (!(s = parse_field(s, e, &o->d)) || s >= e || *s++ != '.')
    return NULL;
  if (!(s = parse_field(s, e, &o->e)))
    return NULL;
  o->f = 255;
  if (s < e && *s == '*' && !(s = parse_field(s + 1, e, &o->f)))
    return NULL;
  return s;
}

/* Does a wrapped group's next line start a new object (or the end)? Then
 * the group was cut off, not wrapped. */
static int starts_object(const char *s, const char *e) {
  struct dsmr_obis scratch;
  return s >= e || *s == '!' || parse_obis(s, e, &scratch) != NULL;
}

/* ---- the parser ------------------------------------------------------- */

void dsmr_parser_init(struct dsmr_parser *p, const char *telegram,
                      size_t len) {
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

static enum dsmr_parse_status fail(struct dsmr_parser *p, unsigned line,
                                   const char *why, const char *resume,
                                   unsigned resume_line) {
  p->error_line = line;
  p->error = why;
  p->pos = resume;
  p->line = resume_line;
  return DSMR_PARSE_ERROR;
}

/* Error for the line at s: skip past its end. */
static enum dsmr_parse_status fail_line(struct dsmr_parser *p, const char *s,
                                        unsigned line, const char *why) {
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
      s = scan_group(s, e);
      if (s >= e)
        return fail(p, first_line, "value group not closed", e, line);
      if (*s == ')')
        break;
      if (*s == '(') {
        flags |= DSMR_OBJ_NESTED;
        s++;
      } else if (is_eol(*s)) {
        /* A group open at the end of the line: a wrapped text message
         * goes on, unless the next line is a new object or the end. */
        const char *next = skip_eol(s, e);
        line++;
        if (starts_object(next, e))
          return fail(p, first_line, "value group not closed", next, line);
        flags |= DSMR_OBJ_MULTILINE;
        s = next;
      } else {
        s++; /* a tab or other control byte inside the text */
      }
    }
    if (n < DSMR_MAX_GROUPS) {
      obj->groups[n].ptr = g;
      obj->groups[n].len = (size_t)(s - g);
    }
    n++; /* counted beyond the limit so the whole object is consumed */
    s++;
    if (s < e && *s == '(')
      continue;

    if (s < e && !is_eol(*s)) {
      /* "((ER11))" or other text after the last group: ignored. */
      flags |= DSMR_OBJ_TRAILING;
      s = find_eol(s, e);
    }
    if (s < e) {
      s = skip_eol(s, e);
      line++;
    }
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
