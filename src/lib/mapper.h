/* The mapper turns one framed telegram into collectd-ready readings: which
 * OBIS object becomes which identifier (type, type_instance), the exact unit
 * conversion (kWh with 3 decimals -> integer Wh), and which time a value
 * carries. It knows nothing of collectd itself: `type` strings are the names
 * in collectd's types.db and in types/dsmr.db.
 *
 * Allocation-free, and stateless but for what the caller hands it in a
 * struct dsmr_map_state: the caller owns struct dsmr_telegram (put it in
 * the per-meter state, not on a small stack: it is ~13 KiB).
 *
 * A telegram is "clean" when dsmr_map_telegram (or _state) returns 0. Any
 * malformed line, or a mapped object whose value cannot be read (wrong
 * unit, not a number), counts as an error; callers must then dispatch
 * nothing from it. Unknown objects are not errors: they are counted and
 * skipped. A value written without a unit is read in the unit of the OBIS
 * table when its number has that unit's format (kW with 3 decimals, V with
 * 1...), and counted (unitless); a wrong unit stays an error. */
#ifndef DSMR_MAPPER_H
#define DSMR_MAPPER_H

#include <stddef.h>
#include <stdint.h>

#include "parser.h"

enum dsmr_ds_type { DSMR_DS_GAUGE = 0, DSMR_DS_DERIVE = 1 };

enum dsmr_time_kind {
  DSMR_AT_TELEGRAM = 0, /* value is "now": the telegram's arrival */
  DSMR_AT_CAPTURE = 1,  /* value carries its own capture time */
};

/* What a reading means beyond its value (dsmr_reading.flags). */
enum dsmr_reading_flag {
  /* A changed value or time is news: 1-0:1.6.0, the month's peak demand,
   * on which Belgian users pay a capacity tariff. */
  DSMR_READING_PEAK = 1u << 0,
};

struct dsmr_reading {
  const char *type;          /* static string, e.g. "dsmr_energy", "power" */
  const char *type_instance; /* static string, e.g. "import_t1", "gas" */
  enum dsmr_ds_type ds;
  int64_t derive; /* when ds == DSMR_DS_DERIVE */
  double gauge;   /* when ds == DSMR_DS_GAUGE */
  enum dsmr_time_kind time_kind;
  int64_t capture_time; /* UTC seconds, when time_kind == DSMR_AT_CAPTURE */
  uint8_t channel;      /* M-Bus channel 1..4 of capture values, else 0 */
  uint8_t flags;        /* enum dsmr_reading_flag */
  unsigned line;        /* line of the object in the telegram */
};

#define DSMR_MAX_READINGS 160

/* What the plugin turns into notifications and state; spans point into the
 * frame. Empty spans when absent. */
struct dsmr_telegram_info {
  struct dsmr_span header;       /* without '/' */
  struct dsmr_span equipment_id; /* 0-0:96.1.1 (or 0-0:96.1.0), raw */
  struct dsmr_span text_message; /* 0-0:96.13.0, raw (hex in DSMR 4+) */
  int version;                   /* 1-3:0.2.8 (40, 42, 50...), 0 unknown */
  int has_meter_time;
  int64_t meter_time; /* 0-0:1.0.0, UTC */
  /* power-failure log 1-0:99.97.0: number of entries and newest entry */
  unsigned failure_log_entries;
  int64_t failure_last_end;      /* UTC of the end of the newest failure */
  int64_t failure_last_duration; /* seconds */
};

/* The errors of a telegram, for listings (dsmr-cat): the first
 * DSMR_MAX_LISTED_ERRORS of them, in order. */
#define DSMR_MAX_LISTED_ERRORS 32
struct dsmr_error {
  unsigned line;
  const char *why; /* static string */
  char obis[24];   /* the object's id, "" for a line that is no object */
};

struct dsmr_telegram {
  struct dsmr_telegram_info info;
  unsigned nobjects;
  unsigned unknown_objects;
  unsigned nreadings;
  struct dsmr_reading readings[DSMR_MAX_READINGS];
  unsigned errors;
  unsigned first_error_line;
  const char *first_error; /* static string */
  char first_error_obis[24];
  /* errors[0 .. min(errors, DSMR_MAX_LISTED_ERRORS)) */
  struct dsmr_error error_list[DSMR_MAX_LISTED_ERRORS];
  /* Values written without a unit and read in the unit of the OBIS table
   * (Smarty: "1-0:3.7.0(00.000)" is kvar): how many in this telegram.
   * With a dsmr_map_state, unitless_new names those objects ("1-0:3.7.0
   * 1-0:4.7.0") the first time a meter sends each without a unit, else it
   * is "": the plugin logs it once per meter. */
  unsigned unitless;
  uint64_t unitless_rows[2]; /* bit = row of the OBIS table (internal) */
  char unitless_new[128];
};

/* What the mapper keeps across the telegrams of one meter, held by the
 * caller (zeroed before the first telegram: `= {0}` or calloc):
 *  - which M-Bus channel has the plain name of each kind of device. The
 *    first device of a kind that sends a reading gets the plain name
 *    (`gas`), and keeps it: when it sends a placeholder for a while, a
 *    second gas meter stays `gas_chN` instead of taking `gas`.
 *  - which objects were already reported as sent without a unit.
 *  - the format of each register's value (number_shape.h): a meter writes
 *    a register the same way in every telegram ("002130.115*kWh"), so
 *    once a value has been read by the full number parser, the next
 *    telegram's value of that register is checked against that format in
 *    a few word-wide operations and converted at fixed positions; any
 *    other format goes to the full parser again. Only a cache: mapping
 *    with or without it gives the same readings. */
struct dsmr_number_shape {
  uint64_t pat[2]; /* the value's bytes as first read (16 at most) */
  uint64_t fix[2]; /* 0xFF at bytes that must equal pat */
  uint64_t dig[2]; /* 0xFF at bytes that must be digits */
  uint64_t unit_key;
  uint8_t len_tag; /* 0x80 + the length of the value; 0 = nothing learnt */
  uint8_t neg, int_end, int_digits, frac_digits, unit_off, unit_len;
  /* The mapper's reading for a value of this shape in this row, when it is
   * the same but for the value: type, kind, and the value as the digits
   * (DERIVE) or the signed digits times 10^shift (GAUGE). */
  uint8_t reading; /* 1: type, ds and shift hold it */
  uint8_t ds;      /* enum dsmr_ds_type */
  int8_t shift;
  uint8_t has_last; /* last[], last_derive and last_gauge hold a value */
  const char *type;
  /* The last value read by the reading above (its bytes, unmasked) and
   * its reading's value (DSMR_SAME_VALUE builds). */
  uint64_t last[2];
  int64_t last_derive;
  double last_gauge;
  /* to 128 bytes with 64-bit pointers, so a row's shape is at row << 7 */
  uint8_t pad[16 - sizeof(const char *) + 8];
};
#define DSMR_SHAPE_ROWS 128
/* A timestamp "YYMMDDhhmmss[X]" as last read at one place of the
 * telegram, but for its seconds, and its UTC at second 00: the next one
 * that differs at most in the seconds is that plus its seconds (mapper.c
 * says why that is exact). */
struct dsmr_time_memo {
  uint64_t head; /* bytes 0..7 (YYMMDDhh) as loaded */
  uint32_t tail; /* bytes 8, 9, the flag byte (0: none), 0x80 + length;
                    0 = nothing learnt */
  int64_t base;
};
/* A number as last read at one place of the telegram: its text (16 bytes
 * at most) and what dsmr_parse_number_key made of it. */
struct dsmr_number_memo {
  uint64_t text[2]; /* the bytes as loaded, zero after the end */
  int64_t mantissa;
  uint64_t unit_key;
  uint8_t len_tag; /* 0x80 + the length; 0 = nothing learnt */
  uint8_t decimals, unit_off, unit_len;
};
/* Numbers and timestamps outside the per-row shapes: those of objects
 * that have more than one value (M-Bus channels share a row) or are not
 * readings (version, device types, the failure log). By place, see
 * mapper.c (enum memo_slot). Only a cache, as the shapes are. */
#define DSMR_NUMBER_MEMOS 32
#define DSMR_TIME_MEMOS 24
struct dsmr_map_state {
  uint8_t plain_owner[8]; /* per kind of device: channel 1..4, 0 = none */
  uint64_t unitless_told[2];
  struct dsmr_number_shape shape[DSMR_SHAPE_ROWS]; /* by OBIS table row */
  struct dsmr_number_memo number_memo[DSMR_NUMBER_MEMOS];
  struct dsmr_time_memo time_memo[DSMR_TIME_MEMOS];
};

/* Map one frame ('/' .. '!'). Returns the number of errors (0 = clean).
 *
 * One identifier normally has one reading per telegram. The exception is
 * the e-MUCS peak history (0-0:98.1.0, `power-demand_peak_history`): one
 * reading per month, each at its own capture time, in increasing order of
 * that time. */
unsigned dsmr_map_telegram(const char *frame, size_t len,
                           struct dsmr_telegram *out);

/* The same for one meter's stream of telegrams: names of M-Bus devices
 * stay with their channel across telegrams (see struct dsmr_map_state),
 * and unitless_new is filled. dsmr_map_telegram is this with no state:
 * each telegram on its own (the first device of a kind in it that has a
 * reading gets the plain name). */
unsigned dsmr_map_telegram_state(const char *frame, size_t len,
                                 struct dsmr_telegram *out,
                                 struct dsmr_map_state *state);

/* A human-readable name for an OBIS object ("Energy imported, tariff 1"),
 * or NULL when the library does not know it. */
const char *dsmr_obis_name(const struct dsmr_obis *id);

/* Whether group `index` of this object holds a timestamp that may lack its
 * W/S flag (so only knowledge of the object can tell it from a number).
 * Flagged timestamps are recognisable anywhere by their shape. */
int dsmr_obis_group_is_time(const struct dsmr_obis *id, unsigned index);

#endif
