/* fuzz_input_chain: the input chain (input_chain.c) as the plugin and
 * dsmr-cat drive it: a configuration, a byte stream cut into chunks, and
 * for Baudrate "auto" the passing of time.
 *
 *   [config] [chunking] [max] then the stream
 *
 *   config & 1: line probe (Baudrate "auto"); & 2: Smarty decryption (not
 *     with the probe: the chain refuses that, checked); & 4: CheckCRC off;
 *     & 16: Protocol "han", else & 32: Protocol "auto" (the key of & 2 is
 *     then the DLMS key; with the probe, HAN frames whose check passes
 *     settle it too);
 *     & 8: the stream's bytes are read as 7E1 through 8N1 (bit 7 set to
 *     the parity bit), the probe's masking case
 *   chunking: & 3: 0 fixed (chunking >> 2) + 1 bytes, 1 random 1..64 (from
 *     the stream's own bytes), 2 one piece, 3 random 1..4096; with the
 *     probe, each chunk also advances the clock by 0..(chunking >> 2) * 1 s
 *     so that windows end and settled lines get lost
 *   max: the largest telegram, 16 + 64 * max bytes
 *
 * Checks, from input_chain.h:
 *  - dsmr_input_next ends (a bounded number of outputs: at most 4 per byte
 *    fed so far and 16 per feed, counted over the whole run, since one byte
 *    may end a long candidate whose failure releases every frame held
 *    behind it at once), never returns BYTES, and its return value is
 *    out.ev;
 *  - every frame is '/' .. '!' and at most max bytes; its check verdict
 *    follows its CRC verdict as documented;
 *  - LINE_FOUND is always followed at once by the frame that settled the
 *    line (DSMR; a HAN frame's outputs follow it, if any), and while the
 *    probe has not settled no frame, TOO_LARGE, CUT or HAN framing
 *    failure comes out (but the one that lost the line, just before
 *    LINE_LOST);
 *  - without the probe: every byte is counted, and the outputs and
 *    statistics are the same for the given chunks, byte by byte and in one
 *    piece (the chain's outcome does not depend on the reads). */
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"
#include "fuzz_slab.h"
#include "input_chain.h"
#include "../tests/test_util.h" /* parity_7e1 */

#define MAX_STREAM (64 * 1024)
#define LOG_MAX (256 * 1024)

static const uint8_t KEY[16] = {0x5E, 0x11, 0xA3, 0x07, 0x9C, 0x42, 0xD8, 0x6B,
                                0x21, 0xF0, 0x3A, 0x8E, 0x57, 0xC4, 0x19, 0xB2};

static struct dsmr_input in;
static char stream[MAX_STREAM];
/* each chunk's own copy, of exact size: fuzz_slab.h */
FZ_SLAB(chunk_slab, MAX_STREAM);
static uint32_t log_a[LOG_MAX], log_b[LOG_MAX];

struct run {
  uint32_t *log;
  size_t n;
  /* for the bound on outputs: bytes and feeds so far, outputs so far */
  size_t fed, feeds, outputs;
};

static uint32_t hash(const char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)p[i]) * 16777619u;
  return h;
}

static void note(struct run *r, uint32_t v) {
  if (r->n < LOG_MAX)
    r->log[r->n] = v;
  r->n++;
}

/* Everything out of the chain for one chunk, checked and written down. */
static void drain(struct run *r, size_t max, int check_crc, size_t chunk) {
  struct dsmr_input_out o;
  enum dsmr_input_event ev;
  int after_found = 0, lost_due = 0;

  r->fed += chunk;
  r->feeds++;
  while ((ev = dsmr_input_next(&in, &o)) != DSMR_INPUT_NONE) {
    FZ_ASSERT(ev == o.ev);
    FZ_ASSERT(ev != DSMR_INPUT_BYTES);
    /* Every output stands for bytes taken in: a few outputs per byte over
     * the run. Not per chunk: a Smarty candidate of a declared 2 KB (an
     * HDLC header whose frame was cut) holds the bytes behind it until
     * they are all there; when its check then fails, the credible frames
     * inside come out, one event each, on the byte that completed it
     * (fuzz/regressions/fuzz_input_chain/burst-after-long-candidate: 21
     * events on one byte). */
    FZ_ASSERT_MSG(++r->outputs <= 4 * r->fed + 16 * r->feeds,
                  "%zu outputs after %zu bytes in %zu feeds", r->outputs,
                  r->fed, r->feeds);
    FZ_ASSERT(!after_found || ev == DSMR_INPUT_FRAME ||
              (in.protocol != DSMR_INPUT_PROTO_DSMR &&
               ev != DSMR_INPUT_LINE_FOUND && ev != DSMR_INPUT_LINE_SWITCH &&
               ev != DSMR_INPUT_LINE_LOST));
    /* the frame that lost a settled line comes out just before the loss */
    FZ_ASSERT(!lost_due || ev == DSMR_INPUT_LINE_LOST);
    lost_due = 0;
    if (in.probing && !in.line.settled) {
      if (ev == DSMR_INPUT_FRAME)
        lost_due = !after_found;
      else if (ev == DSMR_INPUT_HAN_FRAME_CHECK)
        lost_due = 1;
      else
        FZ_ASSERT_MSG(ev != DSMR_INPUT_TOO_LARGE && ev != DSMR_INPUT_CUT &&
                          ev != DSMR_INPUT_HAN_MISSING_SEGMENT &&
                          ev != DSMR_INPUT_HAN_BLOCK_REFUSED &&
                          ev != DSMR_INPUT_HAN_TOO_LARGE,
                      "%s while probing", dsmr_input_event_name(ev));
    }
    after_found = ev == DSMR_INPUT_LINE_FOUND;
    if (ev == DSMR_INPUT_HAN_TELEGRAM) {
      FZ_ASSERT(o.telegram != NULL && o.list != NULL);
      FZ_ASSERT(o.telegram->nreadings <= DSMR_MAX_READINGS);
      note(r, o.telegram->nreadings << 8 | (o.han_errors & 0xff));
    }
    note(r, (uint32_t)ev);
    if (ev == DSMR_INPUT_FRAME) {
      const struct dsmr_frame *f = &o.frame;
      FZ_ASSERT(f->len >= 2 && f->len <= max);
      FZ_ASSERT(f->data[0] == '/' && f->data[f->len - 1] == '!');
      if (!check_crc)
        FZ_ASSERT(o.check == DSMR_INPUT_CHECK_OK);
      else if (f->crc == DSMR_CRC_BAD)
        FZ_ASSERT(o.check == DSMR_INPUT_CHECK_CRC_BAD);
      else if (f->crc == DSMR_CRC_OK)
        FZ_ASSERT(o.check == DSMR_INPUT_CHECK_OK);
      note(r, (uint32_t)f->len);
      note(r, (uint32_t)f->crc << 8 | (uint32_t)o.check);
      note(r, hash(f->data, f->len));
    } else if (ev == DSMR_INPUT_LINE_FOUND || ev == DSMR_INPUT_LINE_SWITCH ||
               ev == DSMR_INPUT_LINE_LOST) {
      FZ_ASSERT(in.probing && o.line == &in.line);
    }
  }
  FZ_ASSERT(!after_found && !lost_due);
}

/* The stream through a fresh chain in the given chunks; -1: not built. */
static int run(struct run *r, const struct dsmr_input_config *cfg,
               const char *s, size_t len, unsigned mode, const uint8_t *rnd,
               size_t nrnd) {
  char err[128];
  long long now = 0;
  size_t at = 0, k = 0;

  r->n = r->fed = r->feeds = r->outputs = 0;
  if (dsmr_input_init(&in, cfg, 0, err, sizeof err) != 0)
    return -1;
  while (at < len) {
    size_t n;
    unsigned b = nrnd ? rnd[k++ % nrnd] : 0;
    switch (mode & 3) {
    case 0:
      n = (mode >> 2) + 1;
      break;
    case 1:
      n = b % 64 + 1;
      break;
    case 2:
      n = len;
      break;
    default:
      n = (size_t)(b * 16 + b) % 4096 + 1;
      break;
    }
    if (n > len - at)
      n = len - at;
    if (cfg->line_probe)
      now += (long long)(b % ((mode >> 2) + 1)) * 1000;
    /* the chain may rewrite a chunk in place: give it its own copy */
    char *c = (char *)fz_slab_take(chunk_slab, n);
    memcpy(c, s + at, n);
    dsmr_input_feed(&in, c, n, now);
    drain(r, cfg->max_telegram, cfg->check_crc, n);
    fz_slab_drop(chunk_slab);
    if (cfg->line_probe && (b & 0x0f) == 0) { /* a quiet second */
      dsmr_input_feed(&in, NULL, 0, now += 1000);
      drain(r, cfg->max_telegram, cfg->check_crc, 0);
    }
    at += n;
  }
  if (!cfg->line_probe)
    FZ_ASSERT_MSG(in.stats.bytes == len, "%llu of %zu bytes counted",
                  (unsigned long long)in.stats.bytes, len);
  else
    FZ_ASSERT(in.stats.bytes <= len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  struct dsmr_input_config cfg = {0};
  struct run a = {.log = log_a}, b = {.log = log_b};
  unsigned config, mode;
  size_t len;
  int rc;

  if (!ready) {
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    ready = 1;
  }
  if (size < 3)
    return 0;
  config = data[0];
  mode = data[1];
  cfg.max_telegram = 16 + 64 * (size_t)data[2];
  cfg.check_crc = !(config & 4);
  cfg.line_probe = config & 1;
  cfg.decryption_key = config & 2 ? KEY : NULL;
  cfg.protocol = config & 16   ? DSMR_INPUT_PROTO_HAN
                 : config & 32 ? DSMR_INPUT_PROTO_AUTO
                               : DSMR_INPUT_PROTO_DSMR;
  data += 3;
  size -= 3;
  len = size < MAX_STREAM ? size : MAX_STREAM;
  memcpy(stream, data, len);
  if (config & 8)
    parity_7e1(stream, len);

  rc = run(&a, &cfg, stream, len, mode, data, len);
  if (cfg.line_probe && cfg.decryption_key && !cfg.protocol) {
    FZ_ASSERT(rc == -1); /* refused, and nothing to free but safe */
    dsmr_input_free(&in);
    return 0;
  }
  FZ_ASSERT(rc == 0);
  if (cfg.line_probe) {
    dsmr_input_free(&in);
    return 0;
  }
  struct dsmr_input_stats stats = in.stats;
  dsmr_input_free(&in);
  /* the same outputs whatever the reads */
  static const unsigned modes[] = {0, 2}; /* byte by byte, one piece */
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    FZ_ASSERT(run(&b, &cfg, stream, len, modes[m], data, len) == 0);
    FZ_ASSERT_MSG(a.n == b.n, "%zu outputs, then %zu (mode %u)", a.n, b.n,
                  modes[m]);
    FZ_ASSERT(memcmp(a.log, b.log,
                     (a.n < LOG_MAX ? a.n : LOG_MAX) * sizeof a.log[0]) == 0);
    FZ_ASSERT(memcmp(&stats, &in.stats, sizeof stats) == 0);
    dsmr_input_free(&in);
  }
  return 0;
}
