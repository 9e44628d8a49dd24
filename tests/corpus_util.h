/* The real-telegram corpus for the C tests: tests/corpus/expected.txt
 * (written by tools/corpus-expect.py from the corpus' public.json) plus the
 * exact bytes of each tests/corpus/telegrams/<id>.p1.
 *
 * Test code only: it allocates freely and aborts the test on I/O errors. */
#ifndef DSMR_CORPUS_UTIL_H
#define DSMR_CORPUS_UTIL_H

#include <stddef.h>

struct corpus_group {
  char *raw; /* unescaped, NUL-terminated (raw text may hold CR LF) */
  size_t len;
};

struct corpus_object {
  char *obis; /* OBIS id text as written, e.g. "1-0:1.8.0*255" */
  unsigned ngroups;
  struct corpus_group *groups;
};

struct corpus_telegram {
  char *id;        /* file name without ".p1" */
  int crc_present; /* the telegram carries a CRC after '!' */
  int crc_ok;      /* ... and it matches this exact text */
  unsigned nobjects;
  struct corpus_object *objects;
  char *data; /* the .p1 file's bytes (may hold junk after the frame) */
  size_t len;
};

struct corpus {
  struct corpus_telegram *t;
  size_t n;
};

/* Directory of the source tree: $top_srcdir, or "." when unset. */
const char *corpus_top_srcdir(void);

/* Loads expected.txt and every telegram it names. Returns 0, or -1 after
 * printing why to stderr. */
int corpus_load(struct corpus *c);
void corpus_free(struct corpus *c);

/* Locates the frame by hand, independently of the framer: from the first
 * slash through the first '!' after it. Returns 0 and sets *off and
 * *frame_len (which includes the '!'), or -1. */
int corpus_find_frame(const char *data, size_t len, size_t *off,
                      size_t *frame_len);

#endif
