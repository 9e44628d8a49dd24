/* A view into a caller-owned buffer: the library never copies text out of
 * the telegram and never allocates. */
#ifndef DSMR_SPAN_H
#define DSMR_SPAN_H

#include <stddef.h>
#include <string.h>

struct dsmr_span {
  const char *ptr;
  size_t len;
};

static inline int dsmr_span_eq(struct dsmr_span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

#endif
