/* Independent reference implementations ("oracles") of what the library's
 * value functions promise in their headers, and checks that run a library
 * function and compare. They are written from the documented behaviour, in
 * the plainest way (byte loops, __int128, libc's timegm/gmtime_r/strtod),
 * never from the library's code, so that a shared mistake is unlikely.
 *
 * Every check abort()s on a mismatch (see fuzz_assert.h). Spans must be
 * readable exactly over [ptr, ptr + len): callers that want AddressSanitizer
 * to catch over-reads pass spans that end at the end of an allocation. */
#ifndef DSMR_FUZZ_VALUE_ORACLE_H
#define DSMR_FUZZ_VALUE_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "span.h"

/* CRC-16/ARC from its bitwise definition (a byte-wise table filled by the
 * bitwise rule; the library uses carry-less multiply or slice-by-16). */
uint16_t oracle_crc16(const void *data, size_t len);

/* dsmr_parse_number against the grammar in number.h; on success also
 * dsmr_number_scaled for every want_decimals in 0..6 and a few beyond,
 * dsmr_number_double against strtod, and a re-print/re-parse round trip.
 * Returns whether the span is a number. */
int check_number(struct dsmr_span s);

/* dsmr_parse_timestamp against timegm and the EU summer-time rule as
 * stated in timestamp.h; a parsed time also goes through check_utc. */
void check_timestamp(struct dsmr_span s);

/* dsmr_parse_cosem_clock, likewise. */
void check_cosem_clock(struct dsmr_span s);

/* dsmr_format_utc against gmtime_r, dsmr_civil_from_days /
 * dsmr_days_from_civil round trip, for any int64_t. */
void check_utc(int64_t utc);

/* dsmr_eu_dst_start / dsmr_eu_dst_end against timegm for year y
 * (0..65535). */
void check_dst_rule(int64_t y);

#endif
