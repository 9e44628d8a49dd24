/* Smarty decryption. Frames are made here with libgcrypt from corpus
 * telegrams (all three length forms, bare and inside HDLC, whole and
 * segmented) and fed whole, byte by byte and in random chunks, alone and
 * back to back between noise; then spoiled in every way a line or a user
 * can spoil them. One frame was made by OpenSSL (python3-cryptography), to
 * check both our sealing helper and the decoder against an independent GCM,
 * and one HDLC frame is a real meter's, to check HCS/FCS.
 *
 * Every chunk is copied into its own exactly sized heap block, so that
 * AddressSanitizer / valgrind catch any read past the bytes handed over. */
#define _GNU_SOURCE /* memmem */
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "framer.h"
#include "smarty.h"
#include "smarty_seal.h"
#include "tap.h"
#include "test_util.h"

#define CAP DSMR_SMARTY_BUF_SIZE(DSMR_DEFAULT_MAX_TELEGRAM)
#define MAX_STREAM 65536

static const uint8_t OTHER_AK[16] = {0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5,
                                     0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB,
                                     0xAC, 0xAD, 0xAE, 0xAF};
static const uint8_t TITLE2[8] = {'S', 'A', 'G', 0x67, 0x70, 0x00, 0x00, 0x01};

/* ---- telegrams ---------------------------------------------------------- */

struct text {
  char b[4096];
  size_t len;
};

static void load(struct text *t, const char *id) {
  const char *dir = getenv("top_srcdir");
  char path[1024];
  FILE *fp;
  snprintf(path, sizeof path, "%s/tests/corpus/telegrams/%s.p1",
           dir && *dir ? dir : ".", id);
  fp = fopen(path, "rb");
  if (!fp)
    bail(path);
  t->len = fread(t->b, 1, sizeof t->b, fp);
  fclose(fp);
  if (t->len == 0 || t->len == sizeof t->b)
    bail(path);
}

/* A telegram with a correct CRC line, from lines joined with CR LF. */
static void craft(struct text *t, const char *body) {
  size_t n = strlen(body);
  memcpy(t->b, body, n);
  t->len = n + (size_t)snprintf(t->b + n, sizeof t->b - n, "%04X\r\n",
                                dsmr_crc16(0, body, n));
}

/* ---- sealing: what the meter does ------------------------------------- */

/* smarty_seal (smarty_seal.h), giving up when the body does not fit the
 * length form or libgcrypt refuses. */
static size_t seal(uint8_t *out, const void *pt, size_t n,
                   const uint8_t key[16], const uint8_t ak[16],
                   const uint8_t title[8], uint32_t fc, int form) {
  size_t len = smarty_seal(out, pt, n, key, ak, title, fc, form);
  if (len == 0)
    bail("cannot seal: too long for the length form, or libgcrypt refused");
  return len;
}

static size_t seal_text(uint8_t *out, const struct text *t, uint32_t fc,
                        int form) {
  return seal(out, t->b, t->len, KEY, LUX_AK, TITLE, fc, form);
}

/* ---- HDLC: what some adapters do ---------------------------------------- */

static uint16_t x25(const uint8_t *p, size_t n) {
  uint16_t crc = 0xFFFF;
  while (n--) {
    crc ^= *p++;
    for (int i = 0; i < 8; i++)
      crc = (uint16_t)(crc & 1 ? (crc >> 1) ^ 0x8408 : crc >> 1);
  }
  return (uint16_t)~crc;
}

struct hdlc_opt {
  int llc;     /* E6 E7 00 before the DB 08 frame */
  int dst_len; /* 1, 2 or 4 address bytes */
  int src_len;
  size_t seg_max;   /* information bytes per frame; 0 = one frame */
  int shared_flags; /* one 7E between frames instead of two */
};

static const struct hdlc_opt HDLC_PLAIN = {1, 1, 1, 0, 0};

static size_t put_addr(uint8_t *p, int len, uint8_t last) {
  for (int i = 0; i < len - 1; i++)
    p[i] = (uint8_t)(0x10 + 2 * i); /* bit 0 clear: more to come */
  p[len - 1] = last;                /* bit 0 set: the last byte */
  return (size_t)len;
}

static size_t hdlc_wrap(uint8_t *out, const uint8_t *in, size_t n,
                        const struct hdlc_opt *o) {
  uint8_t info[4096];
  size_t ilen = 0, pos = 0, w = 0;

  if (o->llc) {
    memcpy(info, "\xE6\xE7\x00", 3);
    ilen = 3;
  }
  memcpy(info + ilen, in, n);
  ilen += n;
  while (pos < ilen) {
    size_t take =
        o->seg_max && ilen - pos > o->seg_max ? o->seg_max : ilen - pos;
    int more = pos + take < ilen;
    size_t start, hcs_at, flen;
    uint16_t c;
    if (w == 0 || !o->shared_flags)
      out[w++] = 0x7E;
    start = w;
    w += 2; /* format, filled in below */
    w += put_addr(out + w, o->dst_len, 0x41);
    w += put_addr(out + w, o->src_len, 0x03);
    out[w++] = 0x13; /* UI frame, final */
    hcs_at = w;
    w += 2;
    memcpy(out + w, info + pos, take);
    w += take;
    flen = w + 2 - start;
    out[start] = (uint8_t)(0xA0 | (more ? 0x08 : 0) | (flen >> 8));
    out[start + 1] = (uint8_t)flen;
    c = x25(out + start, hcs_at - start);
    out[hcs_at] = (uint8_t)c;
    out[hcs_at + 1] = (uint8_t)(c >> 8);
    c = x25(out + start, w - start);
    out[w++] = (uint8_t)c;
    out[w++] = (uint8_t)(c >> 8);
    out[w++] = 0x7E;
    pos += take;
  }
  return w;
}

/* ---- running the decoder ---------------------------------------------- */

enum chunking { WHOLE, BYTES, RANDOM };

struct rec {
  enum dsmr_smarty_event ev;
  size_t off, len; /* plaintext in log.text */
  uint32_t fc, last;
  int hdlc;
  uint8_t title[8];
  enum dsmr_crc_verdict crc; /* the framer's verdict on the plaintext */
  int framed;                /* the framer found exactly one telegram */
};

struct log {
  struct rec r[256];
  size_t n;
  char text[MAX_STREAM];
  size_t tlen;
  struct dsmr_smarty_stats stats;
  int leak;  /* the buffer held the needle at a failure */
  int wiped; /* the buffer was all zero after dsmr_smarty_free */
};

struct run_opt {
  const uint8_t *key, *ak; /* ak NULL: the Luxembourg default */
  size_t cap;
  const char *needle; /* must never sit in the decoder's buffer */
};

static const struct run_opt DEFAULTS = {KEY, NULL, CAP, NULL};

static uint64_t rng;
static unsigned rnd(unsigned n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (unsigned)(rng % n);
}

static void record(struct log *lg, enum dsmr_smarty_event ev,
                   const struct dsmr_smarty_frame *out) {
  struct rec *r;
  if (lg->n == sizeof lg->r / sizeof lg->r[0])
    bail("too many events");
  r = &lg->r[lg->n++];
  memset(r, 0, sizeof *r);
  r->ev = ev;
  r->fc = out->frame_counter;
  r->last = out->last_counter;
  r->hdlc = out->hdlc;
  memcpy(r->title, out->system_title, 8);
  r->off = lg->tlen;
  if (ev == DSMR_SMARTY_PLAINTEXT) {
    struct dsmr_framer f;
    struct dsmr_frame fr;
    enum dsmr_frame_event fev;
    char fbuf[DSMR_DEFAULT_MAX_TELEGRAM];
    const char *p = out->data;
    size_t left = out->len, telegrams = 0;
    if (lg->tlen + out->len > sizeof lg->text)
      bail("too much plaintext");
    memcpy(lg->text + lg->tlen, out->data, out->len);
    r->len = out->len;
    lg->tlen += out->len;
    /* The way the plugin will use it: plaintext into the framer. */
    dsmr_framer_init(&f, fbuf, sizeof fbuf);
    while (left > 0) {
      size_t k = dsmr_framer_feed(&f, p, left, &fev, &fr);
      p += k;
      left -= k;
      if (fev == DSMR_FRAME_TELEGRAM) {
        telegrams++;
        r->crc = fr.crc;
      }
    }
    r->framed = telegrams == 1;
  } else if (out->data || out->len) {
    r->framed = -1; /* data with a non-plaintext event: a bug */
  }
}

static void run(struct log *lg, const uint8_t *s, size_t len, enum chunking how,
                uint64_t seed, const struct run_opt *o) {
  struct dsmr_smarty d;
  char err[256];
  char *buf = calloc(1, o->cap);
  size_t pos = 0;

  memset(lg, 0, sizeof *lg);
  if (!buf ||
      dsmr_smarty_init(&d, o->key, o->ak, buf, o->cap, err, sizeof err) != 0)
    bail("dsmr_smarty_init failed");
  rng = seed * 2654435761u + 1;
  while (pos < len) {
    size_t chunk = how == WHOLE   ? len
                   : how == BYTES ? 1
                                  : 1 + rnd(rnd(4) == 0 ? 700 : 40);
    char *c;
    const char *p;
    size_t left;
    enum dsmr_smarty_event ev;
    struct dsmr_smarty_frame out;
    if (chunk > len - pos)
      chunk = len - pos;
    c = malloc(chunk);
    if (!c)
      bail("malloc");
    memcpy(c, s + pos, chunk);
    p = c;
    left = chunk;
    do {
      size_t k = dsmr_smarty_feed(&d, p, left, &ev, &out);
      if (k > left)
        bail("consumed more than given");
      p += k;
      left -= k;
      if (ev != DSMR_SMARTY_NONE)
        record(lg, ev, &out);
      /* At a failure the buffer holds no plaintext, not even that of an
       * authentic frame refused as a replay. */
      if (o->needle && ev != DSMR_SMARTY_NONE && ev != DSMR_SMARTY_PLAINTEXT &&
          memmem(buf, o->cap, o->needle, strlen(o->needle)))
        lg->leak = 1;
    } while (left > 0 || ev != DSMR_SMARTY_NONE);
    free(c);
    pos += chunk;
  }
  lg->stats = d.stats;
  if (o->needle && lg->n > 0 && lg->r[lg->n - 1].ev != DSMR_SMARTY_PLAINTEXT &&
      memmem(buf, o->cap, o->needle, strlen(o->needle)))
    lg->leak = 1;
  dsmr_smarty_free(&d);
  lg->wiped = 1;
  for (size_t i = 0; i < o->cap; i++)
    if (buf[i]) {
      lg->wiped = 0;
      break;
    }
  free(buf);
}

static size_t count(const struct log *lg, enum dsmr_smarty_event ev) {
  size_t n = 0;
  for (size_t i = 0; i < lg->n; i++)
    n += lg->r[i].ev == ev;
  return n;
}

/* The plaintexts, in order, are exactly these telegrams, each framed by
 * the framer with a good CRC. */
static int plaintexts_are(const struct log *lg, const struct text *const *t,
                          size_t nt) {
  size_t k = 0;
  for (size_t i = 0; i < lg->n; i++) {
    const struct rec *r = &lg->r[i];
    if (r->framed < 0)
      return 0;
    if (r->ev != DSMR_SMARTY_PLAINTEXT)
      continue;
    if (k == nt || r->len != t[k]->len ||
        memcmp(lg->text + r->off, t[k]->b, r->len) != 0 || !r->framed ||
        r->crc != DSMR_CRC_OK)
      return 0;
    k++;
  }
  return k == nt;
}

static int same_log(const struct log *a, const struct log *b) {
  if (a->n != b->n || a->tlen != b->tlen ||
      memcmp(a->text, b->text, a->tlen) != 0)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->r[i].ev != b->r[i].ev || a->r[i].fc != b->r[i].fc ||
        a->r[i].hdlc != b->r[i].hdlc || a->r[i].len != b->r[i].len)
      return 0;
  return a->stats.frames_ok == b->stats.frames_ok &&
         a->stats.noise_bytes == b->stats.noise_bytes &&
         a->stats.bytes == b->stats.bytes;
}

static void print_log(const struct log *lg) {
  for (size_t i = 0; i < lg->n; i++)
    printf("#   event %zu: %s fc=%u hdlc=%d len=%zu\n", i,
           dsmr_smarty_event_name(lg->r[i].ev), (unsigned)lg->r[i].fc,
           lg->r[i].hdlc, lg->r[i].len);
}

/* Whole, byte by byte and in random chunks give the same log as whole;
 * returns the whole run's log in *lg. */
static int chunking_invariant(struct log *lg, const uint8_t *s, size_t len,
                              const struct run_opt *o) {
  static struct log other;
  int same = 1;
  run(lg, s, len, WHOLE, 0, o);
  run(&other, s, len, BYTES, 0, o);
  same = same && same_log(lg, &other);
  for (uint64_t seed = 1; seed <= 4 && same; seed++) {
    run(&other, s, len, RANDOM, seed, o);
    same = same && same_log(lg, &other);
  }
  if (!same) {
    printf("# whole:\n");
    print_log(lg);
    printf("# other:\n");
    print_log(&other);
  }
  return same;
}

/* ---- the tests -------------------------------------------------------- */

static struct text t_short, t_medium, t_smarty, t_hungary, t_v5;
static struct log lg;
static uint8_t s[MAX_STREAM];

static void test_hex_keys(void) {
  uint8_t k[16], want[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                             0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
  static const char *bad[] = {
      "",
      "00112233445566778899AABBCCDDEEF",   /* 31 */
      "00112233445566778899AABBCCDDEEFF0", /* 33 */
      "00112233445566778899AABBCCDDEEFG",
      " 00112233445566778899AABBCCDDEEFF",
      "00112233445566778899AABBCCDDEEFF ",
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
      "0x00112233445566778899AABBCCDDEE",
      "00112233445566778899AABBCCDDEE\nFF",
  };
  is_int(dsmr_parse_hex_key("00112233445566778899AABBCCDDEEFF", k), 0,
         "hex key: upper case");
  ok(memcmp(k, want, 16) == 0, "hex key: upper case bytes");
  memset(k, 0, sizeof k);
  is_int(dsmr_parse_hex_key("00112233445566778899aabbccddeeff", k), 0,
         "hex key: lower case");
  ok(memcmp(k, want, 16) == 0, "hex key: lower case bytes");
  memset(k, 0, sizeof k);
  is_int(dsmr_parse_hex_key("00112233445566778899aAbBcCdDeEfF", k), 0,
         "hex key: mixed case");
  ok(memcmp(k, want, 16) == 0, "hex key: mixed case bytes");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(k, 0x5A, sizeof k);
    is_int(dsmr_parse_hex_key(bad[i], k), -1, "hex key: refused \"%s\"",
           bad[i]);
    ok(k[0] == 0x5A && k[15] == 0x5A, "hex key: output untouched (%zu)", i);
  }
  is_int(dsmr_parse_hex_key(NULL, k), -1, "hex key: NULL refused");
}

static void test_init(void) {
  struct dsmr_smarty d;
  char buf[CAP], err[256] = "";
  enum dsmr_smarty_event ev;
  struct dsmr_smarty_frame out;

  is_int(dsmr_smarty_init(&d, KEY, NULL, buf, 63, err, sizeof err), -1,
         "init: a 63-byte buffer is refused");
  ok(err[0] != '\0', "init: with a message (%s)", err);
  dsmr_smarty_free(&d); /* safe after a failed init */
  is_int(dsmr_smarty_init(&d, KEY, NULL, NULL, CAP, err, sizeof err), -1,
         "init: no buffer is refused");
  is_int(dsmr_smarty_init(&d, NULL, NULL, buf, CAP, NULL, 0), -1,
         "init: no key is refused (and no err buffer is fine)");
  /* A failed decoder never decodes. */
  is_int(dsmr_smarty_feed(&d, "\xDB\x08", 2, &ev, &out), 2,
         "init failed: feed swallows");
  is_int(ev, DSMR_SMARTY_NONE, "init failed: no event");
  is_int(dsmr_smarty_init(&d, KEY, OTHER_AK, buf, CAP, err, sizeof err), 0,
         "init: ok");
  dsmr_smarty_free(&d);
  dsmr_smarty_free(&d); /* and twice */
  ok(1, "free twice is safe");
  for (int e = DSMR_SMARTY_NONE; e <= DSMR_SMARTY_TOO_LARGE; e++)
    ok(strcmp(dsmr_smarty_event_name((enum dsmr_smarty_event)e), "?") != 0,
       "event %d has a name (%s)", e,
       dsmr_smarty_event_name((enum dsmr_smarty_event)e));
}

/* Generated with Debian 12's python3-cryptography 38.0.4 (OpenSSL's
 * AES-GCM), independently of libgcrypt:
 *
 *   from cryptography.hazmat.primitives.ciphers.aead import AESGCM
 *   key = bytes.fromhex("5AD84121D9D20B364B7A11F3C1B5827F")
 *   ak = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
 *   title = bytes.fromhex("5341476770012345")
 *   fc = (123456).to_bytes(4, "big")
 *   ct_tag = AESGCM(key).encrypt(title + fc, pt, b"\x30" + ak)
 *   ct, tag = ct_tag[:-16], ct_tag[-16:-4]  # the first 12 tag bytes
 *   n = 1 + 4 + len(ct) + 12
 *   frame = b"\xdb\x08" + title + bytes([0x81, n]) + b"\x30" + fc + ct + tag
 *
 * with pt = VECTOR_PT below (CRC-16/ARC computed in Python). */
static const char VECTOR_PT[] =
    "/Lux5\\253694471_M\r\n\r\n1-3:0.2.8(42)\r\n0-0:1.0.0(200706104157S)\r\n"
    "1-0:1.8.0(000025.653*kWh)\r\n1-0:1.7.0(00.005*kW)\r\n!D747\r\n";
static const char VECTOR_HEX[] =
    "DB0853414767700123458187300001E2406F0747353209A3DFF4FA1732790588FE7CAB"
    "6C84E7ECDE4ED369085E03FD42FB85EB1569C5EAEB48B01E859381FB85E80DF3B36564"
    "72F1F0D14574C7FE761CBAF6014E216096553E8D820AE0091E81D36F9DAE442842981D"
    "F631098380BFBCAC6F1AAC4C33877F917803698D32449C66B4C1CA62C6A213AAF921F6"
    "883AA868E75C7B";
static const uint8_t VECTOR_TITLE[8] = {0x53, 0x41, 0x47, 0x67,
                                        0x70, 0x01, 0x23, 0x45};

static void test_independent_vector(void) {
  uint8_t frame[512], mine[512], key[16];
  size_t n = unhex(frame, sizeof frame, VECTOR_HEX), m;
  struct text pt;
  const struct text *want[] = {&pt};
  struct run_opt o = DEFAULTS;

  memcpy(pt.b, VECTOR_PT, sizeof VECTOR_PT - 1);
  pt.len = sizeof VECTOR_PT - 1;
  if (dsmr_parse_hex_key("5AD84121D9D20B364B7A11F3C1B5827F", key) != 0)
    bail("key");
  o.key = key;
  run(&lg, frame, n, WHOLE, 0, &o);
  is_int(lg.n, 1, "OpenSSL vector: one event");
  ok(plaintexts_are(&lg, want, 1), "OpenSSL vector: the plaintext");
  is_int(lg.r[0].fc, 123456, "OpenSSL vector: frame counter");
  ok(memcmp(lg.r[0].title, VECTOR_TITLE, 8) == 0,
     "OpenSSL vector: system title");
  /* Our libgcrypt sealing helper makes the very same bytes. */
  m = seal(mine, pt.b, pt.len, key, LUX_AK, VECTOR_TITLE, 123456, 0x81);
  ok(m == n && memcmp(mine, frame, n) == 0,
     "OpenSSL vector: the test's sealing helper agrees byte for byte");
  o.key = KEY;
  run(&lg, frame, n, WHOLE, 0, &o);
  ok(lg.n == 1 && lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED,
     "OpenSSL vector: another key fails");
}

/* Each telegram in each length form, bare and in HDLC, in any chunking. */
static void test_forms(void) {
  static const struct {
    struct text *t;
    int form;
    const char *name;
  } cases[] = {
      {&t_short, 1, "short, 1-byte length"},
      {&t_short, 0x81, "short, 0x81 length"},
      {&t_short, 0x82, "short, 0x82 length"},
      {&t_medium, 0x81, "warmtelink (212 bytes), 0x81 length"},
      {&t_medium, 0x82, "warmtelink, 0x82 length"},
      {&t_smarty, 0x82, "dsmrreader_smarty, 0x82 length"},
      {&t_hungary, 0x82, "eon_hungary (1423 bytes), 0x82 length"},
      {&t_v5, 0x82, "ndokter_v5, 0x82 length"},
  };
  static const struct hdlc_opt wraps[] = {
      {1, 1, 1, 0, 0}, /* LLC, 1-byte addresses */
      {0, 2, 1, 0, 0}, /* no LLC, 2-byte destination */
      {1, 4, 2, 0, 0}, /* 4-byte destination, 2-byte source */
  };
  uint8_t f[8192];

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct text *want[] = {cases[i].t};
    size_t n = seal_text(f, cases[i].t, 7, cases[i].form);
    ok(chunking_invariant(&lg, f, n, &DEFAULTS) && lg.n == 1 &&
           plaintexts_are(&lg, want, 1) && lg.r[0].fc == 7 &&
           lg.r[0].hdlc == 0 && memcmp(lg.r[0].title, TITLE, 8) == 0,
       "bare %s: decrypted, any chunking", cases[i].name);
    ok(lg.stats.frames_ok == 1 && lg.stats.noise_bytes == 0 &&
           lg.stats.bytes == n && lg.stats.auth_failures == 0,
       "bare %s: stats", cases[i].name);
    for (size_t w = 0; w < sizeof wraps / sizeof wraps[0]; w++) {
      size_t h = hdlc_wrap(s, f, n, &wraps[w]);
      ok(chunking_invariant(&lg, s, h, &DEFAULTS) && lg.n == 1 &&
             plaintexts_are(&lg, want, 1) && lg.r[0].hdlc == 1,
         "HDLC (llc %d, addr %d+%d) %s: decrypted, any chunking", wraps[w].llc,
         wraps[w].dst_len, wraps[w].src_len, cases[i].name);
      ok(lg.stats.hdlc_frames == 1 && lg.stats.noise_bytes == 0 &&
             lg.stats.hdlc_fcs_errors == 0,
         "HDLC %s: stats (noise %llu)", cases[i].name,
         (unsigned long long)lg.stats.noise_bytes);
    }
  }
}

/* Size of the HDLC frame at p (separate flags): both flags + its length. */
static size_t frame_size(const uint8_t *p) {
  return 2 + ((size_t)(p[1] & 7) << 8 | p[2]);
}

static void test_segmented(void) {
  static const struct hdlc_opt segs[] = {
      {1, 2, 1, 128, 0}, {1, 2, 1, 128, 1}, {0, 1, 1, 64, 0},
      {1, 1, 1, 200, 1}, {1, 1, 1, 1, 0},
  };
  uint8_t f[8192];
  size_t n = seal_text(f, &t_smarty, 9, 0x82), h;
  const struct text *want[] = {&t_smarty};
  const struct text *want3[] = {&t_smarty, &t_short, &t_smarty};
  const struct text *twice[] = {&t_smarty, &t_smarty};

  for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
    h = hdlc_wrap(s, f, n, &segs[i]);
    ok(chunking_invariant(&lg, s, h, &DEFAULTS) && lg.n == 1 &&
           plaintexts_are(&lg, want, 1) && lg.r[0].hdlc == 1,
       "segmented HDLC (%zu per segment, %s flags): reassembled",
       segs[i].seg_max, segs[i].shared_flags ? "shared" : "separate");
    ok(lg.stats.noise_bytes == 0 &&
           lg.stats.hdlc_frames ==
               (n + 3 * (size_t)segs[i].llc + segs[i].seg_max - 1) /
                   segs[i].seg_max,
       "segmented HDLC: every segment counted, no noise");
  }

  /* A segment lost in the middle: that frame is malformed, the ones after
   * it are fine. */
  {
    uint8_t one[8192];
    size_t m = hdlc_wrap(one, f, n, &segs[0]), w = 0, cut_from, cut_to;
    /* Drop the second segment (a 7E inside a frame proves nothing: DLMS
     * HDLC has no byte stuffing, the length field is what counts). */
    cut_from = frame_size(one);
    cut_to = cut_from + frame_size(one + cut_from);
    memcpy(s, one, cut_from);
    w = cut_from;
    memcpy(s + w, one + cut_to, m - cut_to);
    w += m - cut_to;
    w += hdlc_wrap(s + w, f, seal_text(f, &t_short, 10, 1), &HDLC_PLAIN);
    w += hdlc_wrap(s + w, f, seal_text(f, &t_smarty, 11, 0x82), &segs[1]);
    ok(chunking_invariant(&lg, s, w, &DEFAULTS) && lg.n == 3 &&
           lg.r[0].ev == DSMR_SMARTY_MALFORMED && lg.r[0].hdlc &&
           plaintexts_are(&lg, want3 + 1, 2),
       "segmented HDLC, a segment lost: the next frames are fine");
  }

  /* A first segment, then nothing but a new whole frame. */
  {
    size_t w = 0;
    uint8_t one[8192];
    size_t m;
    n = seal_text(f, &t_smarty, 20, 0x82);
    m = hdlc_wrap(one, f, n, &segs[0]);
    w = frame_size(one); /* the first segment alone */
    memcpy(s, one, w);
    memcpy(s + w, one, m);
    w += m;
    n = seal_text(f, &t_smarty, 21, 0x82);
    w += hdlc_wrap(s + w, f, n, &segs[0]);
    ok(chunking_invariant(&lg, s, w, &DEFAULTS) && lg.n == 3 &&
           lg.r[0].ev == DSMR_SMARTY_MALFORMED && lg.r[0].hdlc &&
           plaintexts_are(&lg, twice, 2) && lg.r[1].fc == 20,
       "segmented HDLC, a frame restarted: malformed once, then both");
  }
}

/* Noise without any byte that could start a frame: exact accounting. */
static size_t clean_noise(uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c;
    do
      c = (uint8_t)rnd(256);
    while (c == 0xDB || c == 0x7E);
    p[i] = c;
  }
  return n;
}

/* Noise full of near-misses: DB 08, bogus credible headers, 7E A0. */
static size_t nasty_noise(uint8_t *p, size_t n) {
  static const uint8_t bits[][16] = {
      {0xDB},
      {0xDB, 0x08},
      {0x7E},
      {0x7E, 0x7E},
      {0x7E, 0xA0, 0x20},
      /* credible bare header claiming 60 bytes: swallows what follows */
      {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 60, 0x30, 0, 0, 0, 1},
      {0xDB, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x81},
  };
  static const size_t lens[] = {1, 2, 1, 2, 3, 16, 11};
  size_t w = 0;
  while (w < n) {
    if (rnd(3) == 0) {
      unsigned k = rnd(7);
      if (w + lens[k] > n)
        break;
      memcpy(p + w, bits[k], lens[k]);
      w += lens[k];
    } else {
      p[w++] = (uint8_t)rnd(256);
    }
  }
  return w;
}

/* A frame in small HDLC segments cut short before its title was complete
 * (its first segment held LLC, DB 08 and part of the title), then a genuine
 * frame: the genuine one decrypts, exactly (regressions/fuzz_smarty/
 * smarty-cut-before-title). The new frame is told from a continuation when
 * its segment shows "DB 08 <title>" (the cut one is then reported); when its
 * segments are too small for that too, they are appended to the cut frame's,
 * and the payload's later DB 08 frames are tried whatever their title. */
static void test_cut_before_title(void) {
  struct cut_case {
    const char *what;
    size_t seg;      /* information bytes per segment of the cut frame */
    int llc;         /* the cut frame's LLC header (the good frame's too) */
    size_t whole;    /* whole segments of the cut frame that came */
    size_t extra;    /* bytes of the next segment that came */
    size_t good_seg; /* the good frame's segments; 0: one HDLC frame */
    int shared;      /* the good frame's segments share their flags */
    const uint8_t *good_title;
    int reported; /* the cut frame is reported (malformed) */
  };
  static const struct cut_case cases[] = {
      /* the fuzz finding: 3 bytes of the title, 7 of the next header */
      {"8-byte segments, cut in the next header", 8, 1, 1, 7, 0, 0, TITLE, 1},
      {"8-byte segments, cut after the first", 8, 1, 1, 0, 16, 0, TITLE, 1},
      {"5-byte segments, no title byte", 5, 1, 1, 0, 0, 0, TITLE, 1},
      {"5-byte segments, 5 title bytes, cut in the next header", 5, 1, 2, 3, 0,
       0, TITLE, 1},
      {"12-byte segments, all but one title byte", 12, 1, 1, 4, 13, 1, TITLE,
       1},
      {"8-byte segments without LLC", 8, 0, 1, 5, 0, 0, TITLE, 1},
      /* the good frame's title not visible in its first segment either */
      {"8-byte segments, the good one in 8-byte ones", 8, 1, 1, 7, 8, 0, TITLE,
       0},
      {"5-byte segments, the good one in 10-byte ones", 5, 1, 2, 3, 10, 1,
       TITLE, 0},
      /* the title complete, the length not: another title after it */
      {"14-byte segments, cut in the length, another title", 14, 1, 1, 0, 0, 0,
       TITLE2, 0},
  };
  uint8_t f[8192], g[512], one[16384];
  const struct text *want[] = {&t_short};

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct cut_case *c = &cases[i];
    struct hdlc_opt cut_o = {c->llc, 1, 1, c->seg, 0};
    struct hdlc_opt good_o = {c->llc, 1, 1, c->good_seg, c->shared};
    size_t n = seal_text(f, &t_medium, 1, 0x81), m, w = 0, keep = 0, gn;
    int good;

    rng = 7 + i;
    w += clean_noise(s, 256);
    m = hdlc_wrap(one, f, n, &cut_o);
    for (size_t k = 0; k < c->whole; k++)
      keep += frame_size(one + keep);
    keep += c->extra;
    if (keep >= m)
      bail("cut_case: the cut is past the frame");
    memcpy(s + w, one, keep);
    w += keep;
    gn = seal(g, t_short.b, t_short.len, KEY, LUX_AK, c->good_title, 2, 1);
    w += hdlc_wrap(s + w, g, gn, &good_o);
    good = chunking_invariant(&lg, s, w, &DEFAULTS) &&
           plaintexts_are(&lg, want, 1) && lg.n == (size_t)c->reported + 1 &&
           lg.r[lg.n - 1].fc == 2 && lg.r[lg.n - 1].hdlc &&
           memcmp(lg.r[lg.n - 1].title, c->good_title, 8) == 0 &&
           (!c->reported ||
            (lg.r[0].ev == DSMR_SMARTY_MALFORMED && lg.r[0].hdlc)) &&
           lg.stats.noise_bytes >= 256 && lg.stats.bytes == w;
    if (!good)
      print_log(&lg);
    ok(good,
       "cut before its title (%s): the next frame decrypts exactly%s "
       "(noise %llu)",
       c->what, c->reported ? ", the cut one is reported" : "",
       (unsigned long long)lg.stats.noise_bytes);
  }
}

/* A frame cut short after most of a buffer's worth of segments (its last
 * segment never came), then a genuine frame that fits the buffer on its
 * own: the held segments and the new frame's first one do not fit
 * together. The held ones give way (too large), and the new segment is
 * looked at again as a first one; dropping its first byte instead lost the
 * frame (its content rescanned as bare, across its segments' headers). */
static void test_cut_fills_buffer(void) {
  static uint8_t big[3000], f[4096], one[8192], g[4096];
  struct run_opt o = DEFAULTS;
  struct hdlc_opt seg = {1, 1, 1, 128, 0};
  const struct text *want[] = {&t_smarty};
  size_t n, m, keep = 0, w = 0;
  int good;

  o.cap = DSMR_SMARTY_BUF_SIZE(t_smarty.len);
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (uint8_t)t_smarty.b[i % t_smarty.len];
  n = seal(f, big, o.cap - 120, KEY, LUX_AK, TITLE, 1, 0x82);
  m = hdlc_wrap(one, f, n, &seg);
  /* All but its last segment: about cap - 200 bytes held. */
  while (keep + frame_size(one + keep) < m)
    keep += frame_size(one + keep);
  memcpy(s, one, keep);
  w = keep;
  w += hdlc_wrap(s + w, g, seal_text(g, &t_smarty, 2, 0x82), &seg);
  good = chunking_invariant(&lg, s, w, &o) && plaintexts_are(&lg, want, 1) &&
         lg.r[lg.n - 1].fc == 2 && lg.r[lg.n - 1].hdlc && lg.n == 2 &&
         lg.r[0].hdlc;
  if (!good)
    print_log(&lg);
  ok(good,
     "cut after %zu of %zu bytes, held segments and the next frame's first "
     "one too large together: reported once, the next frame decrypts",
     keep, m);
}

/* A frame in HDLC segments cut short right after the first byte of one
 * segment's FCS, then the next frame, whose first byte (the DB of a bare
 * frame, the 7E of an HDLC one) completes that FCS: by chance, 1 in 256.
 * The FCS alone took that byte, and the rest of the next frame was lost as
 * noise (regressions/fuzz_smarty/smarty-bare-after-cut-segments: 16-byte
 * segments, a bare frame with the 82 length form after them). A frame is
 * taken only with its closing flag after the FCS; without it, its bytes
 * are scanned again and the next frame is found; the cut one is reported
 * (malformed) once. The cut frame's counter is searched for one whose FCS
 * byte there is the next frame's first. */
static void test_cut_fcs_completed(void) {
  struct fcs_case {
    const char *what;
    size_t seg; /* information bytes per segment of the cut frame */
    int at;     /* the segment cut in its FCS (0 the first, -1 the last) */
    const struct text *good;
    int form;        /* the good frame's length form */
    int hdlc;        /* the good frame in HDLC (else bare) */
    size_t good_seg; /* then its information bytes per segment (0: one
                        HDLC frame) */
    int shared;      /* its segments share their flags */
  };
  static const struct fcs_case cases[] = {
      /* the fuzz finding */
      {"16-byte segments, the third, bare frame (82)", 16, 2, &t_short, 0x82, 0,
       0, 0},
      {"16-byte segments, the third, bare frame (1-byte length)", 16, 2,
       &t_short, 1, 0, 0, 0},
      {"16-byte segments, the second, bare frame (81)", 16, 1, &t_short, 0x81,
       0, 0, 0},
      {"8-byte segments, the fifth, bare long frame (82)", 8, 4, &t_smarty,
       0x82, 0, 0, 0},
      {"32-byte segments, the first, bare frame (1-byte length)", 32, 0,
       &t_short, 1, 0, 0, 0},
      {"128-byte segments, the first, bare long frame (82)", 128, 0, &t_smarty,
       0x82, 0, 0, 0},
      {"16-byte segments, the last, bare frame (81)", 16, -1, &t_short, 0x81, 0,
       0, 0},
      {"64-byte segments, the last, bare long frame (82)", 64, -1, &t_smarty,
       0x82, 0, 0, 0},
      {"16-byte segments, the second, one HDLC frame", 16, 1, &t_smarty, 0x82,
       1, 0, 0},
      {"16-byte segments, the second, 16-byte segments with shared flags", 16,
       1, &t_short, 1, 1, 16, 1},
  };
  static uint8_t f[8192], g[8192], one[16384];

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct fcs_case *c = &cases[i];
    struct hdlc_opt cut_o = {1, 1, 1, c->seg, 0};
    struct hdlc_opt good_o = {1, 1, 1, c->good_seg, c->shared};
    const struct text *want[] = {c->good};
    uint8_t first = c->hdlc ? 0x7E : 0xDB;
    size_t keep = 0, w = 0, gn;
    uint32_t fc;
    int good;

    for (fc = 1;; fc++) {
      size_t m = hdlc_wrap(one, f, seal_text(f, &t_medium, fc, 0x81), &cut_o);
      size_t at = 0, segs = 0, k;
      for (size_t p = 0; p < m; p += frame_size(one + p))
        segs++;
      k = c->at < 0 ? segs - 1 : (size_t)c->at;
      if (k >= segs)
        bail("fcs_case: no such segment");
      for (size_t j = 0; j < k; j++)
        at += frame_size(one + at);
      /* flag, format .. FCS low byte; then FCS high byte, flag */
      keep = at + frame_size(one + at) - 2;
      if (one[keep] == first)
        break;
      if (fc == 100000)
        bail("fcs_case: no counter found");
    }
    memcpy(s, one, keep);
    w = keep;
    gn = seal_text(g, c->good, fc + 1, c->form);
    if (c->hdlc)
      w += hdlc_wrap(s + w, g, gn, &good_o);
    else {
      memcpy(s + w, g, gn);
      w += gn;
    }
    good = chunking_invariant(&lg, s, w, &DEFAULTS) &&
           plaintexts_are(&lg, want, 1) && lg.n == 2 &&
           lg.r[0].ev == DSMR_SMARTY_MALFORMED &&
           lg.r[lg.n - 1].ev == DSMR_SMARTY_PLAINTEXT &&
           lg.r[lg.n - 1].fc == fc + 1 && lg.r[lg.n - 1].hdlc == c->hdlc &&
           lg.stats.hdlc_fcs_errors == 1 && lg.stats.bytes == w;
    if (!good)
      print_log(&lg);
    ok(good,
       "cut in the FCS of a segment (%s; counter %u): the next frame, whose "
       "first byte completed the FCS, decrypts exactly; the cut one is "
       "reported once and counted as an FCS error",
       c->what, (unsigned)fc);
  }
}

static void test_back_to_back(void) {
  uint8_t f[8192];
  size_t w = 0, noise = 0, k;
  const struct text *want[] = {&t_smarty, &t_short, &t_hungary,
                               &t_medium, &t_v5,    &t_smarty};

  rng = 99;
  /* noise, bare, noise, HDLC, bare right after, HDLC segmented, ... */
  noise += k = clean_noise(s + w, 37);
  w += k;
  w += seal_text(s + w, &t_smarty, 100, 0x82);
  noise += k = clean_noise(s + w, 5);
  w += k;
  w += hdlc_wrap(s + w, f, seal_text(f, &t_short, 101, 1), &HDLC_PLAIN);
  w += seal_text(s + w, &t_hungary, 102, 0x82);
  {
    struct hdlc_opt o = {1, 2, 1, 100, 1};
    w += hdlc_wrap(s + w, f, seal_text(f, &t_medium, 103, 0x81), &o);
  }
  noise += k = clean_noise(s + w, 300);
  w += k;
  w += seal_text(s + w, &t_v5, 104, 0x82);
  w += hdlc_wrap(s + w, f, seal_text(f, &t_smarty, 105, 0x82), &HDLC_PLAIN);
  noise += k = clean_noise(s + w, 3);
  w += k;
  ok(chunking_invariant(&lg, s, w, &DEFAULTS) && lg.n == 6 &&
         plaintexts_are(&lg, want, 6),
     "back to back with noise: six telegrams in order, any chunking");
  is_int(lg.stats.noise_bytes, noise, "back to back: noise counted exactly");
  is_int(lg.stats.bytes, w, "back to back: every byte consumed");
  ok(lg.r[0].fc == 100 && lg.r[5].fc == 105 && lg.r[1].hdlc && !lg.r[2].hdlc &&
         lg.r[3].hdlc,
     "back to back: counters and wrappings");

  /* Nasty noise: bogus headers may cost an event, never a frame. */
  for (uint64_t seed = 1; seed <= 6; seed++) {
    w = 0;
    rng = seed;
    w += nasty_noise(s + w, 200);
    w += seal_text(s + w, &t_smarty, 1, 0x82);
    w += nasty_noise(s + w, 50);
    w += hdlc_wrap(s + w, f, seal_text(f, &t_short, 2, 0x81), &HDLC_PLAIN);
    w += nasty_noise(s + w, 80);
    w += seal_text(s + w, &t_hungary, 3, 0x82);
    w += nasty_noise(s + w, 16);
    {
      const struct text *want3[] = {&t_smarty, &t_short, &t_hungary};
      ok(chunking_invariant(&lg, s, w, &DEFAULTS) &&
             plaintexts_are(&lg, want3, 3) &&
             count(&lg, DSMR_SMARTY_REPLAY) == 0,
         "nasty noise (seed %llu): all three frames, any chunking "
         "(%zu events, %llu noise bytes)",
         (unsigned long long)seed, lg.n,
         (unsigned long long)lg.stats.noise_bytes);
    }
  }
}

static void test_wrong_keys(void) {
  uint8_t f[8192];
  size_t n = seal_text(f, &t_smarty, 5, 0x82), h;
  struct run_opt o = DEFAULTS;

  o.needle = "1-0:1.8.0(";
  o.key = WRONG_KEY;
  ok(chunking_invariant(&lg, f, n, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED && lg.r[0].fc == 5,
     "wrong key: authentication failed, nothing else");
  ok(!lg.leak, "wrong key: no plaintext in the buffer");
  ok(lg.wiped, "free wipes the buffer");
  is_int(lg.stats.auth_failures, 1, "wrong key: counted");
  is_int(lg.stats.noise_bytes, 0, "wrong key: the frame is not noise");

  o.key = KEY;
  o.ak = OTHER_AK;
  ok(chunking_invariant(&lg, f, n, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED && !lg.leak,
     "wrong authentication key: authentication failed");
  o.ak = LUX_AK;
  ok(chunking_invariant(&lg, f, n, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_PLAINTEXT,
     "the default authentication key given explicitly works");

  /* Sealed with another authentication key: found with that key only. */
  n = seal(f, t_smarty.b, t_smarty.len, KEY, OTHER_AK, TITLE, 1, 0x82);
  o.ak = OTHER_AK;
  ok(chunking_invariant(&lg, f, n, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_PLAINTEXT,
     "a non-default authentication key works");
  o.ak = NULL;
  ok(chunking_invariant(&lg, f, n, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED && !lg.leak,
     "... and the default one fails on it");

  n = seal_text(f, &t_smarty, 5, 0x82);
  h = hdlc_wrap(s, f, n, &HDLC_PLAIN);
  o.key = WRONG_KEY;
  o.ak = NULL;
  ok(chunking_invariant(&lg, s, h, &o) && lg.n == 1 &&
         lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED && lg.r[0].hdlc && !lg.leak,
     "wrong key in HDLC: authentication failed");
}

/* Spoil each byte of a frame in turn (two ways), then send a good frame:
 * never any plaintext from the spoiled one, always the good one. */
static void test_flips(void) {
  uint8_t f[512], g[512];
  size_t n = seal_text(f, &t_short, 50, 0x81);
  size_t gn = seal_text(g, &t_short, 51, 1);
  size_t hdr = 12; /* DB 08 title 81 len */
  const struct text *want[] = {&t_short};
  int never = 1, auth = 1, next = 1;

  for (size_t i = 0; i < n; i++)
    for (int x = 0; x < 2; x++) {
      uint8_t bit = x ? 0x80 : 0x01;
      memcpy(s, f, n);
      s[i] ^= bit;
      memcpy(s + n, g, gn);
      run(&lg, s, n + gn, RANDOM, i * 2 + (size_t)x, &DEFAULTS);
      /* The good frame is the only plaintext, whatever happened before. */
      if (!plaintexts_are(&lg, want, 1) ||
          lg.r[lg.n - 1].ev != DSMR_SMARTY_PLAINTEXT ||
          lg.r[lg.n - 1].fc != 51) {
        never = next = 0;
        printf("# byte %zu ^ %02x:\n", i, bit);
        print_log(&lg);
      }
      /* Title, counter, ciphertext, tag: exactly an authentication
       * failure (the header still parses). */
      if ((i >= 2 && i < 10) || i > hdr) {
        if (lg.n != 2 || lg.r[0].ev != DSMR_SMARTY_AUTH_FAILED) {
          auth = 0;
          printf("# byte %zu ^ %02x: not an authentication failure\n", i, bit);
          print_log(&lg);
        }
      }
    }
  ok(never, "spoiled frames: never any plaintext from them");
  ok(auth, "spoiled title, counter, ciphertext or tag: authentication "
           "failed");
  ok(next, "spoiled frames: the good frame after each one decrypts");

  /* Spoiled inside HDLC, FCS made right again: the HDLC path itself says
   * authentication failed. */
  {
    size_t h = hdlc_wrap(s, f, n, &HDLC_PLAIN);
    uint16_t c;
    s[h - 10] ^= 0x04; /* a tag byte */
    c = x25(s + 1, h - 4);
    s[h - 3] = (uint8_t)c;
    s[h - 2] = (uint8_t)(c >> 8);
    run(&lg, s, h, WHOLE, 0, &DEFAULTS);
    ok(lg.n == 1 && lg.r[0].ev == DSMR_SMARTY_AUTH_FAILED && lg.r[0].hdlc &&
           lg.stats.hdlc_frames == 1,
       "spoiled tag in HDLC with a good FCS: authentication failed");
  }
  /* A bad FCS (or HCS) over a good frame: the frame inside still opens,
   * because the GCM tag, not the FCS, is what vouches for it. */
  {
    size_t h = hdlc_wrap(s, f, n, &HDLC_PLAIN);
    s[h - 2] ^= 0x01;
    ok(chunking_invariant(&lg, s, h, &DEFAULTS) && lg.n == 1 &&
           plaintexts_are(&lg, want, 1) && lg.r[0].hdlc == 0,
       "bad FCS: the frame inside is decrypted as a bare one");
    is_int(lg.stats.hdlc_fcs_errors, 1, "bad FCS: counted");
    is_int(lg.stats.noise_bytes, 0, "bad FCS: its bytes are not noise");
    h = hdlc_wrap(s, f, n, &HDLC_PLAIN);
    s[5] ^= 0x01; /* HCS */
    ok(chunking_invariant(&lg, s, h, &DEFAULTS) && lg.n == 1 &&
           plaintexts_are(&lg, want, 1) && lg.r[0].hdlc == 0,
       "bad HCS: the frame inside is decrypted as a bare one");
  }
}

static void test_replay(void) {
  uint8_t f[8192];
  static const uint32_t fcs[] = {0, 5, 5, 4, 6, 6, 7, 0xFFFFFFFF, 8};
  static const enum dsmr_smarty_event want[] = {
      DSMR_SMARTY_PLAINTEXT, DSMR_SMARTY_PLAINTEXT, DSMR_SMARTY_REPLAY,
      DSMR_SMARTY_REPLAY,    DSMR_SMARTY_PLAINTEXT, DSMR_SMARTY_REPLAY,
      DSMR_SMARTY_PLAINTEXT, DSMR_SMARTY_PLAINTEXT, DSMR_SMARTY_REPLAY,
  };
  size_t w = 0, nf = sizeof fcs / sizeof fcs[0];
  int good = 1;
  struct run_opt o = DEFAULTS;

  for (size_t i = 0; i < nf; i++) {
    if (i % 2)
      w += hdlc_wrap(s + w, f, seal_text(f, &t_smarty, fcs[i], 0x82),
                     &HDLC_PLAIN);
    else
      w += seal_text(s + w, &t_smarty, fcs[i], 0x82);
  }
  ok(chunking_invariant(&lg, s, w, &o) && lg.n == nf, "replays: %zu events",
     lg.n);
  for (size_t i = 0; i < lg.n && i < nf; i++)
    if (lg.r[i].ev != want[i] || lg.r[i].fc != fcs[i])
      good = 0;
  ok(good, "replays: counter 0 first accepted, equal or lower refused, "
           "higher accepted");
  ok(lg.r[2].last == 5 && lg.r[3].last == 5 && lg.r[8].last == 0xFFFFFFFF,
     "replays: the last accepted counter is reported");
  is_int(lg.stats.replays, 4, "replays: counted");
  is_int(lg.stats.frames_ok, 5, "replays: accepted counted");

  /* A replayed frame leaves no plaintext behind. */
  w = seal_text(s, &t_short, 3, 1);
  memcpy(s + w, s, w);
  w *= 2;
  o.needle = "1-0:1.8.0(";
  run(&lg, s, w, WHOLE, 0, &o);
  ok(lg.n == 2 && lg.r[1].ev == DSMR_SMARTY_REPLAY && !lg.leak,
     "replay: the plaintext never reaches the buffer");
}

/* A frame cut short, then a good one: the good one decrypts. */
/* Failures reported: a broken frame is reported once at most. */
static size_t failures(const struct log *l) {
  return count(l, DSMR_SMARTY_AUTH_FAILED) + count(l, DSMR_SMARTY_MALFORMED) +
         count(l, DSMR_SMARTY_TOO_LARGE);
}

static void test_truncated(void) {
  uint8_t f[8192], g[8192], h1[8192];
  size_t n = seal_text(f, &t_smarty, 30, 0x82);
  size_t gn = seal_text(g, &t_hungary, 31, 0x82);
  static const size_t cuts[] = {1, 2, 5, 10, 11, 13, 14, 18, 19, 100, 400, 430};
  const struct text *want[] = {&t_hungary};
  const struct text *want_s[] = {&t_smarty};
  int all = 1, all_h = 1, all_t = 1;

  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    size_t c = cuts[i] < n ? cuts[i] : n - 1, hn;
    memcpy(s, f, c);
    memcpy(s + c, g, gn);
    if (!chunking_invariant(&lg, s, c + gn, &DEFAULTS) ||
        !plaintexts_are(&lg, want, 1) || failures(&lg) > 1 ||
        lg.r[lg.n - 1].ev != DSMR_SMARTY_PLAINTEXT) {
      all = 0;
      printf("# cut at %zu:\n", c);
      print_log(&lg);
    }
    /* Both in HDLC. */
    hn = hdlc_wrap(h1, f, n, &HDLC_PLAIN);
    c = cuts[i] < hn ? cuts[i] : hn - 1;
    memcpy(s, h1, c);
    c += hdlc_wrap(s + c, g, gn, &HDLC_PLAIN);
    if (!chunking_invariant(&lg, s, c, &DEFAULTS) ||
        !plaintexts_are(&lg, want, 1) || failures(&lg) > 1 ||
        !lg.r[lg.n - 1].hdlc) {
      all_h = 0;
      printf("# HDLC cut at %zu:\n", cuts[i]);
      print_log(&lg);
    }
    /* Another meter's title on the good frame (no early restart check):
     * still found, by the rescan after the failure. */
    c = cuts[i] < n ? cuts[i] : n - 1;
    memcpy(s, f, c);
    c += seal(s + c, t_smarty.b, t_smarty.len, KEY, LUX_AK, TITLE2, 32, 0x82);
    if (!chunking_invariant(&lg, s, c, &DEFAULTS) ||
        !plaintexts_are(&lg, want_s, 1) || failures(&lg) > 1) {
      all_t = 0;
      printf("# other title, cut at %zu:\n", cuts[i]);
      print_log(&lg);
    }
  }
  ok(all, "truncated frame then a good one: the good one decrypts, the "
          "cut one is reported once at most");
  ok(all_h, "truncated HDLC frame then a good one: likewise");
  ok(all_t, "truncated frame then another meter's: likewise");

  /* Cut inside its own system title (so its own title cannot tell where
   * the next frame starts), after the meter was heard once: the meter's
   * title, learnt from its authentic frame, does. Without it the frames
   * after would wait for the cut frame's declared length to pass. */
  {
    static const size_t title_cuts[] = {3, 9, 12, 15, 20};
    const struct text *want3[] = {&t_short, &t_short, &t_short};
    uint8_t tmp[512];
    int early = 1;
    for (size_t i = 0; i < sizeof title_cuts / sizeof title_cuts[0]; i++) {
      size_t w = seal_text(s, &t_short, 1, 1);
      hdlc_wrap(h1, f, n, &HDLC_PLAIN);
      memcpy(s + w, h1, title_cuts[i]); /* 7E A0 .. E6 E7 00 DB 08 title */
      w += title_cuts[i];
      w += seal_text(s + w, &t_short, 3, 1);
      w +=
          hdlc_wrap(s + w, tmp, seal_text(tmp, &t_short, 4, 0x81), &HDLC_PLAIN);
      if (!chunking_invariant(&lg, s, w, &DEFAULTS) ||
          !plaintexts_are(&lg, want3, 3) || failures(&lg) > 1) {
        early = 0;
        printf("# HDLC cut in its title at %zu:\n", title_cuts[i]);
        print_log(&lg);
      }
    }
    ok(early, "cut inside its title: the frames after come at once");
  }

  /* A flipped bit in the high length byte: 82 01 C3 -> 82 81 C3 claims
   * 33 KB. Reported as too large, and the frames right after are found
   * (skipping the claimed length would lose 20 of them). */
  {
    const struct text *want2[] = {&t_smarty, &t_short};
    size_t w = seal_text(s, &t_smarty, 40, 0x82);
    s[11] |= 0x80;
    w += seal_text(s + w, &t_smarty, 41, 0x82);
    w += seal_text(s + w, &t_short, 42, 1);
    ok(chunking_invariant(&lg, s, w, &DEFAULTS) && lg.n == 3 &&
           lg.r[0].ev == DSMR_SMARTY_TOO_LARGE && lg.r[0].fc == 0 &&
           plaintexts_are(&lg, want2, 2) && lg.r[1].fc == 41,
       "length bit flipped to 33 KB: too large, the next frames at once");
    is_int(lg.stats.noise_bytes, 0, "length bit flipped: not noise");
  }

  /* The restart check reports the cut frame at once. */
  memcpy(s, f, 200);
  memcpy(s + 200, g, gn);
  run(&lg, s, 200 + gn, WHOLE, 0, &DEFAULTS);
  ok(lg.n == 2 && lg.r[0].ev == DSMR_SMARTY_MALFORMED && lg.r[0].fc == 0 &&
         lg.r[1].ev == DSMR_SMARTY_PLAINTEXT,
     "truncated frame: reported malformed, then the next one");
  is_int(lg.stats.noise_bytes, 0, "truncated frame: not noise");

  /* A frame that ends in the middle of the line: kept until more comes;
   * dsmr_smarty_reset drops it. */
  {
    struct dsmr_smarty d;
    char *buf = malloc(CAP);
    enum dsmr_smarty_event ev;
    struct dsmr_smarty_frame out;
    size_t k, events = 0;
    if (!buf || dsmr_smarty_init(&d, KEY, NULL, buf, CAP, NULL, 0) != 0)
      bail("init");
    k = dsmr_smarty_feed(&d, (const char *)f, 300, &ev, &out);
    ok(k == 300 && ev == DSMR_SMARTY_NONE, "half a frame: no event yet");
    dsmr_smarty_reset(&d);
    for (const char *p = (const char *)g; p < (const char *)g + gn;) {
      k = dsmr_smarty_feed(&d, p, (size_t)((const char *)g + gn - p), &ev,
                           &out);
      p += k;
      if (ev != DSMR_SMARTY_NONE) {
        events++;
        ok(ev == DSMR_SMARTY_PLAINTEXT && out.len == t_hungary.len &&
               memcmp(out.data, t_hungary.b, out.len) == 0,
           "after reset: the next frame decrypts");
      }
    }
    is_int(events, 1, "after reset: one event");
    dsmr_smarty_free(&d);
    free(buf);
  }
}

static void test_too_large(void) {
  uint8_t f[8192];
  size_t w = 0;
  const struct text *want[] = {&t_short, &t_short};
  struct run_opt o = DEFAULTS;

  o.cap = 300; /* dsmrreader_smarty needs 435 + 30 */
  w += seal_text(s + w, &t_smarty, 1, 0x82);
  w += seal_text(s + w, &t_short, 2, 1);
  w += hdlc_wrap(s + w, f, seal_text(f, &t_smarty, 3, 0x82), &HDLC_PLAIN);
  w += hdlc_wrap(s + w, f, seal_text(f, &t_short, 4, 0x81), &HDLC_PLAIN);
  ok(chunking_invariant(&lg, s, w, &o) && lg.n == 4 &&
         lg.r[0].ev == DSMR_SMARTY_TOO_LARGE &&
         lg.r[2].ev == DSMR_SMARTY_TOO_LARGE && plaintexts_are(&lg, want, 2),
     "too large (bare and HDLC): reported, skipped, the next decrypts");
  is_int(lg.stats.too_large, 2, "too large: counted");
  is_int(lg.stats.noise_bytes, 0, "too large: not noise");

  /* Segmented: the segments held give way when the next one does not fit
   * with them; the next frame decrypts. */
  {
    struct hdlc_opt seg = {1, 1, 1, 64, 0};
    const struct text *want1[] = {&t_short};
    w = hdlc_wrap(s, f, seal_text(f, &t_smarty, 1, 0x82), &seg);
    w += hdlc_wrap(s + w, f, seal_text(f, &t_short, 2, 1), &seg);
    ok(chunking_invariant(&lg, s, w, &o) && plaintexts_are(&lg, want1, 1) &&
           lg.r[0].ev == DSMR_SMARTY_TOO_LARGE && failures(&lg) <= 2 &&
           lg.r[lg.n - 1].fc == 2 && lg.stats.noise_bytes == 0,
       "too large in segments: reported, the next decrypts");
  }

  /* Exactly fitting: plaintext + 30 bytes of frame. */
  o.cap = t_smarty.len + DSMR_SMARTY_FRAME_OVERHEAD;
  w = seal_text(s, &t_smarty, 1, 0x82);
  run(&lg, s, w, BYTES, 0, &o);
  ok(lg.n == 1 && lg.r[0].ev == DSMR_SMARTY_PLAINTEXT,
     "a frame exactly the buffer's size decrypts");
  o.cap--;
  run(&lg, s, w, BYTES, 0, &o);
  ok(lg.n == 1 && lg.r[0].ev == DSMR_SMARTY_TOO_LARGE,
     "one byte less is too large");
}

/* Lengths that cannot be and HDLC frames without a DB 08 frame. */
static void test_malformed(void) {
  uint8_t f[512];
  size_t n, w;
  const struct text *want[] = {&t_short};
  /* A real meter's HDLC frame (a Landis+Gyr E450 push: LLC E6 E7 00 and an
   * unencrypted general-block-transfer APDU, no DB 08 inside): HCS and FCS
   * as a meter computes them. */
  static const char E450[] =
      "7EA084CEFF0313128BE6E700E04000010000700F0001D3760C07E5061C010F1B32FF80"
      "0000020E010E020412002809060008190900FF0F0212000002041200280906000819"
      "0900FF0F01120000020412000109060000600100FF0F021200000204120003090601"
      "00010700FF0F02120000020412000309060100020700FF0F02120000B21A7E";

  w = unhex(s, sizeof s, E450);
  w += seal_text(s + w, &t_short, 1, 1);
  ok(chunking_invariant(&lg, s, w, &DEFAULTS) && lg.n == 2 &&
         lg.r[0].ev == DSMR_SMARTY_MALFORMED && lg.r[0].hdlc &&
         plaintexts_are(&lg, want, 1),
     "a real meter's HDLC frame without DB 08: malformed, then the next");
  ok(lg.stats.hdlc_frames == 1 && lg.stats.hdlc_fcs_errors == 0,
     "a real meter's HCS and FCS are accepted");

  /* A credible header whose length leaves no room for a tag. */
  n = seal_text(f, &t_short, 1, 1);
  memcpy(s, "\xDB\x08LUX\x10\x20\x30\x40\x50\x10\x30\x00\x00\x00\x01", 16);
  memcpy(s + 16, f, n);
  run(&lg, s, 16 + n, BYTES, 0, &DEFAULTS);
  ok(lg.n == 2 && lg.r[0].ev == DSMR_SMARTY_MALFORMED &&
         plaintexts_are(&lg, want, 1),
     "a length too short for a tag: malformed, then the next");

  /* Another security control byte (0x20: encrypted, no tag) is not a
   * Smarty frame: skipped as noise, never decrypted. */
  memcpy(s, f, n);
  s[11] = 0x20;
  run(&lg, s, n, WHOLE, 0, &DEFAULTS);
  ok(lg.n == 0 && lg.stats.noise_bytes == n,
     "security control 0x20: not a frame, noise");
}

int main(void) {
  if (!gcry_check_version(NULL))
    bail("libgcrypt");
  /* The test is the application here: secure memory would only make
   * valgrind and ASan complain about libgcrypt's mlock'ed pool. The
   * library never touches this setting. */
  gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

  craft(&t_short, "/Lux5\\TEST\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!");
  load(&t_medium, "ndokter_warmtelink_unpadded_crc");
  load(&t_smarty, "dsmrreader_smarty");
  load(&t_hungary, "ndokter_eon_hungary");
  load(&t_v5, "ndokter_v5");
  ok(t_short.len + 17 < 0x80, "the short telegram fits the 1-byte form (%zu)",
     t_short.len);
  ok(t_medium.len + 17 > 0x7F && t_medium.len + 17 <= 0xFF,
     "the medium telegram needs the 0x81 form (%zu)", t_medium.len);
  is_int(x25((const uint8_t *)"123456789", 9), 0x906E,
         "the test's CRC-16/X.25 check value");

  test_hex_keys();
  test_init();
  test_independent_vector();
  test_forms();
  test_segmented();
  test_cut_before_title();
  test_cut_fills_buffer();
  test_cut_fcs_completed();
  test_back_to_back();
  test_wrong_keys();
  test_flips();
  test_replay();
  test_truncated();
  test_too_large();
  test_malformed();
  return tap_done();
}
