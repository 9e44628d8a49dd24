/* The mapper: OBIS objects of real telegrams to collectd identifiers, with
 * exact unit conversion and the right time for each value. */
#include "mapper.h"
#include "obis_table.h"
#include "timestamp.h"

#include "tap.h"

#include <stdlib.h>

static char file_buf[65536];

/* The frame ('/' .. '!') of a corpus telegram. */
static struct dsmr_span corpus_frame(const char *id) {
  const char *top = getenv("top_srcdir");
  char path[1024];
  struct dsmr_span s = {NULL, 0};
  snprintf(path, sizeof path, "%s/tests/corpus/telegrams/%s.p1",
           top ? top : "..", id);
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("# cannot open %s\n", path);
    return s;
  }
  size_t n = fread(file_buf, 1, sizeof file_buf - 1, f);
  fclose(f);
  file_buf[n] = 0;
  char *start = memchr(file_buf, '/', n);
  char *bang =
      start ? memchr(start, '!', n - (size_t)(start - file_buf)) : NULL;
  if (start && bang) {
    s.ptr = start;
    s.len = (size_t)(bang - start) + 1;
  }
  return s;
}

static const struct dsmr_reading *find(const struct dsmr_telegram *t,
                                       const char *type, const char *inst) {
  for (unsigned i = 0; i < t->nreadings; i++)
    if (strcmp(t->readings[i].type, type) == 0 &&
        strcmp(t->readings[i].type_instance, inst) == 0)
      return &t->readings[i];
  return NULL;
}

static struct dsmr_telegram t;

static void map_corpus(const char *id) {
  struct dsmr_span s = corpus_frame(id);
  unsigned errors = dsmr_map_telegram(s.ptr ? s.ptr : "", s.len, &t);
  is_int(errors, 0, "%s maps without errors%s%s", id, t.first_error ? ": " : "",
         t.first_error ? t.first_error : "");
}

#define DERIVE(type, inst, want)                                               \
  do {                                                                         \
    const struct dsmr_reading *r_ = find(&t, type, inst);                      \
    if (!ok(r_ && r_->ds == DSMR_DS_DERIVE && r_->derive == (want),            \
            "%s-%s = %lld", type, inst, (long long)(want)) &&                  \
        r_)                                                                    \
      printf("#   got %lld\n", (long long)r_->derive);                         \
  } while (0)

#define GAUGE(type, inst, want)                                                \
  do {                                                                         \
    const struct dsmr_reading *r_ = find(&t, type, inst);                      \
    if (!ok(r_ && r_->ds == DSMR_DS_GAUGE && r_->gauge == (want),              \
            "%s-%s = %.17g", type, inst, (double)(want)) &&                    \
        r_)                                                                    \
      printf("#   got %.17g\n", r_->gauge);                                    \
  } while (0)

#define ABSENT(type, inst)                                                     \
  ok(find(&t, type, inst) == NULL, "no %s-%s", type, inst)

#define CAPTURED(type, inst, when, chan)                                       \
  do {                                                                         \
    const struct dsmr_reading *r_ = find(&t, type, inst);                      \
    ok(r_ && r_->time_kind == DSMR_AT_CAPTURE && r_->capture_time == (when) && \
           r_->channel == (chan),                                              \
       "%s-%s captured at %lld on channel %d", type, inst, (long long)(when),  \
       chan);                                                                  \
  } while (0)

static void test_table_sorted(void) {
  int sorted = 1;
  for (unsigned i = 1; i < dsmr_obis_table_len; i++)
    if (dsmr_obis_table[i - 1].key >= dsmr_obis_table[i].key)
      sorted = 0;
  ok(sorted, "OBIS table sorted by key without duplicates (%u rows)",
     dsmr_obis_table_len);
  unsigned found = 0;
  for (unsigned i = 0; i < dsmr_obis_table_len; i++) {
    uint64_t k = dsmr_obis_table[i].key;
    struct dsmr_obis id = {(uint8_t)(k >> 32), (uint8_t)(k >> 24),
                           (uint8_t)(k >> 16), (uint8_t)(k >> 8),
                           (uint8_t)k,         255};
    found += dsmr_obis_lookup(&id) == &dsmr_obis_table[i];
  }
  is_int(found, dsmr_obis_table_len, "every row found by lookup");
  struct dsmr_obis gas3 = {0, 3, 24, 2, 1, 255}, gas5 = {0, 5, 24, 2, 1, 255},
                   f = {1, 0, 1, 8, 1, 7};
  ok(dsmr_obis_lookup(&gas3) != NULL, "M-Bus channel 3 shares the row");
  ok(dsmr_obis_lookup(&gas5) == NULL, "M-Bus channel 5 is unknown");
  ok(dsmr_obis_lookup(&f) == NULL, "F field other than 255 is unknown");
  is_str(dsmr_obis_name(&(struct dsmr_obis){1, 0, 1, 8, 1, 255}),
         "Energy imported, tariff 1", "name of 1-0:1.8.1");
}

static void test_seed_e350(void) {
  map_corpus("seed_lg_e350_dsmr40");
  DERIVE("dsmr_energy", "import_t1", 687138);
  DERIVE("dsmr_energy", "import_t2", 523849);
  DERIVE("dsmr_energy", "export_t1", 0);
  DERIVE("dsmr_energy", "export_t2", 0);
  GAUGE("power", "import", 428);
  GAUGE("power", "export", 0);
  GAUGE("power", "import_l1", 428);
  GAUGE("current", "l1", 2);
  GAUGE("dsmr_tariff", "", 1);
  GAUGE("count", "power_failures", 2);
  GAUGE("count", "voltage_sags_l1", 0);
  GAUGE("power", "threshold", 999900);
  DERIVE("dsmr_volume", "gas", 435247);
  CAPTURED("dsmr_volume", "gas", 1419696000, 1); /* 2014-12-27T16:00Z */
  const struct dsmr_reading *r = find(&t, "power", "import");
  ok(r && r->time_kind == DSMR_AT_TELEGRAM, "electricity at telegram time");
  is_int(t.info.version, 40, "DSMR version 40");
  ok(dsmr_span_eq(t.info.header, "XMX5LGBBFFB123456789"), "header");
  ok(dsmr_span_eq(t.info.equipment_id, "4530303034303031353535383123456789"),
     "equipment id");
  ok(t.info.has_meter_time && t.info.meter_time == 1419699803,
     "meter time 2014-12-27T17:03:23Z");
  is_int(t.info.failure_log_entries, 0, "empty failure log");
}

static void test_two_mbus(void) {
  /* channel 1 is dead (700101010000W), the gas meter is on channel 2 */
  map_corpus("ndokter_v5_two_mbus");
  DERIVE("dsmr_volume", "gas", 246138);
  CAPTURED("dsmr_volume", "gas", 1587933001, 2);
  ABSENT("dsmr_volume", "gas_ch1");
  ABSENT("dsmr_volume", "gas_ch2");
  GAUGE("count", "voltage_sags_l3", 192);
  GAUGE("voltage", "l3", 222.9);
  is_int(t.info.failure_log_entries, 1, "one failure log entry");
  is_int(t.info.failure_last_end, 1553590215,
         "failure ended 2019-03-26T08:50:15Z");
  is_int(t.info.failure_last_duration, 2014, "failure lasted 2014 s");
}

static void test_fluvius(void) {
  map_corpus("ndokter_fluvius_v171");
  DERIVE("dsmr_volume", "gas", 112384); /* from 24.2.3 */
  CAPTURED("dsmr_volume", "gas", 1589283958, 1);
  DERIVE("dsmr_volume", "water", 872234);
  CAPTURED("dsmr_volume", "water", 1589283958, 2);
  GAUGE("power", "demand_average", 2351);
  GAUGE("power", "demand_peak_month", 2589);
  CAPTURED("power", "demand_peak_month", 1589024758, 0);
  GAUGE("current", "limit_l1", 999);
  is_int(t.info.version, 50, "e-MUCS 50217 -> DSMR 5.0 base");
}

static void test_others(void) {
  map_corpus("ndokter_warmtelink_unpadded_crc");
  DERIVE("dsmr_heat", "heat", 240860); /* GJ -> MJ */

  map_corpus("ndokter_v2_2");
  DERIVE("dsmr_volume", "gas", 1001);
  /* 161107190000 without flag: November, so CET: 18:00Z */
  CAPTURED("dsmr_volume", "gas", 1478541600, 1);
  GAUGE("power", "import", 1010);

  map_corpus("ndokter_q3d_b1024");
  DERIVE("dsmr_energy", "import", 52185782); /* 7 decimals, floored */
  GAUGE("power", "import_l1", 747.85);
  GAUGE("power", "import", 2124.86);

  map_corpus("ndokter_eon_hungary");
  GAUGE("frequency", "", 50);
  GAUGE("dsmr_power_factor", "total", 4.556);
  DERIVE("dsmr_reactive_energy", "q1", 668);
  DERIVE("dsmr_reactive_energy", "export", 303131);
  DERIVE("dsmr_energy", "import_t4", 0);
  DERIVE("dsmr_energy", "absolute", 800817);
  GAUGE("dsmr_reactive_power", "q3", 504);
  GAUGE("current", "limit_l3", 200);

  map_corpus("dsmrreader_sweden_kamstrup"); /* kVArh with capitals */
  ok(find(&t, "dsmr_reactive_energy", "import") != NULL,
     "kVArh accepted as reactive energy");

  map_corpus("dsmrreader_smarty"); /* threshold in kVA */
  ok(find(&t, "dsmr_apparent_power", "threshold") != NULL,
     "kVA threshold is apparent power");

  map_corpus("ndokter_sagemcom_t210dr_austria"); /* Wh, W, varh, var */
  ok(find(&t, "dsmr_energy", "import") != NULL, "Wh register mapped");

  map_corpus("dsmrreader_generic_mbus_no_devicetype");
  ok(find(&t, "dsmr_volume", "gas") != NULL, "gas without device type line");

  map_corpus("dsmrreader_fluvius_two_gas");
  ok(find(&t, "dsmr_volume", "gas") != NULL, "first gas meter");

  map_corpus("dsmr5rs_mcs_zero_clock");
  ABSENT("dsmr_volume", "gas");
  ok(!t.info.has_meter_time, "all-zero meter clock is no time");
}

/* The k-th reading (0-based) of an identifier, or NULL. */
static const struct dsmr_reading *nth(const char *type, const char *inst,
                                      unsigned k) {
  for (unsigned i = 0; i < t.nreadings; i++)
    if (strcmp(t.readings[i].type, type) == 0 &&
        strcmp(t.readings[i].type_instance, inst) == 0 && k-- == 0)
      return &t.readings[i];
  return NULL;
}

static unsigned count_of(const char *type, const char *inst) {
  unsigned n = 0;
  while (nth(type, inst, n))
    n++;
  return n;
}

static unsigned map_text(const char *text) {
  return dsmr_map_telegram(text, strlen(text), &t);
}

/* A history entry: value (W) at capture time. */
#define HISTORY(k, want, when)                                                 \
  do {                                                                         \
    const struct dsmr_reading *r_ = nth("power", "demand_peak_history", k);    \
    if (!ok(r_ && r_->gauge == (want) && r_->time_kind == DSMR_AT_CAPTURE &&   \
                r_->capture_time == (when),                                    \
            "peak history entry %d: %.0f W at %lld", k, (double)(want),        \
            (long long)(when)) &&                                              \
        r_)                                                                    \
      printf("#   got %.17g at %lld\n", r_->gauge,                             \
             (long long)r_->capture_time);                                     \
  } while (0)

/* Belgium (e-MUCS): average and peak demand, the peak history, tariff,
 * gas in 24.2.3, M-Bus ids. */
static void test_belgium(void) {
  map_corpus("ndokter_fluvius_v171_alt");
  GAUGE("power", "demand_average", 52);
  GAUGE("power", "demand_peak_month", 3064);
  CAPTURED("power", "demand_peak_month", 1698921900, 0); /* 11:45W */
  const struct dsmr_reading *r = find(&t, "power", "demand_peak_month");
  ok(r && (r->flags & DSMR_READING_PEAK), "the month's peak is flagged news");
  /* (4) entries; July's has a placeholder time (632525252525W): skipped.
   * Each at its peak time, not at the month stamp. */
  is_int(count_of("power", "demand_peak_history"), 3, "3 history entries");
  HISTORY(0, 1862, 1693498500); /* 230831181500S = 16:15Z */
  HISTORY(1, 4229, 1694363400); /* 230910183000S = 16:30Z */
  HISTORY(2, 4927, 1697454000); /* 231016130000S = 11:00Z */
  r = nth("power", "demand_peak_history", 0);
  ok(r && !(r->flags & DSMR_READING_PEAK), "history entries are not news");
  GAUGE("dsmr_tariff", "", 1); /* 1 = normal (day) in Belgium */
  GAUGE("power", "threshold", 999900);
  GAUGE("current", "limit_l1", 999);
  GAUGE("current", "l1", 0.27);        /* two decimals in Belgium */
  DERIVE("dsmr_volume", "gas", 92287); /* 0-1:24.2.3, not corrected */
  CAPTURED("dsmr_volume", "gas", 1698923402, 1);
  DERIVE("dsmr_volume", "water", 8579);
  CAPTURED("dsmr_volume", "water", 1698923732, 2);
  ok(dsmr_span_eq(t.info.equipment_id, "3153414733313030373231333236"),
     "electricity equipment id from 0-0:96.1.1, not the M-Bus ones");
  is_str(dsmr_obis_name(&(struct dsmr_obis){0, 2, 96, 1, 1, 255}),
         "M-Bus equipment identifier", "0-n:96.1.1 is known (listed)");
  is_int(t.unknown_objects, 0, "every object of the telegram is known");

  map_corpus("dsmrreader_fluvius_peak"); /* one entry */
  is_int(count_of("power", "demand_peak_history"), 1, "one history entry");
  HISTORY(0, 3332, 1673696700); /* 230114124500W */

  /* Entries out of order are given oldest first; a peak in W; an entry
   * whose value is no number makes the telegram unclean. */
  is_int(map_text("/FLU5\\253769484_A\r\n\r\n"
                  "0-0:98.1.0(3)(1-0:1.6.0)(1-0:1.6.0)"
                  "(230301000000W)(230214164500W)(03.854*kW)"
                  "(230201000000W)(230117224500W)(04329*W)"
                  "(230401000000S)(230331235959S)(02.000*kW)\r\n!"),
         0, "a history out of order maps");
  is_int(count_of("power", "demand_peak_history"), 3, "3 entries");
  HISTORY(0, 4329, 1673991900); /* 230117224500W */
  HISTORY(1, 3854, 1676389500); /* 230214164500W */
  HISTORY(2, 2000, 1680299999); /* 230331235959S */
  is_int(map_text("/FLU5\\253769484_A\r\n\r\n"
                  "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)"
                  "(230201000000W)(230117224500W)(04.3x9*kW)\r\n!"),
         1, "a history value that is no number is an error");
  is_int(map_text("/FLU5\\253769484_A\r\n\r\n"
                  "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)"
                  "(230201000000W)(230117224500W)(04.329*kWh)\r\n!"),
         1, "a history value in kWh is an error");
  /* The count says how many entries there are; extra groups are not. */
  is_int(map_text("/FLU5\\253769484_A\r\n\r\n"
                  "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)"
                  "(230201000000W)(230117224500W)(04.329*kW)"
                  "(230301000000W)(230214164500W)(03.854*kW)\r\n!"),
         0, "a count below the entries given");
  is_int(count_of("power", "demand_peak_history"), 1, "the count rules");

  /* Hungarian meters send billing values under the same id: not peaks. */
  map_corpus("ndokter_eon_hungary");
  is_int(count_of("power", "demand_peak_history"), 0,
         "Hungarian 0-0:98.1.0 billing profile is not dispatched");

  map_corpus("esphomelibs_synthetic_all_fields"); /* second peak in W */
  is_int(count_of("power", "demand_peak_history"), 2, "2 entries");
  HISTORY(1, 4529, 1676411100); /* 230214224500W */
}

/* Smarty (Luxembourg) limiter and fuse, 0-0:17.0.0 thresholds. */
static void test_limits(void) {
  is_int(map_text("/Lux5\\253694471_M\r\n\r\n"
                  "0-0:17.0.0(069.0*kVA)\r\n"
                  "1-1:31.4.0(100*A)(-063*A)\r\n!"),
         0, "Smarty limiter lines map");
  GAUGE("dsmr_apparent_power", "threshold", 69000);
  GAUGE("current", "limit_import", 100);
  GAUGE("current", "limit_export", -63);
  is_int(map_text("/Lux5\\253694471_M\r\n\r\n"
                  "1-1:31.4.0(100.0*A,-100.0*A)\r\n!"),
         0, "the one-group form with a comma maps");
  GAUGE("current", "limit_import", 100);
  GAUGE("current", "limit_export", -100);
  is_int(map_text("/X\r\n\r\n1-1:31.4.0(040*A)\r\n!"), 0,
         "an import limit alone");
  GAUGE("current", "limit_import", 40);
  ABSENT("current", "limit_export");
  is_int(map_text("/X\r\n\r\n1-1:31.4.0(100*A)(-063*V)\r\n!"), 1,
         "a limit in volts is an error");
  is_int(map_text("/X\r\n\r\n1-1:31.4.0(100*A,x)\r\n!"), 1,
         "a limit that is no number is an error");
  is_int(map_text("/X\r\n\r\n1-1:31.4.0()\r\n!"), 1,
         "an empty limit is an error");
  is_int(map_text("/X\r\n\r\n0-0:17.0.0(999.9*kW)\r\n"
                  "1-0:31.4.0(200.00*A)\r\n1-0:51.4.0(200.00*A)\r\n"
                  "1-0:71.4.0(016*A)\r\n!"),
         0, "kW threshold, per-phase fuses");
  GAUGE("power", "threshold", 999900);
  GAUGE("current", "limit_l1", 200);
  GAUGE("current", "limit_l2", 200);
  GAUGE("current", "limit_l3", 16);
  is_int(map_text("/X\r\n\r\n0-0:17.0.0(016*A)\r\n!"), 0, "A threshold");
  GAUGE("current", "threshold", 16);
}

/* Sweden (HAN H1), Luxembourg, Austria, Hungary: reactive and apparent
 * registers with their units scaled to the base unit. */
static void test_reactive(void) {
  /* Swedish format: 8.3 kVArh, 4.3 kW / kVAr, signed current 3.1. */
  is_int(map_text("/KAM5\r\n\r\n"
                  "0-0:1.0.0(211115100940W)\r\n"
                  "1-0:3.8.0(00000012.345*kVArh)\r\n"
                  "1-0:4.8.0(00000001.002*kVArh)\r\n"
                  "1-0:3.7.0(0001.250*kVAr)\r\n"
                  "1-0:4.7.0(0000.075*kVAr)\r\n"
                  "1-0:23.7.0(0000.101*kVAr)\r\n"
                  "1-0:24.7.0(0000.102*kVAr)\r\n"
                  "1-0:43.7.0(0000.103*kVAr)\r\n"
                  "1-0:44.7.0(0000.104*kVAr)\r\n"
                  "1-0:63.7.0(0000.105*kVAr)\r\n"
                  "1-0:64.7.0(0000.106*kVAr)\r\n"
                  "1-0:31.7.0(-001.5*A)\r\n!"),
         0, "Swedish reactive registers map");
  DERIVE("dsmr_reactive_energy", "import", 12345);
  DERIVE("dsmr_reactive_energy", "export", 1002);
  GAUGE("dsmr_reactive_power", "import", 1250);
  GAUGE("dsmr_reactive_power", "export", 75);
  GAUGE("dsmr_reactive_power", "import_l1", 101);
  GAUGE("dsmr_reactive_power", "export_l1", 102);
  GAUGE("dsmr_reactive_power", "import_l2", 103);
  GAUGE("dsmr_reactive_power", "export_l2", 104);
  GAUGE("dsmr_reactive_power", "import_l3", 105);
  GAUGE("dsmr_reactive_power", "export_l3", 106);
  GAUGE("current", "l1", -1.5);

  /* Luxembourg: apparent power in kVA. Per phase (IEC 62056 C = 29/30,
   * 49/50, 69/70) in VA, as some meters write it. */
  is_int(map_text("/Lux5\\253694471_M\r\n\r\n"
                  "1-0:9.7.0(00.021*kVA)\r\n"
                  "1-0:10.7.0(01.500*kVA)\r\n"
                  "1-0:29.7.0(11*VA)\r\n1-0:30.7.0(12*VA)\r\n"
                  "1-0:49.7.0(13*VA)\r\n1-0:50.7.0(14*VA)\r\n"
                  "1-0:69.7.0(15*VA)\r\n1-0:70.7.0(16*VA)\r\n!"),
         0, "apparent power maps");
  GAUGE("dsmr_apparent_power", "import", 21);
  GAUGE("dsmr_apparent_power", "export", 1500);
  GAUGE("dsmr_apparent_power", "import_l1", 11);
  GAUGE("dsmr_apparent_power", "export_l1", 12);
  GAUGE("dsmr_apparent_power", "import_l2", 13);
  GAUGE("dsmr_apparent_power", "export_l2", 14);
  GAUGE("dsmr_apparent_power", "import_l3", 15);
  GAUGE("dsmr_apparent_power", "export_l3", 16);
  is_int(map_text("/X\r\n\r\n1-0:9.7.0(00.021*kvar)\r\n!"), 1,
         "apparent power in kvar is an error");
  is_int(map_text("/X\r\n\r\n1-0:3.7.0(00.021*kVA)\r\n!"), 1,
         "reactive power in kVA is an error");

  /* Austria: base units (Wh, W, varh, var) as they are. */
  map_corpus("ndokter_sagemcom_t210dr_austria");
  DERIVE("dsmr_reactive_energy", "import", 747);
  DERIVE("dsmr_reactive_energy", "import_t2", 747);
  DERIVE("dsmr_reactive_energy", "export", 3897726);
  DERIVE("dsmr_reactive_energy", "export_t1", 2692848);
  GAUGE("dsmr_reactive_power", "export", 166);
  DERIVE("dsmr_energy", "import", 6545766);
  GAUGE("power", "import", 286);

  /* Hungary: quadrants, power factor total and per phase, frequency. */
  map_corpus("ndokter_eon_hungary");
  DERIVE("dsmr_reactive_energy", "import", 123);
  DERIVE("dsmr_reactive_energy", "q1", 668);
  DERIVE("dsmr_reactive_energy", "q2", 71);
  DERIVE("dsmr_reactive_energy", "q3", 160487);
  DERIVE("dsmr_reactive_energy", "q4", 143346);
  GAUGE("dsmr_reactive_power", "q1", 0);
  GAUGE("dsmr_reactive_power", "q3", 504);
  GAUGE("dsmr_power_factor", "total", 4.556);
  GAUGE("dsmr_power_factor", "l1", 4.591);
  GAUGE("dsmr_power_factor", "l2", 4.542);
  GAUGE("dsmr_power_factor", "l3", 4.552);
  GAUGE("frequency", "", 50);
  GAUGE("power", "threshold", 90000);

  /* Quadrant powers in kvar, tariff reactive registers, power factor
   * without unit only, frequency in Hz only. */
  is_int(map_text("/X\r\n\r\n"
                  "1-0:5.7.0(00.010*kvar)\r\n1-0:6.7.0(00.020*kvar)\r\n"
                  "1-0:7.7.0(00.030*kvar)\r\n1-0:8.7.0(00.040*kvar)\r\n"
                  "1-0:3.8.1(000001.001*kvarh)\r\n"
                  "1-0:4.8.4(000004.004*kvarh)\r\n"
                  "1-0:13.7.0(0.998)\r\n1-0:33.7.0(-0.975)\r\n"
                  "1-0:14.7.0(49.98*Hz)\r\n!"),
         0, "quadrants, tariffs, power factor, frequency");
  GAUGE("dsmr_reactive_power", "q1", 10);
  GAUGE("dsmr_reactive_power", "q2", 20);
  GAUGE("dsmr_reactive_power", "q3", 30);
  GAUGE("dsmr_reactive_power", "q4", 40);
  DERIVE("dsmr_reactive_energy", "import_t1", 1001);
  DERIVE("dsmr_reactive_energy", "export_t4", 4004);
  GAUGE("dsmr_power_factor", "total", 0.998);
  GAUGE("dsmr_power_factor", "l1", -0.975);
  GAUGE("frequency", "", 49.98);
  is_int(map_text("/X\r\n\r\n1-0:13.7.0(0.998*kW)\r\n!"), 1,
         "a power factor with a unit is an error");
  is_int(map_text("/X\r\n\r\n1-0:14.7.0(50.00*V)\r\n!"), 1,
         "a frequency in volts is an error");
}

static const char *all_ids[] = {"arduinodsmr_example_kaifa_v40",
                                "athombv_luxembourg_spec_example",
                                "arduinodsmr_example_minimal",
                                "dsmr5rs_isk_am550e",
                                "dsmr5rs_kaifa_ma105",
                                "dsmr5rs_mcs_zero_clock",
                                "dsmr5rs_t211_enexis",
                                "dsmrreader_example_dsmr50_spec",
                                "dsmrreader_fluvius_1ph_2020",
                                "dsmrreader_fluvius_3ph_2019",
                                "dsmrreader_fluvius_nogas",
                                "dsmrreader_fluvius_peak",
                                "dsmrreader_fluvius_two_gas",
                                "dsmrreader_generic_lg350_v40",
                                "dsmrreader_generic_mbus_no_devicetype",
                                "dsmrreader_iskra_am550e_gas_ch2",
                                "dsmrreader_iskra_am550t_empty_log",
                                "dsmrreader_iskra_mt382_dsmr22",
                                "dsmrreader_kaifa_dsmr42",
                                "dsmrreader_kaifa_stream_after_partial",
                                "dsmrreader_lg350_dsmr40",
                                "dsmrreader_lg350_dsmr42",
                                "dsmrreader_lg350_other_dsmr42_gas_ch2",
                                "dsmrreader_smarty",
                                "dsmrreader_sweden_kamstrup",
                                "esphomelibs_synthetic_all_fields",
                                "esphomelibs_synthetic_multiline_values",
                                "ndokter_eon_hungary",
                                "ndokter_fluvius_v171",
                                "ndokter_fluvius_v171_alt",
                                "ndokter_iskra_ie5t",
                                "ndokter_q3d_a1004",
                                "ndokter_q3d_b1024",
                                "ndokter_sagemcom_t210dr_austria",
                                "ndokter_v2_2",
                                "ndokter_v3",
                                "ndokter_v4_2",
                                "ndokter_v5",
                                "ndokter_v5_two_mbus",
                                "ndokter_warmtelink_unpadded_crc",
                                "openhab_smarty_unitless",
                                "seed_lg_e350_dsmr40"};

static void test_all_corpus(void) {
  for (size_t i = 0; i < sizeof all_ids / sizeof all_ids[0]; i++) {
    map_corpus(all_ids[i]);
    ok(t.nreadings > 0, "%s gives values (%u)", all_ids[i], t.nreadings);
  }
}

static void test_errors(void) {
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(000687.138*kW)\r\n!"), 1,
         "energy in kW is an error");
  is_str(t.first_error, "unexpected unit", "reason");
  is_int(t.first_error_line, 3, "on line 3");
  is_str(t.first_error_obis, "1-0:1.8.1", "names the object");
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(0006x7.138*kWh)\r\n1-0:1.7.0(00.428*kW)"
                  "\r\n!"),
         1, "a register that is not a number is an error");
  is_int(t.nreadings, 1, "the other value is still read (caller drops all)");
  ok(map_text("/X\r\n\r\ngarbage line\r\n1-0:1.7.0(00.428*kW)\r\n!") >= 1,
     "a malformed line is an error");
  ok(find(&t, "power", "import") != NULL, "and the rest is still read");
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(-00001.000*kWh)\r\n!"), 1,
         "a negative register is an error");
  is_int(map_text("/X\r\n\r\n0-0:96.14.0(0001.5)\r\n!"), 1,
         "a fractional tariff is an error");
  is_int(map_text("/X\r\n\r\n9-9:9.9.9(whatever)\r\n!"), 0,
         "an unknown object is not an error");
  is_int(t.unknown_objects, 1, "but it is counted");
  is_int(map_text("/X\r\n\r\n0-1:24.1.0(003)\r\n"
                  "0-1:24.2.1(141227170000W)(00435.2x7*m3)\r\n!"),
         1, "a gas value that is not a number is an error");
  is_int(map_text("/X\r\n\r\n0-1:24.1.0(003)\r\n"
                  "0-1:24.2.1(141227170000W)(00435.247*kWh)\r\n!"),
         0, "a gas device reading kWh is an energy register");
  DERIVE("dsmr_energy", "gas", 435247);
  is_int(map_text("/X\r\n\r\n0-1:24.1.0(003)\r\n"
                  "0-1:24.2.1(141227170000W)(00435.247*V)\r\n!"),
         1, "a gas device reading volts is an error");
  /* two gas meters: the second is told apart by its channel */
  is_int(map_text("/X\r\n\r\n0-1:24.1.0(003)\r\n"
                  "0-1:24.2.1(141227170000W)(00001.000*m3)\r\n"
                  "0-3:24.1.0(003)\r\n"
                  "0-3:24.2.1(141227170000W)(00002.000*m3)\r\n!"),
         0, "two gas meters");
  DERIVE("dsmr_volume", "gas", 1000);
  DERIVE("dsmr_volume", "gas_ch3", 2000);
  /* device type line after the reading */
  is_int(map_text("/X\r\n\r\n0-2:24.2.1(141227170000W)(00001.000*m3)\r\n"
                  "0-2:24.1.0(007)\r\n!"),
         0, "device type after the reading");
  DERIVE("dsmr_volume", "water", 1000);
  /* an exact conversion, well beyond double precision concerns */
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(999999.999*kWh)\r\n!"), 0, "big");
  DERIVE("dsmr_energy", "import_t1", 999999999);
}

/* Values without a unit (Luxembourg Smarty): read in the unit of the OBIS
 * table when the number has that unit's format, counted; a wrong unit and
 * a number of another format are still errors. */
static void test_unitless(void) {
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(000687.138)\r\n1-0:1.7.0(01.193)\r\n"
                  "1-0:3.7.0(00.000)\r\n1-0:4.7.0(00.007)\r\n"
                  "0-0:17.0.0(77.376)\r\n1-0:32.7.0(230.1)\r\n"
                  "1-0:31.7.0(002)\r\n1-0:14.7.0(49.98)\r\n!"),
         0, "values without a unit are read");
  DERIVE("dsmr_energy", "import_t1", 687138);
  GAUGE("power", "import", 1193);
  GAUGE("dsmr_reactive_power", "import", 0);
  GAUGE("dsmr_reactive_power", "export", 7);
  GAUGE("dsmr_apparent_power", "threshold", 77376);
  GAUGE("voltage", "l1", 230.1);
  GAUGE("current", "l1", 2);
  GAUGE("frequency", "", 49.98);
  is_int(t.unitless, 8, "and counted");
  is_str(t.unitless_new, "", "without a state nothing is named");
  is_int(
      map_text("/X\r\n\r\n1-0:1.7.0(01.193*kW)\r\n0-0:17.0.0(999.9*kW)\r\n!"),
      0, "with units");
  is_int(t.unitless, 0, "nothing counted");
  GAUGE("power", "threshold", 999900);

  is_int(map_text("/X\r\n\r\n1-0:3.7.0(00.007*kW)\r\n!"), 1,
         "a wrong unit is still an error");
  is_str(t.first_error, "unexpected unit", "reason");
  is_int(t.unitless, 0, "nothing counted");
  is_int(map_text("/X\r\n\r\n1-0:1.7.0(7)\r\n!"), 1,
         "kW or W? a unitless power without its 3 decimals is an error");
  is_str(t.first_error, "no unit, and not in the format of its unit", "reason");
  is_int(map_text("/X\r\n\r\n1-0:32.7.0(0.230)\r\n!"), 1,
         "a unitless voltage with 3 decimals (kV?) is an error");
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(000687.13)\r\n!"), 1,
         "a unitless register with 2 decimals is an error");
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(000687.1385555555)\r\n!"), 1,
         "a unitless register with 10 decimals is an error");

  /* With a state: each object named once per meter. */
  struct dsmr_map_state st = {0};
  const char *smarty = "/X\r\n\r\n1-0:1.7.0(00.000*kW)\r\n1-0:3.7.0(00.000)\r\n"
                       "1-0:4.7.0(00.007)\r\n0-0:17.0.0(77.376)\r\n!";
  is_int(dsmr_map_telegram_state(smarty, strlen(smarty), &t, &st), 0,
         "Smarty telegram with a state");
  is_str(t.unitless_new, "0-0:17.0.0 1-0:3.7.0 1-0:4.7.0",
         "the first telegram names the objects without a unit");
  is_int(dsmr_map_telegram_state(smarty, strlen(smarty), &t, &st), 0, "again");
  is_str(t.unitless_new, "", "the second names none");
  is_int(t.unitless, 3, "but counts them");
  const char *more = "/X\r\n\r\n1-0:1.7.0(00.000)\r\n1-0:3.7.0(00.000)\r\n!";
  is_int(dsmr_map_telegram_state(more, strlen(more), &t, &st), 0,
         "another object without a unit");
  is_str(t.unitless_new, "1-0:1.7.0", "only the new one is named");

  map_corpus("openhab_smarty_unitless");
  GAUGE("dsmr_reactive_power", "import", 0);
  GAUGE("dsmr_reactive_power", "export", 7);
  GAUGE("dsmr_apparent_power", "threshold", 77376);
  DERIVE("dsmr_energy", "import", 6695);
  DERIVE("dsmr_reactive_energy", "export", 2745);
  is_int(t.unitless, 3, "openHAB's Smarty telegram: 3 values without a unit");
}

/* The Luxembourg specification's example, as node-dsmr-parser's tests
 * read it: gas on channels 1 and 4, water placeholders on 2 and 3. */
static void test_luxembourg_spec(void) {
  map_corpus("athombv_luxembourg_spec_example");
  DERIVE("dsmr_energy", "import", 25653);
  DERIVE("dsmr_energy", "export", 40);
  GAUGE("power", "import", 5);
  GAUGE("voltage", "l1", 233);
  GAUGE("count", "voltage_sags_l1", 40);
  GAUGE("count", "power_failures", 99);
  GAUGE("dsmr_apparent_power", "threshold", 69000);
  GAUGE("current", "limit_import", 100);
  GAUGE("current", "limit_export", -63);
  DERIVE("dsmr_volume", "gas", 6);
  CAPTURED("dsmr_volume", "gas", 1594024300, 1);
  DERIVE("dsmr_volume", "gas_ch4", 28103);
  CAPTURED("dsmr_volume", "gas_ch4", 1594024140, 4);
  ABSENT("dsmr_volume", "water");
  ABSENT("dsmr_volume", "water_ch2");
  ok(t.info.has_meter_time && t.info.meter_time == 1594024917,
     "meter time 2020-07-06T08:41:57Z (10:41:57 summer time)");
  is_int(t.unitless, 0, "M-Bus placeholders without a unit are not counted");
}

/* F written as ".255" is the same object; another F is unknown. */
static void test_f_after_dot(void) {
  is_int(map_text("/X\r\n\r\n1-0:31.7.0.255(001*A)\r\n"
                  "1-0:21.7.0.255(01.111*kW)\r\n1-0:51.7.0.7(009*A)\r\n"
                  "1-0:1.8.1*255(000001.000*kWh)\r\n!"),
         0, "ids with F");
  GAUGE("current", "l1", 1);
  GAUGE("power", "import_l1", 1111);
  DERIVE("dsmr_energy", "import_t1", 1000);
  ABSENT("current", "l2");
  is_int(t.unknown_objects, 1, "F = 7 is an object we do not know");
  /* The lines of the DSMR 4.2.2 standard's example telegram (its other
   * lines have an id "1-0:72:32.0" and a page break: no meter sends it). */
  is_int(map_text("/ISk5\\2MT382-1000\r\n\r\n1-3:0.2.8(42)\r\n"
                  "1-0:1.8.1(123456.789*kWh)\r\n"
                  "1-0:31.7.0.255(001*A)\r\n1-0:51.7.0.255(002*A)\r\n"
                  "1-0:71.7.0.255(003*A)\r\n1-0:21.7.0.255(01.111*kW)\r\n"
                  "1-0:41.7.0.255(02.222*kW)\r\n1-0:61.7.0.255(03.333*kW)\r\n"
                  "1-0:22.7.0.255(04.444*kW)\r\n1-0:42.7.0.255(05.555*kW)\r\n"
                  "1-0:62.7.0.255(06.666*kW)\r\n0-1:24.1.0(003)\r\n"
                  "0-1:24.2.1(101209110000W)(12785.123*m3)\r\n!"),
         0, "the DSMR 4.2.2 example's .255 lines");
  GAUGE("current", "l1", 1);
  GAUGE("current", "l2", 2);
  GAUGE("current", "l3", 3);
  GAUGE("power", "import_l2", 2222);
  GAUGE("power", "export_l3", 6666);
  DERIVE("dsmr_energy", "import_t1", 123456789);
  is_int(t.unknown_objects, 0, "every object known");
}

/* Two gas meters; channel 1 sends its placeholder for a while. With a
 * state the names stay with the channels (issue 14, point 2). */
static void test_channel_names(void) {
  static const char *const t1 =
      "/X\r\n\r\n0-1:24.1.0(003)\r\n"
      "0-1:24.2.1(241027100000W)(00100.000*m3)\r\n0-2:24.1.0(003)\r\n"
      "0-2:24.2.1(241027100000W)(05000.000*m3)\r\n!";
  static const char *const t2 =
      "/X\r\n\r\n0-1:24.1.0(003)\r\n0-1:24.2.1(000101000000W)(00000.000*m3)"
      "\r\n0-2:24.1.0(003)\r\n0-2:24.2.1(241027110000W)(05000.001*m3)\r\n!";
  static const char *const t3 =
      "/X\r\n\r\n0-1:24.1.0(003)\r\n"
      "0-1:24.2.1(241027120000W)(00100.002*m3)\r\n0-2:24.1.0(003)\r\n"
      "0-2:24.2.1(241027120000W)(05000.002*m3)\r\n!";
  struct dsmr_map_state st = {0};
  is_int(dsmr_map_telegram_state(t1, strlen(t1), &t, &st), 0, "two gas meters");
  DERIVE("dsmr_volume", "gas", 100000);
  DERIVE("dsmr_volume", "gas_ch2", 5000000);
  is_int(dsmr_map_telegram_state(t2, strlen(t2), &t, &st), 0,
         "channel 1 sends its placeholder");
  ABSENT("dsmr_volume", "gas");
  DERIVE("dsmr_volume", "gas_ch2", 5000001);
  CAPTURED("dsmr_volume", "gas_ch2", 1730023200, 2);
  is_int(dsmr_map_telegram_state(t3, strlen(t3), &t, &st), 0,
         "channel 1 is back");
  DERIVE("dsmr_volume", "gas", 100002);
  DERIVE("dsmr_volume", "gas_ch2", 5000002);

  /* A meter whose channel 1 is dead from the start: channel 2 has the
   * plain name, and keeps it when channel 1 comes to life. */
  struct dsmr_map_state st2 = {0};
  is_int(dsmr_map_telegram_state(t2, strlen(t2), &t, &st2), 0,
         "dead channel 1 first");
  DERIVE("dsmr_volume", "gas", 5000001);
  is_int(dsmr_map_telegram_state(t3, strlen(t3), &t, &st2), 0,
         "then channel 1 reads");
  DERIVE("dsmr_volume", "gas", 5000002);
  DERIVE("dsmr_volume", "gas_ch1", 100002);

  /* Without a state each telegram is on its own. */
  is_int(map_text(t2), 0, "stateless");
  DERIVE("dsmr_volume", "gas", 5000001);
}

/* Every error of a telegram is listed (dsmr-cat --json shows them). */
static void test_error_list(void) {
  is_int(map_text("/X\r\n\r\n1-0:1.8.1(000687.138*kW)\r\ngarbage\r\n"
                  "1-0:1.7.0(00.428*kW)\r\n1-0:2.7.0(x)\r\n!"),
         3, "three errors");
  is_int(t.error_list[0].line, 3, "first on line 3");
  is_str(t.error_list[0].obis, "1-0:1.8.1", "first names its object");
  is_str(t.error_list[0].why, "unexpected unit", "first reason");
  is_int(t.error_list[1].line, 4, "second on line 4");
  is_str(t.error_list[1].obis, "", "a line that is no object");
  is_int(t.error_list[2].line, 6, "third on line 6");
  is_str(t.error_list[2].obis, "1-0:2.7.0", "third names its object");
  is_str(t.error_list[2].why, "value is not a number", "third reason");
}

/* The number shapes of struct dsmr_map_state are only a cache: one
 * meter's stream mapped with a state must read exactly as each telegram
 * mapped on its own. Each corpus telegram is sent 300 times with its value
 * digits changed at random (the shapes' fast path), and now and then a
 * byte of a value replaced by another digit, letter, sign or point, or
 * removed (a changed shape, which must go back to the full parser). */
static uint64_t rnd_state = 12345;
static unsigned rnd(unsigned n) {
  rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)(rnd_state >> 33) % n;
}

static int same_reading(const struct dsmr_reading *a,
                        const struct dsmr_reading *b) {
  return a->type == b->type && a->type_instance == b->type_instance &&
         a->ds == b->ds && a->time_kind == b->time_kind &&
         a->channel == b->channel && a->flags == b->flags &&
         a->line == b->line &&
         (a->ds == DSMR_DS_DERIVE
              ? a->derive == b->derive
              : memcmp(&a->gauge, &b->gauge, sizeof a->gauge) == 0) &&
         (a->time_kind != DSMR_AT_CAPTURE ||
          a->capture_time == b->capture_time);
}

static int same_telegram(const struct dsmr_telegram *a,
                         const struct dsmr_telegram *b) {
  if (a->errors != b->errors || a->nreadings != b->nreadings ||
      a->nobjects != b->nobjects || a->unknown_objects != b->unknown_objects ||
      a->unitless != b->unitless || a->first_error != b->first_error ||
      strcmp(a->unitless_new, b->unitless_new) != 0 ||
      a->first_error_line != b->first_error_line ||
      strcmp(a->first_error_obis, b->first_error_obis) != 0 ||
      a->info.version != b->info.version ||
      a->info.has_meter_time != b->info.has_meter_time ||
      a->info.meter_time != b->info.meter_time ||
      a->info.failure_log_entries != b->info.failure_log_entries ||
      a->info.failure_last_end != b->info.failure_last_end ||
      a->info.failure_last_duration != b->info.failure_last_duration)
    return 0;
  for (unsigned i = 0; i < a->nreadings; i++)
    if (!same_reading(&a->readings[i], &b->readings[i]))
      return 0;
  return 1;
}

static void test_shapes(void) {
  static const char swaps[] = "0123456789.-*:/ AkWhVm3";
  static char buf[65536];
  static struct dsmr_telegram with, without;
  unsigned telegrams = 0, differ = 0, clean = 0;
  for (size_t i = 0; i < sizeof all_ids / sizeof all_ids[0]; i++) {
    struct dsmr_span s = corpus_frame(all_ids[i]);
    if (!s.ptr)
      continue;
    static struct dsmr_map_state st;
    memset(&st, 0, sizeof st);
    for (unsigned round = 0; round < 300; round++) {
      size_t len = 0;
      int in_group = 0;
      for (size_t k = 0; k < s.len; k++) {
        char c = s.ptr[k];
        if (c == '(') {
          in_group = 1;
          if (round > 0 && rnd(300) == 0) { /* an empty group: "()" */
            buf[len++] = c;
            while (k + 1 < s.len && s.ptr[k + 1] != ')')
              k++;
            continue;
          }
        } else if (c == ')')
          in_group = 0;
        else if (in_group && round > 0) {
          unsigned r = rnd(1000);
          if (c >= '0' && c <= '9' && r < 300)
            c = (char)('0' + rnd(10));
          else if (r < 3)
            c = swaps[rnd(sizeof swaps - 1)];
          else if (r < 4)
            continue; /* a byte removed */
        }
        buf[len++] = c;
      }
      /* The reference: the same state but for the shapes, which it
       * starts without every time (so every value takes the full parser),
       * as M-Bus names and unit notices do depend on the state. */
      static struct dsmr_map_state ref;
      memset(&ref, 0, sizeof ref);
      memcpy(ref.plain_owner, st.plain_owner, sizeof ref.plain_owner);
      memcpy(ref.unitless_told, st.unitless_told, sizeof ref.unitless_told);
      unsigned e2 = dsmr_map_telegram_state(buf, len, &without, &ref);
      unsigned e1 = dsmr_map_telegram_state(buf, len, &with, &st);
      telegrams++;
      clean += e1 == 0;
      if (e1 != e2 || !same_telegram(&with, &without)) {
        if (!differ++)
          printf("# %s round %u: with state %u errors %u readings, without "
                 "%u errors %u readings\n",
                 all_ids[i], round, e1, with.nreadings, e2, without.nreadings);
      }
    }
  }
  ok(telegrams > 10000 && clean > telegrams / 4,
     "shapes: %u telegrams mapped, %u clean", telegrams, clean);
  is_int(differ, 0, "shapes: a meter's state changes no reading");
}

/* The memos of struct dsmr_map_state read a timestamp that differs from
 * the last one at its place only in the seconds as that one's time plus
 * the seconds. Every second of the hours around both EU switches (with
 * and without the W/S flag), and seconds that are no seconds (60..99,
 * letters), must read as dsmr_parse_timestamp reads them, for the meter's
 * time and an M-Bus capture time; and the small numbers kept by their
 * text (version, device type, failure log) as without a state. */
static void test_memos(void) {
  static const char *const hours[] = {
      "260329005", "260329010", "260329015", "260329020", "260329025",
      "260329030", "261025005", "261025010", "261025015", "261025020",
      "261025025", "261025030", "261231235", "270101000"};
  static const char *const flags[] = {"", "S", "W"};
  static const char *const secs[] = {"00", "01", "09", "10", "59", "60",
                                     "61", "99", "5a", ":0", "0/", "30"};
  static struct dsmr_map_state st;
  static struct dsmr_telegram got, ref;
  unsigned checked = 0, bad = 0, valid = 0;
  memset(&st, 0, sizeof st);
  for (size_t h = 0; h < sizeof hours / sizeof hours[0]; h++)
    for (size_t f = 0; f < 3; f++)
      for (unsigned m = 0; m < 10; m++)
        for (size_t k = 0; k < sizeof secs / sizeof secs[0]; k++) {
          char ts[16], buf[512];
          snprintf(ts, sizeof ts, "%s%u%s%s", hours[h], m, secs[k], flags[f]);
          int len = snprintf(
              buf, sizeof buf,
              "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(%s)\r\n"
              "0-0:1.0.0(%s)\r\n"
              "1-0:99.97.0(%u)(0-0:96.7.19)(%s)(%010u*s)\r\n"
              "0-2:24.1.0(00%u)\r\n0-2:24.2.1(%s)(00246.138*m3)\r\n!",
              k % 3 ? "50" : "42", ts, m % 3, ts, (unsigned)(k % 2) * 2014,
              3 + (unsigned)(k % 4 == 0) * 4, ts);
          int64_t want = 0;
          int ok_ts = dsmr_parse_timestamp((struct dsmr_span){ts, strlen(ts)},
                                           &want, NULL) == DSMR_TS_OK;
          valid += ok_ts;
          dsmr_map_telegram_state(buf, (size_t)len, &got, &st);
          dsmr_map_telegram(buf, (size_t)len, &ref);
          checked++;
          int capture_ok = 0;
          for (unsigned i = 0; i < got.nreadings; i++)
            if (got.readings[i].time_kind == DSMR_AT_CAPTURE &&
                got.readings[i].capture_time == want)
              capture_ok = 1;
          if (got.info.has_meter_time != ok_ts ||
              (ok_ts && (got.info.meter_time != want || !capture_ok)) ||
              !same_telegram(&got, &ref)) {
            if (!bad++)
              printf("# %s: has_meter_time %d meter_time %lld, want %d "
                     "%lld\n",
                     ts, got.info.has_meter_time,
                     (long long)got.info.meter_time, ok_ts, (long long)want);
          }
        }
  ok(checked > 4000 && valid > checked / 3, "memos: %u telegrams, %u times",
     checked, valid);
  is_int(bad, 0, "memos: times and numbers read as without a state");
}

/* A frame shorter than 24 bytes has no room for the 16-byte loads of the
 * number memos and shapes: the window check must refuse every value in it.
 * Its bounds defaulted to "everything passes", so a short frame's value was
 * read 16 bytes wide past the frame's end (fuzz_telegram found it: ASan
 * use-after-poison in number_memo; this test is caught by the ASan and
 * valgrind runs of the unit tests, since the frame sits in an exact-size
 * heap block). */
static void test_short_frame(void) {
  static const char *const texts[] = {
      "1-1:31.4.0(90)\r\n", "1-0:31.4.0(25.0*A)\r\n!", "0-0:96.1.4(50217)\r\n"};
  struct dsmr_map_state st = {0};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    size_t n = strlen(texts[i]);
    char *f = malloc(n);
    memcpy(f, texts[i], n); /* no terminator: the block ends with the frame */
    for (int k = 0; k < 2; k++) { /* the second time with its memo */
      unsigned errs = dsmr_map_telegram_state(f, n, &t, &st);
      ok(n < 24 && t.nobjects == 1,
         "short frame %zu (%zu bytes), pass %d: read inside its bytes "
         "(%u objects, %u errors)",
         i, n, k, t.nobjects, errs);
    }
    free(f);
  }
}

int main(void) {
  test_table_sorted();
  test_seed_e350();
  test_two_mbus();
  test_fluvius();
  test_others();
  test_belgium();
  test_limits();
  test_reactive();
  test_all_corpus();
  test_errors();
  test_unitless();
  test_luxembourg_spec();
  test_f_after_dot();
  test_channel_names();
  test_error_list();
  test_shapes();
  test_memos();
  test_short_frame();
  return tap_done();
}
