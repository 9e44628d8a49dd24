/* The benchmarks' allocation counter and clock (see harness.h): malloc,
 * calloc and realloc wrapped around glibc's, each call counted. Linked
 * into the benchmark programs only. */
#include "harness.h"

#include <stddef.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

/* the wrappers replace the C library's for the whole program */
void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);

unsigned long bench_allocations;

void *malloc(size_t n) {
  bench_allocations++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  bench_allocations++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  bench_allocations++;
  return __libc_realloc(p, n);
}

double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
