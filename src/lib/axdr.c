/* A-XDR decoder (see axdr.h). Iterative: a stack of open containers, each
 * with the elements it still expects; when one is complete its `end` is
 * set and the one around it goes on. */
#include "axdr.h"

#include "dlms_apdu.h"

/* What each tag is, by table: one load per element instead of switches
 * (the decoder runs over every element of every frame). */
enum kind {
  K_BAD = 0,
  K_NULL,
  K_CONTAINER,
  K_STRING,
  K_BITS,
  K_UNSIGNED, /* size 8 */
  K_SIGNED,   /* size 8 */
  K_BYTES,    /* fixed-size bytes kept as a span: float, date, time */
  K_U1,
  K_U2,
  K_U4,
  K_S1,
  K_S2,
  K_S4,
};

struct tag_info {
  uint8_t kind, size;
};

static const struct tag_info tags[256] = {
    [DSMR_AXDR_NULL] = {K_NULL, 0},
    [DSMR_AXDR_ARRAY] = {K_CONTAINER, 0},
    [DSMR_AXDR_STRUCTURE] = {K_CONTAINER, 0},
    [DSMR_AXDR_BOOLEAN] = {K_U1, 1},
    [DSMR_AXDR_BIT_STRING] = {K_BITS, 0},
    [DSMR_AXDR_DOUBLE_LONG] = {K_S4, 4},
    [DSMR_AXDR_DOUBLE_LONG_UNSIGNED] = {K_U4, 4},
    [DSMR_AXDR_OCTET_STRING] = {K_STRING, 0},
    [DSMR_AXDR_VISIBLE_STRING] = {K_STRING, 0},
    [DSMR_AXDR_UTF8_STRING] = {K_STRING, 0},
    [DSMR_AXDR_BCD] = {K_U1, 1},
    [DSMR_AXDR_INTEGER] = {K_S1, 1},
    [DSMR_AXDR_LONG] = {K_S2, 2},
    [DSMR_AXDR_UNSIGNED] = {K_U1, 1},
    [DSMR_AXDR_LONG_UNSIGNED] = {K_U2, 2},
    [DSMR_AXDR_LONG64] = {K_SIGNED, 8},
    [DSMR_AXDR_LONG64_UNSIGNED] = {K_UNSIGNED, 8},
    [DSMR_AXDR_ENUM] = {K_U1, 1},
    [DSMR_AXDR_FLOAT32] = {K_BYTES, 4},
    [DSMR_AXDR_FLOAT64] = {K_BYTES, 8},
    [DSMR_AXDR_DATE_TIME] = {K_BYTES, 12},
    [DSMR_AXDR_DATE] = {K_BYTES, 5},
    [DSMR_AXDR_TIME] = {K_BYTES, 4},
};

static inline uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (unsigned i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* A-XDR length inline for the common one-byte form. */
static inline size_t length_at(const uint8_t *p, size_t n, size_t *len) {
  if (n >= 1 && p[0] < 0x80) {
    *len = p[0];
    return 1;
  }
  return dsmr_axdr_length(p, n, len);
}

enum dsmr_axdr_status dsmr_axdr_decode(const uint8_t *p, size_t len, int exact,
                                       struct dsmr_axdr_node *nodes,
                                       unsigned cap, unsigned *n,
                                       size_t *used) {
  struct {
    unsigned node;
    uint32_t left;
  } stack[DSMR_AXDR_MAX_DEPTH + 1];
  unsigned sp = 0, count = 0;
  uint32_t left = 0; /* elements the innermost open container still expects
                        (its stack entry is only written when it is left) */
  size_t pos = 0;
  *n = 0;
  if (cap > 65535)
    cap = 65535; /* `end` is 16 bits */

  do {
    if (pos >= len)
      return DSMR_AXDR_TRUNCATED;
    if (count >= cap)
      return DSMR_AXDR_TOO_MANY;
    struct dsmr_axdr_node *nd = &nodes[count];
    uint8_t tag = p[pos++];
    const struct tag_info ti = tags[tag];
    unsigned self = count++;
    size_t l = 0, h;
    nd->tag = tag;
    nd->depth = (uint8_t)sp;
    if (ti.kind >= K_UNSIGNED && ti.kind != K_BYTES) {
      /* the integers: one size check, one load per size */
      if (ti.size > len - pos)
        return DSMR_AXDR_TRUNCATED;
      const uint8_t *q = p + pos;
      nd->bytes = 0;
      nd->len = ti.size;
      pos += ti.size;
      switch (ti.kind) {
      case K_U1:
        nd->v.u = q[0];
        break;
      case K_U2:
        nd->v.u = (uint64_t)q[0] << 8 | q[1];
        break;
      case K_U4:
        nd->v.u = (uint64_t)q[0] << 24 | (uint64_t)q[1] << 16 |
                  (uint64_t)q[2] << 8 | q[3];
        break;
      case K_S1:
        nd->v.i = (int8_t)q[0];
        break;
      case K_S2:
        nd->v.i = (int16_t)(uint16_t)(q[0] << 8 | q[1]);
        break;
      case K_S4:
        nd->v.i = (int32_t)((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
                            (uint32_t)q[2] << 8 | q[3]);
        break;
      default: /* 8 bytes, signed or not: the same bits */
        nd->v.u = be64(q);
      }
    } else
      switch (ti.kind) {
      case K_CONTAINER:
        h = length_at(p + pos, len - pos, &l);
        if (h == 0)
          return DSMR_AXDR_TRUNCATED;
        pos += h;
        if (l > len - pos) /* every element takes at least one byte */
          return DSMR_AXDR_TRUNCATED;
        nd->bytes = 0;
        nd->v.u = 0;
        nd->len = (uint32_t)l;
        if (l > 0) {
          if (sp >= DSMR_AXDR_MAX_DEPTH)
            return DSMR_AXDR_TOO_DEEP;
          /* its `end` is set when its last element is done */
          if (sp > 0)
            stack[sp - 1].left = left;
          stack[sp].node = self;
          left = (uint32_t)l;
          sp++;
          continue;
        }
        break;
      case K_STRING:
      case K_BITS:
        h = length_at(p + pos, len - pos, &l);
        if (h == 0)
          return DSMR_AXDR_TRUNCATED;
        pos += h;
        nd->len = (uint32_t)l;
        if (ti.kind == K_BITS)
          l = l / 8 + (l % 8 != 0);
        if (l > len - pos)
          return DSMR_AXDR_TRUNCATED;
        nd->bytes = p + pos;
        nd->v.u = 0;
        pos += l;
        break;
      case K_BYTES:
        if (ti.size > len - pos)
          return DSMR_AXDR_TRUNCATED;
        nd->bytes = p + pos;
        nd->v.u = 0;
        nd->len = ti.size;
        pos += ti.size;
        break;
      case K_NULL:
        nd->bytes = 0;
        nd->v.u = 0;
        nd->len = 0;
        break;
      default:
        return DSMR_AXDR_BAD_TAG;
      }
    nd->end = (uint16_t)count;
    /* close every container this element completes */
    while (sp > 0 && --left == 0) {
      sp--;
      nodes[stack[sp].node].end = (uint16_t)count;
      if (sp > 0)
        left = stack[sp - 1].left;
    }
  } while (sp > 0);

  *n = count;
  if (used)
    *used = pos;
  if (exact && pos != len)
    return DSMR_AXDR_TRAILING;
  return DSMR_AXDR_OK;
}

const char *dsmr_axdr_status_name(enum dsmr_axdr_status s) {
  switch (s) {
  case DSMR_AXDR_OK:
    return "ok";
  case DSMR_AXDR_TRUNCATED:
    return "A-XDR data cut short";
  case DSMR_AXDR_BAD_TAG:
    return "unknown A-XDR type";
  case DSMR_AXDR_TOO_DEEP:
    return "A-XDR nested too deep";
  case DSMR_AXDR_TOO_MANY:
    return "too many A-XDR elements";
  case DSMR_AXDR_TRAILING:
    return "bytes after the A-XDR data";
  }
  return "?";
}
