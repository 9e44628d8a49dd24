/* Every real telegram of the corpus through the framer and the parser:
 * the frame must be found where it is, its CRC verdict must match what the
 * corpus says, and the parser must yield exactly the expected objects, in
 * order, with byte-exact group texts and no error. */
#include <stdlib.h>
#include <string.h>

#include "corpus_util.h"
#include "framer.h"
#include "number.h"
#include "parser.h"
#include "tap.h"
#include "timestamp.h"

static int span_is(struct dsmr_span s, const char *raw, size_t len) {
  return s.len == len && (len == 0 || memcmp(s.ptr, raw, len) == 0);
}

/* Line number of the byte at p, counted independently of the parser. */
static unsigned line_of(const char *frame, const char *p) {
  unsigned line = 1;
  for (const char *q = frame; q < p; q++)
    if (*q == '\n' || (*q == '\r' && (q + 1 == p || q[1] != '\n')))
      line++;
  return line;
}

/* Parses text[0..len) and compares with t's expected objects, whose group
 * texts are first passed through eol() (to test other line-end styles).
 * The parser sees an exactly sized heap copy, so that ASan and valgrind
 * catch any read past the end. */
static void check_parse(const struct corpus_telegram *t, const char *text,
                        size_t len, const char *style,
                        size_t (*eol)(char *, size_t)) {
  char *frame = malloc(len);
  memcpy(frame, text, len);
  struct dsmr_parser p;
  static struct dsmr_object obj;
  unsigned n = 0, errors = 0, mismatches = 0, bad_lines = 0;
  enum dsmr_parse_status st;

  dsmr_parser_init(&p, frame, len);
  ok(p.header.len > 0 && p.header.ptr == frame + 1, "%s (%s): header found",
     t->id, style);
  while ((st = dsmr_parser_next(&p, &obj)) != DSMR_PARSE_END) {
    if (st == DSMR_PARSE_ERROR) {
      errors++;
      printf("#   line %u: %s\n", p.error_line, p.error);
      continue;
    }
    if (obj.line != line_of(frame, obj.id.ptr))
      bad_lines++;
    if (t->nobjects == 0) {
      n++;
      continue; /* the seed telegram: no expectations, only no errors */
    }
    if (n >= t->nobjects) {
      n++;
      mismatches++;
      continue;
    }
    const struct corpus_object *o = &t->objects[n++];
    int same =
        span_is(obj.id, o->obis, strlen(o->obis)) && obj.ngroups == o->ngroups;
    for (unsigned g = 0; same && g < o->ngroups; g++) {
      char *want = malloc(o->groups[g].len + 1);
      memcpy(want, o->groups[g].raw, o->groups[g].len);
      size_t wlen = eol(want, o->groups[g].len);
      same = span_is(obj.groups[g], want, wlen);
      free(want);
    }
    if (!same) {
      mismatches++;
      printf("#   object %u: got %.*s with %u groups, want %s with %u\n", n,
             (int)obj.id.len, obj.id.ptr, obj.ngroups, o->obis, o->ngroups);
    }
  }
  is_int(errors, 0, "%s (%s): no parse errors", t->id, style);
  if (t->nobjects)
    is_int(n, t->nobjects, "%s (%s): object count", t->id, style);
  else
    ok(n > 0, "%s (%s): objects found (%u)", t->id, style, n);
  is_int(mismatches, 0, "%s (%s): ids and groups byte-exact", t->id, style);
  is_int(bad_lines, 0, "%s (%s): line numbers right", t->id, style);
  free(frame);
}

static size_t eol_keep(char *s, size_t n) {
  (void)s;
  return n;
}

/* CR LF -> LF */
static size_t eol_lf(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '\r' && i + 1 < n && s[i + 1] == '\n'))
      s[o++] = s[i];
  return o;
}

/* CR LF -> CR */
static size_t eol_cr(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    if (!(s[i] == '\n' && i > 0 && s[i - 1] == '\r'))
      s[o++] = s[i];
  return o;
}

static void check_framer(const struct corpus_telegram *t, size_t off,
                         size_t len) {
  char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  struct dsmr_framer f;
  struct dsmr_frame frame;
  enum dsmr_frame_event ev;
  unsigned telegrams = 0;
  const char *p = t->data;
  size_t left = t->len;

  dsmr_framer_init(&f, buf, sizeof buf);
  while (left > 0) {
    size_t used = dsmr_framer_feed(&f, p, left, &ev, &frame);
    p += used;
    left -= used;
    if (ev != DSMR_FRAME_TELEGRAM)
      continue;
    if (telegrams++ > 0)
      continue;
    ok(frame.len == len && memcmp(frame.data, t->data + off, len) == 0,
       "%s: framer finds the frame located by hand", t->id);
    int want = !t->crc_present ? DSMR_CRC_NONE
               : t->crc_ok     ? DSMR_CRC_OK
                               : DSMR_CRC_BAD;
    is_int(frame.crc, want, "%s: CRC verdict (present %d, ok %d)", t->id,
           t->crc_present, t->crc_ok);
  }
  is_int(telegrams, 1, "%s: exactly one telegram in the file", t->id);
}

static const char *const known_units[] = {
    "kWh", "kW", "kvarh", "kvar", "kVArh", "kVAr", "kVA",  "V",   "A",
    "m3",  "GJ", "s",     "Hz",   "W",     "Wh",   "varh", "var",
};

/* Every "number*unit" and every flagged timestamp in the corpus goes
 * through the number and timestamp parsers. */
static void check_values(const struct corpus *c) {
  unsigned numbers = 0, bad_numbers = 0, stamps = 0, bad_stamps = 0;
  unsigned invalid_stamps = 0;

  for (size_t i = 0; i < c->n; i++)
    for (unsigned j = 0; j < c->t[i].nobjects; j++)
      for (unsigned k = 0; k < c->t[i].objects[j].ngroups; k++) {
        const struct corpus_group *g = &c->t[i].objects[j].groups[k];
        struct dsmr_span s = {g->raw, g->len};
        const char *star = memchr(g->raw, '*', g->len);
        if (star && g->len > 0 && (g->raw[0] == '-' || g->raw[0] <= '9')) {
          struct dsmr_number num;
          int known = 0;
          numbers++;
          if (dsmr_parse_number(s, &num) == 0)
            for (size_t u = 0; u < sizeof known_units / sizeof *known_units;
                 u++)
              known |= dsmr_span_eq(num.unit, known_units[u]);
          if (!known) {
            bad_numbers++;
            printf("#   %s: number \"%s\" rejected\n", c->t[i].id, g->raw);
          }
        }
        if (g->len == 13 && strchr("WSws", g->raw[12]) &&
            strspn(g->raw, "0123456789") == 12) {
          int64_t utc;
          stamps++;
          int st = dsmr_parse_timestamp(s, &utc, NULL);
          if (st == DSMR_TS_INVALID &&
              (strncmp(g->raw, "632525252525", 12) == 0 ||
               strncmp(g->raw, "000000000000", 12) == 0))
            invalid_stamps++;
          else if (st != DSMR_TS_OK) {
            bad_stamps++;
            printf("#   %s: timestamp \"%s\" -> %d\n", c->t[i].id, g->raw, st);
          }
        }
      }
  ok(numbers > 500, "corpus has %u value*unit groups", numbers);
  is_int(bad_numbers, 0, "every value*unit parses with a known unit");
  ok(stamps > 100, "corpus has %u timestamps", stamps);
  is_int(bad_stamps, 0, "every timestamp parses (or is a known placeholder)");
  ok(invalid_stamps >= 3, "placeholder timestamps rejected (%u)",
     invalid_stamps);
}

int main(void) {
  struct corpus c;

  if (corpus_load(&c) != 0) {
    ok(0, "corpus loads from %s", corpus_top_srcdir());
    return tap_done();
  }
  ok(c.n >= 40, "corpus has %zu telegrams", c.n);

  for (size_t i = 0; i < c.n; i++) {
    const struct corpus_telegram *t = &c.t[i];
    size_t off, len;
    if (!ok(corpus_find_frame(t->data, t->len, &off, &len) == 0,
            "%s: frame located", t->id))
      continue;
    check_framer(t, off, len);

    check_parse(t, t->data + off, len, "as sent", eol_keep);

    /* The same telegram with LF-only and CR-only line ends. */
    char *copy = malloc(len);
    memcpy(copy, t->data + off, len);
    size_t n = eol_lf(copy, len);
    check_parse(t, copy, n, "LF", eol_lf);
    memcpy(copy, t->data + off, len);
    n = eol_cr(copy, len);
    check_parse(t, copy, n, "CR", eol_cr);
    /* Without the final '!' (the framer may hand it over either way). */
    check_parse(t, t->data + off, len - 1, "no '!'", eol_keep);
    free(copy);
  }
  check_values(&c);
  corpus_free(&c);
  return tap_done();
}
