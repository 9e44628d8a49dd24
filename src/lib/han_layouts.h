/* From a DLMS data-notification to registers, and from registers to the
 * readings a DSMR meter produces (mapper.h), for binary HAN meters.
 *
 * 1. dsmr_han_decode: the APDU (plaintext 0F data-notification) is parsed,
 *    its body decoded (axdr.h) and the list layout chosen from the frame
 *    itself (never from a setting): the shape of the body, the list id
 *    ("AIDON_V0001", "KFM_001", "Kamstrup_V0001"), the element count, the
 *    system title's manufacturer. Layouts (HAN-NOTES 1.6):
 *     - OBIS_STRUCTS: array/structure of {OBIS, value[, scaler_unit]}
 *       (Aidon NO/SE, Austrian KSM-West Kaifa, Polish MA309);
 *     - OBIS_FLAT: one structure of OBIS, value[, scaler_unit] in a row,
 *       with bare elements between (Kaifa SE, Kamstrup with its implied
 *       list id first, EVN / Netz NOE, L&G pairs);
 *     - KAIFA_POSITIONS: KFM_001 lists 1/2/3 by position (NO, SE);
 *     - LG_CAPTURE: Landis+Gyr's capture-object list, then the values;
 *     - AT_COMPACT: the Wiener Netze / Kaernten Netz list of Iskra AM550 and
 *       Siemens IM350 (push-setup name first, values by position);
 *     - LG_BURGENLAND: Netz Burgenland's 14 bare values (L&G E450);
 *     - OCTETS: a bare octet-string body.
 *    Where the frame carries no scaler_unit, the vendor documents' scalers
 *    apply (Kaifa: mA, 0.1 V, W, Wh; Kamstrup: 0.01 A, V, W, 10 Wh; L&G:
 *    0.01 A, V, W, Wh) and the value says so (scaler_implied); the energy
 *    scaler can be overridden per meter (Swedish Kamstrup firmware sends
 *    Wh, not 10 Wh: energy_scaler 0).
 * 2. dsmr_han_map: registers -> struct dsmr_telegram readings with the SAME
 *    identifiers as DSMR (power-import, dsmr_energy-import, voltage-l1,
 *    current-l1, dsmr_reactive_power-..., ...). Value group B 0 and 1 both
 *    mean the electricity meter. Values exact: integer x 10^scaler, energy
 *    as integer Wh/varh (a value that is not a whole Wh is an error), gauges
 *    divided by an exact power of ten (as the DSMR mapper does).
 *
 * Time: every reading carries the frame's arrival (DSMR_AT_TELEGRAM), as
 * DSMR electricity values do. The meter's clock (0-0:1.0.0 or the
 * notification's date-time) goes to info.meter_time when the meter states
 * its deviation; when it sends "deviation unspecified" (0x8000: Aidon SE,
 * Kaifa NO, Kamstrup, L&G CH) the clock is left to the caller
 * (dsmr_han_list.clock, has_clock set): the input chain reads it in its
 * TimeZone (input_chain.h, tz.h).
 *
 * Zero allocation: the caller owns struct dsmr_han_list (~8 KiB; put it
 * in the per-meter state), and spans point into the APDU. */
#ifndef DSMR_HAN_LAYOUTS_H
#define DSMR_HAN_LAYOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "axdr.h"
#include "dlms_apdu.h"
#include "mapper.h"

/* A-XDR elements a body may hold (what the node array of the earlier
 * decoder held: a body refused then is refused now) */
#define DSMR_HAN_MAX_ELEMENTS 512
#define DSMR_HAN_MAX_VALUES 96

enum dsmr_han_layout {
  DSMR_HAN_LAYOUT_UNKNOWN = 0,
  DSMR_HAN_LAYOUT_OBIS_STRUCTS,
  DSMR_HAN_LAYOUT_OBIS_FLAT,
  DSMR_HAN_LAYOUT_KAIFA_POSITIONS,
  DSMR_HAN_LAYOUT_LG_CAPTURE,
  DSMR_HAN_LAYOUT_AT_COMPACT,
  DSMR_HAN_LAYOUT_LG_BURGENLAND,
  DSMR_HAN_LAYOUT_OCTETS,
};

/* Whose document supplies scalers the frame does not carry. */
enum dsmr_han_vendor {
  DSMR_HAN_VENDOR_GENERIC = 0, /* scaler 0 */
  DSMR_HAN_VENDOR_AIDON,
  DSMR_HAN_VENDOR_KAIFA,
  DSMR_HAN_VENDOR_KAMSTRUP,
  DSMR_HAN_VENDOR_LG,
};

enum dsmr_han_value_type {
  DSMR_HAN_NUMBER = 0, /* raw, scaler, unit */
  DSMR_HAN_STRING,     /* visible-string / utf8-string: bytes, len */
  DSMR_HAN_OCTETS,     /* octet-string: bytes, len */
  DSMR_HAN_DATETIME,   /* a 12-byte date-time: dt (bytes, len too) */
  DSMR_HAN_OTHER,      /* anything else (null, float, a u64 > 2^63...) */
};

/* DLMS units (Blue Book 13 Table 4) */
enum dsmr_dlms_unit {
  DSMR_DLMS_UNIT_UNKNOWN = 0,
  DSMR_DLMS_UNIT_W = 27,
  DSMR_DLMS_UNIT_VA = 28,
  DSMR_DLMS_UNIT_VAR = 29,
  DSMR_DLMS_UNIT_WH = 30,
  DSMR_DLMS_UNIT_VAH = 31,
  DSMR_DLMS_UNIT_VARH = 32,
  DSMR_DLMS_UNIT_A = 33,
  DSMR_DLMS_UNIT_V = 35,
  DSMR_DLMS_UNIT_HZ = 44,
  DSMR_DLMS_UNIT_NONE = 255,
};

struct dsmr_han_value {
  struct dsmr_obis obis; /* as sent or implied (f included) */
  uint8_t has_obis;
  uint8_t obis_implied;   /* by position or list definition, not sent */
  uint8_t type;           /* enum dsmr_han_value_type */
  uint8_t unit;           /* enum dsmr_dlms_unit (0: not known) */
  int8_t scaler;          /* value = raw x 10^scaler */
  uint8_t scaler_implied; /* from the vendor document, not the frame */
  uint8_t axdr_tag;       /* the value's A-XDR type */
  int64_t raw;
  const uint8_t *bytes; /* strings and octets, inside the APDU */
  size_t len;
  struct dsmr_cosem_datetime dt;
};

struct dsmr_han_options {
  /* Energy scaler to use instead of the vendor document's where the frame
   * carries none (Swedish Kamstrup: 0, i.e. Wh instead of 10 Wh). */
  int has_energy_scaler;
  int energy_scaler;
};

struct dsmr_han_list {
  enum dsmr_han_layout layout;
  enum dsmr_han_vendor vendor;
  const uint8_t *list_id; /* "AIDON_V0001", "KFM_001"...; NULL if none */
  size_t list_id_len;
  const uint8_t *meter_id; /* 0-0:96.1.0 / 1-1:0.0.5 / 0-0:96.1.1 ... */
  size_t meter_id_len;
  uint8_t system_title[8]; /* when the frame came encrypted */
  int has_system_title;
  uint32_t invoke_id;
  int has_header_time; /* the notification's own date-time */
  struct dsmr_cosem_datetime header_time;
  int has_clock; /* 0-0:1.0.0 if sent, else the header date-time */
  struct dsmr_cosem_datetime clock;
  unsigned nvalues;
  struct dsmr_han_value values[DSMR_HAN_MAX_VALUES];
  const uint8_t *body; /* the notification's A-XDR body, checked */
  size_t body_len;
  unsigned nelements; /* its A-XDR elements, containers included */
};

enum dsmr_han_status {
  DSMR_HAN_OK = 0,
  DSMR_HAN_NOT_NOTIFICATION, /* the APDU is not a data-notification */
  DSMR_HAN_BAD_APDU,         /* a data-notification that is cut short */
  DSMR_HAN_BAD_AXDR,         /* its body is not sound A-XDR */
  DSMR_HAN_UNKNOWN_LAYOUT,   /* sound, but no known list layout */
  DSMR_HAN_TOO_MANY_VALUES,  /* more than DSMR_HAN_MAX_VALUES registers */
};

/* Decodes a plaintext APDU. system_title: of the ciphering envelope, or
 * NULL. options may be NULL. */
enum dsmr_han_status dsmr_han_decode(const uint8_t *apdu, size_t len,
                                     const uint8_t *system_title,
                                     const struct dsmr_han_options *options,
                                     struct dsmr_han_list *out);

/* Readings of a decoded list, into t (cleared first). Returns the number
 * of errors (0 = clean; then dispatch, otherwise dispatch nothing, as for
 * DSMR). t->info.header is the list id (or empty), equipment_id the meter
 * id; t->info.has_meter_time only when the clock states its deviation. */
unsigned dsmr_han_map(const struct dsmr_han_list *l, struct dsmr_telegram *t);

/* The exact decimal of a NUMBER value after its scaler ("9.3", "250",
 * "109552250"), into buf; returns buf. */
char *dsmr_han_value_decimal(const struct dsmr_han_value *v, char *buf,
                             size_t size);

/* "W", "Wh", "var", "varh", "VA", "VAh", "V", "A", "Hz", "" (no unit), or
 * NULL for a unit these meters do not use. */
const char *dsmr_dlms_unit_name(unsigned unit);

/* "A-B:C.D.E.F" into buf (24 bytes). */
void dsmr_han_obis_format(const struct dsmr_obis *o, char buf[24]);

/* Whether a plaintext is a DSMR telegram rather than an APDU (Steiermark
 * T210-D, Luxembourg Smarty): it starts with '/'. */
int dsmr_han_is_dsmr_telegram(const uint8_t *p, size_t len);

const char *dsmr_han_status_name(enum dsmr_han_status s);
const char *dsmr_han_layout_name(enum dsmr_han_layout l);

#endif
