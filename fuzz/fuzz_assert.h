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

/* Fill the stack below the caller with non-zero garbage, so that a local
 * variable the library forgets to initialise holds garbage in the next
 * call too, deterministically, rather than whatever earlier inputs left
 * there (often zeros). A string read from such a variable then runs into
 * AddressSanitizer's redzone on the first input that reaches it, and the
 * crash replays from the saved input alone. (MemorySanitizer finds the
 * same directly: build.sh makes *_msan variants.) */
static inline __attribute__((noinline)) void fz_dirty_stack(void) {
  volatile unsigned char junk[64 * 1024];
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = 0xA5;
}

/* libFuzzer's entry point; declared here so that -Wmissing-prototypes
 * holds for the targets. */
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
