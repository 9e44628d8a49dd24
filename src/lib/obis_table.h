/* The library's knowledge of OBIS objects: one sorted table that says, for
 * every object we know, what it is called and how the mapper treats it,
 * and a perfect-hash index into it; and units as integers, which is how
 * the mapper checks them (number.c makes them while it reads a value).
 * Internal to libdsmr: obis.c, number.c, mapper.c and the tests use it. */
#ifndef DSMR_OBIS_TABLE_H
#define DSMR_OBIS_TABLE_H

#include <stdint.h>

#include "number.h"
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
  OBIS_PEAK_HISTORY,       /* 0-0:98.1.0 (e-MUCS): monthly peaks, each at
                              its own time */
  OBIS_CURRENT_LIMITS,     /* 1-1:31.4.0: import and export current limit */
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

/* For tests: the table and its size (it must be sorted by key). */
extern const struct obis_entry dsmr_obis_table[];
extern const unsigned dsmr_obis_table_len;

/* Lookup (see obis.c): slot = the top OBIS_HASH_BITS bits of
 * key * OBIS_HASH_MULT, and dsmr_obis_slot[slot] = row + 1 (0: no row).
 * The multiplier is one under which no two rows of the table share a slot;
 * tools/obis-hash.py finds one when rows are added. */
#define OBIS_HASH_BITS 9
#define OBIS_HASH_MULT 0x647b114c433bbaa5ULL
#define OBIS_HASH(key)                                                         \
  ((unsigned)(((key)*OBIS_HASH_MULT) >> (64 - OBIS_HASH_BITS)))

extern const uint8_t dsmr_obis_slot[1u << OBIS_HASH_BITS];

/* OBIS_KEY of an id. */
static inline uint64_t dsmr_obis_key(const struct dsmr_obis *id) {
#if defined(__GNUC__)
  /* The same number, built from the fields in memory order and then
   * byte-reversed: compilers turn that into one load and a bswap instead
   * of five loads, four shifts and four ors. */
  uint64_t mem = (uint64_t)id->a | (uint64_t)id->b << 8 |
                 (uint64_t)id->c << 16 | (uint64_t)id->d << 24 |
                 (uint64_t)id->e << 32;
  return __builtin_bswap64(mem << 24);
#else
  return OBIS_KEY(id->a, id->b, id->c, id->d, id->e);
#endif
}

/* The row of an object, or NULL when we do not know it. Inline because the
 * mapper calls it for every object of every telegram. */
static inline const struct obis_entry *
dsmr_obis_find(const struct dsmr_obis *id) {
  /* An explicit "*255" (Q3D meters) or ".255" (the DSMR 4.2.2 example
   * telegram) is the same object as no F field; any other F is an object
   * we do not know. */
  if (id->f != 255)
    return NULL;
  uint64_t key = dsmr_obis_key(id);
  /* M-Bus channels 1..4 (A = 0, B = 1..4) share the row under B = 1: those
   * are exactly the keys from OBIS_KEY(0, 1, 0, 0, 0) up to below
   * OBIS_KEY(0, 5, 0, 0, 0). */
  if (key - OBIS_KEY(0, 1, 0, 0, 0) < OBIS_KEY(0, 4, 0, 0, 0))
    key = (key & OBIS_KEY(0, 0, 255, 255, 255)) | OBIS_KEY(0, 1, 0, 0, 0);
  unsigned row = dsmr_obis_slot[OBIS_HASH(key)];
  /* Keys not in the table land on an empty slot or on another row's. */
  if (row == 0 || dsmr_obis_table[row - 1].key != key)
    return NULL;
  return &dsmr_obis_table[row - 1];
}

/* The same, out of line (for dsmr-cat and the tests). */
const struct obis_entry *dsmr_obis_lookup(const struct dsmr_obis *id);

/* Ids by their text, for the parser (see obis.c): every id of the table in
 * its canonical form "a-b:c.d.e" (M-Bus ones on channels 1..4), 9 to 15
 * bytes, as two words, bytes 0..7 and 8..15, first byte lowest, zeros
 * after the text; with its fields and its row. Slot = the top
 * OBIS_TEXT_HASH_BITS bits of (lo + hi) * OBIS_TEXT_HASH_MULT, and
 * dsmr_obis_text_slot[slot] = index of the text, where index 0 is a text
 * that matches nothing (its hi has a top byte, which an id's never has).
 * tools/obis-hash.py finds a multiplier under which no two texts share a
 * slot. */
struct obis_text {
  uint64_t lo, hi;
  struct dsmr_obis obis; /* f = 255 */
  uint8_t row;           /* 1 + its row in dsmr_obis_table */
};

#define OBIS_TEXT_HASH_BITS 10
#define OBIS_TEXT_HASH_MULT 0x2d2fe50e4473ade9ULL
#define OBIS_TEXT_HASH(lo, hi)                                                 \
  ((unsigned)((((lo) + (hi)) * OBIS_TEXT_HASH_MULT) >>                         \
              (64 - OBIS_TEXT_HASH_BITS)))

extern const struct obis_text dsmr_obis_texts[];
extern const unsigned dsmr_obis_texts_len; /* with the one at index 0 */
extern const uint8_t dsmr_obis_text_slot[1u << OBIS_TEXT_HASH_BITS];

/* The id whose text is lo, hi (hi with a zero top byte), or NULL when the
 * table has no such text. */
static inline const struct obis_text *dsmr_obis_find_text(uint64_t lo,
                                                          uint64_t hi) {
  const struct obis_text *t =
      &dsmr_obis_texts[dsmr_obis_text_slot[OBIS_TEXT_HASH(lo, hi)]];
  return t->lo == lo && t->hi == hi ? t : NULL;
}

/* ---- units as integers --------------------------------------------------
 *
 * Every value is checked against the one or two units its object allows.
 * Comparing case-insensitive strings for that cost more than reading the
 * number, so a unit becomes one integer, its key, and a check is one
 * compare: the unit's bytes with A-Z folded to a-z (only those: "m\x13"
 * must not pass for "m3"), first byte lowest, and its length in the top
 * byte (so "m" and "m\0" differ). Units of more than 7 bytes all have the
 * key DSMR_UNIT_LONG, which no unit we accept has. The number parser makes
 * the key while it checks the unit's characters anyway. */
#define DSMR_UNIT_LEN(n) ((uint64_t)(n) << 56)
#define DSMR_UNIT_KEY(n, a, b, c, d, e)                                        \
  (DSMR_UNIT_LEN(n) | (uint64_t)(a) | (uint64_t)(b) << 8 |                     \
   (uint64_t)(c) << 16 | (uint64_t)(d) << 24 | (uint64_t)(e) << 32)
#define DSMR_UNIT_NONE DSMR_UNIT_LEN(0) /* no unit written */
#define DSMR_UNIT_LONG DSMR_UNIT_LEN(8)
#define DSMR_UNIT_NEVER UINT64_MAX /* equal to no key */

/* dsmr_parse_number, and the unit's key in *unit_key (DSMR_UNIT_NONE
 * without a unit); *out and *unit_key are untouched on error. */
int dsmr_parse_number_key(struct dsmr_span group, struct dsmr_number *out,
                          uint64_t *unit_key);

#endif
