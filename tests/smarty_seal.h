/* Sealing a telegram as a Luxembourg Smarty meter does (AES-128-GCM
 * through libgcrypt), for the tests and fuzz targets that feed the Smarty
 * decoder: the encoder side that smarty.c does not have. Header-only;
 * the caller has initialised libgcrypt. */
#ifndef DSMR_SMARTY_SEAL_H
#define DSMR_SMARTY_SEAL_H

#include <gcrypt.h>
#include <stdint.h>
#include <string.h>

/* smarty.h: the Luxembourg default authentication key. */
static const uint8_t LUX_AK[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                   0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB,
                                   0xCC, 0xDD, 0xEE, 0xFF};

/* The C tests' meter: its key, the same key with one bit changed, and its
 * system title. */
static const uint8_t KEY[16] = {0x3C, 0x8A, 0x51, 0x07, 0xE2, 0x94, 0x6B, 0xD0,
                                0x1F, 0x75, 0xA9, 0x3E, 0xC4, 0x58, 0x02, 0xBD};
static const uint8_t WRONG_KEY[16] = {0x3C, 0x8A, 0x51, 0x07, 0xE2, 0x94,
                                      0x6B, 0xD0, 0x1F, 0x75, 0xA9, 0x3E,
                                      0xC4, 0x58, 0x02, 0xBC};
static const uint8_t TITLE[8] = {'L', 'U', 'X', 0x10, 0x20, 0x30, 0x40, 0x50};

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* DB 08 title <length> 30 fc ciphertext tag into out (room for n + 30
 * bytes): IV = title || fc, AAD = 30 || ak, the first 12 bytes of the GCM
 * tag. form is the length's encoding: 1 (one byte, below 0x80), 0x81 (two
 * bytes) or 0x82 (three). Returns the frame's size, or 0 when the body is
 * too long for that form or libgcrypt refused. */
static inline size_t smarty_seal(uint8_t *out, const void *pt, size_t n,
                                 const uint8_t key[16], const uint8_t ak[16],
                                 const uint8_t title[8], uint32_t fc,
                                 int form) {
  size_t body = 1 + 4 + n + 12, h;
  uint8_t iv[12], aad[17], tag[16] = {0}; /* = {0}: for MSan, which does
                                             not see libgcrypt write it */
  gcry_cipher_hd_t hd;

  out[0] = 0xDB;
  out[1] = 8;
  memcpy(out + 2, title, 8);
  if (form == 1) {
    if (body >= 0x80)
      return 0;
    out[10] = (uint8_t)body;
    h = 11;
  } else if (form == 0x81) {
    if (body > 0xFF)
      return 0;
    out[10] = 0x81;
    out[11] = (uint8_t)body;
    h = 12;
  } else {
    if (body > 0xFFFF)
      return 0;
    out[10] = 0x82;
    out[11] = (uint8_t)(body >> 8);
    out[12] = (uint8_t)body;
    h = 13;
  }
  out[h] = 0x30;
  put_be32(out + h + 1, fc);
  memcpy(iv, title, 8);
  put_be32(iv + 8, fc);
  aad[0] = 0x30;
  memcpy(aad + 1, ak, 16);
  if (gcry_cipher_open(&hd, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_GCM, 0))
    return 0;
  int bad = gcry_cipher_setkey(hd, key, 16) || gcry_cipher_setiv(hd, iv, 12) ||
            gcry_cipher_authenticate(hd, aad, sizeof aad) ||
            gcry_cipher_encrypt(hd, out + h + 5, n, pt, n) ||
            gcry_cipher_gettag(hd, tag, sizeof tag);
  gcry_cipher_close(hd);
  if (bad)
    return 0;
  memcpy(out + h + 5 + n, tag, 12); /* DLMS keeps the first 12 bytes */
  return h + body;
}

#endif
