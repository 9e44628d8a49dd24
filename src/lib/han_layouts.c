/* HAN list layouts and their mapping to DSMR readings (see han_layouts.h).
 *
 * The body is decoded once into nodes (axdr.c); each layout is a check of
 * the body's shape followed by a walk that adds registers: OBIS as sent or
 * implied by position, the value, and its scaler and unit as sent or as
 * the vendor document implies them. The mapping then reuses the DSMR
 * OBIS table (obis_table.h) for identifiers, so a HAN meter's 1-0:1.7.0 is
 * the same power-import as a DSMR meter's. */
#include "han_layouts.h"

#include <stdio.h>
#include <string.h>

#include "obis_table.h"

typedef struct dsmr_axdr_node node;

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

/* structure { integer scaler, enum unit } at nodes[i] */
static int is_scaler_unit(const struct dsmr_han_list *l, unsigned i) {
  const node *n = &l->nodes[i];
  return n->tag == DSMR_AXDR_STRUCTURE && n->len == 2 &&
         l->nodes[i + 1].tag == DSMR_AXDR_INTEGER &&
         l->nodes[i + 2].tag == DSMR_AXDR_ENUM;
}

/* The unit an electricity register has by its OBIS code (for lists that
 * send none). */
static uint8_t implied_unit(const struct dsmr_obis *o) {
  if (o->a != 1)
    return DSMR_DLMS_UNIT_UNKNOWN;
  unsigned c = o->c, d = o->d;
  int energy = d == 8, inst = d == 7;
  if (!energy && !inst)
    return DSMR_DLMS_UNIT_UNKNOWN;
  if (inst) {
    switch (c) {
    case 31:
    case 51:
    case 71:
    case 11:
    case 91:
      return DSMR_DLMS_UNIT_A;
    case 32:
    case 52:
    case 72:
    case 12:
      return DSMR_DLMS_UNIT_V;
    case 13:
    case 33:
    case 53:
    case 73:
      return DSMR_DLMS_UNIT_NONE;
    case 14:
      return DSMR_DLMS_UNIT_HZ;
    }
  }
  if (c >= 80)
    return DSMR_DLMS_UNIT_UNKNOWN;
  /* per phase: 21.. L1, 41.. L2, 61.. L3 repeat the totals 1.. */
  unsigned q = c >= 20 ? c % 20 : c;
  switch (q) {
  case 1:
  case 2:
    return energy ? DSMR_DLMS_UNIT_WH : DSMR_DLMS_UNIT_W;
  case 3:
  case 4:
  case 5:
  case 6:
  case 7:
  case 8:
    return energy ? DSMR_DLMS_UNIT_VARH : DSMR_DLMS_UNIT_VAR;
  case 9:
  case 10:
    return energy ? DSMR_DLMS_UNIT_VAH : DSMR_DLMS_UNIT_VA;
  }
  return DSMR_DLMS_UNIT_UNKNOWN;
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

/* Adds the register whose value is nodes[vi]; o (may be NULL) its OBIS,
 * su the index of its scaler_unit or 0 for none. */
static enum dsmr_han_status add(struct ctx *cx, const struct dsmr_obis *o,
                                int implied, unsigned vi, unsigned su) {
  struct dsmr_han_list *l = cx->l;
  if (l->nvalues >= DSMR_HAN_MAX_VALUES)
    return DSMR_HAN_TOO_MANY_VALUES;
  struct dsmr_han_value *v = &l->values[l->nvalues++];
  const node *n = &l->nodes[vi];
  /* every field but dt, which only DATETIME values have */
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
  if (dsmr_axdr_is_integer(n)) {
    if (!dsmr_axdr_is_signed(n->tag) && n->v.u > (uint64_t)INT64_MAX) {
      v->type = DSMR_HAN_OTHER;
      return DSMR_HAN_OK;
    }
    v->type = DSMR_HAN_NUMBER;
    v->raw = n->v.i;
    if (su) {
      v->scaler = (int8_t)l->nodes[su + 1].v.i;
      v->unit = (uint8_t)l->nodes[su + 2].v.u;
    } else if (o) {
      v->unit = implied_unit(o);
      if (v->unit != DSMR_DLMS_UNIT_UNKNOWN) {
        v->scaler = (int8_t)vendor_scaler(l->vendor, v->unit, cx->opt);
        v->scaler_implied = 1;
      }
    }
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

/* Landis+Gyr: the push setup's capture-object list comes first: an array
 * of {long-unsigned class, OBIS, integer attribute, long-unsigned index},
 * one per element of the body. The first of them is the push setup's own
 * attribute 2 (that list itself, element 0); the others are the values. */
static int is_lg_capture(const struct dsmr_han_list *l) {
  const node *r = &l->nodes[0], *c = &l->nodes[1];
  if (r->tag != DSMR_AXDR_STRUCTURE || r->len < 2 ||
      c->tag != DSMR_AXDR_ARRAY || c->len != r->len)
    return 0;
  for (unsigned i = 2; i < c->end; i = l->nodes[i].end) {
    const node *d = &l->nodes[i];
    if (d->tag != DSMR_AXDR_STRUCTURE || d->len != 4 ||
        l->nodes[i + 1].tag != DSMR_AXDR_LONG_UNSIGNED ||
        !is_obis(&l->nodes[i + 2]))
      return 0;
  }
  return 1;
}

static enum dsmr_han_status lg_capture(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  unsigned d = l->nodes[2].end, v = l->nodes[1].end;
  enum dsmr_han_status s = DSMR_HAN_OK;
  l->vendor = DSMR_HAN_VENDOR_LG;
  while (s == DSMR_HAN_OK && d < l->nodes[1].end && v < l->nodes[0].end) {
    struct dsmr_obis o;
    obis_from(l->nodes[d + 2].bytes, &o);
    s = add(cx, &o, 0, v, 0);
    d = l->nodes[d].end;
    v = l->nodes[v].end;
  }
  return s;
}

/* Iskra AM550 / Siemens IM350 (Wiener Netze, Kaernten Netz): push-setup
 * name 0-6:25.9.0.255 first, then serial, time, date, A+, A-, R+, R-, P+,
 * P- by position. */
static const uint8_t at_push_setup[6] = {0, 6, 25, 9, 0, 255};

static int is_at_compact(const struct dsmr_han_list *l) {
  const node *r = &l->nodes[0], *c = &l->nodes[1];
  return r->tag == DSMR_AXDR_STRUCTURE && r->len >= 10 && is_obis(c) &&
         memcmp(c->bytes, at_push_setup, 6) == 0;
}

static enum dsmr_han_status at_compact(struct ctx *cx) {
  static const struct dsmr_obis pos[10] = {
      {0, 0, 0, 0, 0, 0},   {0, 0, 96, 1, 0, 255}, {0, 0, 0, 0, 0, 0},
      {0, 0, 0, 0, 0, 0},   {1, 0, 1, 8, 0, 255},  {1, 0, 2, 8, 0, 255},
      {1, 0, 3, 8, 0, 255}, {1, 0, 4, 8, 0, 255},  {1, 0, 1, 7, 0, 255},
      {1, 0, 2, 7, 0, 255},
  };
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  unsigned k = 0;
  for (unsigned i = 1; s == DSMR_HAN_OK && i < l->nodes[0].end;
       i = l->nodes[i].end, k++) {
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
  const node *r = &l->nodes[0];
  if (r->tag != DSMR_AXDR_STRUCTURE || r->len != 14 || l->nnodes != 15)
    return 0;
  for (unsigned i = 0; i < 14; i++)
    if (l->nodes[1 + i].tag != burgenland_tags[i])
      return 0;
  return 1;
}

static enum dsmr_han_status burgenland(struct ctx *cx) {
  static const struct dsmr_obis pos[14] = {
      {1, 0, 32, 7, 0, 255}, {1, 0, 52, 7, 0, 255}, {1, 0, 72, 7, 0, 255},
      {1, 0, 31, 7, 0, 255}, {1, 0, 51, 7, 0, 255}, {1, 0, 71, 7, 0, 255},
      {1, 0, 1, 7, 0, 255},  {1, 0, 2, 7, 0, 255},  {1, 0, 1, 8, 0, 255},
      {1, 0, 2, 8, 0, 255},  {0, 0, 0, 0, 0, 0},    {0, 0, 0, 0, 0, 0},
      {0, 0, 0, 0, 0, 0},    {0, 0, 96, 1, 0, 255},
  };
  enum dsmr_han_status s = DSMR_HAN_OK;
  cx->l->vendor = DSMR_HAN_VENDOR_LG;
  for (unsigned k = 0; s == DSMR_HAN_OK && k < 14; k++)
    s = add(cx, pos[k].f == 255 ? &pos[k] : NULL, 1, 1 + k, 0);
  return s;
}

/* Kaifa KFM_001 by position (NVE list definitions): 1 element = list 1;
 * 9 / 13 = list 2 (1- / 3-phase); 14 / 18 = list 3. */
static int is_kaifa_positions(const struct dsmr_han_list *l) {
  const node *r = &l->nodes[0];
  if (r->tag != DSMR_AXDR_STRUCTURE)
    return 0;
  if (r->len == 1)
    return l->nodes[1].tag == DSMR_AXDR_DOUBLE_LONG_UNSIGNED;
  return (r->len == 9 || r->len == 13 || r->len == 14 || r->len == 18) &&
         text_is(&l->nodes[1], "KFM_001");
}

static enum dsmr_han_status kaifa_positions(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  struct dsmr_obis pos[18];
  unsigned n = l->nodes[0].len, k = 0;
  l->vendor = DSMR_HAN_VENDOR_KAIFA;
  if (n == 1) {
    pos[0] = mk(1, 0, 1, 7, 0);
  } else {
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
  enum dsmr_han_status s = DSMR_HAN_OK;
  k = 0;
  for (unsigned i = 1; s == DSMR_HAN_OK && i < l->nodes[0].end;
       i = l->nodes[i].end, k++)
    s = add(cx, &pos[k], 1, i, 0);
  return s;
}

/* {OBIS, value[, scaler_unit]} structures (Aidon, KSM-West). */
static int is_obis_structs(const struct dsmr_han_list *l) {
  const node *r = &l->nodes[0];
  if ((r->tag != DSMR_AXDR_ARRAY && r->tag != DSMR_AXDR_STRUCTURE) ||
      r->len == 0)
    return 0;
  for (unsigned i = 1; i < r->end; i = l->nodes[i].end) {
    const node *e = &l->nodes[i];
    if (e->tag != DSMR_AXDR_STRUCTURE || e->len < 2 || e->len > 3 ||
        !is_obis(&l->nodes[i + 1]))
      return 0;
    if (e->len == 3 && !is_scaler_unit(l, l->nodes[i + 2].end))
      return 0;
  }
  return 1;
}

static enum dsmr_han_status obis_structs(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  /* the list id (x-x:0.2.129.255) comes first where there is one */
  if (l->nodes[2].bytes && l->nodes[2].bytes[2] == 0 &&
      l->nodes[2].bytes[3] == 2 && l->nodes[2].bytes[4] == 129)
    l->vendor = vendor_of(&l->nodes[3]);
  for (unsigned i = 1; s == DSMR_HAN_OK && i < l->nodes[0].end;
       i = l->nodes[i].end) {
    struct dsmr_obis o;
    obis_from(l->nodes[i + 1].bytes, &o);
    unsigned v = i + 2;
    unsigned su = l->nodes[i].len == 3 ? l->nodes[v].end : 0;
    s = add(cx, &o, 0, v, su);
  }
  return s;
}

/* {OBIS, value[, scaler_unit]} as a structure at nodes[i] */
static int is_obis_item(const struct dsmr_han_list *l, unsigned i) {
  const node *e = &l->nodes[i];
  if (e->tag != DSMR_AXDR_STRUCTURE || e->len < 2 || e->len > 3 ||
      !is_obis(&l->nodes[i + 1]))
    return 0;
  return e->len == 2 || is_scaler_unit(l, l->nodes[i + 2].end);
}

/* One structure of OBIS, value[, scaler_unit] in a row, or such items as
 * structures, with bare elements between them (Kamstrup's list id, EVN's
 * date-time and meter number, KSM-West's clock pair before its items). */
static int is_obis_flat(const struct dsmr_han_list *l) {
  const node *r = &l->nodes[0];
  if (r->tag != DSMR_AXDR_STRUCTURE || r->len < 2)
    return 0;
  for (unsigned i = 1; i < r->end; i = l->nodes[i].end)
    if ((is_obis(&l->nodes[i]) && l->nodes[i].end < r->end) ||
        is_obis_item(l, i))
      return 1;
  return 0;
}

static enum dsmr_han_status obis_flat(struct ctx *cx) {
  struct dsmr_han_list *l = cx->l;
  enum dsmr_han_status s = DSMR_HAN_OK;
  unsigned end = l->nodes[0].end, i = 1;
  /* Kamstrup: the list id without its OBIS (1-1:0.2.129.255 implied) */
  if (is_text(&l->nodes[1]))
    l->vendor = vendor_of(&l->nodes[1]);
  /* a list id (x-x:0.2.129.255) comes first, if at all: the first two
   * elements are enough */
  for (unsigned j = 1, k = 0;
       l->vendor == DSMR_HAN_VENDOR_GENERIC && j < end && k < 2;
       j = l->nodes[j].end, k++) {
    unsigned o = 0;
    if (is_obis(&l->nodes[j]) && l->nodes[j].end < end)
      o = j;
    else if (is_obis_item(l, j))
      o = j + 1;
    if (o && l->nodes[o].bytes[2] == 0 && l->nodes[o].bytes[3] == 2 &&
        l->nodes[o].bytes[4] == 129) {
      l->vendor = vendor_of(&l->nodes[l->nodes[o].end]);
      break;
    }
  }
  if (l->vendor == DSMR_HAN_VENDOR_GENERIC && l->has_system_title &&
      memcmp(l->system_title, "LGZ", 3) == 0)
    l->vendor = DSMR_HAN_VENDOR_LG;
  while (s == DSMR_HAN_OK && i < end) {
    const node *n = &l->nodes[i];
    struct dsmr_obis o;
    if (is_obis(n) && n->end < end) {
      obis_from(n->bytes, &o);
      unsigned v = n->end, next = l->nodes[v].end, su = 0;
      if (next < end && is_scaler_unit(l, next)) {
        su = next;
        next = l->nodes[next].end;
      }
      s = add(cx, &o, 0, v, su);
      i = next;
      continue;
    }
    if (is_obis_item(l, i)) {
      obis_from(l->nodes[i + 1].bytes, &o);
      unsigned v = i + 2;
      s = add(cx, &o, 0, v, n->len == 3 ? l->nodes[v].end : 0);
    } else if (i == 1 && l->vendor == DSMR_HAN_VENDOR_KAMSTRUP && is_text(n)) {
      o = mk(1, 1, 0, 2, 129);
      s = add(cx, &o, 1, i, 0);
    } else {
      s = add(cx, NULL, 0, i, 0);
    }
    i = n->end;
  }
  return s;
}

enum dsmr_han_status dsmr_han_decode(const uint8_t *apdu, size_t len,
                                     const uint8_t *system_title,
                                     const struct dsmr_han_options *options,
                                     struct dsmr_han_list *out) {
  struct dsmr_dlms_notification n;
  struct ctx cx = {out, options, 0};
  out->layout = DSMR_HAN_LAYOUT_UNKNOWN;
  out->vendor = DSMR_HAN_VENDOR_GENERIC;
  out->list_id = out->meter_id = NULL;
  out->list_id_len = out->meter_id_len = 0;
  out->has_system_title = system_title != NULL;
  if (system_title)
    memcpy(out->system_title, system_title, 8);
  out->has_header_time = out->has_clock = 0;
  out->nvalues = out->nnodes = 0;

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
  if (dsmr_axdr_decode(n.body, n.body_len, 1, out->nodes, DSMR_HAN_MAX_NODES,
                       &out->nnodes, NULL) != DSMR_AXDR_OK)
    return DSMR_HAN_BAD_AXDR;

  enum dsmr_han_status s;
  const node *r = &out->nodes[0];
  if (r->tag == DSMR_AXDR_OCTET_STRING) {
    out->layout = DSMR_HAN_LAYOUT_OCTETS;
    s = add(&cx, NULL, 0, 0, 0);
  } else if (r->end == 1) {
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
    struct dsmr_reading *r = &t->readings[t->nreadings];
    memset(r, 0, sizeof *r);
    int s = v->scaler;
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
      r->derive = x;
    } else {
      r->gauge = s >= 0 ? (double)v->raw * (double)pow10_i[s]
                        : (double)v->raw / (double)pow10_i[-s];
    }
    r->type = k->type;
    r->type_instance = row->type_instance;
    r->ds = k->ds;
    r->time_kind = DSMR_AT_TELEGRAM;
    r->line = line;
    t->nreadings++;
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
