/* Reading one <Meter "name"> block of <Plugin dsmr>. Every rejected value
 * is logged as "dsmr plugin: <Meter "name">: Option value ...; accepted:
 * ...", so that `collectd -T` tells the user what to write instead.
 *
 * Include after core/daemon/collectd.h and core/daemon/configfile.h. */
#ifndef DSMR_PLUGIN_CONFIG_H
#define DSMR_PLUGIN_CONFIG_H

#include "meter.h"

/* Fill *out from the block (defaults for what it leaves out). Returns 0,
 * or -1 after logging every problem found in the block. */
int dsmr_config_meter(const oconfig_item_t *ci, struct dsmr_meter_config *out);

#endif
