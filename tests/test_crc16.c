/* CRC-16/ARC: the catalogue check value, every corpus telegram, and the
 * sliced implementation against a bitwise one on random data of every length,
 * alignment and split. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc16.h"
#include "hex.h"
#include "tap.h"
#include "test_util.h"

/* The definition, one bit at a time: what the tables must agree with. */
static uint16_t crc_bitwise(uint16_t crc, const unsigned char *p, size_t n) {
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
  }
  return crc;
}

static uint64_t rnd(uint64_t *s) { /* splitmix64: seeded, reproducible */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static void test_vectors(void) {
  is_int(dsmr_crc16(0, "123456789", 9), 0xBB3D, "check value 123456789");
  is_int(dsmr_crc16(0, "", 0), 0, "empty input: 0");
  is_int(dsmr_crc16(0x1234, "x", 0), 0x1234,
         "zero length leaves a running crc alone");
  is_int(dsmr_crc16(dsmr_crc16(0, "1234", 4), "56789", 5), 0xBB3D,
         "incremental 1234 + 56789");
  /* A telegram with its own CRC appended (low byte first) leaves 0: the
   * defining property of a CRC without final xor. */
  unsigned char t[11] = "123456789";
  t[9] = 0x3D;
  t[10] = 0xBB;
  is_int(dsmr_crc16(0, t, 11), 0, "residue over data + crc is 0");
}

typedef uint16_t crc_fn(uint16_t, const void *, size_t);

static void test_random(crc_fn *crc, const char *name) {
  enum { MAXLEN = 300, ALIGN = 16 };
  unsigned char *buf = malloc(MAXLEN + ALIGN);
  uint64_t seed = 42;
  unsigned bad_whole = 0, bad_split = 0, cases = 0;

  for (size_t i = 0; i < MAXLEN + ALIGN; i++)
    buf[i] = (unsigned char)rnd(&seed);
  for (size_t len = 0; len <= MAXLEN; len++) {
    for (size_t a = 0; a < ALIGN; a++) {
      const unsigned char *p = buf + a;
      uint16_t init = (uint16_t)rnd(&seed); /* any running value */
      uint16_t want = crc_bitwise(init, p, len);
      size_t s1 = len ? (size_t)(rnd(&seed) % (len + 1)) : 0;
      size_t s2 = s1 + (len > s1 ? (size_t)(rnd(&seed) % (len - s1 + 1)) : 0);
      uint16_t got;

      cases++;
      if (crc(init, p, len) != want) {
        if (!bad_whole++)
          printf("# whole: len %zu align %zu\n", len, a);
      }
      got = crc(init, p, s1);
      got = crc(got, p + s1, s2 - s1);
      got = crc(got, p + s2, len - s2);
      if (got != want) {
        if (!bad_split++)
          printf("# split: len %zu align %zu at %zu,%zu\n", len, a, s1, s2);
      }
    }
  }
  ok(cases == (MAXLEN + 1) * ALIGN, "%s random: %u cases", name, cases);
  is_int(bad_whole, 0, "%s: lengths 0..%d, 16 alignments, random init: bitwise",
         name, MAXLEN);
  is_int(bad_split, 0, "%s: same, split in three at random points", name);

  /* Each table entry once more through its own path: a single byte after
   * every possible running value reaches the byte-wise tail, and 16/8/4-byte
   * blocks starting with that byte reach every table of the sliced paths. */
  unsigned bad_tab = 0;
  for (unsigned v = 0; v < 256; v++) {
    for (size_t n = 1; n <= 16; n++) {
      memset(buf, (int)v, n);
      buf[n - 1] = (unsigned char)(255 - v);
      if (crc((uint16_t)(v * 257), buf, n) !=
          crc_bitwise((uint16_t)(v * 257), buf, n))
        bad_tab++;
    }
  }
  is_int(bad_tab, 0,
         "%s: every byte value at every position of a 16-byte block", name);

  /* Long runs of each byte value (telegram-sized and beyond), where the
   * folding of the carry-less path does many rounds. */
  unsigned bad_long = 0;
  unsigned char *big = malloc(4096);
  for (unsigned v = 0; v < 256; v += 5) {
    memset(big, (int)v, 4096);
    for (size_t n = 1000; n < 4096; n += 997)
      if (crc((uint16_t)v, big, n) != crc_bitwise((uint16_t)v, big, n))
        bad_long++;
  }
  free(big);
  is_int(bad_long, 0, "%s: long runs of one byte value", name);
  free(buf);
}

static void test_corpus(void) {
  char path[4096], id[256];
  int present, crc_ok, nobj;
  unsigned files = 0, with_crc = 0;
  FILE *ex;

  snprintf(path, sizeof(path), "%s/tests/corpus/expected.txt", srcdir());
  ex = fopen(path, "r");
  if (!ok(ex != NULL, "open %s", path)) {
    printf("# %s (set top_srcdir to the source tree)\n", strerror(errno));
    return;
  }
  char line[8192];
  while (fgets(line, sizeof(line), ex)) {
    if (sscanf(line, "telegram %255s %d %d %d", id, &present, &crc_ok, &nobj) !=
        4)
      continue;
    size_t len = 0;
    snprintf(path, sizeof(path), "%s/tests/corpus/telegrams/%s.p1", srcdir(),
             id);
    unsigned char *b = slurp(path, &len);
    files++;
    if (!ok(b != NULL, "%s: read", id))
      continue;
    unsigned char *slash = memchr(b, '/', len);
    unsigned char *bang =
        slash ? memchr(slash, '!', len - (size_t)(slash - b)) : NULL;
    if (!ok(slash && bang, "%s: has '/' and '!'", id)) {
      free(b);
      continue;
    }
    size_t flen = (size_t)(bang - slash) + 1;
    unsigned given = 0;
    int digits = 0, d;
    while (digits < 4 && bang + 1 + digits < b + len &&
           (d = dsmr_hex_digit((unsigned char)bang[1 + digits])) >= 0) {
      given = given << 4 | (unsigned)d;
      digits++;
    }
    is_int(digits > 0, present, "%s: crc present as expected.txt says", id);
    if (present) {
      uint16_t got = dsmr_crc16(0, slash, flen);
      with_crc++;
      is_int(got, crc_bitwise(0, slash, flen), "%s: crc equals bitwise", id);
      is_int(got == given, crc_ok, "%s: crc %04X vs given %04X: ok=%d", id, got,
             given, crc_ok);
    }
    free(b);
  }
  fclose(ex);
  /* every telegrams/<id>.p1 is in expected.txt (and the corpus grows) */
  unsigned p1 = 0;
  snprintf(path, sizeof(path), "%s/tests/corpus/telegrams", srcdir());
  DIR *dir = opendir(path);
  for (struct dirent *de; dir && (de = readdir(dir)) != NULL;) {
    size_t n = strlen(de->d_name);
    p1 += n > 3 && strcmp(de->d_name + n - 3, ".p1") == 0;
  }
  if (dir)
    closedir(dir);
  ok(files >= 40 && files == p1, "corpus: all %u telegrams listed (%u files)",
     files, p1);
  ok(with_crc >= 30, "corpus: %u telegrams carry a CRC", with_crc);
}

int main(void) {
  test_vectors();
  /* Both implementations, explicitly: dsmr_crc16 takes one of them. */
  test_random(dsmr_crc16_portable, "portable");
  if (dsmr_crc16_have_clmul())
    test_random(dsmr_crc16_clmul, "clmul");
  else
    ok(1, "# SKIP clmul: this CPU has no carry-less multiply");
  test_random(dsmr_crc16, "dsmr_crc16");
  is_int(dsmr_crc16_clmul(0, "123456789012345678901234567890123456789", 39),
         crc_bitwise(
             0,
             (const unsigned char *)"123456789012345678901234567890123456789",
             39),
         "clmul (or its fallback) on 39 bytes");
  test_corpus();
  return tap_done();
}
