/* Decryption of DLMS general-glo-ciphering / general-ded-ciphering APDUs
 * (dlms_apdu.h parses the envelope) for binary HAN meters, and of the
 * Luxembourg Smarty frames (smarty.c): AES-128-GCM through libgcrypt. A
 * library of its own (libdsmr_smarty.la, beside the Smarty decoder) so
 * that libdsmr stays free of crypto.
 *
 * Security control (Green Book 9 Figure 29; HAN-NOTES 1.3.2):
 *  - 0x20 / 0x21 (suite 0 / 1, encryption only; Austrian Kaifa, Sagemcom,
 *    Iskra, Siemens): no tag; GCM without tag is AES-128-CTR whose first
 *    counter block is IV || 00000002, IV = system title || invocation
 *    counter. The plaintext cannot prove itself here: the caller checks it
 *    (the APDU must decode) and only then calls dsmr_dlms_cipher_commit.
 *  - 0x30 / 0x31 (authenticated encryption; Danish Kamstrup, L&G E450,
 *    Steiermark Sagemcom): 12-byte GCM tag over AAD = SC || authentication
 *    key. The tag is verified (before any plaintext is written) when the
 *    authentication key was given. Some operators hand out only the
 *    encryption key: decrypting such frames WITHOUT checking the tag is an
 *    explicit choice (allow_unchecked at init); the first such frame is
 *    flagged (first_unchecked) so the caller warns once, and the inner
 *    checks (DSMR CRC, the APDU's own structure) still apply.
 *
 * Replay guard (as Smarty): a frame whose invocation counter is not greater
 * than the last accepted one is refused (REPLAY). A counter is accepted
 * when its tag was verified, or by dsmr_dlms_cipher_commit.
 *
 * Zero allocation per frame; the cipher handle is opened once at init; the
 * keys never leave libgcrypt's handle and the decoder (error messages never
 * contain them). One decoder per meter, one thread at a time. */
#ifndef DSMR_DLMS_CIPHER_H
#define DSMR_DLMS_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "dlms_apdu.h"

enum dsmr_dlms_decrypt_event {
  DSMR_DLMS_PLAINTEXT = 0,       /* tag verified, or an encryption-only
                                    suite: plaintext in place */
  DSMR_DLMS_PLAINTEXT_UNCHECKED, /* a tagged frame opened without checking
                                    its tag (allowed at init) */
  DSMR_DLMS_AUTH_FAILED,         /* tag mismatch: wrong key(s) or damage */
  DSMR_DLMS_REPLAY,              /* counter not above the last accepted */
  DSMR_DLMS_NEED_AUTH_KEY,       /* tagged frame, no authentication key,
                                    unchecked decryption not allowed */
  DSMR_DLMS_CIPHER_ERROR,        /* libgcrypt failed (not the frame's fault) */
};

struct dsmr_dlms_plain {
  uint8_t *data; /* the plaintext APDU, in place of the ciphertext */
  size_t len;
  uint8_t system_title[8];
  uint32_t counter;      /* invocation counter of this frame */
  uint32_t last_counter; /* REPLAY: the last accepted one */
  uint8_t security_control;
  int tag_checked;     /* the GCM tag was verified */
  int first_unchecked; /* the first PLAINTEXT_UNCHECKED of this decoder */
};

struct dsmr_dlms_cipher_stats {
  uint64_t frames_ok, unchecked, auth_failures, replays, need_auth_key;
};

struct gcry_cipher_handle;

struct dsmr_dlms_cipher {
  struct gcry_cipher_handle *cipher;
  uint8_t ak[16];
  int have_ak;
  int allow_unchecked;
  int warned_unchecked;
  int have_counter;
  uint32_t last_counter;
  struct dsmr_dlms_cipher_stats stats;
};

/* key: the 16-byte encryption key (GUEK, GPK60...); auth_key: 16 bytes or
 * NULL; allow_unchecked: open tagged frames without a tag check when no
 * auth_key is given. Returns 0, or -1 with a message in err. */
int dsmr_dlms_cipher_init(struct dsmr_dlms_cipher *c, const uint8_t key[16],
                          const uint8_t *auth_key, int allow_unchecked,
                          char *err, size_t errlen);
void dsmr_dlms_cipher_free(struct dsmr_dlms_cipher *c);

/* Decrypts env (from dsmr_dlms_parse_ciphered) in place. */
enum dsmr_dlms_decrypt_event
dsmr_dlms_decrypt(struct dsmr_dlms_cipher *c,
                  const struct dsmr_dlms_ciphered *env,
                  struct dsmr_dlms_plain *out);

/* Accept the counter of a plaintext whose tag was not verified, once the
 * caller found the APDU inside sound. No-op for verified ones (already
 * accepted). */
void dsmr_dlms_cipher_commit(struct dsmr_dlms_cipher *c,
                             const struct dsmr_dlms_plain *p);

const char *dsmr_dlms_decrypt_event_name(enum dsmr_dlms_decrypt_event ev);

#endif
