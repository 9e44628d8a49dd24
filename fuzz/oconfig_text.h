/* A small reader for collectd-style configuration text, for the config
 * fuzz target: collectd's own parser (liboconfig) is built into the daemon
 * and Debian ships it as no library, so the target builds its
 * oconfig_item_t trees with this instead. It accepts what a collectd.conf
 * <Plugin dsmr> block is made of:
 *
 *   Key value value ...        # a comment
 *   <Key value ...>
 *     ...
 *   </Key>
 *
 * Values: "quoted strings" (\" and \\ escapes), numbers ([+-] decimal with
 * fraction and exponent, or 0x hex: converted with strtod like collectd),
 * true/false/yes/no/on/off as booleans, and any other bare word as a
 * string. Text collectd would refuse to load (a NUL byte, an unclosed or
 * mismatched block, a line that does not start with a key, an unclosed
 * quote, blocks nested deeper than 8) gives NULL: the plugin never sees it. */
#ifndef DSMR_FUZZ_OCONFIG_TEXT_H
#define DSMR_FUZZ_OCONFIG_TEXT_H

#include <stddef.h>

#include "liboconfig/oconfig.h"

/* The tree's root stands for <Plugin dsmr>: key "Plugin", one string value
 * "dsmr", the text's top-level items as its children. Free with
 * fz_oconfig_free. */
oconfig_item_t *fz_oconfig_parse(const char *text, size_t len);
void fz_oconfig_free(oconfig_item_t *root);

#endif
