/* HAN framing stage: transport choice, HDLC or M-Bus framing, segment and
 * block-transfer reassembly (see han.h). */
#include "han.h"

#include <string.h>

#define AUTO_RETRY_FAILURES 4

int dsmr_han_framing_init(struct dsmr_han_framing *f,
                          enum dsmr_han_transport transport, uint8_t *buf,
                          size_t cap) {
  memset(f, 0, sizeof *f);
  if (!buf || cap < DSMR_HAN_FRAMING_BUF_SIZE)
    return -1;
  f->configured = f->transport = transport;
  dsmr_hdlc_init(&f->hdlc, buf, DSMR_HDLC_BUF_SIZE);
  buf += DSMR_HDLC_BUF_SIZE;
  dsmr_mbus_init(&f->mbus, buf, DSMR_MBUS_BUF_SIZE);
  buf += DSMR_MBUS_BUF_SIZE;
  /* M-Bus segments and HDLC segments never occur together: one buffer */
  dsmr_mbus_reasm_init(&f->reasm, buf, DSMR_HAN_MESSAGE_MAX);
  f->seg = buf;
  f->seg_cap = DSMR_HAN_MESSAGE_MAX;
  buf += DSMR_HAN_MESSAGE_MAX;
  dsmr_gbt_init(&f->gbt, buf, DSMR_HAN_MESSAGE_MAX);
  return 0;
}

void dsmr_han_framing_reset(struct dsmr_han_framing *f) {
  dsmr_hdlc_reset(&f->hdlc);
  dsmr_mbus_reset(&f->mbus);
  dsmr_mbus_reasm_reset(&f->reasm);
  dsmr_gbt_reset(&f->gbt);
  f->seg_len = 0;
  f->pending = 0;
  f->nsniff = 0;
  if (f->configured == DSMR_HAN_AUTO && !f->locked)
    f->transport = DSMR_HAN_AUTO;
}

/* AUTO, undecided: looks for a frame start in data, keeping the last 3
 * bytes across calls. Returns the bytes before the start (which are not
 * needed: the chosen framer gets the start from f->sniff and data). */
static size_t sniff(struct dsmr_han_framing *f, const uint8_t *data,
                    size_t len) {
  for (size_t i = 0; i < len; i++) {
    uint8_t w[4];
    size_t k = f->nsniff;
    memcpy(w, f->sniff, k);
    w[k] = data[i];
    if (k + 1 >= 2 && w[k - 1] == 0x7E && (w[k] & 0xF0) == 0xA0) {
      f->transport = DSMR_HAN_HDLC;
      f->sniff[0] = 0x7E;
      f->nsniff = 1; /* the start's first byte, replayed to the framer */
      return i;
    }
    if (k + 1 == 4 && w[0] == 0x68 && w[3] == 0x68 && w[1] == w[2] &&
        w[1] >= 3) {
      f->transport = DSMR_HAN_MBUS;
      memcpy(f->sniff, w, 3);
      f->nsniff = 3;
      return i;
    }
    /* keep the last 3 bytes */
    if (k + 1 > 3) {
      memmove(w, w + 1, 3);
      k = 2;
    }
    memcpy(f->sniff, w, k + 1);
    f->nsniff = k + 1;
  }
  return len;
}

static void failed(struct dsmr_han_framing *f) {
  f->stats.frame_check_failures++;
  /* The frame may have carried a part of a message. What was gathered of
   * that message can no longer be completed safely: segments and blocks
   * are numbered afresh in every message, so the next message's parts
   * would be joined to this one's (tests/test_han.c, "never joined"). Drop
   * it, and refuse the rest of the message up to the next first part. */
  f->seg_len = 0;
  dsmr_mbus_reasm_reset(&f->reasm);
  f->reasm.broken = 1;
  dsmr_gbt_reset(&f->gbt);
  f->gbt.broken = 1;
  if (f->configured == DSMR_HAN_AUTO && !f->locked &&
      ++f->failures >= AUTO_RETRY_FAILURES) {
    f->transport = DSMR_HAN_AUTO;
    f->failures = 0;
    f->nsniff = 0;
    dsmr_hdlc_reset(&f->hdlc);
    dsmr_mbus_reset(&f->mbus);
  }
}

/* A complete message (after HDLC or M-Bus): block transfer or APDU. */
static enum dsmr_han_event message(struct dsmr_han_framing *f, const uint8_t *p,
                                   size_t n, struct dsmr_han_out *out) {
  if (n > 0 && p[0] == DSMR_DLMS_BLOCK_TRANSFER) {
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    int retry = 0;
    enum dsmr_gbt_event g = dsmr_gbt_add(&f->gbt, p, n, &msg, &mlen, &retry);
    if (retry) {
      f->pending = 2;
      f->papdu = p;
      f->plen = n;
    }
    switch (g) {
    case DSMR_GBT_BLOCK:
      return DSMR_HAN_EV_NONE;
    case DSMR_GBT_MESSAGE:
      p = msg;
      n = mlen;
      break;
    case DSMR_GBT_TOO_LARGE:
      f->stats.too_large++;
      out->detail = dsmr_gbt_event_name(g);
      return DSMR_HAN_EV_TOO_LARGE;
    default:
      f->stats.blocks_refused++;
      out->detail = dsmr_gbt_event_name(g);
      return DSMR_HAN_EV_BLOCK_REFUSED;
    }
  }
  f->stats.apdus++;
  out->apdu = p;
  out->len = n;
  return DSMR_HAN_EV_APDU;
}

static enum dsmr_han_event hdlc_frame(struct dsmr_han_framing *f,
                                      const struct dsmr_hdlc_frame *fr,
                                      struct dsmr_han_out *out) {
  const uint8_t *p = fr->info;
  size_t n = fr->info_len;
  if (n == 0)
    return DSMR_HAN_EV_NONE; /* no information field */
  /* LLC header of a first segment (GB9 8.3.2) */
  if (f->seg_len == 0 && n >= 3 && p[0] == 0xE6 && (p[1] & 0xFE) == 0xE6 &&
      p[2] == 0x00) {
    p += 3;
    n -= 3;
  }
  if (fr->segmented || f->seg_len > 0) {
    if (n > f->seg_cap - f->seg_len) {
      f->seg_len = 0;
      f->stats.too_large++;
      out->detail = "HDLC message too large";
      return DSMR_HAN_EV_TOO_LARGE;
    }
    memcpy(f->seg + f->seg_len, p, n);
    f->seg_len += n;
    if (fr->segmented)
      return DSMR_HAN_EV_NONE;
    p = f->seg;
    n = f->seg_len;
    f->seg_len = 0;
  }
  return message(f, p, n, out);
}

static enum dsmr_han_event mbus_frame(struct dsmr_han_framing *f,
                                      const struct dsmr_mbus_frame *fr,
                                      struct dsmr_han_out *out) {
  const uint8_t *msg = NULL;
  size_t mlen = 0;
  int retry = 0;
  enum dsmr_mbus_reasm_event r =
      dsmr_mbus_reasm_add(&f->reasm, fr, &msg, &mlen, &retry);
  if (retry) {
    f->pending = 1;
    f->mframe = *fr;
  }
  switch (r) {
  case DSMR_MBUS_SEGMENT:
  case DSMR_MBUS_NOT_DLMS:
    return DSMR_HAN_EV_NONE;
  case DSMR_MBUS_MESSAGE:
    return message(f, msg, mlen, out);
  case DSMR_MBUS_MISSING_SEGMENT:
    f->stats.missing_segments++;
    out->detail = dsmr_mbus_reasm_event_name(r);
    return DSMR_HAN_EV_MISSING_SEGMENT;
  case DSMR_MBUS_MESSAGE_TOO_LARGE:
    f->stats.too_large++;
    out->detail = dsmr_mbus_reasm_event_name(r);
    return DSMR_HAN_EV_TOO_LARGE;
  }
  return DSMR_HAN_EV_NONE;
}

size_t dsmr_han_framing_feed(struct dsmr_han_framing *f, const uint8_t *data,
                             size_t len, enum dsmr_han_event *ev,
                             struct dsmr_han_out *out) {
  size_t used = 0;
  memset(out, 0, sizeof *out);
  *ev = DSMR_HAN_EV_NONE;

  if (f->pending) {
    int p = f->pending;
    f->pending = 0;
    *ev = p == 1 ? mbus_frame(f, &f->mframe, out)
                 : message(f, f->papdu, f->plen, out);
    if (*ev != DSMR_HAN_EV_NONE)
      return 0;
  }
  for (;;) {
    if (f->transport == DSMR_HAN_AUTO) {
      used += sniff(f, data + used, len - used);
      if (f->transport == DSMR_HAN_AUTO)
        return used;
      /* the start's first bytes, held in sniff, go to the framer first;
       * the byte that completed the pattern is still in data */
      size_t k = f->nsniff;
      f->nsniff = 0;
      out->transport = f->transport;
      *ev = DSMR_HAN_EV_TRANSPORT;
      if (f->transport == DSMR_HAN_HDLC) {
        enum dsmr_hdlc_event e;
        struct dsmr_hdlc_frame fr;
        dsmr_hdlc_feed(&f->hdlc, f->sniff, k, &e, &fr);
      } else {
        enum dsmr_mbus_event e;
        struct dsmr_mbus_frame fr;
        dsmr_mbus_feed(&f->mbus, f->sniff, k, &e, &fr);
      }
      return used;
    }
    if (f->transport == DSMR_HAN_HDLC) {
      enum dsmr_hdlc_event e;
      struct dsmr_hdlc_frame fr;
      used += dsmr_hdlc_feed(&f->hdlc, data + used, len - used, &e, &fr);
      switch (e) {
      case DSMR_HDLC_NONE:
        return used;
      case DSMR_HDLC_FRAME:
        f->locked = 1;
        *ev = hdlc_frame(f, &fr, out);
        break;
      case DSMR_HDLC_BAD_HCS:
      case DSMR_HDLC_BAD_FCS:
        out->detail = dsmr_hdlc_event_name(e);
        *ev = DSMR_HAN_EV_FRAME_CHECK;
        failed(f);
        break;
      }
    } else {
      enum dsmr_mbus_event e;
      struct dsmr_mbus_frame fr;
      used += dsmr_mbus_feed(&f->mbus, data + used, len - used, &e, &fr);
      switch (e) {
      case DSMR_MBUS_NONE:
        return used;
      case DSMR_MBUS_FRAME:
        f->locked = 1;
        *ev = mbus_frame(f, &fr, out);
        break;
      case DSMR_MBUS_BAD_CHECKSUM:
        out->detail = dsmr_mbus_event_name(e);
        *ev = DSMR_HAN_EV_FRAME_CHECK;
        failed(f);
        break;
      }
    }
    if (*ev != DSMR_HAN_EV_NONE)
      return used;
  }
}

const char *dsmr_han_event_name(enum dsmr_han_event ev) {
  switch (ev) {
  case DSMR_HAN_EV_NONE:
    return "none";
  case DSMR_HAN_EV_APDU:
    return "APDU";
  case DSMR_HAN_EV_FRAME_CHECK:
    return "frame check failed";
  case DSMR_HAN_EV_MISSING_SEGMENT:
    return "missing segment";
  case DSMR_HAN_EV_BLOCK_REFUSED:
    return "block transfer refused";
  case DSMR_HAN_EV_TOO_LARGE:
    return "message too large";
  case DSMR_HAN_EV_TRANSPORT:
    return "transport detected";
  }
  return "?";
}
