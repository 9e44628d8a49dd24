/* DLMS APDUs of HAN meters: date-time, A-XDR lengths, block transfer, the
 * ciphering envelope and the data-notification (see dlms_apdu.h). */
#include "dlms_apdu.h"

#include <stdio.h>
#include <string.h>

#include "timestamp.h"

/* ---- date-time --------------------------------------------------------- */

static const uint8_t days_in_month[13] = {0,  31, 29, 31, 30, 31, 30,
                                          31, 31, 30, 31, 30, 31};

int dsmr_cosem_datetime_parse(const uint8_t p[12],
                              struct dsmr_cosem_datetime *dt) {
  dt->year = (uint16_t)(p[0] << 8 | p[1]);
  dt->month = p[2];
  dt->day = p[3];
  dt->weekday = p[4];
  dt->hour = p[5];
  dt->minute = p[6];
  dt->second = p[7];
  dt->hundredths = p[8];
  dt->deviation = (int16_t)(uint16_t)(p[9] << 8 | p[10]);
  dt->status = p[11];
  if (dt->year == 0xFFFF || dt->month < 1 || dt->month > 12 || dt->day < 1 ||
      dt->day > days_in_month[dt->month] || dt->hour > 23 || dt->minute > 59 ||
      dt->second > 59)
    return -1;
  if (dt->month == 2 && dt->day == 29 &&
      !(dt->year % 4 == 0 && (dt->year % 100 != 0 || dt->year % 400 == 0)))
    return -1;
  return 0;
}

int dsmr_cosem_datetime_utc(const struct dsmr_cosem_datetime *dt,
                            int64_t *utc) {
  int64_t local = dsmr_days_from_civil(dt->year, dt->month, dt->day) * 86400 +
                  dt->hour * 3600 + dt->minute * 60 + dt->second;
  if (dt->deviation == DSMR_COSEM_DEVIATION_UNSPECIFIED) {
    *utc = local;
    return 1;
  }
  if (dt->deviation < -840 || dt->deviation > 840)
    return -1;
  *utc = local + (int64_t)dt->deviation * 60;
  return 0;
}

void dsmr_cosem_datetime_format(const struct dsmr_cosem_datetime *dt,
                                char buf[32]) {
  int n = snprintf(buf, 32, "%04u-%02u-%02uT%02u:%02u:%02u", (unsigned)dt->year,
                   (unsigned)dt->month, (unsigned)dt->day, (unsigned)dt->hour,
                   (unsigned)dt->minute, (unsigned)dt->second);
  if (n > 0 && n < 26 && dt->deviation != DSMR_COSEM_DEVIATION_UNSPECIFIED) {
    int off = -(int)dt->deviation;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
      off = -off;
    snprintf(buf + n, (size_t)(32 - n), "%c%02d:%02d", sign, (off / 60) % 100,
             off % 60);
  }
}

/* ---- A-XDR length ------------------------------------------------------ */

size_t dsmr_axdr_length(const uint8_t *p, size_t n, size_t *len) {
  if (n < 1)
    return 0;
  if (p[0] < 0x80) {
    *len = p[0];
    return 1;
  }
  size_t k = p[0] & 0x7F;
  if (k == 0 || k > 4 || n < 1 + k)
    return 0;
  size_t v = 0;
  for (size_t i = 1; i <= k; i++)
    v = v << 8 | p[i];
  *len = v;
  return 1 + k;
}

/* ---- general-block-transfer ------------------------------------------- */

#define GBT_LAST 0x80

void dsmr_gbt_init(struct dsmr_gbt *g, uint8_t *buf, size_t cap) {
  memset(g, 0, sizeof *g);
  g->buf = buf;
  g->cap = cap;
}

void dsmr_gbt_reset(struct dsmr_gbt *g) {
  g->len = 0;
  g->next = 0;
  g->active = g->broken = 0;
}

static enum dsmr_gbt_event refuse(struct dsmr_gbt *g, enum dsmr_gbt_event ev) {
  dsmr_gbt_reset(g);
  g->broken = 1;
  g->refused++;
  return ev;
}

enum dsmr_gbt_event dsmr_gbt_add(struct dsmr_gbt *g, const uint8_t *apdu,
                                 size_t len, const uint8_t **msg,
                                 size_t *msg_len, int *retry) {
  size_t dlen = 0, h;
  *retry = 0;
  /* E0 control block-number(2) block-number-ack(2) length data */
  if (len < 7 || apdu[0] != DSMR_DLMS_BLOCK_TRANSFER ||
      (h = dsmr_axdr_length(apdu + 6, len - 6, &dlen)) == 0 ||
      dlen != len - 6 - h)
    return g->active ? refuse(g, DSMR_GBT_MALFORMED) : DSMR_GBT_MALFORMED;
  unsigned bn = (unsigned)apdu[2] << 8 | apdu[3];
  int last = (apdu[1] & GBT_LAST) != 0;
  const uint8_t *data = apdu + 6 + h;

  if (bn == 1 && g->active) {
    /* a new message while the last one is incomplete */
    refuse(g, DSMR_GBT_MISSING);
    g->broken = 0;
    *retry = 1;
    return DSMR_GBT_MISSING;
  }
  if (!g->active) {
    if (bn != 1) {
      if (g->broken)
        return DSMR_GBT_BLOCK; /* the rest of a refused message */
      return refuse(g, DSMR_GBT_MISSING);
    }
    g->active = 1;
    g->broken = 0;
    g->len = 0;
    g->next = 1;
  }
  if (bn != g->next) {
    if (bn + 1 == g->next)
      return refuse(g, DSMR_GBT_DUPLICATE);
    return refuse(g, bn < g->next ? DSMR_GBT_OUT_OF_ORDER : DSMR_GBT_MISSING);
  }
  if (dlen > g->cap - g->len)
    return refuse(g, DSMR_GBT_TOO_LARGE);
  memcpy(g->buf + g->len, data, dlen);
  g->len += dlen;
  g->next++;
  if (!last)
    return DSMR_GBT_BLOCK;
  g->active = 0;
  g->messages++;
  *msg = g->buf;
  *msg_len = g->len;
  return DSMR_GBT_MESSAGE;
}

const char *dsmr_gbt_event_name(enum dsmr_gbt_event ev) {
  switch (ev) {
  case DSMR_GBT_BLOCK:
    return "block";
  case DSMR_GBT_MESSAGE:
    return "message";
  case DSMR_GBT_MALFORMED:
    return "malformed block";
  case DSMR_GBT_DUPLICATE:
    return "duplicated block";
  case DSMR_GBT_MISSING:
    return "missing block";
  case DSMR_GBT_OUT_OF_ORDER:
    return "block out of order";
  case DSMR_GBT_TOO_LARGE:
    return "block-transfer message too large";
  }
  return "?";
}

/* ---- ciphering envelope ------------------------------------------------ */

#define TITLE_LEN 8
#define TAG_LEN 12
#define SC_AUTH 0x10
#define SC_ENC 0x20
#define SC_COMPRESSION 0x80

enum dsmr_dlms_status dsmr_dlms_parse_ciphered(uint8_t *apdu, size_t len,
                                               struct dsmr_dlms_ciphered *c) {
  size_t body = 0, h;
  if (len < 1 || (apdu[0] != DSMR_DLMS_GLO_CIPHERING &&
                  apdu[0] != DSMR_DLMS_DED_CIPHERING))
    return DSMR_DLMS_NOT_APDU;
  if (len < 2 + TITLE_LEN + 1)
    return DSMR_DLMS_TRUNCATED;
  if (apdu[1] != TITLE_LEN)
    return DSMR_DLMS_BAD_LENGTH;
  h = dsmr_axdr_length(apdu + 10, len - 10, &body);
  if (h == 0)
    return DSMR_DLMS_BAD_LENGTH;
  h += 10;
  if (body > len - h)
    return DSMR_DLMS_TRUNCATED;
  if (body < len - h)
    return DSMR_DLMS_BAD_LENGTH;
  if (body < 5)
    return DSMR_DLMS_TRUNCATED;
  uint8_t sc = apdu[h];
  if (sc & SC_COMPRESSION || !(sc & (SC_AUTH | SC_ENC)))
    return DSMR_DLMS_UNSUPPORTED;
  size_t tag = sc & SC_AUTH ? TAG_LEN : 0;
  if (body < 5 + tag)
    return DSMR_DLMS_TRUNCATED;
  c->apdu_tag = apdu[0];
  c->system_title = apdu + 2;
  c->security_control = sc;
  c->invocation_counter = (uint32_t)apdu[h + 1] << 24 |
                          (uint32_t)apdu[h + 2] << 16 |
                          (uint32_t)apdu[h + 3] << 8 | apdu[h + 4];
  c->ciphertext = apdu + h + 5;
  c->ciphertext_len = body - 5 - tag;
  c->tag = tag ? apdu + len - TAG_LEN : NULL;
  return DSMR_DLMS_OK;
}

/* ---- data-notification ------------------------------------------------- */

enum dsmr_dlms_status
dsmr_dlms_parse_notification(const uint8_t *apdu, size_t len,
                             struct dsmr_dlms_notification *n) {
  size_t i = 5;
  if (len < 1 || apdu[0] != DSMR_DLMS_DATA_NOTIFICATION)
    return DSMR_DLMS_NOT_APDU;
  if (len < 6)
    return DSMR_DLMS_TRUNCATED;
  n->long_invoke_id = (uint32_t)apdu[1] << 24 | (uint32_t)apdu[2] << 16 |
                      (uint32_t)apdu[3] << 8 | apdu[4];
  n->has_time = 0;
  n->time_form = 0;
  if (apdu[i] == 0x00) {
    i++;
  } else if (apdu[i] == 0x0C) {
    n->time_form = 1;
    i++;
  } else if (apdu[i] == 0x09 && len > i + 1 && apdu[i + 1] == 0x0C) {
    n->time_form = 2;
    i += 2;
  } else {
    return DSMR_DLMS_BAD_LENGTH;
  }
  if (n->time_form) {
    if (len < i + 12)
      return DSMR_DLMS_TRUNCATED;
    n->has_time = dsmr_cosem_datetime_parse(apdu + i, &n->time) == 0;
    i += 12;
  }
  if (i >= len)
    return DSMR_DLMS_TRUNCATED; /* no body */
  n->body = apdu + i;
  n->body_len = len - i;
  return DSMR_DLMS_OK;
}

const char *dsmr_dlms_status_name(enum dsmr_dlms_status s) {
  switch (s) {
  case DSMR_DLMS_OK:
    return "ok";
  case DSMR_DLMS_TRUNCATED:
    return "APDU cut short";
  case DSMR_DLMS_BAD_LENGTH:
    return "APDU length wrong";
  case DSMR_DLMS_NOT_APDU:
    return "unexpected APDU";
  case DSMR_DLMS_UNSUPPORTED:
    return "unsupported security control";
  }
  return "?";
}
