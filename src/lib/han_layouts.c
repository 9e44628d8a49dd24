/* HAN list layouts and their mapping to DSMR readings (see han_layouts.h).
 *
 * The body is checked once (axdr.c), then read where it lies, element by
 * element, through the A-XDR cursor; each layout is a check of the body's
 * shape followed by a walk that adds registers: OBIS as sent or
 * implied by position, the value, and its scaler and unit as sent or as
 * the vendor document implies them. The mapping then reuses the DSMR
 * OBIS table (obis_table.h) for identifiers, so a HAN meter's 1-0:1.7.0 is
 * the same power-import as a DSMR meter's. */
#include "han_layouts.h"

#include <stdio.h>
#include <string.h>

#include "obis_table.h"

typedef struct dsmr_axdr_elem node;

/* The element at pos of the checked body (dsmr_axdr_check accepted it, so
 * reading an element where one starts cannot fail). */
static HOT_INLINE node at(const struct dsmr_han_list *l, size_t pos) {
  node e;
  if (dsmr_axdr_read(l->body, l->body_len, pos, &e) != 0) {
    e.tag = 0xFF; /* matches no type; a walk stops there */
    e.len = 0;
    e.next = (uint32_t)l->body_len;
    e.bytes = NULL;
  }
  return e;
}

/* Just past the element e at pos, its elements included. */
static inline size_t after(const struct dsmr_han_list *l, const node *e,
                           size_t pos) {
  if (dsmr_axdr_is_container(e->tag) && e->len > 0) {
    size_t end = dsmr_axdr_skip(l->body, l->body_len, pos);
    return end ? end : l->body_len; /* (never 0 in a checked body) */
  }
  return e->next;
}

static inline size_t end_at(const struct dsmr_han_list *l, size_t pos) {
  node e = at(l, pos);
  return after(l, &e, pos);
}

static struct dsmr_obis mk(uint8_t a, uint8_t b, uint8_t c, uint8_t d,
                           uint8_t e) {
  struct dsmr_obis o = {a, b, c, d, e, 255};
  return o;
}

static void obis_from(const uint8_t *p, struct dsmr_obis *o) {
  o->a = p[0];
  o->b = p[1];
  o->c = p[2];
  o->d = p[3];
  o->e = p[4];
  o->f = p[5];
}

static int is_obis(const node *n) {
  return n->tag == DSMR_AXDR_OCTET_STRING && n->len == 6;
}

static int is_text(const node *n) {
  return n->tag == DSMR_AXDR_OCTET_STRING ||
         n->tag == DSMR_AXDR_VISIBLE_STRING || n->tag == DSMR_AXDR_UTF8_STRING;
}

static int text_is(const node *n, const char *s) {
  size_t k = strlen(s);
  return is_text(n) && n->len == k && memcmp(n->bytes, s, k) == 0;
}

/* structure { integer scaler, enum unit } at pos: the offset just past it,
 * or 0 when it is not one */
static size_t scaler_unit_end(const struct dsmr_han_list *l, size_t pos) {
  node n = at(l, pos);
  if (n.tag != DSMR_AXDR_STRUCTURE || n.len != 2)
    return 0;
  node s = at(l, n.next);
  if (s.tag != DSMR_AXDR_INTEGER)
    return 0;
  node u = at(l, s.next);
  return u.tag == DSMR_AXDR_ENUM ? u.next : 0;
}

/* The unit an electricity register has by its OBIS code (for lists that
 * send none): by D (7 instantaneous, 8 energy) and C (0..99; the phases'
 * 21.., 41.., 61.. repeat the totals 1..; 11-14, 31-33, 51-53, 71-73 and
 * 91 are currents, voltages, power factors and the frequency). One load
 * instead of a switch per register. */
#define U_UNK DSMR_DLMS_UNIT_UNKNOWN
#define U_W DSMR_DLMS_UNIT_W
#define U_VA DSMR_DLMS_UNIT_VA
#define U_VAR DSMR_DLMS_UNIT_VAR
#define U_WH DSMR_DLMS_UNIT_WH
#define U_VAH DSMR_DLMS_UNIT_VAH
#define U_VARH DSMR_DLMS_UNIT_VARH
#define U_A DSMR_DLMS_UNIT_A
#define U_V DSMR_DLMS_UNIT_V
#define U_HZ DSMR_DLMS_UNIT_HZ
#define U_NONE DSMR_DLMS_UNIT_NONE
/* clang-format off */
static const uint8_t implied_units[2][100] = {
    {/* D = 7, C = 0..99 */
        U_UNK, U_W, U_W, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VA,
        U_VA, U_A, U_V, U_NONE, U_HZ, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_W, U_W, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VA,
        U_VA, U_A, U_V, U_NONE, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_W, U_W, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VA,
        U_VA, U_A, U_V, U_NONE, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_W, U_W, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VAR, U_VA,
        U_VA, U_A, U_V, U_NONE, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_A, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
    },
    {/* D = 8, C = 0..99 */
        U_UNK, U_WH, U_WH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VAH,
        U_VAH, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_WH, U_WH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VAH,
        U_VAH, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_WH, U_WH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VAH,
        U_VAH, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_WH, U_WH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VARH, U_VAH,
        U_VAH, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
        U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK, U_UNK,
    },
};
/* clang-format on */

static uint8_t implied_unit(const struct dsmr_obis *o) {
  unsigned k = (unsigned)o->d - 7u;
  if (o->a != 1 || k > 1 || o->c >= 100)
    return DSMR_DLMS_UNIT_UNKNOWN;
  return implied_units[k][o->c];
}

static int vendor_scaler(enum dsmr_han_vendor vendor, uint8_t unit,
                         const struct dsmr_han_options *opt) {
  switch (unit) {
  case DSMR_DLMS_UNIT_A:
    return vendor == DSMR_HAN_VENDOR_KAIFA      ? -3
           : vendor == DSMR_HAN_VENDOR_KAMSTRUP ? -2
           : vendor == DSMR_HAN_VENDOR_LG       ? -2
                                                : 0;
  case DSMR_DLMS_UNIT_V:
    return vendor == DSMR_HAN_VENDOR_KAIFA ? -1 : 0;
  case DSMR_DLMS_UNIT_WH:
  case DSMR_DLMS_UNIT_VARH:
  case DSMR_DLMS_UNIT_VAH:
    if (opt && opt->has_energy_scaler)
      return opt->energy_scaler;
    return vendor == DSMR_HAN_VENDOR_KAMSTRUP ? 1 : 0;
  case DSMR_DLMS_UNIT_NONE:
    return vendor == DSMR_HAN_VENDOR_GENERIC ? 0 : -3;
  }
  return 0;
}

struct ctx {
  struct dsmr_han_list *l;
  const struct dsmr_han_options *opt;
  int meter_id_rank; /* how good the meter id found so far is */
};

static int obis_is(const struct dsmr_obis *o, int a, int c, int d, int e) {
  return (a < 0 || o->a == a) && o->b <= 1 && o->c == c && o->d == d &&
         o->e == e;
}

/* A scaler_unit as sent: structure { integer scaler, enum unit }. */
struct su {
  int8_t scaler;
  uint8_t unit;
};

/* The scaler_unit at b[pos] (of len bytes) into *su: the offset just past
 * it, or 0 when there is none. Reads with every bound checked (the fast
 * paths below read bytes not checked before). */
static HOT_INLINE size_t su_read(const uint8_t *b, size_t len, size_t pos,
                                 struct su *su) {
  node s, x, u;
  /* most often not one: two bytes tell */
  if (pos + 1 >= len || b[pos] != DSMR_AXDR_STRUCTURE || b[pos + 1] != 2)
    return 0;
  /* 02 02 0F ss 16 uu: what the reads below accept, in one look (each of
   * them asks for no more than these six bytes) */
  if (len - pos >= 6 && b[pos + 2] == DSMR_AXDR_INTEGER &&
      b[pos + 4] == DSMR_AXDR_ENUM) {
    su->scaler = (int8_t)b[pos + 3];
    su->unit = b[pos + 5];
    return pos + 6;
  }
  if (dsmr_axdr_read(b, len, pos, &s) != 0 || s.tag != DSMR_AXDR_STRUCTURE ||
      s.len != 2 || dsmr_axdr_read(b, len, s.next, &x) != 0 ||
      x.tag != DSMR_AXDR_INTEGER || dsmr_axdr_read(b, len, x.next, &u) != 0 ||
      u.tag != DSMR_AXDR_ENUM)
    return 0;
  su->scaler = (int8_t)x.v.i;
  su->unit = (uint8_t)u.v.u;
  return u.next;
}

/* A new value record for element n, o (may be NULL) its OBIS: every field
 * but dt, which only DATETIME values have, and type. */
static HOT_INLINE void value_start(struct dsmr_han_value *v,
                                   const struct dsmr_obis *o, int implied,
                                   const node *n) {
  v->has_obis = o != NULL;
  v->obis_implied = (uint8_t)(o && implied);
  if (o)
    v->obis = *o;
  v->unit = 0;
  v->scaler = 0;
  v->scaler_implied = 0;
  v->raw = 0;
  v->bytes = NULL;
  v->len = 0;
  v->axdr_tag = n->tag;
}

/* v as the number n (an integer that fits int64_t), with its scaler_unit
 * su, or else the unit and scaler its OBIS implies. */
static HOT_INLINE void value_number(const struct ctx *cx,
                                    struct dsmr_han_value *v,
                                    const struct dsmr_obis *o, const node *n,
                                    const struct su *su) {
  v->type = DSMR_HAN_NUMBER;
  v->raw = n->v.i;
  if (su) {
    v->scaler = su->scaler;
    v->unit = su->unit;
  } else if (o) {
    v->unit = implied_unit(o);
    if (v->unit != DSMR_DLMS_UNIT_UNKNOWN) {
      v->scaler = (int8_t)vendor_scaler(cx->l->vendor, v->unit, cx->opt);
      v->scaler_implied = 1;
    }
  }
}

/* Adds the register whose value is the element n; o (may be NULL) its
 * OBIS, su its scaler_unit or NULL for none. (add_elem below takes the
 * numbers, most registers, in line, and calls this for the rest.) */
static enum dsmr_han_status add_elem_any(struct ctx *cx,
                                         const struct dsmr_obis *o, int implied,
                                         const node *n, const struct su *su) {
  struct dsmr_han_list *l = cx->l;
  if (l->nvalues >= DSMR_HAN_MAX_VALUES)
    return DSMR_HAN_TOO_MANY_VALUES;
  struct dsmr_han_value *v = &l->values[l->nvalues++];
  value_start(v, o, implied, n);
  if (dsmr_axdr_is_integer(n)) {
    if (!dsmr_axdr_is_signed(n->tag) && n->v.u > (uint64_t)INT64_MAX)
      v->type = DSMR_HAN_OTHER;
    else
      value_number(cx, v, o, n, su);
    return DSMR_HAN_OK;
  }
  if (n->tag == DSMR_AXDR_BIT_STRING || !n->bytes) {
    /* a bit-string's len counts bits: no span for what is not text */
    v->type = DSMR_HAN_OTHER;
    return DSMR_HAN_OK;
  }
  v->bytes = n->bytes;
  v->len = n->len;
  if ((n->tag == DSMR_AXDR_OCTET_STRING || n->tag == DSMR_AXDR_DATE_TIME) &&
      n->len == 12 && dsmr_cosem_datetime_parse(n->bytes, &v->dt) == 0) {
    v->type = DSMR_HAN_DATETIME;
    if (!l->has_clock && (!o || obis_is(o, 0, 1, 0, 0))) {
      l->has_clock = 1;
      l->clock = v->dt;
    }
    return DSMR_HAN_OK;
  }
  if (n->tag == DSMR_AXDR_OCTET_STRING)
    v->type = DSMR_HAN_OCTETS;
  else if (n->tag == DSMR_AXDR_VISIBLE_STRING ||
           n->tag == DSMR_AXDR_UTF8_STRING)
    v->type = DSMR_HAN_STRING;
  else {
    v->type = DSMR_HAN_OTHER;
    return DSMR_HAN_OK;
  }
  if (!o)
    return DSMR_HAN_OK;
  if (obis_is(o, -1, 0, 2, 129) && !l->list_id) {
    l->list_id = n->bytes;
    l->list_id_len = n->len;
  }
  int rank = obis_is(o, 0, 96, 1, 0) || obis_is(o, 1, 0, 0, 5) ? 3
             : obis_is(o, 0, 96, 1, 1)                         ? 2
             : obis_is(o, 0, 42, 0, 0)                         ? 1
                                                               : 0;
  /* Kamstrup's 1-1:96.1.1 is the meter type, not an id */
  if (o->a == 1)
    rank = obis_is(o, 1, 0, 0, 5) ? 3 : 0;
  if (rank > cx->meter_id_rank) {
    cx->meter_id_rank = rank;
    l->meter_id = n->bytes;
    l->meter_id_len = n->len;
  }
  return DSMR_HAN_OK;
}

/* add_elem_any, with a number (an integer that fits int64_t, most
 * registers) added in line, through the same value_start and value_number,
 * without the call. */
static HOT_INLINE enum dsmr_han_status add_elem(struct ctx *cx,
                                                const struct dsmr_obis *o,
                                                int implied, const node *n,
                                                const struct su *su) {
  struct dsmr_han_list *l = cx->l;
  if (l->nvalues >= DSMR_HAN_MAX_VALUES || !dsmr_axdr_is_integer(n) ||
      (!dsmr_axdr_is_signed(n->tag) && n->v.u > (uint64_t)INT64_MAX))
    return add_elem_any(cx, o, implied, n, su);
  struct dsmr_han_value *v = &l->values[l->nvalues++];
  value_start(v, o, implied, n);
  value_number(cx, v, o, n, su);
  return DSMR_HAN_OK;
}

/* add_elem for the element at vi of the checked body, su the offset of its
 * scaler_unit or 0 for none (the body itself starts at 0). */
static enum dsmr_han_status add(struct ctx *cx, const struct dsmr_obis *o,
                                int implied, size_t vi, size_t su) {
  const struct dsmr_han_list *l = cx->l;
  node n = at(l, vi);
  struct su u;
  if (su && su_read(l->body, l->body_len, su, &u) == 0)
    su = 0; /* (never: the layouts looked) */
  return add_elem(cx, o, implied, &n, su ? &u : NULL);
}

/* The vendor whose scalers apply, from a list id. */
static enum dsmr_han_vendor vendor_of(const node *id) {
  if (!id || !is_text(id))
    return DSMR_HAN_VENDOR_GENERIC;
  if (id->len >= 5 && memcmp(id->bytes, "AIDON", 5) == 0)
    return DSMR_HAN_VENDOR_AIDON;
  if (id->len >= 3 && memcmp(id->bytes, "KFM", 3) == 0)
    return DSMR_HAN_VENDOR_KAIFA;
  if (id->len >= 8 && memcmp(id->bytes, "Kamstrup", 8) == 0)
    return DSMR_HAN_VENDOR_KAMSTRUP;
  return DSMR_HAN_VENDOR_GENERIC;
}

/* ---- layouts ----------------------------------------------------------- */

/* Each layout is a check of the body's shape and a walk that adds its
 * registers, both over the checked bytes: positions are offsets into the
 * body (the body, a structure or array, at 0; its elements end at
 * body_len, as the check was exact). */

/* Landis+Gyr: the push setup's capture-object list comes first: an array
 * of {long-unsigned class, OBIS, integer attribute, long-unsigned index},
 * one per element of the body. The first of them is the push setup's own
 * attribute 2 (that list itself, element 0); the others are the values. */
static int is_lg_capture(const struct dsmr_han_list *l) {
  node r = at(l, 0), c = at(l, r.next);
  if (r.tag != DSMR_AXDR_STRUCTURE || r.len < 2 || c.tag != DSMR_AXDR_ARRAY ||
      c.len != r.len)
    return 0;
  size_t cend = after(l, &c, r.next);
  for (size_t i = c.next; i < cend;) {
    node d = at(l, i);
    if (d.tag != DSMR_AXDR_STRUCTURE || d.len != 4)
      return 0;
    node k = at(l, d.next), o = at(l, k.next);
    if (k.tag != DSMR_AXDR_LONG_UNSIGNED || !is_obis(&o))
      return 0;
    i = after(l, &d, i);
  }
  return 1;
}

static enum dsmr_han_status lg_capture(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  node r = at(l, 0), c = at(l, r.next);
  size_t cend = after(l, &c, r.next);
  size_t d = end_at(l, c.next), v = cend;
  enum dsmr_han_status s = DSMR_HAN_OK;
  l->vendor = DSMR_HAN_VENDOR_LG;
  while (s == DSMR_HAN_OK && d < cend && v < l->body_len) {
    struct dsmr_obis o;
    node dd = at(l, d), k = at(l, dd.next), ob = at(l, k.next);
    obis_from(ob.bytes, &o);
    s = add(cx, &o, 0, v, 0);
    d = after(l, &dd, d);
    v = end_at(l, v);
  }
  return s;
}

/* Iskra AM550 / Siemens IM350 (Wiener Netze, Kaernten Netz): push-setup
 * name 0-6:25.9.0.255 first, then serial, time, date, A+, A-, R+, R-, P+,
 * P- by position. */
static const uint8_t at_push_setup[6] = {0, 6, 25, 9, 0, 255};

static int is_at_compact(const struct dsmr_han_list *l) {
  node r = at(l, 0), c = at(l, r.next);
  return r.tag == DSMR_AXDR_STRUCTURE && r.len >= 10 && is_obis(&c) &&
         memcmp(c.bytes, at_push_setup, 6) == 0;
}

/* by position; f 0: not identified */
static const struct dsmr_obis at_compact_obis[10] = {
    {0, 0, 0, 0, 0, 0},   {0, 0, 96, 1, 0, 255}, {0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0},   {1, 0, 1, 8, 0, 255},  {1, 0, 2, 8, 0, 255},
    {1, 0, 3, 8, 0, 255}, {1, 0, 4, 8, 0, 255},  {1, 0, 1, 7, 0, 255},
    {1, 0, 2, 7, 0, 255},
};

static enum dsmr_han_status at_compact(struct ctx *cx) {
  const struct dsmr_obis *pos = at_compact_obis;
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  unsigned k = 0;
  for (size_t i = at(l, 0).next; s == DSMR_HAN_OK && i < l->body_len;
       i = end_at(l, i), k++) {
    const struct dsmr_obis *o = k < 10 && pos[k].f == 255 ? &pos[k] : NULL;
    s = add(cx, o, 1, i, 0);
  }
  return s;
}

/* Netz Burgenland (L&G E450): 14 bare values U1-3, I1-3, P+, P-, A+, A-,
 * three unidentified, meter id. */
static const uint8_t burgenland_tags[14] = {0x12, 0x12, 0x12, 0x12, 0x12,
                                            0x12, 0x06, 0x06, 0x06, 0x06,
                                            0x12, 0x12, 0x12, 0x09};

static int is_burgenland(const struct dsmr_han_list *l) {
  node r = at(l, 0);
  if (r.tag != DSMR_AXDR_STRUCTURE || r.len != 14 || l->nelements != 15)
    return 0;
  size_t i = r.next;
  for (unsigned k = 0; k < 14; k++) {
    node e = at(l, i); /* 15 elements: none of them a container */
    if (e.tag != burgenland_tags[k])
      return 0;
    i = e.next;
  }
  return 1;
}

/* by position; f 0: not identified */
static const struct dsmr_obis burgenland_obis[14] = {
    {1, 0, 32, 7, 0, 255}, {1, 0, 52, 7, 0, 255}, {1, 0, 72, 7, 0, 255},
    {1, 0, 31, 7, 0, 255}, {1, 0, 51, 7, 0, 255}, {1, 0, 71, 7, 0, 255},
    {1, 0, 1, 7, 0, 255},  {1, 0, 2, 7, 0, 255},  {1, 0, 1, 8, 0, 255},
    {1, 0, 2, 8, 0, 255},  {0, 0, 0, 0, 0, 0},    {0, 0, 0, 0, 0, 0},
    {0, 0, 0, 0, 0, 0},    {0, 0, 96, 1, 0, 255},
};

static enum dsmr_han_status burgenland(struct ctx *cx) {
  const struct dsmr_obis *pos = burgenland_obis;
  enum dsmr_han_status s = DSMR_HAN_OK;
  cx->l->vendor = DSMR_HAN_VENDOR_LG;
  size_t i = at(cx->l, 0).next;
  for (unsigned k = 0; s == DSMR_HAN_OK && k < 14; k++) {
    s = add(cx, pos[k].f == 255 ? &pos[k] : NULL, 1, i, 0);
    i = at(cx->l, i).next;
  }
  return s;
}

/* Kaifa KFM_001 by position (NVE list definitions): 1 element = list 1;
 * 9 / 13 = list 2 (1- / 3-phase); 14 / 18 = list 3. */
static int is_kaifa_positions(const struct dsmr_han_list *l) {
  node r = at(l, 0), first = at(l, r.next);
  if (r.tag != DSMR_AXDR_STRUCTURE)
    return 0;
  if (r.len == 1)
    return first.tag == DSMR_AXDR_DOUBLE_LONG_UNSIGNED;
  return (r.len == 9 || r.len == 13 || r.len == 14 || r.len == 18) &&
         text_is(&first, "KFM_001");
}

/* The OBIS codes of a KFM_001 list of n elements, by position. */
static void kaifa_obis(unsigned n, struct dsmr_obis pos[18]) {
  unsigned k = 0;
  if (n == 1) {
    pos[0] = mk(1, 0, 1, 7, 0);
    return;
  }
  int three = n == 13 || n == 18;
  pos[k++] = mk(1, 1, 0, 2, 129);
  pos[k++] = mk(0, 0, 96, 1, 0);
  pos[k++] = mk(0, 0, 96, 1, 7);
  pos[k++] = mk(1, 0, 1, 7, 0);
  pos[k++] = mk(1, 0, 2, 7, 0);
  pos[k++] = mk(1, 0, 3, 7, 0);
  pos[k++] = mk(1, 0, 4, 7, 0);
  pos[k++] = mk(1, 0, 31, 7, 0);
  if (three) {
    pos[k++] = mk(1, 0, 51, 7, 0);
    pos[k++] = mk(1, 0, 71, 7, 0);
  }
  pos[k++] = mk(1, 0, 32, 7, 0);
  if (three) {
    pos[k++] = mk(1, 0, 52, 7, 0);
    pos[k++] = mk(1, 0, 72, 7, 0);
  }
  if (n == 14 || n == 18) {
    pos[k++] = mk(0, 0, 1, 0, 0);
    pos[k++] = mk(1, 0, 1, 8, 0);
    pos[k++] = mk(1, 0, 2, 8, 0);
    pos[k++] = mk(1, 0, 3, 8, 0);
    pos[k++] = mk(1, 0, 4, 8, 0);
  }
}

static enum dsmr_han_status kaifa_positions(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  struct dsmr_obis pos[18];
  node r = at(l, 0);
  unsigned k;
  l->vendor = DSMR_HAN_VENDOR_KAIFA;
  kaifa_obis(r.len, pos);
  enum dsmr_han_status s = DSMR_HAN_OK;
  k = 0;
  for (size_t i = r.next; s == DSMR_HAN_OK && i < l->body_len;
       i = end_at(l, i), k++)
    s = add(cx, &pos[k], 1, i, 0);
  return s;
}

/* {OBIS, value[, scaler_unit]} as a structure at pos: the offsets of its
 * value and its scaler_unit (0: none) and the offset just past it; 0 when
 * it is not one. */
static size_t obis_item(const struct dsmr_han_list *l, size_t pos,
                        size_t *value, size_t *su) {
  node e = at(l, pos);
  if (e.tag != DSMR_AXDR_STRUCTURE || e.len < 2 || e.len > 3)
    return 0;
  node o = at(l, e.next);
  if (!is_obis(&o))
    return 0;
  size_t v = o.next, end = end_at(l, v);
  *value = v;
  *su = 0;
  if (e.len == 2)
    return end;
  *su = end;
  return scaler_unit_end(l, end);
}

/* {OBIS, value[, scaler_unit]} structures (Aidon, KSM-West). */
static int is_obis_structs(const struct dsmr_han_list *l) {
  node r = at(l, 0);
  if ((r.tag != DSMR_AXDR_ARRAY && r.tag != DSMR_AXDR_STRUCTURE) || r.len == 0)
    return 0;
  size_t v, su;
  for (size_t i = r.next; i < l->body_len;)
    if ((i = obis_item(l, i, &v, &su)) == 0)
      return 0;
  return 1;
}

static enum dsmr_han_status obis_structs(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  node r = at(l, 0), e = at(l, r.next), ob = at(l, e.next);
  /* the list id (x-x:0.2.129.255) comes first where there is one */
  if (ob.bytes[2] == 0 && ob.bytes[3] == 2 && ob.bytes[4] == 129) {
    node id = at(l, ob.next);
    l->vendor = vendor_of(&id);
  }
  for (size_t i = r.next; s == DSMR_HAN_OK && i < l->body_len;) {
    struct dsmr_obis o;
    size_t v, su, next = obis_item(l, i, &v, &su);
    obis_from(at(l, at(l, i).next).bytes, &o);
    s = add(cx, &o, 0, v, su);
    i = next;
  }
  return s;
}

static int is_obis_item(const struct dsmr_han_list *l, size_t pos) {
  size_t v, su;
  return obis_item(l, pos, &v, &su) != 0;
}

/* One structure of OBIS, value[, scaler_unit] in a row, or such items as
 * structures, with bare elements between them (Kamstrup's list id, EVN's
 * date-time and meter number, KSM-West's clock pair before its items). */
static int is_obis_flat(const struct dsmr_han_list *l) {
  node r = at(l, 0);
  if (r.tag != DSMR_AXDR_STRUCTURE || r.len < 2)
    return 0;
  for (size_t i = r.next; i < l->body_len;) {
    node n = at(l, i);
    if ((is_obis(&n) && n.next < l->body_len) || is_obis_item(l, i))
      return 1;
    i = after(l, &n, i);
  }
  return 0;
}

static enum dsmr_han_status obis_flat(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  size_t end = l->body_len, first = at(l, 0).next, i = first;
  node f = at(l, first);
  /* Kamstrup: the list id without its OBIS (1-1:0.2.129.255 implied) */
  if (is_text(&f))
    l->vendor = vendor_of(&f);
  /* a list id (x-x:0.2.129.255) comes first, if at all: the first two
   * elements are enough */
  for (size_t j = first, k = 0;
       l->vendor == DSMR_HAN_VENDOR_GENERIC && j < end && k < 2;
       j = end_at(l, j), k++) {
    node nj = at(l, j);
    size_t o = 0; /* the OBIS's offset (never 0: the body is a structure) */
    if (is_obis(&nj) && nj.next < end)
      o = j;
    else if (is_obis_item(l, j))
      o = nj.next;
    if (!o)
      continue;
    node ob = at(l, o);
    if (ob.bytes[2] == 0 && ob.bytes[3] == 2 && ob.bytes[4] == 129) {
      node id = at(l, ob.next);
      l->vendor = vendor_of(&id);
      break;
    }
  }
  if (l->vendor == DSMR_HAN_VENDOR_GENERIC && l->has_system_title &&
      memcmp(l->system_title, "LGZ", 3) == 0)
    l->vendor = DSMR_HAN_VENDOR_LG;
  while (s == DSMR_HAN_OK && i < end) {
    const node n = at(l, i);
    struct dsmr_obis o;
    size_t v, su, next;
    if (is_obis(&n) && n.next < end) {
      obis_from(n.bytes, &o);
      v = n.next;
      next = end_at(l, v);
      su = 0;
      if (next < end) {
        size_t e = scaler_unit_end(l, next);
        if (e) {
          su = next;
          next = e;
        }
      }
      s = add(cx, &o, 0, v, su);
      i = next;
      continue;
    }
    if ((next = obis_item(l, i, &v, &su)) != 0) {
      obis_from(at(l, n.next).bytes, &o);
      s = add(cx, &o, 0, v, su);
      i = next;
      continue;
    }
    if (i == first && l->vendor == DSMR_HAN_VENDOR_KAMSTRUP && is_text(&n)) {
      o = mk(1, 1, 0, 2, 129);
      s = add(cx, &o, 1, i, 0);
    } else {
      s = add(cx, NULL, 0, i, 0);
    }
    i = after(l, &n, i);
  }
  return s;
}

/* ---- fast paths -------------------------------------------------------- */

/* The two layouts nearly every meter sends (Aidon's structures, and the
 * flat lists of Kamstrup and others that start with their list id) are
 * read in one pass over the unchecked bytes: each element read once, with
 * every bound checked, its register added as it is read. What they do not
 * cover (a value that is itself a non-empty container, anything not quite
 * in shape, bytes after the body, a bound reached) they leave to the
 * general path (check, then shape, then walk), which then decides exactly
 * as before; they return FAST_NO, and the caller clears what they added.
 * Only elements of fixed depth are read here (at most 2), so the nesting
 * bound cannot be reached, and the elements are counted against
 * DSMR_HAN_MAX_ELEMENTS. Why: checking, then looking at the shape, then
 * walking read every element three times, and that was most of the HAN
 * path's cost (HACKING.md, Benchmarks). */
#define FAST_NO (-1)

/* A value element that the fast paths take: anything but a non-empty
 * container. */
static HOT_INLINE int fast_value(const uint8_t *b, size_t len, size_t pos,
                                 node *v) {
  return dsmr_axdr_read(b, len, pos, v) == 0 &&
         !(dsmr_axdr_is_container(v->tag) && v->len > 0);
}

/* {OBIS, value[, scaler_unit]}: the structure e (its header read) read in
 * one pass, its OBIS into *o, its value into *v, its scaler_unit into *su
 * when it has three elements. The offset just past it, or 0 when it is not
 * one the fast paths take. */
static HOT_INLINE size_t fast_item(const uint8_t *b, size_t len, const node *e,
                                   node *o, node *v, struct su *su) {
  if (e->tag != DSMR_AXDR_STRUCTURE || e->len < 2 || e->len > 3 ||
      dsmr_axdr_read(b, len, e->next, o) != 0 || !is_obis(o) ||
      !fast_value(b, len, o->next, v))
    return 0;
  return e->len == 2 ? v->next : su_read(b, len, v->next, su);
}

/* OBIS_STRUCTS: root array/structure, its first element a structure. */
static int fast_obis_structs(struct ctx *cx, const node *r) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body;
  size_t len = l->body_len, pos = r->next;
  unsigned count = 1;
  enum dsmr_han_status s = DSMR_HAN_OK;
  for (uint32_t k = 0; k < r->len; k++) {
    node e, o, v;
    struct su su;
    if (dsmr_axdr_read(b, len, pos, &e) != 0 ||
        (pos = fast_item(b, len, &e, &o, &v, &su)) == 0)
      return FAST_NO;
    count += e.len == 3 ? 6 : 3;
    if (count > DSMR_HAN_MAX_ELEMENTS)
      return FAST_NO;
    /* the list id (x-x:0.2.129.255) comes first where there is one */
    if (k == 0 && o.bytes[2] == 0 && o.bytes[3] == 2 && o.bytes[4] == 129)
      l->vendor = vendor_of(&v);
    if (s == DSMR_HAN_OK) {
      struct dsmr_obis ob;
      obis_from(o.bytes, &ob);
      s = add_elem(cx, &ob, 0, &v, e.len == 3 ? &su : NULL);
    }
  }
  if (pos != len)
    return FAST_NO;
  l->nelements = count;
  l->layout = DSMR_HAN_LAYOUT_OBIS_STRUCTS;
  return s;
}

/* The vendor of an OBIS_FLAT list (as obis_flat finds it): a list id
 * first, or an OBIS x-x:0.2.129 in the first two elements followed by the
 * list id, or L&G's system title. 0, or FAST_NO when the first two
 * elements are not what the fast path reads. */
static int fast_flat_vendor(struct ctx *cx, const node *r, const node *first) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body;
  size_t len = l->body_len, j = r->next;
  if (is_text(first))
    l->vendor = vendor_of(first);
  for (uint32_t k = 0;
       l->vendor == DSMR_HAN_VENDOR_GENERIC && k < 2 && k < r->len; k++) {
    node nj, o, v;
    struct su su;
    const node *ob = NULL;
    if (dsmr_axdr_read(b, len, j, &nj) != 0)
      return FAST_NO;
    size_t next = nj.next;
    if (is_obis(&nj) && k + 1 < r->len) {
      ob = &nj;
    } else if (dsmr_axdr_is_container(nj.tag) && nj.len > 0) {
      /* {OBIS, value[, scaler_unit]}, or the general path */
      if ((next = fast_item(b, len, &nj, &o, &v, &su)) == 0)
        return FAST_NO;
      ob = &o;
    }
    if (ob && ob->bytes[2] == 0 && ob->bytes[3] == 2 && ob->bytes[4] == 129) {
      node id;
      if (dsmr_axdr_read(b, len, ob->next, &id) != 0)
        return FAST_NO;
      l->vendor = vendor_of(&id);
      break;
    }
    j = next;
  }
  if (l->vendor == DSMR_HAN_VENDOR_GENERIC && l->has_system_title &&
      memcmp(l->system_title, "LGZ", 3) == 0)
    l->vendor = DSMR_HAN_VENDOR_LG;
  return 0;
}

/* OBIS_FLAT: root structure of two elements or more, whose first element
 * is no other layout's (fast() looks). */
static int fast_obis_flat(struct ctx *cx, const node *r, const node *first) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body;
  size_t len = l->body_len, pos = r->next;
  unsigned count = 1, seen = 0;
  uint32_t left = r->len;
  enum dsmr_han_status s = DSMR_HAN_OK;
  if (fast_flat_vendor(cx, r, first) != 0)
    return FAST_NO;
  while (left > 0) {
    node n, v;
    struct su su, *sup = NULL;
    struct dsmr_obis ob;
    const struct dsmr_obis *o = NULL;
    int implied = 0;
    if (count > DSMR_HAN_MAX_ELEMENTS || dsmr_axdr_read(b, len, pos, &n) != 0)
      return FAST_NO;
    if (is_obis(&n) && left > 1) {
      /* OBIS, value[, scaler_unit] in a row */
      if (!fast_value(b, len, n.next, &v))
        return FAST_NO;
      count += 2;
      left -= 2;
      pos = v.next;
      size_t e;
      if (left > 0 && (e = su_read(b, len, pos, &su)) != 0) {
        sup = &su;
        pos = e;
        left--;
        count += 3;
      }
      obis_from(n.bytes, &ob);
      o = &ob;
      seen = 1;
    } else if (n.tag == DSMR_AXDR_STRUCTURE && n.len > 0) {
      /* {OBIS, value[, scaler_unit]}; any other structure: the general
       * path */
      node on;
      if ((pos = fast_item(b, len, &n, &on, &v, &su)) == 0)
        return FAST_NO;
      count += n.len == 3 ? 6 : 3;
      if (n.len == 3)
        sup = &su;
      left--;
      obis_from(on.bytes, &ob);
      o = &ob;
      seen = 1;
    } else {
      if (dsmr_axdr_is_container(n.tag) && n.len > 0)
        return FAST_NO;
      v = n;
      if (pos == r->next && l->vendor == DSMR_HAN_VENDOR_KAMSTRUP &&
          is_text(&n)) {
        ob = mk(1, 1, 0, 2, 129);
        o = &ob;
        implied = 1;
      }
      pos = n.next;
      count++;
      left--;
    }
    if (s == DSMR_HAN_OK)
      s = add_elem(cx, o, implied, &v, sup);
  }
  if (!seen || pos != len || count > DSMR_HAN_MAX_ELEMENTS)
    return FAST_NO;
  l->nelements = count;
  l->layout = DSMR_HAN_LAYOUT_OBIS_FLAT;
  return s;
}

/* KAIFA_POSITIONS (is_kaifa_positions said so): values by position. */
static int fast_kaifa_positions(struct ctx *cx, const node *r) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body;
  size_t len = l->body_len, pos = r->next;
  struct dsmr_obis obis[18];
  enum dsmr_han_status s = DSMR_HAN_OK;
  kaifa_obis(r->len, obis);
  l->vendor = DSMR_HAN_VENDOR_KAIFA;
  for (uint32_t k = 0; k < r->len; k++) {
    node v;
    if (!fast_value(b, len, pos, &v))
      return FAST_NO;
    pos = v.next;
    if (s == DSMR_HAN_OK)
      s = add_elem(cx, &obis[k], 1, &v, NULL);
  }
  if (pos != len)
    return FAST_NO;
  l->nelements = 1 + r->len;
  l->layout = DSMR_HAN_LAYOUT_KAIFA_POSITIONS;
  return s;
}

/* AT_COMPACT (is_at_compact said so) and LG_BURGENLAND (maybe): values
 * by position, obis[k] for the k-th (f 0: none; past n: none); tags, when
 * given, the type each must have. */
static int fast_positions(struct ctx *cx, const node *r,
                          const struct dsmr_obis *obis, unsigned n,
                          const uint8_t *tags, enum dsmr_han_layout layout) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body;
  size_t len = l->body_len, pos = r->next;
  enum dsmr_han_status s = DSMR_HAN_OK;
  if (r->len > DSMR_HAN_MAX_ELEMENTS - 1)
    return FAST_NO;
  if (layout == DSMR_HAN_LAYOUT_LG_BURGENLAND)
    l->vendor = DSMR_HAN_VENDOR_LG;
  for (uint32_t k = 0; k < r->len; k++) {
    node v;
    if (!fast_value(b, len, pos, &v) || (tags && v.tag != tags[k]))
      return FAST_NO;
    pos = v.next;
    if (s == DSMR_HAN_OK)
      s = add_elem(cx, k < n && obis[k].f == 255 ? &obis[k] : NULL, 1, &v,
                   NULL);
  }
  if (pos != len)
    return FAST_NO;
  l->nelements = 1 + r->len;
  l->layout = layout;
  return s;
}

/* LG_CAPTURE: root structure whose first element is an array of as many
 * capture-object descriptors as the root has elements. */
static int fast_lg_capture(struct ctx *cx, const node *r, const node *c) {
  struct dsmr_han_list *l = cx->l;
  const uint8_t *b = l->body, *obis[DSMR_HAN_MAX_VALUES + 1];
  size_t len = l->body_len, pos = c->next;
  unsigned count = 2;
  enum dsmr_han_status s = DSMR_HAN_OK;
  if (c->len > DSMR_HAN_MAX_VALUES + 1)
    return FAST_NO;
  for (uint32_t k = 0; k < c->len; k++) {
    node d, cl, o, a, ix;
    if (dsmr_axdr_read(b, len, pos, &d) != 0 || d.tag != DSMR_AXDR_STRUCTURE ||
        d.len != 4 || dsmr_axdr_read(b, len, d.next, &cl) != 0 ||
        cl.tag != DSMR_AXDR_LONG_UNSIGNED ||
        dsmr_axdr_read(b, len, cl.next, &o) != 0 || !is_obis(&o) ||
        !fast_value(b, len, o.next, &a) || !fast_value(b, len, a.next, &ix))
      return FAST_NO;
    obis[k] = o.bytes;
    pos = ix.next;
    count += 5;
  }
  l->vendor = DSMR_HAN_VENDOR_LG;
  /* the first descriptor is the push setup's own list: values from the
   * second on */
  for (uint32_t k = 1; k < r->len; k++) {
    node v;
    if (!fast_value(b, len, pos, &v))
      return FAST_NO;
    pos = v.next;
    count++;
    if (s == DSMR_HAN_OK) {
      struct dsmr_obis ob;
      obis_from(obis[k], &ob);
      s = add_elem(cx, &ob, 0, &v, NULL);
    }
  }
  if (pos != len || count > DSMR_HAN_MAX_ELEMENTS)
    return FAST_NO;
  l->nelements = count;
  l->layout = DSMR_HAN_LAYOUT_LG_CAPTURE;
  return s;
}

/* One of the fast paths, where the frame's first bytes say which layout
 * it can only be; FAST_NO otherwise. */
static int fast(struct ctx *cx) {
  const struct dsmr_han_list *l = cx->l;
  node r, f;
  if (dsmr_axdr_read(l->body, l->body_len, 0, &r) != 0 ||
      !dsmr_axdr_is_container(r.tag) || r.len == 0 ||
      dsmr_axdr_read(l->body, l->body_len, r.next, &f) != 0)
    return FAST_NO;
  /* a structure first: only OBIS_STRUCTS or OBIS_FLAT can match
   * (L&G's capture list is an array, the Austrian compact list starts
   * with an OBIS, Kaifa's and Burgenland's lists with a scalar) */
  if (f.tag == DSMR_AXDR_STRUCTURE)
    return fast_obis_structs(cx, &r);
  /* the layouts tried first by the general path, each where its first
   * bytes say so */
  if (r.tag == DSMR_AXDR_STRUCTURE && r.len >= 2 && f.tag == DSMR_AXDR_ARRAY &&
      f.len == r.len)
    return fast_lg_capture(cx, &r, &f);
  if (r.tag == DSMR_AXDR_STRUCTURE && r.len >= 10 && is_obis(&f) &&
      memcmp(f.bytes, at_push_setup, 6) == 0)
    return fast_positions(cx, &r, at_compact_obis, 10, NULL,
                          DSMR_HAN_LAYOUT_AT_COMPACT);
  if (r.tag == DSMR_AXDR_STRUCTURE && r.len == 14 &&
      f.tag == burgenland_tags[0])
    return fast_positions(cx, &r, burgenland_obis, 14, burgenland_tags,
                          DSMR_HAN_LAYOUT_LG_BURGENLAND);
  if (r.tag == DSMR_AXDR_STRUCTURE &&
      ((r.len == 1 && f.tag == DSMR_AXDR_DOUBLE_LONG_UNSIGNED) ||
       ((r.len == 9 || r.len == 13 || r.len == 14 || r.len == 18) &&
        text_is(&f, "KFM_001"))))
    return fast_kaifa_positions(cx, &r);
  /* a structure of two or more: OBIS_FLAT (or no layout), unless its first
   * element is that of L&G's capture list (an array), of the Austrian
   * compact list (its push setup's OBIS), of Kaifa's lists by position
   * ("KFM_001") or, maybe, Burgenland's 14 values */
  if (r.tag != DSMR_AXDR_STRUCTURE || r.len < 2 || f.tag == DSMR_AXDR_ARRAY ||
      (r.len >= 10 && is_obis(&f) && memcmp(f.bytes, at_push_setup, 6) == 0) ||
      (text_is(&f, "KFM_001") &&
       (r.len == 9 || r.len == 13 || r.len == 14 || r.len == 18)) ||
      (r.len == 14 && f.tag == burgenland_tags[0]))
    return FAST_NO;
  return fast_obis_flat(cx, &r, &f);
}

/* What dsmr_han_decode fills from the body, cleared. */
static void clear_body(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  l->layout = DSMR_HAN_LAYOUT_UNKNOWN;
  l->vendor = DSMR_HAN_VENDOR_GENERIC;
  l->list_id = l->meter_id = NULL;
  l->list_id_len = l->meter_id_len = 0;
  l->has_clock = 0;
  l->nvalues = l->nelements = 0;
  cx->meter_id_rank = 0;
}

enum dsmr_han_status dsmr_han_decode(const uint8_t *apdu, size_t len,
                                     const uint8_t *system_title,
                                     const struct dsmr_han_options *options,
                                     struct dsmr_han_list *out) {
  struct dsmr_dlms_notification n;
  struct ctx cx = {out, options, 0};
  enum dsmr_han_status s;
  clear_body(&cx);
  out->has_system_title = system_title != NULL;
  if (system_title)
    memcpy(out->system_title, system_title, 8);
  out->has_header_time = 0;
  out->body = NULL;
  out->body_len = 0;

  enum dsmr_dlms_status ds = dsmr_dlms_parse_notification(apdu, len, &n);
  if (ds == DSMR_DLMS_NOT_APDU)
    return DSMR_HAN_NOT_NOTIFICATION;
  if (ds != DSMR_DLMS_OK)
    return DSMR_HAN_BAD_APDU;
  out->invoke_id = n.long_invoke_id;
  if (n.has_time) {
    out->has_header_time = 1;
    out->header_time = n.time;
  }
  out->body = n.body;
  out->body_len = n.body_len;
  int f = fast(&cx);
  if (f != FAST_NO) {
    s = (enum dsmr_han_status)f;
    goto done;
  }
  clear_body(&cx);
  if (dsmr_axdr_check(n.body, n.body_len, 1, DSMR_HAN_MAX_ELEMENTS,
                      &out->nelements, NULL) != DSMR_AXDR_OK)
    return DSMR_HAN_BAD_AXDR;

  if (out->body[0] == DSMR_AXDR_OCTET_STRING) {
    out->layout = DSMR_HAN_LAYOUT_OCTETS;
    s = add(&cx, NULL, 0, 0, 0);
  } else if (out->nelements == 1) {
    return DSMR_HAN_UNKNOWN_LAYOUT; /* an empty or scalar body */
  } else if (is_lg_capture(out)) {
    out->layout = DSMR_HAN_LAYOUT_LG_CAPTURE;
    s = lg_capture(&cx);
  } else if (is_at_compact(out)) {
    out->layout = DSMR_HAN_LAYOUT_AT_COMPACT;
    s = at_compact(&cx);
  } else if (is_kaifa_positions(out)) {
    out->layout = DSMR_HAN_LAYOUT_KAIFA_POSITIONS;
    s = kaifa_positions(&cx);
  } else if (is_obis_structs(out)) {
    out->layout = DSMR_HAN_LAYOUT_OBIS_STRUCTS;
    s = obis_structs(&cx);
  } else if (is_burgenland(out)) {
    out->layout = DSMR_HAN_LAYOUT_LG_BURGENLAND;
    s = burgenland(&cx);
  } else if (is_obis_flat(out)) {
    out->layout = DSMR_HAN_LAYOUT_OBIS_FLAT;
    s = obis_flat(&cx);
  } else {
    return DSMR_HAN_UNKNOWN_LAYOUT;
  }
done:
  if (s == DSMR_HAN_OK && !out->has_clock && out->has_header_time) {
    out->has_clock = 1;
    out->clock = out->header_time;
  }
  return s;
}

/* ---- mapping ----------------------------------------------------------- */

struct kind_rule {
  const char *type;
  uint8_t unit;
  enum dsmr_ds_type ds;
};

/* The types mapper.c gives the same OBIS kinds (its number_rules). */
static const struct kind_rule kind_rules[] = {
    [OBIS_ENERGY] = {"dsmr_energy", DSMR_DLMS_UNIT_WH, DSMR_DS_DERIVE},
    [OBIS_REACTIVE_ENERGY] = {"dsmr_reactive_energy", DSMR_DLMS_UNIT_VARH,
                              DSMR_DS_DERIVE},
    [OBIS_POWER] = {"power", DSMR_DLMS_UNIT_W, DSMR_DS_GAUGE},
    [OBIS_REACTIVE_POWER] = {"dsmr_reactive_power", DSMR_DLMS_UNIT_VAR,
                             DSMR_DS_GAUGE},
    [OBIS_APPARENT_POWER] = {"dsmr_apparent_power", DSMR_DLMS_UNIT_VA,
                             DSMR_DS_GAUGE},
    [OBIS_VOLTAGE] = {"voltage", DSMR_DLMS_UNIT_V, DSMR_DS_GAUGE},
    [OBIS_CURRENT] = {"current", DSMR_DLMS_UNIT_A, DSMR_DS_GAUGE},
    [OBIS_FREQUENCY] = {"frequency", DSMR_DLMS_UNIT_HZ, DSMR_DS_GAUGE},
    [OBIS_POWER_FACTOR] = {"dsmr_power_factor", DSMR_DLMS_UNIT_NONE,
                           DSMR_DS_GAUGE},
};

static const int64_t pow10_i[19] = {1,
                                    10,
                                    100,
                                    1000,
                                    10000,
                                    100000,
                                    1000000,
                                    10000000,
                                    100000000,
                                    1000000000,
                                    10000000000,
                                    100000000000,
                                    1000000000000,
                                    10000000000000,
                                    100000000000000,
                                    1000000000000000,
                                    10000000000000000,
                                    100000000000000000,
                                    1000000000000000000};

static void add_error(struct dsmr_telegram *t, unsigned line, const char *why,
                      const struct dsmr_obis *o) {
  if (t->errors++ == 0) {
    t->first_error_line = line;
    t->first_error = why;
    snprintf(t->first_error_obis, sizeof t->first_error_obis, "%u-%u:%u.%u.%u",
             o->a, o->b, o->c, o->d, o->e);
  }
}

unsigned dsmr_han_map(const struct dsmr_han_list *l, struct dsmr_telegram *t) {
  t->nobjects = t->unknown_objects = t->nreadings = 0;
  t->errors = t->first_error_line = 0;
  t->first_error = NULL;
  t->first_error_obis[0] = 0;
  /* no HAN value is read without its unit (dsmr_map_telegram's count) */
  t->unitless = 0;
  t->unitless_rows[0] = t->unitless_rows[1] = 0;
  t->unitless_new[0] = 0;
  memset(&t->info, 0, sizeof t->info);
  t->info.header.ptr = (const char *)l->list_id;
  t->info.header.len = l->list_id ? l->list_id_len : 0;
  t->info.equipment_id.ptr = (const char *)l->meter_id;
  t->info.equipment_id.len = l->meter_id ? l->meter_id_len : 0;
  if (l->has_clock) {
    int64_t utc;
    if (dsmr_cosem_datetime_utc(&l->clock, &utc) == 0) {
      t->info.has_meter_time = 1;
      t->info.meter_time = utc;
    }
  }
  for (unsigned i = 0; i < l->nvalues; i++) {
    const struct dsmr_han_value *v = &l->values[i];
    if (!v->has_obis)
      continue;
    t->nobjects++;
    struct dsmr_obis o = v->obis;
    if (o.a != 1 || v->type != DSMR_HAN_NUMBER)
      continue; /* ids and clock: info above; other objects not stored */
    if (o.b == 1)
      o.b = 0; /* B 0 and 1 both mean the electricity meter */
    const struct obis_entry *row = dsmr_obis_find(&o);
    if (!row || row->kind >= sizeof kind_rules / sizeof kind_rules[0] ||
        !kind_rules[row->kind].type) {
      t->unknown_objects++;
      continue;
    }
    const struct kind_rule *k = &kind_rules[row->kind];
    unsigned line = i + 1;
    if (v->unit != k->unit &&
        !(k->unit == DSMR_DLMS_UNIT_NONE && v->unit == 0)) {
      add_error(t, line, "unexpected unit", &o);
      continue;
    }
    if (t->nreadings >= DSMR_MAX_READINGS) {
      add_error(t, line, "too many readings", &o);
      continue;
    }
    int s = v->scaler;
    int64_t derive = 0;
    double gauge = 0;
    if (s > 18 || s < -18) {
      add_error(t, line, "scaler out of range", &o);
      continue;
    }
    if (k->ds == DSMR_DS_DERIVE) {
      int64_t x;
      if (s >= 0) {
        if (__builtin_mul_overflow(v->raw, pow10_i[s], &x)) {
          add_error(t, line, "value out of range", &o);
          continue;
        }
      } else {
        if (v->raw % pow10_i[-s] != 0) {
          add_error(t, line, "energy not a whole Wh", &o);
          continue;
        }
        x = v->raw / pow10_i[-s];
      }
      derive = x;
    } else {
      gauge = s >= 0 ? (double)v->raw * (double)pow10_i[s]
                     : (double)v->raw / (double)pow10_i[-s];
    }
    /* every field: the others 0 */
    t->readings[t->nreadings++] =
        (struct dsmr_reading){.type = k->type,
                              .type_instance = row->type_instance,
                              .ds = k->ds,
                              .derive = derive,
                              .gauge = gauge,
                              .time_kind = DSMR_AT_TELEGRAM,
                              .line = line};
  }
  return t->errors;
}

/* ---- formatting -------------------------------------------------------- */

char *dsmr_han_value_decimal(const struct dsmr_han_value *v, char *buf,
                             size_t size) {
  char digits[24];
  uint64_t mag = v->raw < 0 ? (uint64_t)0 - (uint64_t)v->raw : (uint64_t)v->raw;
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)mag);
  const char *sign = v->raw < 0 ? "-" : "";
  int s = v->scaler;
  if (mag == 0) {
    snprintf(buf, size, "0");
  } else if (s >= 0) {
    snprintf(buf, size, "%s%s%.*s", sign, digits, s,
             "000000000000000000000000000000000000000000000000000000000000"
             "0000000000000000000000000000000000000000000000000000000000000"
             "0000000000000");
  } else {
    int k = -s;
    char tmp[160];
    int pad = k + 1 - n > 0 ? k + 1 - n : 0;
    if (pad + n >= (int)sizeof tmp) {
      snprintf(buf, size, "?");
      return buf;
    }
    memset(tmp, '0', (size_t)pad);
    memcpy(tmp + pad, digits, (size_t)n);
    int len = pad + n, ip = len - k;
    /* strip trailing zeros of the fraction */
    while (len > ip && tmp[len - 1] == '0')
      len--;
    if (len == ip)
      snprintf(buf, size, "%s%.*s", sign, ip, tmp);
    else
      snprintf(buf, size, "%s%.*s.%.*s", sign, ip, tmp, len - ip, tmp + ip);
  }
  return buf;
}

const char *dsmr_dlms_unit_name(unsigned unit) {
  switch (unit) {
  case DSMR_DLMS_UNIT_W:
    return "W";
  case DSMR_DLMS_UNIT_VA:
    return "VA";
  case DSMR_DLMS_UNIT_VAR:
    return "var";
  case DSMR_DLMS_UNIT_WH:
    return "Wh";
  case DSMR_DLMS_UNIT_VAH:
    return "VAh";
  case DSMR_DLMS_UNIT_VARH:
    return "varh";
  case DSMR_DLMS_UNIT_A:
    return "A";
  case DSMR_DLMS_UNIT_V:
    return "V";
  case DSMR_DLMS_UNIT_HZ:
    return "Hz";
  case DSMR_DLMS_UNIT_NONE:
    return "";
  }
  return NULL;
}

void dsmr_han_obis_format(const struct dsmr_obis *o, char buf[24]) {
  snprintf(buf, 24, "%u-%u:%u.%u.%u.%u", o->a, o->b, o->c, o->d, o->e, o->f);
}

int dsmr_han_is_dsmr_telegram(const uint8_t *p, size_t len) {
  return len > 0 && p[0] == '/';
}

const char *dsmr_han_status_name(enum dsmr_han_status s) {
  switch (s) {
  case DSMR_HAN_OK:
    return "ok";
  case DSMR_HAN_NOT_NOTIFICATION:
    return "not a data-notification";
  case DSMR_HAN_BAD_APDU:
    return "data-notification cut short";
  case DSMR_HAN_BAD_AXDR:
    return "notification body is not valid A-XDR";
  case DSMR_HAN_UNKNOWN_LAYOUT:
    return "unknown list layout";
  case DSMR_HAN_TOO_MANY_VALUES:
    return "too many registers";
  }
  return "?";
}

const char *dsmr_han_layout_name(enum dsmr_han_layout l) {
  switch (l) {
  case DSMR_HAN_LAYOUT_UNKNOWN:
    return "unknown";
  case DSMR_HAN_LAYOUT_OBIS_STRUCTS:
    return "obis-structures";
  case DSMR_HAN_LAYOUT_OBIS_FLAT:
    return "obis-flat";
  case DSMR_HAN_LAYOUT_KAIFA_POSITIONS:
    return "kaifa-positions";
  case DSMR_HAN_LAYOUT_LG_CAPTURE:
    return "lg-capture-list";
  case DSMR_HAN_LAYOUT_AT_COMPACT:
    return "austria-compact";
  case DSMR_HAN_LAYOUT_LG_BURGENLAND:
    return "lg-burgenland";
  case DSMR_HAN_LAYOUT_OCTETS:
    return "octet-string";
  }
  return "?";
}
