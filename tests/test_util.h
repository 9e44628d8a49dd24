/* Helpers the C unit tests share (header-only, like tap.h): giving up,
 * finding and reading source-tree files, building byte streams. Every
 * function is static inline, so a test that uses only some of them builds
 * clean under -Werror. */
#ifndef DSMR_TEST_UTIL_H
#define DSMR_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* TAP's way to stop a test that cannot go on (the harness counts it as a
 * failure, whatever was planned). */
static inline void bail(const char *why) {
  printf("Bail out! %s\n", why);
  exit(1);
}

/* The source tree: $top_srcdir (set by `make check`), else "..". */
static inline const char *srcdir(void) {
  const char *d = getenv("top_srcdir");
  return d && *d ? d : "..";
}

/* A whole file in one malloc'ed block (one spare byte at the end);
 * NULL when it cannot be read. */
static inline unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  unsigned char *b = NULL;
  long n;
  if (!fp)
    return NULL;
  if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
      fseek(fp, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) != NULL) {
    *len = fread(b, 1, (size_t)n, fp);
    if (*len != (size_t)n) {
      free(b);
      b = NULL;
    }
  }
  fclose(fp);
  return b;
}

/* Hex text ("DB08...") to bytes; bails on a non-hex pair or more than
 * cap bytes. A trailing odd digit is ignored. */
static inline size_t unhex(uint8_t *out, size_t cap, const char *hex) {
  size_t n = 0;
  for (; hex[0] && hex[1]; hex += 2) {
    unsigned v = 0;
    if (n == cap || sscanf(hex, "%2x", &v) != 1)
      bail("bad hex");
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* What an 8N1 reader sees from a 7E1 line: bit 7 carries even parity. */
static inline void parity_7e1(char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned c = (unsigned char)p[i] & 0x7f;
    if (__builtin_popcount(c) & 1)
      c |= 0x80;
    p[i] = (char)c;
  }
}

#endif
