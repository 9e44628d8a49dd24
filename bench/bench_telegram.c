/* Cost of the library path per telegram: framing + CRC + parsing + mapping
 * (what the plugin's reader and `dsmr-cat --summary` run), and of the CRC
 * alone. Reports nanoseconds (best of several runs) and heap allocations
 * made inside the measured loop; bench/run.sh adds instruction counts from
 * callgrind. Never run by `make check`: numbers go into README, not into
 * assertions.
 *
 *   bench_telegram [--crc-only] [--stateless] [--chunk N] [--iterations N]
 *                  FILE.p1 */
#include "crc16.h"
#include "framer.h"
#include "mapper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Count heap allocations by wrapping glibc's allocator: any call inside the
 * measured loop is an allocation per telegram. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long allocations;
void *malloc(size_t n) {
  allocations++;
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  allocations++;
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  allocations++;
  return __libc_realloc(p, n);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char input[1 << 20]; /* a stream of telegrams fits */
static char frame_buf[DSMR_DEFAULT_MAX_TELEGRAM];
static struct dsmr_telegram telegram;
/* The plugin's path: one meter's state across its telegrams (the number
 * shapes of mapper.h); --stateless maps each telegram on its own. */
static struct dsmr_map_state map_state;
static int stateless;
static unsigned long telegrams; /* clean telegrams mapped */
static volatile unsigned sink;

/* One telegram through the whole path; returns readings dispatched. */
static unsigned full_path(struct dsmr_framer *f, const char *p, size_t len,
                          size_t chunk) {
  unsigned readings = 0;
  while (len > 0) {
    size_t n = len < chunk ? len : chunk;
    const char *q = p;
    size_t left = n;
    while (left > 0) {
      enum dsmr_frame_event ev;
      struct dsmr_frame fr;
      size_t used = dsmr_framer_feed(f, q, left, &ev, &fr);
      q += used;
      left -= used;
      if (ev == DSMR_FRAME_TELEGRAM && fr.crc != DSMR_CRC_BAD &&
          dsmr_map_telegram_state(fr.data, fr.len, &telegram,
                                  stateless ? NULL : &map_state) == 0) {
        readings += telegram.nreadings;
        telegrams++;
      }
    }
    p += n;
    len -= n;
  }
  return readings;
}

int main(int argc, char **argv) {
  long iterations = 200000;
  size_t chunk = 1 << 16;
  int crc_only = 0;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--crc-only") == 0)
      crc_only = 1;
    else if (strcmp(argv[i], "--stateless") == 0)
      stateless = 1;
    else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
      iterations = atol(argv[++i]);
    else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
      chunk = (size_t)atol(argv[++i]);
    else
      path = argv[i];
  }
  if (!path || iterations <= 0 || chunk == 0) {
    fprintf(stderr,
            "usage: bench_telegram [--crc-only] [--stateless] [--chunk N] "
            "[--iterations N] FILE.p1\n");
    return 2;
  }
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    perror(path);
    return 2;
  }
  size_t len = fread(input, 1, sizeof input, fp);
  fclose(fp);

  struct dsmr_framer f;
  dsmr_framer_init(&f, frame_buf, sizeof frame_buf);
  /* Warm up, and check that the telegram really goes all the way. */
  unsigned readings = full_path(&f, input, len, chunk);
  unsigned long per_pass = telegrams;
  if (!crc_only && readings == 0) {
    fprintf(stderr, "%s: no clean telegram in the file\n", path);
    return 1;
  }
  const char *slash = memchr(input, '/', len);
  const char *bang =
      slash ? memchr(slash, '!', len - (size_t)(slash - input)) : NULL;
  size_t crc_len = bang ? (size_t)(bang - slash) + 1 : len;

  double best = 1e300;
  unsigned long allocs = 0;
  for (int run = 0; run < 5; run++) {
    unsigned long before = allocations;
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) {
      if (crc_only)
        sink += dsmr_crc16(0, slash ? slash : input, crc_len);
      else
        sink += full_path(&f, input, len, chunk);
    }
    double dt = (now_ns() - t0) / (double)iterations;
    allocs += allocations - before;
    if (dt < best)
      best = dt;
  }
  /* A file of several telegrams (a stream): figures per telegram. */
  if (!crc_only && per_pass > 1) {
    best /= (double)per_pass;
    allocs /= per_pass;
    readings /= (unsigned)per_pass;
    len /= per_pass;
  }
  printf("%s %s: %zu bytes, %.0f ns per telegram (%.2f ns/byte), "
         "%.3f allocations per telegram, %u values, %lu telegrams per "
         "pass\n",
         crc_only ? "crc16" : "full path", path, crc_only ? crc_len : len, best,
         best / (double)(crc_only ? crc_len : len),
         (double)allocs / (5.0 * (double)iterations), readings,
         crc_only ? 1 : per_pass);
  return 0;
}
