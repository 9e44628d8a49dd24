/* Latency probe for bench/ (never in a user's build): the time from the
 * read() that brought a telegram's last byte to the return of its last
 * plugin_dispatch_values, as a histogram written when the process exits.
 *
 * Compiled in only with -DDSMR_LATENCY_PROBE (bench.am builds such a
 * dsmr.so of its own); otherwise both hooks are empty statements. The
 * report goes to the file named by $DSMR_LATENCY_FILE, else to stderr:
 *   count N p50_us X p90_us X p99_us X max_us X
 *   followed by "bucket_us count" lines (1 µs buckets, the last one is
 *   "this many µs or more").
 *
 * Include in meter_reader.c only: the state is static to that file. */
#ifndef DSMR_LATENCY_PROBE_H
#define DSMR_LATENCY_PROBE_H

#ifdef DSMR_LATENCY_PROBE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DSMR_PROBE_BUCKETS 100001 /* 1 µs each: up to 100 ms */

static atomic_ulong dsmr_probe_hist[DSMR_PROBE_BUCKETS];
static atomic_ulong dsmr_probe_max_us;
/* Reader threads are one per meter: the last read is per thread. */
static __thread struct timespec dsmr_probe_t0;

static void dsmr_probe_read(void) {
  clock_gettime(CLOCK_MONOTONIC, &dsmr_probe_t0);
}

static void dsmr_probe_dispatched(void) {
  struct timespec t;
  unsigned long us, max;

  clock_gettime(CLOCK_MONOTONIC, &t);
  us = (unsigned long)((t.tv_sec - dsmr_probe_t0.tv_sec) * 1000000L +
                       (t.tv_nsec - dsmr_probe_t0.tv_nsec) / 1000L);
  atomic_fetch_add(
      &dsmr_probe_hist[us < DSMR_PROBE_BUCKETS ? us : DSMR_PROBE_BUCKETS - 1],
      1);
  max = atomic_load(&dsmr_probe_max_us);
  while (us > max &&
         !atomic_compare_exchange_weak(&dsmr_probe_max_us, &max, us))
    ;
}

static unsigned long dsmr_probe_percentile(unsigned long n, double p) {
  unsigned long want = (unsigned long)((double)n * p), seen = 0;
  for (unsigned long i = 0; i < DSMR_PROBE_BUCKETS; i++) {
    seen += atomic_load(&dsmr_probe_hist[i]);
    if (seen > want)
      return i;
  }
  return DSMR_PROBE_BUCKETS - 1;
}

/* At exit (collectd's orderly shutdown ends in exit()). */
__attribute__((destructor)) static void dsmr_probe_report(void) {
  const char *path = getenv("DSMR_LATENCY_FILE");
  FILE *f = path ? fopen(path, "w") : NULL;
  unsigned long n = 0;

  for (unsigned long i = 0; i < DSMR_PROBE_BUCKETS; i++)
    n += atomic_load(&dsmr_probe_hist[i]);
  if (!f)
    f = stderr;
  fprintf(f, "count %lu p50_us %lu p90_us %lu p99_us %lu max_us %lu\n", n,
          dsmr_probe_percentile(n, 0.50), dsmr_probe_percentile(n, 0.90),
          dsmr_probe_percentile(n, 0.99), atomic_load(&dsmr_probe_max_us));
  for (unsigned long i = 0; i < DSMR_PROBE_BUCKETS; i++)
    if (atomic_load(&dsmr_probe_hist[i]))
      fprintf(f, "%lu %lu\n", i, atomic_load(&dsmr_probe_hist[i]));
  if (f != stderr)
    fclose(f);
}

#define DSMR_PROBE_READ() dsmr_probe_read()
#define DSMR_PROBE_DISPATCHED() dsmr_probe_dispatched()
#else
#define DSMR_PROBE_READ()                                                      \
  do {                                                                         \
  } while (0)
#define DSMR_PROBE_DISPATCHED()                                                \
  do {                                                                         \
  } while (0)
#endif

#endif
