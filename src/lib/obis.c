/* The OBIS table: names for listings and the mapper's treatment of every
 * object we know, sorted by key (tests/test_mapper.c checks the order;
 * dsmr-cat and the tests walk it).
 *
 * The mapper looks up every object of every telegram, so lookup is on the
 * hot path: a binary search over the rows takes 7 rounds of
 * hard-to-predict branches per object. Lookup is instead one
 * multiplicative hash into a 512-slot index that is perfect for this table
 * (no two rows share a slot), so it is one probe and one key comparison
 * (dsmr_obis_find in obis_table.h). HACKING.md ("Where the time goes")
 * has what each cost.
 *
 * The rows are written once, in OBIS_ROWS, and expanded three times: into
 * the table, into an enum of row numbers, and into the slot index with
 * designated initializers whose positions are computed by the compiler.
 * So the index can never be out of step with the table, and a new row
 * that collides with another makes the compiler complain (-Woverride-init,
 * part of -Wextra with gcc; -Winitializer-overrides with clang), and
 * tests/test_mapper.c fail ("every row found by lookup"). Then choose
 * another OBIS_HASH_MULT (obis_table.h): tools/obis-hash.py finds one.
 * The same goes for the second index, below, by which the parser knows
 * ids by their text. */
#include "obis_table.h"
#include "mapper.h"

#include <stddef.h>

/* X(a, b, c, d, e, kind, time_group, type_instance, name), sorted by
 * a, b, c, d, e. M(...) is the same for M-Bus objects, which are stored
 * once under B = 1 and stand for channels B = 1..4. */
/* clang-format off */
#define OBIS_ROWS(X, M) \
  X(0, 0, 1, 0, 0, OBIS_INFO_TIME, 1, NULL, "Date and time")                                   \
  X(0, 0, 17, 0, 0, OBIS_THRESHOLD, 0, "threshold", "Power threshold")                         \
  X(0, 0, 42, 0, 0, OBIS_NAME_ONLY, 0, NULL, "Logical device name")                            \
  X(0, 0, 96, 1, 0, OBIS_INFO_EQUIPMENT_ALT, 0, NULL, "Equipment identifier")                  \
  X(0, 0, 96, 1, 1, OBIS_INFO_EQUIPMENT, 0, NULL, "Equipment identifier")                      \
  X(0, 0, 96, 1, 4, OBIS_INFO_VERSION_BE, 0, NULL, "Version information (e-MUCS)")             \
  X(0, 0, 96, 3, 10, OBIS_NAME_ONLY, 0, NULL, "Breaker state")                                 \
  X(0, 0, 96, 7, 9, OBIS_COUNT, 0, "power_failures_long", "Long power failures in any phase")  \
  X(0, 0, 96, 7, 21, OBIS_COUNT, 0, "power_failures", "Power failures in any phase")           \
  X(0, 0, 96, 13, 0, OBIS_INFO_TEXT, 0, NULL, "Text message")                                  \
  X(0, 0, 96, 13, 1, OBIS_NAME_ONLY, 0, NULL, "Text message code")                             \
  X(0, 0, 96, 14, 0, OBIS_TARIFF, 0, "", "Tariff indicator")                                   \
  X(0, 0, 98, 1, 0, OBIS_PEAK_HISTORY, 0, "demand_peak_history", "Monthly history")            \
  M(0, 1, 24, 1, 0, OBIS_MBUS_TYPE, 0, NULL, "M-Bus device type")                              \
  M(0, 1, 24, 2, 1, OBIS_MBUS_READING, 1, NULL, "M-Bus reading")                               \
  M(0, 1, 24, 2, 3, OBIS_MBUS_READING, 1, NULL, "M-Bus reading (not temperature corrected)")   \
  M(0, 1, 24, 3, 0, OBIS_MBUS_READING_V3, 1, NULL, "M-Bus reading (DSMR 3)")                   \
  M(0, 1, 24, 4, 0, OBIS_NAME_ONLY, 0, NULL, "M-Bus valve position")                           \
  M(0, 1, 96, 1, 0, OBIS_NAME_ONLY, 0, NULL, "M-Bus equipment identifier")                     \
  M(0, 1, 96, 1, 1, OBIS_NAME_ONLY, 0, NULL, "M-Bus equipment identifier")                     \
  X(1, 0, 0, 0, 0, OBIS_NAME_ONLY, 0, NULL, "Meter serial number")                             \
  X(1, 0, 0, 2, 0, OBIS_NAME_ONLY, 0, NULL, "Firmware version")                                \
  X(1, 0, 1, 4, 0, OBIS_POWER, 0, "demand_average", "Current average demand (quarter hour)")   \
  X(1, 0, 1, 6, 0, OBIS_PEAK, 1, "demand_peak_month", "Peak demand this month")                \
  X(1, 0, 1, 7, 0, OBIS_POWER, 0, "import", "Power imported")                                  \
  X(1, 0, 1, 8, 0, OBIS_ENERGY, 0, "import", "Energy imported")                                \
  X(1, 0, 1, 8, 1, OBIS_ENERGY, 0, "import_t1", "Energy imported, tariff 1")                   \
  X(1, 0, 1, 8, 2, OBIS_ENERGY, 0, "import_t2", "Energy imported, tariff 2")                   \
  X(1, 0, 1, 8, 3, OBIS_ENERGY, 0, "import_t3", "Energy imported, tariff 3")                   \
  X(1, 0, 1, 8, 4, OBIS_ENERGY, 0, "import_t4", "Energy imported, tariff 4")                   \
  X(1, 0, 2, 7, 0, OBIS_POWER, 0, "export", "Power exported")                                  \
  X(1, 0, 2, 8, 0, OBIS_ENERGY, 0, "export", "Energy exported")                                \
  X(1, 0, 2, 8, 1, OBIS_ENERGY, 0, "export_t1", "Energy exported, tariff 1")                   \
  X(1, 0, 2, 8, 2, OBIS_ENERGY, 0, "export_t2", "Energy exported, tariff 2")                   \
  X(1, 0, 2, 8, 3, OBIS_ENERGY, 0, "export_t3", "Energy exported, tariff 3")                   \
  X(1, 0, 2, 8, 4, OBIS_ENERGY, 0, "export_t4", "Energy exported, tariff 4")                   \
  X(1, 0, 3, 7, 0, OBIS_REACTIVE_POWER, 0, "import", "Reactive power imported")                \
  X(1, 0, 3, 8, 0, OBIS_REACTIVE_ENERGY, 0, "import", "Reactive energy imported")              \
  X(1, 0, 3, 8, 1, OBIS_REACTIVE_ENERGY, 0, "import_t1", "Reactive energy imported, tariff 1") \
  X(1, 0, 3, 8, 2, OBIS_REACTIVE_ENERGY, 0, "import_t2", "Reactive energy imported, tariff 2") \
  X(1, 0, 3, 8, 3, OBIS_REACTIVE_ENERGY, 0, "import_t3", "Reactive energy imported, tariff 3") \
  X(1, 0, 3, 8, 4, OBIS_REACTIVE_ENERGY, 0, "import_t4", "Reactive energy imported, tariff 4") \
  X(1, 0, 4, 7, 0, OBIS_REACTIVE_POWER, 0, "export", "Reactive power exported")                \
  X(1, 0, 4, 8, 0, OBIS_REACTIVE_ENERGY, 0, "export", "Reactive energy exported")              \
  X(1, 0, 4, 8, 1, OBIS_REACTIVE_ENERGY, 0, "export_t1", "Reactive energy exported, tariff 1") \
  X(1, 0, 4, 8, 2, OBIS_REACTIVE_ENERGY, 0, "export_t2", "Reactive energy exported, tariff 2") \
  X(1, 0, 4, 8, 3, OBIS_REACTIVE_ENERGY, 0, "export_t3", "Reactive energy exported, tariff 3") \
  X(1, 0, 4, 8, 4, OBIS_REACTIVE_ENERGY, 0, "export_t4", "Reactive energy exported, tariff 4") \
  X(1, 0, 5, 7, 0, OBIS_REACTIVE_POWER, 0, "q1", "Reactive power, quadrant 1")                 \
  X(1, 0, 5, 8, 0, OBIS_REACTIVE_ENERGY, 0, "q1", "Reactive energy, quadrant 1")               \
  X(1, 0, 6, 7, 0, OBIS_REACTIVE_POWER, 0, "q2", "Reactive power, quadrant 2")                 \
  X(1, 0, 6, 8, 0, OBIS_REACTIVE_ENERGY, 0, "q2", "Reactive energy, quadrant 2")               \
  X(1, 0, 7, 7, 0, OBIS_REACTIVE_POWER, 0, "q3", "Reactive power, quadrant 3")                 \
  X(1, 0, 7, 8, 0, OBIS_REACTIVE_ENERGY, 0, "q3", "Reactive energy, quadrant 3")               \
  X(1, 0, 8, 7, 0, OBIS_REACTIVE_POWER, 0, "q4", "Reactive power, quadrant 4")                 \
  X(1, 0, 8, 8, 0, OBIS_REACTIVE_ENERGY, 0, "q4", "Reactive energy, quadrant 4")               \
  X(1, 0, 9, 7, 0, OBIS_APPARENT_POWER, 0, "import", "Apparent power imported")                \
  X(1, 0, 10, 7, 0, OBIS_APPARENT_POWER, 0, "export", "Apparent power exported")               \
  X(1, 0, 13, 7, 0, OBIS_POWER_FACTOR, 0, "total", "Power factor")                             \
  X(1, 0, 14, 7, 0, OBIS_FREQUENCY, 0, "", "Frequency")                                        \
  X(1, 0, 15, 8, 0, OBIS_ENERGY, 0, "absolute", "Energy, absolute sum of import and export")   \
  X(1, 0, 16, 7, 0, OBIS_POWER, 0, "net", "Power, net (import minus export)")                  \
  X(1, 0, 21, 7, 0, OBIS_POWER, 0, "import_l1", "Power imported, L1")                          \
  X(1, 0, 22, 7, 0, OBIS_POWER, 0, "export_l1", "Power exported, L1")                          \
  X(1, 0, 23, 7, 0, OBIS_REACTIVE_POWER, 0, "import_l1", "Reactive power imported, L1")        \
  X(1, 0, 24, 7, 0, OBIS_REACTIVE_POWER, 0, "export_l1", "Reactive power exported, L1")        \
  X(1, 0, 29, 7, 0, OBIS_APPARENT_POWER, 0, "import_l1", "Apparent power imported, L1")        \
  X(1, 0, 30, 7, 0, OBIS_APPARENT_POWER, 0, "export_l1", "Apparent power exported, L1")        \
  X(1, 0, 31, 4, 0, OBIS_CURRENT, 0, "limit_l1", "Current limit (fuse), L1")                   \
  X(1, 0, 31, 7, 0, OBIS_CURRENT, 0, "l1", "Current, L1")                                      \
  X(1, 0, 32, 7, 0, OBIS_VOLTAGE, 0, "l1", "Voltage, L1")                                      \
  X(1, 0, 32, 32, 0, OBIS_COUNT, 0, "voltage_sags_l1", "Voltage sags, L1")                     \
  X(1, 0, 32, 36, 0, OBIS_COUNT, 0, "voltage_swells_l1", "Voltage swells, L1")                 \
  X(1, 0, 33, 7, 0, OBIS_POWER_FACTOR, 0, "l1", "Power factor, L1")                            \
  X(1, 0, 41, 7, 0, OBIS_POWER, 0, "import_l2", "Power imported, L2")                          \
  X(1, 0, 42, 7, 0, OBIS_POWER, 0, "export_l2", "Power exported, L2")                          \
  X(1, 0, 43, 7, 0, OBIS_REACTIVE_POWER, 0, "import_l2", "Reactive power imported, L2")        \
  X(1, 0, 44, 7, 0, OBIS_REACTIVE_POWER, 0, "export_l2", "Reactive power exported, L2")        \
  X(1, 0, 49, 7, 0, OBIS_APPARENT_POWER, 0, "import_l2", "Apparent power imported, L2")        \
  X(1, 0, 50, 7, 0, OBIS_APPARENT_POWER, 0, "export_l2", "Apparent power exported, L2")        \
  X(1, 0, 51, 4, 0, OBIS_CURRENT, 0, "limit_l2", "Current limit (fuse), L2")                   \
  X(1, 0, 51, 7, 0, OBIS_CURRENT, 0, "l2", "Current, L2")                                      \
  X(1, 0, 52, 7, 0, OBIS_VOLTAGE, 0, "l2", "Voltage, L2")                                      \
  X(1, 0, 52, 32, 0, OBIS_COUNT, 0, "voltage_sags_l2", "Voltage sags, L2")                     \
  X(1, 0, 52, 36, 0, OBIS_COUNT, 0, "voltage_swells_l2", "Voltage swells, L2")                 \
  X(1, 0, 53, 7, 0, OBIS_POWER_FACTOR, 0, "l2", "Power factor, L2")                            \
  X(1, 0, 61, 7, 0, OBIS_POWER, 0, "import_l3", "Power imported, L3")                          \
  X(1, 0, 62, 7, 0, OBIS_POWER, 0, "export_l3", "Power exported, L3")                          \
  X(1, 0, 63, 7, 0, OBIS_REACTIVE_POWER, 0, "import_l3", "Reactive power imported, L3")        \
  X(1, 0, 64, 7, 0, OBIS_REACTIVE_POWER, 0, "export_l3", "Reactive power exported, L3")        \
  X(1, 0, 69, 7, 0, OBIS_APPARENT_POWER, 0, "import_l3", "Apparent power imported, L3")        \
  X(1, 0, 70, 7, 0, OBIS_APPARENT_POWER, 0, "export_l3", "Apparent power exported, L3")        \
  X(1, 0, 71, 4, 0, OBIS_CURRENT, 0, "limit_l3", "Current limit (fuse), L3")                   \
  X(1, 0, 71, 7, 0, OBIS_CURRENT, 0, "l3", "Current, L3")                                      \
  X(1, 0, 72, 7, 0, OBIS_VOLTAGE, 0, "l3", "Voltage, L3")                                      \
  X(1, 0, 72, 32, 0, OBIS_COUNT, 0, "voltage_sags_l3", "Voltage sags, L3")                     \
  X(1, 0, 72, 36, 0, OBIS_COUNT, 0, "voltage_swells_l3", "Voltage swells, L3")                 \
  X(1, 0, 73, 7, 0, OBIS_POWER_FACTOR, 0, "l3", "Power factor, L3")                            \
  X(1, 0, 99, 1, 0, OBIS_NAME_ONLY, 0, NULL, "Load profile")                                   \
  X(1, 0, 99, 97, 0, OBIS_INFO_FAILURE_LOG, 0, NULL, "Power failure event log")                \
  X(1, 1, 31, 4, 0, OBIS_CURRENT_LIMITS, 0, NULL, "Current limits, import and export")         \
  X(1, 3, 0, 2, 8, OBIS_INFO_VERSION, 0, NULL, "DSMR version")

/* clang-format on */

#define AS_ENTRY(a, b, c, d, e, kind, time_group, type_instance, name)         \
  {OBIS_KEY(a, b, c, d, e), kind, time_group, type_instance, name},

const struct obis_entry dsmr_obis_table[] = {OBIS_ROWS(AS_ENTRY, AS_ENTRY)};

const unsigned dsmr_obis_table_len =
    sizeof(dsmr_obis_table) / sizeof(dsmr_obis_table[0]);

/* Row numbers by name, e.g. ROW_1_0_1_8_1: the same expansion order as the
 * table. A duplicate row would be a duplicate enumerator: a compile error. */
#define AS_ROW_NAME(a, b, c, d, e, ...) ROW_##a##_##b##_##c##_##d##_##e,
enum { OBIS_ROWS(AS_ROW_NAME, AS_ROW_NAME) OBIS_ROW_COUNT };

_Static_assert(OBIS_ROW_COUNT < 255, "slot index holds row + 1 in a byte");
_Static_assert(OBIS_ROW_COUNT <= 128,
               "the mapper's unitless_rows has a bit for each row");

/* slot -> row + 1, or 0 for no row. Two rows in one slot would be the same
 * designator twice: a compiler warning (an error with --enable-werror). */
#define AS_SLOT(a, b, c, d, e, ...)                                            \
  [OBIS_HASH(OBIS_KEY(a, b, c, d, e))] = ROW_##a##_##b##_##c##_##d##_##e + 1,

const uint8_t dsmr_obis_slot[1u << OBIS_HASH_BITS] = {
    OBIS_ROWS(AS_SLOT, AS_SLOT)};

/* ---- ids by their text -------------------------------------------------
 *
 * Reading an id digit by digit is a branch per character, on every object
 * (HACKING.md, "Where the time goes", has the cost). The ids of this table
 * (M-Bus ones on each channel) are instead recognised by their text: the
 * parser takes the id's bytes as two words,
 * hashes them into a slot index that is perfect for these texts, and
 * compares 16 bytes (obis_table.h, dsmr_obis_find_text). The texts are
 * computed here by the compiler from the rows' numbers: the canonical
 * decimal form, which is the only one the digit parser gives those
 * numbers for, so a text that matches means the same object. */

/* The decimal text of v (0..255), first digit lowest, and its length. */
#define DEC_LEN(v) ((v) >= 100 ? 3 : (v) >= 10 ? 2 : 1)
#define DEC_CHAR(v) ((uint64_t)('0' + (v) % 10))
#define DEC_TEXT(v)                                                            \
  ((v) >= 100                                                                  \
       ? DEC_CHAR((v) / 100) | DEC_CHAR((v) / 10) << 8 | DEC_CHAR(v) << 16     \
   : (v) >= 10 ? DEC_CHAR((v) / 10) | DEC_CHAR(v) << 8                         \
               : DEC_CHAR(v))
/* "a-b:c." (a and b one digit: 6..8 bytes) and "d.e" (3..7 bytes). */
#define HEAD_LEN(c) (5 + DEC_LEN(c))
#define HEAD(a, b, c)                                                          \
  (DEC_CHAR(a) | (uint64_t)'-' << 8 | DEC_CHAR(b) << 16 |                      \
   (uint64_t)':' << 24 | DEC_TEXT(c) << 32 |                                   \
   (uint64_t)'.' << (8 * (4 + DEC_LEN(c))))
#define TAIL(d, e)                                                             \
  (DEC_TEXT(d) | (uint64_t)'.' << (8 * DEC_LEN(d)) |                           \
   DEC_TEXT(e) << (8 * (DEC_LEN(d) + 1)))
/* "a-b:c.d.e" as bytes 0..7 and 8..15 (at most 15 bytes, zeros after). */
#define TEXT_LO(a, b, c, d, e)                                                 \
  (HEAD(a, b, c) | TAIL(d, e) << (8 * HEAD_LEN(c) - 8) << 8)
#define TEXT_HI(a, b, c, d, e) (TAIL(d, e) >> (64 - 8 * HEAD_LEN(c)))

/* The texts, with the channels of M-Bus rows spelled out: X rows give one
 * text, M rows four. TXT(a, b, ...) names a text, ROW(...) its row. */
#define TXT(a, b, c, d, e) TXT_##a##_##b##_##c##_##d##_##e
#define ROW(a, b, c, d, e) ROW_##a##_##b##_##c##_##d##_##e
#define ON_CHANNELS(F, a, c, d, e)                                             \
  F(a, 1, c, d, e, ROW(a, 1, c, d, e))                                         \
  F(a, 2, c, d, e, ROW(a, 1, c, d, e))                                         \
  F(a, 3, c, d, e, ROW(a, 1, c, d, e))                                         \
  F(a, 4, c, d, e, ROW(a, 1, c, d, e))
#define TEXTS(F) OBIS_ROWS(TEXT_X_##F, TEXT_M_##F)

#define TEXT_X_NAME(a, b, c, d, e, ...) TXT(a, b, c, d, e),
#define TEXT_M_NAME(a, b, c, d, e, ...)                                        \
  TXT(a, 1, c, d, e), TXT(a, 2, c, d, e), TXT(a, 3, c, d, e),                  \
      TXT(a, 4, c, d, e),
enum { TXT_NONE, TEXTS(NAME) OBIS_TEXT_COUNT };
_Static_assert(OBIS_TEXT_COUNT <= 256, "text index in a byte");

#define AS_TEXT(a, b, c, d, e, row)                                            \
  {TEXT_LO(a, b, c, d, e),                                                     \
   TEXT_HI(a, b, c, d, e),                                                     \
   {a, b, c, d, e, 255},                                                       \
   row + 1},
#define TEXT_X_ENTRY(a, b, c, d, e, ...)                                       \
  AS_TEXT(a, b, c, d, e, ROW(a, b, c, d, e))
#define TEXT_M_ENTRY(a, b, c, d, e, ...) ON_CHANNELS(AS_TEXT, a, c, d, e)
const struct obis_text dsmr_obis_texts[] = {
    {0, UINT64_MAX, {0, 0, 0, 0, 0, 0}, 0}, /* TXT_NONE: matches no text */
    TEXTS(ENTRY)};
const unsigned dsmr_obis_texts_len = OBIS_TEXT_COUNT;

/* Only one-digit A and B fit the text form above (all the table has). */
#define TEXT_X_CHECK(a, b, ...)                                                \
  _Static_assert((a) < 10 && (b) < 10, "A and B of one digit");
#define TEXT_M_CHECK TEXT_X_CHECK
TEXTS(CHECK)

/* slot -> text, or TXT_NONE. Two texts in one slot would be the same
 * designator twice: a compiler warning (an error with --enable-werror). */
#define AS_TEXT_SLOT(a, b, c, d, e, row)                                       \
  [OBIS_TEXT_HASH(TEXT_LO(a, b, c, d, e), TEXT_HI(a, b, c, d, e))] =           \
      TXT(a, b, c, d, e),
#define TEXT_X_SLOT(a, b, c, d, e, ...) AS_TEXT_SLOT(a, b, c, d, e, 0)
#define TEXT_M_SLOT(a, b, c, d, e, ...) ON_CHANNELS(AS_TEXT_SLOT, a, c, d, e)
const uint8_t dsmr_obis_text_slot[1u << OBIS_TEXT_HASH_BITS] = {TEXTS(SLOT)};

const struct obis_entry *dsmr_obis_lookup(const struct dsmr_obis *id) {
  return dsmr_obis_find(id);
}

const char *dsmr_obis_name(const struct dsmr_obis *id) {
  const struct obis_entry *e = dsmr_obis_find(id);
  return e ? e->name : NULL;
}

int dsmr_obis_group_is_time(const struct dsmr_obis *id, unsigned index) {
  const struct obis_entry *e = dsmr_obis_find(id);
  return e && e->time_group == index + 1;
}
