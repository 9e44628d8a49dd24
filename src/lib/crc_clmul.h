/* Internal: the carry-less-multiplication fold shared by the two reflected
 * 16-bit CRCs of the library, CRC-16/ARC (crc16.c, DSMR telegrams) and
 * CRC-16/X.25 (hdlc.c, HAN frames).
 *
 * Folding (Intel, "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ", 2009), without its final Barrett reduction: 16-byte blocks are
 * folded into one 128-bit accumulator X whose polynomial is congruent, mod the
 * CRC's polynomial P, to the message read so far times the right power of x;
 * the CRC of the message is then the CRC of X's 16 bytes followed by the
 * tail, which the caller computes with its tables. In the reflected bit order
 * of both CRCs, bit i of a 64-bit lane u stands for x^(63-i), and a
 * carry-less product of two lanes is x * poly(u) * poly(v): so folding X over
 * the next 128 bits, X_lo * x^192 + X_hi * x^128, takes the constants
 * x^191 mod P and x^127 mod P, each bit-reversed into the top of a 64-bit
 * lane. Two multiplies per 16 bytes instead of 16 table lookups. Only the
 * two constants and the register's starting value differ between the CRCs;
 * each caller's comment derives its own. */
#ifndef DSMR_CRC_CLMUL_H
#define DSMR_CRC_CLMUL_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <wmmintrin.h>

#define DSMR_CRC_CLMUL 1

/* Whether the CPU has PCLMULQDQ (SSE2: every x86-64). The check reads a word
 * libgcc fills in at start-up: no state of ours. */
static inline int dsmr_crc_clmul_usable(void) {
  return __builtin_cpu_supports("pclmul");
}

/* Folds p[0..n), n >= 32, into `folded` (16 bytes) and returns how many
 * bytes it took (a multiple of 16; the caller goes on from p + that).
 * `start` is the CRC register before p, which enters as an xor into the
 * first two bytes; k191 and k127 are x^191 and x^127 mod P, bit-reversed
 * into the top of a 64-bit lane. The CRC of the bytes taken is then the
 * caller's CRC, started at 0, over `folded`. Only to be called from a
 * function built with target("pclmul,sse2") when dsmr_crc_clmul_usable(). */
__attribute__((target("pclmul,sse2"))) static inline size_t
dsmr_crc_clmul_fold(const uint8_t *p, size_t n, uint16_t start, uint64_t k191,
                    uint64_t k127, uint8_t folded[16]) {
  const __m128i k = _mm_set_epi64x((long long)k127, (long long)k191);
  __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)p),
                            _mm_cvtsi32_si128((int)start));
  size_t i = 16;
  for (; n - i >= 16; i += 16) {
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00),
                                    _mm_clmulepi64_si128(x, k, 0x11)),
                      b);
  }
  _mm_storeu_si128((__m128i *)(void *)folded, x);
  return i;
}
#endif

#endif
