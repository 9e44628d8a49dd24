/* Timestamps: P1 "YYMMDDhhmmss[X]", COSEM clocks, and the EU DST rule,
 * checked against tables that did not come from the code under test. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "timestamp.h"

static struct dsmr_span S(const char *s) {
  struct dsmr_span sp = {s, strlen(s)};
  return sp;
}

/* Both DST changes of 2000..2037 for Europe/Amsterdam, generated once with
 * GNU date and the system tzdata (not with this library):
 *   for each day D in 25..31 of March/October:
 *     t=$(date -u -d "Y-M-D 01:00:00" +%s)
 *     compare TZ=Europe/Amsterdam date -d @$((t-1)) +%z with ... -d @$t
 * and keep the day where the offset changes. Europe/Brussels gives the same
 * instants. Columns: year, March day, October day, UTC start, UTC end. */
static const struct {
  int year, mar_day, oct_day;
  long long start, end;
} dst[] = {
    {2000, 26, 29, 954032400LL, 972781200LL},
    {2001, 25, 28, 985482000LL, 1004230800LL},
    {2002, 31, 27, 1017536400LL, 1035680400LL},
    {2003, 30, 26, 1048986000LL, 1067130000LL},
    {2004, 28, 31, 1080435600LL, 1099184400LL},
    {2005, 27, 30, 1111885200LL, 1130634000LL},
    {2006, 26, 29, 1143334800LL, 1162083600LL},
    {2007, 25, 28, 1174784400LL, 1193533200LL},
    {2008, 30, 26, 1206838800LL, 1224982800LL},
    {2009, 29, 25, 1238288400LL, 1256432400LL},
    {2010, 28, 31, 1269738000LL, 1288486800LL},
    {2011, 27, 30, 1301187600LL, 1319936400LL},
    {2012, 25, 28, 1332637200LL, 1351386000LL},
    {2013, 31, 27, 1364691600LL, 1382835600LL},
    {2014, 30, 26, 1396141200LL, 1414285200LL},
    {2015, 29, 25, 1427590800LL, 1445734800LL},
    {2016, 27, 30, 1459040400LL, 1477789200LL},
    {2017, 26, 29, 1490490000LL, 1509238800LL},
    {2018, 25, 28, 1521939600LL, 1540688400LL},
    {2019, 31, 27, 1553994000LL, 1572138000LL},
    {2020, 29, 25, 1585443600LL, 1603587600LL},
    {2021, 28, 31, 1616893200LL, 1635642000LL},
    {2022, 27, 30, 1648342800LL, 1667091600LL},
    {2023, 26, 29, 1679792400LL, 1698541200LL},
    {2024, 31, 27, 1711846800LL, 1729990800LL},
    {2025, 30, 26, 1743296400LL, 1761440400LL},
    {2026, 29, 25, 1774746000LL, 1792890000LL},
    {2027, 28, 31, 1806195600LL, 1824944400LL},
    {2028, 26, 29, 1837645200LL, 1856394000LL},
    {2029, 25, 28, 1869094800LL, 1887843600LL},
    {2030, 31, 27, 1901149200LL, 1919293200LL},
    {2031, 30, 26, 1932598800LL, 1950742800LL},
    {2032, 28, 31, 1964048400LL, 1982797200LL},
    {2033, 27, 30, 1995498000LL, 2014246800LL},
    {2034, 26, 29, 2026947600LL, 2045696400LL},
    {2035, 25, 28, 2058397200LL, 2077146000LL},
    {2036, 30, 26, 2090451600LL, 2108595600LL},
    {2037, 29, 25, 2121901200LL, 2140045200LL},
};

/* Local time -> epoch, from `TZ=Europe/Amsterdam date -d "..." +%s`. */
static const struct {
  const char *p1; /* the same local time as an unflagged P1 timestamp */
  long long utc;
} local_times[] = {
    {"140115123456", 1389785696LL}, {"140701000000", 1404165600LL},
    {"141231235959", 1420066799LL}, {"240115123456", 1705318496LL},
    {"240701000000", 1719784800LL}, {"241231235959", 1735685999LL},
    {"300115123456", 1894707296LL}, {"300701000000", 1909087200LL},
    {"301231235959", 1924988399LL},
};

static long long ts(const char *s, int *flagged, int *status) {
  int64_t utc = -12345;
  *status = dsmr_parse_timestamp(S(s), &utc, flagged);
  return (long long)utc;
}

static void check_ts(const char *s, long long want, int want_flagged) {
  int st, fl = -1;
  long long got = ts(s, &fl, &st);
  is_int(st, DSMR_TS_OK, "%s parses", s);
  is_int(got, want, "%s -> %lld", s, want);
  is_int(fl, want_flagged, "%s flagged=%d", s, want_flagged);
}

static void test_dst_table(void) {
  char buf[16];
  for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++) {
    int y = dst[i].year, yy = y % 100;
    long long st = dst[i].start, en = dst[i].end;
    is_int(dsmr_eu_dst_start(y), st, "DST start %d", y);
    is_int(dsmr_eu_dst_end(y), en, "DST end %d", y);

    /* March: 01:59:59 CET is the last winter second, 03:00 CEST the first
     * summer one; 02:30 does not exist and is read as CET. */
    snprintf(buf, sizeof buf, "%02d03%02d015959", yy, dst[i].mar_day);
    check_ts(buf, st - 1, 0);
    snprintf(buf, sizeof buf, "%02d03%02d030000", yy, dst[i].mar_day);
    check_ts(buf, st, 0);
    snprintf(buf, sizeof buf, "%02d03%02d023000", yy, dst[i].mar_day);
    check_ts(buf, st + 1800, 0);

    /* October: 02:00..02:59 happens twice; the first (CEST) is taken.
     * 03:00 is CET again. */
    snprintf(buf, sizeof buf, "%02d10%02d015959", yy, dst[i].oct_day);
    check_ts(buf, en - 3601, 0);
    snprintf(buf, sizeof buf, "%02d10%02d023000", yy, dst[i].oct_day);
    check_ts(buf, en - 1800, 0);
    snprintf(buf, sizeof buf, "%02d10%02d030000", yy, dst[i].oct_day);
    check_ts(buf, en + 3600, 0);

    /* With flags the meter says which occurrence it means. */
    snprintf(buf, sizeof buf, "%02d10%02d023000S", yy, dst[i].oct_day);
    check_ts(buf, en - 1800, 1);
    snprintf(buf, sizeof buf, "%02d10%02d023000W", yy, dst[i].oct_day);
    check_ts(buf, en + 1800, 1);
  }
  for (size_t i = 0; i < sizeof local_times / sizeof local_times[0]; i++)
    check_ts(local_times[i].p1, local_times[i].utc, 0);
}

static void test_flagged(void) {
  /* 2017-01-08 19:30:00 CET = 18:30:00Z; epochs from `date -u -d`. */
  check_ts("170108193000W", 1483900200LL, 1);
  check_ts("170108193000w", 1483900200LL, 1);
  /* 2015-07-01 19:00:00 CEST = 17:00:00Z (lower-case flag, L+G E350). */
  check_ts("150701190000s", 1435770000LL, 1);
  check_ts("150701190000S", 1435770000LL, 1);
  /* The flag wins even where the EU rule disagrees. */
  check_ts("170108193000S", 1483896600LL, 1);
  /* Placeholders that are real dates (dead M-Bus channel, failure log). */
  check_ts("000101000001W", 946681201LL, 1);
  /* the empty-channel placeholder is the epoch, not the year 2070 */
  check_ts("700101010000W", 0, 1);
  check_ts("991231230000W", 946677600LL, 1);
  /* Leap day. */
  check_ts("240229120000W", 1709204400LL, 1);
  int fl = 7, st;
  int64_t utc = 0;
  is_int(dsmr_parse_timestamp(S("240229120000W"), &utc, NULL), DSMR_TS_OK,
         "flagged pointer may be NULL");
  (void)ts("240229120000", &fl, &st);
  is_int(fl, 0, "unflagged reports flagged=0");
}

static void test_invalid(void) {
  static const char *const invalid[] = {
      "632525252525W", /* Fluvius "no value" */
      "000000000000W", /* MCS all-zero clock */
      "000000000000S", "000000000000",  "241301000000W", "240001000000W",
      "240100000000W", "240132000000W", "230229000000W", "240431000000W",
      "240101240000W", "240101006000W", "240101000060W", "991231246000",
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    int64_t utc = 42;
    is_int(dsmr_parse_timestamp(S(invalid[i]), &utc, NULL), DSMR_TS_INVALID,
           "\"%s\" is INVALID", invalid[i]);
    is_int(utc, 42, "\"%s\" leaves *utc alone", invalid[i]);
  }
  static const char *const shapes[] = {
      "",
      "W",
      "17010819300W",   /* 11 digits */
      "1701081930000W", /* 13 digits */
      "170108193000X",
      "170108193000 ",
      "170108193000WW",
      "17010819300aW",
      " 70108193000W",
      "-70108193000W",
      "170108193000*kWh",
      "00001.001",
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    int64_t utc = 42;
    is_int(dsmr_parse_timestamp(S(shapes[i]), &utc, NULL),
           DSMR_TS_NOT_TIMESTAMP, "\"%s\" is NOT_TIMESTAMP", shapes[i]);
  }
}

static void test_cosem(void) {
  int64_t utc = 0;
  char buf[21];

  is_int(dsmr_parse_cosem_clock(S("07E8061C050A2B2B00FF8880"), &utc),
         DSMR_TS_OK, "COSEM example parses");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-06-28T08:43:43Z", "COSEM example, deviation -120");
  is_int(dsmr_parse_cosem_clock(S("07e8061c050a2b2b00ff8880"), &utc),
         DSMR_TS_OK, "lower-case hex");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-06-28T08:43:43Z", "lower-case hex, same instant");

  /* Deviation 0x8000 = unspecified: local Amsterdam time, EU rule. */
  is_int(dsmr_parse_cosem_clock(S("07E8061C050A2B2B00800080"), &utc),
         DSMR_TS_OK, "deviation 0x8000 parses");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-06-28T08:43:43Z", "deviation 0x8000 in summer: CEST");
  is_int(dsmr_parse_cosem_clock(S("07E8011C050A2B2B00800000"), &utc),
         DSMR_TS_OK, "deviation 0x8000 in winter parses");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-01-28T09:43:43Z", "deviation 0x8000 in winter: CET");
  /* Repeated hour 2024-10-27 02:30 local: first occurrence. */
  is_int(dsmr_parse_cosem_clock(S("07E80A1B07021E0000800080"), &utc),
         DSMR_TS_OK, "deviation 0x8000 in repeated hour parses");
  is_int(utc, 1729990800LL - 1800, "repeated hour: summer occurrence");

  /* Deviation 0 (UTC) and a positive deviation. */
  is_int(dsmr_parse_cosem_clock(S("07E8061C050A2B2BFF000000"), &utc),
         DSMR_TS_OK, "deviation 0 and unspecified hundredths");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-06-28T10:43:43Z", "deviation 0 = UTC");
  is_int(dsmr_parse_cosem_clock(S("07E8061C050A2B2B00003C00"), &utc),
         DSMR_TS_OK, "deviation +60");
  dsmr_format_utc(utc, buf);
  is_str(buf, "2024-06-28T11:43:43Z", "deviation +60 adds an hour");

  static const char *const invalid[] = {
      "07E8061C05FF2B2B00FF8880", /* hour not specified */
      "07E8061C050AFF2B00FF8880", /* minute not specified */
      "07E8061C050A2BFF00FF8880", /* second not specified */
      "FFFF061C050A2B2B00FF8880", /* year not specified */
      "07E8FF1C050A2B2B00FF8880", /* month not specified */
      "07E8FE1C050A2B2B00FF8880", /* DST-begin wildcard month */
      "07E806FF050A2B2B00FF8880", /* day not specified */
      "07E806FE050A2B2B00FF8880", /* last-day wildcard */
      "07E8061F050A2B2B00FF8880", /* June 31st */
      "07E8061C05182B2B00FF8880", /* hour 24 */
      "07E8061C050A2B2B00F00080", /* deviation -4096 */
      "07E8061C050A2B2B00040080", /* deviation +1024 */
  };
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    utc = 42;
    is_int(dsmr_parse_cosem_clock(S(invalid[i]), &utc), DSMR_TS_INVALID,
           "COSEM %s is INVALID", invalid[i]);
    is_int(utc, 42, "COSEM %s leaves *utc alone", invalid[i]);
  }
  static const char *const shapes[] = {
      "",
      "07E8061C050A2B2B00FF888",   /* 23 digits */
      "07E8061C050A2B2B00FF88800", /* 25 digits */
      "07E8061C050A2B2B00FF888G",
      "07E8061C050A2B2B00FF88 0",
      "240628104343S",
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    is_int(dsmr_parse_cosem_clock(S(shapes[i]), &utc), DSMR_TS_NOT_TIMESTAMP,
           "COSEM \"%s\" is NOT_TIMESTAMP", shapes[i]);
}

static void test_calendar(void) {
  /* Day numbers from `date -u -d D +%s` / 86400. */
  is_int(dsmr_days_from_civil(1970, 1, 1), 0, "1970-01-01");
  is_int(dsmr_days_from_civil(1969, 12, 31), -1, "1969-12-31");
  is_int(dsmr_days_from_civil(2000, 3, 1), 11017, "2000-03-01");
  is_int(dsmr_days_from_civil(2024, 2, 29), 19782, "2024-02-29");
  is_int(dsmr_days_from_civil(2099, 12, 31), 47481, "2099-12-31");
  is_int(dsmr_days_from_civil(1600, 3, 1), -135080, "1600-03-01");

  /* civil_from_days inverts it, day by day, across 400 years. */
  int64_t y;
  unsigned m, d, bad = 0;
  for (int64_t days = -150000; days < 150000; days++) {
    dsmr_civil_from_days(days, &y, &m, &d);
    if (dsmr_days_from_civil(y, m, d) != days || m < 1 || m > 12 || d < 1 ||
        d > 31)
      bad++;
  }
  is_int(bad, 0, "civil_from_days round-trips 300000 days");
  dsmr_civil_from_days(19782, &y, &m, &d);
  ok(y == 2024 && m == 2 && d == 29, "day 19782 is 2024-02-29");

  char buf[21];
  dsmr_format_utc(0, buf);
  is_str(buf, "1970-01-01T00:00:00Z", "format epoch");
  dsmr_format_utc(-1, buf);
  is_str(buf, "1969-12-31T23:59:59Z", "format before epoch");
  dsmr_format_utc(1729990800LL, buf);
  is_str(buf, "2024-10-27T01:00:00Z", "format DST end 2024");
  dsmr_format_utc(4102444799LL, buf);
  is_str(buf, "2099-12-31T23:59:59Z", "format 2099");
}

int main(void) {
  test_dst_table();
  test_flagged();
  test_invalid();
  test_cosem();
  test_calendar();
  return tap_done();
}
