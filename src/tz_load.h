/* Loading the TimeZone of a meter whose clock sends local time without its
 * offset (COSEM deviation "unspecified"): a zone name (the TZif file under
 * /usr/share/zoneinfo, or $TZDIR), the absolute path of a TZif file, or a
 * POSIX TZ rule written out. Config time only (file I/O); used by the
 * plugin and by dsmr-cat. The conversions are src/lib/tz.h. */
#ifndef DSMR_TZ_LOAD_H
#define DSMR_TZ_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "tz.h"

/* The POSIX rule at the end of a TZif file of version 2 or later (its
 * "footer"): 0 with *rule / *len pointing into p; -1 with *why for a file
 * that is not TZif, is cut short, is version 1 (no footer) or has an
 * empty footer (a zone without a rule for the present). */
int dsmr_tzif_footer(const uint8_t *p, size_t n, const char **rule, size_t *len,
                     const char **why);

/* `spec`: "Europe/Oslo" (a zone name: letters, digits, '_', '+', '-', '.'
 * and '/', no ".." part), "/path/to/TZif", or a POSIX rule such as
 * "CET-1CEST,M3.5.0,M10.5.0/3" (any spec with a ',' or '<', or with digits
 * and no '/'; one that does not parse as a rule is tried as a zone name).
 * rule: where the rule text goes (for logs; may be NULL). Returns 0, or -1
 * with err saying what was wrong and what is accepted. */
int dsmr_tz_load(const char *spec, struct dsmr_tz *tz, char *rule,
                 size_t rule_size, char *err, size_t errlen);

/* The host's zone: $TZ when set (as dsmr_tz_load reads it, a leading ':'
 * dropped), else /etc/localtime. Returns 0; 1 when neither could be read,
 * *tz then being UTC and note saying why (for a one-time notice). */
int dsmr_tz_load_host(struct dsmr_tz *tz, char *rule, size_t rule_size,
                      char *note, size_t notelen);

#endif
