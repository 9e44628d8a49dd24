/* fuzz_han: the binary HAN chain (han.c, hdlc.c, mbus.c, dlms_apdu.c,
 * dlms_cipher.c with a fixed key, axdr.c, han_layouts.c) on any bytes.
 *
 *   [mode] then the stream
 *   mode & 3:  0 transport AUTO, 1 HDLC, 2 M-Bus, 3 the bytes are one APDU
 *   mode >> 2 & 3: chunking of the first run: 0 fixed (mode >> 4) + 1
 *              bytes, 1 pseudo-random 1..64, 2 pseudo-random 1..1024,
 *              3 one piece
 *
 * Every APDU that comes out goes on: a DB/DF envelope is parsed and
 * decrypted with a fixed key (authentication key given, unchecked
 * decryption allowed, so every branch is reachable), a data-notification
 * is decoded and mapped. The raw input is also decoded as A-XDR.
 *
 * Checks:
 *  - the documented feed loops end (bounded calls) and make progress;
 *  - the same events, APDUs, decode results and readings whatever the
 *    chunking (first run's chunks, byte by byte, one piece): the stages'
 *    promise that chunking never changes the outcome;
 *  - APDUs no longer than the buffers; what the A-XDR check accepts
 *    walks soundly with the cursor (every element readable where it
 *    starts, children counted exactly, skip agreeing with the walk, depth
 *    bounded, strings inside the input, as many elements as counted);
 * registers' bytes inside the APDU; readings counted within DSMR_MAX_READINGS
 * with names;
 *  - formatting every value (decimal, unit, date-time, OBIS) stays in
 *    bounds (ASan). */
#include <gcrypt.h>
#include <string.h>

#include "axdr.h"
#include "dlms_apdu.h"
#include "dlms_cipher.h"
#include "fuzz_assert.h"
#include "han.h"
#include "han_layouts.h"
#include "mapper.h"

static const uint8_t KEY[16] = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F};
static const uint8_t AK[16] = {0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7,
                               0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF};

static uint8_t framing_buf[DSMR_HAN_FRAMING_BUF_SIZE];
static struct dsmr_han_framing framing;
static struct dsmr_dlms_cipher cipher;
static int cipher_ready;
static struct dsmr_han_list list;
static struct dsmr_telegram telegram;
static uint8_t apdu[DSMR_HAN_MESSAGE_MAX];

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v;
  return h * 0x100000001B3ULL;
}

static uint64_t mix_bytes(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = mix(h, p[i]);
  return mix(h, n);
}

/* Walks the element at p[pos] (of bytes dsmr_axdr_check accepted) with the
 * cursor, its containers' elements one by one: every element read where
 * it starts, every span inside p[0..len), the depth bounded, each
 * container's elements counted exactly (the walk of its len elements ends
 * where dsmr_axdr_skip says it ends). Returns the offset past it; counts
 * the elements into *count. */
static size_t walk(const uint8_t *p, size_t len, size_t pos, unsigned depth,
                   unsigned *count) {
  struct dsmr_axdr_elem e;
  FZ_ASSERT(depth <= DSMR_AXDR_MAX_DEPTH);
  FZ_ASSERT_MSG(dsmr_axdr_read(p, len, pos, &e) == 0, "element at %zu", pos);
  FZ_ASSERT(e.next > pos && e.next <= len);
  (*count)++;
  if (e.bytes)
    FZ_ASSERT(
        e.bytes > p + pos && e.bytes <= p + len &&
        e.bytes + (e.tag == DSMR_AXDR_BIT_STRING ? (e.len + 7) / 8 : e.len) <=
            p + len);
  size_t end = e.next;
  if (dsmr_axdr_is_container(e.tag)) {
    for (uint32_t k = 0; k < e.len; k++) {
      FZ_ASSERT_MSG(end < len, "element %u of %u at %zu", k, e.len, pos);
      end = walk(p, len, end, depth + 1, count);
    }
  }
  FZ_ASSERT_MSG(dsmr_axdr_skip(p, len, pos) == end, "skip at %zu", pos);
  return end;
}

/* the whole checked element at p[0..): walked as it was checked */
static void check_tree(const uint8_t *p, size_t len, unsigned count,
                       size_t used) {
  unsigned n = 0;
  FZ_ASSERT(walk(p, len, 0, 0, &n) == used);
  FZ_ASSERT_MSG(n == count, "%u elements walked, %u checked", n, count);
}

/* decode + map one plaintext APDU p[0..n) */
static uint64_t decode(uint64_t h, const uint8_t *p, size_t n,
                       const uint8_t *title) {
  enum dsmr_han_status s = dsmr_han_decode(p, n, title, NULL, &list);
  h = mix(h, (uint64_t)s);
  if (list.body) /* the notification's body, whatever came of it */
    FZ_ASSERT(list.body >= p && list.body + list.body_len <= p + n);
  if (list.body && s != DSMR_HAN_BAD_AXDR) /* a body the decoder took */
    check_tree(list.body, list.body_len, list.nelements, list.body_len);
  if (s != DSMR_HAN_OK)
    return h;
  FZ_ASSERT(list.nvalues <= DSMR_HAN_MAX_VALUES);
  h = mix(h, list.layout);
  for (unsigned i = 0; i < list.nvalues; i++) {
    const struct dsmr_han_value *v = &list.values[i];
    char buf[64], ob[24], dt[32];
    if (v->bytes)
      FZ_ASSERT(v->bytes >= p && v->bytes + v->len <= p + n);
    if (v->type == DSMR_HAN_NUMBER) {
      dsmr_han_value_decimal(v, buf, sizeof buf);
      FZ_ASSERT(strlen(buf) < sizeof buf);
      h = mix_bytes(h, (const uint8_t *)buf, strlen(buf));
    }
    if (v->type == DSMR_HAN_DATETIME)
      dsmr_cosem_datetime_format(&v->dt, dt);
    if (v->has_obis)
      dsmr_han_obis_format(&v->obis, ob);
    (void)dsmr_dlms_unit_name(v->unit);
    h = mix(h, v->type);
  }
  unsigned errors = dsmr_han_map(&list, &telegram);
  FZ_ASSERT(telegram.nreadings <= DSMR_MAX_READINGS);
  FZ_ASSERT(errors == telegram.errors);
  for (unsigned i = 0; i < telegram.nreadings; i++) {
    const struct dsmr_reading *r = &telegram.readings[i];
    FZ_ASSERT(r->type && r->type_instance);
    h = mix(h, (uint64_t)r->derive);
    uint64_t bits;
    memcpy(&bits, &r->gauge, sizeof bits);
    h = mix(h, bits);
  }
  return mix(h, errors);
}

static uint64_t apdu_out(uint64_t h, const uint8_t *p, size_t n) {
  FZ_ASSERT(n <= DSMR_HAN_MESSAGE_MAX);
  h = mix_bytes(h, p, n);
  memcpy(apdu, p, n);
  if (n > 0 && (apdu[0] == DSMR_DLMS_GLO_CIPHERING ||
                apdu[0] == DSMR_DLMS_DED_CIPHERING)) {
    struct dsmr_dlms_ciphered env;
    enum dsmr_dlms_status s = dsmr_dlms_parse_ciphered(apdu, n, &env);
    h = mix(h, (uint64_t)s);
    if (s != DSMR_DLMS_OK || !cipher_ready)
      return h;
    FZ_ASSERT(env.ciphertext >= apdu &&
              env.ciphertext + env.ciphertext_len <= apdu + n);
    struct dsmr_dlms_plain pl;
    enum dsmr_dlms_decrypt_event e = dsmr_dlms_decrypt(&cipher, &env, &pl);
    h = mix(h, (uint64_t)e);
    if (e != DSMR_DLMS_PLAINTEXT && e != DSMR_DLMS_PLAINTEXT_UNCHECKED)
      return h;
    h = decode(h, pl.data, pl.len, env.system_title);
    if (list.layout != DSMR_HAN_LAYOUT_UNKNOWN)
      dsmr_dlms_cipher_commit(&cipher, &pl);
    return h;
  }
  return decode(h, apdu, n, NULL);
}

/* One run over the stream in chunks; returns the hash of what happened. */
static uint64_t run(enum dsmr_han_transport t, const uint8_t *data, size_t len,
                    unsigned mode, unsigned fixed, uint32_t seed) {
  uint64_t h = 0xCBF29CE484222325ULL;
  dsmr_han_framing_init(&framing, t, framing_buf, sizeof framing_buf);
  cipher.have_counter = 0;
  cipher.last_counter = 0;
  size_t off = 0;
  while (off < len) {
    size_t chunk;
    seed = seed * 1103515245u + 12345u;
    switch (mode) {
    case 0:
      chunk = fixed;
      break;
    case 1:
      chunk = 1 + (seed >> 16) % 64;
      break;
    case 2:
      chunk = 1 + (seed >> 16) % 1024;
      break;
    default:
      chunk = len;
    }
    if (chunk > len - off)
      chunk = len - off;
    const uint8_t *p = data + off;
    size_t left = chunk;
    enum dsmr_han_event ev;
    unsigned calls = 0;
    do {
      struct dsmr_han_out out;
      size_t u = dsmr_han_framing_feed(&framing, p, left, &ev, &out);
      FZ_ASSERT(u <= left);
      FZ_ASSERT(++calls <= 4 * chunk + 16);
      p += u;
      left -= u;
      if (ev == DSMR_HAN_EV_NONE)
        continue;
      if (ev == DSMR_HAN_EV_TRANSPORT)
        continue; /* when AUTO decides depends on where the chunk ends */
      h = mix(h, ev);
      if (ev == DSMR_HAN_EV_APDU)
        h = apdu_out(h, out.apdu, out.len);
    } while (left > 0 || ev != DSMR_HAN_EV_NONE);
    off += chunk;
  }
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!cipher_ready) {
    char err[128];
    cipher_ready =
        dsmr_dlms_cipher_init(&cipher, KEY, AK, 1, err, sizeof err) == 0;
    FZ_ASSERT(cipher_ready);
  }
  if (size < 1)
    return 0;
  unsigned mode = data[0];
  data++;
  size--;

  /* the raw bytes as A-XDR, with a small element bound too */
  unsigned n = 0;
  size_t used = 0;
  enum dsmr_axdr_status as = dsmr_axdr_check(data, size, 0, 64, &n, &used);
  if (as == DSMR_AXDR_OK) {
    FZ_ASSERT(used <= size && n <= 64);
    check_tree(data, size, n, used);
  }

  if ((mode & 3) == 3) {
    /* one APDU: straight to decryption and decoding, twice (no state
     * but the replay guard, reset in between) */
    if (size > DSMR_HAN_MESSAGE_MAX)
      return 0;
    cipher.have_counter = 0;
    uint64_t a = apdu_out(1, data, size);
    cipher.have_counter = 0;
    uint64_t b = apdu_out(1, data, size);
    FZ_ASSERT(a == b);
    return 0;
  }
  enum dsmr_han_transport t = (enum dsmr_han_transport)(mode & 3);
  uint32_t seed = (uint32_t)size * 2654435761u;
  uint64_t h1 = run(t, data, size, mode >> 2 & 3, (mode >> 4) + 1, seed);
  uint64_t h2 = run(t, data, size, 0, 1, seed);
  uint64_t h3 = run(t, data, size, 3, 0, seed);
  FZ_ASSERT_MSG(h1 == h2 && h2 == h3, "chunking changed the outcome");
  return 0;
}
