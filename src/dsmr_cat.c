/* dsmr-cat: show what a meter says. Reads P1 byte streams from files (or
 * stdin) and prints every telegram as a readable listing, as JSON lines, or
 * as one summary line of counts. It runs the same path as the plugin's
 * reader (frame, CRC, parse, map), short of dispatching. */
#include "han_layouts.h"
#include "input_chain.h"
#include "mapper.h"
#include "number.h"
#include "parser.h"
#include "smarty.h"
#include "source.h"
#include "timestamp.h"
#include "tz_load.h"

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
  /* the same chain as the plugin's: --baudrate auto (live), --key */
  struct dsmr_input input;
  size_t max_size;
  struct dsmr_telegram telegram;
  struct dsmr_map_state map_state; /* M-Bus names across telegrams */
  unsigned long long n, ok, crc_errors, too_large, malformed;
  int failed; /* exit status 1 */
  int decrypt;
  /* The chain is built from the first chunk read (built): without --key it
   * reads DSMR and HAN alike (Protocol "auto"); with --key, a stream that
   * starts with M-Bus frames is HAN, anything else DSMR (Smarty). */
  int built, line_probe, have_key, have_auth, no_auth_check;
  /* --energy-scaler N: the plugin's EnergyScaler (HAN lists without a
   * scaler_unit) */
  int energy_scaler_set, energy_scaler;
  uint8_t key[16], auth[16];
  /* --timezone, or the host's zone: HAN clocks without their offset */
  struct dsmr_tz tz;
  char tz_note[700]; /* the host's zone did not read: said once, if used */
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

static void json_tail(const struct dsmr_telegram *t);

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
  json_tail(t);
}

/* "],errors":[...],"collectd":[...]} and the line end: the same for DSMR
 * and HAN. */
static void json_tail(const struct dsmr_telegram *t) {
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
}

/* ---- HAN (DLMS/COSEM) ---------------------------------------------------- */

/* "A-B:C.D.E" (F left out when 255, as DSMR writes them). */
static void han_obis(const struct dsmr_obis *o, char buf[24]) {
  size_t n;
  dsmr_han_obis_format(o, buf);
  n = strlen(buf);
  if (n > 4 && strcmp(buf + n - 4, ".255") == 0)
    buf[n - 4] = 0;
}

/* The list id, or the system title in hex, or "". */
static void han_header(const struct dsmr_han_list *l, char *buf, size_t size) {
  buf[0] = 0;
  if (l->list_id) {
    snprintf(buf, size, "%.*s", (int)l->list_id_len, (const char *)l->list_id);
  } else if (l->has_system_title) {
    for (int i = 0; i < 8; i++)
      snprintf(buf + 2 * i, size - 2 * i, "%02X", l->system_title[i]);
  }
}

static int printable(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x20 || p[i] > 0x7E)
      return 0;
  return n > 0;
}

static void json_bytes(const uint8_t *p, size_t n, int hex) {
  if (!hex) {
    json_string((struct dsmr_span){(const char *)p, n});
    return;
  }
  putchar('"');
  for (size_t i = 0; i < n; i++)
    printf("%02x", p[i]);
  putchar('"');
}

/* A HAN date-time as the meter's wall clock with the offset it got:
 * "2024-06-28T10:43:43+02:00", the offset being the meter's own deviation
 * ("meter") or, for a clock without its offset (deviation unspecified,
 * Aidon Norway's 0: dsmr_han_clock_is_local), the --timezone's
 * ("timezone"); without an offset when the zone cannot say ("gap": no
 * such local time, "ambiguous": the repeated hour; the clock is then not
 * used) or the deviation is out of range ("invalid"). Returns that word. */
static const char *han_time(const struct cat *c, const struct dsmr_han_list *l,
                            const struct dsmr_cosem_datetime *dt,
                            char buf[40]) {
  int64_t local, utc;
  struct dsmr_cosem_datetime bare = *dt;
  int rc;

  bare.deviation = DSMR_COSEM_DEVIATION_UNSPECIFIED;
  if (dsmr_han_clock_is_local(l, dt)) /* Aidon Norway's deviation 0 too */
    dt = &bare;
  rc = dsmr_cosem_datetime_utc(dt, &local);
  dsmr_cosem_datetime_format(&bare, buf);
  if (rc == 0) {
    dsmr_cosem_datetime_format(dt, buf);
    return "meter";
  }
  if (rc < 0)
    return "invalid";
  switch (dsmr_tz_local_to_utc(&c->tz, local, &utc)) {
  case DSMR_TZ_OK: {
    int64_t off = local - utc, a = off < 0 ? -off : off;
    size_t n = strlen(buf);
    snprintf(buf + n, 40 - n, "%c%02d:%02d", off < 0 ? '-' : '+',
             (int)(a / 3600), (int)(a / 60 % 60));
    return "timezone";
  }
  case DSMR_TZ_GAP:
    return "gap";
  case DSMR_TZ_AMBIGUOUS:
    break;
  }
  return "ambiguous";
}

static void json_han(const struct cat *c, const struct dsmr_han_list *l,
                     const struct dsmr_telegram *t) {
  char hdr[64], obis[24], num[48];
  int first = 1;

  han_header(l, hdr, sizeof hdr);
  fputs("{\"crc\":\"ok\",\"header\":", stdout);
  json_string((struct dsmr_span){hdr, strlen(hdr)});
  printf(",\"layout\":\"%s\"", dsmr_han_layout_name(l->layout));
  if (t->info.has_meter_time) { /* what the storing rules get */
    char iso[21];
    dsmr_format_utc(t->info.meter_time, iso);
    printf(",\"meter_time\":\"%s\"", iso);
  }
  fputs(",\"objects\":[", stdout);
  for (unsigned i = 0; i < l->nvalues; i++) {
    const struct dsmr_han_value *v = &l->values[i];
    if (!v->has_obis)
      continue;
    han_obis(&v->obis, obis);
    printf("%s{\"obis\":\"%s\"", first ? "" : ",", obis);
    first = 0;
    const char *name = dsmr_obis_name(&v->obis);
    if (name)
      printf(",\"name\":\"%s\"", name);
    fputs(",\"values\":[{", stdout);
    switch (v->type) {
    case DSMR_HAN_NUMBER: {
      const char *unit = dsmr_dlms_unit_name(v->unit);
      printf("\"raw\":\"%" PRId64 "\",\"number\":%s", v->raw,
             dsmr_han_value_decimal(v, num, sizeof num));
      if (unit && unit[0])
        printf(",\"unit\":\"%s\"", unit);
      break;
    }
    case DSMR_HAN_STRING:
      fputs("\"raw\":", stdout);
      json_bytes(v->bytes, v->len, 0);
      break;
    case DSMR_HAN_OCTETS: /* an id in ASCII as text, anything else hex */
      fputs("\"raw\":", stdout);
      json_bytes(v->bytes, v->len, !printable(v->bytes, v->len));
      break;
    case DSMR_HAN_DATETIME: {
      char when[40];
      const char *from = han_time(c, l, &v->dt, when);
      fputs("\"raw\":", stdout);
      json_bytes(v->bytes, v->bytes ? v->len : 0, 1);
      printf(",\"time\":\"%s\",\"offset_from\":\"%s\"", when, from);
      break;
    }
    default:
      fputs("\"raw\":", stdout);
      json_bytes(v->bytes, v->bytes ? v->len : 0, 1);
      break;
    }
    fputs("}]}", stdout);
  }
  json_tail(t);
}

static void list_han(const struct cat *c, const struct dsmr_han_list *l,
                     const struct dsmr_telegram *t) {
  char hdr[64], obis[24], num[48];

  han_header(l, hdr, sizeof hdr);
  printf("message %llu: %s (HAN, %s)\n  check: ok\n", c->n, hdr,
         dsmr_han_layout_name(l->layout));
  for (unsigned i = 0; i < l->nvalues; i++) {
    const struct dsmr_han_value *v = &l->values[i];
    const char *name = v->has_obis ? dsmr_obis_name(&v->obis) : NULL;
    if (v->has_obis)
      han_obis(&v->obis, obis);
    else
      snprintf(obis, sizeof obis, "#%u", i);
    printf("  %-14s %-42s", obis, name ? name : "?");
    if (v->type == DSMR_HAN_NUMBER) {
      const char *unit = dsmr_dlms_unit_name(v->unit);
      printf(" %s%s%s", dsmr_han_value_decimal(v, num, sizeof num),
             unit && unit[0] ? " " : "", unit ? unit : "");
    } else if (v->type == DSMR_HAN_DATETIME) {
      char when[40];
      const char *from = han_time(c, l, &v->dt, when);
      printf(" %s (%s)", when,
             strcmp(from, "meter") == 0      ? "the meter's offset"
             : strcmp(from, "timezone") == 0 ? "offset from the time zone"
             : strcmp(from, "gap") == 0
                 ? "no such local time in the zone: clock not used"
             : strcmp(from, "ambiguous") == 0
                 ? "twice in the zone, the repeated hour: clock not used"
                 : "deviation out of range: clock not used");
    } else if (v->type == DSMR_HAN_STRING ||
               (v->type == DSMR_HAN_OCTETS && printable(v->bytes, v->len))) {
      printf(" (%.*s)", (int)v->len, (const char *)v->bytes);
    } else {
      fputs(" (", stdout);
      for (size_t k = 0; v->bytes && k < v->len; k++)
        printf("%02x", v->bytes[k]);
      putchar(')');
    }
    putchar('\n');
  }
  if (t->errors)
    printf("  REJECTED: %u error(s); first%s%s: %s\n", t->errors,
           t->first_error_obis[0] ? " at " : "", t->first_error_obis,
           t->first_error ? t->first_error : "?");
  printf("  collectd values%s:\n", t->errors ? " (NOT dispatched)" : "");
  for (unsigned i = 0; i < t->nreadings; i++) {
    const struct dsmr_reading *r = &t->readings[i];
    printf("    %s%s%s = ", r->type, r->type_instance[0] ? "-" : "",
           r->type_instance);
    print_reading_value(r);
    putchar('\n');
  }
  putchar('\n');
}

static void on_han(struct cat *c, const struct dsmr_input_out *o) {
  if (c->tz_note[0] && o->list->has_clock &&
      dsmr_han_clock_is_local(o->list, &o->list->clock)) {
    fputs(c->tz_note, stderr);
    c->tz_note[0] = 0;
  }
  c->n++;
  if (o->han_errors) {
    c->malformed++;
    c->failed = 1;
  } else {
    c->ok++;
  }
  if (c->mode == OUT_JSON)
    json_han(c, o->list, o->telegram);
  else if (c->mode == OUT_LIST)
    list_han(c, o->list, o->telegram);
  if (c->mode != OUT_SUMMARY)
    fflush(stdout);
}

/* A HAN frame that failed its check (FCS, M-Bus checksum, GCM tag): a
 * frame with the verdict "bad". */
static void han_bad(struct cat *c, const char *why) {
  c->n++;
  c->crc_errors++;
  c->failed = 1;
  if (c->mode == OUT_JSON)
    printf("{\"crc\":\"bad\",\"error\":\"%s\"}\n", why);
  else if (c->mode == OUT_LIST)
    printf("message %llu: REJECTED: %s\n\n", c->n, why);
  if (c->mode != OUT_SUMMARY)
    fflush(stdout);
}

/* A Smarty frame the chain refused, on stderr (stdout stays telegrams
 * only). */
static void smarty_refused(struct cat *c, const struct dsmr_input_out *o) {
  const struct dsmr_smarty_frame *f = &o->envelope;
  char title[17];
  for (int i = 0; i < 8; i++)
    snprintf(title + 2 * i, 3, "%02X", f->system_title[i]);
  c->failed = 1;
  if (o->han) {
    if (o->ev == DSMR_INPUT_REPLAY)
      fprintf(stderr,
              "dsmr-cat: DLMS frame %" PRIu32 " (system title %s): refused "
              "as a replay: its counter is not above the last accepted "
              "%" PRIu32 "\n",
              f->frame_counter, title, f->last_counter);
    else if (o->ev == DSMR_INPUT_DECRYPT_FAILED)
      fprintf(stderr,
              "dsmr-cat: DLMS frame %" PRIu32 " (system title %s): "
              "decryption failed: wrong --key or --auth-key, or a "
              "corrupted frame\n",
              f->frame_counter, title);
    else
      fprintf(stderr, "dsmr-cat: DLMS frame dropped: %s\n",
              o->detail ? o->detail : dsmr_input_event_name(o->ev));
    return;
  }
  if (o->ev == DSMR_INPUT_DECRYPT_FAILED)
    fprintf(stderr,
            "dsmr-cat: Smarty frame %" PRIu32 " (system title %s): "
            "authentication failed: wrong --key or --auth-key, or a "
            "corrupted frame\n",
            f->frame_counter, title);
  else if (o->ev == DSMR_INPUT_REPLAY)
    fprintf(stderr,
            "dsmr-cat: Smarty frame %" PRIu32 " (system title %s): refused "
            "as a replay: its counter is not above the last accepted %" PRIu32
            "\n",
            f->frame_counter, title, f->last_counter);
  else
    fprintf(stderr, "dsmr-cat: Smarty frame dropped: %s\n",
            dsmr_smarty_event_name(o->ev == DSMR_INPUT_ENVELOPE_TOO_LARGE
                                       ? DSMR_SMARTY_TOO_LARGE
                                       : DSMR_SMARTY_MALFORMED));
}

/* --baudrate auto: the probe wants the device at its next setting. */
static int line_switch(struct dsmr_source *src,
                       const struct dsmr_line_probe *l) {
  const struct dsmr_line_setting *s = dsmr_line_probe_setting(l);
  char err[256];

  if (l->windows == l->nsettings) {
    char all[96];
    dsmr_line_probe_list(l, all, sizeof all);
    fprintf(stderr,
            "dsmr-cat: no valid %s at %s yet; still trying (is the "
            "meter sending? DataRequest? an inverting adapter?)\n",
            dsmr_line_probe_wants(l), all);
  }
  if (src && dsmr_source_set_line(src, s->baudrate, s->databits,
                                  s->parity == 'E' ? DSMR_PARITY_EVEN
                                                   : DSMR_PARITY_NONE,
                                  s->stopbits, err, sizeof err) != 0) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    return -1;
  }
  return 0;
}

/* What came out of the chain, to stdout and stderr. src: the live source
 * (for line switches), or NULL. Returns -1 when the line could not be
 * set. */
static int drain(struct cat *c, struct dsmr_source *src) {
  struct dsmr_input_out o = {0};
  enum dsmr_input_event ev;
  int rc = 0;

  while ((ev = dsmr_input_next(&c->input, &o)) != DSMR_INPUT_NONE) {
    switch (ev) {
    case DSMR_INPUT_FRAME:
      on_frame(c, &o.frame);
      break;
    case DSMR_INPUT_TOO_LARGE:
      c->too_large++;
      c->failed = 1;
      if (c->mode == OUT_JSON)
        printf("{\"error\":\"telegram too large\",\"max\":%zu}\n", c->max_size);
      else if (c->mode == OUT_LIST)
        printf("telegram dropped: larger than %zu bytes\n\n", c->max_size);
      break;
    case DSMR_INPUT_LINE_FOUND:
      fprintf(stderr, "dsmr-cat: line detected: %s%s\n", o.line->found,
              o.line->masked
                  ? " (read as 8N1 with bit 7, the parity bit, cleared)"
                  : "");
      break;
    case DSMR_INPUT_LINE_SWITCH:
      if (rc == 0)
        rc = line_switch(src, o.line);
      break;
    case DSMR_INPUT_LINE_LOST:
      fprintf(stderr, "dsmr-cat: line %s no longer works (%s): probing again\n",
              o.line->found,
              o.line->lost_reason == DSMR_LINE_LOST_BAD_RUN
                  ? "invalid telegrams in a row"
                  : "bytes arrive but no valid telegram for a while");
      break;
    case DSMR_INPUT_DECRYPT_FAILED:
      if (o.han)
        han_bad(c, "decryption failed (GCM tag or plaintext)");
      smarty_refused(c, &o);
      break;
    case DSMR_INPUT_REPLAY:
    case DSMR_INPUT_ENVELOPE_TOO_LARGE:
    case DSMR_INPUT_ENVELOPE_MALFORMED:
      smarty_refused(c, &o);
      break;
    case DSMR_INPUT_HAN_TELEGRAM:
      on_han(c, &o);
      break;
    case DSMR_INPUT_HAN_FRAME_CHECK:
      han_bad(c, o.detail ? o.detail : "frame check failed");
      break;
    case DSMR_INPUT_HAN_MISSING_SEGMENT:
    case DSMR_INPUT_HAN_BLOCK_REFUSED:
    case DSMR_INPUT_HAN_TOO_LARGE:
    case DSMR_INPUT_HAN_PARSE_ERROR:
    case DSMR_INPUT_HAN_NO_KEY:
      c->failed = 1;
      fprintf(stderr, "dsmr-cat: HAN message refused: %s%s%s\n",
              dsmr_input_event_name(ev), o.detail ? ": " : "",
              o.detail ? o.detail : "");
      break;
    case DSMR_INPUT_HAN_UNCHECKED:
      fprintf(stderr, "dsmr-cat: DLMS frames carry a GCM tag but no "
                      "--auth-key was given: tag NOT checked\n");
      break;
    default: /* cut short (the next telegram tells), decryption works,
                the protocol found */
      break;
    }
  }
  return rc;
}

/* Bytes from the input (len 0: a quiet second of a live source) through
 * the chain. */
static int input_build(struct cat *c, const char *p, size_t len);

static int feed(struct cat *c, struct dsmr_source *src, char *p, size_t len) {
  if (!c->built) {
    if (len == 0)
      return 0;
    if (input_build(c, p, len) != 0)
      return -2;
  }
  dsmr_input_feed(&c->input, p, len, dsmr_now_ms());
  return drain(c, src);
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

/* With --key: whether the stream starts with an M-Bus long frame
 * (68 L L 68: 2) or an HDLC frame (7E A?: 1) rather than DSMR text or a
 * bare Smarty envelope (DB 08: 0). */
static int starts_han(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '/' || p[i] == 0xDB)
      return 0;
    if (p[i] == 0x7E && i + 1 < n && (p[i + 1] & 0xF0) == 0xA0)
      return 1;
    if (p[i] == 0x68 && i + 3 < n && p[i + 1] == p[i + 2] && p[i + 3] == 0x68 &&
        p[i + 1] >= 3)
      return 1;
  }
  return 0;
}

/* The chain, as the plugin builds it, from the first bytes read (see
 * struct cat). With --key, libgcrypt as an application sets it up first:
 * no secure memory (the keys sit in the cipher handle, as in the plugin),
 * then done. */
static const uint8_t lux_ak[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                   0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB,
                                   0xCC, 0xDD, 0xEE, 0xFF};

static void chain_config(const struct cat *c, int protocol,
                         struct dsmr_input_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->max_telegram = c->max_size;
  cfg->check_crc = 1;
  cfg->line_probe = c->line_probe;
  cfg->decryption_key = c->have_key ? c->key : NULL;
  cfg->auth_key = c->have_auth ? c->auth : NULL;
  cfg->protocol = protocol;
  cfg->timezone = &c->tz;
  cfg->han_energy_scaler_set = c->energy_scaler_set;
  cfg->han_energy_scaler = c->energy_scaler;
  /* DLMS frames with --key but no --auth-key: the tag checked with the
   * Luxembourg default (as for Smarty), unless --no-auth-check */
  if (protocol == DSMR_INPUT_PROTO_HAN && !c->have_auth) {
    if (c->no_auth_check)
      cfg->han_allow_unchecked = 1;
    else
      cfg->auth_key = lux_ak;
  }
}

/* With --key, a stream of HDLC frames is a Luxembourg Smarty (DSMR inside)
 * or a HAN meter: whether the first chunk read as HAN gives a decoded
 * list. */
static int trial_han(const struct cat *c, const char *p, size_t len) {
  struct dsmr_input *in = calloc(1, sizeof(*in));
  struct dsmr_input_config cfg;
  struct dsmr_input_out o = {0};
  enum dsmr_input_event ev;
  char err[256], *copy = malloc(len ? len : 1);
  int lists = 0;

  chain_config(c, DSMR_INPUT_PROTO_HAN, &cfg);
  if (in && copy &&
      dsmr_input_init(in, &cfg, dsmr_now_ms(), err, sizeof err) == 0) {
    memcpy(copy, p, len);
    dsmr_input_feed(in, copy, len, dsmr_now_ms());
    while ((ev = dsmr_input_next(in, &o)) != DSMR_INPUT_NONE)
      lists += ev == DSMR_INPUT_HAN_TELEGRAM;
  }
  if (in)
    dsmr_input_free(in);
  free(in);
  free(copy);
  return lists > 0;
}

/* The chain, as the plugin builds it, from the first bytes read (see
 * struct cat). With --key, libgcrypt as an application sets it up first:
 * no secure memory (the keys sit in the cipher handle, as in the plugin),
 * then done. */
static int input_build(struct cat *c, const char *p, size_t len) {
  char err[256];
  struct dsmr_input_config cfg;
  int rc, protocol = DSMR_INPUT_PROTO_DSMR;

  if (c->have_key) {
    if (!gcry_check_version(NULL)) {
      fprintf(stderr, "dsmr-cat: libgcrypt did not initialise\n");
      return -1;
    }
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
  }
  if (!c->have_key) /* --baudrate auto: the DSMR, then the HAN settings */
    protocol = DSMR_INPUT_PROTO_AUTO;
  else if (c->line_probe)
    /* --baudrate auto --key, as the plugin's Protocol "han" with Baudrate
     * "auto": the HAN settings (2400 8E1, 2400 8N1, 115200 8N1), judged by
     * the HDLC FCS or M-Bus checksum, or for bare envelopes by the CRC of
     * the DSMR telegram inside; never by the decryption */
    protocol = DSMR_INPUT_PROTO_HAN;
  else if (starts_han((const uint8_t *)p, len) &&
           (starts_han((const uint8_t *)p, len) == 2 || trial_han(c, p, len)))
    protocol = DSMR_INPUT_PROTO_HAN; /* M-Bus: never Smarty */
  chain_config(c, protocol, &cfg);
  rc = dsmr_input_init(&c->input, &cfg, dsmr_now_ms(), err, sizeof err);
  explicit_bzero(c->key, 16);
  explicit_bzero(c->auth, 16);
  c->built = 1;
  if (rc != 0) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    return -1;
  }
  c->decrypt = c->have_key;
  return 0;
}

/* --baudrate auto builds the chain at once (the line setting to open the
 * device with comes from it); else the first chunk read does. */
static int input_setup(struct cat *c, int line_probe, uint8_t key[16],
                       uint8_t auth[16], int have_key, int have_auth) {
  c->line_probe = line_probe;
  c->have_key = have_key;
  c->have_auth = have_auth;
  memcpy(c->key, key, 16);
  memcpy(c->auth, auth, 16);
  explicit_bzero(key, 16);
  explicit_bzero(auth, 16);
  if (line_probe)
    return input_build(c, "", 0);
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
    if (feed(c, NULL, buf, (size_t)n) == -2)
      return -1;
  }
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
  const struct dsmr_line_setting *l = dsmr_input_line(&c->input);
  if (l) { /* --baudrate auto: the probe's setting */
    src.cfg.baudrate = l->baudrate;
    src.cfg.databits = l->databits;
    src.cfg.parity = l->parity == 'E' ? DSMR_PARITY_EVEN : DSMR_PARITY_NONE;
    src.cfg.stopbits = l->stopbits;
  }
  int st = dsmr_source_open(&src, wake_pipe[0], 10000, err, sizeof err);
  if (st == -1) {
    fprintf(stderr, "dsmr-cat: %s\n", err);
    dsmr_source_free(&src); /* a name lookup may still be pending */
    return -1;
  }
  if (st == 0) {
    if (src.data_request_note[0])
      fprintf(stderr, "dsmr-cat: %s\n", src.data_request_note);
    fprintf(stderr, "dsmr-cat: reading %s (Ctrl-C to stop)\n", what);
    if (l) {
      char all[96];
      dsmr_line_probe_list(&c->input.line, all, sizeof all);
      fprintf(stderr, "dsmr-cat: probing %s, %d s each\n", all,
              DSMR_LINE_WINDOW_MS / 1000);
    }
    dsmr_input_restart(&c->input, dsmr_now_ms());
  }
  while (st == 0 && (count == 0 || c->n + c->too_large < count)) {
    ssize_t n = dsmr_source_read(&src, buf, sizeof buf, wake_pipe[0], 1000, err,
                                 sizeof err);
    if (n < 0) {
      fprintf(stderr, "dsmr-cat: %s\n", err);
      rc = -1;
      break;
    }
    /* also a quiet second: --baudrate auto keeps time by it */
    if (feed(c, &src, buf, (size_t)n) != 0) {
      rc = -1;
      break;
    }
    if (n == 0) {
      char x;
      /* a wake-up (Ctrl-C) or just a quiet second? */
      if (fcntl(wake_pipe[0], F_SETFL, O_NONBLOCK) == 0 &&
          read(wake_pipe[0], &x, 1) == 1)
        break;
    }
  }
  dsmr_source_close(&src);
  dsmr_source_free(&src);
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
        "       dsmr-cat --key HEX [--auth-key HEX] [...]  (Luxembourg, HAN)\n"
        "Reads P1 telegrams or binary HAN (DLMS/COSEM) frames, told apart by\n"
        "their bytes, from FILEs (standard input when none or \"-\"),\n"
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
        "  --baudrate auto  probe 115200 8N1, 115200 7E1, 9600 7E1, then for\n"
        "                HAN meters 2400 8E1 and 2400 8N1 (12 s each) and\n"
        "                say on stderr which one works; with --key only\n"
        "                2400 8E1, 2400 8N1 and 115200 8N1\n"
        "  --host H --port P  read a P1-to-network dongle or ser2net\n"
        "  --key HEX     decrypt a Luxembourg Smarty stream with this key\n"
        "                (32 hex digits, from the grid operator); for a\n"
        "                HAN meter (HDLC or M-Bus frames), its DLMS key\n"
        "  --no-auth-check  HAN frames with a GCM tag, no --auth-key: decrypt\n"
        "                WITHOUT checking the tag (the operator gave only\n"
        "                the encryption key); default: the Luxembourg key\n"
        "  --auth-key HEX  its authentication key (default: the Luxembourg\n"
        "                one, 00112233445566778899AABBCCDDEEFF)\n"
        "  --timezone Z  HAN clocks sent without their offset (deviation\n"
        "                unspecified) are local time in zone Z (Europe/Oslo,\n"
        "                a zone file, or a POSIX rule); default the host's\n"
        "  --energy-scaler N  HAN lists that send no scaler_unit (Kamstrup,\n"
        "                Kaifa, ...): energy registers count 10^N Wh (0: Wh,\n"
        "                Swedish Kamstrup firmware; 1: 10 Wh; 2: 100 Wh;\n"
        "                3: kWh), as the plugin's EnergyScaler; default:\n"
        "                the vendor document's\n"
        "Times are UTC, with the host's local time beside them (--json:\n"
        "UTC only); a HAN clock is the meter's local time with its offset.\n"
        "Exit status: 0 all telegrams ok (or without CRC), 1 some failed or\n"
        "no telegram at all, 2 usage or I/O error.\n",
        to);
}

/* What the command line asked for, beside what goes into struct cat. */
struct options {
  struct dsmr_source_config live;
  int have_live;
  unsigned long long count;
  const char *line_opt; /* --databits or --parity */
  uint8_t key[16], auth_key[16];
  int have_key, have_auth;
  size_t max_size;
  int first_file;       /* argv index of the first FILE */
  const char *timezone; /* --timezone, or NULL: the host's zone */
};

/* Step 1: the options, into *o and c's output settings. Returns -1 to go
 * on, or the exit status (0 after --help, 2 on a usage error). */
static int parse_options(int argc, char **argv, struct cat *c,
                         struct options *o) {
  int i;
  long v;

  memset(o, 0, sizeof(*o));
  o->live = (struct dsmr_source_config){.kind = DSMR_SOURCE_DEVICE,
                                        .baudrate = 115200,
                                        .databits = 8,
                                        .parity = DSMR_PARITY_NONE,
                                        .stopbits = 1};
  o->max_size = DSMR_DEFAULT_MAX_TELEGRAM;
  c->mode = OUT_LIST;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--device") == 0 && val) {
      snprintf(o->live.device, sizeof o->live.device, "%s", val);
      o->live.kind = DSMR_SOURCE_DEVICE;
      o->have_live = 1;
      i++;
    } else if (strcmp(a, "--host") == 0 && val) {
      snprintf(o->live.host, sizeof o->live.host, "%s", val);
      o->live.kind = DSMR_SOURCE_TCP;
      o->have_live = 1;
      i++;
    } else if (strcmp(a, "--port") == 0 && val) {
      snprintf(o->live.port, sizeof o->live.port, "%s", val);
      i++;
    } else if (strcmp(a, "--baudrate") == 0 && val) {
      if (strcasecmp(val, "auto") == 0)
        o->live.line_auto = 1;
      else if (parse_int_arg(a, val, 50, 4000000, &v) != 0)
        return 2;
      else
        o->live.baudrate = (int)v;
      i++;
    } else if (strcmp(a, "--databits") == 0 && val) {
      o->line_opt = a;
      if (parse_int_arg(a, val, 7, 8, &v) != 0)
        return 2;
      o->live.databits = (int)v;
      i++;
    } else if (strcmp(a, "--parity") == 0 && val) {
      o->line_opt = a;
      static const char *const parities[] = {"none", "even", "odd", NULL};
      if (parse_word_arg(a, val, parities, &v) != 0)
        return 2;
      o->live.parity = (enum dsmr_parity)v;
      i++;
    } else if (strcmp(a, "--data-request") == 0 && val) {
      static const char *const lines[] = {"none", "rts", "dtr", NULL};
      if (parse_word_arg(a, val, lines, &v) != 0)
        return 2;
      o->live.data_request = (enum dsmr_data_request)v;
      i++;
    } else if (strcmp(a, "--count") == 0 && val) {
      if (parse_int_arg(a, val, 1, 2000000000, &v) != 0)
        return 2;
      o->count = (unsigned long long)v;
      i++;
    } else if (strcmp(a, "--key") == 0 && val) {
      if (parse_key_arg(a, argv[i + 1], o->key) != 0)
        return 2;
      o->have_key = 1;
      i++;
    } else if (strcmp(a, "--auth-key") == 0 && val) {
      if (parse_key_arg(a, argv[i + 1], o->auth_key) != 0)
        return 2;
      o->have_auth = 1;
      i++;
    } else if (strcmp(a, "--timezone") == 0 && val) {
      o->timezone = val;
      i++;
    } else if (strcmp(a, "--energy-scaler") == 0 && val) {
      if (parse_int_arg(a, val, 0, 3, &v) != 0)
        return 2;
      c->energy_scaler_set = 1;
      c->energy_scaler = (int)v;
      i++;
    } else if (strcmp(a, "--no-auth-check") == 0) {
      c->no_auth_check = 1;
    } else if (strcmp(a, "--json") == 0) {
      c->mode = OUT_JSON;
    } else if (strcmp(a, "--summary") == 0) {
      c->mode = OUT_SUMMARY;
    } else if (strcmp(a, "--max-size") == 0 && val) {
      if (parse_int_arg(a, val, 16, 1 << 20, &v) != 0)
        return 2;
      o->max_size = (size_t)v;
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
  o->first_file = i;
  return -1;
}

/* --timezone ZONE (a zone name, a TZif path or a POSIX rule), else the
 * host's zone ($TZ, /etc/localtime; UTC with a note when neither reads). */
static int setup_timezone(struct cat *c, const char *zone) {
  char err[512];
  if (!zone) {
    if (dsmr_tz_load_host(&c->tz, NULL, 0, err, sizeof err) != 0)
      snprintf(c->tz_note, sizeof c->tz_note,
               "dsmr-cat: the host's time zone cannot be read (%s): HAN "
               "clocks without their offset are read as UTC (--timezone)\n",
               err);
    return 0;
  }
  if (dsmr_tz_load(zone, &c->tz, NULL, 0, err, sizeof err) != 0) {
    fprintf(stderr,
            "dsmr-cat: --timezone: %s; expected a zone name such as "
            "Europe/Oslo, the path of a zone file, or a POSIX TZ rule such "
            "as CET-1CEST,M3.5.0,M10.5.0/3\n",
            err);
    return -1;
  }
  return 0;
}

/* Step 2: options that do not go together, then the chain (built now for
 * --baudrate auto, else from the first bytes read). Returns 0, or 2 (a
 * usage error, said on stderr). */
static int setup_chain(struct cat *c, struct options *o, int argc) {
  if (o->live.line_auto &&
      (o->line_opt || o->live.kind == DSMR_SOURCE_TCP || !o->have_live)) {
    fprintf(stderr, "dsmr-cat: --baudrate auto %s\n",
            o->line_opt ? "probes data bits and parity too: leave out "
                          "--databits and --parity"
                        : "needs --device (a network dongle sets the serial "
                          "line itself)");
    return 2;
  }
  if (o->have_auth && !o->have_key) {
    fprintf(stderr, "dsmr-cat: --auth-key needs --key\n");
    return 2;
  }
  if (setup_timezone(c, o->timezone) != 0)
    return 2;
  c->max_size = o->max_size;
  if (input_setup(c, o->live.line_auto, o->key, o->auth_key, o->have_key,
                  o->have_auth) != 0)
    return 2;

  if (o->have_live && o->first_file < argc) {
    fprintf(stderr, "dsmr-cat: give files or a live source, not both\n");
    dsmr_input_free(&c->input);
    return 2;
  }
  if (o->have_live && o->live.kind == DSMR_SOURCE_TCP && !o->live.port[0]) {
    fprintf(stderr, "dsmr-cat: --host needs --port\n");
    dsmr_input_free(&c->input);
    return 2;
  }
  return 0;
}

/* Step 3: read the live source, or every FILE (standard input when none
 * or "-"), through the chain. Returns 1 on an I/O error, else 0. */
static int read_inputs(struct cat *c, const struct options *o, int argc,
                       char **argv) {
  int nfiles = 0, io_error = 0;

  if (o->have_live) {
    nfiles = 1;
    io_error = read_live(c, &o->live, o->count) != 0;
  }
  for (int i = o->first_file; i < argc; i++) {
    const char *name = argv[i];
    nfiles++;
    if (strcmp(name, "-") == 0) {
      io_error |= read_fd(c, 0, "standard input") != 0;
      continue;
    }
    int fd = open(name, O_RDONLY);
    if (fd < 0) {
      fprintf(stderr, "dsmr-cat: %s: %s\n", name, strerror(errno));
      io_error = 1;
      continue;
    }
    io_error |= read_fd(c, fd, name) != 0;
    close(fd);
  }
  if (nfiles == 0)
    io_error |= read_fd(c, 0, "standard input") != 0;
  /* The end of the input ends a telegram whose CRC line is cut short: a
   * DSMR 2.2/3 telegram whose '!' is the last byte of a file, or a CRC of
   * fewer than 4 digits without its CR LF. */
  if (!o->have_live) {
    dsmr_input_end(&c->input);
    drain(c, NULL);
  }
  return io_error;
}

/* Step 4: the summary lines (--summary), the chain let go, and the exit
 * status: 2 an I/O error, 1 a telegram failed or none at all, else 0. */
static int report_and_exit_status(struct cat *c, int io_error) {
  if (c->n + c->too_large == 0 && !io_error) {
    fprintf(stderr, "dsmr-cat: no telegram in the input (a telegram is "
                    "'/' header ... '!' [CRC])\n");
    c->failed = 1;
  }

  if (c->mode == OUT_SUMMARY)
    printf("telegrams %llu, ok %llu, CRC errors %llu, too large %llu, "
           "malformed %llu\n",
           c->n + c->too_large, c->ok, c->crc_errors, c->too_large,
           c->malformed);
  if (c->decrypt && c->mode == OUT_SUMMARY) {
    const struct dsmr_input_stats *st = &c->input.stats;
    printf(
        "%s frames %llu, decrypted %llu, authentication failed "
        "%llu, replayed %llu, dropped %llu\n",
        c->input.protocol ? "DLMS" : "Smarty",
        (unsigned long long)(st->decrypted + st->decrypt_failed + st->replayed +
                             st->envelope_malformed + st->envelope_too_large),
        (unsigned long long)st->decrypted,
        (unsigned long long)st->decrypt_failed,
        (unsigned long long)st->replayed,
        (unsigned long long)(st->envelope_malformed + st->envelope_too_large));
  }
  dsmr_input_free(&c->input); /* wipes the Smarty keys and buffer */
  if (io_error)
    return 2;
  return c->failed ? 1 : 0;
}

int main(int argc, char **argv) {
  static struct cat c; /* large: keep it off the stack */
  struct options o;
  int rc;

  rc = parse_options(argc, argv, &c, &o);
  if (rc >= 0)
    return rc;
  rc = setup_chain(&c, &o, argc);
  if (rc != 0)
    return rc;
  return report_and_exit_status(&c, read_inputs(&c, &o, argc, argv));
}
