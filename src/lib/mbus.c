/* M-Bus long frames and DLMS segment reassembly (see mbus.h). The framer
 * holds the one candidate being collected, starting at its 68, like the
 * HDLC framer: a refused frame has its first byte dropped and the rest is
 * scanned again, quietly. */
#include "mbus.h"

#include <string.h>

#define START 0x68
#define STOP 0x16

#if defined(__SSE2__)
#include <emmintrin.h>

uint8_t dsmr_mbus_checksum(const uint8_t *p, size_t n) {
  /* sixteen bytes at a time: PSADBW sums each half's eight bytes into a
   * 64-bit lane (every x86-64 has SSE2; the portable sum is below) */
  const __m128i zero = _mm_setzero_si128();
  __m128i acc = zero;
  for (; n >= 16; p += 16, n -= 16)
    acc = _mm_add_epi64(
        acc,
        _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(const void *)p), zero));
  if (n >= 8) { /* eight more, from a 64-bit load (the upper half 0) */
    acc = _mm_add_epi64(
        acc,
        _mm_sad_epu8(_mm_loadl_epi64((const __m128i *)(const void *)p), zero));
    p += 8;
    n -= 8;
  }
  unsigned s = (unsigned)_mm_cvtsi128_si32(acc) +
               (unsigned)_mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
  while (n--)
    s += *p++;
  return (uint8_t)s;
}
#else
uint8_t dsmr_mbus_checksum(const uint8_t *p, size_t n) {
  /* eight bytes at a time into four 16-bit lanes, folded every KiB (a lane
   * gains at most 510 per step: 128 steps cannot wrap it) */
  unsigned s = 0;
  while (n >= 8) {
    uint64_t lanes = 0;
    for (unsigned k = 0; k < 128 && n >= 8; k++) {
      uint64_t x;
      memcpy(&x, p, 8);
      lanes += (x & 0x00FF00FF00FF00FFull) + (x >> 8 & 0x00FF00FF00FF00FFull);
      p += 8;
      n -= 8;
    }
    s += (unsigned)(lanes + (lanes >> 16) + (lanes >> 32) + (lanes >> 48));
  }
  while (n--)
    s += *p++;
  return (uint8_t)s;
}
#endif

void dsmr_mbus_init(struct dsmr_mbus *m, uint8_t *buf, size_t cap) {
  memset(m, 0, sizeof *m);
  m->buf = buf;
  m->cap = cap;
}

void dsmr_mbus_reset(struct dsmr_mbus *m) {
  m->len = m->drop = m->quiet = 0;
}

static void discard(struct dsmr_mbus *m, size_t n) {
  size_t q = m->quiet < n ? m->quiet : n;
  m->stats.noise_bytes += n - q;
  m->quiet -= q;
  memmove(m->buf, m->buf + n, m->len - n);
  m->len -= n;
}

static void skip_candidate(struct dsmr_mbus *m) {
  const uint8_t *f = m->len > 1 ? memchr(m->buf + 1, START, m->len - 1) : NULL;
  discard(m, f ? (size_t)(f - m->buf) : m->len);
}

size_t dsmr_mbus_feed(struct dsmr_mbus *m, const uint8_t *data, size_t len,
                      enum dsmr_mbus_event *ev, struct dsmr_mbus_frame *out) {
  size_t used = 0;
  *ev = DSMR_MBUS_NONE;
  if (m->drop) {
    if (m->len > m->drop)
      memmove(m->buf, m->buf + m->drop, m->len - m->drop);
    m->len -= m->drop;
    m->drop = 0;
  }
  for (;;) {
    if (m->len == 0) {
      const uint8_t *f = memchr(data + used, START, len - used);
      size_t skip = f ? (size_t)(f - (data + used)) : len - used;
      m->stats.noise_bytes += skip;
      m->stats.bytes += skip;
      used += skip;
      m->quiet = 0;
      if (!f)
        return used;
      /* the whole frame in the input, its header as the steps below want
       * it: copied in one step (they would copy the same bytes in two,
       * deciding nothing in between) */
      size_t avail = len - used;
      if (avail >= 4 && f[1] == f[2] && f[3] == START && f[1] >= 3 &&
          (size_t)f[1] + 6 <= m->cap && (size_t)f[1] + 6 <= avail) {
        size_t whole = (size_t)f[1] + 6;
        memcpy(m->buf, f, whole);
        m->len = whole;
        used += whole;
        m->stats.bytes += whole;
      }
    }
    const uint8_t *b = m->buf;
    size_t need = 4;
    if (m->len >= 1 && b[0] != START) {
      skip_candidate(m);
      continue;
    }
    if (m->len >= 4) {
      /* L >= 3: C, A and CI */
      if (b[1] != b[2] || b[3] != START || b[1] < 3 ||
          (size_t)b[1] + 6 > m->cap) {
        skip_candidate(m);
        continue;
      }
      need = (size_t)b[1] + 6;
    }
    if (m->len < need) {
      /* only what the next step needs (see hdlc.c) */
      size_t take = need - m->len < len - used ? need - m->len : len - used;
      if (take == 0)
        return used;
      memcpy(m->buf + m->len, data + used, take);
      m->len += take;
      used += take;
      m->stats.bytes += take;
      continue;
    }
    size_t total = need;
    int quiet = m->quiet > 0;
    if (b[total - 1] != STOP ||
        dsmr_mbus_checksum(b + 4, b[1]) != b[total - 2]) {
      if (!quiet)
        m->quiet = total;
      skip_candidate(m);
      if (quiet)
        continue;
      m->stats.checksum_errors++;
      *ev = DSMR_MBUS_BAD_CHECKSUM;
      return used;
    }
    out->c = b[4];
    out->a = b[5];
    out->ci = b[6];
    out->data = b + 7;
    out->data_len = (size_t)b[1] - 3;
    m->drop = total;
    m->quiet = 0;
    m->stats.frames++;
    *ev = DSMR_MBUS_FRAME;
    return used;
  }
}

void dsmr_mbus_reasm_init(struct dsmr_mbus_reasm *r, uint8_t *buf, size_t cap) {
  memset(r, 0, sizeof *r);
  r->buf = buf;
  r->cap = cap;
}

void dsmr_mbus_reasm_reset(struct dsmr_mbus_reasm *r) {
  r->len = 0;
  r->next = 0;
  r->active = r->broken = 0;
}

enum dsmr_mbus_reasm_event dsmr_mbus_reasm_add(struct dsmr_mbus_reasm *r,
                                               const struct dsmr_mbus_frame *f,
                                               const uint8_t **msg,
                                               size_t *msg_len, int *retry) {
  *retry = 0;
  /* CI 0x00..0x1F: the DLMS wrapper without M-Bus data header, followed by
   * STSAP and DTSAP. */
  if ((f->ci & 0xE0) != 0 || f->data_len < 2)
    return DSMR_MBUS_NOT_DLMS;
  unsigned seg = f->ci & 0x0F;
  int fin = (f->ci & 0x10) != 0;
  const uint8_t *p = f->data + 2;
  size_t n = f->data_len - 2;

  if (seg == 0 && r->active) {
    /* a new message while the last one is incomplete */
    dsmr_mbus_reasm_reset(r);
    r->missing++;
    *retry = 1;
    return DSMR_MBUS_MISSING_SEGMENT;
  }
  if (!r->active) {
    if (seg != 0) {
      if (r->broken)
        return DSMR_MBUS_SEGMENT; /* the rest of a refused message */
      r->broken = 1;
      r->missing++;
      return DSMR_MBUS_MISSING_SEGMENT;
    }
    r->active = 1;
    r->broken = 0;
    r->len = 0;
    r->next = 0;
  }
  if (seg != r->next) {
    dsmr_mbus_reasm_reset(r);
    r->broken = 1;
    r->missing++;
    return DSMR_MBUS_MISSING_SEGMENT;
  }
  if (n > r->cap - r->len) {
    dsmr_mbus_reasm_reset(r);
    r->broken = 1;
    return DSMR_MBUS_MESSAGE_TOO_LARGE;
  }
  memcpy(r->buf + r->len, p, n);
  r->len += n;
  r->next = (r->next + 1) & 0x0F;
  if (!fin)
    return DSMR_MBUS_SEGMENT;
  *msg = r->buf;
  *msg_len = r->len;
  r->active = 0;
  r->messages++;
  return DSMR_MBUS_MESSAGE;
}

const char *dsmr_mbus_event_name(enum dsmr_mbus_event ev) {
  switch (ev) {
  case DSMR_MBUS_NONE:
    return "none";
  case DSMR_MBUS_FRAME:
    return "frame";
  case DSMR_MBUS_BAD_CHECKSUM:
    return "bad M-Bus checksum";
  }
  return "?";
}

const char *dsmr_mbus_reasm_event_name(enum dsmr_mbus_reasm_event ev) {
  switch (ev) {
  case DSMR_MBUS_SEGMENT:
    return "segment";
  case DSMR_MBUS_MESSAGE:
    return "message";
  case DSMR_MBUS_MISSING_SEGMENT:
    return "missing M-Bus segment";
  case DSMR_MBUS_NOT_DLMS:
    return "not a DLMS M-Bus frame";
  case DSMR_MBUS_MESSAGE_TOO_LARGE:
    return "M-Bus message too large";
  }
  return "?";
}
