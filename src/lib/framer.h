/* The framer turns a byte stream, delivered in chunks of any size, into
 * complete telegrams: '/' header ... '!' [0-4 hex digits] CR LF.
 *
 * - '/' always starts a new telegram; a telegram still being collected is
 *   dropped and counted (stats.dropped).
 * - Bytes outside a telegram are noise and are skipped (stats.noise_bytes).
 * - After '!' come 0..4 hex digits (either case; fewer than 4 = leading
 *   zeros omitted). The telegram ends at the 4th digit, or at CR or LF.
 *   Any other byte there makes the CRC line malformed: verdict BAD.
 * - CRC-16/ARC over '/'..'!' inclusive. No digits: verdict NONE (DSMR 2.2/3).
 * - A telegram longer than the buffer given to dsmr_framer_init is reported
 *   once as DSMR_FRAME_TOO_LARGE and its bytes are skipped up to the next
 *   '/'. The framer never writes past its buffer.
 *
 * Zero allocation: the caller owns the buffer; frame.data points into it and
 * stays valid until the next call to dsmr_framer_feed. */
#ifndef DSMR_FRAMER_H
#define DSMR_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#define DSMR_DEFAULT_MAX_TELEGRAM 8192

enum dsmr_crc_verdict {
  DSMR_CRC_NONE = 0, /* no digits after '!' */
  DSMR_CRC_OK,
  DSMR_CRC_BAD, /* mismatch, or a malformed CRC line */
};

enum dsmr_frame_event {
  DSMR_FRAME_NONE = 0,  /* input used up, no telegram completed */
  DSMR_FRAME_TELEGRAM,  /* *frame holds a complete telegram */
  DSMR_FRAME_TOO_LARGE, /* a telegram outgrew the buffer and was dropped */
};

struct dsmr_frame {
  const char *data; /* '/' .. '!' inclusive (what the CRC covers) */
  size_t len;
  enum dsmr_crc_verdict crc;
  uint16_t crc_given;    /* as written after '!' (valid unless NONE) */
  uint16_t crc_computed; /* over data[0..len) */
};

struct dsmr_framer_stats {
  uint64_t telegrams; /* frames completed, whatever their CRC verdict */
  uint64_t crc_ok, crc_bad, crc_none;
  uint64_t too_large;   /* telegrams dropped for size */
  uint64_t dropped;     /* partial telegrams cut off by a new '/' */
  uint64_t noise_bytes; /* bytes skipped outside telegrams */
  uint64_t bytes;       /* all bytes fed */
};

struct dsmr_framer {
  char *buf;
  size_t cap;
  size_t len;
  int state;
  unsigned crc_digits;
  uint16_t crc_value;
  struct dsmr_framer_stats stats;
};

/* buf/cap: storage for one telegram; cap is the maximum telegram size
 * ('/' through '!'). */
void dsmr_framer_init(struct dsmr_framer *f, char *buf, size_t cap);

/* Forget any partial telegram (e.g. after the line was lost); keeps stats. */
void dsmr_framer_reset(struct dsmr_framer *f);

/* Whether a telegram is being collected ('/' seen, its CRC line not yet
 * over): Baudrate "auto" gives such a telegram time to finish. */
int dsmr_framer_collecting(const struct dsmr_framer *f);

/* Consume bytes from data[0..len) until an event happens or the input is
 * used up; returns how many bytes were consumed and stores the event in
 * *ev. On DSMR_FRAME_TELEGRAM, *frame describes it. Call again with the rest
 * of the input:
 *
 *   while (len > 0) {
 *     size_t n = dsmr_framer_feed(&f, p, len, &ev, &frame);
 *     p += n; len -= n;
 *     if (ev == DSMR_FRAME_TELEGRAM) handle(&frame);
 *   }
 */
size_t dsmr_framer_feed(struct dsmr_framer *f, const char *data, size_t len,
                        enum dsmr_frame_event *ev, struct dsmr_frame *frame);

#endif
