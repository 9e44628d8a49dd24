/* Baudrate "auto": the probing state machine (see line_probe.h). */
#include "line_probe.h"

#include <stdio.h>
#include <string.h>

const struct dsmr_line_setting dsmr_line_settings[DSMR_LINE_SETTINGS_ALL] = {
    {115200, 8, 'N', 1}, {115200, 7, 'E', 1}, {9600, 7, 'E', 1},
    {2400, 8, 'E', 1},   {2400, 8, 'N', 1},
};

/* Each family's settings, in probing order (line_probe.h). */
static const unsigned char order_dsmr[] = {0, 1, 2};
static const unsigned char order_han[] = {3, 4, 0};
static const unsigned char order_any[] = {0, 1, 2, 3, 4};

static const struct dsmr_line_setting *
current(const struct dsmr_line_probe *p) {
  return &dsmr_line_settings[p->order[p->index]];
}

static void new_window(struct dsmr_line_probe *p, long long now_ms) {
  p->window_end = now_ms + DSMR_LINE_WINDOW_MS;
  p->extended = 0;
}

void dsmr_line_probe_init_family(struct dsmr_line_probe *p, long long now_ms,
                                 enum dsmr_line_family family) {
  memset(p, 0, sizeof(*p));
  p->family = family;
  switch (family) {
  case DSMR_LINE_FAMILY_HAN:
    p->order = order_han;
    p->nsettings = sizeof(order_han);
    break;
  case DSMR_LINE_FAMILY_ANY:
    p->order = order_any;
    p->nsettings = sizeof(order_any);
    break;
  default:
    p->family = DSMR_LINE_FAMILY_DSMR;
    p->order = order_dsmr;
    p->nsettings = sizeof(order_dsmr);
    break;
  }
  new_window(p, now_ms);
}

void dsmr_line_probe_init(struct dsmr_line_probe *p, long long now_ms) {
  dsmr_line_probe_init_family(p, now_ms, DSMR_LINE_FAMILY_DSMR);
}

void dsmr_line_probe_restart(struct dsmr_line_probe *p, long long now_ms) {
  p->settled = 0;
  p->masked = 0;
  p->windows = 0;
  p->bad_run = 0;
  p->bytes_since_good = 0;
  new_window(p, now_ms);
}

const struct dsmr_line_setting *
dsmr_line_probe_setting(const struct dsmr_line_probe *p) {
  return current(p);
}

int dsmr_line_probe_mask(const struct dsmr_line_probe *p) {
  return current(p)->databits == 7 || (p->settled && p->masked);
}

int dsmr_line_probe_dual(const struct dsmr_line_probe *p) {
  /* a masked copy only of a DSMR setting (ASCII), never for HAN */
  return !p->settled && current(p)->databits == 8 &&
         p->family != DSMR_LINE_FAMILY_HAN &&
         p->order[p->index] < DSMR_LINE_SETTINGS;
}

static enum dsmr_line_event lose(struct dsmr_line_probe *p,
                                 enum dsmr_line_lost_reason why,
                                 long long now_ms) {
  dsmr_line_probe_restart(p, now_ms);
  p->lost_reason = why;
  return DSMR_LINE_LOST;
}

enum dsmr_line_event dsmr_line_probe_tick(struct dsmr_line_probe *p,
                                          size_t bytes, int in_progress,
                                          long long now_ms) {
  if (p->settled) {
    p->bytes_since_good += bytes;
    if (now_ms - p->last_good >= DSMR_LINE_QUIET_MS &&
        p->bytes_since_good >= DSMR_LINE_QUIET_BYTES)
      return lose(p, DSMR_LINE_LOST_QUIET, now_ms);
    return DSMR_LINE_KEEP;
  }
  if (now_ms < p->window_end)
    return DSMR_LINE_KEEP;
  /* A telegram under way gets the chance to finish: at 9600 baud a large
   * one takes a second or two. Once only: garbage can look "under way"
   * forever. */
  if (in_progress && !p->extended) {
    p->window_end = now_ms + DSMR_LINE_EXTEND_MS;
    p->extended = 1;
    return DSMR_LINE_KEEP;
  }
  p->index = (p->index + 1) % p->nsettings;
  p->windows++;
  new_window(p, now_ms);
  return DSMR_LINE_SWITCH;
}

enum dsmr_line_event dsmr_line_probe_frame(struct dsmr_line_probe *p,
                                           int from_masked, int valid,
                                           long long now_ms) {
  if (!p->settled) {
    /* Invalid frames do not end a window early: at the right setting a
     * noisy line still brings a good telegram soon. */
    if (!valid)
      return DSMR_LINE_KEEP;
    p->settled = 1;
    p->masked = from_masked;
    p->bad_run = 0;
    p->last_good = now_ms;
    p->bytes_since_good = 0;
    p->lost_reason = DSMR_LINE_LOST_NONE;
    dsmr_line_probe_describe(p, p->found, sizeof(p->found));
    return DSMR_LINE_FOUND;
  }
  if (valid) {
    p->bad_run = 0;
    p->last_good = now_ms;
    p->bytes_since_good = 0;
    return DSMR_LINE_KEEP;
  }
  if (++p->bad_run >= DSMR_LINE_BAD_RUN)
    return lose(p, DSMR_LINE_LOST_BAD_RUN, now_ms);
  return DSMR_LINE_KEEP;
}

static void describe(const struct dsmr_line_setting *s, int as_7e1, char *buf,
                     size_t len) {
  if (as_7e1)
    snprintf(buf, len, "%d 7E1", s->baudrate);
  else
    snprintf(buf, len, "%d %d%c%d", s->baudrate, s->databits, s->parity,
             s->stopbits);
}

void dsmr_line_probe_describe(const struct dsmr_line_probe *p, char *buf,
                              size_t len) {
  describe(current(p), p->settled && p->masked, buf, len);
}

static void list(const unsigned char *order, unsigned n, char *buf,
                 size_t len) {
  size_t used = 0;

  if (len)
    buf[0] = '\0';
  for (unsigned i = 0; i < n && used < len; i++) {
    char one[32];
    int k;
    describe(&dsmr_line_settings[order[i]], 0, one, sizeof(one));
    k = snprintf(buf + used, len - used, "%s%s",
                 i == 0       ? ""
                 : i == n - 1 ? " or "
                              : ", ",
                 one);
    if (k < 0)
      break;
    used += (size_t)k;
  }
}

void dsmr_line_settings_list(char *buf, size_t len) {
  list(order_dsmr, sizeof(order_dsmr), buf, len);
}

void dsmr_line_probe_list(const struct dsmr_line_probe *p, char *buf,
                          size_t len) {
  list(p->order, p->nsettings, buf, len);
}

const char *dsmr_line_probe_wants(const struct dsmr_line_probe *p) {
  return p->family == DSMR_LINE_FAMILY_DSMR  ? "telegram"
         : p->family == DSMR_LINE_FAMILY_HAN ? "HAN frame"
                                             : "telegram or HAN frame";
}

int dsmr_line_frame_valid(const struct dsmr_frame *f,
                          struct dsmr_telegram *scratch) {
  if (f->crc == DSMR_CRC_OK)
    return 1;
  if (f->crc == DSMR_CRC_BAD)
    return 0;
  /* No CRC (DSMR 2.2/3): line noise can frame as '/' junk '!', so only a
   * telegram whose every line parses, with data in it, counts. */
  return dsmr_map_telegram(f->data, f->len, scratch) == 0 &&
         scratch->nobjects > 0;
}

void dsmr_line_mask(char *data, size_t len) {
  for (size_t i = 0; i < len; i++)
    data[i] = (char)((unsigned char)data[i] & 0x7f);
}

/* Feed data[0..len) to fr, judging each frame. Returns the offset just
 * past the frame that settled the probe, or len. */
static size_t judge(struct dsmr_line_probe *p, struct dsmr_framer *fr,
                    int from_masked, const char *data, size_t len,
                    struct dsmr_telegram *scratch, long long now_ms,
                    enum dsmr_line_event *ev, struct dsmr_frame *found) {
  size_t off = 0;

  while (off < len) {
    enum dsmr_frame_event fev;
    struct dsmr_frame f;
    off += dsmr_framer_feed(fr, data + off, len - off, &fev, &f);
    if (fev != DSMR_FRAME_TELEGRAM)
      continue;
    if (dsmr_line_probe_frame(p, from_masked,
                              dsmr_line_frame_valid(&f, scratch),
                              now_ms) == DSMR_LINE_FOUND) {
      *ev = DSMR_LINE_FOUND;
      *found = f;
      return off;
    }
  }
  return len;
}

size_t dsmr_line_probe_feed(struct dsmr_line_probe *p,
                            struct dsmr_framer *primary,
                            struct dsmr_framer *alt, char *data, size_t len,
                            struct dsmr_telegram *scratch, long long now_ms,
                            enum dsmr_line_event *ev,
                            struct dsmr_frame *found) {
  struct dsmr_framer_stats keep = primary->stats;
  int dual = dsmr_line_probe_dual(p);
  size_t off;

  *ev = DSMR_LINE_KEEP;
  if (dsmr_line_probe_mask(p))
    dsmr_line_mask(data, len);
  /* The data as read first: a plain 8N1 stream is also valid masked, and
   * must be reported as 8N1. */
  off = judge(p, primary, 0, data, len, scratch, now_ms, ev, found);
  if (*ev != DSMR_LINE_FOUND && dual) {
    dsmr_line_mask(data, len);
    off = judge(p, alt, 1, data, len, scratch, now_ms, ev, found);
    if (*ev == DSMR_LINE_FOUND) {
      /* primary read all of the chunk unmasked: it starts over, and the rest
       * of the chunk (masked now) is fed to it again by the caller. Its
       * byte count must not see those bytes twice. */
      dsmr_framer_reset(primary);
      primary->stats.bytes -= len - off;
      /* *found points into alt's buffer, which nothing touches until the
       * next probing feed. */
    }
  }
  /* Only the bytes count: garbage frames at a wrong setting are not the
   * meter's doing. */
  keep.bytes = primary->stats.bytes;
  primary->stats = keep;
  return off;
}
