/* The OBIS table: names for listings and the mapper's treatment of every
 * object we know. Sorted by key so that a lookup is a binary search: the
 * mapper looks up every object of every telegram, so this is on the hot
 * path. tests/test_mapper.c checks the order. */
#include "obis_table.h"
#include "mapper.h"

#include <stddef.h>

/* clang-format off */
const struct obis_entry dsmr_obis_table[] = {
    {OBIS_KEY(0, 0, 1, 0, 0), OBIS_INFO_TIME, 1, NULL, "Date and time"},
    {OBIS_KEY(0, 0, 17, 0, 0), OBIS_THRESHOLD, 0, "threshold", "Power threshold"},
    {OBIS_KEY(0, 0, 42, 0, 0), OBIS_NAME_ONLY, 0, NULL, "Logical device name"},
    {OBIS_KEY(0, 0, 96, 1, 0), OBIS_INFO_EQUIPMENT_ALT, 0, NULL, "Equipment identifier"},
    {OBIS_KEY(0, 0, 96, 1, 1), OBIS_INFO_EQUIPMENT, 0, NULL, "Equipment identifier"},
    {OBIS_KEY(0, 0, 96, 1, 4), OBIS_INFO_VERSION_BE, 0, NULL, "Version information (e-MUCS)"},
    {OBIS_KEY(0, 0, 96, 3, 10), OBIS_NAME_ONLY, 0, NULL, "Breaker state"},
    {OBIS_KEY(0, 0, 96, 7, 9), OBIS_COUNT, 0, "power_failures_long", "Long power failures in any phase"},
    {OBIS_KEY(0, 0, 96, 7, 21), OBIS_COUNT, 0, "power_failures", "Power failures in any phase"},
    {OBIS_KEY(0, 0, 96, 13, 0), OBIS_INFO_TEXT, 0, NULL, "Text message"},
    {OBIS_KEY(0, 0, 96, 13, 1), OBIS_NAME_ONLY, 0, NULL, "Text message code"},
    {OBIS_KEY(0, 0, 96, 14, 0), OBIS_TARIFF, 0, "", "Tariff indicator"},
    {OBIS_KEY(0, 0, 98, 1, 0), OBIS_NAME_ONLY, 0, NULL, "Monthly history (peaks / billing)"},
    {OBIS_KEY(0, 1, 24, 1, 0), OBIS_MBUS_TYPE, 0, NULL, "M-Bus device type"},
    {OBIS_KEY(0, 1, 24, 2, 1), OBIS_MBUS_READING, 1, NULL, "M-Bus reading"},
    {OBIS_KEY(0, 1, 24, 2, 3), OBIS_MBUS_READING, 1, NULL, "M-Bus reading (not temperature corrected)"},
    {OBIS_KEY(0, 1, 24, 3, 0), OBIS_MBUS_READING_V3, 1, NULL, "M-Bus reading (DSMR 3)"},
    {OBIS_KEY(0, 1, 24, 4, 0), OBIS_NAME_ONLY, 0, NULL, "M-Bus valve position"},
    {OBIS_KEY(0, 1, 96, 1, 0), OBIS_NAME_ONLY, 0, NULL, "M-Bus equipment identifier"},
    {OBIS_KEY(0, 1, 96, 1, 1), OBIS_NAME_ONLY, 0, NULL, "M-Bus equipment identifier"},
    {OBIS_KEY(1, 0, 0, 0, 0), OBIS_NAME_ONLY, 0, NULL, "Meter serial number"},
    {OBIS_KEY(1, 0, 0, 2, 0), OBIS_NAME_ONLY, 0, NULL, "Firmware version"},
    {OBIS_KEY(1, 0, 1, 4, 0), OBIS_POWER, 0, "demand_average", "Current average demand (quarter hour)"},
    {OBIS_KEY(1, 0, 1, 6, 0), OBIS_PEAK, 1, "demand_peak_month", "Peak demand this month"},
    {OBIS_KEY(1, 0, 1, 7, 0), OBIS_POWER, 0, "import", "Power imported"},
    {OBIS_KEY(1, 0, 1, 8, 0), OBIS_ENERGY, 0, "import", "Energy imported"},
    {OBIS_KEY(1, 0, 1, 8, 1), OBIS_ENERGY, 0, "import_t1", "Energy imported, tariff 1"},
    {OBIS_KEY(1, 0, 1, 8, 2), OBIS_ENERGY, 0, "import_t2", "Energy imported, tariff 2"},
    {OBIS_KEY(1, 0, 1, 8, 3), OBIS_ENERGY, 0, "import_t3", "Energy imported, tariff 3"},
    {OBIS_KEY(1, 0, 1, 8, 4), OBIS_ENERGY, 0, "import_t4", "Energy imported, tariff 4"},
    {OBIS_KEY(1, 0, 2, 7, 0), OBIS_POWER, 0, "export", "Power exported"},
    {OBIS_KEY(1, 0, 2, 8, 0), OBIS_ENERGY, 0, "export", "Energy exported"},
    {OBIS_KEY(1, 0, 2, 8, 1), OBIS_ENERGY, 0, "export_t1", "Energy exported, tariff 1"},
    {OBIS_KEY(1, 0, 2, 8, 2), OBIS_ENERGY, 0, "export_t2", "Energy exported, tariff 2"},
    {OBIS_KEY(1, 0, 2, 8, 3), OBIS_ENERGY, 0, "export_t3", "Energy exported, tariff 3"},
    {OBIS_KEY(1, 0, 2, 8, 4), OBIS_ENERGY, 0, "export_t4", "Energy exported, tariff 4"},
    {OBIS_KEY(1, 0, 3, 7, 0), OBIS_REACTIVE_POWER, 0, "import", "Reactive power imported"},
    {OBIS_KEY(1, 0, 3, 8, 0), OBIS_REACTIVE_ENERGY, 0, "import", "Reactive energy imported"},
    {OBIS_KEY(1, 0, 3, 8, 1), OBIS_REACTIVE_ENERGY, 0, "import_t1", "Reactive energy imported, tariff 1"},
    {OBIS_KEY(1, 0, 3, 8, 2), OBIS_REACTIVE_ENERGY, 0, "import_t2", "Reactive energy imported, tariff 2"},
    {OBIS_KEY(1, 0, 3, 8, 3), OBIS_REACTIVE_ENERGY, 0, "import_t3", "Reactive energy imported, tariff 3"},
    {OBIS_KEY(1, 0, 3, 8, 4), OBIS_REACTIVE_ENERGY, 0, "import_t4", "Reactive energy imported, tariff 4"},
    {OBIS_KEY(1, 0, 4, 7, 0), OBIS_REACTIVE_POWER, 0, "export", "Reactive power exported"},
    {OBIS_KEY(1, 0, 4, 8, 0), OBIS_REACTIVE_ENERGY, 0, "export", "Reactive energy exported"},
    {OBIS_KEY(1, 0, 4, 8, 1), OBIS_REACTIVE_ENERGY, 0, "export_t1", "Reactive energy exported, tariff 1"},
    {OBIS_KEY(1, 0, 4, 8, 2), OBIS_REACTIVE_ENERGY, 0, "export_t2", "Reactive energy exported, tariff 2"},
    {OBIS_KEY(1, 0, 4, 8, 3), OBIS_REACTIVE_ENERGY, 0, "export_t3", "Reactive energy exported, tariff 3"},
    {OBIS_KEY(1, 0, 4, 8, 4), OBIS_REACTIVE_ENERGY, 0, "export_t4", "Reactive energy exported, tariff 4"},
    {OBIS_KEY(1, 0, 5, 7, 0), OBIS_REACTIVE_POWER, 0, "q1", "Reactive power, quadrant 1"},
    {OBIS_KEY(1, 0, 5, 8, 0), OBIS_REACTIVE_ENERGY, 0, "q1", "Reactive energy, quadrant 1"},
    {OBIS_KEY(1, 0, 6, 7, 0), OBIS_REACTIVE_POWER, 0, "q2", "Reactive power, quadrant 2"},
    {OBIS_KEY(1, 0, 6, 8, 0), OBIS_REACTIVE_ENERGY, 0, "q2", "Reactive energy, quadrant 2"},
    {OBIS_KEY(1, 0, 7, 7, 0), OBIS_REACTIVE_POWER, 0, "q3", "Reactive power, quadrant 3"},
    {OBIS_KEY(1, 0, 7, 8, 0), OBIS_REACTIVE_ENERGY, 0, "q3", "Reactive energy, quadrant 3"},
    {OBIS_KEY(1, 0, 8, 7, 0), OBIS_REACTIVE_POWER, 0, "q4", "Reactive power, quadrant 4"},
    {OBIS_KEY(1, 0, 8, 8, 0), OBIS_REACTIVE_ENERGY, 0, "q4", "Reactive energy, quadrant 4"},
    {OBIS_KEY(1, 0, 9, 7, 0), OBIS_APPARENT_POWER, 0, "import", "Apparent power imported"},
    {OBIS_KEY(1, 0, 10, 7, 0), OBIS_APPARENT_POWER, 0, "export", "Apparent power exported"},
    {OBIS_KEY(1, 0, 13, 7, 0), OBIS_POWER_FACTOR, 0, "total", "Power factor"},
    {OBIS_KEY(1, 0, 14, 7, 0), OBIS_FREQUENCY, 0, "", "Frequency"},
    {OBIS_KEY(1, 0, 15, 8, 0), OBIS_ENERGY, 0, "absolute", "Energy, absolute sum of import and export"},
    {OBIS_KEY(1, 0, 16, 7, 0), OBIS_POWER, 0, "net", "Power, net (import minus export)"},
    {OBIS_KEY(1, 0, 21, 7, 0), OBIS_POWER, 0, "import_l1", "Power imported, L1"},
    {OBIS_KEY(1, 0, 22, 7, 0), OBIS_POWER, 0, "export_l1", "Power exported, L1"},
    {OBIS_KEY(1, 0, 23, 7, 0), OBIS_REACTIVE_POWER, 0, "import_l1", "Reactive power imported, L1"},
    {OBIS_KEY(1, 0, 24, 7, 0), OBIS_REACTIVE_POWER, 0, "export_l1", "Reactive power exported, L1"},
    {OBIS_KEY(1, 0, 29, 7, 0), OBIS_APPARENT_POWER, 0, "import_l1", "Apparent power imported, L1"},
    {OBIS_KEY(1, 0, 30, 7, 0), OBIS_APPARENT_POWER, 0, "export_l1", "Apparent power exported, L1"},
    {OBIS_KEY(1, 0, 31, 4, 0), OBIS_CURRENT, 0, "limit_l1", "Current limit (fuse), L1"},
    {OBIS_KEY(1, 0, 31, 7, 0), OBIS_CURRENT, 0, "l1", "Current, L1"},
    {OBIS_KEY(1, 0, 32, 7, 0), OBIS_VOLTAGE, 0, "l1", "Voltage, L1"},
    {OBIS_KEY(1, 0, 32, 32, 0), OBIS_COUNT, 0, "voltage_sags_l1", "Voltage sags, L1"},
    {OBIS_KEY(1, 0, 32, 36, 0), OBIS_COUNT, 0, "voltage_swells_l1", "Voltage swells, L1"},
    {OBIS_KEY(1, 0, 33, 7, 0), OBIS_POWER_FACTOR, 0, "l1", "Power factor, L1"},
    {OBIS_KEY(1, 0, 41, 7, 0), OBIS_POWER, 0, "import_l2", "Power imported, L2"},
    {OBIS_KEY(1, 0, 42, 7, 0), OBIS_POWER, 0, "export_l2", "Power exported, L2"},
    {OBIS_KEY(1, 0, 43, 7, 0), OBIS_REACTIVE_POWER, 0, "import_l2", "Reactive power imported, L2"},
    {OBIS_KEY(1, 0, 44, 7, 0), OBIS_REACTIVE_POWER, 0, "export_l2", "Reactive power exported, L2"},
    {OBIS_KEY(1, 0, 49, 7, 0), OBIS_APPARENT_POWER, 0, "import_l2", "Apparent power imported, L2"},
    {OBIS_KEY(1, 0, 50, 7, 0), OBIS_APPARENT_POWER, 0, "export_l2", "Apparent power exported, L2"},
    {OBIS_KEY(1, 0, 51, 4, 0), OBIS_CURRENT, 0, "limit_l2", "Current limit (fuse), L2"},
    {OBIS_KEY(1, 0, 51, 7, 0), OBIS_CURRENT, 0, "l2", "Current, L2"},
    {OBIS_KEY(1, 0, 52, 7, 0), OBIS_VOLTAGE, 0, "l2", "Voltage, L2"},
    {OBIS_KEY(1, 0, 52, 32, 0), OBIS_COUNT, 0, "voltage_sags_l2", "Voltage sags, L2"},
    {OBIS_KEY(1, 0, 52, 36, 0), OBIS_COUNT, 0, "voltage_swells_l2", "Voltage swells, L2"},
    {OBIS_KEY(1, 0, 53, 7, 0), OBIS_POWER_FACTOR, 0, "l2", "Power factor, L2"},
    {OBIS_KEY(1, 0, 61, 7, 0), OBIS_POWER, 0, "import_l3", "Power imported, L3"},
    {OBIS_KEY(1, 0, 62, 7, 0), OBIS_POWER, 0, "export_l3", "Power exported, L3"},
    {OBIS_KEY(1, 0, 63, 7, 0), OBIS_REACTIVE_POWER, 0, "import_l3", "Reactive power imported, L3"},
    {OBIS_KEY(1, 0, 64, 7, 0), OBIS_REACTIVE_POWER, 0, "export_l3", "Reactive power exported, L3"},
    {OBIS_KEY(1, 0, 69, 7, 0), OBIS_APPARENT_POWER, 0, "import_l3", "Apparent power imported, L3"},
    {OBIS_KEY(1, 0, 70, 7, 0), OBIS_APPARENT_POWER, 0, "export_l3", "Apparent power exported, L3"},
    {OBIS_KEY(1, 0, 71, 4, 0), OBIS_CURRENT, 0, "limit_l3", "Current limit (fuse), L3"},
    {OBIS_KEY(1, 0, 71, 7, 0), OBIS_CURRENT, 0, "l3", "Current, L3"},
    {OBIS_KEY(1, 0, 72, 7, 0), OBIS_VOLTAGE, 0, "l3", "Voltage, L3"},
    {OBIS_KEY(1, 0, 72, 32, 0), OBIS_COUNT, 0, "voltage_sags_l3", "Voltage sags, L3"},
    {OBIS_KEY(1, 0, 72, 36, 0), OBIS_COUNT, 0, "voltage_swells_l3", "Voltage swells, L3"},
    {OBIS_KEY(1, 0, 73, 7, 0), OBIS_POWER_FACTOR, 0, "l3", "Power factor, L3"},
    {OBIS_KEY(1, 0, 99, 1, 0), OBIS_NAME_ONLY, 0, NULL, "Load profile"},
    {OBIS_KEY(1, 0, 99, 97, 0), OBIS_INFO_FAILURE_LOG, 0, NULL, "Power failure event log"},
    {OBIS_KEY(1, 3, 0, 2, 8), OBIS_INFO_VERSION, 0, NULL, "DSMR version"},
};
/* clang-format on */

const unsigned dsmr_obis_table_len =
    sizeof(dsmr_obis_table) / sizeof(dsmr_obis_table[0]);

const struct obis_entry *dsmr_obis_lookup(const struct dsmr_obis *id) {
  unsigned b = id->b;
  /* M-Bus channels 1..4 share one row (stored under B = 1). */
  if (id->a == 0 && b >= 1 && b <= 4)
    b = 1;
  /* An explicit "*255" (Q3D meters) is the same object as no F field. */
  if (id->f != 255)
    return NULL;
  uint64_t key = OBIS_KEY(id->a, b, id->c, id->d, id->e);
  unsigned lo = 0, hi = dsmr_obis_table_len;
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (dsmr_obis_table[mid].key < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < dsmr_obis_table_len && dsmr_obis_table[lo].key == key)
    return &dsmr_obis_table[lo];
  return NULL;
}

const char *dsmr_obis_name(const struct dsmr_obis *id) {
  const struct obis_entry *e = dsmr_obis_lookup(id);
  return e ? e->name : NULL;
}

int dsmr_obis_group_is_time(const struct dsmr_obis *id, unsigned index) {
  const struct obis_entry *e = dsmr_obis_lookup(id);
  return e && e->time_group == index + 1;
}
