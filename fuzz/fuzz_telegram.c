/* fuzz_telegram: framer + parser + mapper on a byte stream cut into
 * arbitrary chunks, the way a serial line or a socket delivers it.
 *
 * Input: [mode] [size hi] [size lo] stream...
 *   size  = (size hi << 8 | size lo) % 16385: the framer's buffer (the
 *           maximum telegram). 0 means no buffer at all (NULL); 8192 (0x20
 *           0x00) is the plugin's default.
 *   mode  = how the stream is chunked: mode & 3 == 0: chunks of
 *           (mode >> 2) + 1 bytes; 1: pseudo-random chunks of 1..64 bytes;
 *           2: of 1..4096 bytes (both seeded with mode); 3: one piece.
 *
 * Checks:
 *  - a reference framer (below: byte by byte, written from framer.h) sees
 *    the same events; every frame is the same '/'..'!' slice of the stream,
 *    with the same CRC verdict, given and computed CRC, and the framer's
 *    statistics are those the reference counted;
 *  - the same stream fed byte by byte and in one piece gives the same
 *    (each skipped when the input's own chunking is exactly that);
 *  - every frame: 1 <= len <= size, '/' first, '!' last, CRC-16/ARC equal
 *    to a bitwise reference, verdict OK exactly when given == computed;
 *  - every frame (copied into a buffer of exactly its size, fuzz_slab.h,
 *    so that AddressSanitizer sees over-reads) goes through
 *    dsmr_map_telegram (twice: the same readings, no hidden state), the
 *    stateful mapper (twice: the second time from the number shapes just
 *    learnt; the same readings as without them) and a dsmr_parser loop:
 *    each call makes progress, every span lies inside the frame, group
 *    counts stay in bounds, and every group goes through the value checks
 *    of value_oracle.c (once per distinct group in an input: they are pure
 *    functions of its bytes);
 *  - the whole stream, framed or not, also goes through parser and mapper
 *    (they must take any bytes, not only what the framer lets through). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "framer.h"
#include "fuzz_assert.h"
#include "fuzz_slab.h"
#include "mapper.h"
#include "parser.h"
#include "timestamp.h"
#include "value_oracle.h"

/* Two copies of the library. In the ASan build (build.sh) the harness
 * also links a second copy of the library, built with the same
 * AddressSanitizer and UBSan but without the fuzzer's coverage and
 * comparison tracing, its symbols prefixed nc_. The calls that repeat what
 * an instrumented call of the same input already did go to that copy: the
 * byte-by-byte and one-piece replays of the framer, the shape check's
 * reference mapping and the value checks' library calls. Coverage tracing
 * cost as much as the two sanitizers together (timings in
 * fuzz/README.md), and on these calls it only told the fuzzer again what it
 * had just seen, or what it can reach directly:
 *  - every framer path of a replay is reached by feeding the same stream
 *    in chunks of 1 byte (mode 0) or in one piece (mode 3) as given, and
 *    that call is instrumented; the replays' check (same events, frames,
 *    verdicts and statistics as the reference) is made as before, and a
 *    bad read or write in them is still an ASan or UBSan report;
 *  - the reference mapping of the shape check is a mapping without shapes,
 *    which the instrumented stateless and stateful mappings of the same
 *    frame already cover; the comparison is made as before;
 *  - the value functions get their own guided target (fuzz_values), and
 *    the mapper's instrumented calls of them cover the values in context.
 * The no-hidden-state check (the same stateless mapping twice) stays on
 * one copy, the instrumented one: a static left over from an earlier call
 * of that copy shows there. Readings from the two copies point to equal
 * strings at different addresses, so they are compared by content (see
 * same_readings). The MSan build (replays only) has one copy: NC(f) is f.
 * The instrumented copy has the fuzzer's coverage but not its comparison
 * tracing (build.sh; measured in fuzz/README.md). */
#ifdef FZ_NOCOV_COPY
#define NC(fn) nc_##fn
__typeof__(dsmr_crc16) nc_dsmr_crc16;
__typeof__(dsmr_framer_init) nc_dsmr_framer_init;
__typeof__(dsmr_framer_feed) nc_dsmr_framer_feed;
__typeof__(dsmr_map_telegram_state) nc_dsmr_map_telegram_state;
#else
#define NC(fn) fn
#endif

#define MAX_INPUT (64 * 1024)
#define MAX_CAP 16384

/* Exact-size buffers (fuzz_slab.h): the framer's, a frame's copy, the raw
 * stream's copy. */
FZ_SLAB(framer_slab, MAX_CAP);
FZ_SLAB(frame_slab, MAX_CAP);
FZ_SLAB(raw_slab, MAX_INPUT);

/* ---- the reference framer --------------------------------------------- */

struct event {
  enum dsmr_frame_event ev;
  size_t off, len; /* the frame is stream[off .. off+len) */
  enum dsmr_crc_verdict crc;
  uint16_t given, computed;
};

/* Every event takes at least the one byte of its '/', so a stream has at
 * most as many events as bytes: one static array, no realloc per input
 * (under AddressSanitizer every heap block costs a trip through its
 * allocator and quarantine). */
static struct event event_store[MAX_INPUT];

struct events {
  struct event *v;
  size_t n, cap;
};

static void push(struct events *e, struct event ev) {
  FZ_ASSERT(e->n < e->cap);
  e->v[e->n++] = ev;
}

enum { R_HUNT, R_BODY, R_CRC, R_SKIP, R_TRAIL_CR, R_TRAIL_LF };

static int hexdigit(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* framer.h, one byte at a time: '/' starts a telegram (dropping one being
 * collected); '!' ends its text; then up to 4 hex digits, ended early by
 * CR, LF or the next '/'; any other byte there is a malformed CRC line
 * (BAD) and is then noise. A telegram whose '/'..'!' exceeds cap is one
 * TOO_LARGE event and is skipped up to the next '/'. The CR LF after a CRC
 * line is not noise. */
static void reference_frame(const unsigned char *s, size_t n, size_t cap,
                            struct events *out, struct dsmr_framer_stats *st) {
  int state = R_HUNT;
  size_t off = 0, len = 0;
  unsigned digits = 0;
  uint16_t value = 0;

  memset(st, 0, sizeof(*st));
  st->bytes = n;
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    switch (state) {
    case R_HUNT:
    case R_SKIP:
      if (c != '/') {
        if (state == R_HUNT)
          st->noise_bytes++;
        i++;
        break;
      }
      digits = 0;
      value = 0;
      if (cap < 1) {
        st->too_large++;
        push(out, (struct event){.ev = DSMR_FRAME_TOO_LARGE});
        state = R_SKIP;
      } else {
        off = i;
        len = 1;
        state = R_BODY;
      }
      i++;
      break;
    case R_BODY:
      if (c == '/') {
        st->dropped++;
        state = R_HUNT; /* the '/' starts the next one */
        break;
      }
      if (++len > cap) {
        st->too_large++;
        push(out, (struct event){.ev = DSMR_FRAME_TOO_LARGE});
        state = R_SKIP;
      } else if (c == '!') {
        state = R_CRC;
      }
      i++;
      break;
    case R_CRC: {
      int d = hexdigit(c), malformed = 0;
      if (d >= 0) {
        value = (uint16_t)(value << 4 | d);
        i++;
        if (++digits < 4)
          break;
        state = R_TRAIL_CR;
      } else if (c == '\r') {
        i++;
        state = R_TRAIL_LF;
      } else if (c == '\n') {
        i++;
        state = R_HUNT;
      } else if (c == '/') {
        state = R_HUNT;
      } else {
        malformed = 1;
        state = R_HUNT;
      }
      struct event e = {.ev = DSMR_FRAME_TELEGRAM, .off = off, .len = len};
      e.given = value;
      e.computed = oracle_crc16(s + off, len);
      e.crc = malformed               ? DSMR_CRC_BAD
              : digits == 0           ? DSMR_CRC_NONE
              : e.given == e.computed ? DSMR_CRC_OK
                                      : DSMR_CRC_BAD;
      st->telegrams++;
      if (e.crc == DSMR_CRC_OK)
        st->crc_ok++;
      else if (e.crc == DSMR_CRC_BAD)
        st->crc_bad++;
      else
        st->crc_none++;
      push(out, e);
      break;
    }
    case R_TRAIL_CR:
      if (c == '\r')
        i++;
      state = R_TRAIL_LF;
      break;
    case R_TRAIL_LF:
      if (c == '\n')
        i++;
      state = R_HUNT;
      break;
    }
  }
}

/* ---- the parser and mapper on one frame ------------------------------- */

/* Fill the stack below the caller with non-zero garbage, so that a local
 * variable the library forgets to initialise holds garbage in the next
 * call too, deterministically, rather than whatever earlier inputs left
 * there (often zeros). A string read from such a variable then runs into
 * AddressSanitizer's redzone on the first input that reaches it, and the
 * crash replays from the saved input alone. (MemorySanitizer finds the
 * same directly: build.sh makes *_msan variants.) */
static __attribute__((noinline)) void fz_dirty_stack(void) {
  /* 8 KiB: under ASan a mapping (dsmr_map_telegram_state) reaches 7,048
   * bytes below this frame (measured: the stack painted, then scanned after
   * each mapping of 1,177 grown inputs; clang-14 -O1; the earlier "under
   * 2 KiB" added up -fstack-usage figures instead). One memset, kept
   * by the empty asm that "reads" junk: the volatile loop over 64 KiB it
   * replaces was three quarters of the target's time (three calls per
   * frame). */
  unsigned char junk[8 * 1024];
  memset(junk, 0xA5, sizeof junk);
  __asm__ volatile("" : : "r"(junk) : "memory");
}

static int inside(struct dsmr_span sp, const char *base, size_t len) {
  if (sp.len == 0)
    return 1; /* an empty span may point anywhere (or nowhere) */
  return sp.ptr >= base && sp.len <= len &&
         (size_t)(sp.ptr - base) <= len - sp.len;
}

/* Big: one of these lives in static storage, not on the fuzzer's stack. */
static struct dsmr_telegram tel, tel2, tel3;
/* One meter's state across the frames of one input (reset per input), and
 * a copy of it without the number shapes (mapper.h): the shapes are a
 * cache, so both must give the same readings. */
static struct dsmr_map_state fz_state, fz_ref_state;

/* The same static string: the same pointer when both come from one copy
 * of the library, the same text when from the two copies. */
static int same_str(const char *x, const char *y, int copies) {
  if (!copies || x == NULL || y == NULL)
    return x == y;
  return strcmp(x, y) == 0;
}

/* copies: a and b come from the two copies of the library (see above). */
static void same_readings(const struct dsmr_telegram *a,
                          const struct dsmr_telegram *b, int copies) {
#ifndef FZ_NOCOV_COPY
  copies = 0;
#endif
  FZ_ASSERT(a->nreadings == b->nreadings && a->errors == b->errors &&
            a->nobjects == b->nobjects && a->unitless == b->unitless &&
            same_str(a->first_error, b->first_error, copies) &&
            a->first_error_line == b->first_error_line);
  for (unsigned i = 0; i < a->nreadings; i++) {
    const struct dsmr_reading *x = &a->readings[i], *y = &b->readings[i];
    FZ_ASSERT(same_str(x->type, y->type, copies) &&
              same_str(x->type_instance, y->type_instance, copies) &&
              x->ds == y->ds && x->time_kind == y->time_kind &&
              x->capture_time == y->capture_time && x->line == y->line &&
              x->channel == y->channel && x->flags == y->flags);
    FZ_ASSERT(x->ds == DSMR_DS_DERIVE
                  ? x->derive == y->derive
                  : memcmp(&x->gauge, &y->gauge, sizeof x->gauge) == 0);
  }
}

static void check_mapped(const struct dsmr_telegram *t, const char *f,
                         size_t n) {
  FZ_ASSERT(t->nreadings <= DSMR_MAX_READINGS);
  FZ_ASSERT((t->errors == 0) == (t->first_error == NULL));
  FZ_ASSERT(memchr(t->first_error_obis, 0, sizeof(t->first_error_obis)));
  FZ_ASSERT(inside(t->info.header, f, n));
  FZ_ASSERT(inside(t->info.equipment_id, f, n));
  FZ_ASSERT(inside(t->info.text_message, f, n));
  FZ_ASSERT(t->unknown_objects <= t->nobjects);
  for (unsigned i = 0; i < t->nreadings; i++) {
    const struct dsmr_reading *r = &t->readings[i];
    /* type_instance may be "" (frequency, tariff): one per meter */
    FZ_ASSERT(r->type && r->type[0] && r->type_instance);
    FZ_ASSERT(r->ds == DSMR_DS_GAUGE || r->ds == DSMR_DS_DERIVE);
    if (r->ds == DSMR_DS_DERIVE)
      FZ_ASSERT(r->derive >= 0); /* registers never read negative */
    else
      FZ_ASSERT(isfinite(r->gauge));
    FZ_ASSERT(r->line >= 1);
    if (r->time_kind == DSMR_AT_CAPTURE) {
      /* mapper.c: placeholder capture times (before 2001) are dropped */
      FZ_ASSERT(r->capture_time >= 978307200);
      FZ_ASSERT(r->channel <= 4);
    } else {
      FZ_ASSERT(r->time_kind == DSMR_AT_TELEGRAM && r->channel == 0);
    }
  }
}

/* The frame through the stateful mapper, twice (the second time every
 * value has the shape just learnt), each time against the reference. */
static void check_shapes(const char *f, size_t n) {
  uint8_t owner[sizeof fz_state.plain_owner];
  uint64_t told[2];
  for (int k = 0; k < 2; k++) {
    /* The reference is the same mapping as the time before (no hidden
     * state: checked on every frame) when the state it copies has not
     * changed since: then it is not computed again. */
    if (k == 0 || memcmp(owner, fz_state.plain_owner, sizeof owner) != 0 ||
        memcmp(told, fz_state.unitless_told, sizeof told) != 0) {
      memset(&fz_ref_state, 0, sizeof fz_ref_state);
      memcpy(owner, fz_state.plain_owner, sizeof owner);
      memcpy(told, fz_state.unitless_told, sizeof told);
      memcpy(fz_ref_state.plain_owner, owner, sizeof owner);
      memcpy(fz_ref_state.unitless_told, told, sizeof told);
      fz_dirty_stack();
      NC(dsmr_map_telegram_state)(f, n, &tel2, &fz_ref_state);
    }
    fz_dirty_stack();
    dsmr_map_telegram_state(f, n, &tel, &fz_state);
    check_mapped(&tel, f, n);
    same_readings(&tel, &tel2, 1);
  }
}
static struct dsmr_object obj;

/* The value checks are pure functions of a group's bytes: a group already
 * checked in this input (the same value in the next frame, or in the raw
 * stream after its frames) is not checked again. Groups are known by two
 * independent 64-bit hashes and their length; one that ends where its
 * buffer ends is always checked (an over-read shows only there). */
#define SEEN_SLOTS 4096
static struct seen {
  uint64_t h1, h2;
  size_t len;
  unsigned gen;
} seen[SEEN_SLOTS];
static unsigned seen_gen = 1, seen_n;

static int value_seen(struct dsmr_span g, const char *end) {
  if (g.len == 0 || g.ptr + g.len == end || seen_n >= SEEN_SLOTS / 2)
    return 0;
  uint64_t h1 = 1469598103934665603u, h2 = 0x9E3779B97F4A7C15u;
  for (size_t i = 0; i < g.len; i++) {
    unsigned char c = (unsigned char)g.ptr[i];
    h1 = (h1 ^ c) * 1099511628211u;          /* FNV-1a */
    h2 = (h2 + c + 1) * 0xBF58476D1CE4E5B9u; /* a multiplicative mix */
    h2 ^= h2 >> 29;
  }
  size_t i = (size_t)(h1 ^ h2) % SEEN_SLOTS;
  for (;; i = (i + 1) % SEEN_SLOTS) {
    struct seen *e = &seen[i];
    if (e->gen != seen_gen) {
      *e = (struct seen){h1, h2, g.len, seen_gen};
      seen_n++;
      return 0;
    }
    if (e->h1 == h1 && e->h2 == h2 && e->len == g.len)
      return 1;
  }
}

static void check_frame_parse(const char *f, size_t n) {
  struct dsmr_parser p;
  enum dsmr_parse_status st;
  unsigned objects = 0, errors = 0;

  fz_dirty_stack();
  dsmr_map_telegram(f, n, &tel3);
  check_mapped(&tel3, f, n);
  /* No hidden state: the same frame maps to the same readings. */
  fz_dirty_stack();
  dsmr_map_telegram(f, n, &tel2);
  same_readings(&tel3, &tel2, 0);

  check_shapes(f, n);

  fz_dirty_stack();
  dsmr_parser_init(&p, f, n);
  FZ_ASSERT(inside(p.header, f, n));
  FZ_ASSERT(p.header.len == tel3.info.header.len);
  for (;;) {
    const char *before = p.pos;
    st = dsmr_parser_next(&p, &obj);
    FZ_ASSERT(p.pos >= f && p.pos <= f + n);
    if (st == DSMR_PARSE_END)
      break;
    /* Every other answer consumes input, or the caller's loop never ends. */
    FZ_ASSERT(p.pos > before);
    if (st == DSMR_PARSE_ERROR) {
      FZ_ASSERT(p.error != NULL && p.error_line >= 1);
      errors++;
      continue;
    }
    FZ_ASSERT(st == DSMR_PARSE_OBJECT);
    objects++;
    FZ_ASSERT(obj.ngroups >= 1 && obj.ngroups <= DSMR_MAX_GROUPS);
    FZ_ASSERT(obj.id.len > 0 && inside(obj.id, f, n));
    FZ_ASSERT(obj.line >= 1);
    for (unsigned g = 0; g < obj.ngroups; g++) {
      FZ_ASSERT(inside(obj.groups[g], f, n));
      FZ_ASSERT(obj.groups[g].len == 0 || obj.groups[g].ptr > obj.id.ptr);
      if (value_seen(obj.groups[g], f + n))
        continue;
      check_number(obj.groups[g]);
      check_timestamp(obj.groups[g]);
      check_cosem_clock(obj.groups[g]);
    }
  }
  FZ_ASSERT(objects == tel3.nobjects);
  /* Every parse error is a mapper error too (mapped objects add more). */
  FZ_ASSERT(tel3.errors >= errors);
}

/* ---- feeding the framer ----------------------------------------------- */

struct chunker {
  unsigned kind, fixed;
  uint32_t rng;
};

static size_t next_chunk(struct chunker *c, size_t left) {
  size_t want;
  switch (c->kind) {
  case 0:
    want = c->fixed;
    break;
  case 1:
  case 2:
    /* xorshift32: cheap and fully determined by the mode byte */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 17;
    c->rng ^= c->rng << 5;
    want = 1 + c->rng % (c->kind == 1 ? 64 : 4096);
    break;
  default:
    want = left;
  }
  return want < left ? want : left;
}

/* Feed s[0..n) in the chunks c gives, check each event against the
 * reference, and (when `parse` is set) parse and map every frame. */
static void run_framer(const unsigned char *s, size_t n, size_t cap,
                       struct chunker c, const struct events *ref,
                       const struct dsmr_framer_stats *ref_st, int parse) {
  /* The replays (parse == 0) feed the copy without coverage tracing. */
  __typeof__(dsmr_framer_init) *init =
      parse ? dsmr_framer_init : NC(dsmr_framer_init);
  __typeof__(dsmr_framer_feed) *feed =
      parse ? dsmr_framer_feed : NC(dsmr_framer_feed);
  __typeof__(dsmr_crc16) *crc16 = parse ? dsmr_crc16 : NC(dsmr_crc16);
  struct dsmr_framer f;
  /* exact size: ASan sees overflows */
  char *buf = cap ? (char *)fz_slab_take(framer_slab, cap) : NULL;
  size_t pos = 0, k = 0;

  init(&f, buf, cap);
  while (pos < n) {
    size_t chunk = next_chunk(&c, n - pos), at = 0;
    while (at < chunk) {
      enum dsmr_frame_event ev = (enum dsmr_frame_event)99; /* poison */
      struct dsmr_frame fr;
      size_t used = feed(&f, (const char *)s + pos + at, chunk - at, &ev, &fr);
      FZ_ASSERT(used <= chunk - at);
      at += used;
      if (ev == DSMR_FRAME_NONE) {
        /* Without an event the framer must have taken everything. */
        FZ_ASSERT(at == chunk);
        continue;
      }
      FZ_ASSERT(used > 0 || ev == DSMR_FRAME_TELEGRAM);
      FZ_ASSERT_MSG(k < ref->n, "event %zu at %zu: reference has %zu", k,
                    pos + at, ref->n);
      const struct event *e = &ref->v[k++];
      FZ_ASSERT_MSG(ev == e->ev, "event %zu: %d, reference %d", k - 1, (int)ev,
                    (int)e->ev);
      if (ev != DSMR_FRAME_TELEGRAM)
        continue;
      FZ_ASSERT(fr.len >= 1 && fr.len <= cap);
      FZ_ASSERT(fr.data == buf);
      FZ_ASSERT(fr.data[0] == '/' && fr.data[fr.len - 1] == '!');
      FZ_ASSERT_MSG(fr.len == e->len &&
                        memcmp(fr.data, s + e->off, e->len) == 0,
                    "frame %zu: len %zu, reference %zu at %zu", k - 1, fr.len,
                    e->len, e->off);
      FZ_ASSERT(fr.crc_computed == crc16(0, fr.data, fr.len));
      FZ_ASSERT(fr.crc_computed == e->computed);
      FZ_ASSERT_MSG(fr.crc == e->crc, "frame %zu: verdict %d, reference %d",
                    k - 1, (int)fr.crc, (int)e->crc);
      FZ_ASSERT(fr.crc != DSMR_CRC_OK || fr.crc_given == fr.crc_computed);
      if (fr.crc != DSMR_CRC_NONE)
        FZ_ASSERT(fr.crc_given == e->given);
      if (parse) {
        char *copy = (char *)fz_slab_take(frame_slab, fr.len);
        memcpy(copy, fr.data, fr.len);
        check_frame_parse(copy, fr.len);
        fz_slab_drop(frame_slab);
      }
    }
    pos += chunk;
  }
  FZ_ASSERT_MSG(k == ref->n, "%zu events, reference %zu", k, ref->n);
  FZ_ASSERT(f.stats.bytes == ref_st->bytes);
  FZ_ASSERT(f.stats.telegrams == ref_st->telegrams);
  FZ_ASSERT(f.stats.crc_ok == ref_st->crc_ok);
  FZ_ASSERT(f.stats.crc_bad == ref_st->crc_bad);
  FZ_ASSERT(f.stats.crc_none == ref_st->crc_none);
  FZ_ASSERT(f.stats.too_large == ref_st->too_large);
  FZ_ASSERT(f.stats.dropped == ref_st->dropped);
  FZ_ASSERT_MSG(f.stats.noise_bytes == ref_st->noise_bytes,
                "noise %llu, reference %llu",
                (unsigned long long)f.stats.noise_bytes,
                (unsigned long long)ref_st->noise_bytes);
  fz_slab_drop(framer_slab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3 || size > MAX_INPUT)
    return 0;
  unsigned mode = data[0];
  size_t cap = ((size_t)data[1] << 8 | data[2]) % (MAX_CAP + 1);
  const unsigned char *s = data + 3;
  size_t n = size - 3;

  memset(&fz_state, 0, sizeof fz_state);
  seen_gen++; /* forget the groups of the last input */
  seen_n = 0;
  struct events ref = {event_store, 0, MAX_INPUT};
  struct dsmr_framer_stats ref_st;
  reference_frame(s, n, cap, &ref, &ref_st);

  struct chunker as_given = {mode & 3, (mode >> 2) + 1, mode * 2654435761u | 1};
  struct chunker bytewise = {0, 1, 0}, whole = {3, 0, 0};
  run_framer(s, n, cap, as_given, &ref, &ref_st, 1);
  /* Byte by byte and in one piece, unless that is how it was just fed
   * (mode 0: chunks of 1 byte; mode & 3 == 3, or one chunk of n or more
   * bytes: one piece): the same calls again would check nothing new. */
  if (mode != 0)
    run_framer(s, n, cap, bytewise, &ref, &ref_st, 0);
  if ((mode & 3) != 3 && !((mode & 3) == 0 && (mode >> 2) + 1 >= n))
    run_framer(s, n, cap, whole, &ref, &ref_st, 0);

  /* Parser and mapper on the raw stream: an exact-size copy. */
  char *copy = (char *)fz_slab_take(raw_slab, n);
  memcpy(copy, s, n);
  check_frame_parse(copy, n);
  fz_slab_drop(raw_slab);
  return 0;
}
