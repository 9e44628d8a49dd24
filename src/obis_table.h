/* The library's knowledge of OBIS objects: one sorted table that says, for
 * every object we know, what it is called and how the mapper treats it.
 * Internal to libdsmr (the mapper and dsmr_obis_describe use it). */
#ifndef DSMR_OBIS_TABLE_H
#define DSMR_OBIS_TABLE_H

#include <stdint.h>

#include "parser.h"

enum obis_kind {
  OBIS_NAME_ONLY = 0,      /* known, listed by name, not dispatched */
  OBIS_ENERGY,             /* kWh|Wh -> dsmr_energy Wh (DERIVE) */
  OBIS_REACTIVE_ENERGY,    /* kvarh|varh -> dsmr_reactive_energy varh */
  OBIS_POWER,              /* kW|W -> power W */
  OBIS_REACTIVE_POWER,     /* kvar|var -> dsmr_reactive_power var */
  OBIS_APPARENT_POWER,     /* kVA|VA -> dsmr_apparent_power VA */
  OBIS_VOLTAGE,            /* V */
  OBIS_CURRENT,            /* A */
  OBIS_FREQUENCY,          /* Hz */
  OBIS_POWER_FACTOR,       /* no unit */
  OBIS_COUNT,              /* no unit, integer -> count */
  OBIS_TARIFF,             /* no unit, integer -> dsmr_tariff */
  OBIS_THRESHOLD,          /* kW, kVA or A: type by unit */
  OBIS_PEAK,               /* (timestamp)(kW): a power at its own time */
  OBIS_INFO_VERSION,       /* 1-3:0.2.8 */
  OBIS_INFO_VERSION_BE,    /* 0-0:96.1.4 (e-MUCS) */
  OBIS_INFO_EQUIPMENT,     /* 0-0:96.1.1 */
  OBIS_INFO_EQUIPMENT_ALT, /* 0-0:96.1.0: used when 96.1.1 is absent */
  OBIS_INFO_TIME,          /* 0-0:1.0.0 */
  OBIS_INFO_TEXT,          /* 0-0:96.13.0 */
  OBIS_INFO_FAILURE_LOG,   /* 1-0:99.97.0 */
  OBIS_MBUS_TYPE,          /* 0-n:24.1.0 */
  OBIS_MBUS_READING,       /* 0-n:24.2.1 / 24.2.3: (timestamp)(value*unit) */
  OBIS_MBUS_READING_V3,    /* 0-n:24.3.0: DSMR 3, value on the next line */
};

struct obis_entry {
  uint64_t key;       /* OBIS_KEY(a, b, c, d, e) */
  uint8_t kind;       /* enum obis_kind */
  uint8_t time_group; /* 1 + index of a group that holds a timestamp, or 0 */
  const char *type_instance;
  const char *name;
};

/* M-Bus objects (A = 0, B = 1..4) are stored once, under B = 1. */
#define OBIS_KEY(a, b, c, d, e)                                                \
  (((uint64_t)(a) << 32) | ((uint64_t)(b) << 24) | ((uint64_t)(c) << 16) |     \
   ((uint64_t)(d) << 8) | (uint64_t)(e))

const struct obis_entry *dsmr_obis_lookup(const struct dsmr_obis *id);

/* For tests: the table and its size (it must be sorted by key). */
extern const struct obis_entry dsmr_obis_table[];
extern const unsigned dsmr_obis_table_len;

#endif
