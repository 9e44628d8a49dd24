/* DLMS/COSEM application layer of binary HAN meters (Green Book 9 section
 * 9; HAN-NOTES 1.3): the APDUs that come out of the HDLC or M-Bus framing.
 *
 *  - general-block-transfer E0 (Landis+Gyr E450): blocks reassembled in
 *    order into the APDU they carry; a duplicated, missing or out-of-order
 *    block refuses the whole message;
 *  - general-glo-ciphering DB / general-ded-ciphering DF: the envelope
 *    (system title, security control, invocation counter, ciphertext, tag)
 *    parsed here; decryption is dlms_cipher.h (libgcrypt), kept out of this
 *    crypto-free library;
 *  - data-notification 0F: long-invoke-id-and-priority, the date-time in its
 *    three forms (00 absent, 0C + 12 bytes, Kaifa's 09 0C + 12 bytes), and
 *    the notification body (one A-XDR Data, see axdr.h).
 * Pure functions over caller-owned bytes: no allocation, no I/O. */
#ifndef DSMR_DLMS_APDU_H
#define DSMR_DLMS_APDU_H

#include <stddef.h>
#include <stdint.h>

#define DSMR_DLMS_DATA_NOTIFICATION 0x0F
#define DSMR_DLMS_GLO_CIPHERING 0xDB
#define DSMR_DLMS_DED_CIPHERING 0xDF
#define DSMR_DLMS_BLOCK_TRANSFER 0xE0

/* ---- COSEM date-time (Blue Book 13, 4.1.6.1) ------------------------- */

#define DSMR_COSEM_DEVIATION_UNSPECIFIED INT16_MIN /* 0x8000 */

struct dsmr_cosem_datetime {
  uint16_t year; /* 0xFFFF: not specified */
  uint8_t month, day, weekday, hour, minute, second, hundredths;
  int16_t deviation; /* minutes, local time = UTC - deviation; or
                        DSMR_COSEM_DEVIATION_UNSPECIFIED */
  uint8_t status;    /* bit 7: daylight saving active */
};

/* Reads the 12 bytes; returns 0, or -1 when a field is out of range (month
 * 13, minute 61...; "not specified" 0xFF fields are out of range too, as a
 * clock without them is no time). */
int dsmr_cosem_datetime_parse(const uint8_t p[12],
                              struct dsmr_cosem_datetime *dt);

/* UTC seconds of a parsed date-time: 0; or 1 when the meter left the
 * deviation unspecified, *utc then being the local time read as if it were
 * UTC (the caller applies its time zone, see the TimeZone option); or -1
 * for a deviation outside -840..840. */
int dsmr_cosem_datetime_utc(const struct dsmr_cosem_datetime *dt, int64_t *utc);

/* "YYYY-MM-DDThh:mm:ss", with "+hh:mm" / "-hh:mm" (the local offset, i.e.
 * minus the deviation) when the deviation is specified. buf: 32 bytes. */
void dsmr_cosem_datetime_format(const struct dsmr_cosem_datetime *dt,
                                char buf[32]);

/* ---- A-XDR length (1 byte < 0x80, 81 xx, 82 xx xx, 83/84 ...) --------- */

/* Bytes the length at p[0..n) takes (1..5), with the length in *len; 0
 * when it is cut short or not a definite length form. */
size_t dsmr_axdr_length(const uint8_t *p, size_t n, size_t *len);

/* ---- general-block-transfer ------------------------------------------- */

enum dsmr_gbt_event {
  DSMR_GBT_BLOCK = 0,    /* stored; more blocks to come */
  DSMR_GBT_MESSAGE,      /* *msg, *msg_len: the reassembled APDU */
  DSMR_GBT_MALFORMED,    /* not a block-transfer APDU, lengths wrong */
  DSMR_GBT_DUPLICATE,    /* the block before again: message refused */
  DSMR_GBT_MISSING,      /* a block was skipped: message refused */
  DSMR_GBT_OUT_OF_ORDER, /* an older block: message refused */
  DSMR_GBT_TOO_LARGE,    /* the message does not fit the buffer */
};

struct dsmr_gbt {
  uint8_t *buf;
  size_t cap, len;
  unsigned next; /* block number expected next */
  int active;    /* a message is being collected */
  int broken;    /* blocks of a refused message are skipped quietly */
  uint64_t messages, refused;
};

void dsmr_gbt_init(struct dsmr_gbt *g, uint8_t *buf, size_t cap);
void dsmr_gbt_reset(struct dsmr_gbt *g);
/* apdu[0] == E0. *retry is set when the block was NOT used: block 1 came
 * while a message was incomplete (MISSING is reported for the old one);
 * add the same block again. */
enum dsmr_gbt_event dsmr_gbt_add(struct dsmr_gbt *g, const uint8_t *apdu,
                                 size_t len, const uint8_t **msg,
                                 size_t *msg_len, int *retry);
const char *dsmr_gbt_event_name(enum dsmr_gbt_event ev);

/* ---- ciphered APDU envelope ------------------------------------------- */

struct dsmr_dlms_ciphered {
  uint8_t apdu_tag;            /* DB or DF */
  const uint8_t *system_title; /* 8 bytes; the first 3 are the FLAG id */
  uint8_t security_control;    /* bits 0-3 suite, 4 auth, 5 enc, 6 key
                                  set, 7 compression */
  uint32_t invocation_counter;
  uint8_t *ciphertext; /* inside the caller's APDU (decrypted in place) */
  size_t ciphertext_len;
  const uint8_t *tag; /* 12 bytes when bit 4 (authentication) is set */
};

enum dsmr_dlms_status {
  DSMR_DLMS_OK = 0,
  DSMR_DLMS_TRUNCATED,   /* shorter than its lengths say */
  DSMR_DLMS_BAD_LENGTH,  /* a length that disagrees with the bytes */
  DSMR_DLMS_NOT_APDU,    /* another APDU tag than expected */
  DSMR_DLMS_UNSUPPORTED, /* compression, or neither encryption nor auth */
};

enum dsmr_dlms_status dsmr_dlms_parse_ciphered(uint8_t *apdu, size_t len,
                                               struct dsmr_dlms_ciphered *c);

/* ---- data-notification ------------------------------------------------- */

struct dsmr_dlms_notification {
  uint32_t long_invoke_id; /* with priority bits; not the GCM counter */
  int has_time;
  struct dsmr_cosem_datetime time;
  int time_form;       /* 0 absent, 1 "0C", 2 Kaifa's "09 0C" */
  const uint8_t *body; /* one A-XDR Data */
  size_t body_len;
};

enum dsmr_dlms_status
dsmr_dlms_parse_notification(const uint8_t *apdu, size_t len,
                             struct dsmr_dlms_notification *n);

const char *dsmr_dlms_status_name(enum dsmr_dlms_status s);

#endif
