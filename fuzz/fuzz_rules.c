/* fuzz_rules: sequences of telegrams through parse -> map -> storing rules,
 * with one meter's rules state kept across the telegrams of an input.
 *
 * Input: 4 bytes of start time (seconds after 2024-01-01, modulo four
 * years), then 16 bytes per telegram (at most 64 telegrams):
 *   b0      lines present: 1 meter clock, 2 equipment id, 4 gas channel 1,
 *           8 gas channel 2, 16 peak demand, 32 peak history, 64 sags;
 *           128 timestamps without the S/W flag (DSMR 2.2/3, Belgium)
 *   b1      & 3: version line (none, 42, 50, 50); >> 2 & 3: equipment id
 *           (of four); >> 4: 15 meter clock a year ahead, 14 gas captures
 *           a year ahead, 13 registers reset to 0, 12 a wrong S/W flag
 *   b2 b3   arrival step, int16 in 1/4 s (may go back)
 *   b4 b5   meter clock minus arrival, int16 s
 *   b6 b7   import tariff 1 step, int16 Wh     b8  export step, int8 Wh
 *   b9      gas capture step, int8 x 300 s      b10 gas step, int8 x 10 L
 *   b11     gas channel 2 step, int8 x 100 L
 *   b12     peak: low nibble x 900 s time step, value step int8 x 10 W
 *   b13     peak history: & 3 months, >> 2 & 3 month step
 *   b14     sags step (% 3)                     b15 import tariff 2 step
 * The telegram text is written from these (the real format, CRC left
 * out: the mapper does not check it), mapped by dsmr_map_telegram, and
 * each clean telegram judged by dsmr_rules_telegram at its arrival.
 *
 * Invariants:
 *  - times strictly increase per identifier;
 *  - a register (dsmr_energy, dsmr_reactive_energy, dsmr_volume,
 *    dsmr_heat) is never stored lower than its last stored value unless a
 *    DSMR_EV_RESTARTED for it (in this telegram) or a DSMR_EV_REPLACED
 *    (since its last store) came first;
 *  - nothing is stored from a rejected telegram;
 *  - no capture value is stored at a time more than DSMR_RULES_FUTURE_S
 *    ahead of its telegram's arrival;
 *  - every event names a reading of the telegram (or none, for REPLACED). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_assert.h"
#include "mapper.h"
#include "store_rules.h"
#include "timestamp.h"

#define START 1704067200 /* 2024-01-01 */
#define STEP_BYTES 16
#define MAX_STEPS 64
#define YEAR (365 * 86400)

/* ---- the oracle's memory, per identifier (by name) ------------------- */

struct seen {
  char name[64];
  uint64_t last_time;
  int has_value;
  int64_t last_value;
  int swap_ok; /* a RESTARTED/REPLACED allows the next store to go lower */
};

static struct seen seen[2 * DSMR_IDENT_MAX];
static unsigned nseen;
static unsigned stores_now; /* in the telegram being judged */
static uint64_t arrival_now;
static const struct dsmr_telegram *tg_now;

static struct seen *seen_get(const struct dsmr_reading *r) {
  char name[64];
  snprintf(name, sizeof(name), "%s-%s", r->type, r->type_instance);
  for (unsigned i = 0; i < nseen; i++)
    if (strcmp(seen[i].name, name) == 0)
      return &seen[i];
  FZ_ASSERT(nseen < sizeof(seen) / sizeof(seen[0]));
  memset(&seen[nseen], 0, sizeof(seen[0]));
  memcpy(seen[nseen].name, name, sizeof(name));
  return &seen[nseen++];
}

static int is_register(const struct dsmr_reading *r) {
  return r->ds == DSMR_DS_DERIVE &&
         (strcmp(r->type, "dsmr_energy") == 0 ||
          strcmp(r->type, "dsmr_reactive_energy") == 0 ||
          strcmp(r->type, "dsmr_volume") == 0 ||
          strcmp(r->type, "dsmr_heat") == 0);
}

static void store_cb(void *ctx, const struct dsmr_reading *r,
                     const struct dsmr_rules_store *st) {
  uint64_t time = st->time, interval = st->interval;
  struct seen *s = seen_get(r);
  (void)ctx;
  FZ_ASSERT(r >= tg_now->readings && r < tg_now->readings + tg_now->nreadings);
  FZ_ASSERT_MSG(s->last_time == 0 || time > s->last_time,
                "%s stored at %" PRIu64 " after %" PRIu64, s->name, time,
                s->last_time);
  FZ_ASSERT(interval >= DSMR_RULES_SECOND &&
            interval <= 86400 * DSMR_RULES_SECOND);
  if (r->time_kind == DSMR_AT_CAPTURE)
    FZ_ASSERT_MSG(time <= arrival_now +
                              (uint64_t)DSMR_RULES_FUTURE_S * DSMR_RULES_SECOND,
                  "%s stored at %" PRIu64 ", arrival %" PRIu64, s->name,
                  time >> 30, arrival_now >> 30);
  if (is_register(r)) {
    FZ_ASSERT_MSG(!s->has_value || r->derive >= s->last_value || s->swap_ok,
                  "%s stored %" PRId64 " after %" PRId64
                  " without a swap event",
                  s->name, r->derive, s->last_value);
    s->has_value = 1;
    s->last_value = r->derive;
    s->swap_ok = 0;
  }
  s->last_time = time;
  stores_now++;
}

static void event_cb(void *ctx, const struct dsmr_rules_event *ev) {
  (void)ctx;
  if (ev->kind == DSMR_EV_REPLACED) {
    FZ_ASSERT(ev->reading == -1);
    for (unsigned i = 0; i < nseen; i++)
      seen[i].swap_ok = 1;
    return;
  }
  FZ_ASSERT(ev->reading >= 0 && (unsigned)ev->reading < tg_now->nreadings);
  FZ_ASSERT(ev->r == &tg_now->readings[ev->reading]);
  if (ev->kind == DSMR_EV_RESTARTED)
    seen_get(ev->r)->swap_ok = 1;
  if (ev->kind == DSMR_EV_HELD)
    FZ_ASSERT(ev->new_value < ev->old_value &&
              ev->old_value - ev->new_value <= DSMR_RULES_ROUNDING);
}

/* ---- writing telegrams ------------------------------------------------ */

struct gen {
  int64_t arrival_q; /* quarter seconds */
  int64_t t1, t2, exp, gas, gas2, sags;
  int64_t gas_capture, peak_time;
  int64_t peak_w;
};

static char text[8192];
static size_t tlen;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...) {
  va_list ap;
  if (tlen >= sizeof(text))
    return;
  va_start(ap, fmt);
  int n = vsnprintf(text + tlen, sizeof(text) - tlen, fmt, ap);
  va_end(ap);
  if (n > 0)
    tlen += (size_t)n < sizeof(text) - tlen ? (size_t)n : sizeof(text) - tlen;
}

/* "YYMMDDhhmmss[S|W]" of UTC time t, in Dutch/Belgian local time. */
static void stamp(int64_t t, int flagless, int wrong_flag) {
  int64_t y, days;
  unsigned mo, d;
  if (t < 946684800)
    t = 946684800;
  if (t > 4102444799 - 7200)
    t = 4102444799 - 7200;
  dsmr_civil_from_days(t / 86400, &y, &mo, &d);
  int summer = t >= dsmr_eu_dst_start(y) && t < dsmr_eu_dst_end(y);
  if (wrong_flag)
    summer = !summer;
  int64_t local = t + (summer ? 7200 : 3600);
  days = local / 86400;
  dsmr_civil_from_days(days, &y, &mo, &d);
  int64_t s = local % 86400;
  put("%02u%02u%02u%02u%02u%02u%s", (unsigned)(y % 100), mo, d,
      (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60),
      flagless ? ""
      : summer ? "S"
               : "W");
}

static int64_t clamp(int64_t v) {
  return v < 0 ? 0 : v > 999999999999 ? 999999999999 : v;
}

static void kwh(const char *obis, int64_t wh) {
  put("%s(%06" PRId64 ".%03d*kWh)\r\n", obis, wh / 1000, (int)(wh % 1000));
}

static const char *const ids[4] = {
    "4530303433303037313331363236373137", "4530303433303037313331363236373939",
    "4530303433303037313331363236373030", "E00430071316267"};

static int16_t i16(const uint8_t *p) {
  return (int16_t)(p[0] << 8 | p[1]);
}

static void write_telegram(struct gen *g, const uint8_t *b) {
  int flagless = (b[0] & 128) != 0;
  unsigned special = b[1] >> 4;
  int wrong = special == 12;
  int64_t arrival = g->arrival_q / 4;
  int64_t clock = arrival + i16(b + 4) + (special == 15 ? YEAR : 0);

  g->t1 = clamp(g->t1 + i16(b + 6));
  g->t2 = clamp(g->t2 + (int8_t)b[15]);
  g->exp = clamp(g->exp + (int8_t)b[8]);
  g->gas_capture += (int8_t)b[9] * 300;
  g->gas = clamp(g->gas + (int8_t)b[10] * 10);
  g->gas2 = clamp(g->gas2 + (int8_t)b[11] * 100);
  g->peak_time += (b[12] & 15) * 900;
  g->peak_w += (int8_t)b[12] * 10;
  if (g->peak_w < 0)
    g->peak_w = 0;
  g->sags += b[14] % 3;
  if (special == 13)
    g->t1 = g->t2 = g->exp = g->gas = 0;

  tlen = 0;
  put("/ISK5\\2M550T-1012\r\n\r\n");
  if ((b[1] & 3) != 0)
    put("1-3:0.2.8(%d)\r\n", (b[1] & 3) == 1 ? 42 : 50);
  if (b[0] & 1) {
    put("0-0:1.0.0(");
    stamp(clock, flagless, wrong);
    put(")\r\n");
  }
  if (b[0] & 2)
    put("0-0:96.1.1(%s)\r\n", ids[(b[1] >> 2) & 3]);
  kwh("1-0:1.8.1", g->t1);
  kwh("1-0:1.8.2", g->t2);
  kwh("1-0:2.8.1", g->exp);
  put("1-0:1.7.0(%02d.%03d*kW)\r\n", (int)(b[7] % 50), (int)(b[6] * 3 % 1000));
  if (b[0] & 64)
    put("1-0:32.32.0(%05" PRId64 ")\r\n", g->sags % 100000);
  if (b[0] & 16) {
    put("1-0:1.6.0(");
    stamp(g->peak_time, flagless, wrong);
    put(")(%02" PRId64 ".%03d*kW)\r\n", g->peak_w / 1000 % 100,
        (int)(g->peak_w % 1000));
  }
  if (b[0] & 32) {
    unsigned n = b[13] & 3, step = (b[13] >> 2 & 3) + 1;
    put("0-0:98.1.0(%u)(1-0:1.6.0)(1-0:1.6.0)", n);
    for (unsigned i = 0; i < n; i++) {
      int64_t when = g->peak_time - (int64_t)(n - i) * step * 30 * 86400;
      put("(");
      stamp(when, flagless, wrong);
      put(")(");
      stamp(when - 86400 * 3, flagless, wrong);
      put(")(%02u.%03u*kW)", (unsigned)(i + 1), (unsigned)(b[12] + i));
    }
    put("\r\n");
  }
  int64_t cap = g->gas_capture + (special == 14 ? YEAR : 0);
  if (b[0] & 4) {
    put("0-1:24.1.0(003)\r\n0-1:24.2.1(");
    stamp(cap, flagless, wrong);
    put(")(%05" PRId64 ".%03d*m3)\r\n", g->gas / 1000 % 100000,
        (int)(g->gas % 1000));
  }
  if (b[0] & 8) {
    put("0-2:24.1.0(003)\r\n0-2:24.2.1(");
    stamp(cap - 300, flagless, wrong);
    put(")(%05" PRId64 ".%03d*m3)\r\n", g->gas2 / 1000 % 100000,
        (int)(g->gas2 % 1000));
  }
  put("!");
}

static struct dsmr_rules rules;
static struct dsmr_rules_result result;
static struct dsmr_telegram tg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct gen g;

  if (size < 4)
    return 0;
  uint32_t off = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                 (uint32_t)data[2] << 8 | data[3];
  memset(&g, 0, sizeof(g));
  g.arrival_q = 4 * ((int64_t)START + off % (4u * YEAR));
  g.t1 = 1000000;
  g.gas = 100000;
  g.gas2 = 5000000;
  g.gas_capture = g.arrival_q / 4 - 300;
  g.peak_time = g.arrival_q / 4 - 86400;
  g.peak_w = 2500;
  data += 4;
  size -= 4;

  dsmr_rules_init(&rules);
  nseen = 0;
  tg_now = &tg;
  for (unsigned step = 0; step < MAX_STEPS && size >= STEP_BYTES; step++) {
    g.arrival_q += i16(data + 2);
    if (g.arrival_q < 4 * 946684800LL)
      g.arrival_q = 4 * 946684800LL;
    write_telegram(&g, data);
    data += STEP_BYTES;
    size -= STEP_BYTES;

    unsigned errors = dsmr_map_telegram(text, tlen, &tg);
    if (errors != 0 || tg.nobjects == 0)
      continue; /* the plugin counts it malformed: no rules */
    arrival_now = ((uint64_t)(g.arrival_q / 4) << 30) +
                  ((uint64_t)(g.arrival_q % 4) << 28);
    stores_now = 0;
    int rejected = dsmr_rules_telegram(&rules, &tg, arrival_now, &result);
    FZ_ASSERT(rejected == 0 || rejected == 1);
    FZ_ASSERT(result.rejected == rejected);
    /* The bound of DSMR_RULES_MAX_EVENTS holds: no event is ever lost. */
    FZ_ASSERT_MSG(result.events_lost == 0, "%u events lost",
                  result.events_lost);
    FZ_ASSERT(result.nstore <= tg.nreadings);
    /* In the rules' order: an event before the values it explains. */
    dsmr_rules_result_walk(&result, &tg, NULL, store_cb, event_cb);
    if (rejected)
      FZ_ASSERT_MSG(stores_now == 0,
                    "%u values stored from a rejected "
                    "telegram",
                    stores_now);
  }
  return 0;
}
