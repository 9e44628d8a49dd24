/* The telegram parser: one framed telegram in, OBIS objects out, one per
 * call, as spans into the caller's buffer (no copy, no allocation).
 *
 * Speed matters because the plugin may run on a small router reading a
 * DSMR 5 meter every second, and fuzzers and benchmarks run it millions of
 * times. Most bytes of a telegram are value text, so the inner loop is the
 * search for the end of a group: 16 bytes per step with SSE2, else 8 (SWAR),
 * looking only for the few bytes that matter there ('(', ')', line ends).
 * Ids the library knows are recognised by their text (one hash, one
 * 16-byte compare); others are read digit by digit, without bounds checks
 * while the id cannot reach the end of the buffer. Ordinary lines take a
 * fast path with few registers to save (parser_fast.h, which the mapper
 * inlines into its loop); anything unusual is read again by the general
 * parser. What each stage costs: HACKING.md, "Benchmarks". */
#include <stdint.h>
#include <string.h>

#include "inline.h"
#include "obis_table.h"
#include "parser.h"
#include "parser_fast.h"

/* ---- byte scanning ---------------------------------------------------- */

#ifdef __SSE2__
/* Value text is mostly 8..20 bytes: with SSE2 (every x86-64) one 16-byte
 * step (group_stop_mask16, parser_fast.h) usually covers a whole group. */
static inline const char *scan_group(const char *s, const char *e) {
  for (; e - s >= 16; s += 16) {
    unsigned m = group_stop_mask16(s);
    if (m)
      return s + __builtin_ctz(m);
  }
  return scan_below(s, e, GROUP_STOP);
}
#else
static inline const char *scan_group(const char *s, const char *e) {
  return scan_below(s, e, GROUP_STOP);
}
#endif

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

/* The same, for the last bytes of the telegram. */
static const char *field_checked(const char *s, const char *e, uint8_t *out) {
  char tmp[3] = {'x', 'x', 'x'};
  size_t n = (size_t)(e - s) < 3 ? (size_t)(e - s) : 3;
  memcpy(tmp, s, n);
  const char *r = field_fast(tmp, out);
  return r ? s + (r - tmp) : NULL;
}

/* The same near the end of the buffer, where every read is checked. */
static const char *obis_checked(const char *s, const char *e,
                                struct dsmr_obis *o) {
  if (!(s = field_checked(s, e, &o->a)) || s >= e || *s != '-' ||
      !(s = field_checked(s + 1, e, &o->b)) || s >= e || *s != ':' ||
      !(s = field_checked(s + 1, e, &o->c)) || s >= e || *s != '.' ||
      !(s = field_checked(s + 1, e, &o->d)) || s >= e || *s != '.' ||
      !(s = field_checked(s + 1, e, &o->e)))
    return NULL;
  o->f = 255;
  if (s < e && (*s == '*' || *s == '.'))
    s = field_checked(s + 1, e, &o->f);
  return s;
}

static inline const char *parse_obis(const char *s, const char *e,
                                     struct dsmr_obis *o) {
  return e - s >= OBIS_MAX ? obis_fast(s, o) : obis_checked(s, e, o);
}

/* Does a wrapped group's next line start a new object (or the end)? Then
 * the group was cut off, not wrapped. */
static int starts_object(const char *s, const char *e) {
  struct dsmr_obis scratch;
  return s >= e || *s == '!' || parse_obis(s, e, &scratch) != NULL;
}

_Static_assert((DSMR_MAX_GROUPS & (DSMR_MAX_GROUPS - 1)) == 0,
               "DSMR_MAX_GROUPS must be a power of two");

/* ---- the parser ------------------------------------------------------- */

void dsmr_parser_init(struct dsmr_parser *p, const char *telegram, size_t len) {
  const char *s = telegram, *e = telegram ? telegram + len : telegram;

  p->end = e;
  p->line = 1;
  p->known_row = 0;
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
  /* Empty lines (the one after the header) are skipped here, as the first
   * dsmr_parser_next would skip them, so that it starts on an object line,
   * where its fast path is. */
  while (s < e && is_eol(*s)) {
    s = skip_eol(s, e);
    p->line++;
  }
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

/* The rare bytes the group scan stops at besides ')': s points at one
 * ('(', a line end, or another byte below '*'). Returns where to scan on,
 * or NULL when the group was cut off (then *resume is the line to go on
 * with). */
static const char *group_stop(const char *s, const char *e, unsigned *line,
                              unsigned *flags, const char **resume) {
  if (s >= e) {
    *resume = e;
    return NULL;
  }
  if (*s == '(') {
    *flags |= DSMR_OBJ_NESTED;
    return s + 1;
  }
  if (!is_eol(*s))
    return s + 1; /* a space or another low byte inside the text */
  /* A group open at the end of the line: a wrapped text message goes on,
   * unless the next line is a new object or the end. */
  const char *next = skip_eol(s, e);
  ++*line;
  if (starts_object(next, e)) {
    *resume = next;
    return NULL;
  }
  *flags |= DSMR_OBJ_MULTILINE;
  return next;
}

/* Anything but an object line where one should start: the end, an empty
 * line, or an error. Returns 1 with *sp at the next object line, or 0
 * with the status in *st. */
static int not_object(struct dsmr_parser *p, const char **sp, unsigned *line,
                      enum dsmr_parse_status *st) {
  const char *s = *sp, *e = p->end;
  for (;;) {
    if (s >= e || *s == '!') {
      p->pos = e;
      p->line = *line;
      *st = DSMR_PARSE_END;
      return 0;
    }
    if (!is_eol(*s))
      break;
    s = skip_eol(s, e); /* an empty line */
    ++*line;
  }
  if (DIGIT(*s) <= 9) {
    *sp = s;
    return 1;
  }
  /* A continuation line is eaten by the object before it, so one seen
   * here has no object. */
  *st = fail_line(p, s, *line,
                  *s == '(' ? "value group without an OBIS id" : ERR_NOT_OBIS);
  return 0;
}

/* The general case: any line, with every rule of the grammar. */
COLD static enum dsmr_parse_status next_general(struct dsmr_parser *p,
                                                struct dsmr_object *obj) {
  const char *s = p->pos, *e = p->end;
  unsigned line = p->line;
  enum dsmr_parse_status st;

  /* Object lines start with a digit; everything else is the slow path. */
  if (s >= e || DIGIT(*s) > 9)
    if (!not_object(p, &s, &line, &st))
      return st;

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
      if (s < e && *s == ')')
        break;
      const char *resume;
      if (!(s = group_stop(s, e, &line, &flags, &resume)))
        return fail(p, first_line, ERR_OPEN, resume, line);
    }
    /* Past the limit the count goes on (so the whole object is consumed
     * and then reported as an error, with *obj undefined) and the slots
     * are reused: cheaper than a test per group. */
    obj->groups[n & (DSMR_MAX_GROUPS - 1)].ptr = g;
    obj->groups[n & (DSMR_MAX_GROUPS - 1)].len = (size_t)(s - g);
    n++;
    if (++s >= e)
      break;
    char c = *s;
    if (c == '(')
      continue;
    if (c == '\r') {
      if (++s < e && *s == '\n')
        s++;
    } else if (c == '\n') {
      s++;
    } else {
      /* "((ER11))" or other text after the last group: ignored. */
      flags |= DSMR_OBJ_TRAILING;
      s = find_eol(s, e);
      if (s >= e)
        break;
      s = skip_eol(s, e);
    }
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

/* ---- the fast path ---------------------------------------------------- */

enum dsmr_parse_status dsmr_parser_next(struct dsmr_parser *p,
                                        struct dsmr_object *obj) {
  const char *s = p->pos, *e = p->end;
  unsigned row;
  /* id_fast needs OBIS_MAX bytes; then this is an object line or not. */
  if (e - s >= OBIS_MAX && (s = line_fast(s, e, obj, &row)) != NULL) {
    obj->line = p->line++;
    p->pos = s;
    p->known_row = row;
    return DSMR_PARSE_OBJECT;
  }
  p->known_row = 0;
  return next_general(p, obj);
}
