/* Baudrate "auto" (a meter whose line settings are probed, line_probe.h):
 * which setting the source gets on (re)connecting, the probe's windows as
 * bytes arrive or do not, the bit-7 masking of a 7E1 line read as 8N1, and
 * going back to probing when a settled line stops working. While probing,
 * garbage at a wrong setting is only judged for the line, never counted or
 * complained about. Reader thread only, except dsmr_meter_line_start
 * (init). */
#include "core/daemon/collectd.h"

#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include "meter.h"

/* The probe's setting into the source's config, for the next open. */
void dsmr_meter_line_to_config(struct dsmr_meter *m) {
  const struct dsmr_line_setting *l = dsmr_line_probe_setting(&m->line);
  m->source.cfg.baudrate = l->baudrate;
  m->source.cfg.databits = l->databits;
  m->source.cfg.parity = l->parity == 'E' ? DSMR_PARITY_EVEN : DSMR_PARITY_NONE;
  m->source.cfg.stopbits = l->stopbits;
}

void dsmr_meter_line_reset(struct dsmr_meter *m) {
  dsmr_framer_reset(&m->framer);
  dsmr_framer_reset(&m->line_framer);
}

/* The settled line failed (the probe is probing again). */
static void line_lost(struct dsmr_meter *m) {
  WARNING("dsmr plugin: meter \"%s\": line %s no longer works (%s): "
          "probing line settings again",
          m->cfg.name, m->line.found,
          m->line.lost_reason == DSMR_LINE_LOST_BAD_RUN
              ? "invalid telegrams in a row"
              : "bytes arrive but no valid telegram for a while");
  dsmr_meter_line_reset(m);
}

/* A settled line's frame, judged for the line: -1 when that lost it. */
int dsmr_meter_line_judge(struct dsmr_meter *m, const struct dsmr_frame *f) {
  /* After handle_frame: m->telegram is free to be mapped into again. */
  int valid = dsmr_line_frame_valid(f, &m->telegram);
  if (dsmr_line_probe_frame(&m->line, 0, valid, dsmr_line_now_ms()) !=
      DSMR_LINE_LOST)
    return 0;
  line_lost(m);
  return -1;
}

/* For every chunk (n bytes) and every quiet second, before the bytes are
 * framed: the probe's windows and the settled line's quiet rule. Returns
 * 0 to go on, 1 when the chunk is to be dropped (read with the setting
 * just left), -1 when the next setting could not be applied (why). */
int dsmr_meter_line_tick(struct dsmr_meter *m, size_t n, char *why,
                         size_t whylen) {
  int busy = dsmr_framer_collecting(&m->framer) ||
             dsmr_framer_collecting(&m->line_framer);
  const struct dsmr_line_setting *l;

  switch (dsmr_line_probe_tick(&m->line, n, busy, dsmr_line_now_ms())) {
  case DSMR_LINE_SWITCH:
    break;
  case DSMR_LINE_LOST:
    line_lost(m);
    return 1;
  default:
    return 0;
  }
  dsmr_meter_line_reset(m);
  if (m->line.windows == DSMR_LINE_SETTINGS) {
    char all[64];
    dsmr_line_settings_list(all, sizeof(all));
    WARNING("dsmr plugin: meter \"%s\": Baudrate \"auto\": no valid "
            "telegram at %s yet; still trying (is the meter sending? check "
            "the cable, DataRequest and whether the adapter inverts the "
            "signal)",
            m->cfg.name, all);
  }
  l = dsmr_line_probe_setting(&m->line);
  if (dsmr_source_set_line(&m->source, l->baudrate, l->databits,
                           l->parity == 'E' ? DSMR_PARITY_EVEN
                                            : DSMR_PARITY_NONE,
                           l->stopbits, why, whylen) != 0)
    return -1;
  return 1;
}

/* A chunk of a meter with Baudrate "auto". While probing, frames are only
 * judged for the line (garbage at a wrong setting is no reason to
 * complain); the one that settles it is handled as usual, and so is
 * everything after it (masked when the line needs it). */
unsigned dsmr_meter_line_bytes(struct dsmr_meter *m, char *p, size_t len,
                               cdtime_t now) {
  unsigned frames = 0;

  if (!m->line.settled) {
    enum dsmr_line_event ev;
    struct dsmr_frame f;
    size_t n =
        dsmr_line_probe_feed(&m->line, &m->framer, &m->line_framer, p, len,
                             &m->telegram, dsmr_line_now_ms(), &ev, &f);
    p += n;
    len -= n;
    if (ev == DSMR_LINE_FOUND) {
      INFO("dsmr plugin: meter \"%s\": line detected: %s%s", m->cfg.name,
           m->line.found,
           m->line.masked ? " (read as 8N1 with bit 7, the parity bit, "
                            "cleared)"
                          : "");
      dsmr_meter_handle_frame(m, &f, now);
      frames++;
    }
  } else if (dsmr_line_probe_mask(&m->line)) {
    dsmr_line_mask(p, len);
  }
  /* also with nothing left: the byte count is updated there */
  return frames + dsmr_meter_handle_bytes(m, p, len, now);
}

/* Baudrate "auto": the probe's framer and state, once at start. */
int dsmr_meter_line_start(struct dsmr_meter *m) {
  m->line_buf = malloc(m->cfg.max_telegram);
  if (!m->line_buf) {
    ERROR("dsmr plugin: meter \"%s\": out of memory", m->cfg.name);
    return -1;
  }
  dsmr_framer_init(&m->line_framer, m->line_buf, m->cfg.max_telegram);
  dsmr_line_probe_init(&m->line, dsmr_line_now_ms());
  return 0;
}
