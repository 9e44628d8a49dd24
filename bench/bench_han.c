/* Cost of the binary HAN path per frame: framing (HDLC or M-Bus, with
 * reassembly) + A-XDR + list layout + mapping to readings, i.e. what the
 * reader will run for every frame, and separately the decryption of an
 * encrypted message (envelope parse + AES-128-GCM/CTR in place). Reports
 * nanoseconds (best of 5 runs) and heap allocations inside the measured
 * loop; instructions come from callgrind as the difference of two runs (N
 * and 2N iterations), as bench/run.sh does for DSMR:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
 *     bench/bench_han --iterations 2000 aidon-no-list2-1p-vendor-doc
 *
 *   bench_han [--iterations N] [--decrypt-only | --framing-only] VECTOR_ID
 * (--decrypt-only: framing and decryption; --framing-only: framing and
 * reassembly; the decryption's cost is the difference.)
 * VECTOR_ID: an id of tests/corpus/han/public.json (e.g.
 * aidon-no-list2-1p-vendor-doc, kamstrup-no-list2-em001-1,
 * kaifa-at-tinetz-example-fneur). Never run by `make check`. */
#include "dlms_apdu.h"
#include "dlms_cipher.h"
#include "han.h"
#include "han_corpus.h"
#include "han_layouts.h"
#include "harness.h"
#include "mapper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t input[8192];
static uint8_t framing_buf[DSMR_HAN_FRAMING_BUF_SIZE];
static struct dsmr_han_framing framing;
static struct dsmr_han_list list;
static struct dsmr_telegram telegram;
static struct dsmr_dlms_cipher cipher;
static int have_cipher, decrypt_only, framing_only;
static volatile unsigned sink;

/* One message through framing, [decryption,] decoding and mapping. */
static unsigned one(const uint8_t *p, size_t len) {
  unsigned readings = 0;
  enum dsmr_han_event ev;
  do {
    struct dsmr_han_out out;
    size_t u = dsmr_han_framing_feed(&framing, p, len, &ev, &out);
    p += u;
    len -= u;
    if (ev != DSMR_HAN_EV_APDU)
      continue;
    if (framing_only) {
      readings++;
      continue;
    }
    uint8_t *a = (uint8_t *)out.apdu; /* in the framing stage's buffer */
    const uint8_t *title = NULL;
    size_t n = out.len;
    if (have_cipher && a[0] == DSMR_DLMS_GLO_CIPHERING) {
      struct dsmr_dlms_ciphered env;
      struct dsmr_dlms_plain pl;
      if (dsmr_dlms_parse_ciphered(a, n, &env) != DSMR_DLMS_OK)
        continue;
      cipher.have_counter = 0; /* the same frame every time */
      enum dsmr_dlms_decrypt_event e = dsmr_dlms_decrypt(&cipher, &env, &pl);
      if (e != DSMR_DLMS_PLAINTEXT && e != DSMR_DLMS_PLAINTEXT_UNCHECKED)
        continue;
      if (decrypt_only) {
        readings++;
        continue;
      }
      a = pl.data;
      n = pl.len;
      title = env.system_title;
    }
    if (dsmr_han_decode(a, n, title, NULL, &list) == DSMR_HAN_OK &&
        dsmr_han_map(&list, &telegram) == 0)
      readings += telegram.nreadings;
  } while (len > 0 || ev != DSMR_HAN_EV_NONE);
  return readings;
}

int main(int argc, char **argv) {
  long iterations = 200000;
  const char *id = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
      iterations = atol(argv[++i]);
    else if (strcmp(argv[i], "--decrypt-only") == 0)
      decrypt_only = 1;
    else if (strcmp(argv[i], "--framing-only") == 0)
      framing_only = 1;
    else
      id = argv[i];
  }
  const struct han_vector *hv = NULL;
  for (unsigned i = 0; id && i < HAN_NVECTORS; i++)
    if (strcmp(han_vectors[i].id, id) == 0)
      hv = &han_vectors[i];
  if (!hv || iterations <= 0) {
    fprintf(stderr, "usage: bench_han [--iterations N] [--decrypt-only | "
                    "--framing-only] VECTOR_ID (an id of "
                    "tests/corpus/han/public.json)\n");
    return 2;
  }
  size_t len = 0;
  for (const char *h = hv->frame_hex; h[0] && h[1] && len < sizeof input;
       h += 2) {
    unsigned v;
    sscanf(h, "%2x", &v);
    input[len++] = (uint8_t)v;
  }
  if (hv->key_hex) {
    uint8_t key[16], ak[16];
    char err[128];
    for (int i = 0; i < 16; i++) {
      unsigned v;
      sscanf(hv->key_hex + 2 * i, "%2x", &v);
      key[i] = (uint8_t)v;
      if (hv->auth_key_hex) {
        sscanf(hv->auth_key_hex + 2 * i, "%2x", &v);
        ak[i] = (uint8_t)v;
      }
    }
    if (dsmr_dlms_cipher_init(&cipher, key, hv->auth_key_hex ? ak : NULL, 1,
                              err, sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    have_cipher = 1;
  }
  dsmr_han_framing_init(&framing, DSMR_HAN_AUTO, framing_buf,
                        sizeof framing_buf);
  unsigned readings = one(input, len);
  if (readings == 0) {
    fprintf(stderr, "%s: no clean frame\n", id);
    return 1;
  }
  double best;
  unsigned long allocs;
  BENCH_TIME(iterations, best, allocs, sink += one(input, len));
  printf("%s %s: %zu bytes, %.0f ns per message, %.3f allocations per "
         "message, %u %s\n",
         decrypt_only   ? "framing + decryption"
         : framing_only ? "framing"
                        : "HAN path",
         id, len, best, (double)allocs / (BENCH_RUNS * (double)iterations),
         readings, decrypt_only || framing_only ? "messages" : "readings");
  return 0;
}
