/* A-XDR decoding of the DLMS Data that HAN meters push (Blue Book 13,
 * Green Book 9; HAN-NOTES 1.5), as a cursor over the bytes: one pass
 * checks the whole element (dsmr_axdr_check), then the list layouts read
 * each element where it starts (dsmr_axdr_read: tag, count or length,
 * value; `next` is a container's first element or a scalar's next
 * sibling) and step over a container with dsmr_axdr_skip. Nothing is
 * built in between: a tree of nodes written for every element and read
 * again by the layouts was most of the HAN path's cost (HACKING.md,
 * Benchmarks).
 *
 * Every length is checked against what is left, nesting is bounded
 * (DSMR_AXDR_MAX_DEPTH), the element count too (the caller's maximum),
 * and an element count larger than the bytes left is refused before it
 * is walked. Strings are spans into the input (no copy). Zero allocation,
 * no recursion. */
#ifndef DSMR_AXDR_H
#define DSMR_AXDR_H

#include <stddef.h>
#include <stdint.h>

#include "dlms_apdu.h"
#include "inline.h"

#define DSMR_AXDR_MAX_DEPTH 8

enum dsmr_axdr_tag {
  DSMR_AXDR_NULL = 0x00,
  DSMR_AXDR_ARRAY = 0x01,
  DSMR_AXDR_STRUCTURE = 0x02,
  DSMR_AXDR_BOOLEAN = 0x03,
  DSMR_AXDR_BIT_STRING = 0x04,
  DSMR_AXDR_DOUBLE_LONG = 0x05,          /* s32 */
  DSMR_AXDR_DOUBLE_LONG_UNSIGNED = 0x06, /* u32 */
  DSMR_AXDR_OCTET_STRING = 0x09,
  DSMR_AXDR_VISIBLE_STRING = 0x0A,
  DSMR_AXDR_UTF8_STRING = 0x0C,
  DSMR_AXDR_BCD = 0x0D,
  DSMR_AXDR_INTEGER = 0x0F,       /* s8 */
  DSMR_AXDR_LONG = 0x10,          /* s16 */
  DSMR_AXDR_UNSIGNED = 0x11,      /* u8 */
  DSMR_AXDR_LONG_UNSIGNED = 0x12, /* u16 */
  DSMR_AXDR_LONG64 = 0x14,
  DSMR_AXDR_LONG64_UNSIGNED = 0x15,
  DSMR_AXDR_ENUM = 0x16,
  DSMR_AXDR_FLOAT32 = 0x17,
  DSMR_AXDR_FLOAT64 = 0x18,
  DSMR_AXDR_DATE_TIME = 0x19, /* 12 bytes */
  DSMR_AXDR_DATE = 0x1A,      /* 5 bytes */
  DSMR_AXDR_TIME = 0x1B,      /* 4 bytes */
};

/* One element as read where it starts: its tag, and for a container its
 * element count, for a string its length (a bit-string's in bits) and
 * content, for an integer its value. */
struct dsmr_axdr_elem {
  const uint8_t *bytes; /* strings, bit-string, float, date/time: content */
  union {
    int64_t i;  /* signed integers, enum, boolean, bcd */
    uint64_t u; /* unsigned integers */
  } v;
  uint32_t len;  /* containers: elements; byte strings: bytes */
  uint32_t next; /* offset just past the header: a container's first
                    element, the next element after anything else */
  uint8_t tag;   /* enum dsmr_axdr_tag */
};

enum dsmr_axdr_status {
  DSMR_AXDR_OK = 0,
  DSMR_AXDR_TRUNCATED, /* a length or count reaches past the end */
  DSMR_AXDR_BAD_TAG,   /* a type these meters do not use */
  DSMR_AXDR_TOO_DEEP,  /* nesting beyond DSMR_AXDR_MAX_DEPTH */
  DSMR_AXDR_TOO_MANY,  /* more elements than the caller allows */
  DSMR_AXDR_TRAILING,  /* bytes after the element (only with exact) */
};

/* Checks that p[0..len) starts with one sound Data element: every length
 * and element count inside the bytes, nesting at most DSMR_AXDR_MAX_DEPTH,
 * at most max elements in all. With exact, bytes after it are an error.
 * *count (may be NULL): its elements, containers included; *used (may be
 * NULL): its bytes. Writes nothing else: a cursor (dsmr_axdr_read,
 * dsmr_axdr_skip) then walks the bytes it has checked. */
enum dsmr_axdr_status dsmr_axdr_check(const uint8_t *p, size_t len, int exact,
                                      unsigned max, unsigned *count,
                                      size_t *used);

/* What each tag is (axdr.c), for dsmr_axdr_read. */
enum dsmr_axdr_kind {
  DSMR_AXDR_K_BAD = 0,
  DSMR_AXDR_K_NULL,
  DSMR_AXDR_K_CONTAINER,
  DSMR_AXDR_K_STRING,
  DSMR_AXDR_K_BITS,
  DSMR_AXDR_K_BYTES, /* fixed-size bytes kept as a span: float, date, time */
  DSMR_AXDR_K_U8,    /* from here on: integers */
  DSMR_AXDR_K_S8,
  DSMR_AXDR_K_U1,
  DSMR_AXDR_K_U2,
  DSMR_AXDR_K_U4,
  DSMR_AXDR_K_S1,
  DSMR_AXDR_K_S2,
  DSMR_AXDR_K_S4,
};
struct dsmr_axdr_tag_info {
  uint8_t kind, size;
};
extern const struct dsmr_axdr_tag_info dsmr_axdr_tags[256];

/* The element that starts at p[pos] (pos < len). Returns 0, or -1 when it
 * is not sound (unknown tag, a length past len): never, at the start of an
 * element of bytes dsmr_axdr_check accepted. Inline: the layouts read every
 * element of every frame through it. */
static HOT_INLINE int dsmr_axdr_read(const uint8_t *p, size_t len, size_t pos,
                                     struct dsmr_axdr_elem *e) {
  if (pos >= len)
    return -1;
  uint8_t tag = p[pos++];
  const uint8_t *q = p + pos;
  e->tag = tag;
  e->bytes = 0;
  e->v.u = 0;
  /* the types most registers have, each as the general code below reads
   * it (the same checks), straight from the tag */
  switch (tag) {
  case DSMR_AXDR_DOUBLE_LONG_UNSIGNED:
    if (4 > len - pos)
      return -1;
    e->len = 4;
    e->next = (uint32_t)(pos + 4);
    e->v.u = (uint64_t)q[0] << 24 | (uint64_t)q[1] << 16 | (uint64_t)q[2] << 8 |
             q[3];
    return 0;
  case DSMR_AXDR_LONG_UNSIGNED:
    if (2 > len - pos)
      return -1;
    e->len = 2;
    e->next = (uint32_t)(pos + 2);
    e->v.u = (uint64_t)q[0] << 8 | q[1];
    return 0;
  case DSMR_AXDR_LONG:
    if (2 > len - pos)
      return -1;
    e->len = 2;
    e->next = (uint32_t)(pos + 2);
    e->v.i = (int16_t)(uint16_t)(q[0] << 8 | q[1]);
    return 0;
  case DSMR_AXDR_STRUCTURE:
  case DSMR_AXDR_ARRAY:
    if (pos < len && q[0] < 0x80) {
      size_t l = q[0];
      if (l > len - pos - 1) /* each element takes a byte at least */
        return -1;
      e->len = (uint32_t)l;
      e->next = (uint32_t)(pos + 1);
      return 0;
    }
    break;
  case DSMR_AXDR_OCTET_STRING:
    if (pos < len && q[0] < 0x80) {
      size_t l = q[0];
      if (l > len - pos - 1)
        return -1;
      e->len = (uint32_t)l;
      e->bytes = q + 1;
      e->next = (uint32_t)(pos + 1 + l);
      return 0;
    }
    break;
  }
  const struct dsmr_axdr_tag_info ti = dsmr_axdr_tags[tag];
  if (ti.kind >= DSMR_AXDR_K_U8) {
    if (ti.size > len - pos)
      return -1;
    e->len = ti.size;
    e->next = (uint32_t)(pos + ti.size);
    switch (ti.kind) {
    case DSMR_AXDR_K_U1:
      e->v.u = q[0];
      break;
    case DSMR_AXDR_K_U2:
      e->v.u = (uint64_t)q[0] << 8 | q[1];
      break;
    case DSMR_AXDR_K_U4:
      e->v.u = (uint64_t)q[0] << 24 | (uint64_t)q[1] << 16 |
               (uint64_t)q[2] << 8 | q[3];
      break;
    case DSMR_AXDR_K_S1:
      e->v.i = (int8_t)q[0];
      break;
    case DSMR_AXDR_K_S2:
      e->v.i = (int16_t)(uint16_t)(q[0] << 8 | q[1]);
      break;
    case DSMR_AXDR_K_S4:
      e->v.i = (int32_t)((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                         (uint32_t)q[2] << 8 | q[3]);
      break;
    default: { /* 8 bytes, signed or not: the same bits */
      uint64_t v = 0;
      for (unsigned k = 0; k < 8; k++)
        v = v << 8 | q[k];
      e->v.u = v;
    }
    }
    return 0;
  }
  size_t l, h;
  switch (ti.kind) {
  case DSMR_AXDR_K_CONTAINER:
  case DSMR_AXDR_K_STRING:
  case DSMR_AXDR_K_BITS:
    if (pos < len && q[0] < 0x80) {
      l = q[0];
      h = 1;
    } else if ((h = dsmr_axdr_length(q, len - pos, &l)) == 0)
      return -1;
    pos += h;
    e->len = (uint32_t)l;
    if (ti.kind == DSMR_AXDR_K_BITS) /* its length counts bits */
      l = l / 8 + (l % 8 != 0);
    if (l > len - pos) /* a container's elements take a byte at least */
      return -1;
    if (ti.kind == DSMR_AXDR_K_CONTAINER) {
      e->next = (uint32_t)pos;
      return 0;
    }
    e->bytes = p + pos;
    e->next = (uint32_t)(pos + l);
    return 0;
  case DSMR_AXDR_K_BYTES:
    if (ti.size > len - pos)
      return -1;
    e->bytes = q;
    e->len = ti.size;
    e->next = (uint32_t)(pos + ti.size);
    return 0;
  case DSMR_AXDR_K_NULL:
    e->len = 0;
    e->next = (uint32_t)pos;
    return 0;
  }
  return -1;
}

/* The offset just past the element that starts at p[pos], its elements
 * included; 0 when it is not sound. */
size_t dsmr_axdr_skip(const uint8_t *p, size_t len, size_t pos);

static inline int dsmr_axdr_is_container(uint8_t tag) {
  return tag == DSMR_AXDR_ARRAY || tag == DSMR_AXDR_STRUCTURE;
}

/* Whether the element is an integer type (boolean, enum and bcd included:
 * v.i or v.u), and whether its type is signed (v.i). */
static inline int dsmr_axdr_is_signed(uint8_t tag) {
  return tag == DSMR_AXDR_INTEGER || tag == DSMR_AXDR_LONG ||
         tag == DSMR_AXDR_DOUBLE_LONG || tag == DSMR_AXDR_LONG64;
}
static inline int dsmr_axdr_is_integer(const struct dsmr_axdr_elem *e) {
  /* tags 03, 05, 06, 0D, 0F, 10, 11, 12, 14, 15, 16 */
  return e->tag < 0x17 && ((0x77A068u >> e->tag) & 1);
}

const char *dsmr_axdr_status_name(enum dsmr_axdr_status s);

#endif
