/* The framer: finds '/' .. '!' [CRC line] in a byte stream and checks the CRC.
 *
 * Speed: inside a telegram the framer never looks at bytes one by one. It
 * asks memchr for the next '!' and for a '/' before it (libc's memchr scans
 * many bytes per instruction), copies the run with memcpy, and computes the
 * CRC once over the finished frame (carry-less multiply or slice-by-16,
 * see crc16.c). Only the at most five bytes of the CRC line go through a
 * per-byte state machine.
 *
 * Accounting: bytes between telegrams are noise, except the CR LF that ends
 * a CRC line (that is part of every telegram, not garbage). The bytes of an
 * oversized telegram are not noise either: they are counted once, as one
 * too_large telegram. */
#include "framer.h"

#include <string.h>

#include "crc16.h"
#include "hex.h"

enum framer_state {
  ST_HUNT = 0, /* between telegrams: skipping to the next '/' */
  ST_BODY,     /* collecting '/' .. '!' into the buffer */
  ST_CRC,      /* after '!': reading up to 4 hex digits */
  ST_SKIP,     /* oversized telegram: dropping bytes up to the next '/' */
  ST_TRAIL_CR, /* after the 4th CRC digit: the line's CR LF is still due */
  ST_TRAIL_LF, /* after the CRC line's CR: its LF is still due */
};

void dsmr_framer_init(struct dsmr_framer *f, char *buf, size_t cap) {
  memset(f, 0, sizeof(*f));
  f->buf = buf;
  /* Without storage no telegram fits: treat it as a zero-size buffer rather
   * than ever writing through a null pointer. */
  f->cap = buf ? cap : 0;
  f->state = ST_HUNT;
}

void dsmr_framer_reset(struct dsmr_framer *f) {
  f->len = 0;
  f->crc_digits = 0;
  f->crc_value = 0;
  f->state = ST_HUNT;
}

int dsmr_framer_collecting(const struct dsmr_framer *f) {
  return f->state == ST_BODY || f->state == ST_CRC;
}

/* Length of the run of telegram text at p[0..n): up to the first '!' or '/',
 * or n. Two vectorised memchr calls beat any byte loop from ~8 bytes up
 * (measured); a caller that reads the line byte by byte pays per call, not
 * here. */
static size_t scan_body(const char *p, size_t n) {
  const char *bang = memchr(p, '!', n);
  size_t upto = bang ? (size_t)(bang - p) : n;
  const char *slash = memchr(p, '/', upto);
  return slash ? (size_t)(slash - p) : upto;
}

/* The CRC line has ended (or was malformed): describe the frame, count it. */
static void finish(struct dsmr_framer *f, struct dsmr_frame *frame,
                   int malformed) {
  frame->data = f->buf;
  frame->len = f->len;
  frame->crc_given = f->crc_value;
  frame->crc_computed = dsmr_crc16(0, f->buf, f->len);
  if (malformed)
    frame->crc = DSMR_CRC_BAD;
  else if (f->crc_digits == 0)
    frame->crc = DSMR_CRC_NONE;
  else if (frame->crc_given == frame->crc_computed)
    frame->crc = DSMR_CRC_OK;
  else
    frame->crc = DSMR_CRC_BAD;

  f->stats.telegrams++;
  if (frame->crc == DSMR_CRC_OK)
    f->stats.crc_ok++;
  else if (frame->crc == DSMR_CRC_BAD)
    f->stats.crc_bad++;
  else
    f->stats.crc_none++;
}

size_t dsmr_framer_feed(struct dsmr_framer *f, const char *data, size_t len,
                        enum dsmr_frame_event *ev, struct dsmr_frame *frame) {
  const char *p = data, *end;
  int d;

  *ev = DSMR_FRAME_NONE;
  if (len == 0)
    return 0;
  end = data + len;

  while (p < end) {
    switch (f->state) {
    case ST_TRAIL_CR:
      if (*p == '\r') {
        p++;
        f->state = ST_TRAIL_LF;
        continue;
      }
      /* A bare LF ends the line too; anything else is the next thing. */
      f->state = ST_TRAIL_LF;
      continue;

    case ST_TRAIL_LF:
      if (*p == '\n')
        p++;
      f->state = ST_HUNT;
      continue;

    case ST_HUNT:
    case ST_SKIP: {
      const char *slash = memchr(p, '/', (size_t)(end - p));
      const char *stop = slash ? slash : end;
      if (f->state == ST_HUNT)
        f->stats.noise_bytes += (uint64_t)(stop - p);
      p = stop;
      if (!slash)
        continue;
      /* A new telegram: its '/' is the first byte of the frame. */
      p++;
      f->crc_digits = 0;
      f->crc_value = 0;
      if (f->cap < 1) {
        f->len = 0;
        f->state = ST_SKIP;
        f->stats.too_large++;
        *ev = DSMR_FRAME_TOO_LARGE;
        goto out;
      }
      f->buf[0] = '/';
      f->len = 1;
      f->state = ST_BODY;
      continue;
    }

    case ST_BODY: {
      /* Look no further than the first byte that would not fit: what lies
       * beyond cannot change the verdict, and stopping there makes the
       * outcome independent of where the chunk boundaries fall. */
      size_t room = f->cap - f->len, avail = (size_t)(end - p);
      size_t win = avail <= room ? avail : room + 1;
      size_t run = scan_body(p, win);
      size_t take = run < win && p[run] == '!' ? run + 1 : run;
      if (run < win && p[run] == '/') {
        /* '/' before the '!' always means the telegram we hold was cut
         * short (a lost byte, a meter restart): drop it and restart at
         * that '/'. */
        p += run;
        f->stats.dropped++;
        f->state = ST_HUNT; /* noise count 0: p is at the '/' */
        continue;
      }
      if (take > room) {
        /* Reject, never truncate: a cut telegram could parse as valid.
         * ST_SKIP drops the rest of it. */
        p += take;
        f->len = 0;
        f->state = ST_SKIP;
        f->stats.too_large++;
        *ev = DSMR_FRAME_TOO_LARGE;
        goto out;
      }
      memcpy(f->buf + f->len, p, take);
      f->len += take;
      p += take;
      if (take > run)
        f->state = ST_CRC;
      continue;
    }

    case ST_CRC:
      d = dsmr_hex_digit((unsigned char)*p);
      if (d >= 0) {
        p++;
        f->crc_value = (uint16_t)((unsigned)f->crc_value << 4 | (unsigned)d);
        if (++f->crc_digits < 4)
          continue;
        /* Done at the 4th digit: the CR LF would only add latency. */
        finish(f, frame, 0);
        f->state = ST_TRAIL_CR;
      } else if (*p == '\r' || *p == '\n') {
        /* Fewer than 4 digits: leading zeros left out, or no CRC at all
         * (DSMR 2.2/3, verdict NONE). */
        finish(f, frame, 0);
        f->state = *p == '\r' ? ST_TRAIL_LF : ST_HUNT;
        p++;
      } else if (*p == '/') {
        /* The next telegram follows at once (`...!73A4/ISK5...` happens on
         * real lines): this CRC line is over, and the digits so far are the
         * CRC, as at a CR. The frame is complete, so it is not dropped; the
         * '/' is left for ST_HUNT to start the next frame with. */
        finish(f, frame, 0);
        f->state = ST_HUNT;
      } else {
        /* Garbage in the CRC line: whatever the digits say, the line is not
         * what the meter sent. The byte is left to be counted as noise. */
        finish(f, frame, 1);
        f->state = ST_HUNT;
      }
      *ev = DSMR_FRAME_TELEGRAM;
      goto out;
    }
  }

out:
  f->stats.bytes += (uint64_t)(p - data);
  return (size_t)(p - data);
}
