/* HDLC frame format type 3 (IEC 62056-46, DLMS Green Book 9 section 8.4),
 * as binary HAN meters push it: a streaming framer from bytes to frames.
 *
 *   7E  A0|S|len(11 bits)  dst(1-4)  src(1-4)  control  [HCS(2) info]
 *   FCS(2)  7E
 *
 * - Length-delimited, no byte stuffing: raw 7E and 7D occur inside frames
 *   (Kaifa's 00 00 15 7E, Aidon's 00 00 06 7D) and are data.
 * - Addresses of 1 to 4 bytes each (LSB 1 marks the last byte), any control
 *   byte (Aidon and Kamstrup send UI 0x13, Kaifa 0x10).
 * - HCS (over format, addresses, control) and FCS (over everything between
 *   the flags but the FCS) are CRC-16/X.25, low byte first. The HCS is there
 *   only when an information field follows.
 * - A bad HCS means the 7E was not the start of a frame (or its header is
 *   damaged): the framer resynchronises from the byte after that 7E. A bad
 *   FCS (or a missing closing flag) refuses the frame; its bytes are then
 *   scanned again, so a frame cut short does not cost the frame after it.
 * - One flag may close a frame and open the next one.
 * - Zero allocation, no I/O: the caller gives the buffer (DSMR_HDLC_BUF_SIZE
 *   bytes hold the longest frame an 11-bit length can describe). The
 *   outcome does not depend on how the input was chunked. */
#ifndef DSMR_HDLC_H
#define DSMR_HDLC_H

#include <stddef.h>
#include <stdint.h>

/* 11-bit frame length + two flags */
#define DSMR_HDLC_BUF_SIZE 2050u

enum dsmr_hdlc_event {
  DSMR_HDLC_NONE = 0, /* input used up, nothing to report */
  DSMR_HDLC_FRAME,    /* *out holds a frame whose HCS and FCS are right */
  DSMR_HDLC_BAD_HCS,  /* a frame header (7E A?) with a wrong HCS: skipped */
  DSMR_HDLC_BAD_FCS,  /* a frame whose FCS or closing flag is wrong: refused */
};

struct dsmr_hdlc_frame {
  const uint8_t *info; /* information field, inside the framer's buffer;
                          valid until the next call of dsmr_hdlc_feed */
  size_t info_len;     /* 0: a frame without information field */
  uint32_t dst, src;   /* addresses as sent (all their bytes, big endian) */
  uint8_t dst_len, src_len;
  uint8_t control;
  uint8_t segmented; /* the S bit: more segments of this message follow */
  size_t frame_len;  /* the 11-bit length: bytes between the flags */
};

struct dsmr_hdlc_stats {
  uint64_t frames;      /* FRAME events */
  uint64_t hcs_errors;  /* BAD_HCS events */
  uint64_t fcs_errors;  /* BAD_FCS events */
  uint64_t noise_bytes; /* bytes outside any frame */
  uint64_t bytes;       /* all bytes consumed */
};

struct dsmr_hdlc {
  uint8_t *buf;
  size_t cap, len;
  size_t drop;     /* bytes of buf to discard at the next call */
  size_t quiet;    /* bytes of a refused frame being rescanned: no events */
  int after_frame; /* buf[0] is the closing flag of the last frame */
  struct dsmr_hdlc_stats stats;
};

/* buf/cap: at least DSMR_HDLC_BUF_SIZE bytes (smaller works, but frames
 * longer than cap - 2 can then never be read). */
void dsmr_hdlc_init(struct dsmr_hdlc *h, uint8_t *buf, size_t cap);

/* Forget any partial frame (the line was lost); keeps the statistics. */
void dsmr_hdlc_reset(struct dsmr_hdlc *h);

/* Consumes bytes from data[0..len) until an event happens or the input is
 * used up; returns how many were consumed, and the event in *ev (*out is
 * filled for FRAME). Keep calling until the input is used up AND the event
 * is NONE (bytes already consumed may still hold frames):
 *
 *   do {
 *     size_t n = dsmr_hdlc_feed(&h, p, len, &ev, &fr);
 *     p += n; len -= n;
 *     ...
 *   } while (len > 0 || ev != DSMR_HDLC_NONE);
 */
size_t dsmr_hdlc_feed(struct dsmr_hdlc *h, const uint8_t *data, size_t len,
                      enum dsmr_hdlc_event *ev, struct dsmr_hdlc_frame *out);

/* CRC-16/X.25 (RFC 1662 FCS-16): init 0xFFFF, reflected 0x8408, final xor
 * 0xFFFF. "123456789" gives 0x906E. */
uint16_t dsmr_crc_x25(const uint8_t *p, size_t n);

/* The two implementations dsmr_crc_x25 chooses between, for the tests: the
 * portable one (slice-by-8 tables) and one by carry-less multiplication
 * (x86-64 PCLMULQDQ), used when the CPU has it (dsmr_crc16_have_clmul()
 * says; elsewhere dsmr_crc_x25_clmul is the portable code). */
uint16_t dsmr_crc_x25_portable(const uint8_t *p, size_t n);
uint16_t dsmr_crc_x25_clmul(const uint8_t *p, size_t n);

const char *dsmr_hdlc_event_name(enum dsmr_hdlc_event ev);

#endif
