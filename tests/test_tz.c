/* Time zones for meter clocks with deviation "unspecified": POSIX TZ rules
 * (src/lib/tz.c) and loading them from zoneinfo (src/tz_load.c). Checked
 * against instants computed apart (Python's calendar.timegm of the
 * published transition times) and against glibc's own reading of the same
 * rules and zone files (setenv TZ + localtime_r), over a sweep of 40 years
 * with every transition found to the second. */
#define _GNU_SOURCE /* tm_gmtoff */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hdlc.h"
#include "input_chain.h"
#include "tap.h"
#include "timestamp.h"
#include "tz.h"
#include "tz_load.h"

static int64_t civil(int y, unsigned mo, unsigned d, unsigned h, unsigned mi,
                     unsigned s) {
  return dsmr_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

static struct dsmr_tz must(const char *rule) {
  struct dsmr_tz tz;
  const char *why = "";
  if (dsmr_tz_parse(rule, &tz, &why) != 0) {
    printf("# %s: %s\n", rule, why);
    dsmr_tz_utc(&tz);
  }
  return tz;
}

/* ---- exact edges (instants from timegm of the published rules) ------- */

static void edges(const char *name, const char *rule, int64_t start,
                  int64_t end, int32_t std, int32_t dst) {
  struct dsmr_tz tz = must(rule);
  int d;
  is_int(dsmr_tz_offset_at(&tz, start - 1, &d), std,
         "%s: last second of "
         "standard time before the spring change",
         name);
  ok(!d, "%s: ... not DST", name);
  is_int(dsmr_tz_offset_at(&tz, start, &d), dst, "%s: first second of DST",
         name);
  ok(d, "%s: ... DST", name);
  is_int(dsmr_tz_offset_at(&tz, end - 1, &d), dst, "%s: last second of DST",
         name);
  is_int(dsmr_tz_offset_at(&tz, end, &d), std,
         "%s: first second of standard time again", name);
}

/* local -> UTC around both changes: the local times just outside the gap
 * and the repeated hour convert, those inside do not. */
static void gap_and_fold(const char *name, const char *rule, int64_t start,
                         int64_t end, int32_t std, int32_t dst) {
  struct dsmr_tz tz = must(rule);
  int64_t u;
  int64_t g0 = start + std, g1 = start + dst; /* [g0, g1): no such time */
  int64_t f0 = end + std, f1 = end + dst;     /* [f0, f1): twice */

  ok(dsmr_tz_local_to_utc(&tz, g0 - 1, &u) == DSMR_TZ_OK && u == start - 1,
     "%s: the local second before the gap is standard time", name);
  is_int(dsmr_tz_local_to_utc(&tz, g0, &u), DSMR_TZ_GAP,
         "%s: the first skipped local second: GAP", name);
  is_int(dsmr_tz_local_to_utc(&tz, (g0 + g1) / 2, &u), DSMR_TZ_GAP,
         "%s: the middle of the skipped hour: GAP", name);
  is_int(dsmr_tz_local_to_utc(&tz, g1 - 1, &u), DSMR_TZ_GAP,
         "%s: the last skipped local second: GAP", name);
  ok(dsmr_tz_local_to_utc(&tz, g1, &u) == DSMR_TZ_OK && u == start,
     "%s: the local second after the gap is the change itself", name);

  ok(dsmr_tz_local_to_utc(&tz, f0 - 1, &u) == DSMR_TZ_OK && u == f0 - 1 - dst,
     "%s: the local second before the repeated hour: DST, once", name);
  ok(dsmr_tz_local_to_utc(&tz, f0, &u) == DSMR_TZ_AMBIGUOUS && u == f0 - dst,
     "%s: the first repeated local second: AMBIGUOUS, the earlier given", name);
  is_int(dsmr_tz_local_to_utc(&tz, f1 - 1, &u), DSMR_TZ_AMBIGUOUS,
         "%s: the last repeated local second: AMBIGUOUS", name);
  ok(dsmr_tz_local_to_utc(&tz, f1, &u) == DSMR_TZ_OK && u == end + (dst - std),
     "%s: the local second after the repeated hour: standard time", name);
}

/* ---- against glibc ---------------------------------------------------- */

static int set_tz(const char *tz) {
  setenv("TZ", tz, 1);
  tzset();
  return 0;
}

/* The first year glibc cannot be asked about: 2040 where time_t has 64
 * bits, 2038 where it has 32 (Debian 12 on armhf: localtime_r stops at
 * 2038-01-19). Our rules are int64_t and go on; the comparison stops. */
static int glibc_end_year(void) {
  return sizeof(time_t) >= 8 ? 2040 : 2038;
}

static long glibc_off(int64_t utc) {
  struct tm tm;
  time_t t = (time_t)utc;
  if (!localtime_r(&t, &tm))
    return -99999;
  return tm.tm_gmtoff;
}

/* Every sampled instant of [from, to) and every transition (found by
 * bisection between samples, to the second): the offset agrees with
 * glibc's; each sampled local time converts back to its instant (or is
 * AMBIGUOUS with it as one reading); both sides of each gap and fold are
 * judged as glibc's offsets say. Returns the number of disagreements. */
static unsigned sweep(const struct dsmr_tz *tz, int64_t from, int64_t to,
                      unsigned *transitions) {
  unsigned bad = 0;
  long prev = glibc_off(from);
  *transitions = 0;
  for (int64_t t = from; t < to; t += 6 * 3600 + 17) {
    long o = glibc_off(t);
    int64_t u;
    if (dsmr_tz_offset_at(tz, t, NULL) != o) {
      if (bad++ < 3)
        printf("# at %lld: offset %ld, glibc %ld\n", (long long)t,
               (long)dsmr_tz_offset_at(tz, t, NULL), o);
    }
    enum dsmr_tz_result r = dsmr_tz_local_to_utc(tz, t + o, &u);
    if (!(r == DSMR_TZ_OK && u == t) &&
        !(r == DSMR_TZ_AMBIGUOUS &&
          (u == t || u + tz->dst_off - tz->std_off == t ||
           u - tz->dst_off + tz->std_off == t))) {
      if (bad++ < 3)
        printf("# local %lld of %lld: result %d, utc %lld\n",
               (long long)(t + o), (long long)t, (int)r, (long long)u);
    }
    if (o != prev) { /* a transition in (t - step, t]: find it */
      int64_t lo = t - (6 * 3600 + 17), hi = t;
      while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (glibc_off(mid) == prev)
          lo = mid;
        else
          hi = mid;
      }
      (*transitions)++;
      if (dsmr_tz_offset_at(tz, hi - 1, NULL) != prev ||
          dsmr_tz_offset_at(tz, hi, NULL) != o) {
        if (bad++ < 3)
          printf("# transition at %lld: ours %ld -> %ld, glibc %ld -> %ld\n",
                 (long long)hi, (long)dsmr_tz_offset_at(tz, hi - 1, NULL),
                 (long)dsmr_tz_offset_at(tz, hi, NULL), prev, o);
      }
      /* local times [hi + min, hi + max) are a gap (forward) or twice */
      long lo_off = prev < o ? prev : o, hi_off = prev < o ? o : prev;
      enum dsmr_tz_result inside = prev < o ? DSMR_TZ_GAP : DSMR_TZ_AMBIGUOUS;
      if (dsmr_tz_local_to_utc(tz, hi + lo_off - 1, &u) != DSMR_TZ_OK ||
          dsmr_tz_local_to_utc(tz, hi + lo_off, &u) != inside ||
          dsmr_tz_local_to_utc(tz, hi + hi_off - 1, &u) != inside ||
          dsmr_tz_local_to_utc(tz, hi + hi_off, &u) != DSMR_TZ_OK) {
        if (bad++ < 3)
          printf("# gap/fold at %lld judged wrong\n", (long long)hi);
      }
    }
    prev = o;
  }
  return bad;
}

static const char *const rules[] = {
    "CET-1CEST,M3.5.0,M10.5.0/3",         /* Oslo, Vienna */
    "EET-2EEST,M3.5.0/3,M10.5.0/4",       /* Helsinki */
    "EST5EDT,M3.2.0,M11.1.0",             /* New York */
    "AEST-10AEDT,M10.1.0,M4.1.0/3",       /* Sydney: southern */
    "IST-1GMT0,M10.5.0,M3.5.0/1",         /* Dublin: "DST" in winter */
    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",    /* Nuuk: a negative time */
    "<-04>4<-03>,M9.1.6/24,M4.1.6/24",    /* Santiago: hour 24 */
    "XXX3YYY,J60/2,300",                  /* Jn and n, default DST off */
    "<+0545>-5:45<+0645>,M3.5.0,M10.5.0", /* minutes */
    "UTC0",
    "<+03>-3",
};

/* DST all year: it ends on December 31 at 25:00 as it starts again on
 * January 1 at 00:00 (tzfile(5), POSIX 2024). glibc reads each year
 * alone and gives standard time for the hours between, so this one is
 * checked on its own. */
static void dst_all_year(void) {
  struct dsmr_tz tz = must("WART4WARST,J1/0,J365/25");
  unsigned std = 0;
  int64_t u;
  for (int64_t t = civil(2000, 1, 1, 0, 0, 0); t < civil(2040, 1, 1, 0, 0, 0);
       t += 3600 + 7)
    std += dsmr_tz_offset_at(&tz, t, NULL) != -3 * 3600;
  ok(std == 0, "WART4WARST,J1/0,J365/25: DST all year, 2000..2039");
  ok(dsmr_tz_local_to_utc(&tz, civil(2024, 1, 1, 0, 30, 0), &u) == DSMR_TZ_OK &&
         u == civil(2024, 1, 1, 3, 30, 0),
     "... and 00:30 on New Year's Day is neither a gap nor twice");
}

static void against_glibc(void) {
  int end = glibc_end_year();
  int64_t from = civil(2000, 1, 1, 0, 0, 0), to = civil(end, 1, 1, 0, 0, 0);
  for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
    struct dsmr_tz tz = must(rules[i]);
    unsigned tr;
    set_tz(rules[i]);
    unsigned bad = sweep(&tz, from, to, &tr);
    ok(bad == 0, "%s: 2000..%d as glibc reads it (%u transitions)", rules[i],
       end - 1, tr);
  }
}

/* ---- parsing ----------------------------------------------------------- */

static void parse_forms(void) {
  struct dsmr_tz tz;
  const char *why = NULL;

  ok(dsmr_tz_parse("CET-1CEST,M3.5.0,M10.5.0/3", &tz, &why) == 0 &&
         tz.std_off == 3600 && tz.dst_off == 7200 && tz.has_dst &&
         tz.start.kind == 'M' && tz.start.month == 3 && tz.start.week == 5 &&
         tz.start.wday == 0 && tz.start.time == 7200 && tz.end.month == 10 &&
         tz.end.time == 3 * 3600 && strcmp(tz.std_name, "CET") == 0 &&
         strcmp(tz.dst_name, "CEST") == 0,
     "CET-1CEST,M3.5.0,M10.5.0/3: UTC+1, +2, last Sundays, 02:00 / 03:00");
  ok(dsmr_tz_parse("<+03>-3", &tz, &why) == 0 && tz.std_off == 10800 &&
         !tz.has_dst && strcmp(tz.std_name, "+03") == 0,
     "<+03>-3: UTC+3 all year, name +03");
  ok(dsmr_tz_parse("UTC0", &tz, &why) == 0 && tz.std_off == 0 && !tz.has_dst,
     "UTC0");
  ok(dsmr_tz_parse("EST+5EDT4,M3.2.0/2:00:00,M11.1.0/02:00", &tz, &why) == 0 &&
         tz.std_off == -18000 && tz.dst_off == -14400,
     "explicit + sign, DST offset and hh:mm[:ss] times");
  ok(dsmr_tz_parse("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", &tz, &why) == 0 &&
         tz.start.time == -3600 && tz.end.time == 0,
     "a negative time (POSIX 2024)");
  ok(dsmr_tz_parse("ABC1DEF,M3.5.0/167,M10.5.0/-167:59:59", &tz, &why) == 0 &&
         tz.start.time == 167 * 3600 &&
         tz.end.time == -(167 * 3600 + 59 * 60 + 59),
     "times up to +-167:59:59");
  ok(dsmr_tz_parse("ABC24DEF,J365/25,0", &tz, &why) == 0 &&
         tz.std_off == -24 * 3600 && tz.start.kind == 'J' &&
         tz.start.day == 365 && tz.end.kind == 'D' && tz.end.day == 0 &&
         tz.end.time == 7200,
     "offset 24, Jn, n, default time 02:00");
  ok(dsmr_tz_parse("NPT-5:45", &tz, &why) == 0 && tz.std_off == 20700,
     "NPT-5:45: UTC+5:45");

  static const struct {
    const char *rule, *why_starts;
  } bad[] = {
      {"", "empty"},
      {"CE-1", "standard time name"},
      {"1", "standard time name"},
      {"<AB>-3", "standard time name"},
      {"<+03-3", "standard time name"},
      {"<+0 3>-3", "standard time name"},
      {"ABCDEFGHIJKLMNOPQ1", "standard time name"},
      {"CET", "standard time offset"},
      {"CET-25", "standard time offset"},
      {"CET-1:60", "standard time offset"},
      {"CET-1:00:60", "standard time offset"},
      {"CET-1:", "standard time offset"},
      {"CET+", "standard time offset"},
      {"CET-1C", "daylight saving time name"},
      {"CET-1CEST-25,M3.5.0,M10.5.0", "daylight saving time offset"},
      {"CET-1CEST", "daylight saving time without its dates"},
      {"CET-1CEST-2", "daylight saving time without its dates"},
      {"CET-1CEST;M3.5.0,M10.5.0", "daylight saving time offset"},
      {"CET-1CEST,M13.5.0,M10.5.0", "start date"},
      {"CET-1CEST,M0.5.0,M10.5.0", "start date"},
      {"CET-1CEST,M3.6.0,M10.5.0", "start date"},
      {"CET-1CEST,M3.0.0,M10.5.0", "start date"},
      {"CET-1CEST,M3.5.7,M10.5.0", "start date"},
      {"CET-1CEST,M3.5,M10.5.0", "start date"},
      {"CET-1CEST,J0,M10.5.0", "start date"},
      {"CET-1CEST,J366,M10.5.0", "start date"},
      {"CET-1CEST,366,M10.5.0", "start date"},
      {"CET-1CEST,X,M10.5.0", "start date"},
      {"CET-1CEST,M3.5.0", "end date"},
      {"CET-1CEST,M3.5.0/168,M10.5.0", "start time"},
      {"CET-1CEST,M3.5.0/,M10.5.0", "start time"},
      {"CET-1CEST,M3.5.0/2:60,M10.5.0", "start time"},
      {"CET-1CEST,M3.5.0/2;M10.5.0", "end date"},
      {"CET-1CEST,M3.5.0,", "end date"},
      {"CET-1CEST,M3.5.0,M10.5.8", "end date"},
      {"CET-1CEST,M3.5.0,M10.5.0/-168", "end time"},
      {"CET-1CEST,M3.5.0,M10.5.0/", "end time"},
      {"CET-1CEST,M3.5.0,M10.5.0/3x", "characters after"},
      {"CET-1CEST,M3.5.0,M10.5.0,", "characters after"},
      {":Europe/Oslo", "standard time name"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    int rc = dsmr_tz_parse(bad[i].rule, &tz, &why);
    ok(rc == -1 && why &&
           strncmp(why, bad[i].why_starts, strlen(bad[i].why_starts)) == 0,
       "\"%s\" refused: %s", bad[i].rule, why ? why : "(accepted)");
  }
}

/* ---- loading zoneinfo --------------------------------------------------- */

static void loader(void) {
  struct dsmr_tz tz;
  char rule[128], err[512], note[512];

  static const struct {
    const char *zone, *rule;
  } zones[] = {
      {"Europe/Oslo", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Vienna", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Helsinki", "EET-2EEST,M3.5.0/3,M10.5.0/4"},
      {"America/New_York", "EST5EDT,M3.2.0,M11.1.0"},
      {"UTC", "UTC0"},
      {"Etc/GMT+5", "<-05>5"},
      {"/usr/share/zoneinfo/Europe/Oslo", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"EST5EDT", "EST5EDT,M3.2.0,M11.1.0"}, /* a rule? no: the zone */
      {"CET-1CEST,M3.5.0,M10.5.0/3", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"<+03>-3", "<+03>-3"},
  };
  for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
    rule[0] = err[0] = 0;
    int rc =
        dsmr_tz_load(zones[i].zone, &tz, rule, sizeof rule, err, sizeof err);
    ok(rc == 0 && strcmp(rule, zones[i].rule) == 0, "load %s: %s%s",
       zones[i].zone, rule, err);
  }

  /* a zone file read as its footer gives glibc's offsets for 2008..2039
   * (..2037 with a 32-bit time_t)
   * (the rules have not changed since) */
  static const char *const files[] = {"Europe/Oslo", "Europe/Vienna",
                                      "Europe/Helsinki", "America/New_York",
                                      "UTC"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    unsigned tr;
    if (dsmr_tz_load(files[i], &tz, NULL, 0, err, sizeof err) != 0) {
      ok(0, "%s: %s", files[i], err);
      continue;
    }
    set_tz(files[i]);
    unsigned bad = sweep(&tz, civil(2008, 1, 1, 0, 0, 0),
                         civil(glibc_end_year(), 1, 1, 0, 0, 0), &tr);
    ok(bad == 0 && (tr > 0) == (strcmp(files[i], "UTC") != 0),
       "%s (zone file): 2008..%d as glibc reads the file (%u transitions)",
       files[i], glibc_end_year() - 1, tr);
  }

  static const struct {
    const char *zone, *err_has;
  } bad[] = {
      {"Europe/Nowhere", "No such file"},
      {"../../etc/passwd", "neither a zone name"},
      {"Europe/../../../etc/passwd", "neither a zone name"},
      {"/usr/share/zoneinfo/../../../etc/passwd", ". or .. parts"},
      {"/etc/passwd", "not a TZif zone file"},
      {"/nonexistent/zone", "No such file"},
      {"Europe/Oslo zone", "neither a zone name"},
      {"", "empty"},
      {"CET-1CEST,M3.5.0", "is not a POSIX TZ rule: end date"},
      {"CET-1CEST", "as a POSIX TZ rule: daylight saving time without"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    int rc = dsmr_tz_load(bad[i].zone, &tz, rule, sizeof rule, err, sizeof err);
    ok(rc == -1 && strstr(err, bad[i].err_has), "\"%s\" refused: %s",
       bad[i].zone, err);
  }

  /* A device or a FIFO is refused without being opened or read: a
   * TimeZone "/dev/ttyUSB0" (the Device put on the wrong line) blocked
   * collectd's configuration for good in fread (found by fuzz_config). A
   * FIFO without a writer blocks in open: the alarm ends the test (killed
   * by SIGALRM, a failure) instead of letting it hang. */
  {
    char dir[] = "/tmp/dsmr-tz-XXXXXX", fifo[64];
    int made = mkdtemp(dir) != NULL;
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    made = made && mkfifo(fifo, 0600) == 0;
    err[0] = 0;
    alarm(20);
    int rc =
        made ? dsmr_tz_load(fifo, &tz, rule, sizeof rule, err, sizeof err) : 0;
    alarm(0);
    ok(made && rc == -1 && strstr(err, "not a regular file"),
       "a FIFO as TimeZone: refused at once, not opened: %s", err);
    unlink(fifo);
    rmdir(dir);
    err[0] = 0;
    rc = dsmr_tz_load("/dev/null", &tz, rule, sizeof rule, err, sizeof err);
    ok(rc == -1 && strstr(err, "not a regular file"),
       "a device (/dev/null) as TimeZone: refused: %s", err);
  }

  /* the host's zone: $TZ, else /etc/localtime, else UTC with a note */
  setenv("TZ", ":Europe/Vienna", 1);
  ok(dsmr_tz_load_host(&tz, rule, sizeof rule, note, sizeof note) == 0 &&
         strcmp(rule, "CET-1CEST,M3.5.0,M10.5.0/3") == 0 && !note[0],
     "host zone from TZ=:Europe/Vienna: %s", rule);
  setenv("TZ", "Nowhere/Atall", 1);
  ok(dsmr_tz_load_host(&tz, rule, sizeof rule, note, sizeof note) == 1 &&
         strcmp(rule, "UTC0") == 0 && tz.std_off == 0 && !tz.has_dst &&
         strstr(note, "Nowhere/Atall"),
     "an unreadable host zone: UTC, with a note: %s", note);
  unsetenv("TZ");
  int host = dsmr_tz_load_host(&tz, rule, sizeof rule, note, sizeof note);
  ok(host == 0 || (host == 1 && note[0]), "no TZ: /etc/localtime (%s%s%s)",
     rule, note[0] ? "; " : "", note);
}

/* ---- TZif footers ------------------------------------------------------- */

static size_t read_zone(const char *path, uint8_t *buf, size_t size) {
  FILE *f = fopen(path, "rb");
  size_t n = 0;
  if (f) {
    n = fread(buf, 1, size, f);
    fclose(f);
  }
  return n;
}

static void footers(void) {
  static uint8_t buf[65536], copy[65536];
  const char *rule, *why;
  size_t len, n = read_zone("/usr/share/zoneinfo/Europe/Oslo", buf, sizeof buf);
  unsigned crashes_or_accepts = 0;
  int rc;

  ok(n > 100 && dsmr_tzif_footer(buf, n, &rule, &len, &why) == 0 &&
         len == strlen("CET-1CEST,M3.5.0,M10.5.0/3") &&
         memcmp(rule, "CET-1CEST,M3.5.0,M10.5.0/3", len) == 0,
     "Europe/Oslo's footer");
  /* every shorter prefix is refused (and read within bounds: ASan) */
  for (size_t k = 0; k + 1 < n; k++) {
    memcpy(copy, buf, k);
    if (dsmr_tzif_footer(copy, k, &rule, &len, &why) == 0)
      crashes_or_accepts++;
  }
  ok(crashes_or_accepts == 0, "every prefix of the file short of its final "
                              "newline refused");
  /* version 1: no footer */
  memcpy(copy, buf, n);
  copy[4] = 0;
  rc = dsmr_tzif_footer(copy, n, &rule, &len, &why);
  ok(rc == -1 && strstr(why, "version 1"), "a version-1 file refused: %s", why);
  /* an empty footer: a zone without a rule for the present */
  size_t at = n - 2 - strlen("CET-1CEST,M3.5.0,M10.5.0/3"); /* its '\n' */
  memcpy(copy, buf, at);
  copy[at] = '\n';
  why = NULL;
  rc = dsmr_tzif_footer(copy, at + 1, &rule, &len, &why);
  ok(rc == -1 && strstr(why, "cut short"),
     "a footer without its closing newline refused: %s", why);
  copy[at + 1] = '\n';
  rc = dsmr_tzif_footer(copy, at + 2, &rule, &len, &why);
  ok(rc == -1 && strstr(why, "empty TZif footer"),
     "an empty footer refused: %s", why);
  memcpy(copy, buf, n);
  memcpy(copy, "TZiF", 4);
  rc = dsmr_tzif_footer(copy, n, &rule, &len, &why);
  ok(rc == -1 && strstr(why, "not a TZif"), "not TZif: %s", why);
  /* absurd counts */
  memcpy(copy, buf, n);
  copy[32] = 0x7F;
  rc = dsmr_tzif_footer(copy, n, &rule, &len, &why);
  ok(rc == -1, "a time count past the end refused: %s", why);
}

/* ---- the input chain: a HAN list-3 clock with deviation unspecified ---- */

/* An Aidon list 3 (AIDON_V0001) as tools/dsmr-sim --generate han-aidon
 * --han-list 3 --han-clock unspecified writes it, clock 2024-06-28
 * 10:43:43 local, deviation 0x8000; the clock's 12 bytes are replaced
 * below and the FCS computed again. */
static const char aidon_l3_hex[] =
    "7ea18a41088313ebfde6e7000f40000000000112020209060101000281ff0a0b"
    "4149444f4e5f5630303031020209060000600100ff0a10363132363933333130"
    "33303936333039020209060000600107ff0a0436353334020309060100010700"
    "ff06000003e802020f00161b020309060100020700ff06000003e802020f0016"
    "1b020309060100030700ff06000003e802020f00161d020309060100040700ff"
    "06000003e802020f00161d0203090601001f0700ff1003e802020fff16210203"
    "09060100330700ff1003e802020fff1621020309060100470700ff1003e80202"
    "0fff1621020309060100200700ff1203e802020fff1623020309060100340700"
    "ff1203e802020fff1623020309060100480700ff1203e802020fff1623020209"
    "060000010000ff090c07e8061c050a2b2bff800000020309060100010800ff06"
    "000003e802020f01161e020309060100020800ff06000003e802020f01161e02"
    "0309060100030800ff06000003e802020f011620020309060100040800ff0600"
    "0003e802020f011620d78e7e";

static size_t aidon_frame(uint8_t *out, int y, int mo, int d, int h, int mi,
                          int s, int deviation) {
  size_t n = strlen(aidon_l3_hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(aidon_l3_hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  /* 09 0C 07 E8 06 1C ...: the clock */
  uint8_t *c = NULL;
  for (size_t i = 0; i + 3 < n; i++)
    if (out[i] == 0x09 && out[i + 1] == 0x0C && out[i + 2] == 0x07 &&
        out[i + 3] == 0xE8)
      c = out + i + 2;
  if (!c)
    return 0;
  c[0] = (uint8_t)(y >> 8);
  c[1] = (uint8_t)y;
  c[2] = (uint8_t)mo;
  c[3] = (uint8_t)d;
  c[4] = 0xFF;
  c[5] = (uint8_t)h;
  c[6] = (uint8_t)mi;
  c[7] = (uint8_t)s;
  c[8] = 0xFF;
  c[9] = (uint8_t)((unsigned)deviation >> 8);
  c[10] = (uint8_t)deviation;
  c[11] = 0x00;
  uint16_t fcs = dsmr_crc_x25(out + 1, n - 4);
  out[n - 3] = (uint8_t)fcs;
  out[n - 2] = (uint8_t)(fcs >> 8);
  return n;
}

/* The meter time the chain gives a list with this clock: 1 and *utc, 0
 * without one, -1 when no list came out. */
static int chain_meter_time(const struct dsmr_tz *tz, int y, int mo, int d,
                            int h, int mi, int s, int deviation, int64_t *utc) {
  static struct dsmr_input in;
  struct dsmr_input_config cfg = {.max_telegram = 4096,
                                  .check_crc = 1,
                                  .protocol = DSMR_INPUT_PROTO_HAN,
                                  .timezone = tz};
  struct dsmr_input_out o;
  enum dsmr_input_event ev;
  uint8_t frame[512];
  char err[256];
  int got = -1;
  size_t n = aidon_frame(frame, y, mo, d, h, mi, s, deviation);

  if (n == 0 || dsmr_input_init(&in, &cfg, 0, err, sizeof err) != 0)
    return -1;
  dsmr_input_feed(&in, (char *)frame, n, 0);
  while ((ev = dsmr_input_next(&in, &o)) != DSMR_INPUT_NONE)
    if (ev == DSMR_INPUT_HAN_TELEGRAM && o.han_errors == 0) {
      got = o.telegram->info.has_meter_time;
      *utc = o.telegram->info.meter_time;
    }
  dsmr_input_free(&in);
  return got;
}

static void chain_clock(void) {
  struct dsmr_tz oslo = must("CET-1CEST,M3.5.0,M10.5.0/3"), utc0;
  int64_t u = 0;
  dsmr_tz_utc(&utc0);

  ok(chain_meter_time(&oslo, 2024, 6, 28, 10, 43, 43, 0x8000, &u) == 1 &&
         u == civil(2024, 6, 28, 8, 43, 43),
     "Aidon list 3, 10:43:43 local, deviation unspecified, TimeZone "
     "Europe/Oslo: meter time 08:43:43Z");
  ok(chain_meter_time(&oslo, 2024, 1, 15, 0, 0, 0, 0x8000, &u) == 1 &&
         u == civil(2024, 1, 14, 23, 0, 0),
     "... in winter: 00:00 local is 23:00Z the day before");
  ok(chain_meter_time(&utc0, 2024, 6, 28, 10, 43, 43, 0x8000, &u) == 1 &&
         u == civil(2024, 6, 28, 10, 43, 43),
     "... TimeZone UTC: 10:43:43Z");
  is_int(chain_meter_time(NULL, 2024, 6, 28, 10, 43, 43, 0x8000, &u), 0,
         "... no zone given to the chain: no meter time (as before)");
  is_int(chain_meter_time(&oslo, 2024, 10, 27, 2, 30, 0, 0x8000, &u), 0,
         "... 2024-10-27 02:30 local (twice that night): clock not used");
  is_int(chain_meter_time(&oslo, 2024, 3, 31, 2, 30, 0, 0x8000, &u), 0,
         "... 2024-03-31 02:30 local (no such time): clock not used");
  ok(chain_meter_time(&oslo, 2024, 10, 27, 1, 59, 59, 0x8000, &u) == 1 &&
         u == civil(2024, 10, 26, 23, 59, 59),
     "... 01:59:59 local that night, before the repeated hour: 23:59:59Z");
  ok(chain_meter_time(&oslo, 2024, 10, 27, 3, 0, 0, 0x8000, &u) == 1 &&
         u == civil(2024, 10, 27, 2, 0, 0),
     "... 03:00 local, after it: 02:00Z");
  /* a stated deviation wins over the zone: -120 = UTC+2 */
  ok(chain_meter_time(&utc0, 2024, 6, 28, 10, 43, 43, 0xFF88, &u) == 1 &&
         u == civil(2024, 6, 28, 8, 43, 43),
     "deviation -120 stated: 08:43:43Z whatever the TimeZone");
}

int main(void) {
  parse_forms();
  /* Oslo and Vienna share CET's rule; Helsinki's instants are the same
   * (the EU changes at 01:00 UTC everywhere) */
  edges("Europe/Oslo 2024", "CET-1CEST,M3.5.0,M10.5.0/3", 1711846800,
        1729990800, 3600, 7200);
  edges("Europe/Helsinki 2024", "EET-2EEST,M3.5.0/3,M10.5.0/4", 1711846800,
        1729990800, 7200, 10800);
  edges("America/New_York 2024", "EST5EDT,M3.2.0,M11.1.0", 1710054000,
        1730613600, -18000, -14400);
  gap_and_fold("Europe/Oslo 2024", "CET-1CEST,M3.5.0,M10.5.0/3", 1711846800,
               1729990800, 3600, 7200);
  gap_and_fold("Europe/Helsinki 2024", "EET-2EEST,M3.5.0/3,M10.5.0/4",
               1711846800, 1729990800, 7200, 10800);
  gap_and_fold("America/New_York 2024", "EST5EDT,M3.2.0,M11.1.0", 1710054000,
               1730613600, -18000, -14400);
  {
    /* by the clock on the wall: Oslo 2024-03-31 02:30 does not exist,
     * 2024-10-27 02:30 happens twice, 2024-06-28 10:43:43 is 08:43:43Z */
    struct dsmr_tz tz = must("CET-1CEST,M3.5.0,M10.5.0/3");
    int64_t u;
    is_int(dsmr_tz_local_to_utc(&tz, civil(2024, 3, 31, 2, 30, 0), &u),
           DSMR_TZ_GAP, "Oslo 2024-03-31 02:30 local: no such time");
    is_int(dsmr_tz_local_to_utc(&tz, civil(2024, 10, 27, 2, 30, 0), &u),
           DSMR_TZ_AMBIGUOUS, "Oslo 2024-10-27 02:30 local: twice");
    ok(dsmr_tz_local_to_utc(&tz, civil(2024, 6, 28, 10, 43, 43), &u) ==
               DSMR_TZ_OK &&
           u == civil(2024, 6, 28, 8, 43, 43),
       "Oslo 2024-06-28 10:43:43 local = 08:43:43Z");
    ok(dsmr_tz_local_to_utc(&tz, civil(2024, 1, 15, 0, 0, 0), &u) ==
               DSMR_TZ_OK &&
           u == civil(2024, 1, 14, 23, 0, 0),
       "Oslo 2024-01-15 00:00 local = 2024-01-14 23:00Z");
    struct dsmr_tz utc;
    dsmr_tz_utc(&utc);
    ok(dsmr_tz_local_to_utc(&utc, 1234567890, &u) == DSMR_TZ_OK &&
           u == 1234567890 && dsmr_tz_offset_at(&utc, 1234567890, NULL) == 0,
       "UTC: local is UTC");
  }
  against_glibc();
  dst_all_year();
  loader();
  footers();
  chain_clock();
  return tap_done();
}
