/* HDLC type-3 framer for binary HAN meters (see hdlc.h).
 *
 * How the stream is held: buf[0..len) starts with the 7E of the one frame
 * candidate being collected; bytes before a candidate are noise and are
 * never copied. The candidate is parsed from its first byte whenever bytes
 * arrive (its header is at most 14 bytes). When it fails, only its first
 * byte is dropped and the rest is scanned again, so a frame swallowed by a
 * cut-short one is still found; failures inside the bytes of a frame
 * already reported (quiet) are not reported again.
 *
 * The CRC is table-driven (one lookup per byte): a 250-byte frame costs
 * about 1,500 instructions for its FCS, most of the framer's time. */
#include "hdlc.h"

#include <string.h>

#define FLAG 0x7E

static const uint16_t x25_table[256] = {
    0x0000, 0x1189, 0x2312, 0x329B, 0x4624, 0x57AD, 0x6536, 0x74BF, 0x8C48,
    0x9DC1, 0xAF5A, 0xBED3, 0xCA6C, 0xDBE5, 0xE97E, 0xF8F7, 0x1081, 0x0108,
    0x3393, 0x221A, 0x56A5, 0x472C, 0x75B7, 0x643E, 0x9CC9, 0x8D40, 0xBFDB,
    0xAE52, 0xDAED, 0xCB64, 0xF9FF, 0xE876, 0x2102, 0x308B, 0x0210, 0x1399,
    0x6726, 0x76AF, 0x4434, 0x55BD, 0xAD4A, 0xBCC3, 0x8E58, 0x9FD1, 0xEB6E,
    0xFAE7, 0xC87C, 0xD9F5, 0x3183, 0x200A, 0x1291, 0x0318, 0x77A7, 0x662E,
    0x54B5, 0x453C, 0xBDCB, 0xAC42, 0x9ED9, 0x8F50, 0xFBEF, 0xEA66, 0xD8FD,
    0xC974, 0x4204, 0x538D, 0x6116, 0x709F, 0x0420, 0x15A9, 0x2732, 0x36BB,
    0xCE4C, 0xDFC5, 0xED5E, 0xFCD7, 0x8868, 0x99E1, 0xAB7A, 0xBAF3, 0x5285,
    0x430C, 0x7197, 0x601E, 0x14A1, 0x0528, 0x37B3, 0x263A, 0xDECD, 0xCF44,
    0xFDDF, 0xEC56, 0x98E9, 0x8960, 0xBBFB, 0xAA72, 0x6306, 0x728F, 0x4014,
    0x519D, 0x2522, 0x34AB, 0x0630, 0x17B9, 0xEF4E, 0xFEC7, 0xCC5C, 0xDDD5,
    0xA96A, 0xB8E3, 0x8A78, 0x9BF1, 0x7387, 0x620E, 0x5095, 0x411C, 0x35A3,
    0x242A, 0x16B1, 0x0738, 0xFFCF, 0xEE46, 0xDCDD, 0xCD54, 0xB9EB, 0xA862,
    0x9AF9, 0x8B70, 0x8408, 0x9581, 0xA71A, 0xB693, 0xC22C, 0xD3A5, 0xE13E,
    0xF0B7, 0x0840, 0x19C9, 0x2B52, 0x3ADB, 0x4E64, 0x5FED, 0x6D76, 0x7CFF,
    0x9489, 0x8500, 0xB79B, 0xA612, 0xD2AD, 0xC324, 0xF1BF, 0xE036, 0x18C1,
    0x0948, 0x3BD3, 0x2A5A, 0x5EE5, 0x4F6C, 0x7DF7, 0x6C7E, 0xA50A, 0xB483,
    0x8618, 0x9791, 0xE32E, 0xF2A7, 0xC03C, 0xD1B5, 0x2942, 0x38CB, 0x0A50,
    0x1BD9, 0x6F66, 0x7EEF, 0x4C74, 0x5DFD, 0xB58B, 0xA402, 0x9699, 0x8710,
    0xF3AF, 0xE226, 0xD0BD, 0xC134, 0x39C3, 0x284A, 0x1AD1, 0x0B58, 0x7FE7,
    0x6E6E, 0x5CF5, 0x4D7C, 0xC60C, 0xD785, 0xE51E, 0xF497, 0x8028, 0x91A1,
    0xA33A, 0xB2B3, 0x4A44, 0x5BCD, 0x6956, 0x78DF, 0x0C60, 0x1DE9, 0x2F72,
    0x3EFB, 0xD68D, 0xC704, 0xF59F, 0xE416, 0x90A9, 0x8120, 0xB3BB, 0xA232,
    0x5AC5, 0x4B4C, 0x79D7, 0x685E, 0x1CE1, 0x0D68, 0x3FF3, 0x2E7A, 0xE70E,
    0xF687, 0xC41C, 0xD595, 0xA12A, 0xB0A3, 0x8238, 0x93B1, 0x6B46, 0x7ACF,
    0x4854, 0x59DD, 0x2D62, 0x3CEB, 0x0E70, 0x1FF9, 0xF78F, 0xE606, 0xD49D,
    0xC514, 0xB1AB, 0xA022, 0x92B9, 0x8330, 0x7BC7, 0x6A4E, 0x58D5, 0x495C,
    0x3DE3, 0x2C6A, 0x1EF1, 0x0F78,
};

static inline uint16_t x25_update(uint16_t crc, const uint8_t *p, size_t n) {
  while (n--)
    crc = (uint16_t)((crc >> 8) ^ x25_table[(crc ^ *p++) & 0xFF]);
  return crc;
}

uint16_t dsmr_crc_x25(const uint8_t *p, size_t n) {
  return (uint16_t)~x25_update(0xFFFF, p, n);
}

static inline uint16_t le16(const uint8_t *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

enum parse_result { P_MORE, P_NOT, P_BAD_HCS, P_BAD_FCS, P_OK };

/* One address of 1..4 bytes at b[*i]; P_MORE sets *need. */
static enum parse_result address(const uint8_t *b, size_t n, size_t *i,
                                 uint32_t *value, uint8_t *alen, size_t *need) {
  uint32_t v = 0;
  for (unsigned k = 0; k < 4; k++) {
    if (*i >= n) {
      *need = *i + 1;
      return P_MORE;
    }
    uint8_t c = b[(*i)++];
    v = v << 8 | c;
    if (c & 1) {
      *value = v;
      *alen = (uint8_t)(k + 1);
      return P_OK;
    }
  }
  return P_NOT;
}

/* The candidate at b[0] (== 7E), n bytes of it held. On P_MORE, *need is
 * how many bytes the next step needs; *total is the frame's size with both
 * flags once the header is known. */
static enum parse_result parse(const uint8_t *b, size_t n, size_t *need,
                               size_t *total, struct dsmr_hdlc_frame *out) {
  if (n < 3) {
    *need = 3;
    return P_MORE;
  }
  if ((b[1] & 0xF0) != 0xA0)
    return P_NOT;
  size_t flen = (size_t)(b[1] & 7) << 8 | b[2];
  /* format (2), two 1-byte addresses, control, FCS (2) */
  if (flen < 7)
    return P_NOT;
  size_t i = 3;
  enum parse_result r;
  if ((r = address(b, n, &i, &out->dst, &out->dst_len, need)) != P_OK ||
      (r = address(b, n, &i, &out->src, &out->src_len, need)) != P_OK)
    return r;
  if (i >= n) {
    *need = i + 1;
    return P_MORE;
  }
  out->control = b[i++];
  size_t hdr_end = i; /* b[1..hdr_end): what the HCS covers */
  if (hdr_end + 1 > flen)
    return P_NOT; /* the header does not even leave room for the FCS */
  *total = flen + 2;
  size_t info = 0;
  if (hdr_end + 1 < flen) {
    /* an information field: the HCS comes first */
    if (hdr_end + 3 > flen)
      return P_NOT;
    if (n < hdr_end + 2) {
      *need = hdr_end + 2;
      return P_MORE;
    }
    uint16_t hcs = (uint16_t)~x25_update(0xFFFF, b + 1, hdr_end - 1);
    if (hcs != le16(b + hdr_end))
      return P_BAD_HCS;
    info = hdr_end + 2;
  }
  if (n < *total) {
    *need = *total;
    return P_MORE;
  }
  uint16_t fcs = (uint16_t)~x25_update(0xFFFF, b + 1, flen - 2);
  if (b[flen + 1] != FLAG || fcs != le16(b + flen - 1))
    return P_BAD_FCS;
  out->segmented = (b[1] & 0x08) != 0;
  out->frame_len = flen;
  out->info = info ? b + info : NULL;
  out->info_len = info ? flen - 1 - info : 0;
  return P_OK;
}

void dsmr_hdlc_init(struct dsmr_hdlc *h, uint8_t *buf, size_t cap) {
  memset(h, 0, sizeof *h);
  h->buf = buf;
  h->cap = cap;
}

void dsmr_hdlc_reset(struct dsmr_hdlc *h) {
  h->len = h->drop = h->quiet = 0;
  h->after_frame = 0;
}

/* Removes buf[0..n): noise, but for the bytes of a refused frame being
 * rescanned and for the closing flag of the last frame. */
static void discard(struct dsmr_hdlc *h, size_t n) {
  size_t noise = n;
  if (h->after_frame && n > 0) {
    noise--;
    h->after_frame = 0;
  }
  size_t q = h->quiet < noise ? h->quiet : noise;
  h->stats.noise_bytes += noise - q;
  h->quiet = h->quiet > n ? h->quiet - n : 0;
  memmove(h->buf, h->buf + n, h->len - n);
  h->len -= n;
}

/* Drops the first byte of the candidate and everything up to the next 7E. */
static void skip_candidate(struct dsmr_hdlc *h) {
  const uint8_t *f = h->len > 1 ? memchr(h->buf + 1, FLAG, h->len - 1) : NULL;
  discard(h, f ? (size_t)(f - h->buf) : h->len);
}

size_t dsmr_hdlc_feed(struct dsmr_hdlc *h, const uint8_t *data, size_t len,
                      enum dsmr_hdlc_event *ev, struct dsmr_hdlc_frame *out) {
  size_t used = 0;
  *ev = DSMR_HDLC_NONE;
  if (h->drop) {
    size_t d = h->drop;
    h->drop = 0;
    memmove(h->buf, h->buf + d, h->len - d);
    h->len -= d;
  }
  for (;;) {
    if (h->len == 0) {
      /* nothing held: skip noise in the input without copying it */
      const uint8_t *f = memchr(data + used, FLAG, len - used);
      size_t skip = f ? (size_t)(f - (data + used)) : len - used;
      h->stats.noise_bytes += skip;
      h->stats.bytes += skip;
      used += skip;
      h->after_frame = 0;
      h->quiet = 0;
      if (!f)
        return used;
    }
    size_t take = h->cap - h->len < len - used ? h->cap - h->len : len - used;
    if (take) {
      memcpy(h->buf + h->len, data + used, take);
      h->len += take;
      used += take;
      h->stats.bytes += take;
    }
    if (h->buf[0] != FLAG) {
      skip_candidate(h);
      continue;
    }
    size_t need = 0, total = 0;
    int quiet = h->quiet > 0;
    switch (parse(h->buf, h->len, &need, &total, out)) {
    case P_MORE:
      if (need <= h->cap)
        return used; /* all input is held: wait for more */
      /* a frame longer than the buffer can never be read */
      skip_candidate(h);
      continue;
    case P_NOT:
      skip_candidate(h);
      continue;
    case P_BAD_HCS:
      skip_candidate(h);
      if (quiet)
        continue;
      h->stats.hcs_errors++;
      *ev = DSMR_HDLC_BAD_HCS;
      return used;
    case P_BAD_FCS:
      if (!quiet)
        h->quiet = total;
      skip_candidate(h);
      if (quiet)
        continue;
      h->stats.fcs_errors++;
      *ev = DSMR_HDLC_BAD_FCS;
      return used;
    case P_OK:
      h->stats.frames++;
      h->drop = total - 1; /* the closing flag may open the next frame */
      h->after_frame = 1;
      h->quiet = 0;
      *ev = DSMR_HDLC_FRAME;
      return used;
    }
  }
}

const char *dsmr_hdlc_event_name(enum dsmr_hdlc_event ev) {
  switch (ev) {
  case DSMR_HDLC_NONE:
    return "none";
  case DSMR_HDLC_FRAME:
    return "frame";
  case DSMR_HDLC_BAD_HCS:
    return "bad HCS";
  case DSMR_HDLC_BAD_FCS:
    return "bad FCS";
  }
  return "?";
}
