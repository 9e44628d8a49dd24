/* A-XDR decoder (see axdr.h). Iterative: a stack of open containers, each
 * with the elements it still expects; when one is complete its `end` is
 * set and the one around it goes on. */
#include "axdr.h"

#include "dlms_apdu.h"

static uint64_t be(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

/* bytes of a fixed-size type, 0 for the others */
static unsigned fixed_size(uint8_t tag) {
  switch (tag) {
  case DSMR_AXDR_NULL:
    return 0;
  case DSMR_AXDR_BOOLEAN:
  case DSMR_AXDR_BCD:
  case DSMR_AXDR_INTEGER:
  case DSMR_AXDR_UNSIGNED:
  case DSMR_AXDR_ENUM:
    return 1;
  case DSMR_AXDR_LONG:
  case DSMR_AXDR_LONG_UNSIGNED:
    return 2;
  case DSMR_AXDR_DOUBLE_LONG:
  case DSMR_AXDR_DOUBLE_LONG_UNSIGNED:
  case DSMR_AXDR_FLOAT32:
  case DSMR_AXDR_TIME:
    return 4;
  case DSMR_AXDR_DATE:
    return 5;
  case DSMR_AXDR_LONG64:
  case DSMR_AXDR_LONG64_UNSIGNED:
  case DSMR_AXDR_FLOAT64:
    return 8;
  case DSMR_AXDR_DATE_TIME:
    return 12;
  }
  return 0;
}

int dsmr_axdr_is_signed(uint8_t tag) {
  return tag == DSMR_AXDR_INTEGER || tag == DSMR_AXDR_LONG ||
         tag == DSMR_AXDR_DOUBLE_LONG || tag == DSMR_AXDR_LONG64;
}

int dsmr_axdr_is_integer(const struct dsmr_axdr_node *nd) {
  switch (nd->tag) {
  case DSMR_AXDR_BOOLEAN:
  case DSMR_AXDR_INTEGER:
  case DSMR_AXDR_UNSIGNED:
  case DSMR_AXDR_ENUM:
  case DSMR_AXDR_LONG:
  case DSMR_AXDR_LONG_UNSIGNED:
  case DSMR_AXDR_DOUBLE_LONG:
  case DSMR_AXDR_DOUBLE_LONG_UNSIGNED:
  case DSMR_AXDR_LONG64:
  case DSMR_AXDR_LONG64_UNSIGNED:
    return 1;
  }
  return 0;
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
    nd->tag = tag;
    nd->depth = (uint8_t)sp;
    nd->bytes = 0;
    nd->v.u = 0;
    nd->len = 0;
    unsigned self = count++;
    size_t l = 0, h;
    switch (tag) {
    case DSMR_AXDR_ARRAY:
    case DSMR_AXDR_STRUCTURE:
      h = dsmr_axdr_length(p + pos, len - pos, &l);
      if (h == 0)
        return DSMR_AXDR_TRUNCATED;
      pos += h;
      if (l > len - pos) /* every element takes at least one byte */
        return DSMR_AXDR_TRUNCATED;
      nd->len = (uint32_t)l;
      if (l > 0) {
        if (sp >= DSMR_AXDR_MAX_DEPTH)
          return DSMR_AXDR_TOO_DEEP;
        /* the container is counted off by its parent when it closes */
        stack[sp].node = self;
        stack[sp].left = (uint32_t)l;
        sp++;
        continue;
      }
      break;
    case DSMR_AXDR_OCTET_STRING:
    case DSMR_AXDR_VISIBLE_STRING:
    case DSMR_AXDR_UTF8_STRING:
    case DSMR_AXDR_BIT_STRING:
      h = dsmr_axdr_length(p + pos, len - pos, &l);
      if (h == 0)
        return DSMR_AXDR_TRUNCATED;
      pos += h;
      nd->len = (uint32_t)l;
      if (tag == DSMR_AXDR_BIT_STRING)
        l = (l + 7) / 8;
      if (l > len - pos)
        return DSMR_AXDR_TRUNCATED;
      nd->bytes = p + pos;
      pos += l;
      break;
    default: {
      unsigned k = fixed_size(tag);
      if (k == 0 && tag != DSMR_AXDR_NULL)
        return DSMR_AXDR_BAD_TAG;
      if (k > len - pos)
        return DSMR_AXDR_TRUNCATED;
      nd->len = k;
      if (tag == DSMR_AXDR_FLOAT32 || tag == DSMR_AXDR_FLOAT64 ||
          tag == DSMR_AXDR_DATE_TIME || tag == DSMR_AXDR_DATE ||
          tag == DSMR_AXDR_TIME) {
        nd->bytes = p + pos;
      } else if (k) {
        uint64_t u = be(p + pos, k);
        if (dsmr_axdr_is_signed(tag) && k < 8 && (u >> (8 * k - 1)) & 1)
          nd->v.i = (int64_t)(u | ~((UINT64_C(1) << (8 * k)) - 1));
        else
          nd->v.u = u;
      }
      pos += k;
    }
    }
    nd->end = (uint16_t)count;
    /* close every container this element completes */
    while (sp > 0 && --stack[sp - 1].left == 0) {
      sp--;
      nodes[stack[sp].node].end = (uint16_t)count;
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
