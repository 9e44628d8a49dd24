/* What a clean telegram becomes inside collectd: one value list per
 * reading the storing rules (src/lib/store_rules.h: times, "Counters never
 * lie") let through, and notifications and log lines for the events they
 * and the telegram reveal (an implausible register, a replaced meter, a
 * capture time in the future, a new text message, a new power failure,
 * voltage sags or swells, a new monthly peak demand). With ReportInterval
 * the electricity values wait for their interval (src/lib/report.h) and
 * go out as one point each when it ends.
 *
 * Nothing here allocates: the per-identifier state is a fixed table in
 * the meter (m->rules). */
#include "core/daemon/collectd.h"

#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include "hex.h"
#include "meter.h"

void dsmr_meter_note_arrival(struct dsmr_meter *m, cdtime_t arrival) {
  dsmr_rules_note_arrival(&m->rules, m->last_arrival, arrival);
  m->last_arrival = arrival;
}

cdtime_t dsmr_meter_interval(const struct dsmr_meter *m) {
  return dsmr_rules_interval(&m->rules);
}

static void vnotify(const struct dsmr_meter *m, int severity, const char *type,
                    const char *type_instance, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void vnotify(const struct dsmr_meter *m, int severity, const char *type,
                    const char *type_instance, const char *fmt, va_list ap) {
  notification_t n = {.severity = severity, .time = cdtime()};

  vsnprintf(n.message, sizeof(n.message), fmt, ap);
  sstrncpy(n.host, hostname_g, sizeof(n.host));
  sstrncpy(n.plugin, "dsmr", sizeof(n.plugin));
  sstrncpy(n.plugin_instance, m->cfg.name, sizeof(n.plugin_instance));
  if (type)
    sstrncpy(n.type, type, sizeof(n.type));
  if (type_instance)
    sstrncpy(n.type_instance, type_instance, sizeof(n.type_instance));
  /* -1 only means that no plugin consumes notifications. */
  (void)plugin_dispatch_notification(&n);
}

void dsmr_meter_notify(const struct dsmr_meter *m, int severity,
                       const char *type_instance, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotify(m, severity, NULL, type_instance, fmt, ap);
  va_end(ap);
}

/* A notification about one identifier (type and type_instance set). */
static void notify_ident(const struct dsmr_meter *m, int severity,
                         const struct dsmr_reading *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void notify_ident(const struct dsmr_meter *m, int severity,
                         const struct dsmr_reading *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotify(m, severity, r->type, r->type_instance, fmt, ap);
  va_end(ap);
}

void dsmr_decode_text(const char *raw, size_t len, char *out, size_t outlen) {
  size_t o = 0, i;
  int hex = len > 0 && len % 2 == 0;

  if (outlen == 0)
    return;
  for (i = 0; hex && i < len; i++)
    if (dsmr_hex_digit((unsigned char)raw[i]) < 0)
      hex = 0;
  for (i = 0; i < len && o + 1 < outlen; i += hex ? 2 : 1) {
    unsigned char c =
        hex ? (unsigned char)(dsmr_hex_digit((unsigned char)raw[i]) << 4 |
                              dsmr_hex_digit((unsigned char)raw[i + 1]))
            : (unsigned char)raw[i];
    if (c == 0)
      continue; /* padding some meters send */
    if (c == '\r' || c == '\n' || c == '\t')
      c = ' ';
    else if (c < 0x20 || c > 0x7e)
      c = '?';
    out[o++] = (char)c;
  }
  while (o > 0 && out[o - 1] == ' ')
    o--;
  out[o] = '\0';
}

/* One value list: dispatched, or at shutdown (direct) written straight to
 * the write plugins: collectd has stopped its write queue by then. */
static void dispatch_one(value_list_t *vl, const struct dsmr_reading *r,
                         cdtime_t t, cdtime_t interval, int direct) {
  value_t v;

  if (r->ds == DSMR_DS_DERIVE)
    v.derive = (derive_t)r->derive;
  else
    v.gauge = (gauge_t)r->gauge;
  vl->values = &v;
  vl->values_len = 1;
  vl->time = t;
  vl->interval = interval;
  sstrncpy(vl->type, r->type, sizeof(vl->type));
  sstrncpy(vl->type_instance, r->type_instance, sizeof(vl->type_instance));
#ifndef DSMR_BENCH_NO_DISPATCH
  if (direct)
    (void)plugin_write(NULL, NULL, vl);
  else
    plugin_dispatch_values(vl);
#else
  (void)direct; /* bench/: the plugin's own cost without collectd's */
#endif
}

static void check_text(struct dsmr_meter *m, const struct dsmr_telegram *tg) {
  char text[DSMR_TEXT_MAX + 1];

  dsmr_decode_text(tg->info.text_message.ptr, tg->info.text_message.len, text,
                   sizeof(text));
  if (strcmp(text, m->text) == 0)
    return;
  sstrncpy(m->text, text, sizeof(m->text));
  /* A message already standing when we start is news to the user too. */
  if (text[0]) {
    INFO("dsmr plugin: meter \"%s\": text message: %s", m->cfg.name, text);
    dsmr_meter_notify(m, NOTIF_WARNING, "text_message",
                      "meter \"%s\": message from the grid operator: %s",
                      m->cfg.name, text);
  }
}

static void check_failures(struct dsmr_meter *m, const struct dsmr_telegram *tg,
                           int have_baseline) {
  const struct dsmr_telegram_info *i = &tg->info;

  /* The log is history: the first telegram only sets the baseline. */
  if (have_baseline && (i->failure_log_entries > m->failure_entries ||
                        i->failure_last_end > m->failure_last_end)) {
    time_t end = (time_t)i->failure_last_end;
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&end, &tm))
      strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    dsmr_meter_notify(m, NOTIF_WARNING, "power_failure",
                      "meter \"%s\": new power failure logged: %" PRId64
                      " s, ended %s (%u in the log)",
                      m->cfg.name, i->failure_last_duration, when,
                      i->failure_log_entries);
  }
  m->failure_entries = i->failure_log_entries;
  m->failure_last_end = i->failure_last_end;
}

static void utc_text(int64_t t, char buf[32]) {
  time_t tt = (time_t)t;
  struct tm tm;
  strcpy(buf, "?");
  if (gmtime_r(&tt, &tm))
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What dsmr_meter_dispatch walks the rules' result with: the meter, its
 * value list, and the arrival (for rate-limited log lines). */
struct dispatch_ctx {
  struct dsmr_meter *m;
  value_list_t *vl;
  cdtime_t arrival;
};

/* The points of the open report interval, all of them. */
static void report_flush(struct dsmr_meter *m, value_list_t *vl, int direct) {
  struct dsmr_report_point p;
  while (dsmr_report_take(&m->report, &p)) {
    const struct dsmr_reading r = {.type = p.type,
                                   .type_instance = p.type_instance,
                                   .ds = p.ds,
                                   .derive = p.derive,
                                   .gauge = p.gauge};
    dispatch_one(vl, &r, (cdtime_t)p.time, (cdtime_t)m->report.interval,
                 direct);
  }
}

static void store_cb(void *ctx, const struct dsmr_reading *r,
                     const struct dsmr_rules_store *st) {
  struct dispatch_ctx *c = ctx;
  struct dsmr_report *rep = &c->m->report;

  if (dsmr_report_delays(rep, r))
    dsmr_report_add(rep, st->ident, r, st->time);
  else
    dispatch_one(c->vl, r, (cdtime_t)st->time, (cdtime_t)st->interval, 0);
}

/* The events of the rules: notifications, log lines and counters. */
static void event_cb(void *ctx, const struct dsmr_rules_event *ev) {
  struct dispatch_ctx *c = ctx;
  struct dsmr_meter *m = c->m;
  const struct dsmr_reading *r = ev->r;
  const char *unit = ev->limit ? ev->limit->unit : "";
  char was[sizeof(m->rules.equipment_id) + 1],
      now[sizeof(m->rules.equipment_id) + 1], when[32], other[32];

  switch (ev->kind) {
  case DSMR_EV_BACKWARDS:
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s went backwards from %" PRId64
                 " to %" PRId64 " %s: telegram not stored",
                 m->cfg.name, r->type, r->type_instance, ev->old_value,
                 ev->new_value, unit);
    break;
  case DSMR_EV_JUMPED:
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s jumped from %" PRId64 " to %" PRId64
                 " %s (+%" PRId64 " %s in %.0f s; at most %.0f %s possible "
                 "at %s): telegram not stored",
                 m->cfg.name, r->type, r->type_instance, ev->old_value,
                 ev->new_value, unit, ev->new_value - ev->old_value, unit,
                 ev->elapsed_s, ev->allowed, unit, ev->limit->limit);
    break;
  case DSMR_EV_HELD:
    pthread_mutex_lock(&m->lock);
    m->stats.held_back++;
    pthread_mutex_unlock(&m->lock);
    dsmr_meter_complain(m, &m->complain_held, c->arrival,
                        "%s-%s read %" PRId64 " %s, %" PRId64
                        " below its stored %" PRId64
                        " (a meter rounding): that value not stored, the "
                        "rest of the telegram is",
                        r->type, r->type_instance, ev->new_value, unit,
                        ev->old_value - ev->new_value, ev->old_value);
    break;
  case DSMR_EV_RESTARTED:
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": %s-%s restarted: %d readings in a row agree "
                 "on %" PRId64 " after %" PRId64 "; taken as its new "
                 "baseline",
                 m->cfg.name, r->type, r->type_instance,
                 DSMR_RULES_RESYNC_AFTER, ev->new_value, ev->old_value);
    break;
  case DSMR_EV_REPLACED:
    dsmr_decode_text(m->rules.prev_equipment_id, m->rules.prev_equipment_len,
                     was, sizeof(was));
    dsmr_decode_text(m->rules.equipment_id, m->rules.equipment_len, now,
                     sizeof(now));
    WARNING("dsmr plugin: meter \"%s\": equipment id changed from %s to %s: "
            "a replaced meter; its registers are taken from their new values",
            m->cfg.name, was, now);
    dsmr_meter_notify(m, NOTIF_WARNING, "meter_replaced",
                      "meter \"%s\": a replaced meter was detected (equipment "
                      "id %s, was %s): its registers start again from their "
                      "own values",
                      m->cfg.name, now, was);
    break;
  case DSMR_EV_FUTURE:
    pthread_mutex_lock(&m->lock);
    m->stats.future_time++;
    pthread_mutex_unlock(&m->lock);
    utc_text(ev->capture, when);
    utc_text(ev->against, other);
    dsmr_meter_complain(m, &m->complain_future, c->arrival,
                        "%s-%s: capture time %s is %.0f s ahead of the "
                        "arrival (%s; at most %d s allowed): not stored",
                        r->type, r->type_instance, when,
                        (double)(ev->capture - ev->against), other,
                        DSMR_RULES_FUTURE_S);
    break;
  case DSMR_EV_DST_REPEAT:
    utc_text(ev->capture, when);
    utc_text(ev->against, other);
    INFO("dsmr plugin: meter \"%s\": %s-%s: capture time %s came again "
         "with another value: the second occurrence of the local hour at the "
         "end of summer time, stored at %s",
         m->cfg.name, r->type, r->type_instance, when, other);
    break;
  case DSMR_EV_PEAK:
    utc_text(ev->capture, when);
    utc_text(ev->old_time, other);
    notify_ident(m, NOTIF_WARNING, r,
                 "meter \"%s\": new monthly peak demand %.3f kW at %s "
                 "(was %.3f kW at %s)",
                 m->cfg.name, ev->new_gauge / 1000.0, when,
                 ev->old_gauge / 1000.0, other);
    break;
  case DSMR_EV_QUALITY:
    dsmr_meter_notify(m, NOTIF_WARNING, r->type_instance,
                      "meter \"%s\": %s rose from %.0f to %.0f", m->cfg.name,
                      r->type_instance, ev->old_gauge, ev->new_gauge);
    break;
  case DSMR_EV_IDENTS_FULL:
    ERROR("dsmr plugin: meter \"%s\": more than %d distinct values; "
          "%s-%s and any further ones are not dispatched",
          m->cfg.name, DSMR_IDENT_MAX, r->type, r->type_instance);
    break;
  }
}

int dsmr_meter_dispatch(struct dsmr_meter *m, cdtime_t arrival) {
  const struct dsmr_telegram *tg = &m->telegram;
  /* One value list for the whole telegram: plugin_dispatch_values copies
   * it, and only type, type_instance, value and time change. */
  value_list_t vl = VALUE_LIST_INIT;
  struct dispatch_ctx c = {.m = m, .vl = &vl, .arrival = arrival};
  struct dsmr_rules_result *res = &m->rules_result;

  sstrncpy(vl.plugin, "dsmr", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->cfg.name, sizeof(vl.plugin_instance));
  dsmr_rules_telegram(&m->rules, tg, arrival, res);
  if (m->report.interval != m->cfg.report_interval) /* the first telegram */
    dsmr_report_init(&m->report, m->cfg.report_interval);
  /* ReportInterval: a telegram of a later interval closes the open one. */
  if (!res->rejected && dsmr_report_due(&m->report, res->time))
    report_flush(m, &vl, 0);
  /* The rules' verdicts, in their order: an event before the values it
   * explains. */
  dsmr_rules_result_walk(res, tg, &c, store_cb, event_cb);
  if (res->events_lost > 0)
    ERROR("dsmr plugin: meter \"%s\": %u events of one telegram lost "
          "(more than %d): a bug, please report",
          m->cfg.name, res->events_lost, DSMR_RULES_MAX_EVENTS);
  if (res->rejected)
    return 1;
  check_text(m, tg);
  check_failures(m, tg, res->had_baseline);
  return 0;
}

void dsmr_meter_report_flush(struct dsmr_meter *m) {
  value_list_t vl = VALUE_LIST_INIT;

  if (m->report.nopen == 0)
    return;
  sstrncpy(vl.host, hostname_g, sizeof(vl.host));
  sstrncpy(vl.plugin, "dsmr", sizeof(vl.plugin));
  sstrncpy(vl.plugin_instance, m->cfg.name, sizeof(vl.plugin_instance));
  report_flush(m, &vl, 1);
}
