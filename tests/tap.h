/* A minimal TAP producer for the pure-C unit tests (automake's tap-driver
 * counts every assertion). Header-only; each test file includes it once. */
#ifndef DSMR_TAP_H
#define DSMR_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static unsigned tap_n, tap_failed;

static int tap_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int tap_ok(int cond, const char *fmt, ...) {
  va_list ap;
  printf("%s %u - ", cond ? "ok" : "not ok", ++tap_n);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  if (!cond)
    tap_failed++;
  return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, ...)                                                 \
  do {                                                                         \
    long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);           \
    if (!tap_ok(tap_g_ == tap_w_, __VA_ARGS__))                                \
      printf("#   got %lld, want %lld\n", tap_g_, tap_w_);                     \
  } while (0)

#define is_str(got, want, ...)                                                 \
  do {                                                                         \
    const char *tap_g_ = (got), *tap_w_ = (want);                              \
    if (!tap_ok(tap_g_ && tap_w_ && strcmp(tap_g_, tap_w_) == 0, __VA_ARGS__)) \
      printf("#   got \"%s\", want \"%s\"\n", tap_g_ ? tap_g_ : "(null)",      \
             tap_w_ ? tap_w_ : "(null)");                                      \
  } while (0)

/* Call last: prints the plan and returns main's exit status. */
static int tap_done(void) {
  printf("1..%u\n", tap_n);
  if (tap_failed)
    printf("# %u of %u failed\n", tap_failed, tap_n);
  return tap_failed ? 1 : 0;
}

#endif
