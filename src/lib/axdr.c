/* A-XDR check and cursor (see axdr.h). The check is iterative: a stack of
 * open containers, each with the elements it still expects; when one is
 * complete the one around it goes on. */
#include "axdr.h"

#include "dlms_apdu.h"

/* What each tag is, by table: one load per element instead of switches
 * (the check and the layouts' reads run over every element of every
 * frame). */
#define K(k) DSMR_AXDR_K_##k
const struct dsmr_axdr_tag_info dsmr_axdr_tags[256] = {
    [DSMR_AXDR_NULL] = {K(NULL), 0},
    [DSMR_AXDR_ARRAY] = {K(CONTAINER), 0},
    [DSMR_AXDR_STRUCTURE] = {K(CONTAINER), 0},
    [DSMR_AXDR_BOOLEAN] = {K(U1), 1},
    [DSMR_AXDR_BIT_STRING] = {K(BITS), 0},
    [DSMR_AXDR_DOUBLE_LONG] = {K(S4), 4},
    [DSMR_AXDR_DOUBLE_LONG_UNSIGNED] = {K(U4), 4},
    [DSMR_AXDR_OCTET_STRING] = {K(STRING), 0},
    [DSMR_AXDR_VISIBLE_STRING] = {K(STRING), 0},
    [DSMR_AXDR_UTF8_STRING] = {K(STRING), 0},
    [DSMR_AXDR_BCD] = {K(U1), 1},
    [DSMR_AXDR_INTEGER] = {K(S1), 1},
    [DSMR_AXDR_LONG] = {K(S2), 2},
    [DSMR_AXDR_UNSIGNED] = {K(U1), 1},
    [DSMR_AXDR_LONG_UNSIGNED] = {K(U2), 2},
    [DSMR_AXDR_LONG64] = {K(S8), 8},
    [DSMR_AXDR_LONG64_UNSIGNED] = {K(U8), 8},
    [DSMR_AXDR_ENUM] = {K(U1), 1},
    [DSMR_AXDR_FLOAT32] = {K(BYTES), 4},
    [DSMR_AXDR_FLOAT64] = {K(BYTES), 8},
    [DSMR_AXDR_DATE_TIME] = {K(BYTES), 12},
    [DSMR_AXDR_DATE] = {K(BYTES), 5},
    [DSMR_AXDR_TIME] = {K(BYTES), 4},
};

/* A-XDR length inline for the common one-byte form. */
static inline size_t length_at(const uint8_t *p, size_t n, size_t *len) {
  if (n >= 1 && p[0] < 0x80) {
    *len = p[0];
    return 1;
  }
  return dsmr_axdr_length(p, n, len);
}

enum dsmr_axdr_status dsmr_axdr_check(const uint8_t *p, size_t len, int exact,
                                      unsigned max, unsigned *count,
                                      size_t *used) {
  uint32_t stack[DSMR_AXDR_MAX_DEPTH + 1];
  unsigned sp = 0, n = 0;
  uint32_t left = 0; /* elements the innermost open container still expects
                        (its stack entry is only written when it is left) */
  size_t pos = 0;

  do {
    if (pos >= len)
      return DSMR_AXDR_TRUNCATED;
    if (n >= max)
      return DSMR_AXDR_TOO_MANY;
    n++;
    const struct dsmr_axdr_tag_info ti = dsmr_axdr_tags[p[pos++]];
    size_t l = 0, h;
    if (ti.kind >= K(BYTES)) {
      /* integers and fixed-size bytes: one size check */
      if (ti.size > len - pos)
        return DSMR_AXDR_TRUNCATED;
      pos += ti.size;
    } else
      switch (ti.kind) {
      case K(CONTAINER):
        h = length_at(p + pos, len - pos, &l);
        if (h == 0)
          return DSMR_AXDR_TRUNCATED;
        pos += h;
        if (l > len - pos) /* every element takes at least one byte */
          return DSMR_AXDR_TRUNCATED;
        if (l > 0) {
          if (sp >= DSMR_AXDR_MAX_DEPTH)
            return DSMR_AXDR_TOO_DEEP;
          if (sp > 0)
            stack[sp - 1] = left;
          left = (uint32_t)l;
          sp++;
          continue;
        }
        break;
      case K(STRING):
      case K(BITS):
        h = length_at(p + pos, len - pos, &l);
        if (h == 0)
          return DSMR_AXDR_TRUNCATED;
        pos += h;
        if (ti.kind == K(BITS))
          l = l / 8 + (l % 8 != 0);
        if (l > len - pos)
          return DSMR_AXDR_TRUNCATED;
        pos += l;
        break;
      case K(NULL):
        break;
      default:
        return DSMR_AXDR_BAD_TAG;
      }
    /* close every container this element completes */
    while (sp > 0 && --left == 0) {
      sp--;
      if (sp > 0)
        left = stack[sp - 1];
    }
  } while (sp > 0);

  if (count)
    *count = n;
  if (used)
    *used = pos;
  if (exact && pos != len)
    return DSMR_AXDR_TRAILING;
  return DSMR_AXDR_OK;
}

size_t dsmr_axdr_skip(const uint8_t *p, size_t len, size_t pos) {
  size_t used;
  if (pos >= len || dsmr_axdr_check(p + pos, len - pos, 0, UINT32_MAX, NULL,
                                    &used) != DSMR_AXDR_OK)
    return 0;
  return pos + used;
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
