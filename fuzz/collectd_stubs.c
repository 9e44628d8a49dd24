/* Stand-ins for the collectd symbols that plugin_config.c calls.
 *
 * Why stubs: collectd exports these from the daemon binary itself (a
 * plugin's undefined symbols resolve against /usr/sbin/collectd when it is
 * dlopen()ed); Debian ships no library with them to link a test program
 * against, and no liboconfig. So this file implements the few that the
 * configuration code needs, with the behaviour collectd 5.12 documents for
 * them (configfile.h, common.h): the same argument checks, the same return
 * values, the same conversions (including a plain (int) cast of a double in
 * cf_util_get_int, so that the sanitizer flags a caller that hands it an
 * unchecked value, as the real one would misbehave).
 *
 * plugin_log formats every message for real (so that a bad format argument
 * shows up under the sanitizers), counts it by severity, and prints it
 * when FUZZ_VERBOSE is set in the environment. */
#include "core/daemon/collectd.h"

#include "core/daemon/configfile.h"
#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include <stdarg.h>
#include <strings.h>

#include "collectd_stubs.h"

/* The fuzz target runs one input at a time in one thread; the counts are
 * the stubs' only state, reset before every input. */
static struct stub_log_counts counts;

void stub_log_reset(void) {
  memset(&counts, 0, sizeof(counts));
}

struct stub_log_counts stub_log_get(void) {
  return counts;
}

void plugin_log(int level, const char *format, ...) {
  char msg[1024];
  va_list ap;

  va_start(ap, format);
  vsnprintf(msg, sizeof(msg), format, ap);
  va_end(ap);

  if (level <= LOG_ERR)
    counts.errors++;
  else if (level == LOG_WARNING)
    counts.warnings++;
  else
    counts.others++;
  if (strncmp(msg, "dsmr plugin: ", 13) != 0 &&
      strncmp(msg, "cf_util_", 8) != 0)
    counts.foreign++;
  if (getenv("FUZZ_VERBOSE"))
    fprintf(stderr, "[log %d] %s\n", level, msg);
}

char *sstrncpy(char *dest, const char *src, size_t n) {
  if (n == 0)
    return dest;
  size_t len = strnlen(src, n - 1);
  memcpy(dest, src, len);
  dest[len] = '\0';
  return dest;
}

static int one_value(const oconfig_item_t *ci, int type, const char *fn) {
  if (ci->values_num != 1 || ci->values[0].type != type) {
    ERROR("%s: The %s option requires exactly one %s argument.", fn, ci->key,
          type == OCONFIG_TYPE_STRING   ? "string"
          : type == OCONFIG_TYPE_NUMBER ? "numeric"
                                        : "boolean");
    return 0;
  }
  return 1;
}

int cf_util_get_string_buffer(const oconfig_item_t *ci, char *buffer,
                              size_t buffer_size) {
  if (ci == NULL || buffer == NULL || buffer_size < 1)
    return EINVAL;
  if (!one_value(ci, OCONFIG_TYPE_STRING, "cf_util_get_string_buffer"))
    return -1;
  /* collectd truncates silently to the buffer's size. */
  sstrncpy(buffer, ci->values[0].value.string, buffer_size);
  return 0;
}

int cf_util_get_int(const oconfig_item_t *ci, int *ret_value) {
  if (ci == NULL || ret_value == NULL)
    return EINVAL;
  if (!one_value(ci, OCONFIG_TYPE_NUMBER, "cf_util_get_int"))
    return -1;
  *ret_value = (int)ci->values[0].value.number;
  return 0;
}

int cf_util_get_boolean(const oconfig_item_t *ci, bool *ret_bool) {
  if (ci == NULL || ret_bool == NULL)
    return EINVAL;
  if (ci->values_num != 1 || (ci->values[0].type != OCONFIG_TYPE_BOOLEAN &&
                              ci->values[0].type != OCONFIG_TYPE_STRING)) {
    ERROR("cf_util_get_boolean: The %s option requires exactly one boolean "
          "argument.",
          ci->key);
    return -1;
  }
  if (ci->values[0].type == OCONFIG_TYPE_BOOLEAN) {
    *ret_bool = ci->values[0].value.boolean != 0;
    return 0;
  }
  const char *s = ci->values[0].value.string;
  WARNING("cf_util_get_boolean: Using string value `%s' for boolean option "
          "`%s' is deprecated.",
          s, ci->key);
  if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
      strcasecmp(s, "on") == 0) {
    *ret_bool = true;
    return 0;
  }
  if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
      strcasecmp(s, "off") == 0) {
    *ret_bool = false;
    return 0;
  }
  ERROR("cf_util_get_boolean: Cannot parse string value `%s' of the `%s' "
        "option as a boolean value.",
        s, ci->key);
  return -1;
}

int cf_util_get_cdtime(const oconfig_item_t *ci, cdtime_t *ret_value) {
  if (ci == NULL || ret_value == NULL)
    return EINVAL;
  if (!one_value(ci, OCONFIG_TYPE_NUMBER, "cf_util_get_cdtime"))
    return -1;
  if (ci->values[0].value.number < 0.0) {
    ERROR("cf_util_get_cdtime: The numeric argument of the %s option must "
          "not be negative.",
          ci->key);
    return -1;
  }
  *ret_value = DOUBLE_TO_CDTIME_T(ci->values[0].value.number);
  return 0;
}
