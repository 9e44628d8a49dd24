/* fuzz_smarty: the Luxembourg Smarty decoder (smarty.c) on a stream of
 * genuine frames, damaged frames and noise, cut into arbitrary chunks.
 *
 * A fuzzer cannot forge an AES-GCM tag, so the input does not hold the
 * stream itself but a recipe for it, and the harness seals genuine frames
 * with the key the decoder was given:
 *
 *   [mode] [cap hi] [cap lo] then records: [op] [len] [len2 if op & 8] data
 *
 *   mode: chunking, as in fuzz_telegram (& 3: 0 fixed (mode >> 2) + 1 bytes,
 *         1 random 1..64, 2 random 1..4096, 3 one piece)
 *   cap:  64 + value % 16000: the decoder's buffer
 *   op & 7, the record kind (data is a plaintext, or raw bytes for 0):
 *     0 noise: data as is
 *     1 a bare frame; op >> 4 & 3 picks the length form (1 byte, 81, 82),
 *       op & 0x40 reuses the last frame counter (a replay), op & 0x80 uses a
 *       second system title
 *     2 the same inside one HDLC frame; op & 0x40: no LLC header; op & 0x80:
 *       2- and 4-byte addresses
 *     3 inside segmented HDLC, 8 << (op >> 4 & 3) information bytes per
 *       segment; op & 0x40: consecutive frames share their flag
 *     4 a frame with one byte changed (position and bits from data)
 *     5 a frame cut short (length from data)
 *       (4 and 5: bare, or with op & 0x80 inside HDLC, segmented into
 *       8 << (op >> 4 & 3) bytes when op & 0x40 too: the damage may hit
 *       any byte of the wrapping)
 *     6 noise without frame starts: cap + 16 zero bytes
 *     7 a bare frame sealed with another key
 *   The stream always ends with such a run of zeros, so that any candidate
 *   still being collected is decided.
 *
 * Checks, from smarty.h:
 *  - nothing but a genuine frame ever comes out, with its exact plaintext,
 *    system title and counter, and counters of released frames increase;
 *    REPLAY only for a genuine frame whose counter is not above the last
 *    accepted one;
 *  - every genuine frame with a new counter and at least one byte of text
 *    that fits the buffer (DSMR_SMARTY_BUF_SIZE) comes out: damage and
 *    noise before it do not cost it;
 *  - the events are the same whatever the chunking (as given, byte by
 *    byte, one piece), and the statistics count them;
 *  - the documented feed loop ends. */
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/smarty_seal.h"
#include "fuzz_assert.h"
#include "fuzz_slab.h"
#include "smarty.h"

#define MAX_INPUT (16 * 1024)
#define MAX_STREAM (256 * 1024)
#define MAX_FRAMES 512

/* KEY, WRONG_KEY (one bit off): smarty_seal.h */
static const uint8_t TITLE_A[8] = {'S', 'A', 'G', 0x10, 0x20, 0x30, 0x40, 1};
static const uint8_t TITLE_B[8] = {'K', 'F', 'M', 0x55, 0x66, 0x77, 0x88, 2};

/* ---- building the stream ---------------------------------------------- */

struct stream {
  uint8_t *b;
  size_t n;
  size_t limit; /* 0: MAX_STREAM */
  int full;     /* a put did not fit */
};

static int put(struct stream *s, const void *p, size_t n) {
  if (s->n + n > (s->limit ? s->limit : MAX_STREAM)) {
    s->full = 1;
    return -1;
  }
  memcpy(s->b + s->n, p, n);
  s->n += n;
  return 0;
}

struct genuine {
  uint8_t title[8];
  uint32_t counter;
  const uint8_t *text; /* in the fuzz input */
  size_t len;
  int must_arrive; /* new counter, has text, fits the buffer */
};

/* A frame as the meter seals it (smarty_seal.h), with the Luxembourg
 * authentication key. form 0: the shortest length form, 1: 81 (or 82 when
 * too long), 2: 82. Returns the frame's size. */
static size_t seal(uint8_t *out, const uint8_t *text, size_t n,
                   const uint8_t key[16], const uint8_t title[8],
                   uint32_t counter, int form) {
  size_t body = 1 + 4 + n + 12, len;
  int lf = form == 0 && body < 0x80    ? 1
           : form <= 1 && body <= 0xFF ? 0x81
                                       : 0x82;
  len = smarty_seal(out, text, n, key, LUX_AK, title, counter, lf);
  FZ_ASSERT(len != 0);
  return len;
}

/* CRC-16/X.25, for HCS and FCS (low byte first). */
static uint16_t x25(const uint8_t *p, size_t n) {
  unsigned crc = 0xFFFF;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int b = 0; b < 8; b++)
      crc = crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1;
  }
  return (uint16_t)~crc;
}

/* HDLC frame format type 3 around frame[0..n): one frame (seg == 0) or
 * segments of seg information bytes, S bit on all but the last. */
static int hdlc_wrap(struct stream *s, const uint8_t *frame, size_t n, int llc,
                     int long_addr, size_t seg, int shared_flags) {
  static uint8_t info[70000];
  size_t ilen = 0, pos = 0;
  if (llc) {
    memcpy(info, "\xE6\xE7\x00", 3);
    ilen = 3;
  }
  memcpy(info + ilen, frame, n);
  ilen += n;
  while (pos < ilen) {
    size_t take = seg && ilen - pos > seg ? seg : ilen - pos;
    /* The 11-bit length field limits one HDLC frame. */
    if (take > 2000)
      take = 2000;
    int more = pos + take < ilen;
    uint8_t hdr[16];
    size_t h = 0;
    hdr[h++] = 0x7E;
    h += 2; /* format and length, below */
    if (long_addr) {
      hdr[h++] = 0x02, hdr[h++] = 0x21;                  /* dst, 2 bytes */
      hdr[h++] = 0x00, hdr[h++] = 0x02, hdr[h++] = 0x04; /* src, 4 bytes */
      hdr[h++] = 0x03;
    } else {
      hdr[h++] = 0x41; /* dst */
      hdr[h++] = 0x03; /* src */
    }
    hdr[h++] = 0x13;                      /* UI, final */
    size_t flen = (h - 1) + 2 + take + 2; /* format .. FCS */
    hdr[1] = (uint8_t)(0xA0 | (more ? 0x08 : 0) | (flen >> 8 & 7));
    hdr[2] = (uint8_t)flen;
    uint16_t hcs = x25(hdr + 1, h - 1);
    hdr[h++] = (uint8_t)hcs;
    hdr[h++] = (uint8_t)(hcs >> 8);
    /* With shared flags, a frame after the first reuses the last 7E. */
    size_t skip = shared_flags && pos > 0 ? 1 : 0;
    if (put(s, hdr + skip, h - skip) || put(s, info + pos, take))
      return -1;
    /* FCS over format .. information */
    static uint8_t whole[2100];
    memcpy(whole, hdr + 1, h - 1);
    memcpy(whole + h - 1, info + pos, take);
    uint16_t fcs = x25(whole, h - 1 + take);
    uint8_t tail[3] = {(uint8_t)fcs, (uint8_t)(fcs >> 8), 0x7E};
    if (put(s, tail, 3))
      return -1;
    pos += take;
  }
  return 0;
}

struct recipe {
  struct stream s;
  struct genuine g[MAX_FRAMES];
  size_t ng;
  uint32_t counter; /* last counter used */
  uint32_t max_genuine;
};

static void zeros(struct stream *s, size_t n) {
  static const uint8_t z[4096];
  while (n > 0) {
    size_t k = n < sizeof z ? n : sizeof z;
    if (put(s, z, k))
      return;
    n -= k;
  }
}

/* FUZZ_VERBOSE=1 in the environment: the recipe and the events on stderr,
 * to see what an input that fails does. */
static int verbose;

static void build(struct recipe *r, const uint8_t *d, size_t size, size_t cap) {
  static uint8_t frame[70000];
  size_t pos = 0;

  /* A record goes into the stream whole or not at all, and the closing run
   * of zeros always fits: a genuine frame that did not fit the stream is
   * not owed (regressions/fuzz_smarty/harness-stream-full-frame-owed). */
  size_t rec_at = 0, rec_ng = 0; /* where the last record began */
  r->s.limit = MAX_STREAM - (cap + 16);
  for (;;) {
    if (r->s.full) {
      /* The last record did not fit: it is taken back. */
      r->s.n = rec_at;
      r->ng = rec_ng;
      break;
    }
    if (pos + 2 > size || r->ng >= MAX_FRAMES)
      break;
    rec_at = r->s.n;
    rec_ng = r->ng;
    unsigned op = d[pos++];
    size_t len = d[pos++];
    if (op & 8) {
      if (pos >= size)
        break;
      len = len << 8 | d[pos++];
    }
    if (len > size - pos)
      len = size - pos;
    const uint8_t *text = d + pos;
    pos += len;

    unsigned kind = op & 7, form = op >> 4 & 3;
    const uint8_t *title = TITLE_A;
    uint32_t counter;
    if (kind == 0) {
      put(&r->s, text, len);
      continue;
    }
    if (kind == 6) {
      zeros(&r->s, cap + 16);
      continue;
    }
    if (kind == 1 && (op & 0x40) && r->counter > 0)
      counter = r->counter; /* the meter would never; a replay */
    else
      counter = ++r->counter;
    if (kind == 1 && (op & 0x80))
      title = TITLE_B;
    size_t n = seal(frame, text, len, kind == 7 ? WRONG_KEY : KEY, title,
                    counter, (int)form);

    /* A damaged frame may still arrive: the change or the cut can fall on
     * the HDLC wrapping only (its FCS, its closing flag), and the frame
     * inside is then genuine. It is never owed, though. */
    int damaged = kind == 4 || kind == 5;
    if (kind <= 5) {
      struct genuine *g = &r->g[r->ng++];
      memcpy(g->title, title, 8);
      g->counter = counter;
      g->text = text;
      g->len = len;
      /* smarty.h: DSMR_SMARTY_BUF_SIZE holds a frame in any wrapping. */
      g->must_arrive = !damaged && counter > r->max_genuine && len > 0 &&
                       DSMR_SMARTY_BUF_SIZE(len) <= cap;
      if (counter > r->max_genuine)
        r->max_genuine = counter;
    }
    if (verbose)
      fprintf(stderr, "record at %zu: kind %u op %02x counter %u text %zu\n",
              r->s.n, kind, op, counter, len);
    switch (kind) {
    case 1:
    case 7:
      put(&r->s, frame, n);
      break;
    case 2:
      hdlc_wrap(&r->s, frame, n, !(op & 0x40), op & 0x80, 0, 0);
      break;
    case 3:
      hdlc_wrap(&r->s, frame, n, 1, 0, (size_t)8 << form, op & 0x40);
      break;
    case 4:
    case 5: {
      /* The frame as sent (bare or wrapped), then the damage. */
      static uint8_t wrapped[MAX_STREAM];
      struct stream w = {wrapped, 0, 0, 0};
      if (!(op & 0x80))
        put(&w, frame, n);
      else if (hdlc_wrap(&w, frame, n, 1, 0, op & 0x40 ? (size_t)8 << form : 0,
                         0) != 0)
        break;
      if (kind == 4) {
        size_t at = len >= 2 ? ((size_t)text[0] << 8 | text[1]) % w.n : w.n / 2;
        wrapped[at] ^= len >= 3 ? (uint8_t)(text[2] | 1) : 0x01;
        put(&r->s, wrapped, w.n);
      } else {
        /* Bare: cut within the first 256 bytes (as the first version of
         * this target did, which the regression inputs rely on); wrapped:
         * anywhere. */
        size_t keep = len == 0 ? w.n - 1
                      : !(op & 0x80) || len < 2
                          ? text[0] % w.n
                          : ((size_t)text[0] << 8 | text[1]) % w.n;
        put(&r->s, wrapped, keep);
      }
      break;
    }
    }
  }
  r->s.limit = 0;
  r->s.full = 0;
  zeros(&r->s, cap + 16);
  FZ_ASSERT(!r->s.full);
}

/* ---- running the decoder ---------------------------------------------- */

struct event {
  enum dsmr_smarty_event ev;
  uint32_t counter, last;
  uint8_t title[8];
  int hdlc;
  size_t off, len; /* plaintext in the log's text */
};

struct log {
  struct event *e;
  size_t n, cap;
  uint8_t *text;
  size_t tlen, tcap;
  struct dsmr_smarty_stats stats;
};

static void record(struct log *lg, enum dsmr_smarty_event ev,
                   const struct dsmr_smarty_frame *f) {
  if (lg->n == lg->cap) {
    lg->cap = lg->cap ? 2 * lg->cap : 32;
    lg->e = realloc(lg->e, lg->cap * sizeof(*lg->e));
    FZ_ASSERT(lg->e != NULL);
  }
  struct event *e = &lg->e[lg->n++];
  memset(e, 0, sizeof(*e));
  e->ev = ev;
  e->counter = f->frame_counter;
  e->last = f->last_counter;
  memcpy(e->title, f->system_title, 8);
  e->hdlc = f->hdlc;
  e->off = lg->tlen;
  if (verbose)
    fprintf(stderr, "event %zu: %s counter %u last %u hdlc %d len %zu\n",
            lg->n - 1, dsmr_smarty_event_name(ev), f->frame_counter,
            f->last_counter, f->hdlc, f->len);
  if (ev == DSMR_SMARTY_PLAINTEXT) {
    FZ_ASSERT(f->data != NULL && f->len > 0);
    if (lg->tlen + f->len > lg->tcap) {
      lg->tcap = 2 * (lg->tlen + f->len);
      lg->text = realloc(lg->text, lg->tcap);
      FZ_ASSERT(lg->text != NULL);
    }
    memcpy(lg->text + lg->tlen, f->data, f->len);
    e->len = f->len;
    lg->tlen += f->len;
  } else {
    FZ_ASSERT(f->data == NULL && f->len == 0);
  }
}

struct chunker {
  unsigned kind, fixed;
  uint32_t rng;
};

static size_t next_chunk(struct chunker *c, size_t left) {
  size_t want = left;
  if (c->kind == 0) {
    want = c->fixed;
  } else if (c->kind <= 2) {
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 17;
    c->rng ^= c->rng << 5;
    want = 1 + c->rng % (c->kind == 1 ? 64 : 4096);
  }
  return want < left ? want : left;
}

/* The decoder's buffer (64 + 0..15999 bytes), of exact size: fuzz_slab.h */
FZ_SLAB(decoder_slab, 64 + 16000);

static void run(const struct stream *s, size_t cap, struct chunker c,
                struct log *lg) {
  struct dsmr_smarty d;
  char err[128];
  char *buf = (char *)fz_slab_take(decoder_slab, cap);
  size_t pos = 0, calls = 0;

  FZ_ASSERT(dsmr_smarty_init(&d, KEY, NULL, buf, cap, err, sizeof err) == 0);
  while (pos < s->n) {
    size_t chunk = next_chunk(&c, s->n - pos);
    const char *p = (const char *)s->b + pos;
    size_t len = chunk;
    enum dsmr_smarty_event ev;
    struct dsmr_smarty_frame f;
    /* smarty.h's loop: until the input is used up and no event is left. */
    do {
      size_t used = dsmr_smarty_feed(&d, p, len, &ev, &f);
      FZ_ASSERT(used <= len);
      FZ_ASSERT_MSG(++calls <= 4 * s->n + 64, "no progress after %zu calls",
                    calls);
      p += used;
      len -= used;
      if (ev != DSMR_SMARTY_NONE)
        record(lg, ev, &f);
    } while (len > 0 || ev != DSMR_SMARTY_NONE);
    pos += chunk;
  }
  lg->stats = d.stats;
  dsmr_smarty_free(&d);
  fz_slab_drop(decoder_slab);
}

static void free_log(struct log *lg) {
  free(lg->e);
  free(lg->text);
}

static void same_events(const struct log *a, const struct log *b) {
  FZ_ASSERT_MSG(a->n == b->n, "%zu events, %zu with another chunking", a->n,
                b->n);
  for (size_t i = 0; i < a->n; i++) {
    const struct event *x = &a->e[i], *y = &b->e[i];
    FZ_ASSERT_MSG(x->ev == y->ev && x->counter == y->counter &&
                      x->last == y->last && x->hdlc == y->hdlc &&
                      memcmp(x->title, y->title, 8) == 0 && x->len == y->len,
                  "event %zu: %d/%u vs %d/%u", i, (int)x->ev, x->counter,
                  (int)y->ev, y->counter);
    FZ_ASSERT(x->len == 0 ||
              memcmp(a->text + x->off, b->text + y->off, x->len) == 0);
  }
  const struct dsmr_smarty_stats *p = &a->stats, *q = &b->stats;
  FZ_ASSERT_MSG(
      memcmp(p, q, sizeof(*p)) == 0,
      "stats ok %llu/%llu auth %llu/%llu replay %llu/%llu "
      "malformed %llu/%llu large %llu/%llu hdlc %llu/%llu "
      "fcs %llu/%llu noise %llu/%llu bytes %llu/%llu",
      (unsigned long long)p->frames_ok, (unsigned long long)q->frames_ok,
      (unsigned long long)p->auth_failures,
      (unsigned long long)q->auth_failures, (unsigned long long)p->replays,
      (unsigned long long)q->replays, (unsigned long long)p->malformed,
      (unsigned long long)q->malformed, (unsigned long long)p->too_large,
      (unsigned long long)q->too_large, (unsigned long long)p->hdlc_frames,
      (unsigned long long)q->hdlc_frames,
      (unsigned long long)p->hdlc_fcs_errors,
      (unsigned long long)q->hdlc_fcs_errors,
      (unsigned long long)p->noise_bytes, (unsigned long long)q->noise_bytes,
      (unsigned long long)p->bytes, (unsigned long long)q->bytes);
}

/* The genuine frame an event is about: same title and counter (and, for a
 * plaintext, the same text: a replayed counter may carry another one),
 * looked for from index `from` on. */
static const struct genuine *find_genuine(const struct recipe *r,
                                          const struct event *e,
                                          const uint8_t *text, size_t from) {
  for (size_t i = from; i < r->ng; i++) {
    const struct genuine *g = &r->g[i];
    if (g->counter == e->counter && memcmp(g->title, e->title, 8) == 0 &&
        (!text || (g->len == e->len && memcmp(g->text, text, g->len) == 0)))
      return g;
  }
  return NULL;
}

static void check_log(const struct recipe *r, const struct log *lg,
                      size_t cap) {
  uint64_t counts[6] = {0};
  uint32_t last = 0;
  int have_last = 0;
  size_t next_due = 0; /* in r->g: the next frame that must arrive */

  for (size_t i = 0; i < lg->n; i++) {
    const struct event *e = &lg->e[i];
    FZ_ASSERT(e->ev > DSMR_SMARTY_NONE && e->ev <= DSMR_SMARTY_TOO_LARGE);
    counts[e->ev]++;
    if (e->ev == DSMR_SMARTY_PLAINTEXT) {
      /* Released counters increase, and sealed ones never decrease: the
       * frame is at or after the next one due. */
      const struct genuine *g = find_genuine(r, e, lg->text + e->off, next_due);
      FZ_ASSERT_MSG(g != NULL, "plaintext not sealed as such: counter %u",
                    e->counter);
      FZ_ASSERT(e->len <= cap);
      FZ_ASSERT(!have_last || e->counter > last);
      last = e->counter;
      have_last = 1;
      /* Every frame that had to arrive before this one did. */
      for (; next_due < r->ng && &r->g[next_due] != g; next_due++)
        FZ_ASSERT_MSG(!r->g[next_due].must_arrive,
                      "genuine frame %u (%zu bytes of text) was lost",
                      r->g[next_due].counter, r->g[next_due].len);
      if (next_due < r->ng)
        next_due++;
    } else if (e->ev == DSMR_SMARTY_REPLAY) {
      FZ_ASSERT_MSG(find_genuine(r, e, NULL, 0) != NULL,
                    "replay of a forged frame");
      FZ_ASSERT(have_last && e->last == last && e->counter <= last);
    }
  }
  for (; next_due < r->ng; next_due++)
    FZ_ASSERT_MSG(!r->g[next_due].must_arrive,
                  "genuine frame %u (%zu bytes of text) was lost at the end",
                  r->g[next_due].counter, r->g[next_due].len);

  const struct dsmr_smarty_stats *st = &lg->stats;
  FZ_ASSERT(st->frames_ok == counts[DSMR_SMARTY_PLAINTEXT]);
  FZ_ASSERT(st->auth_failures == counts[DSMR_SMARTY_AUTH_FAILED]);
  FZ_ASSERT(st->replays == counts[DSMR_SMARTY_REPLAY]);
  FZ_ASSERT(st->malformed == counts[DSMR_SMARTY_MALFORMED]);
  FZ_ASSERT(st->too_large == counts[DSMR_SMARTY_TOO_LARGE]);
  FZ_ASSERT(st->bytes == r->s.n);
  FZ_ASSERT(st->noise_bytes <= st->bytes);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* The harness seals with libgcrypt too; the decoder's init also calls
   * gcry_check_version, which is harmless twice. */
  FZ_ASSERT(gcry_check_version(NULL) != NULL);
  verbose = getenv("FUZZ_VERBOSE") != NULL;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct recipe r;
  static uint8_t stream[MAX_STREAM];

  if (size < 3 || size > MAX_INPUT)
    return 0;
  unsigned mode = data[0];
  size_t cap = 64 + ((size_t)data[1] << 8 | data[2]) % 16000;

  memset(&r, 0, sizeof r);
  r.s.b = stream;
  build(&r, data + 3, size - 3, cap);

  struct chunker as_given = {mode & 3, (mode >> 2) + 1, mode * 2654435761u | 1};
  struct chunker bytewise = {0, 1, 0}, whole = {3, 0, 0};
  struct log a = {0}, b = {0}, c = {0};
  run(&r.s, cap, as_given, &a);
  check_log(&r, &a, cap);
  run(&r.s, cap, bytewise, &b);
  same_events(&a, &b);
  run(&r.s, cap, whole, &c);
  same_events(&a, &c);
  free_log(&a);
  free_log(&b);
  free_log(&c);
  return 0;
}
