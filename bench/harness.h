/* The timing harness of the library benchmarks (bench_telegram,
 * bench_han): heap allocations counted by wrapping glibc's allocator
 * (bench/harness.c), and BENCH_TIME, which runs a statement a number of
 * times, BENCH_RUNS times over, and keeps the best time per iteration and
 * the allocations made inside the measured loops (any of them is an
 * allocation per telegram or frame). A macro, not a function taking a
 * callback: the measured loop stays what it was, so that callgrind's
 * instruction counts (bench/run.sh) do not move. */
#ifndef DSMR_BENCH_HARNESS_H
#define DSMR_BENCH_HARNESS_H

/* every malloc, calloc and realloc of the program so far */
extern unsigned long bench_allocations;

/* CLOCK_MONOTONIC in nanoseconds */
double bench_now_ns(void);

#define BENCH_RUNS 5

/* Runs the statement (...) ITERATIONS times, BENCH_RUNS times; BEST_NS (a
 * double): the best run's nanoseconds per iteration, ALLOCS (unsigned long):
 * the allocations of all runs (divide by BENCH_RUNS x ITERATIONS). */
#define BENCH_TIME(ITERATIONS, BEST_NS, ALLOCS, ...)                           \
  do {                                                                         \
    (BEST_NS) = 1e300;                                                         \
    (ALLOCS) = 0;                                                              \
    for (int bench_run_ = 0; bench_run_ < BENCH_RUNS; bench_run_++) {          \
      unsigned long bench_before_ = bench_allocations;                         \
      double bench_t0_ = bench_now_ns();                                       \
      for (long bench_i_ = 0; bench_i_ < (ITERATIONS); bench_i_++) {           \
        __VA_ARGS__;                                                           \
      }                                                                        \
      double bench_dt_ = (bench_now_ns() - bench_t0_) / (double)(ITERATIONS);  \
      (ALLOCS) += bench_allocations - bench_before_;                           \
      if (bench_dt_ < (BEST_NS))                                               \
        (BEST_NS) = bench_dt_;                                                 \
    }                                                                          \
  } while (0)

#endif
