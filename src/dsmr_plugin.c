/* The collectd glue of the dsmr plugin: registration, the list of
 * configured meters, init (start one reader thread per meter), the read
 * callback (each meter's health values and its silence check) and
 * shutdown (stop and join every reader).
 *
 * collectd's config callback has no user data, so the meter list is the
 * one piece of module-level state; it is written only by the config,
 * init and shutdown callbacks, which collectd runs one after another in
 * its main thread, and read by the read callback in between. */
#include "core/daemon/collectd.h"

#include "core/daemon/configfile.h"
#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <strings.h>

#include "meter.h"
#include "plugin_config.h"

#define DSMR_PLUGIN_VERSION "0.1.0"

static struct dsmr_meter **meters;
static size_t meters_len;

static struct dsmr_meter *find_meter(const char *name) {
  for (size_t i = 0; i < meters_len; i++)
    if (strcmp(meters[i]->cfg.name, name) == 0)
      return meters[i];
  return NULL;
}

/* What a Device names, to tell whether two meters read the same line: the
 * path with every link resolved (/dev/serial/by-id/... and /dev/ttyUSB0
 * are one device), or as written while it does not exist yet. */
static void device_key(const char *path, char *out, size_t len) {
  char real[PATH_MAX];
  sstrncpy(out, realpath(path, real) ? real : path, len);
}

/* The same for a Host: an address literal in its canonical form ("::1" and
 * "0:0::1" are one), a name in lower case. No name lookup at configuration
 * time: two names for one address are not found. */
static void host_key(const char *host, char *out, size_t len) {
  unsigned char a[sizeof(struct in6_addr)];
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, host, a) == 1 &&
      inet_ntop(AF_INET, a, buf, sizeof(buf)))
    sstrncpy(out, buf, len);
  else if (inet_pton(AF_INET6, host, a) == 1 &&
           inet_ntop(AF_INET6, a, buf, sizeof(buf)))
    sstrncpy(out, buf, len);
  else {
    sstrncpy(out, host, len);
    for (char *p = out; *p; p++)
      *p = (char)tolower((unsigned char)*p);
  }
}

/* The meter already configured that reads the source of cfg, or NULL. Two
 * readers of one tty would split its bytes between them at random. */
static struct dsmr_meter *find_source(const struct dsmr_source_config *cfg) {
  char mine[PATH_MAX], theirs[PATH_MAX];

  if (cfg->kind == DSMR_SOURCE_TCP)
    host_key(cfg->host, mine, sizeof(mine));
  else
    device_key(cfg->device, mine, sizeof(mine));
  for (size_t i = 0; i < meters_len; i++) {
    const struct dsmr_source_config *o = &meters[i]->cfg.source;
    if (o->kind != cfg->kind)
      continue;
    if (cfg->kind == DSMR_SOURCE_TCP) {
      if (strcmp(o->port, cfg->port) != 0)
        continue;
      host_key(o->host, theirs, sizeof(theirs));
    } else {
      device_key(o->device, theirs, sizeof(theirs));
    }
    if (strcmp(mine, theirs) == 0)
      return meters[i];
  }
  return NULL;
}

static int add_meter(const oconfig_item_t *ci) {
  struct dsmr_meter_config cfg;
  struct dsmr_meter *m, **grown;

  if (dsmr_config_meter(ci, &cfg) != 0)
    return -1;
  if (find_meter(cfg.name)) {
    ERROR("dsmr plugin: <Meter \"%s\">: the name \"%s\" is used twice; "
          "accepted: a different name for each meter (it becomes the "
          "plugin instance)",
          cfg.name, cfg.name);
    return -1;
  }
  if ((m = find_source(&cfg.source)) != NULL) {
    char what[300];
    dsmr_source_describe(&cfg.source, what, sizeof(what));
    ERROR("dsmr plugin: <Meter \"%s\">: %s is already read by <Meter "
          "\"%s\"> (%s); accepted: each device, or each Host and Port, in "
          "one meter only (two readers would split its telegrams between "
          "them at random)",
          cfg.name, what, m->cfg.name,
          cfg.source.kind == DSMR_SOURCE_TCP ? "the same Host and Port"
                                             : "the same device, links "
                                               "resolved");
    explicit_bzero(cfg.decryption_key, sizeof(cfg.decryption_key));
    explicit_bzero(cfg.auth_key, sizeof(cfg.auth_key));
    return -1;
  }
  grown = realloc(meters, (meters_len + 1) * sizeof(*meters));
  if (!grown)
    return -1;
  meters = grown;
  m = dsmr_meter_new(&cfg);
  if (!m)
    return -1;
  meters[meters_len++] = m;
  return 0;
}

static int dsmr_config(oconfig_item_t *ci) {
  int errors = 0;

  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    if (strcasecmp(c->key, "Meter") == 0) {
      if (add_meter(c) != 0)
        errors++;
    } else {
      ERROR("dsmr plugin: unknown option \"%s\" in <Plugin dsmr>; "
            "accepted: <Meter \"name\"> blocks",
            c->key);
      errors++;
    }
  }
  return errors ? -1 : 0;
}

static int dsmr_init(void) {
  if (meters_len == 0) {
    NOTICE("dsmr plugin: no <Meter> configured in <Plugin dsmr>: nothing "
           "to read");
    return 0;
  }
  for (size_t i = 0; i < meters_len; i++) {
    if (meters[i]->thread_started)
      continue; /* init runs once, but be safe against a second call */
    if (dsmr_meter_start(meters[i]) != 0)
      return -1;
  }
  INFO("dsmr plugin: version %s reading %zu meter%s", DSMR_PLUGIN_VERSION,
       meters_len, meters_len == 1 ? "" : "s");
  return 0;
}

static void dispatch_health(const struct dsmr_meter *m, const char *type,
                            const char *type_instance, value_t v,
                            cdtime_t now) {
  value_list_t vl = VALUE_LIST_INIT;

  vl.values = &v;
  vl.values_len = 1;
  vl.time = now;
  sstrncpy(vl.plugin, "dsmr", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->cfg.name, sizeof(vl.plugin_instance));
  sstrncpy(vl.type, type, sizeof(vl.type));
  if (type_instance)
    sstrncpy(vl.type_instance, type_instance, sizeof(vl.type_instance));
  plugin_dispatch_values(&vl);
}

/* Appends ", name N" to buf for a counter that moved. */
static void fact(char *buf, size_t len, const char *name, uint64_t now,
                 uint64_t then) {
  size_t used = strlen(buf);
  if (now > then && used < len)
    snprintf(buf + used, len - used, "%s%s %" PRIu64, used ? ", " : "", name,
             now - then);
}

/* Why a meter whose line brings bytes sends no valid telegram, from what
 * the counters say since the last valid one (at): telegrams that frame
 * cleanly but are too large or refused for their values mean the line
 * settings are right; bytes that never frame, or frame as CRC errors and
 * malformed telegrams, point at them. The counters that moved are listed
 * either way. */
static void silence_hint(const struct dsmr_meter *m,
                         const struct dsmr_meter_stats *s,
                         const struct dsmr_meter_stats *at, uint64_t noise,
                         char *hint, size_t len) {
  char facts[160] = "", advice[160];

  fact(facts, sizeof(facts), "too_large", s->too_large, at->too_large);
  fact(facts, sizeof(facts), "crc_error", s->crc_error, at->crc_error);
  fact(facts, sizeof(facts), "malformed", s->malformed, at->malformed);
  fact(facts, sizeof(facts), "implausible", s->implausible, at->implausible);
  fact(facts, sizeof(facts), "dropped", s->dropped, at->dropped);
  fact(facts, sizeof(facts), "decrypt_error", s->decrypt_error,
       at->decrypt_error);
  fact(facts, sizeof(facts), "replayed", s->replayed, at->replayed);
  /* Bytes of a wrong line setting also frame now and then ('/' junk
   * '!'), and then fail their CRC or do not parse: only telegrams refused
   * for nothing but their size or their values clear the line settings. */
  int garbled = s->crc_error > at->crc_error || s->malformed > at->malformed;
  if (s->too_large > at->too_large && !garbled)
    snprintf(advice, sizeof(advice),
             "telegrams arrive but are larger than MaxTelegramSize %zu "
             "bytes: raise it if the meter really sends such",
             m->cfg.max_telegram);
  else if ((s->implausible > at->implausible || s->replayed > at->replayed) &&
           !garbled)
    snprintf(advice, sizeof(advice),
             "telegrams arrive but are refused (see the log), so the line "
             "settings are right");
  else
    snprintf(advice, sizeof(advice), "%s",
             m->cfg.decrypt
                 ? "with DecryptionKey set, only Smarty frames that "
                   "decrypt with it count: is the stream encrypted, is "
                   "the key this meter's?"
             : m->cfg.source.kind == DSMR_SOURCE_TCP
                 ? "is the peer sending P1 telegrams?"
             : m->cfg.source.line_auto
                 ? "Baudrate \"auto\" found no line setting that gives "
                   "valid telegrams: is the signal inverted "
                   "(doc/hardware.md)?"
                 : "check Baudrate, DataBits and Parity (DSMR 4/5: "
                   "115200 8N1, DSMR 2.2/3: 9600 7E1)");
  snprintf(hint, len, "; %" PRIu64 " bytes arrived meanwhile: %s%s%s%s", noise,
           advice, facts[0] ? " (counters since the last valid telegram: " : "",
           facts, facts[0] ? ")" : "");
}

static void report_meter(struct dsmr_meter *m, cdtime_t now) {
  struct dsmr_meter_stats s, at;
  cdtime_t last, since;
  uint64_t noise = 0;
  int newly_silent = 0;
  char hint[512] = "";

  pthread_mutex_lock(&m->lock);
  s = m->stats;
  at = m->at_valid;
  last = m->last_valid;
  noise = s.bytes - m->bytes_at_valid;
  /* Before the first telegram, silence counts from the reader's start. */
  since = last ? last : m->started;
  if (m->cfg.silence_timeout > 0 && !m->silent && since != 0 && now > since &&
      now - since >= m->cfg.silence_timeout) {
    m->silent = 1;
    newly_silent = 1;
  }
  pthread_mutex_unlock(&m->lock);

  dispatch_health(m, "dsmr_telegrams", "ok",
                  (value_t){.derive = (derive_t)s.ok}, now);
  dispatch_health(m, "dsmr_telegrams", "crc_error",
                  (value_t){.derive = (derive_t)s.crc_error}, now);
  dispatch_health(m, "dsmr_telegrams", "malformed",
                  (value_t){.derive = (derive_t)s.malformed}, now);
  dispatch_health(m, "dsmr_telegrams", "too_large",
                  (value_t){.derive = (derive_t)s.too_large}, now);
  dispatch_health(m, "dsmr_telegrams", "dropped",
                  (value_t){.derive = (derive_t)s.dropped}, now);
  dispatch_health(m, "dsmr_telegrams", "implausible",
                  (value_t){.derive = (derive_t)s.implausible}, now);
  /* readings refused from telegrams that were stored (store_rules.h) */
  dispatch_health(m, "dsmr_telegrams", "future_time",
                  (value_t){.derive = (derive_t)s.future_time}, now);
  dispatch_health(m, "dsmr_telegrams", "held_back",
                  (value_t){.derive = (derive_t)s.held_back}, now);
  if (m->cfg.decrypt) { /* only meters that encrypt can fail these */
    dispatch_health(m, "dsmr_telegrams", "decrypt_error",
                    (value_t){.derive = (derive_t)s.decrypt_error}, now);
    dispatch_health(m, "dsmr_telegrams", "replayed",
                    (value_t){.derive = (derive_t)s.replayed}, now);
  }
  dispatch_health(m, "total_bytes", "received",
                  (value_t){.derive = (derive_t)s.bytes}, now);
  dispatch_health(m, "dsmr_reconnects", NULL,
                  (value_t){.derive = (derive_t)s.reconnects}, now);
  /* Age since the last valid telegram, or since the reader started when
   * none has arrived yet: a meter that never spoke looks old, not fine. */
  dispatch_health(m, "dsmr_age", NULL,
                  (value_t){.gauge = since && now > since
                                         ? CDTIME_T_TO_DOUBLE(now - since)
                                         : 0.0},
                  now);

  if (newly_silent) {
    /* Bytes without a telegram: the line works but its settings do not
     * (a wrong baud rate or parity gives bytes that never frame). */
    if (noise > 8) /* more than a stray CR LF */
      silence_hint(m, &s, &at, noise, hint, sizeof(hint));
    WARNING("dsmr plugin: meter \"%s\": no valid telegram for %.0f s%s",
            m->cfg.name, CDTIME_T_TO_DOUBLE(now - since), hint);
    dsmr_meter_notify(m, NOTIF_FAILURE, "silence",
                      "meter \"%s\": no valid telegram for %.0f s "
                      "(SilenceTimeout %.0f s)%s",
                      m->cfg.name, CDTIME_T_TO_DOUBLE(now - since),
                      CDTIME_T_TO_DOUBLE(m->cfg.silence_timeout), hint);
  }
}

/* The second the last health report was rounded to, as collectd rounds
 * times for stores that keep one update a second (CDTIME_T_TO_TIME_T). */
static time_t health_second;

static int dsmr_read(void) {
  cdtime_t now = cdtime();
  /* Two reads in one second: an Interval under a second, or collectd
   * running a late read and the next on time just after it. rrdtool
   * refuses the second update ("minimum one second step") and Graphite
   * overwrites the first, so the report waits for the next read: the
   * counters are cumulative and lose nothing, and the silence check runs
   * then. */
  if (CDTIME_T_TO_TIME_T(now) == health_second)
    return 0;
  health_second = CDTIME_T_TO_TIME_T(now);
  for (size_t i = 0; i < meters_len; i++)
    if (meters[i]->thread_started)
      report_meter(meters[i], now);
  /* Nothing new is not an error: non-zero would make collectd back off. */
  return 0;
}

static int dsmr_shutdown(void) {
  /* Wake every reader first, then join: the stops run in parallel. */
  for (size_t i = 0; i < meters_len; i++)
    if (meters[i]->thread_started)
      dsmr_meter_request_stop(meters[i]);
  for (size_t i = 0; i < meters_len; i++) {
    dsmr_meter_stop(meters[i]);
    dsmr_meter_report_flush(meters[i]); /* a partial ReportInterval */
    dsmr_meter_free(meters[i]);
  }
  free(meters);
  meters = NULL;
  meters_len = 0;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config("dsmr", dsmr_config);
  plugin_register_init("dsmr", dsmr_init);
  plugin_register_read("dsmr", dsmr_read);
  plugin_register_shutdown("dsmr", dsmr_shutdown);
}
