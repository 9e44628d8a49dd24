/* The framer on every corpus telegram, fed whole, byte by byte and in random
 * chunks, alone, back to back, between noise, cut short, oversized; and on
 * hand-made CRC lines (lower case, unpadded, malformed, back to back).
 *
 * Every chunk is copied into its own exactly sized heap block, so that
 * AddressSanitizer / valgrind catch any read past the bytes handed over. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "hex.h"
#include "framer.h"
#include "tap.h"
#include "test_util.h"

/* room for the corpus: every telegram listed in expected.txt is loaded */
#define MAX_TELEGRAMS 256

/* ---- the corpus ------------------------------------------------------- */

struct tg {
  char id[128];
  int present, crc_ok;
  unsigned char *file;
  size_t flen;
  size_t start;     /* offset of '/' */
  size_t frame_len; /* '/' .. '!' inclusive */
  int digits;       /* hex digits after '!' (at most 4) */
  unsigned given;
  size_t event_at; /* stream offset just past the byte that ends the frame */
  size_t noise;    /* bytes of the file the framer must call noise */
};

static struct tg corpus[MAX_TELEGRAMS];
static size_t ncorpus;

/* Where the frame and its CRC line are, worked out independently of the
 * framer (plain indexing, no state machine). */
static int analyse(struct tg *t) {
  unsigned char *b = t->file, *slash, *bang;
  size_t i;
  int d;

  slash = memchr(b, '/', t->flen);
  if (!slash)
    return 0;
  bang = memchr(slash, '!', t->flen - (size_t)(slash - b));
  if (!bang)
    return 0;
  t->start = (size_t)(slash - b);
  t->frame_len = (size_t)(bang - slash) + 1;
  i = (size_t)(bang - b) + 1;
  t->digits = 0;
  t->given = 0;
  while (t->digits < 4 && i < t->flen && (d = dsmr_hex_digit(b[i])) >= 0) {
    t->given = t->given << 4 | (unsigned)d;
    t->digits++;
    i++;
  }
  if (t->digits == 4) {
    t->event_at = i;
  } else {
    if (i >= t->flen || (b[i] != '\r' && b[i] != '\n'))
      return 0; /* the corpus always ends a short CRC line with CR LF */
    t->event_at = i + 1;
  }
  /* The line's own CR LF is not noise; whatever follows it is. */
  if (i < t->flen && b[i] == '\r')
    i++;
  if (i < t->flen && b[i] == '\n')
    i++;
  t->noise = t->start + (t->flen - i);
  return 1;
}

static int load_corpus(void) {
  char path[4096], line[8192];
  FILE *ex;

  snprintf(path, sizeof(path), "%s/tests/corpus/expected.txt", srcdir());
  ex = fopen(path, "r");
  if (!ok(ex != NULL, "open %s", path)) {
    printf("# %s (set top_srcdir to the source tree)\n", strerror(errno));
    return 0;
  }
  size_t listed = 0;
  while (fgets(line, sizeof(line), ex)) {
    if (strncmp(line, "telegram ", 9) != 0)
      continue;
    if (++listed > MAX_TELEGRAMS)
      continue; /* counted, so that the check below fails */
    struct tg *t = &corpus[ncorpus];
    int nobj;
    if (!ok(sscanf(line, "telegram %127s %d %d %d", t->id, &t->present,
                   &t->crc_ok, &nobj) == 4,
            "expected.txt line %zu reads", listed))
      continue;
    snprintf(path, sizeof(path), "%s/tests/corpus/telegrams/%s.p1", srcdir(),
             t->id);
    t->file = slurp(path, &t->flen);
    if (!ok(t->file && analyse(t), "%s: read and located '/'..'!'", t->id))
      continue;
    ncorpus++;
  }
  fclose(ex);
  ok(listed >= 40 && ncorpus == listed, "corpus: all %zu telegrams loaded",
     listed);
  return listed >= 40 && ncorpus == listed;
}

static enum dsmr_crc_verdict verdict_of(const struct tg *t) {
  if (!t->present)
    return DSMR_CRC_NONE;
  return t->crc_ok ? DSMR_CRC_OK : DSMR_CRC_BAD;
}

static const struct tg *find(const char *id) {
  for (size_t i = 0; i < ncorpus; i++)
    if (strcmp(corpus[i].id, id) == 0)
      return &corpus[i];
  printf("# corpus telegram %s missing\n", id);
  exit(1);
}

/* ---- feeding and recording -------------------------------------------- */

static uint64_t rnd(uint64_t *s) { /* splitmix64: seeded, reproducible */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

struct rec {
  enum dsmr_frame_event ev;
  unsigned char *data; /* copy of the frame */
  size_t len;
  enum dsmr_crc_verdict crc;
  unsigned given, computed;
  size_t at; /* stream offset after the call that reported it */
};

struct run {
  struct rec *r;
  size_t n, alloc;
  int stuck;   /* a call consumed nothing and reported nothing */
  int escaped; /* frame.data outside the buffer, or len > cap */
};

static void run_free(struct run *run) {
  for (size_t i = 0; i < run->n; i++)
    free(run->r[i].data);
  free(run->r);
  memset(run, 0, sizeof(*run));
}

/* How a stream is cut into chunks: max 0 = all at once, else random sizes
 * 1..max drawn from seed (max 1 = byte by byte). */
struct chunking {
  size_t max;
  uint64_t seed;
};

static const struct chunking modes[] = {
    {0, 0}, {1, 0}, {7, 1}, {16, 2}, {64, 3}, {512, 4}, {4096, 5}, {3, 6},
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static void describe(const struct chunking *m, char *out, size_t n) {
  if (m->max == 0)
    snprintf(out, n, "whole");
  else if (m->max == 1)
    snprintf(out, n, "byte by byte");
  else
    snprintf(out, n, "chunks 1..%zu seed %u", m->max, (unsigned)m->seed);
}

static void feed(struct dsmr_framer *f, const unsigned char *s, size_t len,
                 const struct chunking *m, struct run *run) {
  uint64_t seed = m->seed * 7919 + 1;
  size_t off = 0;

  while (off < len) {
    size_t c = len - off;
    if (m->max == 1)
      c = 1;
    else if (m->max > 1 && c > 1)
      c = 1 + (size_t)(rnd(&seed) % (m->max < c ? m->max : c));
    char *chunk = malloc(c);
    memcpy(chunk, s + off, c);
    const char *p = chunk;
    size_t rest = c;
    while (rest > 0) {
      enum dsmr_frame_event ev = (enum dsmr_frame_event)99;
      struct dsmr_frame fr;
      size_t n = dsmr_framer_feed(f, p, rest, &ev, &fr);
      if (n > rest || (n == 0 && ev == DSMR_FRAME_NONE)) {
        run->stuck = 1;
        break;
      }
      p += n;
      rest -= n;
      off += n;
      if (ev == DSMR_FRAME_NONE)
        continue;
      if (run->n == run->alloc) {
        run->alloc = run->alloc ? 2 * run->alloc : 16;
        run->r = realloc(run->r, run->alloc * sizeof(*run->r));
      }
      struct rec *r = &run->r[run->n++];
      memset(r, 0, sizeof(*r));
      r->ev = ev;
      r->at = off;
      if (ev == DSMR_FRAME_TELEGRAM) {
        if (fr.data != f->buf || fr.len > f->cap)
          run->escaped = 1;
        r->data = malloc(fr.len + 1);
        memcpy(r->data, fr.data, fr.len);
        r->len = fr.len;
        r->crc = fr.crc;
        r->given = fr.crc_given;
        r->computed = fr.crc_computed;
      }
    }
    free(chunk);
    if (run->stuck)
      break;
  }
}

/* Does record r hold exactly this frame with this verdict? Prints why not. */
static int frame_is(const struct rec *r, const unsigned char *data, size_t len,
                    enum dsmr_crc_verdict crc, const char *what) {
  if (r->ev != DSMR_FRAME_TELEGRAM) {
    printf("# %s: event %d, want a telegram\n", what, (int)r->ev);
    return 0;
  }
  if (r->len != len || memcmp(r->data, data, len) != 0) {
    printf("# %s: frame of %zu bytes differs from the %zu expected\n", what,
           r->len, len);
    return 0;
  }
  if (r->computed != dsmr_crc16(0, data, len)) {
    printf("# %s: crc_computed %04X\n", what, r->computed);
    return 0;
  }
  if (r->crc != crc) {
    printf("# %s: verdict %d, want %d\n", what, (int)r->crc, (int)crc);
    return 0;
  }
  return 1;
}

static int tg_is(const struct rec *r, const struct tg *t, const char *what) {
  if (!frame_is(r, t->file + t->start, t->frame_len, verdict_of(t), what))
    return 0;
  if (t->present && r->given != t->given) {
    printf("# %s: crc_given %04X, want %04X\n", what, r->given, t->given);
    return 0;
  }
  return 1;
}

/* ---- the corpus, one telegram at a time ------------------------------- */

static void test_each(void) {
  static char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  char how[64];

  for (size_t m = 0; m < NMODES; m++) {
    describe(&modes[m], how, sizeof(how));
    for (size_t i = 0; i < ncorpus; i++) {
      const struct tg *t = &corpus[i];
      struct dsmr_framer f;
      struct run run = {0};
      int good;

      dsmr_framer_init(&f, buf, sizeof(buf));
      feed(&f, t->file, t->flen, &modes[m], &run);
      good = !run.stuck && !run.escaped && run.n == 1 &&
             tg_is(&run.r[0], t, t->id);
      if (good && run.r[0].at != t->event_at) {
        /* The frame is reported at its last CRC digit (or the CR of a short
         * CRC line), not later. */
        printf("# %s: reported at %zu, want %zu\n", t->id, run.r[0].at,
               t->event_at);
        good = 0;
      }
      if (good && (f.stats.bytes != t->flen || f.stats.telegrams != 1 ||
                   f.stats.noise_bytes != t->noise || f.stats.dropped ||
                   f.stats.too_large ||
                   f.stats.crc_ok != (verdict_of(t) == DSMR_CRC_OK) ||
                   f.stats.crc_bad != (verdict_of(t) == DSMR_CRC_BAD) ||
                   f.stats.crc_none != (verdict_of(t) == DSMR_CRC_NONE))) {
        printf("# %s: stats bytes %llu noise %llu (want %zu) telegrams %llu\n",
               t->id, (unsigned long long)f.stats.bytes,
               (unsigned long long)f.stats.noise_bytes, t->noise,
               (unsigned long long)f.stats.telegrams);
        good = 0;
      }
      ok(good, "%s, %s: one frame, exact bytes, verdict %d, stats", t->id, how,
         (int)verdict_of(t));
      run_free(&run);
    }
  }
}

/* ---- all of them in one stream, bare and with noise between ---------- */

static unsigned char *concat(size_t *len, uint64_t noise_seed,
                             size_t *noise_added) {
  size_t total = 0, cap = 0;
  unsigned char *s = NULL;
  uint64_t seed = noise_seed;

  for (size_t i = 0; i <= ncorpus; i++) {
    size_t nn = noise_seed ? (size_t)(rnd(&seed) % 200) : 0;
    size_t fl = i < ncorpus ? corpus[i].flen : 0;
    if (total + nn + fl > cap) {
      cap = 2 * (total + nn + fl) + 1024;
      s = realloc(s, cap);
    }
    /* Noise: any byte but '/', with '!', CR, LF and hex digits made common
     * so that they get the chance to confuse the framer. */
    static const char tricky[] = "!\r\n0123456789ABCDEFabcdef()*:.";
    for (size_t k = 0; k < nn; k++) {
      unsigned char c = (unsigned char)rnd(&seed);
      if (c & 1)
        c = (unsigned char)tricky[c % (sizeof(tricky) - 1)];
      if (c == '/')
        c = '\\';
      s[total++] = c;
    }
    *noise_added += nn;
    if (i < ncorpus) {
      memcpy(s + total, corpus[i].file, fl);
      total += fl;
    }
  }
  *len = total;
  return s;
}

static void test_stream(uint64_t noise_seed) {
  static char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  size_t len, added = 0, want_noise = 0;
  unsigned char *s = concat(&len, noise_seed, &added);
  char how[64];

  for (size_t i = 0; i < ncorpus; i++)
    want_noise += corpus[i].noise;
  want_noise += added;

  for (size_t m = 0; m < NMODES; m++) {
    struct dsmr_framer f;
    struct run run = {0};
    int good = 1;

    describe(&modes[m], how, sizeof(how));
    dsmr_framer_init(&f, buf, sizeof(buf));
    feed(&f, s, len, &modes[m], &run);
    if (run.stuck || run.escaped || run.n != ncorpus) {
      printf("# %zu events, want %zu\n", run.n, ncorpus);
      good = 0;
    }
    for (size_t i = 0; good && i < ncorpus; i++)
      good = tg_is(&run.r[i], &corpus[i], corpus[i].id);
    if (good &&
        (f.stats.bytes != len || f.stats.telegrams != ncorpus ||
         f.stats.dropped || f.stats.too_large ||
         f.stats.noise_bytes != want_noise ||
         f.stats.crc_ok + f.stats.crc_bad + f.stats.crc_none != ncorpus)) {
      printf("# stats: bytes %llu/%zu noise %llu/%zu dropped %llu\n",
             (unsigned long long)f.stats.bytes, len,
             (unsigned long long)f.stats.noise_bytes, want_noise,
             (unsigned long long)f.stats.dropped);
      good = 0;
    }
    ok(good,
       "all %zu back to back%s (%zu noise bytes added), %s: frames, "
       "verdicts, stats",
       ncorpus, noise_seed ? " with noise" : "", added, how);
    run_free(&run);
  }
  free(s);
}

/* ---- a telegram cut short, then a whole one --------------------------- */

static void test_cut(void) {
  static char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  const struct tg *a = find("ndokter_v5"), *b = find("dsmr5rs_isk_am550e");
  unsigned char *s = malloc(a->flen + b->flen);
  static const struct chunking cut_modes[] = {{0, 0}, {1, 0}, {9, 7}};

  for (size_t m = 0; m < sizeof(cut_modes) / sizeof(cut_modes[0]); m++) {
    unsigned fails = 0, cuts = 0;
    char how[64];
    describe(&cut_modes[m], how, sizeof(how));
    /* Every cut from just after the '/' to just before the '!'. */
    for (size_t c = a->start + 1; c < a->start + a->frame_len; c++) {
      struct dsmr_framer f;
      struct run run = {0};
      size_t len = c + b->flen;
      memcpy(s, a->file, c);
      memcpy(s + c, b->file, b->flen);
      dsmr_framer_init(&f, buf, sizeof(buf));
      feed(&f, s, len, &cut_modes[m], &run);
      cuts++;
      if (run.stuck || run.n != 1 || !tg_is(&run.r[0], b, "after the cut") ||
          f.stats.dropped != 1 || f.stats.telegrams != 1 ||
          f.stats.noise_bytes != a->start + b->noise || f.stats.bytes != len) {
        if (!fails++)
          printf("# first failure: cut at %zu, %zu events, dropped %llu\n", c,
                 run.n, (unsigned long long)f.stats.dropped);
      }
      run_free(&run);
    }
    ok(fails == 0 && cuts > 800,
       "%u cuts of %s then %s, %s: cut one dropped and counted, next intact",
       cuts, a->id, b->id, how);
  }
  free(s);
}

/* ---- size limit ------------------------------------------------------- */

/* A heap buffer of exactly cap bytes (ASan sees any write past it) … */
static void test_cap_stream(size_t cap, const unsigned char *s, size_t len,
                            const enum dsmr_frame_event *want_ev,
                            const struct tg *const *want_tg, size_t nwant,
                            const char *what) {
  for (size_t m = 0; m < NMODES; m++) {
    struct dsmr_framer f;
    struct run run = {0};
    char *buf = cap ? malloc(cap) : NULL;
    int good = 1;
    size_t ntoo = 0;
    char how[64];

    describe(&modes[m], how, sizeof(how));
    dsmr_framer_init(&f, buf, cap);
    feed(&f, s, len, &modes[m], &run);
    if (run.stuck || run.escaped || run.n != nwant) {
      printf("# %zu events, want %zu\n", run.n, nwant);
      good = 0;
    }
    for (size_t i = 0; good && i < nwant; i++) {
      if (run.r[i].ev != want_ev[i]) {
        printf("# event %zu is %d, want %d\n", i, (int)run.r[i].ev,
               (int)want_ev[i]);
        good = 0;
      } else if (want_ev[i] == DSMR_FRAME_TELEGRAM) {
        good = tg_is(&run.r[i], want_tg[i], want_tg[i]->id);
      } else {
        ntoo++;
      }
    }
    /* The streams here hold telegrams with nothing around them, and the
     * bytes of an oversized telegram are not noise. */
    if (good &&
        (f.stats.too_large != ntoo || f.stats.bytes != len ||
         f.stats.noise_bytes != 0 || f.stats.telegrams != nwant - ntoo)) {
      printf("# stats: too_large %llu, want %zu\n",
             (unsigned long long)f.stats.too_large, ntoo);
      good = 0;
    }
    ok(good, "%s, cap %zu, %s", what, cap, how);
    run_free(&run);
    free(buf);
  }
}

/* … and a buffer with a guard zone whose bytes must stay untouched. */
static void test_guard(void) {
  enum { GUARD = 256 };
  const struct tg *big = find("ndokter_eon_hungary");
  int intact = 1;

  for (size_t cap = 0; cap < 300; cap += 7) {
    unsigned char *mem = malloc(cap + GUARD);
    struct dsmr_framer f;
    struct run run = {0};
    memset(mem, 0xA5, cap + GUARD);
    dsmr_framer_init(&f, (char *)mem, cap);
    feed(&f, big->file, big->flen, &modes[1], &run);
    for (size_t i = cap; i < cap + GUARD; i++)
      intact &= mem[i] == 0xA5;
    intact &= run.n == 1 && run.r[0].ev == DSMR_FRAME_TOO_LARGE;
    run_free(&run);
    free(mem);
  }
  ok(intact, "caps 0..299: one TOO_LARGE each, nothing written past the cap");
}

static void test_too_large(void) {
  const struct tg *big = find("ndokter_eon_hungary");
  const struct tg *small = find("arduinodsmr_example_minimal");
  size_t len = 2 * (big->flen + small->flen);
  unsigned char *s = malloc(len);
  const enum dsmr_frame_event evs[4] = {
      DSMR_FRAME_TOO_LARGE, DSMR_FRAME_TELEGRAM, DSMR_FRAME_TOO_LARGE,
      DSMR_FRAME_TELEGRAM};
  const struct tg *tgs[4] = {NULL, small, NULL, small};
  const enum dsmr_frame_event all_too[4] = {
      DSMR_FRAME_TOO_LARGE, DSMR_FRAME_TOO_LARGE, DSMR_FRAME_TOO_LARGE,
      DSMR_FRAME_TOO_LARGE};

  ok(big->start == 0 && big->noise == 0 && small->start == 0 &&
         small->noise == 0,
     "%s and %s: nothing around the telegram", big->id, small->id);
  memcpy(s, big->file, big->flen);
  memcpy(s + big->flen, small->file, small->flen);
  memcpy(s + big->flen + small->flen, s, big->flen + small->flen);

  /* The small frame fits exactly; one byte less and it does not. */
  test_cap_stream(small->frame_len, s, len, evs, tgs, 4,
                  "big, small, big, small");
  test_cap_stream(small->frame_len - 1, s, len, all_too, tgs, 4,
                  "big, small, big, small");
  test_cap_stream(0, s, len, all_too, tgs, 4, "big, small, big, small");
  test_cap_stream(1, s, len, all_too, tgs, 4, "big, small, big, small");
  free(s);

  /* Exactly at the limit, for every telegram, whole and byte by byte: both
   * the path that finds the '!' in the chunk and the one that does not. */
  unsigned fails = 0;
  for (size_t i = 0; i < ncorpus; i++) {
    const struct tg *t = &corpus[i];
    for (size_t m = 0; m < 2; m++) {
      for (size_t d = 0; d < 2; d++) {
        size_t cap = t->frame_len - d;
        char *buf = malloc(cap);
        struct dsmr_framer f;
        struct run run = {0};
        dsmr_framer_init(&f, buf, cap);
        feed(&f, t->file, t->flen, &modes[m], &run);
        if (run.stuck || run.n != 1 ||
            (d == 0 ? !tg_is(&run.r[0], t, t->id)
                    : run.r[0].ev != DSMR_FRAME_TOO_LARGE) ||
            f.stats.too_large != d) {
          if (!fails++)
            printf("# %s cap %zu mode %zu: %zu events\n", t->id, cap, m, run.n);
        }
        run_free(&run);
        free(buf);
      }
    }
  }
  ok(fails == 0, "every telegram: cap = its size fits, cap = size-1 is "
                 "TOO_LARGE, whole and byte by byte");

  /* A NULL buffer is a zero-size one. */
  struct dsmr_framer f;
  struct run run = {0};
  dsmr_framer_init(&f, NULL, 100);
  feed(&f, small->file, small->flen, &modes[0], &run);
  ok(!run.stuck && run.n == 1 && run.r[0].ev == DSMR_FRAME_TOO_LARGE,
     "NULL buffer: TOO_LARGE, no crash");
  run_free(&run);
  test_guard();
}

/* ---- hand-made CRC lines ---------------------------------------------- */

/* Feed text (whole and byte by byte), expect the listed frames. `frames` is
 * a '|'-free description: each expected frame as (data, verdict, given). */
struct want {
  const char *data; /* NULL: a TOO_LARGE event */
  enum dsmr_crc_verdict crc;
  unsigned given;
};

static void expect(const char *what, const char *text, size_t tlen,
                   const struct want *w, size_t nw, uint64_t want_noise) {
  static char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  for (size_t m = 0; m < NMODES; m++) {
    struct dsmr_framer f;
    struct run run = {0};
    int good = 1;
    char how[64];

    describe(&modes[m], how, sizeof(how));
    dsmr_framer_init(&f, buf, sizeof(buf));
    feed(&f, (const unsigned char *)text, tlen, &modes[m], &run);
    if (run.stuck || run.escaped || run.n != nw) {
      printf("# %zu events, want %zu\n", run.n, nw);
      good = 0;
    }
    for (size_t i = 0; good && i < nw; i++) {
      good = frame_is(&run.r[i], (const unsigned char *)w[i].data,
                      strlen(w[i].data), w[i].crc, what);
      if (good && w[i].crc != DSMR_CRC_NONE && run.r[i].given != w[i].given) {
        printf("# crc_given %04X, want %04X\n", run.r[i].given, w[i].given);
        good = 0;
      }
    }
    if (good && (f.stats.noise_bytes != want_noise || f.stats.bytes != tlen ||
                 f.stats.telegrams != nw || f.stats.dropped)) {
      printf("# noise %llu (want %llu), dropped %llu\n",
             (unsigned long long)f.stats.noise_bytes,
             (unsigned long long)want_noise,
             (unsigned long long)f.stats.dropped);
      good = 0;
    }
    ok(good, "%s, %s", what, how);
    run_free(&run);
  }
}

#define MINI                                                                   \
  "/KFM5KAIFA-METER\r\n\r\n1-0:1.8.1(000671.578*kWh)\r\n1-0:1.7.0(00.318*kW)"  \
  "\r\n!"
#define MINI_CRC 0x1E1D
#define S(lit) lit, sizeof(lit) - 1

static void test_crc_lines(void) {
  const struct want ok1[] = {{MINI, DSMR_CRC_OK, MINI_CRC}};
  const struct want ok2[] = {{MINI, DSMR_CRC_OK, MINI_CRC},
                             {MINI, DSMR_CRC_OK, MINI_CRC}};

  is_int(dsmr_crc16(0, MINI, strlen(MINI)), MINI_CRC, "MINI's crc is 1E1D");
  expect("upper-case CRC", S(MINI "1E1D\r\n"), ok1, 1, 0);
  expect("lower-case CRC", S(MINI "1e1d\r\n"), ok1, 1, 0);
  expect("mixed-case CRC", S(MINI "1E1d\r\n"), ok1, 1, 0);
  expect("CRC line ended by LF only", S(MINI "1E1D\n"), ok1, 1, 0);
  expect("no CR LF at all, then the next telegram",
         S(MINI "1E1D" MINI "1E1D\r\n"), ok2, 2, 0);
  expect("lone '!' and CRC-like noise first",
         S("xx!\r\n!1E1D\r\n!!\r\n" MINI "1E1D\r\n"), ok1, 1, 16);
  expect("noise after a complete CRC line", S(MINI "1E1DX\r\n" MINI "1E1D\r\n"),
         ok2, 2, 3);
  expect("a 5th hex digit is noise", S(MINI "1E1D1\r\n"), ok1, 1, 3);

  const struct want bad_then_ok[][2] = {
      {{MINI, DSMR_CRC_BAD, 0x1E1}, {MINI, DSMR_CRC_OK, MINI_CRC}},
      {{MINI, DSMR_CRC_BAD, 0x1E}, {MINI, DSMR_CRC_OK, MINI_CRC}},
      {{MINI, DSMR_CRC_BAD, 0}, {MINI, DSMR_CRC_OK, MINI_CRC}},
      {{MINI, DSMR_CRC_BAD, 0x1E1C}, {MINI, DSMR_CRC_OK, MINI_CRC}},
  };
  expect("malformed CRC line 1E1X", S(MINI "1E1X\r\n" MINI "1E1D\r\n"),
         bad_then_ok[0], 2, 3);
  expect("malformed CRC line '1E '", S(MINI "1E \r\n" MINI "1E1D\r\n"),
         bad_then_ok[1], 2, 3);
  expect("malformed CRC line X", S(MINI "X\r\n" MINI "1E1D\r\n"),
         bad_then_ok[2], 2, 3);
  expect("malformed CRC line -1E1D", S(MINI "-1E1D\r\n" MINI "1E1D\r\n"),
         bad_then_ok[2], 2, 7);
  expect("wrong CRC", S(MINI "1E1C\r\n" MINI "1E1D\r\n"), bad_then_ok[3], 2, 0);

  const struct want none[] = {{MINI, DSMR_CRC_NONE, 0}};
  const struct want none_ok[] = {{MINI, DSMR_CRC_NONE, 0},
                                 {MINI, DSMR_CRC_OK, MINI_CRC}};
  expect("no CRC, CR LF", S(MINI "\r\n"), none, 1, 0);
  expect("no CRC, LF", S(MINI "\n"), none, 1, 0);
  expect("no CRC, next telegram at once", S(MINI MINI "1E1D\r\n"), none_ok, 2,
         0);
}

/* Unpadded CRCs (leading zeros left out, as some meters do): search frames
 * whose CRC has 1, 2 and 3 significant digits and write it without them. */
static void test_unpadded(void) {
  char frame[128], text[256];
  unsigned found[4] = {0, 0, 0, 0};

  for (unsigned v = 0; v < 200000 && !(found[1] && found[2] && found[3]); v++) {
    int n = snprintf(frame, sizeof(frame),
                     "/TST5 unpadded\r\n\r\n1-0:1.8.1(%06u.%03u*kWh)\r\n!",
                     v / 1000, v % 1000);
    unsigned crc = dsmr_crc16(0, frame, (size_t)n);
    int digits = crc < 0x10 ? 1 : crc < 0x100 ? 2 : crc < 0x1000 ? 3 : 4;
    if (digits == 4 || found[digits])
      continue;
    found[digits] = 1;

    const struct want w[] = {{frame, DSMR_CRC_OK, crc}};
    const struct want w2[] = {{frame, DSMR_CRC_OK, crc},
                              {frame, DSMR_CRC_OK, crc}};
    char what[96];
    int tl;

    tl = snprintf(text, sizeof(text), "%s%X\r\n", frame, crc);
    snprintf(what, sizeof(what), "unpadded CRC %X", crc);
    expect(what, text, (size_t)tl, w, 1, 0);
    tl = snprintf(text, sizeof(text), "%s%04X\r\n", frame, crc);
    snprintf(what, sizeof(what), "same CRC padded %04X", crc);
    expect(what, text, (size_t)tl, w, 1, 0);
    tl = snprintf(text, sizeof(text), "%s%x%s%X\n", frame, crc, frame, crc);
    snprintf(what, sizeof(what), "unpadded %x then '/' at once", crc);
    expect(what, text, (size_t)tl, w2, 2, 0);
  }
  ok(found[1] && found[2] && found[3], "found CRCs of 1, 2 and 3 digits");
}

/* ---- reset, empty feeds ----------------------------------------------- */

static void test_reset(void) {
  static char buf[DSMR_DEFAULT_MAX_TELEGRAM];
  const struct tg *a = find("ndokter_v5"), *b = find("dsmr5rs_t211_enexis");
  size_t cuts[] = {1, a->frame_len / 2, a->frame_len,
                   a->frame_len + 2 /* inside the CRC line */};

  for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
    struct dsmr_framer f;
    struct run run = {0};
    size_t c = a->start + cuts[k];
    dsmr_framer_init(&f, buf, sizeof(buf));
    feed(&f, a->file, c, &modes[0], &run);
    int quiet = run.n == 0;
    dsmr_framer_reset(&f);
    /* The rest of a is noise now (its '!' and CRC line included), then b. */
    feed(&f, a->file + c, a->flen - c, &modes[1], &run);
    feed(&f, b->file, b->flen, &modes[1], &run);
    ok(quiet && !run.stuck && run.n == 1 && tg_is(&run.r[0], b, b->id) &&
           f.stats.dropped == 0 && f.stats.telegrams == 1 &&
           f.stats.bytes == a->flen + b->flen &&
           f.stats.noise_bytes == a->start + (a->flen - c) + b->noise,
       "reset after %zu bytes of a telegram: forgotten, stats kept, next "
       "intact",
       cuts[k]);
    run_free(&run);
  }

  struct dsmr_framer f;
  enum dsmr_frame_event ev = DSMR_FRAME_TOO_LARGE;
  struct dsmr_frame fr;
  dsmr_framer_init(&f, buf, sizeof(buf));
  is_int(dsmr_framer_feed(&f, "", 0, &ev, &fr), 0, "empty feed consumes 0");
  is_int(ev, DSMR_FRAME_NONE, "empty feed: no event");
  is_int(f.stats.bytes, 0, "empty feed: no bytes counted");
}

/* ---- chunking never changes the outcome ------------------------------- */

/* Random streams built from the pieces that matter ('/', '!', hex digits,
 * CR, LF, telegram text), under a random cap: whatever the chunking, the
 * framer must report the same events, frames and stats as when fed whole. */
static void test_invariance(void) {
  static const char *pieces[] = {
      "/",
      "!",
      "\r\n",
      "\r",
      "\n",
      "1E1D",
      "1e",
      "A",
      "G",
      " ",
      "/ISK5\r\n\r\n",
      "1-0:1.8.1(000671.578*kWh)\r\n",
      MINI,
      "1E1D\r\n",
      "0-0:96.13.0(3031)\r\n",
  };
  uint64_t seed = 2024;
  unsigned fails = 0, total_events = 0;

  for (int round = 0; round < 300; round++) {
    unsigned char s[2048];
    size_t len = 0;
    while (len < 1500) {
      const char *p = pieces[rnd(&seed) % (sizeof(pieces) / sizeof(*pieces))];
      size_t pl = strlen(p);
      memcpy(s + len, p, pl);
      len += pl;
    }
    size_t cap = (size_t)(rnd(&seed) % 400);
    char *b0 = malloc(cap + 1), *b1 = malloc(cap + 1);
    struct dsmr_framer f0, f1;
    struct run r0 = {0}, r1 = {0};
    struct chunking m = {1 + (size_t)(rnd(&seed) % 40), (uint64_t)round};
    if (round % 3 == 0)
      m.max = 1;

    dsmr_framer_init(&f0, b0, cap);
    dsmr_framer_init(&f1, b1, cap);
    feed(&f0, s, len, &modes[0], &r0);
    feed(&f1, s, len, &m, &r1);
    int same = !r0.stuck && !r1.stuck && r0.n == r1.n &&
               memcmp(&f0.stats, &f1.stats, sizeof(f0.stats)) == 0 &&
               f0.stats.bytes == len;
    for (size_t i = 0; same && i < r0.n; i++)
      same = r0.r[i].ev == r1.r[i].ev && r0.r[i].at == r1.r[i].at &&
             r0.r[i].len == r1.r[i].len && r0.r[i].crc == r1.r[i].crc &&
             r0.r[i].given == r1.r[i].given &&
             (r0.r[i].len == 0 ||
              memcmp(r0.r[i].data, r1.r[i].data, r0.r[i].len) == 0);
    /* Every frame is a '/' .. '!' with no other '/' or '!' inside. */
    for (size_t i = 0; same && i < r0.n; i++) {
      const struct rec *r = &r0.r[i];
      if (r->ev != DSMR_FRAME_TELEGRAM)
        continue;
      same = r->len >= 2 && r->len <= cap && r->data[0] == '/' &&
             r->data[r->len - 1] == '!' &&
             !memchr(r->data + 1, '/', r->len - 1) &&
             !memchr(r->data, '!', r->len - 1);
    }
    total_events += (unsigned)r0.n;
    if (!same && !fails++)
      printf("# round %d (cap %zu, chunks 1..%zu) differs\n", round, cap,
             m.max);
    run_free(&r0);
    run_free(&r1);
    free(b0);
    free(b1);
  }
  ok(fails == 0 && total_events > 300,
     "300 random streams: chunking never changes events, frames or stats "
     "(%u events)",
     total_events);
}

int main(void) {
  if (!load_corpus())
    return tap_done();
  test_each();
  test_stream(0);
  for (uint64_t seed = 1; seed <= 3; seed++)
    test_stream(seed);
  test_cut();
  test_too_large();
  test_crc_lines();
  test_unpadded();
  test_reset();
  test_invariance();
  for (size_t i = 0; i < ncorpus; i++)
    free(corpus[i].file);
  return tap_done();
}
