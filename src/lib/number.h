/* The number API: a value group of a P1 object read as an exact decimal
 * (integer mantissa + number of decimals; number.c says why). */
#ifndef DSMR_NUMBER_H
#define DSMR_NUMBER_H

#include <stdint.h>

#include "span.h"

/* Number with optional unit: [-]digits[.digits][*unit], e.g.
 * "000687.138*kWh" -> mantissa 687138, decimals 3, unit "kWh".
 * At most 18 significant digits (leading zeros do not count) and at most
 * 18 decimals; unit is 1..16 characters of [A-Za-z0-9] (empty span when
 * absent). Returns 0, or -1 when the group is not such a number (then *out
 * is untouched). */
struct dsmr_number {
  int64_t mantissa;
  unsigned decimals;
  struct dsmr_span unit;
};
int dsmr_parse_number(struct dsmr_span group, struct dsmr_number *out);

/* mantissa scaled to 10^-decimals... as an exact integer in units of
 * 10^-want_decimals, truncated toward minus infinity if digits are lost.
 * Returns 0, or -1 on overflow. E.g. 687.138 kWh -> want 3 -> 687138 Wh. */
int dsmr_number_scaled(const struct dsmr_number *n, unsigned want_decimals,
                       int64_t *out);

/* n as a double: mantissa / 10^decimals, correctly rounded when
 * |mantissa| < 2^53 (15 digits; every meter seen), else within 1 ulp. */
double dsmr_number_double(const struct dsmr_number *n);

#endif
