/* The parser walks one framed telegram ('/' .. '!') and yields its OBIS
 * objects one at a time, without copying or allocating: every piece of text
 * is a span into the caller's buffer.
 *
 * Grammar (lenient where real meters are, strict where corruption shows):
 *   header:  '/' text up to the first CR/LF (the span excludes the '/')
 *   object:  id groups [trailing]
 *   id:      A '-' B ':' C '.' D '.' E [('*' | '.') F]
 *            (decimal, each 0..255; F = 255 is the same object as no F)
 *   groups:  '(' text ')' ...  text ends at the first ')'; it may be empty.
 *            A group left open at the end of a line continues on the next
 *            line (long text messages are wrapped that way), unless that
 *            line starts with an OBIS id or '!', which makes the object
 *            malformed.
 *   continuation: a line that starts with '(' right after an object's
 *            line appends its groups to that object (DSMR 3: "(00124.477)"
 *            after 0-n:24.3.0). Anywhere else (after an empty or rejected
 *            line) such a line is an error.
 *   trailing: after a ')' anything but '(' or the line end ends the
 *            object's groups; the rest of the line is ignored (TRAILING).
 *   Empty lines are skipped. Lines end with CR LF, LF or CR.
 *
 * A line that does not fit is reported as DSMR_PARSE_ERROR with its line
 * number and a reason; the next call continues with the following line.
 */
#ifndef DSMR_PARSER_H
#define DSMR_PARSER_H

#include <stdint.h>

#include "span.h"

#define DSMR_MAX_GROUPS 64

struct dsmr_obis {
  uint8_t a, b, c, d, e;
  uint8_t f; /* 255 unless written ("1-0:1.8.0*255", "1-0:31.7.0.255") */
};

enum dsmr_object_flags {
  DSMR_OBJ_CONTINUATION = 1u << 0, /* groups came from a following line */
  DSMR_OBJ_MULTILINE = 1u << 1,    /* a group spans a line break */
  DSMR_OBJ_TRAILING = 1u << 2,     /* text after the last ')' was ignored */
  DSMR_OBJ_NESTED = 1u << 3,       /* a group contains '(' */
};

struct dsmr_object {
  struct dsmr_span id; /* exact text, e.g. "1-0:1.8.1" or "1-0:1.8.0*255" */
  struct dsmr_obis obis;
  unsigned line; /* 1-based line number within the telegram; header = 1 */
  unsigned flags;
  unsigned ngroups;
  struct dsmr_span groups[DSMR_MAX_GROUPS]; /* text between '(' and ')' */
};

enum dsmr_parse_status {
  DSMR_PARSE_END = 0,
  DSMR_PARSE_OBJECT = 1,
  DSMR_PARSE_ERROR = -1,
};

struct dsmr_parser {
  const char *pos, *end;
  unsigned line;
  struct dsmr_span header; /* without the leading '/' */
  /* set on DSMR_PARSE_ERROR */
  unsigned error_line;
  const char *error; /* static string: why the line was rejected */
  /* Internal, for the mapper: 1 + the row of the library's OBIS table
   * (obis_table.h) of the object just returned, when the parser knew its
   * id by its text; else 0 (then look the id up). */
  unsigned known_row;
};

/* telegram/len: a frame from the framer ('/' .. '!'); the trailing '!' may
 * be present or not. */
void dsmr_parser_init(struct dsmr_parser *p, const char *telegram, size_t len);

/* Next object into *obj: DSMR_PARSE_OBJECT, DSMR_PARSE_ERROR (p->error,
 * p->error_line; *obj is undefined) or DSMR_PARSE_END. */
enum dsmr_parse_status dsmr_parser_next(struct dsmr_parser *p,
                                        struct dsmr_object *obj);

#endif
