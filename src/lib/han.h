/* The framing stage of a binary HAN meter: bytes in, complete APDUs out.
 * It strings together (each usable on its own):
 *   hdlc.h  HDLC type 3 frames (+ LLC E6 E7 00, + S-bit segments), or
 *   mbus.h  M-Bus long frames and their DLMS segments (CI number + FIN),
 *   dlms_apdu.h  general-block-transfer (E0) reassembly,
 * and reports what happened as events, one per call, never by callback.
 * What comes out is an APDU: a data-notification (0F: dsmr_han_decode), a
 * ciphered one (DB / DF: dsmr_dlms_parse_ciphered, then dsmr_dlms_decrypt
 * in libdsmr_smarty, then dsmr_han_decode), or anything else the meter
 * sends (reported, to be ignored).
 *
 * Transport: DSMR_HAN_HDLC, DSMR_HAN_MBUS, or DSMR_HAN_AUTO, which picks
 * the transport from the bytes (7E A? starts HDLC, 68 L L 68 M-Bus) and
 * looks again while no frame has passed its check after 4 failures.
 *
 * Zero allocation, no I/O, no global state: one struct per meter, with one
 * caller buffer of DSMR_HAN_FRAMING_BUF_SIZE bytes.
 *
 * How a reader drives the whole HAN chain (per meter: the framing stage,
 * a struct dsmr_dlms_cipher when a key is configured, a struct
 * dsmr_han_list and a struct dsmr_telegram, all in the meter's state):
 *
 *   do {
 *     n = dsmr_han_framing_feed(&fs, p, len, &ev, &out);
 *     p += n; len -= n;
 *     switch (ev) {
 *     case DSMR_HAN_EV_APDU: {
 *       uint8_t *a = (uint8_t *)out.apdu;  // may be decrypted in place
 *       size_t alen = out.len;
 *       const uint8_t *title = NULL;
 *       struct dsmr_dlms_plain pl = {0};
 *       int ciphered = a[0] == DSMR_DLMS_GLO_CIPHERING ||
 *                      a[0] == DSMR_DLMS_DED_CIPHERING;
 *       if (ciphered) {
 *         struct dsmr_dlms_ciphered env;
 *         if (!have_key || dsmr_dlms_parse_ciphered(a, alen, &env))
 *           -> "frame check failed" / "no key" (count, notify)
 *         switch (dsmr_dlms_decrypt(&cipher, &env, &pl)) {
 *         case DSMR_DLMS_PLAINTEXT_UNCHECKED:
 *           if (pl.first_unchecked) warn once: tag not checked
 *           // fall through
 *         case DSMR_DLMS_PLAINTEXT: break;
 *         default: -> "decrypt failed" / "replay refused" (count, notify)
 *         }
 *         a = pl.data; alen = pl.len; title = env.system_title;
 *         if (dsmr_han_is_dsmr_telegram(a, alen)) {
 *           // Steiermark T210-D: a DSMR telegram: feed a..alen to the
 *           // DSMR framer; commit when its CRC passed
 *           dsmr_dlms_cipher_commit(&cipher, &pl);
 *           break;
 *         }
 *       }
 *       if (dsmr_han_decode(a, alen, title, &opts, &list) != DSMR_HAN_OK)
 *         -> ciphered ? "decrypt failed" (wrong key for SC 0x20/0x21) :
 *                       "parse error"
 *       if (ciphered) dsmr_dlms_cipher_commit(&cipher, &pl);
 *       if (dsmr_han_map(&list, &tel) == 0) -> the same rules, dispatch,
 *         health counters and notifications as a DSMR telegram; the meter
 *         clock: tel.info.meter_time, or when only list.has_clock (the
 *         deviation unspecified), list.clock read in the TimeZone
 *       else -> parse error (tel.first_error, tel.first_error_obis)
 *       break;
 *     }
 *     case DSMR_HAN_EV_FRAME_CHECK:      -> CRC/frame errors counter
 *     case DSMR_HAN_EV_MISSING_SEGMENT:
 *     case DSMR_HAN_EV_BLOCK_REFUSED:
 *     case DSMR_HAN_EV_TOO_LARGE:        -> frame errors (out.detail says)
 *     case DSMR_HAN_EV_TRANSPORT:        -> log "HDLC" / "M-Bus" once
 *     case DSMR_HAN_EV_NONE: break;
 *     }
 *   } while (len > 0 || ev != DSMR_HAN_EV_NONE);
 */
#ifndef DSMR_HAN_H
#define DSMR_HAN_H

#include <stddef.h>
#include <stdint.h>

#include "dlms_apdu.h"
#include "hdlc.h"
#include "mbus.h"

enum dsmr_han_transport {
  DSMR_HAN_AUTO = 0,
  DSMR_HAN_HDLC = 1,
  DSMR_HAN_MBUS = 2,
};

/* one message of up to 4 KiB, as HDLC segments or M-Bus segments, and the
 * same again for a block-transfer message being reassembled */
#define DSMR_HAN_MESSAGE_MAX 4096u
#define DSMR_HAN_FRAMING_BUF_SIZE                                              \
  (DSMR_HDLC_BUF_SIZE + DSMR_MBUS_BUF_SIZE + 2 * DSMR_HAN_MESSAGE_MAX)

enum dsmr_han_event {
  DSMR_HAN_EV_NONE = 0,
  DSMR_HAN_EV_APDU,            /* out->apdu: one complete APDU */
  DSMR_HAN_EV_FRAME_CHECK,     /* a frame failed its check (out->detail:
                                  "bad HCS", "bad FCS", "bad M-Bus
                                  checksum"): refused */
  DSMR_HAN_EV_MISSING_SEGMENT, /* an M-Bus or HDLC segment missing */
  DSMR_HAN_EV_BLOCK_REFUSED,   /* block transfer: duplicated, missing or
                                  out-of-order block (out->detail) */
  DSMR_HAN_EV_TOO_LARGE,       /* a message longer than the buffers */
  DSMR_HAN_EV_TRANSPORT,       /* AUTO chose out->transport */
};

struct dsmr_han_out {
  const uint8_t *apdu; /* valid until the next call */
  size_t len;
  enum dsmr_han_transport transport;
  const char *detail; /* static string */
};

struct dsmr_han_framing_stats {
  uint64_t apdus, frame_check_failures, missing_segments, blocks_refused,
      too_large;
};

struct dsmr_han_framing {
  enum dsmr_han_transport configured, transport;
  int locked;        /* a frame of `transport` has passed its check */
  unsigned failures; /* check failures before the first good frame */
  uint8_t sniff[3];  /* AUTO: last bytes seen while undecided */
  size_t nsniff;
  struct dsmr_hdlc hdlc;
  struct dsmr_mbus mbus;
  struct dsmr_mbus_reasm reasm;
  struct dsmr_gbt gbt;
  uint8_t *seg; /* HDLC S-bit segments of one message */
  size_t seg_cap, seg_len;
  /* an item the last call left to be processed again (retry) */
  int pending; /* 0 none, 1 M-Bus frame, 2 block-transfer APDU */
  struct dsmr_mbus_frame mframe;
  const uint8_t *papdu;
  size_t plen;
  struct dsmr_han_framing_stats stats;
};

/* buf: DSMR_HAN_FRAMING_BUF_SIZE bytes (less is refused: -1). */
int dsmr_han_framing_init(struct dsmr_han_framing *f,
                          enum dsmr_han_transport transport, uint8_t *buf,
                          size_t cap);
/* Forget partial frames and messages (the line was lost). */
void dsmr_han_framing_reset(struct dsmr_han_framing *f);

/* Same contract as the framers: returns the bytes consumed and one event;
 * call until the input is used up and the event is NONE. */
size_t dsmr_han_framing_feed(struct dsmr_han_framing *f, const uint8_t *data,
                             size_t len, enum dsmr_han_event *ev,
                             struct dsmr_han_out *out);

const char *dsmr_han_event_name(enum dsmr_han_event ev);

#endif
