/* From parsed OBIS objects to collectd-ready readings. See mapper.h for the
 * contract and README.md for the table of identifiers. */
#include "mapper.h"

#include "inline.h"

/* For what the parse loop (dsmr_map_telegram_state) rarely needs: inlined
 * there, it makes the loop's ordinary lines (parser_fast.h,
 * reading_by_shape) dearer (more registers saved, spilled) than the call
 * costs the rare ones. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#include "number_shape.h"
#include "obis_table.h"
#include "parser_fast.h"
#include "timestamp.h"

#include <string.h>

/* M-Bus capture times before this are placeholders that meters send for a
 * channel without a reading ("700101010000W", "000101000001W"). */
#define DSMR_EARLIEST_CAPTURE 978307200 /* 2001-01-01T00:00:00Z */

#define DSMR_MBUS_CHANNELS 4

/* M-Bus device types (EN 13757-3) as DSMR writes them in 0-n:24.1.0. */
enum mbus_device {
  MBUS_ELECTRICITY = 2,
  MBUS_GAS = 3,
  MBUS_HEAT = 4,
  MBUS_WARM_WATER = 6,
  MBUS_WATER = 7,
  MBUS_COOLING_OUTLET = 10,
  MBUS_COOLING_INLET = 11,
  MBUS_HEAT_INLET = 12,
  MBUS_HEAT_COOLING = 13,
};

/* What one M-Bus channel said in this telegram. The device type may come
 * after the reading, so readings are resolved once the telegram is read. */
struct mbus_channel {
  int device; /* from 0-n:24.1.0; -1 when absent or unreadable */
  int has_reading;
  int corrected; /* reading came from 24.2.1 (preferred over 24.2.3) */
  int64_t capture;
  struct dsmr_span value;
  struct dsmr_span unit; /* DSMR 3 writes the unit in a group of its own */
  unsigned line;
  struct dsmr_span id; /* of the object, in the frame */
};

/* ---- units (keys: see obis_table.h) ---------------------------------- */
#define UNIT1(a) DSMR_UNIT_KEY(1, a, 0, 0, 0, 0)
#define UNIT2(a, b) DSMR_UNIT_KEY(2, a, b, 0, 0, 0)
#define UNIT3(a, b, c) DSMR_UNIT_KEY(3, a, b, c, 0, 0)
#define UNIT4(a, b, c, d) DSMR_UNIT_KEY(4, a, b, c, d, 0)
#define UNIT5(a, b, c, d, e) DSMR_UNIT_KEY(5, a, b, c, d, e)

/* The key of any text (the DSMR 3 unit group; number.c makes the keys of
 * the units it reads). */
static uint64_t unit_key(struct dsmr_span u) {
  if (u.len > 7)
    return DSMR_UNIT_LONG;
  uint64_t k = DSMR_UNIT_LEN(u.len);
  for (size_t i = 0; i < u.len; i++) {
    unsigned c = (unsigned char)u.ptr[i];
    if (c - 'A' < 26u)
      c += 'a' - 'A';
    k |= (uint64_t)c << (8 * i);
  }
  return k;
}

/* All lower case: keys are folded. */
#define U_KWH UNIT3('k', 'w', 'h')
#define U_WH UNIT2('w', 'h')
#define U_MWH UNIT3('m', 'w', 'h')
#define U_KVARH UNIT5('k', 'v', 'a', 'r', 'h')
#define U_VARH UNIT4('v', 'a', 'r', 'h')
#define U_KW UNIT2('k', 'w')
#define U_W UNIT1('w')
#define U_KVAR UNIT4('k', 'v', 'a', 'r')
#define U_VAR UNIT3('v', 'a', 'r')
#define U_KVA UNIT3('k', 'v', 'a')
#define U_VA UNIT2('v', 'a')
#define U_KV UNIT2('k', 'v')
#define U_V UNIT1('v')
#define U_A UNIT1('a')
#define U_HZ UNIT2('h', 'z')
#define U_M3 UNIT2('m', '3')
#define U_GJ UNIT2('g', 'j')

/* How numeric objects become readings: the type and the units accepted,
 * `kilo` (e.g. kWh) worth 10^3 of `base` (Wh). Objects without a kilo unit
 * have DSMR_UNIT_NEVER there; unitless ones (power factor) have base
 * DSMR_UNIT_NONE.
 *
 * A value of another object written without a unit (Smarty meters send
 * "1-0:3.7.0(00.000)") is read in the unit the DSMR and Smarty tables give
 * the object, 10^plain_e of the base unit, but only when its number has
 * that unit's format: `plain_decimals` has bit d set when d decimals are
 * that format (kW: 3, as "00.007"; V: 1, as "230.1"). So "00.007" is
 * 0.007 kvar, and "7" (kvar or var?) is refused, as is any wrong unit. */
struct number_rule {
  const char *type;
  uint64_t kilo, base;
  enum dsmr_ds_type ds;
  uint8_t plain_e;
  uint8_t plain_decimals;
};

#define DECIMALS(d) (1u << (d))
static const struct number_rule number_rules[] = {
    [OBIS_ENERGY] = {"dsmr_energy", U_KWH, U_WH, DSMR_DS_DERIVE, 3,
                     DECIMALS(3)},
    [OBIS_REACTIVE_ENERGY] = {"dsmr_reactive_energy", U_KVARH, U_VARH,
                              DSMR_DS_DERIVE, 3, DECIMALS(3)},
    [OBIS_POWER] = {"power", U_KW, U_W, DSMR_DS_GAUGE, 3, DECIMALS(3)},
    [OBIS_REACTIVE_POWER] = {"dsmr_reactive_power", U_KVAR, U_VAR,
                             DSMR_DS_GAUGE, 3, DECIMALS(3)},
    [OBIS_APPARENT_POWER] = {"dsmr_apparent_power", U_KVA, U_VA, DSMR_DS_GAUGE,
                             3, DECIMALS(3)},
    [OBIS_VOLTAGE] = {"voltage", U_KV, U_V, DSMR_DS_GAUGE, 0, DECIMALS(1)},
    [OBIS_CURRENT] = {"current", DSMR_UNIT_NEVER, U_A, DSMR_DS_GAUGE, 0,
                      DECIMALS(0) | DECIMALS(1) | DECIMALS(2)},
    [OBIS_FREQUENCY] = {"frequency", DSMR_UNIT_NEVER, U_HZ, DSMR_DS_GAUGE, 0,
                        DECIMALS(0) | DECIMALS(1) | DECIMALS(2) | DECIMALS(3)},
    [OBIS_POWER_FACTOR] = {"dsmr_power_factor", DSMR_UNIT_NEVER, DSMR_UNIT_NONE,
                           DSMR_DS_GAUGE, 0, 0},
    /* 0-0:17.0.0 without a unit: Smarty's threshold, in kVA (its table:
     * F4(1,1); the meters send 3 decimals). With a unit the unit decides
     * (map_object). */
    [OBIS_THRESHOLD] = {"dsmr_apparent_power", U_KVA, U_VA, DSMR_DS_GAUGE, 3,
                        DECIMALS(1) | DECIMALS(3)},
};

/* ---- readings ----------------------------------------------------------- */

static const double pow10_table[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The number in its base unit (W, Wh, ...) as a double:
 * mantissa * 10^(exp10 - decimals), exact whenever the result is an integer
 * below 2^53. */
static double base_gauge(const struct dsmr_number *n, int exp10) {
  int shift = exp10 - (int)n->decimals;
  if (shift >= 0)
    return (double)n->mantissa * pow10_table[shift > 22 ? 22 : shift];
  shift = -shift;
  return (double)n->mantissa / pow10_table[shift > 22 ? 22 : shift];
}

COLD static void add_error(struct dsmr_telegram *t, unsigned line,
                           const char *why, struct dsmr_span id) {
  size_t n = id.len < sizeof(t->first_error_obis) - 1
                 ? id.len
                 : sizeof(t->first_error_obis) - 1;
  if (t->errors == 0) {
    t->first_error_line = line;
    t->first_error = why;
    if (n)
      memcpy(t->first_error_obis, id.ptr, n);
    t->first_error_obis[n] = 0;
  }
  if (t->errors < DSMR_MAX_LISTED_ERRORS) {
    struct dsmr_error *e = &t->error_list[t->errors];
    e->line = line;
    e->why = why;
    if (n)
      memcpy(e->obis, id.ptr, n);
    e->obis[n] = 0;
  }
  t->errors++;
}

/* A value of o without a unit (rule->base is not "none"): its unit's
 * exponent when the number has the format of the object's table unit
 * (counted), else -1 after reporting the error. Rare: off the hot path. */
COLD static int unitless_exponent(struct dsmr_telegram *t,
                                  const struct dsmr_object *o,
                                  const struct number_rule *rule,
                                  const struct dsmr_number *n, uint64_t unit) {
  if (unit != DSMR_UNIT_NONE) {
    add_error(t, o->line, "unexpected unit", o->id);
    return -1;
  }
  if (n->decimals >= 8 || !(rule->plain_decimals >> n->decimals & 1u)) {
    add_error(t, o->line, "no unit, and not in the format of its unit", o->id);
    return -1;
  }
  const struct obis_entry *e = dsmr_obis_find(&o->obis);
  if (e) {
    unsigned row = (unsigned)(e - dsmr_obis_table);
    t->unitless_rows[row >> 6] |= 1ull << (row & 63);
  }
  t->unitless++;
  return rule->plain_e;
}

/* A new reading of the telegram (value and time at the telegram's), or
 * NULL when there is no room. Each field is written once: this runs for
 * most objects of every telegram. Always inlined: as a call it costs about
 * as much as the fill itself (gcc stops inlining it on its own once it has
 * a few callers). */
static HOT_INLINE struct dsmr_reading *
add_reading(struct dsmr_telegram *t, unsigned line, struct dsmr_span id,
            const char *type, const char *instance, enum dsmr_ds_type ds,
            int64_t derive, double gauge) {
  if (t->nreadings >= DSMR_MAX_READINGS) {
    add_error(t, line, "too many values in one telegram", id);
    return NULL;
  }
  struct dsmr_reading *r = &t->readings[t->nreadings++];
  r->type = type;
  r->type_instance = instance;
  r->ds = ds;
  r->derive = derive;
  r->gauge = gauge;
  r->time_kind = DSMR_AT_TELEGRAM;
  r->capture_time = 0;
  r->channel = 0;
  r->flags = 0;
  r->line = line;
  return r;
}

/* Values identical to the same register's in the previous telegram are
 * not converted again (see reading_by_shape): on a generated DSMR 5 stream
 * (dsmr-sim --generate dsmr5) that is ~80 % of the lines (what it saves:
 * HACKING.md, "Benchmarks"). -DDSMR_NO_SAME_VALUE turns it off (to
 * measure). */
#ifndef DSMR_NO_SAME_VALUE
#define DSMR_SAME_VALUE 1
#endif

/* What map_object needs besides the object: the frame, and the shapes of
 * the caller's state (NULL without one). */
struct map_ctx {
  const char *fstart, *fend;
  struct dsmr_number_shape *shapes;
  uintptr_t lo_bound, span;     /* dsmr_shape_window_fast */
  struct dsmr_map_state *state; /* for the memos below; NULL without */
};

/* ---- memos ------------------------------------------------------------
 *
 * Values that are not a row's reading are read on every telegram too:
 * the meter's time, the M-Bus capture times and values, the version, the
 * device types, the failure log. Their places in struct dsmr_map_state: */
enum memo_slot {
  /* number_memo[] */
  NM_VERSION = 0,
  NM_VERSION_BE = 1,
  NM_MBUS_TYPE = 2,     /* + channel - 1 */
  NM_MBUS_VALUE = 6,    /* + channel - 1 */
  NM_FAILURES = 10,     /* the number of failures */
  NM_FAILURE_SECS = 11, /* the duration of entries 0 and 1 */
  NM_PEAK = 13,         /* 1-0:1.6.0 */
  NM_PEAK_COUNT = 14,   /* 0-0:98.1.0: the number of entries */
  NM_PEAK_HISTORY = 15, /* + entry, for the first MEMO_PEAKS entries */
  NM_LIMITS = 28,       /* + 0 import, 1 export */
  NM_END = 30,
  /* time_memo[] */
  TM_METER = 0,
  TM_MBUS = 1, /* + channel - 1 */
  TM_PEAK = 5,
  TM_FAILURE = 6,      /* the end of entries 0 and 1 */
  TM_PEAK_HISTORY = 8, /* + entry, for the first MEMO_PEAKS entries */
  TM_END = 21,
  NO_MEMO = 255, /* read without a memo */
};
/* 13 months of peaks in 0-0:98.1.0 */
#define MEMO_PEAKS 13
_Static_assert(NM_PEAK_HISTORY + MEMO_PEAKS <= NM_LIMITS &&
                   TM_PEAK_HISTORY + MEMO_PEAKS <= TM_END,
               "peak history slots");
_Static_assert(NM_END <= DSMR_NUMBER_MEMOS && TM_END <= DSMR_TIME_MEMOS,
               "memo slots");

/* g as a number (dsmr_parse_number_key), from number memo `slot` when
 * it is the text read there last (the same bytes: the same number, with
 * its unit at the same place in the text). Small integers mostly, for
 * which the shapes' checks cost more than the parser itself. */
static HOT_INLINE int number_memo(const struct map_ctx *c, unsigned slot,
                                  struct dsmr_span g, struct dsmr_number *n,
                                  uint64_t *unit) {
#ifdef DSMR_NUMBER_SHAPES
  if (c->state && slot < NM_END && g.len - 1 < 16 &&
      dsmr_shape_window_fast(g.ptr, c->lo_bound, c->span)) {
    struct dsmr_number_memo *m = &c->state->number_memo[slot];
    /* little-endian: the first bytes of the text are the low ones */
    uint64_t lo = dsmr_shape_load64(g.ptr), hi = dsmr_shape_load64(g.ptr + 8);
    lo &= g.len >= 8 ? ~0ULL : (1ULL << (8 * g.len)) - 1;
    hi &= g.len <= 8    ? 0
          : g.len >= 16 ? ~0ULL
                        : (1ULL << (8 * (g.len - 8))) - 1;
    if (g.len + 0x80 == m->len_tag && lo == m->text[0] && hi == m->text[1]) {
      n->mantissa = m->mantissa;
      n->decimals = m->decimals;
      n->unit.ptr = m->unit_len ? g.ptr + m->unit_off : NULL;
      n->unit.len = m->unit_len;
      *unit = m->unit_key;
      return 0;
    }
    if (dsmr_parse_number_key(g, n, unit) != 0)
      return -1;
    m->text[0] = lo;
    m->text[1] = hi;
    m->mantissa = n->mantissa;
    m->unit_key = *unit;
    m->len_tag = (uint8_t)(g.len + 0x80);
    m->decimals = (uint8_t)n->decimals; /* at most 16 digits in 16 bytes */
    m->unit_off = (uint8_t)(n->unit.len ? n->unit.ptr - g.ptr : 0);
    m->unit_len = (uint8_t)n->unit.len;
    return 0;
  }
#else
  (void)c, (void)slot; /* big-endian: no memo (the masks are little-endian) */
#endif
  return dsmr_parse_number_key(g, n, unit);
}

/* Group `group` of o as a number (by number memo `slot`), with its unit's
 * key; 0, or -1 after reporting the error. */
static inline int group_number(const struct map_ctx *c, unsigned slot,
                               struct dsmr_telegram *t,
                               const struct dsmr_object *o, unsigned group,
                               struct dsmr_number *n, uint64_t *unit) {
  if (o->ngroups <= group) {
    add_error(t, o->line, "value missing", o->id);
    return -1;
  }
  if (number_memo(c, slot, o->groups[group], n, unit) != 0) {
    add_error(t, o->line, "value is not a number", o->id);
    return -1;
  }
  return 0;
}

/* s as a timestamp (dsmr_parse_timestamp, not told whether flagged), by
 * time memo `slot`. A text equal to the memo's but in the seconds is the
 * memo's time plus its seconds: the date, hour and minute are the same,
 * the seconds are valid (00..59), and the offset from UTC is the same,
 * because the flag is the same or, without a flag, the EU rule switches
 * only on whole hours (UTC), so all 60 seconds of a minute fall on the
 * same side of a switch. */
static HOT_INLINE enum dsmr_ts_status time_memo(const struct map_ctx *c,
                                                unsigned slot,
                                                struct dsmr_span s,
                                                int64_t *utc) {
  if (!c->state || slot >= TM_END || (s.len != 12 && s.len != 13))
    return dsmr_parse_timestamp(s, utc, NULL);
  struct dsmr_time_memo *m = &c->state->time_memo[slot];
  const unsigned char *u = (const unsigned char *)s.ptr;
  uint64_t head;
  memcpy(&head, u, sizeof head);
  uint32_t tail = (uint32_t)u[8] | (uint32_t)u[9] << 8 |
                  (uint32_t)(s.len == 13 ? u[12] : 0) << 16 |
                  (uint32_t)(0x80 + s.len) << 24;
  unsigned tens = (unsigned)u[10] - '0', ones = (unsigned)u[11] - '0';
  if (head == m->head && tail == m->tail && tens <= 5 && ones <= 9) {
    *utc = m->base + (int64_t)(tens * 10 + ones);
    return DSMR_TS_OK;
  }
  enum dsmr_ts_status st = dsmr_parse_timestamp(s, utc, NULL);
  if (st == DSMR_TS_OK) { /* then bytes 10, 11 are the seconds, 00..59 */
    m->head = head;
    m->tail = tail;
    m->base = *utc - (int64_t)(tens * 10 + ones);
  }
  return st;
}

/* The first group of o, the value of the object in table row `row`, as a
 * number (by its shape when it has the one learnt, see number_shape.h),
 * with its unit's key; 0, or -1 after reporting the error. */
static HOT_INLINE int value_number(const struct map_ctx *c,
                                   struct dsmr_telegram *t,
                                   const struct dsmr_object *o, unsigned row,
                                   struct dsmr_number *n, uint64_t *unit) {
  if (o->ngroups == 0) {
    add_error(t, o->line, "value missing", o->id);
    return -1;
  }
  struct dsmr_number_shape *sh = c->shapes ? &c->shapes[row] : NULL;
#ifdef DSMR_NUMBER_SHAPES
  if (sh && dsmr_number_by_shape(sh, o->groups[0], c->lo_bound, c->span, n,
                                 unit) == 0)
    return 0;
#endif
  if (dsmr_parse_number_key(o->groups[0], n, unit) != 0) {
    add_error(t, o->line, "value is not a number", o->id);
    return -1;
  }
#ifdef DSMR_NUMBER_SHAPES
  if (sh && dsmr_shape_window(o->groups[0].ptr, c->fstart, c->fend))
    dsmr_number_shape_learn(sh, o->groups[0], n, *unit);
#else
  (void)sh;            /* big-endian: no shapes */
#endif
  return 0;
}

/* ---- readings by shape --------------------------------------------------
 *
 * A value whose number has the shape learnt for its row (number_shape.h)
 * is read the same way every time: the same type, kind, unit exponent and
 * decimals. So once the full path has made a reading of such a value
 * without any remark (no error, not unitless), the shape remembers how,
 * and the next value of that shape becomes a reading straight from its
 * digits, without the number, the rule or the checks in between. Which
 * readings can be remembered: DERIVE registers written with as many
 * decimals as their unit's exponent and no sign (the value is the
 * digits), gauges (the signed digits times a power of ten), whole numbers
 * without sign. */

/* The shape of row `row` when the state has one, else NULL. Every row
 * has one: obis.c asserts that the table has at most DSMR_SHAPE_ROWS. */
static inline struct dsmr_number_shape *row_shape(const struct map_ctx *c,
                                                  unsigned row) {
  return c->shapes ? &c->shapes[row] : NULL;
}

/* After the full path made reading r of o's first group: remember it in
 * the shape if it is one of the kinds above. e: the unit's exponent. */
static void remember_reading(const struct map_ctx *c,
                             const struct dsmr_object *o, unsigned row,
                             const struct dsmr_number *n,
                             const struct dsmr_reading *r, int e) {
#ifdef DSMR_NUMBER_SHAPES
  struct dsmr_number_shape *sh = row_shape(c, row);
  if (!sh || !sh->len_tag ||
      !dsmr_shape_match(sh, o->groups[0], c->lo_bound, c->span))
    return;
  int shift = e - (int)n->decimals;
  if (r->ds == DSMR_DS_DERIVE ? sh->neg || shift != 0 : shift < -16)
    return;
  sh->type = r->type;
  sh->ds = (uint8_t)r->ds;
  sh->shift = (int8_t)shift;
  sh->reading = 1;
  sh->has_last = 0;
#else
  (void)c, (void)o, (void)row, (void)n, (void)r, (void)e;
#endif
}

/* o as a reading by its row's shape: 1, or 0 when the full path must read
 * it. */
static HOT_INLINE int reading_by_shape(const struct map_ctx *c,
                                       struct dsmr_telegram *t,
                                       const struct dsmr_object *o,
                                       const struct obis_entry *e,
                                       unsigned row) {
#ifdef DSMR_NUMBER_SHAPES
  struct dsmr_number_shape *sh = row_shape(c, row);
  if (!sh || !sh->reading || o->ngroups == 0 ||
      t->nreadings >= DSMR_MAX_READINGS)
    return 0;
  struct dsmr_span g = o->groups[0];
  int64_t derive = 0;
  double gauge = 0;
#ifdef DSMR_SAME_VALUE
  /* The same bytes as this row's last value read here (same length, and
   * every byte of it equal): the same reading. */
  if (sh->has_last && g.len + 0x80 == sh->len_tag &&
      dsmr_shape_window_fast(g.ptr, c->lo_bound, c->span) &&
      (((dsmr_shape_load64(g.ptr) ^ sh->last[0]) & (sh->fix[0] | sh->dig[0])) |
       ((dsmr_shape_load64(g.ptr + 8) ^ sh->last[1]) &
        (sh->fix[1] | sh->dig[1]))) == 0) {
    derive = sh->last_derive;
    gauge = sh->last_gauge;
  } else
#endif
  {
    if (!dsmr_shape_match(sh, g, c->lo_bound, c->span))
      return 0;
    uint64_t m = dsmr_shape_magnitude(sh, g.ptr);
    if (sh->ds == DSMR_DS_DERIVE) {
      derive = (int64_t)m;
    } else {
      /* as base_gauge */
      double v = (double)(sh->neg ? -(int64_t)m : (int64_t)m);
      gauge = sh->shift >= 0 ? v * pow10_table[sh->shift]
                             : v / pow10_table[-sh->shift];
    }
#ifdef DSMR_SAME_VALUE
    sh->last[0] = dsmr_shape_load64(g.ptr);
    sh->last[1] = dsmr_shape_load64(g.ptr + 8);
    sh->last_derive = derive;
    sh->last_gauge = gauge;
    sh->has_last = 1;
#endif
  }
  /* room checked above: add_reading cannot refuse it */
  add_reading(t, o->line, o->id, sh->type, e->type_instance,
              (enum dsmr_ds_type)sh->ds, derive, gauge);
  return 1;
#else
  (void)c, (void)t, (void)o, (void)e, (void)row;
  return 0;
#endif
}

/* n with unit key `unit`, read under `rule`, as a reading; returns it
 * (NULL on error). */
static HOT_INLINE struct dsmr_reading *
emit_number(struct dsmr_telegram *t, const struct dsmr_object *o,
            const struct number_rule *rule, const char *instance,
            const struct dsmr_number *n, uint64_t unit) {
  int e = unit == rule->base ? 0 : unit == rule->kilo ? 3 : -1;
  if (e < 0 && (e = unitless_exponent(t, o, rule, n, unit)) < 0)
    return NULL;
  if (rule->ds == DSMR_DS_GAUGE)
    return add_reading(t, o->line, o->id, rule->type, instance, DSMR_DS_GAUGE,
                       0, base_gauge(n, e));
  /* Registers are nearly always written with as many decimals as the unit
   * has below the base unit ("002130.115*kWh"): then the mantissa is the
   * value, with nothing to scale or check. */
  int64_t v = n->mantissa;
  if (v < 0 || (n->decimals != (unsigned)e &&
                dsmr_number_scaled(n, (unsigned)e, &v) != 0)) {
    add_error(t, o->line, "register out of range", o->id);
    return NULL;
  }
  return add_reading(t, o->line, o->id, rule->type, instance, DSMR_DS_DERIVE, v,
                     0);
}

/* A plain integer without unit (counters, tariff). */
static HOT_INLINE void emit_integer(const struct map_ctx *c,
                                    struct dsmr_telegram *t,
                                    const struct dsmr_object *o, unsigned row,
                                    const char *type, const char *instance) {
  struct dsmr_number n;
  uint64_t unit;
  if (value_number(c, t, o, row, &n, &unit) != 0)
    return;
  if (unit != DSMR_UNIT_NONE || n.decimals != 0 || n.mantissa < 0) {
    add_error(t, o->line, "expected a whole number without unit", o->id);
    return;
  }
  const struct dsmr_reading *r = add_reading(
      t, o->line, o->id, type, instance, DSMR_DS_GAUGE, 0, (double)n.mantissa);
  /* (double)m * 10^0 is (double)m; "-0" is 0 here but "-5" an error, so
   * no signed shape */
  struct dsmr_number_shape *sh = row_shape(c, row);
  if (r && sh && !sh->neg)
    remember_reading(c, o, row, &n, r, 0);
}

static int parse_any_time(const struct map_ctx *c, unsigned slot,
                          struct dsmr_span s, int64_t *utc) {
  if (time_memo(c, slot, s, utc) == DSMR_TS_OK)
    return 0;
  if (dsmr_parse_cosem_clock(s, utc) == DSMR_TS_OK)
    return 0;
  return -1;
}

/* 1-0:99.97.0(count)(0-0:96.7.19)(end)(duration*s)...: how many entries
 * and the newest one. Placeholder entries (a time before 2001,
 * DSMR_EARLIEST_CAPTURE) count as entries but are never "the newest
 * failure". */
static void read_failure_log(const struct map_ctx *c, struct dsmr_telegram *t,
                             const struct dsmr_object *o) {
  struct dsmr_telegram_info *info = &t->info;
  unsigned pairs = o->ngroups >= 2 ? (o->ngroups - 2) / 2 : 0;
  struct dsmr_number n;
  uint64_t unit;
  info->failure_log_entries = pairs;
  if (o->ngroups >= 1 &&
      number_memo(c, NM_FAILURES, o->groups[0], &n, &unit) == 0 &&
      n.unit.len == 0 && n.decimals == 0 && n.mantissa >= 0 &&
      (uint64_t)n.mantissa < pairs)
    info->failure_log_entries = (unsigned)n.mantissa;
  for (unsigned i = 0; i < pairs; i++) {
    int64_t end;
    if (parse_any_time(c, i < 2 ? TM_FAILURE + i : NO_MEMO,
                       o->groups[2 + 2 * i], &end) != 0 ||
        end < DSMR_EARLIEST_CAPTURE || end <= info->failure_last_end)
      continue;
    info->failure_last_end = end;
    info->failure_last_duration = 0;
    if (number_memo(c, i < 2 ? NM_FAILURE_SECS + i : NO_MEMO,
                    o->groups[3 + 2 * i], &n, &unit) == 0 &&
        n.decimals == 0)
      info->failure_last_duration = n.mantissa;
  }
}

/* The most entries a 0-0:98.1.0 can hold (3 groups each after 3). */
#define PEAK_HISTORY_MAX ((DSMR_MAX_GROUPS - 3) / 3)

/* 0-0:98.1.0 in its e-MUCS form, the monthly peaks of the last 13 months:
 *   (n)(1-0:1.6.0)(1-0:1.6.0)(month)(peak time)(peak*kW)... n times
 * where `month` is the stamp of the month's end (its next month's first
 * midnight) and `peak time` when the peak quarter-hour ended. Each peak
 * becomes a reading at its peak time: the moment it happened, as
 * 1-0:1.6.0 is (the last value of 1-0:1.6.0 in a month and that month's
 * history entry are the same point), and a time no other entry shares.
 * A month without a peak (a placeholder time such as 632525252525W, value
 * 0) is skipped, as 1-0:1.6.0 is before a month's first peak. Readings go
 * out oldest first, so the plugin's "times only move forward" rule
 * dispatches every entry once: all of them on the first telegram, then
 * only a new month's. Other forms (Hungarian meters send a billing-values
 * profile under the same id) are listed, not dispatched. */
NOINLINE static void read_peak_history(const struct map_ctx *c,
                                       struct dsmr_telegram *t,
                                       const struct dsmr_object *o,
                                       const char *inst) {
  /* Set, though a failed parse leaves them unread: gcc evaluates the
   * conditions below branch-free, and valgrind then sees them read. */
  struct dsmr_number n = {0};
  uint64_t unit = DSMR_UNIT_NONE;
  if (o->ngroups < 3 ||
      number_memo(c, NM_PEAK_COUNT, o->groups[0], &n, &unit) != 0 ||
      unit != DSMR_UNIT_NONE || n.decimals != 0 || n.mantissa < 0 ||
      !dsmr_span_eq(o->groups[1], "1-0:1.6.0") ||
      !dsmr_span_eq(o->groups[2], "1-0:1.6.0"))
    return;
  unsigned entries = (o->ngroups - 3) / 3;
  if ((uint64_t)n.mantissa < entries)
    entries = (unsigned)n.mantissa;

  /* (time, group of the value) of every entry with a peak, sorted by time
   * (meters send them oldest first; sorting costs nothing at 13). */
  struct {
    int64_t when;
    unsigned group;
  } peaks[PEAK_HISTORY_MAX];
  unsigned npeaks = 0;
  for (unsigned i = 0; i < entries; i++) {
    unsigned g = 3 + 3 * i;
    int64_t when;
    if (group_number(c, i < MEMO_PEAKS ? NM_PEAK_HISTORY + i : NO_MEMO, t, o,
                     g + 2, &n, &unit) != 0)
      return;
    if (time_memo(c, i < MEMO_PEAKS ? TM_PEAK_HISTORY + i : NO_MEMO,
                  o->groups[g + 1], &when) != DSMR_TS_OK ||
        when < DSMR_EARLIEST_CAPTURE)
      continue;
    unsigned j = npeaks++;
    for (; j > 0 && peaks[j - 1].when > when; j--)
      peaks[j] = peaks[j - 1];
    peaks[j].when = when;
    peaks[j].group = g + 2;
  }
  for (unsigned i = 0; i < npeaks; i++) {
    if (i > 0 && peaks[i].when == peaks[i - 1].when)
      continue; /* one value per time */
    unsigned entry = (peaks[i].group - 5) / 3;
    if (group_number(c, entry < MEMO_PEAKS ? NM_PEAK_HISTORY + entry : NO_MEMO,
                     t, o, peaks[i].group, &n, &unit) != 0)
      return;
    struct dsmr_reading *r =
        emit_number(t, o, &number_rules[OBIS_POWER], inst, &n, unit);
    if (!r)
      return;
    r->time_kind = DSMR_AT_CAPTURE;
    r->capture_time = peaks[i].when;
  }
}

/* 1-1:31.4.0, Smarty's current limits (the breaker's thresholds for
 * imported and exported current; exported is negative as sent):
 * (100*A)(-063*A), or one group (100.0*A,-100.0*A) on some firmware. */
NOINLINE static void read_current_limits(const struct map_ctx *c,
                                         struct dsmr_telegram *t,
                                         const struct dsmr_object *o) {
  static const char *const names[2] = {"limit_import", "limit_export"};
  struct dsmr_span parts[2];
  unsigned nparts = 0;
  if (o->ngroups >= 2) {
    parts[0] = o->groups[0];
    parts[1] = o->groups[1];
    nparts = 2;
  } else if (o->ngroups == 1) {
    struct dsmr_span g = o->groups[0];
    const char *comma = g.len ? memchr(g.ptr, ',', g.len) : NULL;
    parts[nparts++] =
        (struct dsmr_span){g.ptr, comma ? (size_t)(comma - g.ptr) : g.len};
    if (comma)
      parts[nparts++] =
          (struct dsmr_span){comma + 1, g.len - (size_t)(comma - g.ptr) - 1};
  }
  if (nparts == 0) {
    add_error(t, o->line, "value missing", o->id);
    return;
  }
  for (unsigned i = 0; i < nparts; i++) {
    struct dsmr_number n;
    uint64_t unit;
    if (number_memo(c, NM_LIMITS + i, parts[i], &n, &unit) != 0) {
      add_error(t, o->line, "value is not a number", o->id);
      return;
    }
    if (!emit_number(t, o, &number_rules[OBIS_CURRENT], names[i], &n, unit))
      return;
  }
}

static void read_mbus(const struct map_ctx *c, struct mbus_channel *ch,
                      const struct dsmr_object *o, int v3) {
  struct dsmr_span value, unit = {NULL, 0};
  int64_t capture;
  int corrected = !v3 && o->obis.e == 1;
  if (v3) {
    /* (ts)(status)(period)(1)(obis)(unit) then (value) on the next line */
    if (o->ngroups < 7)
      return;
    unit = o->groups[5];
    value = o->groups[6];
  } else {
    if (o->ngroups < 2)
      return;
    value = o->groups[1];
  }
  if (time_memo(c, TM_MBUS + o->obis.b - 1, o->groups[0], &capture) !=
          DSMR_TS_OK ||
      capture < DSMR_EARLIEST_CAPTURE)
    return; /* an empty channel: no reading, and not an error */
  if (ch->has_reading && ch->corrected && !corrected)
    return;
  ch->has_reading = 1;
  ch->corrected = corrected;
  ch->capture = capture;
  ch->value = value;
  ch->unit = unit;
  ch->line = o->line;
  ch->id = o->id;
}

/* Name tables: the first device of a kind gets the plain name, further
 * ones are told apart by their channel. */
static const char *const gas_names[] = {"gas", "gas_ch1", "gas_ch2", "gas_ch3",
                                        "gas_ch4"};
static const char *const water_names[] = {"water", "water_ch1", "water_ch2",
                                          "water_ch3", "water_ch4"};
static const char *const warm_water_names[] = {
    "warm_water", "warm_water_ch1", "warm_water_ch2", "warm_water_ch3",
    "warm_water_ch4"};
static const char *const heat_names[] = {"heat", "heat_ch1", "heat_ch2",
                                         "heat_ch3", "heat_ch4"};
static const char *const cooling_names[] = {
    "cooling", "cooling_ch1", "cooling_ch2", "cooling_ch3", "cooling_ch4"};
static const char *const electricity_names[] = {"mbus", "mbus_ch1", "mbus_ch2",
                                                "mbus_ch3", "mbus_ch4"};

enum mbus_family {
  FAM_GAS,
  FAM_WATER,
  FAM_WARM_WATER,
  FAM_HEAT,
  FAM_COOLING,
  FAM_ELECTRICITY,
  FAM_COUNT,
};
_Static_assert(FAM_COUNT <= sizeof(((struct dsmr_map_state *)0)->plain_owner),
               "a plain name owner per kind of device");

static const char *const *const family_names[FAM_COUNT] = {
    gas_names,  water_names,   warm_water_names,
    heat_names, cooling_names, electricity_names};

static int mbus_family(int device, uint64_t unit) {
  switch (device) {
  case MBUS_GAS:
    return FAM_GAS;
  case MBUS_WATER:
    return FAM_WATER;
  case MBUS_WARM_WATER:
    return FAM_WARM_WATER;
  case MBUS_HEAT:
  case MBUS_HEAT_INLET:
  case MBUS_HEAT_COOLING:
    return FAM_HEAT;
  case MBUS_COOLING_OUTLET:
  case MBUS_COOLING_INLET:
    return FAM_COOLING;
  case MBUS_ELECTRICITY:
    return FAM_ELECTRICITY;
  case -1:
    /* No device type line (some DSMR 4 meters): the unit tells. */
    if (unit == U_M3)
      return FAM_GAS;
    if (unit == U_GJ)
      return FAM_HEAT;
    return -1;
  default:
    return -1;
  }
}

/* owner[fam]: the channel that has the plain name of a kind of device
 * (0: none yet). The first channel of a kind with a reading takes it. */
static void emit_mbus(const struct map_ctx *ctx, struct dsmr_telegram *t,
                      struct mbus_channel *chans, uint8_t owner[FAM_COUNT]) {
  for (unsigned c = 1; c <= DSMR_MBUS_CHANNELS; c++) {
    struct mbus_channel *ch = &chans[c];
    struct dsmr_number n;
    if (!ch->has_reading)
      continue;
    struct dsmr_span id = ch->id;
    uint64_t unit;
    if (number_memo(ctx, NM_MBUS_VALUE + c - 1, ch->value, &n, &unit) != 0) {
      add_error(t, ch->line, "M-Bus value is not a number", id);
      continue;
    }
    /* DSMR 3 writes the unit in a group of its own: any text there. */
    if (ch->unit.len)
      unit = unit_key(ch->unit);
    if (ch->unit.len && n.unit.len) {
      add_error(t, ch->line, "M-Bus value has two units", id);
      continue;
    }
    int fam = mbus_family(ch->device, unit);
    if (fam < 0)
      continue; /* a device we do not know: listed, not dispatched */
    /* Some meters leave the unit out; the device type says what it is. */
    if (unit == DSMR_UNIT_NONE)
      unit = fam == FAM_HEAT || fam == FAM_COOLING ? U_GJ
             : fam == FAM_ELECTRICITY              ? U_KWH
                                                   : U_M3;
    const char *type;
    int e;
    if (unit == U_M3 &&
        (fam == FAM_GAS || fam == FAM_WATER || fam == FAM_WARM_WATER)) {
      type = "dsmr_volume";
      e = 3; /* m3 -> L */
    } else if (unit == U_GJ && (fam == FAM_HEAT || fam == FAM_COOLING)) {
      type = "dsmr_heat";
      e = 3; /* GJ -> MJ */
    } else if (unit == U_KWH) {
      type = "dsmr_energy";
      e = 3;
    } else if (unit == U_MWH) {
      type = "dsmr_energy";
      e = 6;
    } else {
      add_error(t, ch->line, "unexpected M-Bus unit", id);
      continue;
    }
    int64_t v;
    if (n.mantissa < 0 || dsmr_number_scaled(&n, (unsigned)e, &v) != 0) {
      add_error(t, ch->line, "register out of range", id);
      continue;
    }
    if (owner[fam] == 0)
      owner[fam] = (uint8_t)c;
    struct dsmr_reading *r = add_reading(
        t, ch->line, id, type, family_names[fam][owner[fam] == c ? 0 : c],
        DSMR_DS_DERIVE, v, 0);
    if (!r)
      return;
    r->time_kind = DSMR_AT_CAPTURE;
    r->capture_time = ch->capture;
    r->channel = (uint8_t)c;
  }
}

/* o, of table row `row` (e = &dsmr_obis_table[row]). */
static void map_object(const struct map_ctx *c, struct dsmr_telegram *t,
                       const struct dsmr_object *o, const struct obis_entry *e,
                       unsigned row, struct mbus_channel *chans) {
  struct dsmr_telegram_info *info = &t->info;
  struct dsmr_number n;
  uint64_t unit;
  const char *inst = e->type_instance;

  switch ((enum obis_kind)e->kind) {
  case OBIS_NAME_ONLY:
    return;
  case OBIS_ENERGY:
  case OBIS_REACTIVE_ENERGY:
  case OBIS_POWER:
  case OBIS_REACTIVE_POWER:
  case OBIS_APPARENT_POWER:
  case OBIS_VOLTAGE:
  case OBIS_CURRENT:
  case OBIS_FREQUENCY:
  case OBIS_POWER_FACTOR:
    if (value_number(c, t, o, row, &n, &unit) == 0) {
      const struct number_rule *rule = &number_rules[e->kind];
      const struct dsmr_reading *r = emit_number(t, o, rule, inst, &n, unit);
      if (r && (unit == rule->base || unit == rule->kilo))
        remember_reading(c, o, row, &n, r, unit == rule->base ? 0 : 3);
    }
    return;
  case OBIS_COUNT:
    emit_integer(c, t, o, row, "count", inst);
    return;
  case OBIS_TARIFF:
    emit_integer(c, t, o, row, "dsmr_tariff", inst);
    return;
  case OBIS_THRESHOLD: {
    /* The type follows the unit: meters limit power, apparent power or
     * current. */
    if (value_number(c, t, o, row, &n, &unit) != 0)
      return;
    enum obis_kind as = unit == DSMR_UNIT_NONE          ? OBIS_THRESHOLD
                        : unit == U_KVA || unit == U_VA ? OBIS_APPARENT_POWER
                        : unit == U_A                   ? OBIS_CURRENT
                                                        : OBIS_POWER;
    const struct number_rule *rule = &number_rules[as];
    const struct dsmr_reading *r = emit_number(t, o, rule, inst, &n, unit);
    if (r && (unit == rule->base || unit == rule->kilo))
      remember_reading(c, o, row, &n, r, unit == rule->base ? 0 : 3);
    return;
  }
  case OBIS_PEAK: {
    int64_t when;
    if (group_number(c, NM_PEAK, t, o, 1, &n, &unit) != 0)
      return;
    if (time_memo(c, TM_PEAK, o->groups[0], &when) != DSMR_TS_OK ||
        when < DSMR_EARLIEST_CAPTURE)
      return; /* no peak recorded yet this month */
    struct dsmr_reading *r =
        emit_number(t, o, &number_rules[OBIS_POWER], inst, &n, unit);
    if (r) {
      r->time_kind = DSMR_AT_CAPTURE;
      r->capture_time = when;
      r->flags = DSMR_READING_PEAK;
    }
    return;
  }
  case OBIS_PEAK_HISTORY:
    read_peak_history(c, t, o, inst);
    return;
  case OBIS_CURRENT_LIMITS:
    read_current_limits(c, t, o);
    return;
  case OBIS_INFO_VERSION:
    if (o->ngroups >= 1 &&
        number_memo(c, NM_VERSION, o->groups[0], &n, &unit) == 0 &&
        n.decimals == 0 && n.mantissa >= 0 && n.mantissa < 1000)
      info->version = (int)n.mantissa;
    return;
  case OBIS_INFO_VERSION_BE:
    /* e-MUCS "50217" = based on DSMR 5.0.2 */
    if (info->version == 0 && o->ngroups >= 1 &&
        number_memo(c, NM_VERSION_BE, o->groups[0], &n, &unit) == 0 &&
        n.decimals == 0 && n.mantissa >= 10000 && n.mantissa < 100000)
      info->version = (int)(n.mantissa / 1000);
    return;
  case OBIS_INFO_EQUIPMENT:
    if (o->ngroups >= 1)
      info->equipment_id = o->groups[0];
    return;
  case OBIS_INFO_EQUIPMENT_ALT:
    if (o->ngroups >= 1 && info->equipment_id.len == 0)
      info->equipment_id = o->groups[0];
    return;
  case OBIS_INFO_TIME:
    if (o->ngroups >= 1 &&
        parse_any_time(c, TM_METER, o->groups[0], &info->meter_time) == 0)
      info->has_meter_time = 1;
    return;
  case OBIS_INFO_TEXT:
    if (o->ngroups >= 1)
      info->text_message = o->groups[0];
    return;
  case OBIS_INFO_FAILURE_LOG:
    read_failure_log(c, t, o);
    return;
  case OBIS_MBUS_TYPE:
    /* set before a parse that may fail: gcc reads the fields below
     * branch-free, and valgrind then sees a jump on unset bytes */
    memset(&n, 0, sizeof n);
    if (o->ngroups >= 1 &&
        number_memo(c, NM_MBUS_TYPE + o->obis.b - 1, o->groups[0], &n, &unit) ==
            0 &&
        n.unit.len == 0 && n.decimals == 0 && n.mantissa >= 0 &&
        n.mantissa < 256)
      chans[o->obis.b].device = (int)n.mantissa;
    return;
  case OBIS_MBUS_READING:
    read_mbus(c, &chans[o->obis.b], o, 0);
    return;
  case OBIS_MBUS_READING_V3:
    read_mbus(c, &chans[o->obis.b], o, 1);
    return;
  }
}

/* Appends the decimal of v (0..255) at *at; 0, or -1 without room. */
static int put_field(char *buf, size_t cap, size_t *at, unsigned v, char sep) {
  char d[4];
  size_t n = 0;
  if (sep)
    d[n++] = sep;
  if (v >= 100)
    d[n++] = (char)('0' + v / 100);
  if (v >= 10)
    d[n++] = (char)('0' + v / 10 % 10);
  d[n++] = (char)('0' + v % 10);
  if (cap - *at <= n)
    return -1;
  memcpy(buf + *at, d, n);
  *at += n;
  return 0;
}

/* unitless_new: the ids of the rows in `rows`, space-separated, as many
 * whole ones as fit. */
COLD static void name_rows(struct dsmr_telegram *t, const uint64_t rows[2]) {
  char *buf = t->unitless_new;
  size_t at = 0, cap = sizeof t->unitless_new;
  for (unsigned row = 0; row < 128 && row < dsmr_obis_table_len; row++) {
    if (!(rows[row >> 6] >> (row & 63) & 1))
      continue;
    uint64_t k = dsmr_obis_table[row].key;
    size_t start = at;
    if (put_field(buf, cap, &at, (unsigned)(k >> 32 & 255), at ? ' ' : 0) !=
            0 ||
        put_field(buf, cap, &at, (unsigned)(k >> 24 & 255), '-') != 0 ||
        put_field(buf, cap, &at, (unsigned)(k >> 16 & 255), ':') != 0 ||
        put_field(buf, cap, &at, (unsigned)(k >> 8 & 255), '.') != 0 ||
        put_field(buf, cap, &at, (unsigned)(k & 255), '.') != 0) {
      at = start;
      break;
    }
  }
  buf[at] = 0;
}

unsigned dsmr_map_telegram(const char *frame, size_t len,
                           struct dsmr_telegram *t) {
  return dsmr_map_telegram_state(frame, len, t, NULL);
}

unsigned dsmr_map_telegram_state(const char *frame, size_t len,
                                 struct dsmr_telegram *t,
                                 struct dsmr_map_state *state) {
  struct dsmr_parser p;
  struct dsmr_object o;
  struct mbus_channel chans[DSMR_MBUS_CHANNELS + 1];
  enum dsmr_parse_status st;

  /* Reset only what is read back: readings[] is filled as it is counted. */
  t->info = (struct dsmr_telegram_info){0};
  t->nobjects = t->unknown_objects = t->nreadings = t->errors = 0;
  t->first_error_line = 0;
  t->first_error = NULL;
  t->first_error_obis[0] = 0;
  t->unitless = 0;
  t->unitless_rows[0] = t->unitless_rows[1] = 0;
  t->unitless_new[0] = 0;
  for (unsigned c = 0; c <= DSMR_MBUS_CHANNELS; c++) {
    chans[c].device = -1;
    chans[c].has_reading = 0;
    chans[c].unit.len = 0;
  }

  struct map_ctx ctx = {
      frame, frame ? frame + len : frame, state ? state->shape : NULL,
      0, /* lo_bound, span: only a NULL pointer passes */
      0, /* the window (test_short_frame) */
      state};
  if (frame && len >= 24) {
    ctx.lo_bound = (uintptr_t)(frame + 8);
    ctx.span = (uintptr_t)(frame + len - 16) - ctx.lo_bound;
  }
  dsmr_parser_init(&p, frame, len);
  t->info.header = p.header;
  /* The parser's loop, with its fast path (parser_fast.h) inlined here:
   * an ordinary line is read without a call, and without going through
   * the parser's state; anything else is the parser's (dsmr_parser_next
   * tries the fast path again first, and then reads the line as it
   * would have). */
  const char *pos = p.pos, *end = p.end;
  unsigned line = p.line;
  for (;;) {
    unsigned known;
    const char *next;
    if (end - pos >= OBIS_MAX &&
        (next = line_fast(pos, end, &o, &known)) != NULL) {
      o.line = line++;
      pos = next;
    } else {
      p.pos = pos;
      p.line = line;
      st = dsmr_parser_next(&p, &o);
      pos = p.pos;
      line = p.line;
      if (st == DSMR_PARSE_END)
        break;
      if (st == DSMR_PARSE_ERROR) {
        add_error(t, p.error_line, p.error, (struct dsmr_span){NULL, 0});
        continue;
      }
      known = p.known_row;
    }
    t->nobjects++;
    /* The parser often knows the row already (it read the id by text). */
    unsigned row;
    const struct obis_entry *e;
    if (known) {
      row = known - 1;
      e = &dsmr_obis_table[row];
    } else if ((e = dsmr_obis_find(&o.obis)) != NULL) {
      row = (unsigned)(e - dsmr_obis_table);
    } else {
      t->unknown_objects++;
      continue;
    }
    if (!reading_by_shape(&ctx, t, &o, e, row))
      map_object(&ctx, t, &o, e, row, chans);
  }
  uint8_t owner[FAM_COUNT] = {0};
  if (state)
    memcpy(owner, state->plain_owner, sizeof owner);
  emit_mbus(&ctx, t, chans, owner);
  if (state) {
    memcpy(state->plain_owner, owner, sizeof owner);
    if (t->unitless) {
      uint64_t news[2] = {t->unitless_rows[0] & ~state->unitless_told[0],
                          t->unitless_rows[1] & ~state->unitless_told[1]};
      if (news[0] | news[1]) {
        name_rows(t, news);
        state->unitless_told[0] |= news[0];
        state->unitless_told[1] |= news[1];
      }
    }
  }
  return t->errors;
}
