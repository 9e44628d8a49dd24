/* Wired M-Bus long frames (EN 13757-2) carrying DLMS, as Austrian and Polish
 * meters push them (TINETZ pp.4-6, Green Book "M-Bus wrapper"):
 *
 *   68 L L 68 | C A CI | STSAP DTSAP | DLMS data (<= 245) | CS 16
 *
 * L counts C .. the last data byte; CS is their sum mod 256. CI 0x00..0x1F:
 * bit 4 = FIN (last or only segment), bits 0-3 = segment number. A message
 * longer than one frame is cut into segments 0, 1, ... and reassembled here.
 *
 * Two stages, each zero-allocation with caller-provided buffers:
 *  - dsmr_mbus_feed: bytes -> frames whose checksum and stop byte are right
 *    (a bad one is refused, its bytes scanned again; anything that is not a
 *    long frame header is skipped as noise);
 *  - dsmr_mbus_reasm_add: frames -> messages (the DLMS APDU), refusing a
 *    message with a missing or repeated segment. */
#ifndef DSMR_MBUS_H
#define DSMR_MBUS_H

#include <stddef.h>
#include <stdint.h>

/* the longest long frame: 68 L L 68, 255 bytes, CS 16 */
#define DSMR_MBUS_BUF_SIZE 261u

enum dsmr_mbus_event {
  DSMR_MBUS_NONE = 0,
  DSMR_MBUS_FRAME,        /* *out holds a frame with a good checksum */
  DSMR_MBUS_BAD_CHECKSUM, /* checksum or stop byte wrong: refused */
};

struct dsmr_mbus_frame {
  uint8_t c, a, ci;
  const uint8_t *data; /* after CI (STSAP, DTSAP, DLMS data); inside the
                          framer's buffer until the next call */
  size_t data_len;
};

struct dsmr_mbus_stats {
  uint64_t frames, checksum_errors, noise_bytes, bytes;
};

struct dsmr_mbus {
  uint8_t *buf;
  size_t cap, len, drop, quiet;
  struct dsmr_mbus_stats stats;
};

/* buf/cap: DSMR_MBUS_BUF_SIZE bytes. */
void dsmr_mbus_init(struct dsmr_mbus *m, uint8_t *buf, size_t cap);
void dsmr_mbus_reset(struct dsmr_mbus *m);
/* Same contract as dsmr_hdlc_feed: call until the input is used up and the
 * event is NONE. */
size_t dsmr_mbus_feed(struct dsmr_mbus *m, const uint8_t *data, size_t len,
                      enum dsmr_mbus_event *ev, struct dsmr_mbus_frame *out);

/* The sum checksum of EN 13757-2. */
uint8_t dsmr_mbus_checksum(const uint8_t *p, size_t n);

enum dsmr_mbus_reasm_event {
  DSMR_MBUS_SEGMENT = 0,      /* stored; the message is not complete yet */
  DSMR_MBUS_MESSAGE,          /* *msg, *msg_len: the whole DLMS APDU */
  DSMR_MBUS_MISSING_SEGMENT,  /* a segment is missing or repeated: the
                                 message is refused */
  DSMR_MBUS_NOT_DLMS,         /* CI not a DLMS wrapper: frame ignored */
  DSMR_MBUS_MESSAGE_TOO_LARGE /* the message does not fit the buffer */
};

struct dsmr_mbus_reasm {
  uint8_t *buf;
  size_t cap, len;
  unsigned next; /* segment number expected next */
  int active;    /* a message is being collected */
  int broken;    /* segments of a refused message are skipped quietly */
  uint64_t messages, missing;
};

/* buf/cap: room for the longest message (Austrian ones are < 400 bytes;
 * 16 segments of 245 bytes make 3,920). */
void dsmr_mbus_reasm_init(struct dsmr_mbus_reasm *r, uint8_t *buf, size_t cap);
void dsmr_mbus_reasm_reset(struct dsmr_mbus_reasm *r);
/* Adds one frame. *retry is set when the frame was NOT used (a first
 * segment arrived while a message was incomplete: MISSING_SEGMENT is
 * reported for the old message, then add the same frame again). *msg is
 * valid until the next call. */
enum dsmr_mbus_reasm_event dsmr_mbus_reasm_add(struct dsmr_mbus_reasm *r,
                                               const struct dsmr_mbus_frame *f,
                                               const uint8_t **msg,
                                               size_t *msg_len, int *retry);

const char *dsmr_mbus_event_name(enum dsmr_mbus_event ev);
const char *dsmr_mbus_reasm_event_name(enum dsmr_mbus_reasm_event ev);

#endif
