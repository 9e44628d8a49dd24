/* fuzz_config: the plugin's <Meter> block handling (plugin_config.c) on
 * arbitrary configuration text.
 *
 * The input is the inside of a <Plugin dsmr> block, read into collectd's
 * oconfig_item_t tree by oconfig_text.c (text collectd would refuse to load
 * is skipped: the plugin never sees it). Every top-level item goes through
 * dsmr_config_meter, as dsmr_config does with each <Meter> (other keys
 * too: the function must cope with any item it is handed).
 *
 * Checks, from plugin_config.h and the option documentation:
 *  - failure (-1) is always explained: at least one ERROR was logged;
 *    success (0) logged no ERROR;
 *  - every string in the result is NUL-terminated within its array;
 *  - a accepted meter is consistent: a valid name, exactly one source
 *    (an absolute Device path, or Host with a Port of 1..65535), a baud
 *    rate from the list the serial code supports, 7/8 data bits, 1/2 stop
 *    bits, known parity and DataRequest, CheckCRC 0/1, MaxTelegramSize,
 *    SilenceTimeout and ReportInterval within their documented ranges;
 *  - the same block read twice gives the same result (no hidden state). */
#include "core/daemon/collectd.h"

#include "core/daemon/configfile.h"
#include "core/daemon/plugin.h"

#include <ctype.h>

#include "collectd_stubs.h"
#include "fuzz_assert.h"
#include "oconfig_text.h"
#include "plugin_config.h"

#define MAX_CONFIG_TEXT (16 * 1024)

static int terminated(const char *s, size_t size) {
  return memchr(s, '\0', size) != NULL;
}

static void check_accepted(const oconfig_item_t *ci,
                           const struct dsmr_meter_config *c) {
  const struct dsmr_source_config *s = &c->source;

  /* The name is the block's one string value, as written. */
  FZ_ASSERT(ci->values_num == 1 && ci->values[0].type == OCONFIG_TYPE_STRING);
  FZ_ASSERT(strcmp(c->name, ci->values[0].value.string) == 0);
  FZ_ASSERT(c->name[0] != '\0');
  for (const char *p = c->name; *p; p++)
    FZ_ASSERT(isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
              *p == '.');

  if (s->kind == DSMR_SOURCE_DEVICE) {
    FZ_ASSERT(s->device[0] == '/');
    FZ_ASSERT(s->host[0] == '\0' && s->port[0] == '\0');
  } else {
    FZ_ASSERT(s->kind == DSMR_SOURCE_TCP);
    FZ_ASSERT(s->host[0] != '\0' && s->device[0] == '\0');
    char *end;
    long port = strtol(s->port, &end, 10);
    FZ_ASSERT(s->port[0] != '\0' && *end == '\0' && port >= 1 && port <= 65535);
  }
  int baud_known = 0;
  for (int i = 0; dsmr_source_baudrates[i]; i++)
    baud_known |= dsmr_source_baudrates[i] == s->baudrate;
  FZ_ASSERT(baud_known);
  FZ_ASSERT(s->databits == 7 || s->databits == 8);
  FZ_ASSERT(s->stopbits == 1 || s->stopbits == 2);
  FZ_ASSERT(s->parity == DSMR_PARITY_NONE || s->parity == DSMR_PARITY_EVEN ||
            s->parity == DSMR_PARITY_ODD);
  /* "auto" probes the line itself: only for a device, never with fixed
   * bits, never for an (unmaskable) encrypted stream. */
  if (s->line_auto)
    FZ_ASSERT(s->kind == DSMR_SOURCE_DEVICE && !c->decrypt &&
              s->databits == 8 && s->parity == DSMR_PARITY_NONE &&
              s->stopbits == 1);
  FZ_ASSERT(s->data_request == DSMR_DATA_REQUEST_NONE ||
            s->data_request == DSMR_DATA_REQUEST_RTS ||
            s->data_request == DSMR_DATA_REQUEST_DTR);
  FZ_ASSERT(c->check_crc == 0 || c->check_crc == 1);
  /* CheckAuthenticationTag false: only with a DecryptionKey, no
   * AuthenticationKey, on the DLMS path */
  if (c->no_auth_check)
    FZ_ASSERT(c->decrypt && !c->auth_key_set && c->protocol != 0);
  FZ_ASSERT(c->max_telegram >= DSMR_MIN_TELEGRAM &&
            c->max_telegram <= DSMR_MAX_TELEGRAM);
  FZ_ASSERT(c->silence_timeout <= TIME_T_TO_CDTIME_T(86400));
  FZ_ASSERT(c->report_interval <= TIME_T_TO_CDTIME_T(86400));
}

static void check_item(const oconfig_item_t *ci) {
  struct dsmr_meter_config c, again;

  stub_log_reset();
  memset(&c, 0xA5, sizeof(c)); /* nothing may be left from before */
  int rc = dsmr_config_meter(ci, &c);
  struct stub_log_counts log = stub_log_get();

  FZ_ASSERT(rc == 0 || rc == -1);
  FZ_ASSERT_MSG((rc == 0) == (log.errors == 0), "rc %d with %u errors", rc,
                log.errors);
  FZ_ASSERT(log.foreign == 0); /* every line says where it comes from */
  FZ_ASSERT(terminated(c.name, sizeof(c.name)));
  FZ_ASSERT(terminated(c.source.device, sizeof(c.source.device)));
  FZ_ASSERT(terminated(c.source.host, sizeof(c.source.host)));
  FZ_ASSERT(terminated(c.source.port, sizeof(c.source.port)));
  if (rc == 0)
    check_accepted(ci, &c);

  memset(&again, 0x5A, sizeof(again));
  FZ_ASSERT(dsmr_config_meter(ci, &again) == rc);
  if (rc == 0) {
    FZ_ASSERT(strcmp(c.name, again.name) == 0);
    FZ_ASSERT(strcmp(c.source.device, again.source.device) == 0);
    FZ_ASSERT(strcmp(c.source.host, again.source.host) == 0);
    FZ_ASSERT(strcmp(c.source.port, again.source.port) == 0);
    FZ_ASSERT(c.source.kind == again.source.kind &&
              c.source.baudrate == again.source.baudrate &&
              c.source.databits == again.source.databits &&
              c.source.parity == again.source.parity &&
              c.source.stopbits == again.source.stopbits &&
              c.source.data_request == again.source.data_request &&
              c.source.line_auto == again.source.line_auto &&
              c.decrypt == again.decrypt && c.check_crc == again.check_crc &&
              c.max_telegram == again.max_telegram &&
              c.silence_timeout == again.silence_timeout &&
              c.report_interval == again.report_interval);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_CONFIG_TEXT)
    return 0;
  oconfig_item_t *root = fz_oconfig_parse((const char *)data, size);
  if (!root)
    return 0;
  for (int i = 0; i < root->children_num; i++)
    check_item(&root->children[i]);
  fz_oconfig_free(root);
  return 0;
}
