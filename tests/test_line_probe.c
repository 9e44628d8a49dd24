/* Baudrate "auto" (line_probe.c): the probing order and windows, the
 * extension of a window for a telegram under way, settling, going back to
 * probing after a run of bad frames or a quiet spell with bytes, and the
 * probing feed on real telegram bytes: plain 8N1, 7E1 read as 8N1 (even
 * parity in bit 7, rescued by masking and reported as 7E1), DSMR 2.2
 * without CRC, chunked, garbage.
 *
 * Every chunk handed to the feed is its own exactly sized heap block, so
 * that AddressSanitizer / valgrind catch a read or write past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "framer.h"
#include "line_probe.h"
#include "mapper.h"
#include "tap.h"
#include "test_util.h"

static struct dsmr_telegram scratch; /* ~12 KiB: not on the stack */
static char buf_primary[8192], buf_alt[8192];

/* ---- telegrams ---------------------------------------------------------- */

static const char *const dsmr5_body =
    "/ISK5\\2M550T-1012\r\n\r\n"
    "1-3:0.2.8(50)\r\n"
    "0-0:1.0.0(240615120000S)\r\n"
    "0-0:96.1.1(4530303433303037313331363236373137)\r\n"
    "1-0:1.8.1(001234.567*kWh)\r\n"
    "1-0:1.8.2(000002.399*kWh)\r\n"
    "1-0:2.8.1(000000.000*kWh)\r\n"
    "1-0:2.8.2(000000.000*kWh)\r\n"
    "0-0:96.14.0(0002)\r\n"
    "1-0:1.7.0(01.234*kW)\r\n"
    "1-0:2.7.0(00.000*kW)\r\n"
    "1-0:32.7.0(230.1*V)\r\n"
    "!";

static const char *const dsmr22_body = "/ISk5\\2MT382-1004\r\n\r\n"
                                       "0-0:96.1.1(00000000000000)\r\n"
                                       "1-0:1.8.1(00123.456*kWh)\r\n"
                                       "1-0:1.8.2(00001.001*kWh)\r\n"
                                       "0-0:96.14.0(0001)\r\n"
                                       "1-0:1.7.0(0001.01*kW)\r\n"
                                       "1-0:2.7.0(0000.00*kW)\r\n"
                                       "!";

/* body + CRC line (or just CR LF) into out; returns the length. */
static size_t make(char *out, size_t cap, const char *body, int with_crc,
                   int bad_crc) {
  size_t n = strlen(body);
  memcpy(out, body, n);
  if (with_crc) {
    uint16_t c = dsmr_crc16(0, body, n);
    if (bad_crc)
      c ^= 0x5a5a;
    n += (size_t)snprintf(out + n, cap - n, "%04X\r\n", c);
  } else {
    n += (size_t)snprintf(out + n, cap - n, "\r\n");
  }
  return n;
}

/* ---- state machine ------------------------------------------------------ */

static void test_order_and_windows(void) {
  struct dsmr_line_probe p;
  char d[64];
  long long t = 1000000;

  dsmr_line_settings_list(d, sizeof(d));
  is_str(d, "115200 8N1, 115200 7E1 or 9600 7E1", "settings list");

  dsmr_line_probe_init(&p, t);
  dsmr_line_probe_describe(&p, d, sizeof(d));
  is_str(d, "115200 8N1", "probing starts at 115200 8N1");
  ok(dsmr_line_probe_dual(&p) && !dsmr_line_probe_mask(&p),
     "8N1: read as is, plus a masked copy");
  is_int(dsmr_line_probe_tick(&p, 100, 0, t + DSMR_LINE_WINDOW_MS - 1),
         DSMR_LINE_KEEP, "window not over 1 ms before its end");
  is_int(dsmr_line_probe_tick(&p, 0, 0, t + DSMR_LINE_WINDOW_MS),
         DSMR_LINE_SWITCH, "window over: switch");
  t += DSMR_LINE_WINDOW_MS;
  dsmr_line_probe_describe(&p, d, sizeof(d));
  is_str(d, "115200 7E1", "second setting 115200 7E1");
  ok(dsmr_line_probe_mask(&p) && !dsmr_line_probe_dual(&p),
     "7E1: masked, no second copy");
  is_int(dsmr_line_probe_setting(&p)->databits, 7, "7 data bits");
  is_int(dsmr_line_probe_setting(&p)->parity, 'E', "even parity");
  is_int(dsmr_line_probe_tick(&p, 0, 0, t + DSMR_LINE_WINDOW_MS),
         DSMR_LINE_SWITCH, "second window over");
  t += DSMR_LINE_WINDOW_MS;
  is_int(dsmr_line_probe_setting(&p)->baudrate, 9600, "third: 9600");
  is_int(p.windows, 2, "two windows without a telegram");
  is_int(dsmr_line_probe_tick(&p, 0, 0, t + DSMR_LINE_WINDOW_MS),
         DSMR_LINE_SWITCH, "third window over");
  t += DSMR_LINE_WINDOW_MS;
  is_int(p.index, 0, "back to the first setting");
  is_int(p.windows, DSMR_LINE_SETTINGS, "a full cycle is counted");
  ok(DSMR_LINE_WINDOW_MS > 10000 + 1000,
     "a window outlasts a DSMR 4 period plus a 1 KB telegram at 9600");
}

/* The HAN and ANY families (Protocol "han" / "auto"): their settings in
 * order, never masked, a full cycle counted at their own length; a frame
 * whose check passed (reported valid by the caller) settles them. */
static void test_families(void) {
  struct dsmr_line_probe p;
  char d[96];
  long long t = 5000;
  static const char *const han[] = {"2400 8E1", "2400 8N1", "115200 8N1"};
  static const char *const any[] = {"115200 8N1", "115200 7E1", "9600 7E1",
                                    "2400 8E1", "2400 8N1"};

  dsmr_line_probe_init_family(&p, t, DSMR_LINE_FAMILY_HAN);
  dsmr_line_probe_list(&p, d, sizeof d);
  is_str(d, "2400 8E1, 2400 8N1 or 115200 8N1", "HAN: settings list");
  for (unsigned i = 0; i < 3; i++) {
    dsmr_line_probe_describe(&p, d, sizeof d);
    is_str(d, han[i], "HAN: setting %u", i + 1);
    ok(!dsmr_line_probe_mask(&p) && !dsmr_line_probe_dual(&p),
       "HAN: setting %u read as is, no masked copy", i + 1);
    is_int(dsmr_line_probe_tick(&p, 10, 0, t += DSMR_LINE_WINDOW_MS),
           DSMR_LINE_SWITCH, "HAN: window %u over", i + 1);
  }
  is_int(p.index, 0, "HAN: back to 2400 8E1");
  is_int(p.windows, p.nsettings, "HAN: a full cycle is 3 windows");
  is_int(dsmr_line_probe_setting(&p)->parity, 'E', "2400 8E1: even parity");
  is_int(dsmr_line_probe_setting(&p)->databits, 8, "2400 8E1: 8 data bits");
  dsmr_line_probe_tick(&p, 10, 0, t += DSMR_LINE_WINDOW_MS);
  is_int(dsmr_line_probe_frame(&p, 0, 0, t), DSMR_LINE_KEEP,
         "HAN: a frame that fails its check does not settle");
  is_int(dsmr_line_probe_frame(&p, 0, 1, t), DSMR_LINE_FOUND,
         "HAN: a frame whose check passed settles");
  is_str(p.found, "2400 8N1", "HAN: found 2400 8N1");
  dsmr_line_probe_restart(&p, t);
  dsmr_line_probe_describe(&p, d, sizeof d);
  is_str(d, "2400 8N1", "HAN: a restart probes from the setting that worked");
  is_int(p.nsettings, 3, "HAN: the family survives a restart");

  dsmr_line_probe_init_family(&p, t, DSMR_LINE_FAMILY_ANY);
  dsmr_line_probe_list(&p, d, sizeof d);
  is_str(d, "115200 8N1, 115200 7E1, 9600 7E1, 2400 8E1 or 2400 8N1",
         "ANY: settings list");
  for (unsigned i = 0; i < 5; i++) {
    dsmr_line_probe_describe(&p, d, sizeof d);
    is_str(d, any[i], "ANY: setting %u", i + 1);
    is_int(dsmr_line_probe_dual(&p), i == 0,
           "ANY: setting %u: a masked copy only at 115200 8N1", i + 1);
    dsmr_line_probe_tick(&p, 10, 0, t += DSMR_LINE_WINDOW_MS);
  }
  is_int(p.windows, 5, "ANY: a full cycle is 5 windows");

  dsmr_line_probe_init(&p, t);
  is_int(p.nsettings, DSMR_LINE_SETTINGS, "DSMR: 3 settings as before");
  dsmr_line_probe_list(&p, d, sizeof d);
  is_str(d, "115200 8N1, 115200 7E1 or 9600 7E1", "DSMR: settings list");
}

static void test_extension(void) {
  struct dsmr_line_probe p;
  long long t = 5000;

  dsmr_line_probe_init(&p, t);
  is_int(dsmr_line_probe_tick(&p, 10, 1, t + DSMR_LINE_WINDOW_MS),
         DSMR_LINE_KEEP, "telegram under way at the window's end: extended");
  is_int(dsmr_line_probe_tick(
             &p, 10, 1, t + DSMR_LINE_WINDOW_MS + DSMR_LINE_EXTEND_MS - 1),
         DSMR_LINE_KEEP, "still inside the extension");
  is_int(dsmr_line_probe_tick(&p, 10, 1,
                              t + DSMR_LINE_WINDOW_MS + DSMR_LINE_EXTEND_MS),
         DSMR_LINE_SWITCH, "extended once only, even if still under way");
  is_int(dsmr_line_probe_tick(
             &p, 0, 1, t + 2 * DSMR_LINE_WINDOW_MS + DSMR_LINE_EXTEND_MS),
         DSMR_LINE_KEEP, "the next window may be extended again");
}

static void test_settle_and_lose(void) {
  struct dsmr_line_probe p;
  char d[64];
  long long t = 0;

  dsmr_line_probe_init(&p, t);
  is_int(dsmr_line_probe_frame(&p, 0, 0, t + 10), DSMR_LINE_KEEP,
         "an invalid frame while probing changes nothing");
  ok(!p.settled, "still probing");
  is_int(dsmr_line_probe_frame(&p, 1, 1, t + 20), DSMR_LINE_FOUND,
         "valid only masked: found");
  dsmr_line_probe_describe(&p, d, sizeof(d));
  is_str(d, "115200 7E1", "8N1 that works only masked is reported as 7E1");
  ok(dsmr_line_probe_mask(&p) && !dsmr_line_probe_dual(&p),
     "settled masked: every byte masked, no second copy");
  is_int(dsmr_line_probe_setting(&p)->databits, 8, "the port stays at 8N1");

  /* bad frames in a row */
  for (int i = 1; i < DSMR_LINE_BAD_RUN; i++)
    is_int(dsmr_line_probe_frame(&p, 0, 0, t + 100 + i), DSMR_LINE_KEEP,
           "bad frame %d of %d: kept", i, DSMR_LINE_BAD_RUN);
  is_int(dsmr_line_probe_frame(&p, 0, 1, t + 200), DSMR_LINE_KEEP,
         "a valid frame in between");
  is_int(p.bad_run, 0, "... ends the run");
  for (int i = 1; i < DSMR_LINE_BAD_RUN; i++)
    dsmr_line_probe_frame(&p, 0, 0, t + 300 + i);
  ok(p.settled, "still settled after %d bad frames", DSMR_LINE_BAD_RUN - 1);
  is_int(dsmr_line_probe_frame(&p, 0, 0, t + 400), DSMR_LINE_LOST,
         "%d bad frames in a row: lost", DSMR_LINE_BAD_RUN);
  is_int(p.lost_reason, DSMR_LINE_LOST_BAD_RUN, "reason: bad run");
  ok(!p.settled && p.index == 0 && !p.masked && p.windows == 0,
     "probing again from the setting that worked");
  ok(dsmr_line_probe_dual(&p), "with the masked copy again");
  is_int(dsmr_line_probe_tick(&p, 0, 0, t + 400 + DSMR_LINE_WINDOW_MS - 1),
         DSMR_LINE_KEEP, "with a fresh window");

  /* settle raw on the 9600 setting */
  dsmr_line_probe_init(&p, t);
  dsmr_line_probe_tick(&p, 0, 0, t += DSMR_LINE_WINDOW_MS);
  dsmr_line_probe_tick(&p, 0, 0, t += DSMR_LINE_WINDOW_MS);
  is_int(dsmr_line_probe_frame(&p, 0, 1, t + 5), DSMR_LINE_FOUND,
         "found at the third setting");
  dsmr_line_probe_describe(&p, d, sizeof(d));
  is_str(d, "9600 7E1", "described as 9600 7E1");
  ok(dsmr_line_probe_mask(&p), "7-bit: masked");
  t += 5;

  /* quiet: bytes but no valid telegram */
  is_int(dsmr_line_probe_tick(&p, 0, 0, t + 10 * 60 * 1000), DSMR_LINE_KEEP,
         "a silent meter (no bytes) keeps its setting for 10 minutes");
  is_int(dsmr_line_probe_tick(&p, DSMR_LINE_QUIET_BYTES - 1, 0,
                              t + 10 * 60 * 1000 + 1),
         DSMR_LINE_KEEP, "a few bytes (the end of a telegram) do not count");
  is_int(dsmr_line_probe_tick(&p, 1, 0, t + 10 * 60 * 1000 + 2), DSMR_LINE_LOST,
         "bytes keep coming without a valid telegram: lost");
  is_int(p.lost_reason, DSMR_LINE_LOST_QUIET, "reason: quiet");
  is_int(p.index, 2, "probing again from 9600 7E1");

  dsmr_line_probe_frame(&p, 0, 1, t = 1000000);
  is_int(dsmr_line_probe_tick(&p, 5000, 0, t + DSMR_LINE_QUIET_MS - 1),
         DSMR_LINE_KEEP,
         "bytes without a telegram for less than the quiet "
         "time: kept");
  is_int(dsmr_line_probe_tick(&p, 5000, 0, t + DSMR_LINE_QUIET_MS),
         DSMR_LINE_LOST, "... for the quiet time: lost");

  dsmr_line_probe_restart(&p, t);
  ok(!p.settled && p.index == 2, "restart (reopened source) keeps the setting");
}

/* ---- frame validity ----------------------------------------------------- */

static void test_valid(void) {
  char tg[2048];
  struct dsmr_framer fr;
  enum dsmr_frame_event ev;
  struct dsmr_frame f;
  size_t n;

  struct {
    const char *name, *body;
    int crc, bad, want;
  } cases[] = {
      {"DSMR 5 with a matching CRC", dsmr5_body, 1, 0, 1},
      {"DSMR 5 with a wrong CRC", dsmr5_body, 1, 1, 0},
      {"DSMR 2.2 without CRC, well-formed", dsmr22_body, 0, 0, 1},
      {"no CRC, no data objects", "/XYZ5 junk\r\n\r\n!", 0, 0, 0},
      {"no CRC, a malformed line", "/XYZ5\r\n\r\n1-0:1.8.1(12\x81.4*kWh)\r\n!",
       0, 0, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    dsmr_framer_init(&fr, buf_primary, sizeof(buf_primary));
    n = make(tg, sizeof(tg), cases[i].body, cases[i].crc, cases[i].bad);
    ok(!dsmr_framer_collecting(&fr), "%s: not collecting before '/'",
       cases[i].name);
    dsmr_framer_feed(&fr, tg, n / 2, &ev, &f);
    ok(ev == DSMR_FRAME_NONE && dsmr_framer_collecting(&fr),
       "%s: collecting half way (a window would be extended)", cases[i].name);
    dsmr_framer_feed(&fr, tg + n / 2, n - n / 2, &ev, &f);
    ok(!dsmr_framer_collecting(&fr), "%s: not collecting once framed",
       cases[i].name);
    if (!ok(ev == DSMR_FRAME_TELEGRAM, "%s: framed", cases[i].name))
      continue;
    is_int(dsmr_line_frame_valid(&f, &scratch), cases[i].want, "%s: %s",
           cases[i].name, cases[i].want ? "valid" : "not valid");
  }
}

/* ---- the probing feed on bytes ----------------------------------------- */

struct run {
  struct dsmr_line_probe p;
  struct dsmr_framer primary, alt;
  long long t;
  unsigned found, after; /* FOUND events; valid frames after settling */
  uint64_t fed;
};

static void run_init(struct run *r) {
  memset(r, 0, sizeof(*r));
  r->t = 1000;
  dsmr_line_probe_init(&r->p, r->t);
  dsmr_framer_init(&r->primary, buf_primary, sizeof(buf_primary));
  dsmr_framer_init(&r->alt, buf_alt, sizeof(buf_alt));
}

/* The settled path, as the reader does it: mask if needed, frame. */
static void settled_feed(struct run *r, char *p, size_t len) {
  if (dsmr_line_probe_mask(&r->p))
    dsmr_line_mask(p, len);
  while (len > 0) {
    enum dsmr_frame_event ev;
    struct dsmr_frame f;
    size_t n = dsmr_framer_feed(&r->primary, p, len, &ev, &f);
    p += n;
    len -= n;
    if (ev == DSMR_FRAME_TELEGRAM && dsmr_line_frame_valid(&f, &scratch))
      r->after++;
  }
}

/* One chunk, in its own heap block. */
static void feed_chunk(struct run *r, const char *data, size_t len) {
  char *c = malloc(len ? len : 1);
  char *p = c;
  memcpy(c, data, len);
  r->fed += len;
  while (len > 0) {
    if (r->p.settled) {
      settled_feed(r, p, len);
      break;
    }
    enum dsmr_line_event ev;
    struct dsmr_frame f;
    size_t n = dsmr_line_probe_feed(&r->p, &r->primary, &r->alt, p, len,
                                    &scratch, r->t, &ev, &f);
    p += n;
    len -= n;
    if (ev == DSMR_LINE_FOUND) {
      r->found++;
      /* the frame that settled it is there to be used */
      if (dsmr_line_frame_valid(&f, &scratch))
        r->after++;
    }
  }
  free(c);
}

static void feed_stream(struct run *r, const char *data, size_t len,
                        size_t chunk) {
  for (size_t off = 0; off < len; off += chunk)
    feed_chunk(r, data + off, len - off < chunk ? len - off : chunk);
}

static void test_feed(void) {
  static struct run r;
  char one[2048], stream[8192], d[32];
  size_t n1, n;
  static const size_t chunks[] = {1, 7, 64, 4096};

  /* plain 8N1: found as read, not masked */
  n1 = make(one, sizeof(one), dsmr5_body, 1, 0);
  n = 0;
  for (int k = 0; k < 3; k++) {
    memcpy(stream + n, one, n1);
    n += n1;
  }
  for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
    run_init(&r);
    feed_stream(&r, stream, n, chunks[c]);
    dsmr_line_probe_describe(&r.p, d, sizeof(d));
    ok(r.found == 1 && r.p.settled && !r.p.masked,
       "8N1 stream in chunks of %zu: found once, not masked", chunks[c]);
    is_str(d, "115200 8N1", "8N1 stream in chunks of %zu: 115200 8N1",
           chunks[c]);
    is_int(r.after, 3, "8N1 stream in chunks of %zu: all 3 telegrams valid",
           chunks[c]);
    is_int(r.primary.stats.bytes, r.fed,
           "8N1 stream in chunks of %zu: every byte counted once", chunks[c]);
  }

  /* 7E1 read as 8N1: only the masked copy frames; reported as 7E1 */
  parity_7e1(stream, n);
  ok((unsigned char)stream[0] == ('/' | 0x80),
     "'/' (5 bits set) arrives with the parity bit set");
  for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
    run_init(&r);
    feed_stream(&r, stream, n, chunks[c]);
    dsmr_line_probe_describe(&r.p, d, sizeof(d));
    ok(r.found == 1 && r.p.settled && r.p.masked,
       "7E1 read as 8N1 in chunks of %zu: found masked", chunks[c]);
    is_str(d, "115200 7E1", "7E1 read as 8N1 in chunks of %zu: 115200 7E1",
           chunks[c]);
    is_int(r.after, 3, "7E1 read as 8N1 in chunks of %zu: all 3 valid",
           chunks[c]);
    is_int(r.primary.stats.bytes, r.fed,
           "7E1 read as 8N1 in chunks of %zu: every byte counted once",
           chunks[c]);
    is_int(r.primary.stats.telegrams, 3 - 1,
           "7E1 in chunks of %zu: the primary framer counts only the "
           "telegrams after settling",
           chunks[c]);
  }

  /* 7E1 bytes on the 7-bit setting (a pty hands bit 7 through) */
  run_init(&r);
  dsmr_line_probe_tick(&r.p, 0, 0, r.t += DSMR_LINE_WINDOW_MS);
  feed_stream(&r, stream, n, 64);
  dsmr_line_probe_describe(&r.p, d, sizeof(d));
  ok(r.found == 1 && !r.p.masked && dsmr_line_probe_mask(&r.p),
     "7E1 setting: found, masked as a 7-bit setting");
  is_str(d, "115200 7E1", "7E1 setting: 115200 7E1");
  is_int(r.after, 3, "7E1 setting: all 3 valid");

  /* DSMR 2.2 without CRC, 7E1 read as 8N1 */
  n1 = make(one, sizeof(one), dsmr22_body, 0, 0);
  memcpy(stream, one, n1);
  memcpy(stream + n1, one, n1);
  n = 2 * n1;
  parity_7e1(stream, n);
  run_init(&r);
  feed_stream(&r, stream, n, 64);
  dsmr_line_probe_describe(&r.p, d, sizeof(d));
  ok(r.found == 1 && r.p.masked, "DSMR 2.2 (no CRC) 7E1: found masked");
  is_int(r.after, 2, "DSMR 2.2 7E1: both telegrams valid");

  /* bad CRCs only: never settles; nothing but bytes in the counters */
  n1 = make(one, sizeof(one), dsmr5_body, 1, 1);
  run_init(&r);
  feed_stream(&r, one, n1, 100);
  feed_stream(&r, one, n1, 100);
  ok(!r.p.settled, "telegrams with a wrong CRC do not settle the probe");
  is_int(r.primary.stats.telegrams, 0, "probing frames are not counted");
  is_int(r.primary.stats.crc_bad, 0, "nor their CRC errors");
  is_int(r.primary.stats.bytes, 2 * n1, "bytes are");

  /* garbage (a wrong baud rate): seeded pseudo-random bytes */
  {
    static char junk[65536];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof(junk); i++) {
      s = s * 1103515245u + 12345u;
      junk[i] = (char)(s >> 16);
    }
    run_init(&r);
    feed_stream(&r, junk, sizeof(junk), 4096);
    ok(!r.p.settled, "64 KiB of pseudo-random bytes do not settle the probe");
    is_int(r.primary.stats.dropped + r.primary.stats.too_large, 0,
           "nor show as dropped or oversized telegrams");
  }
}

int main(void) {
  test_order_and_windows();
  test_families();
  test_extension();
  test_settle_and_lose();
  test_valid();
  test_feed();
  return tap_done();
}
