/* Invariant checks for the fuzz targets. A failed check prints what was
 * expected and where, then abort()s: libFuzzer treats the abort as a crash
 * and saves the input, exactly as it does for a sanitizer report. Plain
 * assert() is not used because NDEBUG would silently turn it off. */
#ifndef DSMR_FUZZ_ASSERT_H
#define DSMR_FUZZ_ASSERT_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_ASSERT(cond)                                                        \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* The same, with the values involved, for checks whose failure is only
 * understandable with them. */
#define FZ_ASSERT_MSG(cond, ...)                                               \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__,     \
              #cond);                                                          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* libFuzzer's entry point; declared here so that -Wmissing-prototypes
 * holds for the targets. */
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
