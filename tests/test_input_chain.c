/* The input chain (input_chain.h): what comes out of it for plain DSMR
 * streams, a 7E1 line read as 8N1 (Baudrate "auto"), Luxembourg Smarty
 * envelopes with the right and a wrong key, replays, oversized telegrams
 * and envelopes, garbage and cut telegrams between good ones; and that
 * feeding a stream byte by byte, in odd chunks or whole gives the same
 * outputs in the same order. Each run is written down as one line of
 * text (an event log) so that a failure shows what came out.
 *
 * Every chunk is copied into its own exactly sized heap block, so that
 * AddressSanitizer / valgrind catch any read past the bytes handed over. */
#include <gcrypt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "han_corpus.h"
#include "hdlc.h"
#include "input_chain.h"
#include "smarty_seal.h"
#include "tap.h"
#include "test_util.h"

#define MAX_STREAM 65536
#define LOG_MAX 8192

/* ---- telegrams ---------------------------------------------------------- */

static const char *const dsmr5_body = "/ISK5\\2M550T-1012\r\n\r\n"
                                      "1-3:0.2.8(50)\r\n"
                                      "0-0:1.0.0(240615120000S)\r\n"
                                      "1-0:1.8.1(001234.567*kWh)\r\n"
                                      "1-0:1.8.2(000002.399*kWh)\r\n"
                                      "1-0:1.7.0(01.234*kW)\r\n"
                                      "1-0:32.7.0(230.1*V)\r\n"
                                      "!";

static const char *const dsmr22_body = "/ISk5\\2MT382-1004\r\n\r\n"
                                       "0-0:96.1.1(00000000000000)\r\n"
                                       "1-0:1.8.1(00123.456*kWh)\r\n"
                                       "1-0:1.7.0(0001.01*kW)\r\n"
                                       "!";

/* Appends body + CRC line (bad: a wrong CRC; none: just CR LF). */
enum crc_kind { CRC_GOOD, CRC_WRONG, CRC_NONE };
static size_t put(char *out, size_t at, const char *body, enum crc_kind k) {
  size_t n = strlen(body);
  if (at + n + 8 > MAX_STREAM)
    bail("stream too long");
  memcpy(out + at, body, n);
  at += n;
  if (k == CRC_NONE)
    return at + (size_t)snprintf(out + at, 8, "\r\n");
  uint16_t c = dsmr_crc16(0, body, n);
  if (k == CRC_WRONG)
    c ^= 0x5a5a;
  return at + (size_t)snprintf(out + at, 8, "%04X\r\n", c);
}

/* A string literal's bytes, without its NUL. */
#define put_lit(out, at, lit) put_raw(out, at, lit, sizeof(lit) - 1)

static size_t put_raw(char *out, size_t at, const void *p, size_t n) {
  if (at + n > MAX_STREAM)
    bail("stream too long");
  memcpy(out + at, p, n);
  return at + n;
}

/* ---- Smarty sealing: what the meter does (smarty_seal.h) -------------- */

/* One envelope (three-byte length form) appended at stream + at. */
static size_t seal(char *stream, size_t at, const char *pt, size_t n,
                   uint32_t fc) {
  size_t len;
  if (at + n + 30 > MAX_STREAM)
    bail("stream too long");
  len =
      smarty_seal((uint8_t *)stream + at, pt, n, KEY, LUX_AK, TITLE, fc, 0x82);
  if (len == 0)
    bail("libgcrypt refused to seal");
  return at + len;
}

/* A telegram (with CRC) sealed as one envelope. */
static size_t put_sealed(char *stream, size_t at, const char *body,
                         uint32_t fc) {
  char t[4096];
  size_t n = put(t, 0, body, CRC_GOOD);
  return seal(stream, at, t, n, fc);
}

/* A telegram (with the CRC kind k) sealed as one envelope. */
static size_t put_sealed_crc(char *stream, size_t at, const char *body,
                             enum crc_kind k, uint32_t fc) {
  char t[4096];
  size_t n = put(t, 0, body, k);
  return seal(stream, at, t, n, fc);
}

/* stream[from..to) (an APDU) wrapped in place into one HDLC frame (Aidon's
 * addresses, LLC E6 E7 00); returns the new end. */
static size_t hdlc_wrap(char *stream, size_t from, size_t to) {
  uint8_t *f = (uint8_t *)stream + from;
  size_t n = to - from, flen = 2 + 1 + 2 + 1 + 2 + 3 + n + 2;
  uint16_t c;
  if (from + flen + 2 > MAX_STREAM || flen > 0x7ff)
    bail("HDLC frame too long");
  memmove(f + 12, f, n);
  f[0] = 0x7E;
  f[1] = (uint8_t)(0xA0 | (flen >> 8));
  f[2] = (uint8_t)flen;
  f[3] = 0x41;
  f[4] = 0x08;
  f[5] = 0x83;
  f[6] = 0x13;
  c = dsmr_crc_x25(f + 1, 6);
  f[7] = (uint8_t)c;
  f[8] = (uint8_t)(c >> 8);
  f[9] = 0xE6;
  f[10] = 0xE7;
  f[11] = 0x00;
  c = dsmr_crc_x25(f + 1, flen - 2);
  f[flen - 1] = (uint8_t)c;
  f[flen] = (uint8_t)(c >> 8);
  f[flen + 1] = 0x7E;
  return from + flen + 2;
}

/* ---- running the chain ---------------------------------------------------
 * The log: one token per output, e.g. "F:ok:OK:190" (frame, CRC verdict,
 * check verdict, length), "FOUND:115200 7E1/m", "SWITCH:115200 7E1",
 * "LOST:run", "TOO_LARGE", "CUT", "DECRYPT_OK:7", "DECRYPT_FAILED:7/0",
 * "REPLAY:7/8". Frames' text is checked too: every frame handed out must
 * be one of the telegrams given as `want` (as sent, unmasked). */

struct run {
  struct dsmr_input in;
  char log[LOG_MAX];
  size_t loglen;
  unsigned frames, unknown_frames;
  const char *const *want; /* NULL-terminated bodies, or NULL */
};

static void logf_(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(struct run *r, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(r->log + r->loglen, LOG_MAX - r->loglen, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= LOG_MAX - r->loglen)
    bail("log full");
  r->loglen += (size_t)n;
}

static const char *crc_name(enum dsmr_crc_verdict v) {
  return v == DSMR_CRC_OK ? "ok" : v == DSMR_CRC_BAD ? "bad" : "none";
}

static const char *check_name(enum dsmr_input_check c) {
  return c == DSMR_INPUT_CHECK_OK        ? "OK"
         : c == DSMR_INPUT_CHECK_CRC_BAD ? "CRC_BAD"
                                         : "CRC_MISSING";
}

static void drain(struct run *r) {
  struct dsmr_input_out o;
  enum dsmr_input_event ev;
  char set[32];

  while ((ev = dsmr_input_next(&r->in, &o)) != DSMR_INPUT_NONE) {
    if (ev != o.ev)
      bail("returned event differs from out.ev");
    switch (ev) {
    case DSMR_INPUT_FRAME:
      r->frames++;
      logf_(r, "F:%s:%s:%zu ", crc_name(o.frame.crc), check_name(o.check),
            o.frame.len);
      if (r->want) {
        int known = 0;
        for (const char *const *w = r->want; *w; w++)
          known |= strlen(*w) == o.frame.len &&
                   memcmp(*w, o.frame.data, o.frame.len) == 0;
        if (!known)
          r->unknown_frames++;
      }
      break;
    case DSMR_INPUT_LINE_FOUND:
      logf_(r, "FOUND:%s%s ", o.line->found, o.line->masked ? "/m" : "");
      break;
    case DSMR_INPUT_LINE_SWITCH:
      dsmr_line_probe_describe(o.line, set, sizeof set);
      logf_(r, "SWITCH:%s%s ", set,
            o.line->windows == o.line->nsettings ? "/all" : "");
      break;
    case DSMR_INPUT_LINE_LOST:
      logf_(r, "LOST:%s ",
            o.line->lost_reason == DSMR_LINE_LOST_BAD_RUN ? "run" : "quiet");
      break;
    case DSMR_INPUT_CUT:
      logf_(r, "CUT ");
      break;
    case DSMR_INPUT_DECRYPT_OK:
      logf_(r, "DECRYPT_OK:%u ", (unsigned)o.envelope.frame_counter);
      break;
    case DSMR_INPUT_DECRYPT_FAILED:
      logf_(r, "DECRYPT_FAILED:%u/%llu ", (unsigned)o.envelope.frame_counter,
            (unsigned long long)o.decrypted);
      break;
    case DSMR_INPUT_REPLAY:
      logf_(r, "REPLAY:%u/%u ", (unsigned)o.envelope.frame_counter,
            (unsigned)o.envelope.last_counter);
      break;
    case DSMR_INPUT_HAN_TELEGRAM: {
      /* list id, readings, mapper errors, power-import in W */
      const struct dsmr_telegram *t = o.telegram;
      double power = -1;
      for (unsigned i = 0; i < t->nreadings; i++)
        if (strcmp(t->readings[i].type, "power") == 0 &&
            strcmp(t->readings[i].type_instance, "import") == 0)
          power = t->readings[i].gauge;
      logf_(r, "HAN:%.*s:%u:%u:%g ", (int)o.list->list_id_len,
            o.list->list_id ? (const char *)o.list->list_id : "", t->nreadings,
            o.han_errors, power);
      break;
    }
    case DSMR_INPUT_HAN_TRANSPORT:
    case DSMR_INPUT_PROTOCOL:
      logf_(r, "%s ", o.detail);
      break;
    default:
      logf_(r, "%s ", dsmr_input_event_name(ev));
      break;
    }
  }
}

struct opts {
  size_t max;
  int probe;
  const uint8_t *key;
  int protocol;
  int unchecked; /* han_allow_unchecked */
  const uint8_t *auth;
  int escaler_set, escaler; /* han_energy_scaler_set / han_energy_scaler */
};

static void start(struct run *r, const struct opts *o, long long now) {
  struct dsmr_input_config cfg = {.max_telegram = o->max ? o->max : 1024,
                                  .check_crc = 1,
                                  .line_probe = o->probe,
                                  .decryption_key = o->key,
                                  .auth_key = o->auth,
                                  .protocol = o->protocol,
                                  .han_allow_unchecked = o->unchecked,
                                  .han_energy_scaler_set = o->escaler_set,
                                  .han_energy_scaler = o->escaler};
  char err[256];
  memset(r, 0, sizeof *r);
  if (dsmr_input_init(&r->in, &cfg, now, err, sizeof err) != 0)
    bail(err);
}

/* One chunk, copied to an exactly sized heap block. */
static void feed(struct run *r, const char *p, size_t n, long long now) {
  char *c = malloc(n ? n : 1);
  if (!c)
    bail("out of memory");
  if (n) /* p may be NULL for an empty chunk */
    memcpy(c, p, n);
  dsmr_input_feed(&r->in, c, n, now);
  drain(r);
  free(c);
}

/* The whole stream in chunks of `chunk` bytes (0: one chunk). */
static void run(struct run *r, const struct opts *o, const char *s, size_t n,
                size_t chunk, const char *const *want) {
  start(r, o, 0);
  r->want = want;
  if (chunk == 0)
    chunk = n;
  for (size_t at = 0; at < n; at += chunk)
    feed(r, s + at, n - at < chunk ? n - at : chunk, 0);
}

/* Whole, byte by byte, and in chunks of 7 and 64 bytes: the same log and
 * the same counts. Leaves r as the whole-stream run. */
static void same_in_any_chunks(struct run *r, const struct opts *o,
                               const char *s, size_t n, const char *const *want,
                               const char *what) {
  static struct run other;
  static const size_t chunks[] = {1, 7, 64};
  run(r, o, s, n, 0, want);
  for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
    run(&other, o, s, n, chunks[i], want);
    if (!ok(strcmp(other.log, r->log) == 0 &&
                memcmp(&other.in.stats, &r->in.stats, sizeof other.in.stats) ==
                    0,
            "%s: %zu-byte chunks give what the whole stream gives", what,
            chunks[i]))
      printf("#   whole: %s\n#   %zu-byte: %s\n", r->log, chunks[i], other.log);
    dsmr_input_free(&other.in);
  }
}

static char s[MAX_STREAM];

/* ---- plain DSMR ---------------------------------------------------------- */

static void test_plain(void) {
  static struct run r;
  const struct opts o = {0};
  const char *const want[] = {dsmr5_body, dsmr22_body, NULL};
  size_t n = 0;
  char want_log[256];
  size_t l5 = strlen(dsmr5_body), l22 = strlen(dsmr22_body);

  n = put(s, n, dsmr5_body, CRC_GOOD);
  n = put_lit(s, n, "\x00\xff garbage !! \r\n\x80"); /* between */
  n = put(s, n, dsmr5_body, CRC_WRONG);
  n = put(s, n, dsmr22_body, CRC_NONE);  /* no CRC, after CRCs: missing */
  n = put_lit(s, n, "/ISK5\r\n1-0:");    /* cut short by the next '/' */
  n = put_lit(s, n, "/ISK5\r\n\r\n1-0"); /* and again: two cuts */
  /* a '/' and anything but a line end is noise, not a telegram cut */
  n = put_lit(s, n, "/////ISK5 cut");
  n = put(s, n, dsmr5_body, CRC_GOOD);
  same_in_any_chunks(&r, &o, s, n, want, "plain DSMR");
  snprintf(want_log, sizeof want_log,
           "F:ok:OK:%zu F:bad:CRC_BAD:%zu F:none:CRC_MISSING:%zu CUT CUT "
           "F:ok:OK:%zu ",
           l5, l5, l22, l5);
  is_str(r.log, want_log,
         "plain DSMR: frames with their CRC and check verdicts in order, "
         "garbage between them skipped, each cut one reported");
  is_int(r.unknown_frames, 0, "plain DSMR: frames hold the telegrams sent");
  is_int(r.in.stats.bytes, n, "plain DSMR: every byte counted");
  is_int(r.in.stats.frames, 4, "plain DSMR: 4 frames counted");
  is_int(r.in.stats.cut, 2, "plain DSMR: 2 cuts counted");
  dsmr_input_free(&r.in);

  /* a meter that never sent a CRC: none is missing */
  n = put(s, 0, dsmr22_body, CRC_NONE);
  n = put(s, n, dsmr22_body, CRC_NONE);
  run(&r, &o, s, n, 0, want);
  snprintf(want_log, sizeof want_log, "F:none:OK:%zu F:none:OK:%zu ", l22, l22);
  is_str(r.log, want_log, "DSMR 2.2 meter: no CRC is no CRC error");
  dsmr_input_free(&r.in);

  /* the input ends right after '!' (a file): the end ends the telegram */
  n = put(s, 0, dsmr22_body, CRC_NONE) - 2;
  run(&r, &o, s, n, 0, want);
  is_str(r.log, "", "a telegram without its CR LF: not over yet");
  dsmr_input_end(&r.in);
  drain(&r);
  snprintf(want_log, sizeof want_log, "F:none:OK:%zu ", l22);
  is_str(r.log, want_log, "... until the input ends");
  is_int(r.in.stats.bytes, n, "the end adds no bytes");
  dsmr_input_end(&r.in);
  drain(&r);
  is_str(r.log, want_log, "ending twice: nothing more");
  dsmr_input_free(&r.in);

  /* CheckCRC false: every frame passes the check, the verdict stays */
  {
    struct dsmr_input_config cfg = {.max_telegram = 1024};
    char err[64];
    memset(&r, 0, sizeof r);
    if (dsmr_input_init(&r.in, &cfg, 0, err, sizeof err) != 0)
      bail(err);
    n = put(s, 0, dsmr5_body, CRC_WRONG);
    feed(&r, s, n, 0);
    snprintf(want_log, sizeof want_log, "F:bad:OK:%zu ", l5);
    is_str(r.log, want_log, "check_crc off: a bad CRC is handed out as OK");
    dsmr_input_free(&r.in);
  }
}

static void test_too_large(void) {
  static struct run r;
  const struct opts o = {.max = 128};
  static const char small[] =
      "/X5\\small\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!";
  const char *const want[] = {small, NULL};
  char want_log[128];
  size_t n = 0;

  n = put(s, n, small, CRC_GOOD);
  n = put(s, n, dsmr5_body, CRC_GOOD); /* > 128 bytes */
  n = put(s, n, small, CRC_GOOD);
  same_in_any_chunks(&r, &o, s, n, want, "oversized telegram");
  snprintf(want_log, sizeof want_log,
           "F:ok:OK:%zu telegram too large F:ok:OK:%zu ", strlen(small),
           strlen(small));
  is_str(r.log, want_log,
         "a telegram over max_telegram: TOO_LARGE between the two good ones");
  is_int(r.in.stats.too_large, 1, "oversized telegram counted");
  dsmr_input_free(&r.in);
}

/* ---- Baudrate "auto" ------------------------------------------------------
 */

static void test_probe_masking(void) {
  static struct run r;
  const struct opts o = {.probe = 1};
  const char *const want[] = {dsmr5_body, NULL};
  char want_log[256];
  size_t l5 = strlen(dsmr5_body), n = 0;

  /* a 7E1 line read as 8N1: noise, 3 telegrams, the parity in bit 7 */
  n = put_lit(s, n, "\x12\x34 line noise");
  n = put(s, n, dsmr5_body, CRC_GOOD);
  n = put(s, n, dsmr5_body, CRC_GOOD);
  n = put(s, n, dsmr5_body, CRC_GOOD);
  parity_7e1(s, n);
  same_in_any_chunks(&r, &o, s, n, want, "7E1 read as 8N1");
  snprintf(want_log, sizeof want_log,
           "FOUND:115200 7E1/m F:ok:OK:%zu F:ok:OK:%zu F:ok:OK:%zu ", l5, l5,
           l5);
  is_str(r.log, want_log,
         "7E1 read as 8N1: found through the masked copy, every telegram "
         "handed out masked and intact");
  is_int(r.unknown_frames, 0, "7E1 read as 8N1: frames are the telegrams");
  is_int(r.in.stats.bytes, n, "7E1 read as 8N1: every byte counted once");
  ok(dsmr_input_line(&r.in) && dsmr_input_line(&r.in)->databits == 8,
     "the port stays at 8 data bits (masked)");
  dsmr_input_free(&r.in);

  /* a plain 8N1 stream: found as read, not masked */
  n = put(s, 0, dsmr5_body, CRC_GOOD);
  n = put(s, n, dsmr5_body, CRC_GOOD);
  same_in_any_chunks(&r, &o, s, n, want, "8N1 probed");
  snprintf(want_log, sizeof want_log,
           "FOUND:115200 8N1 F:ok:OK:%zu F:ok:OK:%zu ", l5, l5);
  is_str(r.log, want_log, "8N1 stream: found as read");
  dsmr_input_free(&r.in);

  /* while probing, invalid frames and oversized ones are only judged */
  n = put(s, 0, dsmr5_body, CRC_WRONG);
  n = put_lit(s, n, "/cut");
  n = put(s, n, dsmr5_body, CRC_GOOD);
  run(&r, &o, s, n, 0, want);
  snprintf(want_log, sizeof want_log, "FOUND:115200 8N1 F:ok:OK:%zu ", l5);
  is_str(r.log, want_log,
         "probing: a bad frame and a cut one are not reported, the good "
         "one settles the line");
  is_int(r.in.stats.cut + r.in.stats.frames, 1,
         "probing: nothing counted against the meter but the good frame");
  dsmr_input_free(&r.in);
}

static void test_probe_windows(void) {
  static struct run r;
  const struct opts o = {.probe = 1};
  char want_log[512];
  size_t l5 = strlen(dsmr5_body), n;
  long long t = 0;

  start(&r, &o, t);
  feed(&r, "", 0, t + 1000); /* quiet second: nothing */
  is_str(r.log, "", "a quiet second inside the window: nothing");
  feed(&r, "xx", 2, t += DSMR_LINE_WINDOW_MS);
  feed(&r, "", 0, t += DSMR_LINE_WINDOW_MS);
  feed(&r, "", 0, t += DSMR_LINE_WINDOW_MS);
  is_str(r.log, "SWITCH:115200 7E1 SWITCH:9600 7E1 SWITCH:115200 8N1/all ",
         "windows end: switch to each setting in turn, the chunk read at "
         "the old setting dropped; all tried once: said so");
  is_int(r.in.stats.bytes, 0, "a dropped chunk is not counted");
  is_int(dsmr_input_line(&r.in)->baudrate, 115200, "back at 115200");

  /* settle, then 5 bad telegrams in a row: lost, the rest dropped */
  r.loglen = 0;
  r.log[0] = 0;
  n = put(s, 0, dsmr5_body, CRC_GOOD);
  for (int i = 0; i < DSMR_LINE_BAD_RUN; i++)
    n = put(s, n, dsmr5_body, CRC_WRONG);
  n = put(s, n, dsmr5_body, CRC_GOOD); /* dropped with the line */
  feed(&r, s, n, t += 1);
  snprintf(want_log, sizeof want_log,
           "FOUND:115200 8N1 F:ok:OK:%zu F:bad:CRC_BAD:%zu "
           "F:bad:CRC_BAD:%zu F:bad:CRC_BAD:%zu F:bad:CRC_BAD:%zu "
           "F:bad:CRC_BAD:%zu LOST:run ",
           l5, l5, l5, l5, l5, l5);
  is_str(r.log, want_log,
         "settled: bad telegrams are handed out; the 5th in a row loses "
         "the line and the rest of the chunk is dropped");
  /* the frame ends at its 4th CRC digit: its CR LF is in the rest */
  is_int(r.in.stats.bytes, n - (strlen(dsmr5_body) + 6) - 2,
         "the dropped rest is not counted");
  ok(!r.in.line.settled, "probing again");

  /* restart (the source reopened): keeps probing, stats kept */
  dsmr_input_restart(&r.in, t);
  r.loglen = 0;
  r.log[0] = 0;
  n = put(s, 0, dsmr5_body, CRC_GOOD);
  feed(&r, s, n, t);
  snprintf(want_log, sizeof want_log, "FOUND:115200 8N1 F:ok:OK:%zu ", l5);
  is_str(r.log, want_log, "after a restart: found again");

  /* settled, bytes but no valid telegram for a while: lost (quiet rule) */
  r.loglen = 0;
  r.log[0] = 0;
  memset(s, 'x', 100);
  feed(&r, s, 100, t + DSMR_LINE_QUIET_MS);
  is_str(r.log, "LOST:quiet ", "garbage but no telegram for a while: lost");
  dsmr_input_free(&r.in);
}

/* ---- Smarty -----------------------------------------------------------------
 */

static void test_smarty(void) {
  static struct run r;
  const struct opts o = {.key = KEY, .max = 1024};
  const struct opts wrong = {.key = WRONG_KEY, .max = 1024};
  const char *const want[] = {dsmr5_body, dsmr22_body, NULL};
  char want_log[512];
  size_t l5 = strlen(dsmr5_body), n = 0;

  n = put_sealed(s, n, dsmr5_body, 7);
  n = put_lit(s, n, "\x01\x02 noise \x7e");
  n = put_sealed(s, n, dsmr5_body, 8);
  n = put_sealed(s, n, dsmr5_body, 8); /* replayed */
  n = put_sealed(s, n, dsmr5_body, 9);
  same_in_any_chunks(&r, &o, s, n, want, "Smarty");
  snprintf(want_log, sizeof want_log,
           "DECRYPT_OK:7 F:ok:OK:%zu F:ok:OK:%zu REPLAY:8/8 F:ok:OK:%zu ", l5,
           l5, l5);
  is_str(r.log, want_log,
         "Smarty: keys reported right once, each telegram decrypted and "
         "framed, the replay refused");
  is_int(r.unknown_frames, 0, "Smarty: frames are the telegrams sealed");
  is_int(r.in.stats.bytes, n, "Smarty: the line's bytes counted");
  is_int(r.in.stats.decrypted, 3, "Smarty: 3 decrypted");
  is_int(r.in.stats.replayed, 1, "Smarty: 1 replay");

  /* the counter survives a restart (a reconnect) */
  dsmr_input_restart(&r.in, 0);
  r.loglen = 0;
  r.log[0] = 0;
  n = put_sealed(s, 0, dsmr5_body, 9);
  feed(&r, s, n, 0);
  is_str(r.log, "REPLAY:9/9 ", "Smarty: a replay after a reconnect too");
  dsmr_input_free(&r.in);

  n = put_sealed(s, 0, dsmr5_body, 7);
  n = put_sealed(s, n, dsmr5_body, 8);
  same_in_any_chunks(&r, &wrong, s, n, want, "Smarty, wrong key");
  is_str(r.log, "DECRYPT_FAILED:7/0 DECRYPT_FAILED:8/0 ",
         "wrong key: every envelope fails, nothing framed");
  is_int(r.in.stats.decrypt_failed, 2, "wrong key: 2 failures counted");
  dsmr_input_free(&r.in);

  /* an envelope whose telegram is over max_telegram (and over the room
   * the decoder has beside it) */
  {
    const struct opts small = {.key = KEY, .max = 128};
    static char big[3200];
    size_t b = (size_t)snprintf(big, sizeof big, "/X5\\big\r\n\r\n");
    while (b < sizeof big - 40)
      b += (size_t)snprintf(big + b, sizeof big - b,
                            "1-0:1.8.1(000001.000*kWh)\r\n");
    snprintf(big + b, sizeof big - b, "!");
    n = put_sealed(s, 0, big, 7);
    n = put_sealed(s, n, dsmr5_body, 8); /* decrypts; over 128 framed */
    n = put_sealed(s, n, "/X5\\small\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!", 9);
    same_in_any_chunks(&r, &small, s, n, NULL, "Smarty, oversized");
    is_str(r.log,
           "envelope too large DECRYPT_OK:8 telegram too large F:ok:OK:41 ",
           "an envelope too large for the decoder, a telegram too large for "
           "the framer: each dropped and said, the next one read");
    is_int(r.in.stats.envelope_too_large, 1, "oversized envelope counted");
    is_int(r.in.stats.too_large, 1, "oversized telegram counted");
    dsmr_input_free(&r.in);
  }
}

static void test_build(void) {
  struct dsmr_input in;
  struct dsmr_input_config cfg = {
      .max_telegram = 1024, .line_probe = 1, .decryption_key = KEY};
  char err[128] = "";

  ok(dsmr_input_init(&in, &cfg, 0, err, sizeof err) == -1 && err[0],
     "line probing with decryption is refused: %s", err);
  dsmr_input_free(&in); /* safe after a failed init */
  cfg.line_probe = 0;
  cfg.decryption_key = NULL;
  ok(dsmr_input_init(&in, &cfg, 0, err, sizeof err) == 0 &&
         dsmr_input_line(&in) == NULL,
     "plain chain: no line setting to apply");
  dsmr_input_free(&in);
  dsmr_input_free(&in); /* twice */
}

/* ---- HAN (Protocol "han" / "auto") -------------------------------------- */

static const struct han_vector *vector(const char *id) {
  for (size_t i = 0; i < sizeof han_vectors / sizeof han_vectors[0]; i++)
    if (strcmp(han_vectors[i].id, id) == 0)
      return &han_vectors[i];
  bail("no such corpus vector");
  return NULL;
}

static void test_han(void) {
  static struct run r;
  static uint8_t frame[4096], key[16], wrong[16];
  const struct han_vector *aidon = vector("aidon-no-list2-1p-vendor-doc");
  const struct han_vector *at = vector("kaifa-at-evn-netznoe-doc");
  size_t alen = unhex(frame, sizeof frame, aidon->frame_hex), n;
  struct opts han = {.max = 4096, .protocol = DSMR_INPUT_PROTO_HAN};
  struct opts autop = {.max = 4096, .protocol = DSMR_INPUT_PROTO_AUTO};

  /* Aidon list 2 (HDLC), twice, with garbage between */
  n = put_raw(s, 0, "\x01\x02junk", 6);
  n = put_raw(s, n, frame, alen);
  n = put_raw(s, n, "\x00\xff", 2);
  n = put_raw(s, n, frame, alen);
  same_in_any_chunks(&r, &han, s, n, NULL, "HAN: two Aidon frames");
  is_str(r.log, "HDLC HAN:AIDON_V0001:6:0:1362 HAN:AIDON_V0001:6:0:1362 ",
         "HAN: both Aidon frames mapped, power-import 1362 W");
  is_int(r.in.stats.han_telegrams, 2, "HAN telegrams counted");
  dsmr_input_free(&r.in);
  same_in_any_chunks(&r, &autop, s, n, NULL, "AUTO: two Aidon frames");
  is_str(r.log, "HAN HDLC HAN:AIDON_V0001:6:0:1362 HAN:AIDON_V0001:6:0:1362 ",
         "AUTO: the bytes say HAN");
  dsmr_input_free(&r.in);

  /* one byte changed: refused by its FCS, the next frame read */
  n = put_raw(s, 0, frame, alen);
  s[40] ^= 0x10;
  n = put_raw(s, n, frame, alen);
  same_in_any_chunks(&r, &han, s, n, NULL, "HAN: a damaged frame");
  is_str(r.log, "HDLC frame check failed HAN:AIDON_V0001:6:0:1362 ",
         "HAN: a changed byte fails the frame check, the next frame is read");
  is_int(r.in.stats.han_frame_check, 1, "frame check failure counted");
  dsmr_input_free(&r.in);

  /* encrypted Austrian M-Bus (EVN): right key, the same again (replay),
   * wrong key */
  alen = unhex(frame, sizeof frame, at->frame_hex);
  unhex(key, sizeof key, at->key_hex);
  memcpy(wrong, key, 16);
  wrong[15] ^= 1;
  han.key = key;
  n = put_raw(s, 0, frame, alen);
  n = put_raw(s, n, frame, alen);
  same_in_any_chunks(&r, &han, s, n, NULL, "HAN: encrypted M-Bus");
  is_str(r.log, "M-Bus DECRYPT_OK:35 HAN::11:0:0 REPLAY:35/35 ",
         "HAN: the Austrian message decrypts and maps; sent again, a replay");
  dsmr_input_free(&r.in);
  autop.key = key;
  same_in_any_chunks(&r, &autop, s, n, NULL, "AUTO: encrypted M-Bus");
  ok(strncmp(r.log, "HAN M-Bus DECRYPT_OK", 20) == 0, "AUTO: M-Bus found: %s",
     r.log);
  dsmr_input_free(&r.in);
  han.key = wrong;
  same_in_any_chunks(&r, &han, s, n, NULL, "HAN: wrong key");
  is_str(r.log, "M-Bus DECRYPT_FAILED:35/0 DECRYPT_FAILED:35/0 ",
         "HAN: a wrong key fails decryption, nothing mapped");
  is_int(r.in.stats.decrypt_failed, 2, "decrypt failures counted");
  dsmr_input_free(&r.in);
  han.key = NULL;
  run(&r, &han, s, n, 0, NULL);
  is_str(r.log, "M-Bus no key for encrypted frame no key for encrypted frame ",
         "HAN: encrypted without a key: said, nothing mapped");
  dsmr_input_free(&r.in);

  /* AUTO on a DSMR stream: the same as Protocol "dsmr" */
  n = put(s, 0, dsmr5_body, CRC_GOOD);
  n = put(s, n, dsmr5_body, CRC_WRONG);
  same_in_any_chunks(&r, &autop, s, n, NULL, "AUTO: DSMR");
  ok(strncmp(r.log, "DSMR F:ok:OK:", 13) == 0 && strstr(r.log, "CRC_BAD"),
     "AUTO: a DSMR stream is framed as DSMR: %s", r.log);
  dsmr_input_free(&r.in);
}

/* A DSMR telegram inside a DLMS envelope (Steiermark T210-D) opened
 * without checking its GCM tag: the frame counter is committed only once
 * the telegram's CRC passed. A frame that decrypts but fails its CRC must
 * not move the replay guard (it would block the genuine frame with that
 * counter, and let a forged high counter block every frame after it). */
static void test_han_dsmr_commit(void) {
  static struct run r;
  struct opts o = {.max = 4096,
                   .protocol = DSMR_INPUT_PROTO_HAN,
                   .key = KEY,
                   .unchecked = 1};
  size_t n = 0, at;

  at = n;
  n = put_sealed_crc(s, n, dsmr5_body, CRC_WRONG, 10);
  n = hdlc_wrap(s, at, n);
  at = n;
  n = put_sealed_crc(s, n, dsmr5_body, CRC_GOOD, 10); /* the genuine one */
  n = hdlc_wrap(s, at, n);
  at = n;
  n = put_sealed_crc(s, n, dsmr5_body, CRC_GOOD, 9); /* older: a replay */
  n = hdlc_wrap(s, at, n);
  at = n;
  n = put_sealed_crc(s, n, dsmr5_body, CRC_GOOD, 11);
  n = hdlc_wrap(s, at, n);
  same_in_any_chunks(&r, &o, s, n, NULL, "HAN: DSMR in envelope, unchecked");
  ok(strstr(r.log, "F:bad:CRC_BAD:") != NULL,
     "the telegram with a bad CRC is framed and judged bad: %s", r.log);
  is_int(r.in.stats.frames, 3,
         "the genuine frame with the same counter (10) is read after the "
         "one that failed its CRC, and 11 after it");
  is_int(r.in.stats.replayed, 1,
         "counter 9 after the good 10 is a replay (10 was committed)");
  ok(strstr(r.log, "REPLAY:9/10") != NULL, "replay of 9 against 10: %s", r.log);
  ok(strstr(r.log, "REPLAY:10") == NULL,
     "counter 10 was not committed by the frame that failed its CRC");
  dsmr_input_free(&r.in);
}

/* Protocol "auto" on bare envelopes (DB 08 title LEN SC IC ..., no HDLC or
 * M-Bus around them): a DSMR telegram inside (Luxembourg Smarty,
 * Steiermark T210-D) goes to the DSMR framer, a data-notification inside
 * is decoded; a stream joined in the middle of an HDLC frame whose APDU is
 * an envelope is read by the HDLC framing from the next frame on. */
static void test_auto_bare(void) {
  static struct run r;
  static uint8_t frame[4096], apdu[4096], key[16];
  const struct han_vector *aidon = vector("aidon-no-list2-1p-vendor-doc");
  const struct han_vector *st =
      vector("sagemcom-t210d-at-steiermark-dsmr-shrdzm");
  struct opts o = {.max = 4096,
                   .protocol = DSMR_INPUT_PROTO_AUTO,
                   .key = KEY,
                   .auth = LUX_AK};
  size_t n, at, alen, flen;
  char want[64];

  /* DSMR telegrams inside, after some noise */
  n = put_raw(s, 0, "\x01\x02junk", 6);
  n = put_sealed(s, n, dsmr5_body, 1);
  n = put_sealed(s, n, dsmr5_body, 2);
  same_in_any_chunks(&r, &o, s, n, NULL, "AUTO: bare Smarty envelopes");
  snprintf(want, sizeof want, "HAN DECRYPT_OK:1 F:ok:OK:%zu F:ok:OK:%zu ",
           strlen(dsmr5_body), strlen(dsmr5_body));
  is_str(r.log, want,
         "AUTO: DB 08 decides HAN, the DSMR telegrams inside "
         "are framed and pass their CRC");
  dsmr_input_free(&r.in);

  /* a data-notification inside (Aidon list 2's APDU, sealed) */
  flen = unhex(frame, sizeof frame, aidon->frame_hex);
  alen = flen - 12 - 3; /* 7E A0 LL 41 08 83 13 HCS E6 E7 00 ... FCS 7E */
  memcpy(apdu, frame + 12, alen);
  n = seal(s, 0, (const char *)apdu, alen, 5);
  n = seal(s, n, (const char *)apdu, alen, 6);
  same_in_any_chunks(&r, &o, s, n, NULL, "AUTO: bare DLMS envelopes");
  is_str(r.log,
         "HAN DECRYPT_OK:5 HAN:AIDON_V0001:6:0:1362 "
         "HAN:AIDON_V0001:6:0:1362 ",
         "AUTO: a data-notification inside a bare envelope is decoded");
  dsmr_input_free(&r.in);

  /* joined in the middle of an HDLC frame carrying an envelope: its DB 08
   * is seen first; the next frames' 7E A? hand over to the HDLC framing */
  at = 0;
  n = put_sealed(s, 0, dsmr5_body, 7);
  n = hdlc_wrap(s, at, n);
  at = 12; /* from the DB on */
  for (uint32_t fc = 8; fc <= 9; fc++) {
    size_t from = n;
    n = put_sealed(s, n, dsmr5_body, fc);
    n = hdlc_wrap(s, from, n);
  }
  same_in_any_chunks(&r, &o, s + at, n - at, NULL,
                     "AUTO: joined inside an HDLC frame");
  ok(strstr(r.log, "HDLC") != NULL && r.in.stats.frames == 3 &&
         r.in.stats.han_frame_check == 0,
     "AUTO: the bare envelope, then both HDLC frames read: %s", r.log);
  dsmr_input_free(&r.in);

  /* the published Steiermark frame: SC 0x30, only the encryption key */
  n = unhex((uint8_t *)s, sizeof s, st->frame_hex);
  unhex(key, sizeof key, st->key_hex);
  o.key = key;
  o.auth = NULL;
  run(&r, &o, s, n, 0, NULL);
  is_str(r.log, "HAN no key for encrypted frame ",
         "Steiermark without AuthenticationKey: not opened");
  dsmr_input_free(&r.in);
  o.unchecked = 1;
  same_in_any_chunks(&r, &o, s, n, NULL, "AUTO: Steiermark, tag not checked");
  ok(strncmp(r.log, "HAN GCM tag not checked DECRYPT_OK:", 35) == 0 &&
         strstr(r.log, " F:ok:OK:") != NULL,
     "Steiermark, tag not checked: the telegram inside passes its CRC: %s",
     r.log);
  dsmr_input_free(&r.in);
}

/* Baudrate "auto" with Protocol "han" / "auto": frames that fail their
 * check (what a wrong setting makes of the bytes) are swallowed while
 * probing, the window ends, and the first frame whose FCS passes settles
 * the line; settled, a run of failing frames loses it. */
static void test_han_probe(void) {
  static struct run r;
  static uint8_t frame[4096], bad[4096];
  const struct han_vector *aidon = vector("aidon-no-list2-1p-vendor-doc");
  size_t alen = unhex(frame, sizeof frame, aidon->frame_hex);
  struct opts han = {.max = 4096, .protocol = DSMR_INPUT_PROTO_HAN, .probe = 1};
  struct opts autop = {
      .max = 4096, .protocol = DSMR_INPUT_PROTO_AUTO, .probe = 1};
  long long t = 0;
  const char *f;

  memcpy(bad, frame, alen);
  bad[40] ^= 0x5A; /* the FCS fails */

  start(&r, &han, t);
  ok(dsmr_input_line(&r.in) != NULL &&
         dsmr_input_line(&r.in)->baudrate == 2400 &&
         dsmr_input_line(&r.in)->parity == 'E',
     "HAN probe: the source opens at 2400 8E1");
  for (int i = 0; i < 3; i++)
    feed(&r, (const char *)bad, alen, t += 1000);
  ok(strstr(r.log, "FOUND") == NULL &&
         strstr(r.log, "frame check failed") == NULL,
     "HAN probe: failing frames at a wrong setting: nothing said: %s", r.log);
  feed(&r, NULL, 0, t = DSMR_LINE_WINDOW_MS);
  feed(&r, (const char *)frame, alen, t += 1000);
  f = strstr(r.log, "SWITCH:2400 8N1 ");
  ok(f != NULL && strstr(f, "FOUND:2400 8N1 ") != NULL &&
         strstr(strstr(f, "FOUND:2400 8N1 "), "HAN:AIDON_V0001:6:0:1362") !=
             NULL,
     "HAN probe: switched to 2400 8N1, found there by a good frame, whose "
     "list follows: %s",
     r.log);
  is_int(r.in.stats.han_frame_check, 0,
         "HAN probe: the failing frames while probing are not counted");
  for (int i = 0; i < DSMR_LINE_BAD_RUN; i++)
    feed(&r, (const char *)bad, alen, t += 1000);
  ok(strstr(r.log, "frame check failed LOST:run ") != NULL,
     "HAN probe: settled, %d failing frames in a row lose the line: %s",
     DSMR_LINE_BAD_RUN, r.log);
  feed(&r, (const char *)frame, alen, t += 1000);
  ok(strstr(r.log, "LOST:run FOUND:2400 8N1 ") != NULL,
     "HAN probe: found again at the same setting: %s", r.log);
  dsmr_input_free(&r.in);

  /* AUTO: the DSMR settings first; HAN frames settle it too */
  start(&r, &autop, t = 0);
  feed(&r, (const char *)bad, alen, t += 1000);
  for (int w = 1; w <= 3; w++) {
    feed(&r, NULL, 0, t = (long long)w * DSMR_LINE_WINDOW_MS);
    feed(&r, (const char *)bad, alen, t += 1000);
  }
  feed(&r, (const char *)frame, alen, t += 1000);
  f = strstr(r.log, "SWITCH:2400 8E1 ");
  ok(f != NULL && strstr(f, "FOUND:2400 8E1 ") != NULL &&
         strstr(f, "HAN:AIDON_V0001:6:0:1362") != NULL,
     "AUTO probe: through the DSMR settings to 2400 8E1, found there: %s",
     r.log);
  dsmr_input_free(&r.in);

  /* AUTO probe on a DSMR stream: as before, 115200 8N1 */
  start(&r, &autop, t = 0);
  {
    size_t n = put(s, 0, dsmr5_body, CRC_GOOD);
    feed(&r, s, n, t += 1000);
  }
  ok(strncmp(r.log, "DSMR FOUND:115200 8N1 F:ok:OK:", 30) == 0,
     "AUTO probe on DSMR: found at 115200 8N1: %s", r.log);
  dsmr_input_free(&r.in);
}

/* ---- the meter's clock --------------------------------------------------- */

/* The meter time the chain gives the first HAN list of stream[0..n) read
 * with zone tz (NULL: none): -1 when it gives none, -2 when no list. */
static long long han_meter_time(char *stream, size_t n,
                                const struct dsmr_tz *tz) {
  struct dsmr_input_config cfg = {.max_telegram = 4096,
                                  .check_crc = 1,
                                  .protocol = DSMR_INPUT_PROTO_HAN,
                                  .timezone = tz};
  struct dsmr_input_out o;
  static struct dsmr_input in;
  long long mt = -2;
  char err[256];

  if (dsmr_input_init(&in, &cfg, 0, err, sizeof err) != 0)
    bail(err);
  dsmr_input_feed(&in, stream, n, 0);
  while (dsmr_input_next(&in, &o) != DSMR_INPUT_NONE)
    if (o.ev == DSMR_INPUT_HAN_TELEGRAM && mt == -2)
      mt = o.telegram->info.has_meter_time ? o.telegram->info.meter_time : -1;
  dsmr_input_free(&in);
  return mt;
}

/* Aidon Norway (AIDON_V0001) sends its clock as Norwegian local time with
 * deviation 0 (the list documents: "Local date and time of Norway"; the
 * captured list 3 gh1119 says 2025-12-14 16:00:00, status 00): read in the
 * TimeZone like a clock with deviation "unspecified", not as UTC (an hour
 * ahead in winter, two in summer). The same bytes under another list id
 * keep deviation 0 as UTC; Aidon Sweden's 0x8000 is read as before. */
static void test_han_clock(void) {
  static uint8_t frame[4096];
  const struct han_vector *no = vector("aidon-no-gh1119-1");
  const struct han_vector *se = vector("aidon-se-3p-rj12-doc");
  struct dsmr_tz oslo, stockholm;
  const char *why = NULL;
  size_t flen, n;
  char *id;

  if (dsmr_tz_parse("CET-1CEST,M3.5.0,M10.5.0/3", &oslo, &why) != 0)
    bail(why);
  stockholm = oslo;
  flen = unhex(frame, sizeof frame, no->frame_hex);
  n = put_raw(s, 0, frame, flen);
  is_int(han_meter_time(s, n, &oslo), 1765724400,
         "Aidon NO list 3, deviation 0, TimeZone CET/CEST: 16:00 local = "
         "15:00 UTC (2025-12-14T15:00:00Z)");
  is_int(han_meter_time(s, n, NULL), -1,
         "Aidon NO list 3 without a TimeZone: the clock is not used (not "
         "taken as 16:00 UTC)");
  ok(dsmr_han_clock_is_local(
         &(struct dsmr_han_list){.vendor = DSMR_HAN_VENDOR_AIDON},
         &(struct dsmr_cosem_datetime){.deviation = 0}) &&
         !dsmr_han_clock_is_local(
             &(struct dsmr_han_list){.vendor = DSMR_HAN_VENDOR_AIDON},
             &(struct dsmr_cosem_datetime){.deviation = -60}) &&
         !dsmr_han_clock_is_local(
             &(struct dsmr_han_list){.vendor = DSMR_HAN_VENDOR_KAMSTRUP},
             &(struct dsmr_cosem_datetime){.deviation = 0}),
     "local without offset: Aidon's deviation 0 only; Aidon's -60 and "
     "another vendor's 0 say their offset");

  /* the same APDU with another list id: deviation 0 is UTC */
  id = NULL;
  for (size_t i = 0; !id && i + 11 <= n; i++)
    if (memcmp(s + i, "AIDON_V0001", 11) == 0)
      id = s + i;
  if (!id)
    bail("no list id in gh1119");
  id[0] = 'X';
  memmove(s, s + 12, flen - 15); /* the APDU, wrapped again */
  n = hdlc_wrap(s, 0, flen - 15);
  is_int(han_meter_time(s, n, &oslo), 1765728000,
         "the same clock under list id XIDON_V0001: deviation 0 is UTC "
         "(2025-12-14T16:00:00Z), whatever the TimeZone");

  /* Aidon Sweden: 0x8000, no list id; 07:59:40 local in Stockholm */
  flen = unhex(frame, sizeof frame, se->frame_hex);
  n = put_raw(s, 0, frame, flen);
  is_int(han_meter_time(s, n, &stockholm), 1576479580,
         "Aidon SE (deviation unspecified): 2019-12-16 07:59:40 local = "
         "06:59:40 UTC, as before");
}

/* Protocol "han" with a DecryptionKey reads bare envelopes too (DB 08 ...,
 * no HDLC or M-Bus around them), as "auto" does but never as DSMR: the
 * first signature decides. Without a key it reads HDLC and M-Bus frames
 * (a bare envelope could not be opened); with a key HDLC frames are read
 * as before. */
static void test_han_bare(void) {
  static struct run r;
  static uint8_t frame[4096], apdu[4096];
  const struct han_vector *aidon = vector("aidon-no-list2-1p-vendor-doc");
  struct opts o = {.max = 4096,
                   .protocol = DSMR_INPUT_PROTO_HAN,
                   .key = KEY,
                   .auth = LUX_AK};
  size_t n, alen, flen, at;
  char want[64];

  /* a data-notification inside (Aidon list 2's APDU, sealed) */
  flen = unhex(frame, sizeof frame, aidon->frame_hex);
  alen = flen - 12 - 3;
  memcpy(apdu, frame + 12, alen);
  n = put_raw(s, 0, "\x01\x02junk", 6);
  n = seal(s, n, (const char *)apdu, alen, 5);
  n = seal(s, n, (const char *)apdu, alen, 6);
  same_in_any_chunks(&r, &o, s, n, NULL, "HAN: bare DLMS envelopes");
  is_str(r.log,
         "DECRYPT_OK:5 HAN:AIDON_V0001:6:0:1362 HAN:AIDON_V0001:6:0:1362 ",
         "HAN with a key: a data-notification inside a bare envelope is "
         "decoded");
  dsmr_input_free(&r.in);

  /* DSMR telegrams inside (Luxembourg Smarty), after some noise */
  n = put_raw(s, 0, "\x01\x02junk", 6);
  n = put_sealed(s, n, dsmr5_body, 1);
  n = put_sealed(s, n, dsmr5_body, 2);
  same_in_any_chunks(&r, &o, s, n, NULL, "HAN: bare Smarty envelopes");
  snprintf(want, sizeof want, "DECRYPT_OK:1 F:ok:OK:%zu F:ok:OK:%zu ",
           strlen(dsmr5_body), strlen(dsmr5_body));
  is_str(r.log, want,
         "HAN with a key: the DSMR telegrams inside bare envelopes are "
         "framed and pass their CRC");
  dsmr_input_free(&r.in);

  /* the same envelopes in HDLC frames: read as before */
  n = 0;
  for (uint32_t fc = 7; fc <= 8; fc++) {
    at = n;
    n = put_sealed(s, n, dsmr5_body, fc);
    n = hdlc_wrap(s, at, n);
  }
  same_in_any_chunks(&r, &o, s, n, NULL, "HAN: envelopes in HDLC");
  snprintf(want, sizeof want, "HDLC DECRYPT_OK:7 F:ok:OK:%zu F:ok:OK:%zu ",
           strlen(dsmr5_body), strlen(dsmr5_body));
  is_str(r.log, want, "HAN with a key: envelopes in HDLC frames as before");
  dsmr_input_free(&r.in);

  /* a plain DSMR telegram is not HAN: nothing read */
  n = put(s, 0, dsmr5_body, CRC_GOOD);
  run(&r, &o, s, n, 0, NULL);
  is_str(r.log, "", "HAN with a key: a plain DSMR telegram is not read");
  dsmr_input_free(&r.in);

  /* without a key: bare envelopes are not looked for */
  o.key = NULL;
  o.auth = NULL;
  n = seal(s, 0, (const char *)apdu, alen, 5);
  run(&r, &o, s, n, 0, NULL);
  is_str(r.log, "", "HAN without a key: a bare envelope is not read");
  dsmr_input_free(&r.in);
}

/* EnergyScaler (dsmr-cat --energy-scaler): the chain hands it to the
 * decoder. A Kamstrup list 2 (no scaler_unit; 1-1:1.8.0 raw 8582328,
 * 2.8.0 raw 454083): 10 Wh by the document, Wh with the override; power
 * (no override) and a list that sends its scalers (Aidon) unchanged. */
static int64_t han_energy(const struct run *r, const char *instance) {
  const struct dsmr_telegram *t = r->in.tel;
  for (unsigned i = 0; t && i < t->nreadings; i++)
    if (strcmp(t->readings[i].type, "dsmr_energy") == 0 &&
        strcmp(t->readings[i].type_instance, instance) == 0)
      return t->readings[i].derive;
  return -1;
}

static void test_han_energy_scaler(void) {
  static struct run r;
  static uint8_t frame[4096];
  const struct han_vector *kam = vector("kamstrup-no-list2-em001-1");
  const struct han_vector *aidon = vector("aidon-no-gh1119-1");
  size_t n = unhex(frame, sizeof frame, kam->frame_hex);
  struct opts o = {.max = 4096, .protocol = DSMR_INPUT_PROTO_HAN};

  run(&r, &o, (const char *)frame, n, 0, NULL);
  ok(han_energy(&r, "import") == 85823280 &&
         han_energy(&r, "export") == 4540830,
     "HAN Kamstrup, no EnergyScaler: energy in 10 Wh (import %lld Wh)",
     (long long)han_energy(&r, "import"));
  dsmr_input_free(&r.in);

  o.escaler_set = 1;
  o.escaler = 0;
  run(&r, &o, (const char *)frame, n, 0, NULL);
  ok(han_energy(&r, "import") == 8582328 && han_energy(&r, "export") == 454083,
     "HAN Kamstrup, EnergyScaler 0 (Swedish firmware): energy in Wh "
     "(import %lld Wh)",
     (long long)han_energy(&r, "import"));
  is_str(r.log, "HDLC HAN:Kamstrup_V0001:14:0:1247 ",
         "HAN Kamstrup, EnergyScaler 0: power unchanged (1247 W)");
  dsmr_input_free(&r.in);

  o.escaler = 3;
  run(&r, &o, (const char *)frame, n, 0, NULL);
  ok(han_energy(&r, "import") == 8582328000LL,
     "HAN Kamstrup, EnergyScaler 3: energy in kWh (import %lld Wh)",
     (long long)han_energy(&r, "import"));
  dsmr_input_free(&r.in);

  /* a list that sends its scaler_unit keeps it (Aidon list 3: 1.8.0
   * 10955225 with scaler 1) */
  n = unhex(frame, sizeof frame, aidon->frame_hex);
  run(&r, &o, (const char *)frame, n, 0, NULL);
  ok(han_energy(&r, "import") == 109552250,
     "HAN Aidon list 3 (scaler_unit sent), EnergyScaler 3: the frame's "
     "scaler wins (import %lld Wh)",
     (long long)han_energy(&r, "import"));
  dsmr_input_free(&r.in);
}

int main(void) {
  if (!gcry_check_version(NULL))
    bail("libgcrypt");
  test_build();
  test_plain();
  test_too_large();
  test_probe_masking();
  test_probe_windows();
  test_smarty();
  test_han();
  test_han_dsmr_commit();
  test_auto_bare();
  test_han_probe();
  test_han_clock();
  test_han_bare();
  test_han_energy_scaler();
  return tap_done();
}
