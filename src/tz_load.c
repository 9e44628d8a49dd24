/* Loading a TimeZone (see tz_load.h). */
#include "tz_load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZIF_MAX (1u << 20) /* real zone files are a few KiB */

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* Bytes of the data block after a header at p (time_size 4 or 8), or
 * SIZE_MAX when the counts are absurd. */
static size_t tzif_block(const uint8_t *p, size_t time_size) {
  uint64_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28),
           timecnt = be32(p + 32), type = be32(p + 36), chars = be32(p + 40);
  if (isut > TZIF_MAX || isstd > TZIF_MAX || leap > TZIF_MAX ||
      timecnt > TZIF_MAX || type > TZIF_MAX || chars > TZIF_MAX)
    return SIZE_MAX;
  return (size_t)(timecnt * time_size + timecnt + type * 6 + chars +
                  leap * (time_size + 4) + isstd + isut);
}

int dsmr_tzif_footer(const uint8_t *p, size_t n, const char **rule, size_t *len,
                     const char **why) {
  size_t at, b;
  if (n < 44 || memcmp(p, "TZif", 4) != 0) {
    *why = "not a TZif zone file";
    return -1;
  }
  if (p[4] < '2') {
    *why = "a TZif file of version 1, which has no POSIX rule";
    return -1;
  }
  b = tzif_block(p, 4);
  if (b > n || 44 + b > n || n - 44 - b < 44 ||
      memcmp(p + 44 + b, "TZif", 4) != 0) {
    *why = "a TZif file cut short or malformed";
    return -1;
  }
  at = 44 + b;
  b = tzif_block(p + at, 8);
  if (b >= n - at - 44 || p[at + 44 + b] != '\n') {
    *why = "a TZif file cut short or malformed";
    return -1;
  }
  at += 44 + b;
  const uint8_t *nl = memchr(p + at + 1, '\n', n - at - 1);
  if (!nl) {
    *why = "a TZif file whose POSIX rule is cut short";
    return -1;
  }
  *rule = (const char *)p + at + 1;
  *len = (size_t)(nl - (p + at + 1));
  if (*len == 0) {
    *why = "a zone without a POSIX rule for the present (empty TZif footer)";
    return -1;
  }
  return 0;
}

/* Opens a zone file for reading: a regular file only. A TimeZone naming a
 * device or a FIFO (TimeZone "/dev/ttyUSB0", the Device put on the wrong
 * line) would otherwise block collectd's configuration for good, in open
 * (a FIFO without a writer, a tty waiting for carrier) or in read (a serial
 * line): it is looked at with stat first, never opened, and opened without
 * blocking and checked again, in case it was swapped in between. */
static FILE *open_zone_file(const char *path, char *err, size_t errlen) {
  struct stat st;
  int fd;
  FILE *f;

  if (stat(path, &st) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file (a zone file is one)", path);
    return NULL;
  }
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file (a zone file is one)", path);
    close(fd);
    return NULL;
  }
  f = fdopen(fd, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    close(fd);
  }
  return f;
}

/* Reads a TZif file's footer rule into *tz. */
static int load_file(const char *path, struct dsmr_tz *tz, char *rule,
                     size_t rule_size, char *err, size_t errlen) {
  FILE *f = open_zone_file(path, err, errlen);
  uint8_t *buf = NULL;
  size_t n = 0;
  const char *r, *why;
  size_t rlen;
  int rc = -1;

  if (!f)
    return -1;
  buf = malloc(TZIF_MAX);
  if (!buf) {
    snprintf(err, errlen, "%s: out of memory", path);
    fclose(f);
    return -1;
  }
  n = fread(buf, 1, TZIF_MAX, f);
  if (ferror(f)) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
  } else if (dsmr_tzif_footer(buf, n, &r, &rlen, &why) != 0) {
    snprintf(err, errlen, "%s: %s", path, why);
  } else {
    char text[128];
    if (rlen >= sizeof text) {
      snprintf(err, errlen, "%s: its POSIX rule is too long", path);
    } else {
      memcpy(text, r, rlen);
      text[rlen] = 0;
      if (dsmr_tz_parse(text, tz, &why) != 0) {
        snprintf(err, errlen, "%s: its POSIX rule \"%s\": %s", path, text, why);
      } else {
        if (rule)
          snprintf(rule, rule_size, "%s", text);
        rc = 0;
      }
    }
  }
  free(buf);
  fclose(f);
  return rc;
}

/* A zone name: letters, digits, '_', '+', '-', '.', '/', not starting with
 * '/' or '.', no ".." part. */
static int zone_name_ok(const char *s) {
  if (!*s || *s == '/' || *s == '.' || strlen(s) > 200)
    return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' ||
          c == '.' || c == '/'))
      return 0;
    if (c == '.' && p[1] == '.')
      return 0;
  }
  return 1;
}

static int looks_like_rule(const char *s) {
  int digits = 0;
  if (strchr(s, ',') || strchr(s, '<'))
    return 1;
  for (const char *p = s; *p; p++)
    digits |= *p >= '0' && *p <= '9';
  return digits && !strchr(s, '/');
}

int dsmr_tz_load(const char *spec, struct dsmr_tz *tz, char *rule,
                 size_t rule_size, char *err, size_t errlen) {
  const char *why = NULL;
  char path[512];

  if (!spec || !*spec) {
    snprintf(err, errlen, "an empty TimeZone");
    return -1;
  }
  if (looks_like_rule(spec)) {
    if (dsmr_tz_parse(spec, tz, &why) == 0) {
      if (rule)
        snprintf(rule, rule_size, "%s", spec);
      return 0;
    }
    if (strchr(spec, ',') || strchr(spec, '<') || !zone_name_ok(spec)) {
      snprintf(err, errlen, "\"%s\" is not a POSIX TZ rule: %s", spec, why);
      return -1;
    }
  }
  if (spec[0] == '/') {
    if (strstr(spec, "/../") || strstr(spec, "/./")) {
      snprintf(err, errlen, "\"%s\": a path with . or .. parts", spec);
      return -1;
    }
    return load_file(spec, tz, rule, rule_size, err, errlen);
  }
  if (!zone_name_ok(spec)) {
    snprintf(err, errlen,
             "\"%s\" is neither a zone name (such as \"Europe/Oslo\": "
             "letters, digits, _ + - . /, no \"..\") nor a POSIX TZ rule "
             "(such as \"CET-1CEST,M3.5.0,M10.5.0/3\")",
             spec);
    return -1;
  }
  const char *dir = getenv("TZDIR");
  if (!dir || !*dir)
    dir = "/usr/share/zoneinfo";
  snprintf(path, sizeof path, "%s/%s", dir, spec);
  if (load_file(path, tz, rule, rule_size, err, errlen) != 0) {
    if (why) { /* it looked like a rule too */
      size_t l = strlen(err);
      snprintf(err + l, errlen - l, "; as a POSIX TZ rule: %s", why);
    }
    return -1;
  }
  return 0;
}

int dsmr_tz_load_host(struct dsmr_tz *tz, char *rule, size_t rule_size,
                      char *note, size_t notelen) {
  char err[512];
  const char *env = getenv("TZ");

  note[0] = 0;
  if (env && *env) {
    if (*env == ':')
      env++;
    if (dsmr_tz_load(env, tz, rule, rule_size, err, sizeof err) == 0)
      return 0;
    snprintf(note, notelen, "TZ=%s: %s", env, err);
  } else if (load_file("/etc/localtime", tz, rule, rule_size, err,
                       sizeof err) == 0) {
    return 0;
  } else {
    snprintf(note, notelen, "%s", err);
  }
  dsmr_tz_utc(tz);
  if (rule)
    snprintf(rule, rule_size, "UTC0");
  return 1;
}
