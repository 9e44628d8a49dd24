/* A-XDR decoding of the DLMS Data that HAN meters push (Blue Book 13,
 * Green Book 9; HAN-NOTES 1.5): one Data element decoded into a flat,
 * pre-order array of nodes given by the caller. Containers (array 01,
 * structure 02) record their element count and where their subtree ends,
 * so a layout walks children with `i + 1` and siblings with `end`.
 *
 * Every length is checked against what is left, nesting is bounded
 * (DSMR_AXDR_MAX_DEPTH), the node count too (the caller's array), and an
 * element count larger than the bytes left is refused before it is walked.
 * Strings are spans into the input (no copy). Zero allocation, no
 * recursion. */
#ifndef DSMR_AXDR_H
#define DSMR_AXDR_H

#include <stddef.h>
#include <stdint.h>

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

struct dsmr_axdr_node {
  const uint8_t *bytes; /* strings, bit-string, float, date/time: content */
  union {
    int64_t i;  /* signed integers, enum, boolean, bcd */
    uint64_t u; /* unsigned integers */
  } v;
  uint32_t len;  /* containers: elements; byte strings: bytes */
  uint16_t end;  /* index just past this node's subtree */
  uint8_t tag;   /* enum dsmr_axdr_tag */
  uint8_t depth; /* 0 for the root */
};

enum dsmr_axdr_status {
  DSMR_AXDR_OK = 0,
  DSMR_AXDR_TRUNCATED, /* a length or count reaches past the end */
  DSMR_AXDR_BAD_TAG,   /* a type these meters do not use */
  DSMR_AXDR_TOO_DEEP,  /* nesting beyond DSMR_AXDR_MAX_DEPTH */
  DSMR_AXDR_TOO_MANY,  /* more nodes than the caller's array holds */
  DSMR_AXDR_TRAILING,  /* bytes after the element (only with exact) */
};

/* Decodes one Data element at p[0..len) into nodes[0..*n). With exact,
 * bytes after it are an error; otherwise *used tells how many it took. */
enum dsmr_axdr_status dsmr_axdr_decode(const uint8_t *p, size_t len, int exact,
                                       struct dsmr_axdr_node *nodes,
                                       unsigned cap, unsigned *n, size_t *used);

/* Whether the node is an integer type (boolean, enum and bcd included:
 * v.i or v.u), and whether its type is signed (v.i). */
static inline int dsmr_axdr_is_signed(uint8_t tag) {
  return tag == DSMR_AXDR_INTEGER || tag == DSMR_AXDR_LONG ||
         tag == DSMR_AXDR_DOUBLE_LONG || tag == DSMR_AXDR_LONG64;
}
static inline int dsmr_axdr_is_integer(const struct dsmr_axdr_node *nd) {
  /* tags 03, 05, 06, 0D, 0F, 10, 11, 12, 14, 15, 16 */
  return nd->tag < 0x17 && ((0x77A068u >> nd->tag) & 1);
}

const char *dsmr_axdr_status_name(enum dsmr_axdr_status s);

#endif
