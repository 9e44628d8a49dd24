/* Cost of the library path per telegram: the input chain (framing + CRC,
 * input_chain.h) + parsing + mapping (what the plugin's reader and
 * `dsmr-cat --summary` run), and of the CRC
 * alone. Reports nanoseconds (best of several runs) and heap allocations
 * made inside the measured loop; bench/run.sh adds instruction counts from
 * callgrind. Never run by `make check`: numbers go into README, not into
 * assertions.
 *
 *   bench_telegram [--crc-only] [--stateless] [--chunk N] [--iterations N]
 *                  FILE.p1 */
#include "crc16.h"
#include "harness.h"
#include "input_chain.h"
#include "mapper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char input[1 << 20]; /* a stream of telegrams fits */
static struct dsmr_telegram telegram;
/* The plugin's path: one meter's state across its telegrams (the number
 * shapes of mapper.h); --stateless maps each telegram on its own. */
static struct dsmr_map_state map_state;
static int stateless;
static unsigned long telegrams; /* clean telegrams mapped */
static volatile unsigned sink;

/* One telegram through the whole path; returns readings dispatched. */
static unsigned full_path(struct dsmr_input *in, char *p, size_t len,
                          size_t chunk) {
  unsigned readings = 0;
  while (len > 0) {
    size_t n = len < chunk ? len : chunk;
    struct dsmr_input_out o;
    dsmr_input_feed(in, p, n, 0);
    while (dsmr_input_next(in, &o) != DSMR_INPUT_NONE)
      if (o.ev == DSMR_INPUT_FRAME && o.check == DSMR_INPUT_CHECK_OK &&
          dsmr_map_telegram_state(o.frame.data, o.frame.len, &telegram,
                                  stateless ? NULL : &map_state) == 0) {
        readings += telegram.nreadings;
        telegrams++;
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

  /* as the plugin builds it for a plain meter (buffers allocated here) */
  static struct dsmr_input in;
  struct dsmr_input_config cfg = {.max_telegram = DSMR_DEFAULT_MAX_TELEGRAM,
                                  .check_crc = 1};
  char err[128];
  if (dsmr_input_init(&in, &cfg, 0, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  /* Warm up, and check that the telegram really goes all the way. */
  unsigned readings = full_path(&in, input, len, chunk);
  unsigned long per_pass = telegrams;
  if (!crc_only && readings == 0) {
    fprintf(stderr, "%s: no clean telegram in the file\n", path);
    return 1;
  }
  const char *slash = memchr(input, '/', len);
  const char *bang =
      slash ? memchr(slash, '!', len - (size_t)(slash - input)) : NULL;
  size_t crc_len = bang ? (size_t)(bang - slash) + 1 : len;

  double best;
  unsigned long allocs;
  BENCH_TIME(iterations, best, allocs, {
    if (crc_only)
      sink += dsmr_crc16(0, slash ? slash : input, crc_len);
    else
      sink += full_path(&in, input, len, chunk);
  });
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
         (double)allocs / (BENCH_RUNS * (double)iterations), readings,
         crc_only ? 1 : per_pass);
  return 0;
}
