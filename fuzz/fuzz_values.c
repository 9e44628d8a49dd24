/* fuzz_values: the value parsers on arbitrary text.
 *
 * The input is tried as a whole, and cut at '(' ')' and line ends into
 * pieces that are tried one by one (so that one input like a telegram line
 * "(230101120000W)(00012.345*m3)" exercises several values). Each piece is
 * copied into an allocation of exactly its size, so that AddressSanitizer
 * reports a parser reading one byte past a value.
 *
 * Every parser is compared with an independent reference (value_oracle.c):
 * number grammar, exact scaling, correct rounding to double, timestamps
 * against timegm and the EU summer-time rule, COSEM clocks, and the UTC
 * formatter against gmtime_r. The first 8 bytes, read as an integer, also
 * go to the formatter and the calendar round trip. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"
#include "timestamp.h"
#include "value_oracle.h"

static void check_span(const char *p, size_t n) {
  /* malloc(0) may return NULL; a 1-byte allocation keeps the pointer
   * valid while the span stays empty. */
  char *copy = malloc(n ? n : 1);
  FZ_ASSERT(copy != NULL);
  memcpy(copy, p, n);
  struct dsmr_span s = {copy, n};
  check_number(s);
  check_timestamp(s);
  check_cosem_clock(s);
  free(copy);
}

static int is_cut(char c) {
  return c == '(' || c == ')' || c == '\r' || c == '\n';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;

  check_span(text, size);
  for (size_t i = 0, start = 0; i <= size; i++) {
    if (i < size && !is_cut(text[i]))
      continue;
    if (start > 0 || i < size) /* the whole input was tried above */
      check_span(text + start, i - start);
    start = i + 1;
  }

  if (size >= 8) {
    uint64_t raw;
    memcpy(&raw, data, sizeof(raw));
    check_utc((int64_t)raw);
    /* Mostly the interesting range: 1900..2300, where gmtime_r compares
     * the full string, and around the DST switches. */
    check_utc((int64_t)(raw % (UINT64_C(400) * 366 * 86400)) -
              INT64_C(2208988800));
    check_dst_rule((int64_t)(raw >> 48));
  }
  return 0;
}
