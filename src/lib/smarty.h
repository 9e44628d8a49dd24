/* Luxembourg "Smarty" P1 decryption: turns the meter's encrypted byte stream,
 * delivered in chunks of any size, into plaintext P1 telegrams for the
 * framer.
 *
 * What the meter sends (Smarty P1 specification 1.1.3, section 3.2.5): each
 * telegram as one DLMS general-glo-ciphering frame
 *
 *   DB 08 <system title, 8> <length> 30 <frame counter, 4, big endian>
 *   <ciphertext> <GCM tag, 12>
 *
 * where <length> is one byte (< 0x80), or 81 + 1 byte, or 82 + 2 bytes, and
 * counts 30 .. tag. AES-128-GCM; IV = system title || frame counter;
 * AAD = 30 || authentication key. Some adapters wrap that frame in HDLC
 * (IEC 62056-46 frame format type 3):
 *
 *   7E  A0|S|len(11 bits)  dst addr(1-4)  src addr(1-4)  control  HCS(2)
 *   [E6 E7 00]  <the DB 08 frame, or a segment of it>  FCS(2)  7E
 *
 * HCS and FCS are CRC-16/X.25, low byte first; an HDLC frame counts only
 * with the flag right after its FCS (its closing flag, or the next frame's
 * opening one), so it is decided when that flag arrives. Both forms are
 * recognised in the same stream; a segmented HDLC frame (S bit) is
 * reassembled.
 *
 * Guarantees:
 * - Nothing is ever released that has not passed the GCM tag check: the tag
 *   is verified before any plaintext is written to the buffer, so a wrong
 *   key or a corrupted frame can never yield garbage values.
 * - A frame counter not greater than the last accepted one is refused
 *   (DSMR_SMARTY_REPLAY). The meter increments it after every frame; it only
 *   resets with a new key, and a new key means a new decoder.
 * - A frame cut short (line glitch, adapter reset) does not cost the frame
 *   after it: every failed candidate is rescanned from its second byte, so a
 *   frame swallowed by a bogus or truncated header is still found.
 * - Zero allocation per frame; the libgcrypt cipher handle is opened once in
 *   dsmr_smarty_init. No global state: one decoder per meter, used by one
 *   thread at a time.
 * - Keys never leave the decoder (they live in libgcrypt's handle, and the
 *   authentication key in the AAD); error messages never contain them.
 *
 * libgcrypt initialisation: dsmr_smarty_init calls gcry_check_version, as the
 * libgcrypt manual requires of every user, but never finishes libgcrypt's
 * initialisation and never touches secure memory: that is the application's
 * decision (collectd's network plugin makes it, see dlms_cipher.c). */
#ifndef DSMR_SMARTY_H
#define DSMR_SMARTY_H

#include <stddef.h>
#include <stdint.h>

#include "dlms_cipher.h"

/* Bytes a bare frame adds around its plaintext: DB 08, system title, the
 * 3-byte length form, 30, counter, tag. */
#define DSMR_SMARTY_FRAME_OVERHEAD 30
/* Room for one HDLC segment (11-bit length + flag) on top of a frame being
 * reassembled, with HDLC header, LLC and FCS. */
#define DSMR_SMARTY_HDLC_HEADROOM 2064
/* A decoder buffer that holds a plaintext telegram of max_telegram bytes in
 * any supported wrapping. */
#define DSMR_SMARTY_BUF_SIZE(max_telegram)                                     \
  ((max_telegram) + DSMR_SMARTY_FRAME_OVERHEAD + DSMR_SMARTY_HDLC_HEADROOM)

enum dsmr_smarty_event {
  DSMR_SMARTY_NONE = 0,    /* input used up, nothing more to report */
  DSMR_SMARTY_PLAINTEXT,   /* *out holds an authenticated telegram */
  DSMR_SMARTY_AUTH_FAILED, /* tag mismatch: wrong decryption or
                              authentication key, or a corrupted frame */
  DSMR_SMARTY_REPLAY,      /* authentic, but its frame counter is not greater
                              than the last accepted one: refused */
  DSMR_SMARTY_MALFORMED,   /* a frame cut short, a length that cannot be, an
                              HDLC frame without a DB 08 frame inside */
  DSMR_SMARTY_TOO_LARGE,   /* the frame does not fit the buffer: dropped */
};

/* Filled for every event but NONE; data/len only for PLAINTEXT. */
struct dsmr_smarty_frame {
  const char *data; /* plaintext telegram, inside the decoder's buffer; valid
                       until the next call to dsmr_smarty_feed */
  size_t len;
  uint8_t system_title[8]; /* as sent (unauthenticated unless PLAINTEXT or
                              REPLAY); zero when not known */
  uint32_t frame_counter;  /* likewise */
  uint32_t last_counter;   /* REPLAY: the last accepted counter */
  int hdlc;                /* 1 if the frame came wrapped in HDLC */
};

struct dsmr_smarty_stats {
  uint64_t frames_ok;       /* PLAINTEXT events */
  uint64_t auth_failures;   /* AUTH_FAILED events */
  uint64_t replays;         /* REPLAY events */
  uint64_t malformed;       /* MALFORMED events */
  uint64_t too_large;       /* TOO_LARGE events */
  uint64_t hdlc_frames;     /* HDLC frames (segments) with a good FCS and
                               the flag after it */
  uint64_t hdlc_fcs_errors; /* HDLC frames rejected for their FCS, or for
                               no flag right after it; their content is
                               then scanned as bare bytes */
  uint64_t noise_bytes;     /* bytes skipped outside any frame */
  uint64_t bytes;           /* all bytes consumed */
};

struct dsmr_smarty {
  /* AES-128-GCM with the tag checked first, and the replay guard: its
   * have_counter says the last accepted counter (and title) are valid */
  struct dsmr_dlms_cipher dlms;
  char *buf; /* raw frame bytes, then the plaintext in place */
  size_t cap;
  size_t len;       /* bytes held in buf */
  size_t base;      /* buf[0..base): reassembled HDLC segment payload */
  size_t drop;      /* bytes of buf to discard at the next call */
  size_t scanned;   /* bare frame: body bytes searched for a restart */
  size_t quiet;     /* bytes of a failed frame: rescanned, not noise */
  size_t shadow;    /* bytes of a reported failure: no second report */
  int after_hdlc;   /* a 7E here is the closing flag of the last frame */
  uint8_t title[8]; /* of the last authentic frame */
  struct dsmr_smarty_stats stats;
};

/* key: the 16-byte decryption ("encryption", "GUEK") key from the grid
 * operator. auth_key: 16 bytes, or NULL for the Luxembourg default
 * 00112233445566778899AABBCCDDEEFF. buf/cap: storage for one raw frame and
 * then its plaintext (see DSMR_SMARTY_BUF_SIZE; at least 64 bytes). The key
 * bytes are not kept outside libgcrypt's handle: the caller may wipe its own
 * copy once this returns. Returns 0, or -1 with a message in err (never
 * containing key material). Call from one thread at a time (in collectd: the
 * init callback), since gcry_check_version is not meant to race. */
int dsmr_smarty_init(struct dsmr_smarty *d, const uint8_t key[16],
                     const uint8_t *auth_key, char *buf, size_t cap, char *err,
                     size_t errlen);

/* Close the cipher handle and wipe the keys and the buffer. Safe on a
 * decoder whose init failed, and twice. */
void dsmr_smarty_free(struct dsmr_smarty *d);

/* Forget any partial frame (e.g. after the line was lost). Keeps the stats
 * and the last accepted frame counter. */
void dsmr_smarty_reset(struct dsmr_smarty *d);

/* Consume bytes from data[0..len) until an event happens or the input is
 * used up; returns how many bytes were consumed and stores the event in
 * *ev. Bytes already consumed may still hold a frame (after a failed
 * candidate, the bytes it swallowed are rescanned), so keep calling until
 * the input is used up AND the event is NONE:
 *
 *   do {
 *     size_t n = dsmr_smarty_feed(&d, p, len, &ev, &out);
 *     p += n; len -= n;
 *     if (ev == DSMR_SMARTY_PLAINTEXT) feed_framer(out.data, out.len);
 *     else if (ev != DSMR_SMARTY_NONE) complain(ev, &out);
 *   } while (len > 0 || ev != DSMR_SMARTY_NONE);
 */
size_t dsmr_smarty_feed(struct dsmr_smarty *d, const char *data, size_t len,
                        enum dsmr_smarty_event *ev,
                        struct dsmr_smarty_frame *out);

/* A short name for an event ("plaintext", "authentication failed", ...). */
const char *dsmr_smarty_event_name(enum dsmr_smarty_event ev);

/* Exactly 32 hex digits (either case) into 16 bytes. Returns 0, or -1 (and
 * leaves out untouched) for anything else. */
int dsmr_parse_hex_key(const char *hex, uint8_t out[16]);

#endif
