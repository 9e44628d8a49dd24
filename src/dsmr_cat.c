/* dsmr-cat: show what a meter says. Reads P1 byte streams from files (or
 * stdin) and prints every telegram as a readable listing, as JSON lines, or
 * as one summary line of counts. It runs the same path as the plugin's
 * reader (frame, CRC, parse, map), short of dispatching. */
#include "framer.h"
#include "line_probe.h"
#include "mapper.h"
#include "parser.h"
#include "smarty.h"
#include "source.h"
#include "timestamp.h"

#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <signal.h>
#include <strings.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum output_mode { OUT_LIST, OUT_JSON, OUT_SUMMARY };

struct cat {
  enum output_mode mode;
  struct dsmr_framer framer;
  struct dsmr_telegram telegram;
  struct dsmr_map_state map_state; /* M-Bus names across telegrams */
  unsigned long long n, ok, crc_errors, too_large, malformed;
  int failed; /* exit status 1 */
  /* --baudrate auto: the probe while reading live, else NULL */
  struct dsmr_line_probe *line;
  /* --key: a Luxembourg Smarty stream, decrypted before the framer */
  int decrypt;
  struct dsmr_smarty smarty;
};

static const char *crc_word(enum dsmr_crc_verdict v) {
  switch (v) {
  case DSMR_CRC_OK:
    return "ok";
  case DSMR_CRC_BAD:
    return "bad";
  case DSMR_CRC_NONE:
    break;
  }
  return "none";
}

/* JSON string body: the telegram is latin-1 on the wire, so bytes >= 0x80
 * become the code point of the same value. */
static void json_string(struct dsmr_span s) {
  putchar('"');
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = (unsigned char)s.ptr[i];
    switch (c) {
    case '"':
      fputs("\\\"", stdout);
      break;
    case '\\':
      fputs("\\\\", stdout);
      break;
    case '\r':
      fputs("\\r", stdout);
      break;
    case '\n':
      fputs("\\n", stdout);
      break;
    case '\t':
      fputs("\\t", stdout);
      break;
    default:
      if (c < 0x20 || c >= 0x7f)
        printf("\\u%04x", c);
      else
        putchar(c);
    }
  }
  putchar('"');
}

/* The exact decimal of a parsed number, without zero padding. */
static void print_number(const struct dsmr_number *n) {
  uint64_t m = n->mantissa < 0 ? (uint64_t)0 - (uint64_t)n->mantissa
                               : (uint64_t)n->mantissa;
  char digits[32];
  int len = snprintf(digits, sizeof digits, "%" PRIu64, m);
  int dec = (int)n->decimals;
  if (n->mantissa < 0)
    putchar('-');
  if (dec == 0) {
    fputs(digits, stdout);
    return;
  }
  if (len <= dec) {
    fputs("0.", stdout);
    for (int i = len; i < dec; i++)
      putchar('0');
    fputs(digits, stdout);
    return;
  }
  printf("%.*s.%s", len - dec, digits, digits + len - dec);
}

/* A group's time, when it holds one: flagged timestamps anywhere, unflagged
 * ones and COSEM clocks where the object is known to carry a time. */
static int group_time(const struct dsmr_object *o, unsigned i, int64_t *utc) {
  int flagged = 0;
  enum dsmr_ts_status st = dsmr_parse_timestamp(o->groups[i], utc, &flagged);
  if (st == DSMR_TS_OK && flagged)
    return 1;
  if (!dsmr_obis_group_is_time(&o->obis, i))
    return 0;
  if (st == DSMR_TS_OK)
    return 1;
  return dsmr_parse_cosem_clock(o->groups[i], utc) == DSMR_TS_OK;
}

/* A reading's value as collectd gets it: the exact register, or the gauge
 * as the shortest decimal that reads back as the same double (227.8, not
 * 227.80000000000001): the digits the meter wrote. Plain notation (69000,
 * not 6.9e+04) unless only an exponent reads back. */
static void print_reading_value(const struct dsmr_reading *r) {
  if (r->ds == DSMR_DS_DERIVE) {
    printf("%" PRId64, r->derive);
    return;
  }
  char text[40];
  for (int pass = 0; pass < 2; pass++)
    for (int digits = 1; digits <= 17; digits++) {
      snprintf(text, sizeof text, "%.*g", digits, r->gauge);
      if (strtod(text, NULL) == r->gauge && (pass || !strchr(text, 'e'))) {
        fputs(text, stdout);
        return;
      }
    }
  printf("%.17g", r->gauge); /* NaN */
}

/* A time in a listing a person reads: UTC, and the host's local time
 * beside it ("2024-10-27T01:00:00Z (local 2024-10-27 02:00:00 CEST)"). */
static void print_time_human(int64_t utc) {
  char iso[21], local[64];
  struct tm tm;
  time_t t = (time_t)utc;
  dsmr_format_utc(utc, iso);
  fputs(iso, stdout);
  if ((int64_t)t == utc && localtime_r(&t, &tm) &&
      strftime(local, sizeof local, "%Y-%m-%d %H:%M:%S %Z", &tm) > 0)
    printf(" (local %s)", local);
}

static void json_telegram(const struct dsmr_frame *f,
                          const struct dsmr_telegram *t) {
  struct dsmr_parser p;
  struct dsmr_object o;
  enum dsmr_parse_status st;
  int first = 1;

  printf("{\"crc\":\"%s\",\"header\":", crc_word(f->crc));
  json_string(t->info.header);
  if (f->crc != DSMR_CRC_NONE)
    printf(",\"crc_given\":\"%04X\",\"crc_computed\":\"%04X\"", f->crc_given,
           f->crc_computed);
  fputs(",\"objects\":[", stdout);
  dsmr_parser_init(&p, f->data, f->len);
  while ((st = dsmr_parser_next(&p, &o)) != DSMR_PARSE_END) {
    if (st == DSMR_PARSE_ERROR)
      continue;
    printf("%s{\"obis\":", first ? "" : ",");
    first = 0;
    json_string(o.id);
    printf(",\"line\":%u", o.line);
    const char *name = dsmr_obis_name(&o.obis);
    if (name)
      printf(",\"name\":\"%s\"", name);
    fputs(",\"values\":[", stdout);
    for (unsigned i = 0; i < o.ngroups; i++) {
      struct dsmr_number n;
      int64_t utc;
      printf("%s{\"raw\":", i ? "," : "");
      json_string(o.groups[i]);
      if (group_time(&o, i, &utc)) {
        char iso[21];
        dsmr_format_utc(utc, iso);
        printf(",\"time\":\"%s\"", iso);
      } else if (dsmr_parse_number(o.groups[i], &n) == 0 && n.unit.len) {
        fputs(",\"number\":", stdout);
        print_number(&n);
        fputs(",\"unit\":", stdout);
        json_string(n.unit);
      }
      putchar('}');
    }
    fputs("]}", stdout);
  }
  /* Every error, in the order of the lines (the mapper lists the first
   * DSMR_MAX_LISTED_ERRORS; a telegram with more is noise). */
  fputs("],\"errors\":[", stdout);
  unsigned listed =
      t->errors < DSMR_MAX_LISTED_ERRORS ? t->errors : DSMR_MAX_LISTED_ERRORS;
  for (unsigned i = 0; i < listed; i++) {
    const struct dsmr_error *e = &t->error_list[i];
    printf("%s{\"line\":%u", i ? "," : "", e->line);
    if (e->obis[0]) {
      fputs(",\"obis\":", stdout);
      json_string((struct dsmr_span){e->obis, strlen(e->obis)});
    }
    printf(",\"error\":\"%s\"}", e->why);
  }
  if (t->errors > listed)
    printf(",{\"error\":\"%u more errors not listed\"}", t->errors - listed);
  fputs("]", stdout);
  if (t->unitless)
    printf(",\"unitless\":%u", t->unitless);
  fputs(",\"collectd\":[", stdout);
  for (unsigned i = 0; i < t->nreadings; i++) {
    const struct dsmr_reading *r = &t->readings[i];
    printf("%s{\"type\":\"%s\",\"type_instance\":\"%s\",\"value\":",
           i ? "," : "", r->type, r->type_instance);
    print_reading_value(r);
    if (r->time_kind == DSMR_AT_CAPTURE) {
      char iso[21];
      dsmr_format_utc(r->capture_time, iso);
      printf(",\"time\":\"%s\"", iso);
    }
    putchar('}');
  }
  fputs("]}\n", stdout);
}

static void list_telegram(const struct cat *c, const struct dsmr_frame *f,
                          const struct dsmr_telegram *t) {
  struct dsmr_parser p;
  struct dsmr_object o;
  enum dsmr_parse_status st;

  printf("telegram %llu: /%.*s\n", c->n, (int)t->info.header.len,
         t->info.header.ptr);
  if (f->crc == DSMR_CRC_NONE)
    printf("  CRC: none (DSMR 2.2/3 meters send none)\n");
  else
    printf("  CRC: %s (given %04X, computed %04X)\n", crc_word(f->crc),
           f->crc_given, f->crc_computed);
  dsmr_parser_init(&p, f->data, f->len);
  while ((st = dsmr_parser_next(&p, &o)) != DSMR_PARSE_END) {
    if (st == DSMR_PARSE_ERROR) {
      printf("  line %u: malformed: %s\n", p.error_line, p.error);
      continue;
    }
    const char *name = dsmr_obis_name(&o.obis);
    printf("  %-14.*s %-42s", (int)o.id.len, o.id.ptr, name ? name : "?");
    for (unsigned i = 0; i < o.ngroups; i++) {
      struct dsmr_number n;
      int64_t utc;
      if (group_time(&o, i, &utc)) {
        putchar(' ');
        print_time_human(utc);
      } else if (dsmr_parse_number(o.groups[i], &n) == 0 && n.unit.len) {
        putchar(' ');
        print_number(&n);
        printf(" %.*s", (int)n.unit.len, n.unit.ptr);
      } else {
        printf(" (%.*s)", (int)o.groups[i].len, o.groups[i].ptr);
      }
    }
    putchar('\n');
  }
  if (t->errors) {
    unsigned listed =
        t->errors < DSMR_MAX_LISTED_ERRORS ? t->errors : DSMR_MAX_LISTED_ERRORS;
    printf("  REJECTED: %u error(s)\n", t->errors);
    for (unsigned i = 0; i < listed; i++)
      printf("    line %u%s%s: %s\n", t->error_list[i].line,
             t->error_list[i].obis[0] ? " " : "", t->error_list[i].obis,
             t->error_list[i].why);
    if (t->errors > listed)
      printf("    (%u more)\n", t->errors - listed);
  }
  if (t->unitless)
    printf("  %u value(s) without a unit, read in the unit of the OBIS "
           "table\n",
           t->unitless);
  printf("  collectd values%s:\n",
         (t->errors || f->crc == DSMR_CRC_BAD) ? " (NOT dispatched)" : "");
  for (unsigned i = 0; i < t->nreadings; i++) {
    const struct dsmr_reading *r = &t->readings[i];
    printf("    %s%s%s = ", r->type, r->type_instance[0] ? "-" : "",
           r->type_instance);
    print_reading_value(r);
    if (r->time_kind == DSMR_AT_CAPTURE) {
      fputs(" at ", stdout);
      print_time_human(r->capture_time);
    }
    putchar('\n');
  }
  putchar('\n');
}

static void line_judge(struct cat *c, const struct dsmr_frame *f);

static void on_frame(struct cat *c, const struct dsmr_frame *f) {
  unsigned errors =
      dsmr_map_telegram_state(f->data, f->len, &c->telegram, &c->map_state);
  c->n++;
  if (f->crc == DSMR_CRC_BAD) {
    c->crc_errors++;
    c->failed = 1;
  } else if (errors) {
    c->malformed++;
    c->failed = 1;
  } else {
    c->ok++;
  }
  if (c->mode == OUT_JSON)
    json_telegram(f, &c->telegram);
  else if (c->mode == OUT_LIST)
    list_telegram(c, f, &c->telegram);
  if (c->mode != OUT_SUMMARY)
    fflush(stdout);
  if (c->line)
    line_judge(c, f);
}

static void feed_plain(struct cat *c, const char *p, size_t len) {
  while (len > 0) {
    enum dsmr_frame_event ev;
    struct dsmr_frame f;
    size_t used = dsmr_framer_feed(&c->framer, p, len, &ev, &f);
    p += used;
    len -= used;
    if (ev == DSMR_FRAME_TELEGRAM) {
      on_frame(c, &f);
    } else if (ev == DSMR_FRAME_TOO_LARGE) {
      c->too_large++;
      c->failed = 1;
      if (c->mode == OUT_JSON)
        printf("{\"error\":\"telegram too large\",\"max\":%zu}\n",
               c->framer.cap);
      else if (c->mode == OUT_LIST)
        printf("telegram dropped: larger than %zu bytes\n\n", c->framer.cap);
    }
  }
}

/* A frame the decoder refused, on stderr (stdout stays telegrams only). */
static void smarty_refused(struct cat *c, enum dsmr_smarty_event ev,
                           const struct dsmr_smarty_frame *f) {
  char title[17];
  for (int i = 0; i < 8; i++)
    snprintf(title + 2 * i, 3, "%02X", f->system_title[i]);
  c->failed = 1;
  if (ev == DSMR_SMARTY_AUTH_FAILED)
    fprintf(stderr,
            "dsmr-cat: Smarty frame %" PRIu32 " (system title %s): "
            "authentication failed: wrong --key or --auth-key, or a "
            "corrupted frame\n",
            f->frame_counter, title);
  else if (ev == DSMR_SMARTY_REPLAY)
    fprintf(stderr,
            "dsmr-cat: Smarty frame %" PRIu32 " (system title %s): refused "
            "as a replay: its counter is not above the last accepted %" PRIu32
            "\n",
            f->frame_counter, title, f->last_counter);
  else
    fprintf(stderr, "dsmr-cat: Smarty frame dropped: %s\n",
            dsmr_smarty_event_name(ev));
}

/* Bytes from the input: through the Smarty decoder first with --key. */
static void feed(struct cat *c, const char *p, size_t len) {
  enum dsmr_smarty_event ev;
  struct dsmr_smarty_frame f;

  if (!c->decrypt) {
    feed_plain(c, p, len);
    return;
  }
  do {
    size_t used = dsmr_smarty_feed(&c->smarty, p, len, &ev, &f);
    p += used;
    len -= used;
    if (ev == DSMR_SMARTY_PLAINTEXT)
      feed_plain(c, f.data, f.len);
    else if (ev != DSMR_SMARTY_NONE)
      smarty_refused(c, ev, &f);
  } while (len > 0 || ev != DSMR_SMARTY_NONE);
}

/* --key/--auth-key: 32 hex digits. The value is never echoed, and is
 * blanked in argv so that ps shows it only for an instant. */
static int parse_key_arg(const char *opt, char *val, uint8_t out[16]) {
  int rc = dsmr_parse_hex_key(val, out);
  memset(val, 'x', strlen(val));
  if (rc != 0)
    fprintf(stderr,
            "dsmr-cat: %s: expected 32 hex digits (the 16-byte key from "
            "the grid operator)\n",
            opt);
  return rc;
}

/* libgcrypt as an application sets it up: no secure memory (the keys sit
 * in the cipher handle, as in the plugin), then done. */
static int smarty_setup(struct cat *c, uint8_t key[16], uint8_t auth[16],
                        int have_auth, size_t max_size) {
  char err[256];
  size_t cap = DSMR_SMARTY_BUF_SIZE(max_size);
  char *buf = malloc(cap);
  int rc;

  if (!buf) {
    fprintf(stderr, "dsmr-cat: out of memory\n");
    return -1;
  }
  if (!gcry_check_version(NULL)) {
    fprintf(stderr, "dsmr-cat: libgcrypt did not initialise\n");
    free(buf);
    return -1;
  }
  gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
  gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
  rc = dsmr_smarty_init(&c->smarty, key, have_auth ? auth : NULL, buf, cap, err,
                        sizeof err);
  explicit_bzero(key, 16);
  explicit_bzero(auth, 16);
  if (rc != 0) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    free(buf);
    return -1;
  }
  c->decrypt = 1;
  return 0;
}

static int read_fd(struct cat *c, int fd, const char *name) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0)
      return 0;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "dsmr-cat: %s: %s\n", name, strerror(errno));
      return -1;
    }
    feed(c, buf, (size_t)n);
  }
}

/* --- --baudrate auto: line settings probed as the plugin does it -------- */

static struct dsmr_line_probe line_probe;
static struct dsmr_framer line_framer; /* the masked copy while probing */

static void line_reset(struct cat *c) {
  dsmr_framer_reset(&c->framer);
  dsmr_framer_reset(&line_framer);
}

static void line_lost(struct cat *c) {
  fprintf(stderr, "dsmr-cat: line %s no longer works (%s): probing again\n",
          line_probe.found,
          line_probe.lost_reason == DSMR_LINE_LOST_BAD_RUN
              ? "invalid telegrams in a row"
              : "bytes arrive but no valid telegram for a while");
  line_reset(c);
}

/* A settled line's frame (after it was printed). */
static void line_judge(struct cat *c, const struct dsmr_frame *f) {
  int valid;
  if (!c->line->settled)
    return;
  valid = dsmr_line_frame_valid(f, &c->telegram);
  if (dsmr_line_probe_frame(c->line, 0, valid, dsmr_line_now_ms()) ==
      DSMR_LINE_LOST)
    line_lost(c);
}

/* Before each chunk (n bytes) and each quiet second: 0 go on, 1 drop the
 * chunk (read with the setting just left), -1 the line cannot be set. */
static int line_tick(struct cat *c, struct dsmr_source *src, size_t n) {
  int busy = dsmr_framer_collecting(&c->framer) ||
             dsmr_framer_collecting(&line_framer);
  const struct dsmr_line_setting *l;
  char err[256];

  switch (dsmr_line_probe_tick(&line_probe, n, busy, dsmr_line_now_ms())) {
  case DSMR_LINE_SWITCH:
    break;
  case DSMR_LINE_LOST:
    line_lost(c);
    return 1;
  default:
    return 0;
  }
  line_reset(c);
  if (line_probe.windows == DSMR_LINE_SETTINGS) {
    char all[64];
    dsmr_line_settings_list(all, sizeof all);
    fprintf(stderr,
            "dsmr-cat: no valid telegram at %s yet; still trying (is the "
            "meter sending? DataRequest? an inverting adapter?)\n",
            all);
  }
  l = dsmr_line_probe_setting(&line_probe);
  if (dsmr_source_set_line(src, l->baudrate, l->databits,
                           l->parity == 'E' ? DSMR_PARITY_EVEN
                                            : DSMR_PARITY_NONE,
                           l->stopbits, err, sizeof err) != 0) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    return -1;
  }
  return 1;
}

/* A chunk while probing: only the frame that settles the line is shown,
 * then everything after it (masked when the line needs it). */
static void line_feed(struct cat *c, char *p, size_t len) {
  if (!line_probe.settled) {
    enum dsmr_line_event ev;
    struct dsmr_frame f;
    size_t n =
        dsmr_line_probe_feed(&line_probe, &c->framer, &line_framer, p, len,
                             &c->telegram, dsmr_line_now_ms(), &ev, &f);
    if (ev != DSMR_LINE_FOUND)
      return;
    p += n;
    len -= n;
    fprintf(stderr, "dsmr-cat: line detected: %s%s\n", line_probe.found,
            line_probe.masked
                ? " (read as 8N1 with bit 7, the parity bit, cleared)"
                : "");
    on_frame(c, &f);
  } else if (dsmr_line_probe_mask(&line_probe)) {
    dsmr_line_mask(p, len);
  }
  feed(c, p, len);
}

/* Ctrl-C while reading live: the source's waits watch this pipe. */
static int wake_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  (void)sig;
  ssize_t n = write(wake_pipe[1], "x", 1);
  (void)n;
}

/* Read a device or TCP peer until Ctrl-C, `count` telegrams, or a loss. */
static int read_live(struct cat *c, const struct dsmr_source_config *cfg,
                     unsigned long long count) {
  struct dsmr_source src;
  char err[512], what[300], buf[4096];
  int rc = 0;

  dsmr_source_describe(cfg, what, sizeof what);
  if (pipe(wake_pipe) != 0) {
    fprintf(stderr, "dsmr-cat: pipe: %s\n", strerror(errno));
    return -1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  dsmr_source_init(&src, cfg);
  if (cfg->line_auto) {
    const struct dsmr_line_setting *l;
    char *lbuf = malloc(c->framer.cap ? c->framer.cap : 1);
    if (!lbuf) {
      fprintf(stderr, "dsmr-cat: out of memory\n");
      return -1;
    }
    dsmr_framer_init(&line_framer, lbuf, c->framer.cap);
    dsmr_line_probe_init(&line_probe, dsmr_line_now_ms());
    l = dsmr_line_probe_setting(&line_probe);
    src.cfg.baudrate = l->baudrate;
    src.cfg.databits = l->databits;
    src.cfg.parity = DSMR_PARITY_NONE;
    src.cfg.stopbits = l->stopbits;
  }
  int st = dsmr_source_open(&src, wake_pipe[0], 10000, err, sizeof err);
  if (st == -1) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    return -1;
  }
  if (st == 0) {
    if (src.data_request_note[0])
      fprintf(stderr, "dsmr-cat: %s\n", src.data_request_note);
    fprintf(stderr, "dsmr-cat: reading %s (Ctrl-C to stop)\n", what);
    if (cfg->line_auto) {
      char all[64];
      dsmr_line_settings_list(all, sizeof all);
      fprintf(stderr, "dsmr-cat: probing %s, %d s each\n", all,
              DSMR_LINE_WINDOW_MS / 1000);
      dsmr_line_probe_restart(&line_probe, dsmr_line_now_ms());
      c->line = &line_probe;
    }
  }
  while (st == 0 && (count == 0 || c->n + c->too_large < count)) {
    ssize_t n = dsmr_source_read(&src, buf, sizeof buf, wake_pipe[0], 1000, err,
                                 sizeof err);
    if (n < 0) {
      fprintf(stderr, "dsmr-cat: %s\n", err);
      rc = -1;
      break;
    }
    if (cfg->line_auto) {
      int skip = line_tick(c, &src, (size_t)n);
      if (skip < 0) {
        rc = -1;
        break;
      }
      if (skip)
        n = 0; /* dropped: but Ctrl-C is still looked at */
    }
    if (n == 0) {
      char x;
      /* a wake-up (Ctrl-C) or just a quiet second? */
      if (fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) == 0 &&
          read(wake_pipe[0], &x, 1) == 1)
        break;
      continue;
    }
    if (cfg->line_auto)
      line_feed(c, buf, (size_t)n);
    else
      feed(c, buf, (size_t)n);
  }
  dsmr_source_close(&src);
  if (cfg->line_auto) {
    c->line = NULL;
    free(line_framer.buf);
  }
  return rc;
}

static int parse_int_arg(const char *opt, const char *val, long lo, long hi,
                         long *out) {
  char *end;
  long v = strtol(val, &end, 10);
  if (*val == 0 || *end || v < lo || v > hi) {
    fprintf(stderr, "dsmr-cat: %s: expected %ld..%ld, got \"%s\"\n", opt, lo,
            hi, val);
    return -1;
  }
  *out = v;
  return 0;
}

/* One of `words` (NULL-terminated, in the order of the enum it stands
 * for), case-insensitively: *out is its index. */
static int parse_word_arg(const char *opt, const char *val,
                          const char *const *words, long *out) {
  for (long k = 0; words[k]; k++) {
    if (strcasecmp(val, words[k]) == 0) {
      *out = k;
      return 0;
    }
  }
  fprintf(stderr, "dsmr-cat: %s: expected", opt);
  for (long k = 0; words[k]; k++)
    fprintf(stderr, "%s %s", k ? "," : "", words[k]);
  fprintf(stderr, "; got \"%s\"\n", val);
  return -1;
}

static void usage(FILE *to) {
  fputs("usage: dsmr-cat [--json | --summary] [--max-size BYTES] [FILE...]\n"
        "       dsmr-cat [...] --device PATH [--baudrate N|auto] [--databits "
        "7|8]\n"
        "                [--parity none|even|odd] [--data-request rts|dtr]\n"
        "       dsmr-cat [...] --host HOST --port PORT\n"
        "       dsmr-cat --key HEX [--auth-key HEX] [...]  (Luxembourg)\n"
        "Reads P1 telegrams from FILEs (standard input when none or \"-\"),\n"
        "a serial device or pseudo-terminal, or a TCP peer, and prints each\n"
        "one: header, CRC verdict, every object with its name, value, unit\n"
        "and time, and the values collectd would get.\n"
        "  --json        one JSON object per telegram per line\n"
        "  --summary     one line of counts (telegrams, ok, CRC errors,\n"
        "                too large, malformed)\n"
        "  --max-size N  largest telegram accepted (default 8192)\n"
        "  --count N     stop after N telegrams (live sources)\n"
        "  --device P    read a serial device (DSMR 4/5: 115200 8N1, the\n"
        "                default; DSMR 2.2/3: --baudrate 9600 --databits 7\n"
        "                --parity even)\n"
        "  --baudrate auto  probe 115200 8N1, 115200 7E1 and 9600 7E1 (12 s\n"
        "                each) and say on stderr which one works\n"
        "  --host H --port P  read a P1-to-network dongle or ser2net\n"
        "  --key HEX     decrypt a Luxembourg Smarty stream with this key\n"
        "                (32 hex digits, from the grid operator)\n"
        "  --auth-key HEX  its authentication key (default: the Luxembourg\n"
        "                one, 00112233445566778899AABBCCDDEEFF)\n"
        "Times are UTC, with the host's local time beside them (--json:\n"
        "UTC only).\n"
        "Exit status: 0 all telegrams ok (or without CRC), 1 some failed or\n"
        "no telegram at all, 2 usage or I/O error.\n",
        to);
}

int main(int argc, char **argv) {
  static struct cat c; /* large: keep it off the stack */
  size_t max_size = DSMR_DEFAULT_MAX_TELEGRAM;
  int i, nfiles = 0, io_error = 0;

  struct dsmr_source_config live = {.kind = DSMR_SOURCE_DEVICE,
                                    .baudrate = 115200,
                                    .databits = 8,
                                    .parity = DSMR_PARITY_NONE,
                                    .stopbits = 1};
  int have_live = 0;
  long v;
  unsigned long long count = 0;
  const char *line_opt = NULL; /* --databits or --parity */
  uint8_t key[16], auth_key[16];
  int have_key = 0, have_auth = 0;

  c.mode = OUT_LIST;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--device") == 0 && val) {
      snprintf(live.device, sizeof live.device, "%s", val);
      live.kind = DSMR_SOURCE_DEVICE;
      have_live = 1;
      i++;
    } else if (strcmp(a, "--host") == 0 && val) {
      snprintf(live.host, sizeof live.host, "%s", val);
      live.kind = DSMR_SOURCE_TCP;
      have_live = 1;
      i++;
    } else if (strcmp(a, "--port") == 0 && val) {
      snprintf(live.port, sizeof live.port, "%s", val);
      i++;
    } else if (strcmp(a, "--baudrate") == 0 && val) {
      if (strcasecmp(val, "auto") == 0)
        live.line_auto = 1;
      else if (parse_int_arg(a, val, 50, 4000000, &v) != 0)
        return 2;
      else
        live.baudrate = (int)v;
      i++;
    } else if (strcmp(a, "--databits") == 0 && val) {
      line_opt = a;
      if (parse_int_arg(a, val, 7, 8, &v) != 0)
        return 2;
      live.databits = (int)v;
      i++;
    } else if (strcmp(a, "--parity") == 0 && val) {
      line_opt = a;
      static const char *const parities[] = {"none", "even", "odd", NULL};
      if (parse_word_arg(a, val, parities, &v) != 0)
        return 2;
      live.parity = (enum dsmr_parity)v;
      i++;
    } else if (strcmp(a, "--data-request") == 0 && val) {
      static const char *const lines[] = {"none", "rts", "dtr", NULL};
      if (parse_word_arg(a, val, lines, &v) != 0)
        return 2;
      live.data_request = (enum dsmr_data_request)v;
      i++;
    } else if (strcmp(a, "--count") == 0 && val) {
      if (parse_int_arg(a, val, 1, 2000000000, &v) != 0)
        return 2;
      count = (unsigned long long)v;
      i++;
    } else if (strcmp(a, "--key") == 0 && val) {
      if (parse_key_arg(a, argv[i + 1], key) != 0)
        return 2;
      have_key = 1;
      i++;
    } else if (strcmp(a, "--auth-key") == 0 && val) {
      if (parse_key_arg(a, argv[i + 1], auth_key) != 0)
        return 2;
      have_auth = 1;
      i++;
    } else if (strcmp(a, "--json") == 0) {
      c.mode = OUT_JSON;
    } else if (strcmp(a, "--summary") == 0) {
      c.mode = OUT_SUMMARY;
    } else if (strcmp(a, "--max-size") == 0 && val) {
      if (parse_int_arg(a, val, 16, 1 << 20, &v) != 0)
        return 2;
      max_size = (size_t)v;
      i++;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (a[0] == '-' && a[1] != 0) {
      fprintf(stderr, "dsmr-cat: unknown option \"%s\"\n", a);
      usage(stderr);
      return 2;
    } else {
      break;
    }
  }

  if (live.line_auto &&
      (line_opt || live.kind == DSMR_SOURCE_TCP || have_key || !have_live)) {
    fprintf(stderr, "dsmr-cat: --baudrate auto %s\n",
            line_opt   ? "probes data bits and parity too: leave out "
                         "--databits and --parity"
            : have_key ? "cannot judge encrypted (binary) Smarty frames; "
                         "Smarty meters send 115200 8N1, the default"
                       : "needs --device (a network dongle sets the serial "
                         "line itself)");
    return 2;
  }
  char *buf = malloc(max_size);
  if (!buf) {
    fprintf(stderr, "dsmr-cat: out of memory\n");
    return 2;
  }
  dsmr_framer_init(&c.framer, buf, max_size);
  if (have_auth && !have_key) {
    fprintf(stderr, "dsmr-cat: --auth-key needs --key\n");
    free(buf);
    return 2;
  }
  if (have_key && smarty_setup(&c, key, auth_key, have_auth, max_size) != 0) {
    free(buf);
    return 2;
  }

  if (have_live && i < argc) {
    fprintf(stderr, "dsmr-cat: give files or a live source, not both\n");
    free(buf);
    return 2;
  }
  if (have_live && live.kind == DSMR_SOURCE_TCP && !live.port[0]) {
    fprintf(stderr, "dsmr-cat: --host needs --port\n");
    free(buf);
    return 2;
  }
  if (have_live) {
    nfiles = 1;
    io_error = read_live(&c, &live, count) != 0;
  }
  for (; i < argc; i++) {
    const char *name = argv[i];
    nfiles++;
    if (strcmp(name, "-") == 0) {
      io_error |= read_fd(&c, 0, "standard input") != 0;
      continue;
    }
    int fd = open(name, O_RDONLY);
    if (fd < 0) {
      fprintf(stderr, "dsmr-cat: %s: %s\n", name, strerror(errno));
      io_error = 1;
      continue;
    }
    io_error |= read_fd(&c, fd, name) != 0;
    close(fd);
  }
  if (nfiles == 0)
    io_error |= read_fd(&c, 0, "standard input") != 0;
  /* The end of the input ends a telegram whose CRC line is cut short: a
   * DSMR 2.2/3 telegram whose '!' is the last byte of a file, or a CRC of
   * fewer than 4 digits without its CR LF. */
  if (!have_live && dsmr_framer_collecting(&c.framer))
    feed_plain(&c, "\r\n", 2);
  if (c.n + c.too_large == 0 && !io_error) {
    fprintf(stderr, "dsmr-cat: no telegram in the input (a telegram is "
                    "'/' header ... '!' [CRC])\n");
    c.failed = 1;
  }

  if (c.mode == OUT_SUMMARY)
    printf("telegrams %llu, ok %llu, CRC errors %llu, too large %llu, "
           "malformed %llu\n",
           c.n + c.too_large, c.ok, c.crc_errors, c.too_large, c.malformed);
  if (c.decrypt) {
    char *sbuf = c.smarty.buf;
    if (c.mode == OUT_SUMMARY)
      printf("Smarty frames %llu, decrypted %llu, authentication failed "
             "%llu, replayed %llu, dropped %llu\n",
             (unsigned long long)(c.smarty.stats.frames_ok +
                                  c.smarty.stats.auth_failures +
                                  c.smarty.stats.replays +
                                  c.smarty.stats.malformed +
                                  c.smarty.stats.too_large),
             (unsigned long long)c.smarty.stats.frames_ok,
             (unsigned long long)c.smarty.stats.auth_failures,
             (unsigned long long)c.smarty.stats.replays,
             (unsigned long long)(c.smarty.stats.malformed +
                                  c.smarty.stats.too_large));
    dsmr_smarty_free(&c.smarty);
    free(sbuf);
  }
  free(buf);
  if (io_error)
    return 2;
  return c.failed ? 1 : 0;
}
