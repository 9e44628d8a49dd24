/* Smarty decryption: finds general-glo-ciphering frames (bare, or inside
 * HDLC) in a byte stream and opens them with AES-128-GCM.
 *
 * How the stream is held: buf[0..base) is payload reassembled from HDLC
 * segments (usually empty); buf[base..len) holds the raw bytes of the one
 * frame candidate being collected, starting at its first byte (DB or 7E).
 * Bytes before a candidate are noise and are never copied. A candidate is
 * parsed again from its first byte whenever bytes arrive: its header is at
 * most ~30 bytes, and at 115200 baud that costs nothing, while keeping the
 * raw bytes makes it possible to back off: when a candidate fails (a bogus
 * header in noise, a frame cut short, a corrupted HDLC frame), only its first
 * byte is dropped and the rest is scanned again, so the frame it swallowed
 * is still found. Without timing information (the caller feeds bytes, not
 * gaps) this is what keeps one glitch from costing two frames. A frame cut
 * short is also noticed early, when "DB 08 <system title>" shows up again
 * inside it (find_restart), so the frames after it are not delayed.
 *
 * What counts as a frame: DB 08, a valid length form and the security
 * control byte 30 (about 26 bits of agreement) make a bare header credible;
 * 7E A?, addresses, control and a matching HCS (about 28 bits) make an HDLC
 * header credible. Anything less is noise, skipped silently. A credible
 * frame ends in an event (plaintext, authentication failure, replay,
 * malformed, too large), except that a failure is reported once: the bytes
 * of a reported failure are rescanned in its shadow, where further
 * failures are bogus headers or the same frame again, and stay silent.
 * The outcome never depends on how the input was chunked.
 *
 * Why the tag is checked in a first pass: GCM authenticates the ciphertext,
 * so the tag can be verified before any plaintext exists. The first pass
 * decrypts into a small stack buffer that is wiped; only after the tag
 * matched (and the counter moved forward) is the frame decrypted again, in
 * place (the DLMS decryption of dlms_cipher.h, which HAN meters use too). The
 * caller's buffer therefore never holds unauthenticated plaintext, and a failed
 * frame's raw bytes stay intact for the rescan. Decrypting twice costs
 * microseconds per telegram. */
#include "smarty.h"

#include "dlms_cipher.h"
#include "hdlc.h" /* dsmr_crc_x25: the HDLC HCS and FCS */
#include "hex.h"

#include <stdio.h>
#include <string.h>

#define GLO_CIPHERING 0xDB
#define TITLE_LEN 8
/* Security control: authenticated and encrypted, suite 0 (AES-128-GCM). */
#define SC_AUTH_ENC 0x30
#define TAG_LEN 12
#define HDLC_FLAG 0x7E
#define MIN_CAP 64
/* Bytes that can precede a DB 08 frame inside HDLC: flag, format, two
 * 4-byte addresses, control, HCS, LLC header. */
#define HDLC_LEAD 17

/* Smarty P1 specification 1.1.3, 3.2.5: the same for every meter. */
static const uint8_t lux_auth_key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
                                         0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB,
                                         0xCC, 0xDD, 0xEE, 0xFF};

enum parse_result {
  P_MORE, /* not enough bytes yet to decide */
  P_NOT,  /* not a frame: its first byte is noise */
  P_OK,   /* a credible header */
};

static void wipe(void *p, size_t n) {
  /* memset may be optimised away on memory that is about to die. */
  if (p && n)
    explicit_bzero(p, n);
}

static void set_err(char *err, size_t errlen, const char *msg,
                    const char *detail) {
  if (err && errlen)
    snprintf(err, errlen, "%s%s%s", msg, detail ? ": " : "",
             detail ? detail : "");
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* The first byte in p[0..n) that can start a frame, or n. */
static size_t find_start(const uint8_t *p, size_t n) {
  const uint8_t *db = memchr(p, GLO_CIPHERING, n);
  size_t upto = db ? (size_t)(db - p) : n;
  const uint8_t *flag = memchr(p, HDLC_FLAG, upto);
  return flag ? (size_t)(flag - p) : upto;
}

/* A general-glo-ciphering header at p[0] (p[0] == DB). On P_OK, *hdr is the
 * offset of the security control byte and *total the frame's whole length;
 * on P_MORE, *need is how many bytes from p[0] the next step needs. */
static enum parse_result parse_glo(const uint8_t *p, size_t n, size_t *need,
                                   size_t *hdr, size_t *total) {
  size_t h, body;

  if (n < 2) {
    *need = 2;
    return P_MORE;
  }
  if (p[1] != TITLE_LEN)
    return P_NOT;
  if (n < 11) {
    *need = 11;
    return P_MORE;
  }
  /* A-XDR length: any of the three forms is accepted whatever the value
   * (the meter uses 82 for every real telegram). 80 (indefinite) and longer
   * forms cannot describe a frame. */
  if (p[10] < 0x80)
    h = 11;
  else if (p[10] == 0x81)
    h = 12;
  else if (p[10] == 0x82)
    h = 13;
  else
    return P_NOT;
  if (n < h + 1) {
    *need = h + 1;
    return P_MORE;
  }
  body = h == 11 ? p[10] : h == 12 ? p[11] : (size_t)p[11] << 8 | p[12];
  if (p[h] != SC_AUTH_ENC)
    return P_NOT;
  *hdr = h;
  *total = h + body;
  return P_OK;
}

/* Counter, ciphertext and tag need 1 + 4 + 12 bytes; a frame without a
 * single byte of ciphertext carries no telegram. */
static int glo_too_short(size_t hdr, size_t total) {
  return total < hdr + 1 + 4 + 1 + TAG_LEN;
}

/* Opens the complete bare frame f[0..total) whose security control byte is
 * at f[hdr]: the DLMS decryption (dlms_cipher.h) checks the tag in a first
 * pass, then the counter, and only then decrypts in place. On PLAINTEXT the
 * telegram is decrypted in place. */
static enum dsmr_smarty_event open_frame(struct dsmr_smarty *d, uint8_t *f,
                                         size_t hdr, size_t total,
                                         struct dsmr_smarty_frame *out) {
  struct dsmr_dlms_ciphered env = {
      .apdu_tag = f[0],
      .system_title = f + 2,
      .security_control = f[hdr],
      .invocation_counter = be32(f + hdr + 1),
      .ciphertext = f + hdr + 5,
      .ciphertext_len = total - hdr - 5 - TAG_LEN,
      .tag = f + total - TAG_LEN,
  };
  struct dsmr_dlms_plain plain;

  memcpy(out->system_title, f + 2, TITLE_LEN);
  out->frame_counter = env.invocation_counter;
  switch (dsmr_dlms_decrypt(&d->dlms, &env, &plain)) {
  case DSMR_DLMS_PLAINTEXT:
    break;
  case DSMR_DLMS_REPLAY:
    out->last_counter = plain.last_counter;
    return DSMR_SMARTY_REPLAY;
  default:
    /* A wrong tag; or libgcrypt failing after the tag matched, which is
     * not the frame's fault, but nothing half-done may leave (the
     * ciphertext is wiped then). The authentication key is always known
     * (the Luxembourg default at least), so no tag goes unchecked. */
    return DSMR_SMARTY_AUTH_FAILED;
  }
  memcpy(d->title, f + 2, TITLE_LEN); /* authentic: the meter's own */
  out->data = (const char *)plain.data;
  out->len = plain.len;
  return DSMR_SMARTY_PLAINTEXT;
}

/* Removes buf[at..at+n). */
static void cut(struct dsmr_smarty *d, size_t at, size_t n) {
  memmove(d->buf + at, d->buf + at + n, d->len - at - n);
  d->len -= n;
}

/* The start of the raw area moves on by n bytes, of which `noise` would be
 * noise were they not part of a frame already reported (quiet). */
static void advance(struct dsmr_smarty *d, size_t n, size_t noise) {
  size_t q = d->quiet < n ? d->quiet : n;
  d->quiet -= q;
  d->stats.noise_bytes += noise > q ? noise - q : 0;
  d->shadow = d->shadow > n ? d->shadow - n : 0;
}

/* Drops n bytes at the start of the raw area as not being (the start of) a
 * frame. The closing flag of the last HDLC frame is not noise either. */
static void drop_raw(struct dsmr_smarty *d, size_t n) {
  size_t noise = n;
  if (d->after_hdlc && (uint8_t)d->buf[d->base] == HDLC_FLAG)
    noise--;
  d->after_hdlc = 0;
  advance(d, n, noise);
  cut(d, d->base, n);
  d->scanned = 0;
}

/* A frame failed and its extent is uncertain: drop its first byte and let
 * the rest be scanned again, so that a frame it swallowed is still found.
 * Its bytes (quiet) are not noise; failures of candidates starting within
 * shadow are bogus headers or repeats of a failure already reported, and
 * stay silent. */
static void back_off(struct dsmr_smarty *d, size_t quiet, size_t shadow) {
  if (d->quiet < quiet)
    d->quiet = quiet;
  if (d->shadow < shadow)
    d->shadow = shadow;
  drop_raw(d, 1);
}

/* The frame at the start of the raw area was cut short by the next one,
 * whose DB 08 is at q; the cut frame's own DB 08 ends at own_end. The next
 * frame's HDLC header may precede q: the shadow stops short of it (so that
 * its failure would still be reported) but covers the cut frame's own
 * DB 08 (so that it is not reported twice). */
static void cut_short(struct dsmr_smarty *d, size_t q, size_t own_end) {
  size_t shadow = q > HDLC_LEAD ? q - HDLC_LEAD : 1;
  back_off(d, q, shadow > own_end ? shadow : own_end);
}

/* Throws away the reassembled HDLC payload. */
static void abandon_segments(struct dsmr_smarty *d) {
  wipe(d->buf, d->base);
  cut(d, 0, d->base);
  d->base = 0;
  d->scanned = 0;
}

/* Is there a restart "DB 08 <title>" in r[from..upto), with the title of
 * the frame being collected (own, may be NULL) or the meter's, as learnt
 * from its last authentic frame? Such a pattern inside ciphertext has odds
 * of 2^-80; seeing it means this frame was cut short and the next one
 * began: without it, a cut frame would hold the frames after it hostage
 * until its declared length was reached, and they would come out late, in
 * a burst. (The meter's title covers frames cut inside their own title.)
 * Searches only what was not searched before. Returns its offset, or 0. */
static size_t find_restart(struct dsmr_smarty *d, const uint8_t *r, size_t from,
                           size_t upto, const uint8_t *title) {
  size_t q = d->scanned > from ? d->scanned : from;
  while (q + 2 + TITLE_LEN <= upto) {
    const uint8_t *db =
        memchr(r + q, GLO_CIPHERING, upto - (2 + TITLE_LEN) + 1 - q);
    if (!db)
      break;
    q = (size_t)(db - r);
    if (r[q + 1] == TITLE_LEN &&
        ((title && memcmp(r + q + 2, title, TITLE_LEN) == 0) ||
         (d->dlms.have_counter && memcmp(r + q + 2, d->title, TITLE_LEN) == 0)))
      return q;
    q++;
  }
  if (upto >= 2 + TITLE_LEN && upto - (2 + TITLE_LEN) + 1 > q)
    q = upto - (2 + TITLE_LEN) + 1;
  d->scanned = q;
  return 0;
}

/* A bare frame at the start of the raw area. */
static enum dsmr_smarty_event
bare(struct dsmr_smarty *d, struct dsmr_smarty_frame *out, size_t *need) {
  uint8_t *r = (uint8_t *)d->buf + d->base;
  size_t n = d->len - d->base, hdr = 0, total = 0, want = 0, q;
  enum dsmr_smarty_event ev;

  switch (parse_glo(r, n, &want, &hdr, &total)) {
  case P_MORE:
    *need = want - n;
    return DSMR_SMARTY_NONE;
  case P_NOT:
    drop_raw(d, 1);
    return DSMR_SMARTY_NONE;
  case P_OK:
    break;
  }
  d->after_hdlc = 0;
  if (d->base > 0) {
    /* A bare frame where the next HDLC segment was due: the segmented
     * frame will never be complete. The bare one is looked at next. */
    abandon_segments(d);
    out->hdlc = 1;
    return DSMR_SMARTY_MALFORMED;
  }
  memcpy(out->system_title, r + 2, TITLE_LEN);
  if (glo_too_short(hdr, total)) {
    /* The declared extent, not what happens to be held: that depends on the
     * chunking, and bytes not yet arrived are counted down as they pass. */
    back_off(d, total, total);
    return DSMR_SMARTY_MALFORMED;
  }
  if (total > d->cap) {
    /* Reported, then treated like any failed frame. Skipping the declared
     * length blindly would let one flipped bit in a length byte (82 01 C3
     * -> 82 81 C3) swallow 33 KB of good frames. */
    back_off(d, total, total);
    return DSMR_SMARTY_TOO_LARGE;
  }
  q = find_restart(d, r, 2, n < total ? n : total, r + 2);
  if (q > 0) {
    cut_short(d, q, 1);
    return DSMR_SMARTY_MALFORMED;
  }
  if (n < total) {
    *need = total - n;
    return DSMR_SMARTY_NONE;
  }
  ev = open_frame(d, r, hdr, total, out);
  if (ev == DSMR_SMARTY_AUTH_FAILED) {
    back_off(d, total, total); /* maybe a bogus header that swallowed one */
  } else {
    d->drop = total;
    advance(d, total, 0);
  }
  return ev;
}

/* Where the DB 08 frame starts in the HDLC information: after an LLC
 * header (E6 E7 00), or wherever an adapter put it. */
static const uint8_t *find_glo(const uint8_t *p, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    const uint8_t *db = memchr(p + i, GLO_CIPHERING, n - 1 - i);
    if (!db)
      return NULL;
    i = (size_t)(db - p);
    if (p[i + 1] == TITLE_LEN)
      return db;
  }
  return NULL;
}

/* Decodes the reassembled HDLC information buf[0..base) and consumes it. */
static enum dsmr_smarty_event hdlc_payload(struct dsmr_smarty *d,
                                           struct dsmr_smarty_frame *out) {
  uint8_t *info = (uint8_t *)d->buf;
  size_t n = d->base, hdr = 0, total = 0, want = 0;
  uint8_t *p = (uint8_t *)find_glo(info, n);
  uint8_t title[TITLE_LEN];
  uint32_t first_counter;
  enum dsmr_smarty_event ev;

  out->hdlc = 1;
  /* The FCS vouched for the boundaries: whatever the verdict, the payload
   * is consumed, never rescanned. */
  d->drop = d->base;
  d->base = 0;
  if (!p)
    return DSMR_SMARTY_MALFORMED;
  n -= (size_t)(p - info);
  if (n >= 2 + TITLE_LEN)
    memcpy(out->system_title, p + 2, TITLE_LEN);
  if (parse_glo(p, n, &want, &hdr, &total) != P_OK ||
      glo_too_short(hdr, total) || total > n)
    ev = DSMR_SMARTY_MALFORMED;
  else
    ev = open_frame(d, p, hdr, total, out);
  first_counter = out->frame_counter;
  if (ev == DSMR_SMARTY_PLAINTEXT || ev == DSMR_SMARTY_REPLAY ||
      n < 2 + TITLE_LEN)
    return ev;
  /* The FCS vouches for the segments, not for the frame they carry: the
   * last segments of a frame cut short may never have come, and the next
   * frame's segments were appended to it when they were too small to show
   * "DB 08 <title>" on their own (starts_new_frame). So the frame at every
   * later DB 08 whose header holds is tried before the payload is given up,
   * whatever its title: the cut frame's may be garbled or incomplete (its
   * segments stopped inside it, and the next frame's bytes follow), and the
   * meter's may not be known yet (regressions/fuzz_smarty/
   * smarty-cut-before-title). A genuine one there still has to pass its tag;
   * the cut frame itself was never going to be authentic, and the frame
   * after it is what counts. At most one GCM pass per such DB 08: in
   * ciphertext a credible header has odds of about 2^-25 a byte. */
  memcpy(title, p + 2, TITLE_LEN);
  for (size_t at = 1; at + 2 + TITLE_LEN <= n; at++) {
    uint8_t *q = memchr(p + at, GLO_CIPHERING, n - (2 + TITLE_LEN) + 1 - at);
    enum dsmr_smarty_event ev2;
    if (!q)
      break;
    at = (size_t)(q - p);
    if (q[1] != TITLE_LEN ||
        parse_glo(q, n - at, &want, &hdr, &total) != P_OK ||
        glo_too_short(hdr, total) || total > n - at)
      continue;
    ev2 = open_frame(d, q, hdr, total, out);
    if (ev2 == DSMR_SMARTY_PLAINTEXT || ev2 == DSMR_SMARTY_REPLAY)
      return ev2;
  }
  /* None did: the verdict is the first frame's. */
  memcpy(out->system_title, title, TITLE_LEN);
  out->frame_counter = first_counter;
  return ev;
}

/* The title of the DB 08 frame in p[0..n), or NULL. */
static const uint8_t *title_in(const uint8_t *p, size_t n) {
  const uint8_t *db = find_glo(p, n);
  return db && (size_t)(db - p) + 2 + TITLE_LEN <= n ? db + 2 : NULL;
}

/* The title of the frame being reassembled in buf[0..base), and in *k how
 * many of its bytes are held (fewer than TITLE_LEN when the segments so far
 * stopped inside it); NULL when no DB 08 is held. */
static const uint8_t *held_title(const struct dsmr_smarty *d, size_t *k) {
  const uint8_t *info = (const uint8_t *)d->buf;
  const uint8_t *db = find_glo(info, d->base);
  size_t have;

  if (!db)
    return NULL;
  have = d->base - (size_t)(db - info) - 2;
  *k = have < TITLE_LEN ? have : TITLE_LEN;
  return db + 2;
}

/* Does this continuation segment rather start a new frame? It shows DB 08
 * and a whole title at its start or after an LLC header, and the frame
 * being reassembled agrees: its title is the same (80 bits of agreement:
 * ciphertext does not do that), or its segments stopped inside its title
 * and the bytes of it that came are the new title's first ones (a
 * continuation would go on with the rest of that title, not begin with
 * DB 08 and that title again). Without the second case, segments under 13
 * bytes let a frame cut before its title was complete swallow the next
 * frame (regressions/fuzz_smarty/smarty-cut-before-title). When no DB 08
 * is held yet, a segment beginning with one is what was due. */
static int starts_new_frame(const struct dsmr_smarty *d, const uint8_t *info,
                            size_t n) {
  size_t k = 0;
  const uint8_t *own = held_title(d, &k);
  for (size_t off = 0; own && off <= 3; off += 3)
    if (n >= off + 2 + TITLE_LEN && info[off] == GLO_CIPHERING &&
        info[off + 1] == TITLE_LEN && memcmp(info + off + 2, own, k) == 0)
      return 1;
  return 0;
}

/* The restart check for the HDLC frame r[0..n): the title is that of the
 * DB 08 frame inside (the reassembled one, or the one in this frame's
 * information). *own_end: where this frame's own DB 08 ends, if seen. */
static size_t hdlc_restart(struct dsmr_smarty *d, const uint8_t *r,
                           size_t info_at, size_t n, size_t *own_end) {
  const uint8_t *own;
  size_t from;

  if (d->base > 0) {
    own = title_in((const uint8_t *)d->buf, d->base);
    /* A DB 08 right at the start of a continuation (or after its LLC) is
     * a whole new frame: that is for starts_new_frame, once the FCS is
     * known, not a cut. */
    from = info_at + 4;
  } else {
    const uint8_t *db = n > info_at ? find_glo(r + info_at, n - info_at) : NULL;
    own = n > info_at ? title_in(r + info_at, n - info_at) : NULL;
    /* Just after its own DB 08, if it shows yet. */
    from = db ? (size_t)(db - r) + 1 : info_at;
    *own_end = from;
  }
  return find_restart(d, r, from, n, own);
}

/* An HDLC frame at the start of the raw area. */
static enum dsmr_smarty_event
hdlc(struct dsmr_smarty *d, struct dsmr_smarty_frame *out, size_t *need) {
  uint8_t *r = (uint8_t *)d->buf + d->base;
  size_t n = d->len - d->base, i, end, info_at, plen, q, own_end = 1;
  const uint8_t *payload;
  int segmented;

  if (n < 3) {
    if (n == 2 && (r[1] == HDLC_FLAG || (r[1] & 0xF0) != 0xA0))
      goto not_a_frame;
    *need = 3 - n;
    return DSMR_SMARTY_NONE;
  }
  if ((r[1] & 0xF0) != 0xA0)
    goto not_a_frame;
  segmented = r[1] & 0x08;
  /* The length counts format field .. FCS, i.e. all but the two flags. */
  end = 1 + ((size_t)(r[1] & 0x07) << 8 | r[2]);

  /* Destination, then source address: 1-4 bytes each, the last one with
   * bit 0 set. Then control, then HCS. */
  i = 3;
  for (int a = 0; a < 2; a++) {
    int k = 0;
    for (;;) {
      if (n <= i) {
        *need = i + 1 - n;
        return DSMR_SMARTY_NONE;
      }
      if (r[i++] & 1)
        break;
      if (++k == 4)
        goto not_a_frame;
    }
  }
  i++; /* control */
  if (n < i + 2) {
    *need = i + 2 - n;
    return DSMR_SMARTY_NONE;
  }
  info_at = i + 2;
  /* No information field: not a frame that carries a telegram. */
  if (end < info_at + 1 + 2)
    goto not_a_frame;
  if (dsmr_crc_x25(r + 1, i - 1) != (r[i] | (uint16_t)r[i + 1] << 8))
    goto not_a_frame;

  /* + its closing flag, which is looked at too (below). */
  if (d->base + end + 1 > d->cap) {
    if (d->base == 0) {
      /* Let the DB 08 frame inside speak for itself: it may fit, bare. */
      back_off(d, end + 1, 0);
      return DSMR_SMARTY_NONE;
    }
    /* The segments held and this frame do not fit together. This frame
     * may start the next DB 08 frame (when the held ones were cut short):
     * it is looked at again as a first segment, alone (and as above if it
     * does not fit even so). Dropping its first byte instead had its
     * content scanned as bare, across the headers of its segments: the
     * frame it starts was lost. */
    abandon_segments(d);
    out->hdlc = 1;
    return DSMR_SMARTY_TOO_LARGE;
  }
  /* Up to the frame's end only, whatever is held: the verdict must not
   * depend on how the input was chunked. */
  q = hdlc_restart(d, r, info_at, n < end ? n : end, &own_end);
  if (q > 0) {
    if (d->base > 0)
      abandon_segments(d);
    cut_short(d, q, own_end);
    out->hdlc = 1;
    return DSMR_SMARTY_MALFORMED;
  }
  if (n < end + 1) {
    *need = end + 1 - n;
    return DSMR_SMARTY_NONE;
  }
  /* A frame ends with its FCS and a flag (the closing one, or the next
   * frame's opening one when they share it). A good FCS without the flag
   * after it is a frame cut short whose last FCS bytes came from what
   * followed and matched by chance (1 in 256 when one byte did): taking
   * it would consume the first byte of the next frame, whose rest is then
   * lost as noise (regressions/fuzz_smarty/smarty-bare-after-cut-segments:
   * a bare frame's DB as the FCS's high byte, its 08 where the flag was
   * due). Waiting for that one byte costs nothing: the meter sends it
   * right after the FCS. */
  if (dsmr_crc_x25(r + 1, end - 3) !=
          (r[end - 2] | (uint16_t)r[end - 1] << 8) ||
      r[end] != HDLC_FLAG) {
    /* Tolerance: the frame inside may still be good (the GCM tag covers
     * everything that matters), so its bytes are scanned again as bare. */
    d->stats.hdlc_fcs_errors++;
    if (d->base == 0) {
      back_off(d, end + 1, 0); /* + its closing flag */
      return DSMR_SMARTY_NONE;
    }
    abandon_segments(d);
    back_off(d, end + 1, 0);
    out->hdlc = 1;
    return DSMR_SMARTY_MALFORMED;
  }
  d->stats.hdlc_frames++;

  plen = end - 2 - info_at;
  payload = r + info_at;
  if (d->base > 0 && starts_new_frame(d, payload, plen)) {
    /* The rest of the segmented frame never came; this frame is looked at
     * again as a first segment. */
    d->stats.hdlc_frames--; /* it will be counted then */
    abandon_segments(d);
    out->hdlc = 1;
    return DSMR_SMARTY_MALFORMED;
  }
  /* Append the information to what was reassembled before, and the bytes
   * held after this frame right behind it. */
  memmove(d->buf + d->base, payload, plen);
  memmove(d->buf + d->base + plen, d->buf + d->base + end,
          d->len - d->base - end);
  d->len -= end - plen;
  d->base += plen;
  d->scanned = 0;
  d->after_hdlc = 1;
  advance(d, end, 0);
  if (segmented)
    return DSMR_SMARTY_NONE;
  return hdlc_payload(d, out);

not_a_frame:
  drop_raw(d, 1);
  return DSMR_SMARTY_NONE;
}

static void count_event(struct dsmr_smarty *d, enum dsmr_smarty_event ev) {
  switch (ev) {
  case DSMR_SMARTY_NONE:
    break;
  case DSMR_SMARTY_PLAINTEXT:
    d->stats.frames_ok++;
    break;
  case DSMR_SMARTY_AUTH_FAILED:
    d->stats.auth_failures++;
    break;
  case DSMR_SMARTY_REPLAY:
    d->stats.replays++;
    break;
  case DSMR_SMARTY_MALFORMED:
    d->stats.malformed++;
    break;
  case DSMR_SMARTY_TOO_LARGE:
    d->stats.too_large++;
    break;
  }
}

/* Discards the frame an event was about (its plaintext, if any, was valid
 * until now). */
static void apply_drop(struct dsmr_smarty *d) {
  if (d->drop) {
    wipe(d->buf, d->drop);
    cut(d, 0, d->drop);
    d->drop = 0;
    d->scanned = 0;
  }
}

/* Looks at what is held: returns an event, or NONE with *need set to how
 * many more bytes the candidate needs (0: the raw area is empty). */
static enum dsmr_smarty_event
process(struct dsmr_smarty *d, struct dsmr_smarty_frame *out, size_t *need) {
  apply_drop(d);
  for (;;) {
    enum dsmr_smarty_event ev;
    size_t n = d->len - d->base, s;
    int shadowed;

    *need = 0;
    if (n == 0)
      return DSMR_SMARTY_NONE;
    s = find_start((const uint8_t *)d->buf + d->base, n);
    if (s > 0) {
      drop_raw(d, s);
      continue;
    }
    shadowed = d->shadow > 0;
    if ((uint8_t)d->buf[d->base] == GLO_CIPHERING)
      ev = bare(d, out, need);
    else
      ev = hdlc(d, out, need);
    if (ev == DSMR_SMARTY_PLAINTEXT || ev == DSMR_SMARTY_REPLAY ||
        (ev != DSMR_SMARTY_NONE && !shadowed)) {
      count_event(d, ev);
      return ev;
    }
    if (ev != DSMR_SMARTY_NONE) {
      /* A failure inside a frame whose failure was reported already. */
      memset(out, 0, sizeof *out);
      apply_drop(d);
      continue;
    }
    if (*need == 0)
      continue; /* something was dropped or appended: look again */
    if (*need > d->cap - d->len) {
      /* Only an HDLC header is still incomplete here (known extents were
       * checked against cap, and a header alone fits any buffer): too
       * little room is left behind the reassembled segments. The segment
       * is looked at again as a first one. */
      if (d->base > 0)
        abandon_segments(d);
      else
        drop_raw(d, 1); /* cannot happen; but never report without progress */
      count_event(d, DSMR_SMARTY_TOO_LARGE);
      return DSMR_SMARTY_TOO_LARGE;
    }
    return DSMR_SMARTY_NONE;
  }
}

int dsmr_smarty_init(struct dsmr_smarty *d, const uint8_t key[16],
                     const uint8_t *auth_key, char *buf, size_t cap, char *err,
                     size_t errlen) {
  char why[256];

  memset(d, 0, sizeof *d);
  if (!key || !buf || cap < MIN_CAP) {
    set_err(err, errlen, "smarty: no key or no buffer (at least 64 bytes)",
            NULL);
    return -1;
  }
  /* The Luxembourg default authentication key unless another is given: so
   * every frame's tag is checked. */
  if (dsmr_dlms_cipher_init(&d->dlms, key, auth_key ? auth_key : lux_auth_key,
                            0, why, sizeof why) != 0) {
    set_err(err, errlen, "smarty",
            strncmp(why, "dlms: ", 6) == 0 ? why + 6 : why);
    return -1;
  }
  d->buf = buf;
  d->cap = cap;
  return 0;
}

void dsmr_smarty_free(struct dsmr_smarty *d) {
  dsmr_dlms_cipher_free(&d->dlms); /* libgcrypt wipes the key schedule */
  wipe(d->buf, d->cap);
  wipe(d, sizeof *d);
}

void dsmr_smarty_reset(struct dsmr_smarty *d) {
  wipe(d->buf, d->len);
  d->len = d->base = d->drop = d->scanned = d->quiet = d->shadow = 0;
  d->after_hdlc = 0;
}

size_t dsmr_smarty_feed(struct dsmr_smarty *d, const char *data, size_t len,
                        enum dsmr_smarty_event *ev,
                        struct dsmr_smarty_frame *out) {
  const char *p = data, *end = data + len;

  memset(out, 0, sizeof *out);
  *ev = DSMR_SMARTY_NONE;
  if (!d->dlms.cipher)
    return len; /* init failed: swallow, never decode */
  for (;;) {
    size_t need, take;
    enum dsmr_smarty_event e = process(d, out, &need);
    if (e != DSMR_SMARTY_NONE) {
      *ev = e;
      break;
    }
    memset(out, 0, sizeof *out); /* half-filled by a silent failure */
    if (p == end)
      break;
    if (need == 0) {
      /* Nothing held: skip noise in the input itself, uncopied. */
      size_t s = find_start((const uint8_t *)p, (size_t)(end - p));
      if (s > 0) {
        advance(d, s, s);
        d->after_hdlc = 0;
        p += s;
        continue;
      }
      need = 1;
    }
    take = (size_t)(end - p);
    if (take > need)
      take = need;
    memcpy(d->buf + d->len, p, take); /* process() checked the room */
    d->len += take;
    p += take;
  }
  d->stats.bytes += (uint64_t)(p - data);
  return (size_t)(p - data);
}

const char *dsmr_smarty_event_name(enum dsmr_smarty_event ev) {
  switch (ev) {
  case DSMR_SMARTY_NONE:
    return "none";
  case DSMR_SMARTY_PLAINTEXT:
    return "plaintext";
  case DSMR_SMARTY_AUTH_FAILED:
    return "authentication failed";
  case DSMR_SMARTY_REPLAY:
    return "replayed frame counter";
  case DSMR_SMARTY_MALFORMED:
    return "malformed frame";
  case DSMR_SMARTY_TOO_LARGE:
    return "frame too large";
  }
  return "?";
}

int dsmr_parse_hex_key(const char *hex, uint8_t out[16]) {
  uint8_t tmp[16];
  int ok = hex != NULL && out != NULL;

  /* Stops at the first non-digit, so a short string's NUL ends it. */
  for (size_t i = 0; ok && i < 32; i += 2) {
    int hi = dsmr_hex_digit((unsigned char)hex[i]);
    int lo = hi < 0 ? -1 : dsmr_hex_digit((unsigned char)hex[i + 1]);
    ok = lo >= 0;
    if (ok)
      tmp[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  ok = ok && hex[32] == '\0';
  if (ok)
    memcpy(out, tmp, sizeof tmp);
  wipe(tmp, sizeof tmp);
  return ok ? 0 : -1;
}
