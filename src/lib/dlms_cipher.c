/* DLMS ciphering for HAN meters and Luxembourg Smarty frames (see
 * dlms_cipher.h). A tagged frame is checked in a first pass that decrypts into
 * a wiped scratch buffer, so the caller's buffer never holds unauthenticated
 * plaintext of a tagged frame; only then is it decrypted in place. */
#include "dlms_cipher.h"

#include <gcrypt.h>
#include <stdio.h>
#include <string.h>

#define NEED_LIBGCRYPT "1.6.0"
#define TAG_LEN 12
#define SC_AUTH 0x10

static gcry_cipher_hd_t handle(const struct dsmr_dlms_cipher *c) {
  return c->cipher;
}

static void wipe(void *p, size_t n) {
  if (p && n)
    explicit_bzero(p, n);
}

int dsmr_dlms_cipher_init(struct dsmr_dlms_cipher *c, const uint8_t key[16],
                          const uint8_t *auth_key, int allow_unchecked,
                          char *err, size_t errlen) {
  gcry_cipher_hd_t h = NULL;
  gcry_error_t e;
  memset(c, 0, sizeof *c);
  if (!key) {
    snprintf(err, errlen, "dlms: no decryption key");
    return -1;
  }
  /* Every user of libgcrypt must call this first; it is cheap and safe to
   * call again when someone already did.
   *
   * collectd: its network plugin, when configured with Username/Password
   * or SecurityLevel, sets libgcrypt up from its config callback, unless
   * GCRYCTL_ANY_INITIALIZATION_P says someone already did: then it skips
   * its 32 KiB of secure memory and GCRYCTL_INITIALIZATION_FINISHED. So
   * this function does only what the manual asks of a library, and the
   * plugin calls it (for Smarty and HAN meters) from its init callback,
   * which collectd runs after all config callbacks: the network plugin goes
   * first. Were the order ever reversed, nothing breaks (libgcrypt sets up
   * secure memory lazily, and this decoder never asks for any), the setup
   * is just collectd's less. */
  if (!gcry_check_version(NEED_LIBGCRYPT)) {
    snprintf(err, errlen,
             "dlms: libgcrypt " NEED_LIBGCRYPT " or later is needed");
    return -1;
  }
  e = gcry_cipher_open(&h, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_GCM, 0);
  if (e) {
    snprintf(err, errlen, "dlms: cannot use AES-128-GCM: %s", gcry_strerror(e));
    return -1;
  }
  e = gcry_cipher_setkey(h, key, 16);
  if (e) {
    gcry_cipher_close(h);
    snprintf(err, errlen, "dlms: the decryption key was refused: %s",
             gcry_strerror(e));
    return -1;
  }
  c->cipher = h;
  if (auth_key) {
    memcpy(c->ak, auth_key, 16);
    c->have_ak = 1;
  }
  c->allow_unchecked = allow_unchecked;
  return 0;
}

void dsmr_dlms_cipher_free(struct dsmr_dlms_cipher *c) {
  if (c->cipher)
    gcry_cipher_close(handle(c));
  wipe(c, sizeof *c);
}

static int start(struct dsmr_dlms_cipher *c, const uint8_t iv[12], uint8_t sc,
                 int with_aad) {
  gcry_cipher_hd_t h = handle(c);
  if (gcry_cipher_reset(h) || gcry_cipher_setiv(h, iv, 12))
    return -1;
  if (with_aad) {
    uint8_t aad[17];
    aad[0] = sc;
    memcpy(aad + 1, c->ak, 16);
    gcry_error_t e = gcry_cipher_authenticate(h, aad, sizeof aad);
    wipe(aad, sizeof aad);
    if (e)
      return -1;
  }
  return 0;
}

static int tag_ok(struct dsmr_dlms_cipher *c, const uint8_t iv[12], uint8_t sc,
                  const uint8_t *ct, size_t clen, const uint8_t *tag) {
  uint8_t scratch[256];
  int ok = start(c, iv, sc, 1) == 0;
  for (size_t off = 0; ok && off < clen; off += sizeof scratch) {
    size_t n = clen - off < sizeof scratch ? clen - off : sizeof scratch;
    ok = gcry_cipher_decrypt(handle(c), scratch, n, ct + off, n) == 0;
  }
  wipe(scratch, sizeof scratch);
  return ok && gcry_cipher_checktag(handle(c), tag, TAG_LEN) == 0;
}

enum dsmr_dlms_decrypt_event
dsmr_dlms_decrypt(struct dsmr_dlms_cipher *c,
                  const struct dsmr_dlms_ciphered *env,
                  struct dsmr_dlms_plain *out) {
  uint8_t iv[12];
  uint8_t sc = env->security_control;
  memset(out, 0, sizeof *out);
  memcpy(out->system_title, env->system_title, 8);
  out->counter = env->invocation_counter;
  out->security_control = sc;
  if (!c->cipher)
    return DSMR_DLMS_CIPHER_ERROR;
  memcpy(iv, env->system_title, 8);
  iv[8] = (uint8_t)(env->invocation_counter >> 24);
  iv[9] = (uint8_t)(env->invocation_counter >> 16);
  iv[10] = (uint8_t)(env->invocation_counter >> 8);
  iv[11] = (uint8_t)env->invocation_counter;

  int tagged = (sc & SC_AUTH) && env->tag;
  int check = tagged && c->have_ak;
  if (tagged && !check && !c->allow_unchecked) {
    c->stats.need_auth_key++;
    return DSMR_DLMS_NEED_AUTH_KEY;
  }
  if (check &&
      !tag_ok(c, iv, sc, env->ciphertext, env->ciphertext_len, env->tag)) {
    c->stats.auth_failures++;
    return DSMR_DLMS_AUTH_FAILED;
  }
  /* after the tag: a damaged counter reads as a damaged frame */
  if (c->have_counter && env->invocation_counter <= c->last_counter) {
    out->last_counter = c->last_counter;
    c->stats.replays++;
    return DSMR_DLMS_REPLAY;
  }
  if (start(c, iv, sc, check) != 0 ||
      gcry_cipher_decrypt(handle(c), env->ciphertext, env->ciphertext_len, NULL,
                          0) != 0 ||
      (check && gcry_cipher_checktag(handle(c), env->tag, TAG_LEN) != 0)) {
    wipe(env->ciphertext, env->ciphertext_len);
    return DSMR_DLMS_CIPHER_ERROR;
  }
  out->data = env->ciphertext;
  out->len = env->ciphertext_len;
  out->tag_checked = check;
  if (check) {
    c->last_counter = env->invocation_counter;
    c->have_counter = 1;
    c->stats.frames_ok++;
    return DSMR_DLMS_PLAINTEXT;
  }
  if (tagged) {
    c->stats.unchecked++;
    out->first_unchecked = !c->warned_unchecked;
    c->warned_unchecked = 1;
    return DSMR_DLMS_PLAINTEXT_UNCHECKED;
  }
  c->stats.frames_ok++;
  return DSMR_DLMS_PLAINTEXT;
}

void dsmr_dlms_cipher_commit(struct dsmr_dlms_cipher *c,
                             const struct dsmr_dlms_plain *p) {
  if (p->tag_checked)
    return;
  if (!c->have_counter || p->counter > c->last_counter) {
    c->last_counter = p->counter;
    c->have_counter = 1;
  }
}

const char *dsmr_dlms_decrypt_event_name(enum dsmr_dlms_decrypt_event ev) {
  switch (ev) {
  case DSMR_DLMS_PLAINTEXT:
    return "plaintext";
  case DSMR_DLMS_PLAINTEXT_UNCHECKED:
    return "plaintext, tag not checked";
  case DSMR_DLMS_AUTH_FAILED:
    return "authentication failed";
  case DSMR_DLMS_REPLAY:
    return "replayed frame counter";
  case DSMR_DLMS_NEED_AUTH_KEY:
    return "authentication key needed";
  case DSMR_DLMS_CIPHER_ERROR:
    return "decryption failed";
  }
  return "?";
}
