/* Reading one <Meter "name"> block: every option, its type and range, and
 * the combinations that make no sense (no source, two sources). Collects
 * every problem of the block before failing, so that one `collectd -T`
 * run shows them all. */
#include "core/daemon/collectd.h"

#include "core/daemon/configfile.h"
#include "core/daemon/plugin.h"
#include "core/utils/common/common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "plugin_config.h"
#include "tz_load.h"

#define OPTIONS_ACCEPTED                                                       \
  "Device, Host, Port, Baudrate, DataBits, Parity, StopBits, DataRequest, "    \
  "CheckCRC, MaxTelegramSize, SilenceTimeout, DecryptionKey, "                 \
  "AuthenticationKey, ReportInterval, Protocol, TimeZone, "                    \
  "CheckAuthenticationTag, EnergyScaler"

#define DEFAULT_SILENCE_TIMEOUT 30

/* The option's value(s) as written, for error messages. */
static void render_values(const oconfig_item_t *ci, char *buf, size_t len) {
  size_t used = 0;

  buf[0] = '\0';
  if (ci->values_num == 0) {
    snprintf(buf, len, "(no value)");
    return;
  }
  for (int i = 0; i < ci->values_num && used < len; i++) {
    const oconfig_value_t *v = &ci->values[i];
    int n;
    const char *sep = i ? " " : "";
    if (v->type == OCONFIG_TYPE_STRING)
      n = snprintf(buf + used, len - used, "%s\"%s\"", sep, v->value.string);
    else if (v->type == OCONFIG_TYPE_NUMBER)
      n = snprintf(buf + used, len - used, "%s%.15g", sep, v->value.number);
    else
      n = snprintf(buf + used, len - used, "%s%s", sep,
                   v->value.boolean ? "true" : "false");
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

struct block {
  const char *meter; /* name for messages */
  int errors;
};

/* "dsmr plugin: <Meter "home">: Parity "maybe" is not valid; accepted:
 * "none", "even" or "odd"". */
static void reject(struct block *b, const oconfig_item_t *ci,
                   const char *accepted) {
  char val[256];
  render_values(ci, val, sizeof(val));
  ERROR("dsmr plugin: <Meter \"%s\">: %s %s is not valid; accepted: %s",
        b->meter, ci->key, val, accepted);
  b->errors++;
}

static int one_value_of(const oconfig_item_t *ci, int type) {
  return ci->values_num == 1 && ci->values[0].type == type;
}

/* One string value of at most size-1 characters, not empty. */
static int get_string(struct block *b, const oconfig_item_t *ci, char *out,
                      size_t size, const char *accepted) {
  if (!one_value_of(ci, OCONFIG_TYPE_STRING) ||
      ci->values[0].value.string[0] == '\0' ||
      strlen(ci->values[0].value.string) >= size ||
      cf_util_get_string_buffer(ci, out, size) != 0) {
    reject(b, ci, accepted);
    return -1;
  }
  return 0;
}

/* A number written in quotes: decimal digits only, with a fractional part
 * where fraction is set ("30", "2.5"). strtod alone would also take
 * "0x17", "1e3", " 9600", "inf" and "nan". */
static int decimal_string(const char *s, int fraction, double *out) {
  const char *p = s;
  char *end;

  while (isdigit((unsigned char)*p))
    p++;
  if (p == s)
    return -1;
  if (fraction && *p == '.' && isdigit((unsigned char)p[1]))
    for (p++; isdigit((unsigned char)*p); p++)
      ;
  if (*p != '\0')
    return -1;
  errno = 0;
  *out = strtod(s, &end);
  return errno == 0 && *end == '\0' ? 0 : -1;
}

/* A quoted number that is not plain decimal: say how to write it. */
static void reject_not_decimal(struct block *b, const oconfig_item_t *ci,
                               const char *accepted) {
  char more[320];
  snprintf(more, sizeof(more),
           "%s, written in decimal digits (no hex, no "
           "exponent, no sign)",
           accepted);
  reject(b, ci, more);
}

/* One whole number within [lo, hi]. Numbers written as strings ("115200")
 * are accepted too, in decimal only: collectd users quote values out of
 * habit. */
static int get_int(struct block *b, const oconfig_item_t *ci, int lo, int hi,
                   int *out, const char *accepted) {
  double d;

  if (one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    d = ci->values[0].value.number;
  } else if (one_value_of(ci, OCONFIG_TYPE_STRING)) {
    if (decimal_string(ci->values[0].value.string, 0, &d) != 0) {
      reject_not_decimal(b, ci, accepted);
      return -1;
    }
  } else {
    reject(b, ci, accepted);
    return -1;
  }
  if (d != d || d < lo || d > hi || d != (double)(long long)d) {
    reject(b, ci, accepted);
    return -1;
  }
  if (one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    if (cf_util_get_int(ci, out) != 0) {
      reject(b, ci, accepted);
      return -1;
    }
  } else {
    *out = (int)d;
  }
  return 0;
}

/* One of the given words (case-insensitive); returns its index. */
static int get_word(struct block *b, const oconfig_item_t *ci,
                    const char *const *words, const char *accepted) {
  if (one_value_of(ci, OCONFIG_TYPE_STRING)) {
    for (int i = 0; words[i]; i++)
      if (strcasecmp(ci->values[0].value.string, words[i]) == 0)
        return i;
  }
  reject(b, ci, accepted);
  return -1;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= DSMR_METER_NAME_MAX)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
      return 0;
  return 1;
}

static void baud_list(char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; dsmr_source_baudrates[i] && used < len; i++) {
    int n = snprintf(buf + used, len - used, "%s%d", i ? ", " : "",
                     dsmr_source_baudrates[i]);
    if (n < 0)
      break;
    used += (size_t)n;
  }
}

/* A number from the list, or "auto" (Baudrate "auto": *line_auto set). */
static void get_baudrate(struct block *b, const oconfig_item_t *ci, int *out,
                         int *line_auto) {
  char accepted[256], list[160];
  int v;

  baud_list(list, sizeof(list));
  snprintf(accepted, sizeof(accepted),
           "115200 (DSMR 4 and 5) or 9600 (DSMR 2.2 and 3), \"auto\" (probe "
           "115200 8N1, 115200 7E1 and 9600 7E1), or one of %s",
           list);
  if (one_value_of(ci, OCONFIG_TYPE_STRING) &&
      strcasecmp(ci->values[0].value.string, "auto") == 0) {
    *line_auto = 1;
    return;
  }
  *line_auto = 0; /* a number: no probing (Baudrate is given once at most) */
  if (get_int(b, ci, 1, 10000000, &v, accepted) != 0)
    return;
  for (int i = 0; dsmr_source_baudrates[i]; i++)
    if (dsmr_source_baudrates[i] == v) {
      *out = v;
      return;
    }
  reject(b, ci, accepted);
}

/* Seconds, with or without quotes like every numeric option. */
static void get_silence(struct block *b, const oconfig_item_t *ci,
                        cdtime_t *out) {
  const char *accepted = "seconds from 1 to 86400, or 0 to never report";
  double d;

  if (one_value_of(ci, OCONFIG_TYPE_NUMBER)) {
    d = ci->values[0].value.number;
  } else if (one_value_of(ci, OCONFIG_TYPE_STRING)) {
    if (decimal_string(ci->values[0].value.string, 1, &d) != 0) {
      reject_not_decimal(b, ci, accepted);
      return;
    }
  } else {
    reject(b, ci, accepted);
    return;
  }
  if (d != d || d < 0 || d > 86400 || (d > 0 && d < 1)) {
    reject(b, ci, accepted);
    return;
  }
  *out = DOUBLE_TO_CDTIME_T(d);
}

/* Host: a name or an address, nothing else (the port goes in Port). An
 * IPv6 address is written as it is, without brackets; a scope may follow
 * (fe80::1%eth0). */
static int valid_host(const char *s) {
  char addr[256];
  const char *pct;

  if (strchr(s, ':')) {
    struct in6_addr a;
    pct = strchr(s, '%');
    size_t n = pct ? (size_t)(pct - s) : strlen(s);
    if (n >= sizeof(addr) || (pct && pct[1] == '\0'))
      return 0;
    memcpy(addr, s, n);
    addr[n] = '\0';
    return inet_pton(AF_INET6, addr, &a) == 1;
  }
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
      return 0;
  return 1;
}

/* A Smarty key: 32 hex digits in quotes. Its value is never logged, not
 * even when it is wrong (a typo'd key is still most of the key). */
static int get_key(struct block *b, const oconfig_item_t *ci, uint8_t out[16]) {
  if (!one_value_of(ci, OCONFIG_TYPE_STRING) ||
      dsmr_parse_hex_key(ci->values[0].value.string, out) != 0) {
    ERROR("dsmr plugin: <Meter \"%s\">: %s is not valid (value not shown: "
          "it is a secret); accepted: 32 hex digits in quotes, the 16-byte "
          "key from the grid operator, e.g. %s \"0123456789ABCDEF0123456789"
          "ABCDEF\"",
          b->meter, ci->key, ci->key);
    b->errors++;
    return -1;
  }
  return 0;
}

/* TimeZone "Europe/Oslo" | "/path/to/TZif" | "CET-1CEST,M3.5.0,M10.5.0/3".
 * Read here, at config time: the zone file is not read again. */
static int get_timezone(struct block *b, const oconfig_item_t *ci,
                        struct dsmr_tz *tz) {
  char err[512], rule[128];
  if (!one_value_of(ci, OCONFIG_TYPE_STRING)) {
    reject(b, ci,
           "a zone name in quotes such as \"Europe/Oslo\" (a file under "
           "/usr/share/zoneinfo), the absolute path of a zone file, or a "
           "POSIX TZ rule such as \"CET-1CEST,M3.5.0,M10.5.0/3\"");
    return -1;
  }
  if (dsmr_tz_load(ci->values[0].value.string, tz, rule, sizeof(rule), err,
                   sizeof(err)) != 0) {
    ERROR("dsmr plugin: <Meter \"%s\">: TimeZone \"%s\" is not valid: %s; "
          "accepted: a zone name such as \"Europe/Oslo\" (a file under "
          "/usr/share/zoneinfo with a POSIX rule at its end: tzdata 2018 "
          "or later), the absolute path of such a file, or a POSIX TZ rule "
          "such as \"CET-1CEST,M3.5.0,M10.5.0/3\"",
          b->meter, ci->values[0].value.string, err);
    b->errors++;
    return -1;
  }
  INFO("dsmr plugin: <Meter \"%s\">: TimeZone \"%s\": rule %s", b->meter,
       ci->values[0].value.string, rule);
  return 0;
}

/* No TimeZone: the host's ($TZ, else /etc/localtime), read once for every
 * meter; UTC, with one notice, when it cannot be read. */
static void host_timezone(struct dsmr_tz *tz) {
  static struct dsmr_tz host;
  static int loaded;
  if (!loaded) {
    char rule[128], note[512];
    if (dsmr_tz_load_host(&host, rule, sizeof(rule), note, sizeof(note)) == 0)
      INFO("dsmr plugin: HAN meters without TimeZone: the host's time zone, "
           "rule %s",
           rule);
    else
      NOTICE("dsmr plugin: the host's time zone cannot be read (%s); HAN "
             "meter clocks sent without their offset are read as UTC: set "
             "TimeZone in the <Meter> block",
             note);
    loaded = 1;
  }
  *tz = host;
}

int dsmr_config_meter(const oconfig_item_t *ci, struct dsmr_meter_config *out) {
  static const char *const parities[] = {"none", "even", "odd", NULL};
  static const char *const requests[] = {"none", "rts", "dtr", NULL};
  static const char *const protocols[] = {"dsmr", "han", "auto", NULL};
  struct block b = {.meter = "(no name)", .errors = 0};
  const oconfig_item_t *device = NULL, *host = NULL, *port = NULL;
  const oconfig_item_t *dec_key = NULL, *auth_key = NULL, *check_tag = NULL;
  const oconfig_item_t *line_opt = NULL; /* DataBits, Parity or StopBits */
  const char *serial_only = NULL;
  const oconfig_item_t *tz_opt = NULL, *scaler_opt = NULL;
  int v;

  memset(out, 0, sizeof(*out));
  out->source.kind = DSMR_SOURCE_DEVICE;
  out->source.baudrate = 115200;
  out->source.databits = 8;
  out->source.parity = DSMR_PARITY_NONE;
  out->source.stopbits = 1;
  out->source.data_request = DSMR_DATA_REQUEST_NONE;
  out->check_crc = 1;
  out->max_telegram = DSMR_DEFAULT_MAX_TELEGRAM;
  out->silence_timeout = TIME_T_TO_CDTIME_T(DEFAULT_SILENCE_TIMEOUT);

  if (one_value_of(ci, OCONFIG_TYPE_STRING) &&
      valid_name(ci->values[0].value.string)) {
    sstrncpy(out->name, ci->values[0].value.string, sizeof(out->name));
    b.meter = out->name;
  } else {
    char val[256];
    render_values(ci, val, sizeof(val));
    ERROR("dsmr plugin: <Meter %s>: a meter needs a name of 1 to %d "
          "letters, digits, '_', '-' or '.', in quotes: <Meter \"home\">",
          val, DSMR_METER_NAME_MAX - 1);
    b.errors++;
  }

  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *c = &ci->children[i];
    const char *k = c->key;

    /* A repeated option would silently override the first: refuse. */
    for (int j = 0; j < i; j++)
      if (strcasecmp(ci->children[j].key, k) == 0) {
        ERROR("dsmr plugin: <Meter \"%s\">: %s is given more than once; "
              "accepted: each option at most once per meter",
              b.meter, k);
        b.errors++;
        break;
      }
    if (c->children_num > 0) {
      ERROR("dsmr plugin: <Meter \"%s\">: <%s> is not valid here; "
            "accepted: the options %s",
            b.meter, k, OPTIONS_ACCEPTED);
      b.errors++;
      continue;
    }

    if (strcasecmp(k, "Device") == 0) {
      device = c;
      if (get_string(&b, c, out->source.device, sizeof(out->source.device),
                     "the path of a serial device or pseudo-terminal, "
                     "e.g. \"/dev/ttyUSB0\"") == 0 &&
          out->source.device[0] != '/')
        reject(&b, c, "an absolute path, e.g. \"/dev/ttyUSB0\"");
    } else if (strcasecmp(k, "Host") == 0) {
      static const char host_forms[] =
          "a host name or an IP address alone, in quotes, e.g. "
          "\"192.168.1.50\", \"p1-dongle.lan\" or \"fd00::50\" (IPv6 "
          "without brackets); the port goes in Port";
      host = c;
      if (get_string(&b, c, out->source.host, sizeof(out->source.host),
                     host_forms) == 0 &&
          !valid_host(out->source.host))
        reject(&b, c, host_forms);
    } else if (strcasecmp(k, "Port") == 0) {
      port = c;
      if (get_int(&b, c, 1, 65535, &v, "a TCP port number, 1 to 65535") == 0)
        snprintf(out->source.port, sizeof(out->source.port), "%d", v);
    } else if (strcasecmp(k, "Baudrate") == 0) {
      serial_only = serial_only ? serial_only : "Baudrate";
      get_baudrate(&b, c, &out->source.baudrate, &out->source.line_auto);
    } else if (strcasecmp(k, "DataBits") == 0) {
      serial_only = serial_only ? serial_only : "DataBits";
      line_opt = line_opt ? line_opt : c;
      get_int(&b, c, 7, 8, &out->source.databits,
              "7 (DSMR 2.2 and 3) or 8 (DSMR 4 and 5)");
    } else if (strcasecmp(k, "Parity") == 0) {
      serial_only = serial_only ? serial_only : "Parity";
      line_opt = line_opt ? line_opt : c;
      v = get_word(&b, c, parities,
                   "\"none\" (DSMR 4 and 5), \"even\" (DSMR 2.2 and 3) "
                   "or \"odd\"");
      if (v >= 0)
        out->source.parity = v == 1   ? DSMR_PARITY_EVEN
                             : v == 2 ? DSMR_PARITY_ODD
                                      : DSMR_PARITY_NONE;
    } else if (strcasecmp(k, "StopBits") == 0) {
      serial_only = serial_only ? serial_only : "StopBits";
      line_opt = line_opt ? line_opt : c;
      get_int(&b, c, 1, 2, &out->source.stopbits, "1 or 2");
    } else if (strcasecmp(k, "DataRequest") == 0) {
      serial_only = serial_only ? serial_only : "DataRequest";
      v = get_word(&b, c, requests,
                   "\"none\", \"rts\" or \"dtr\" (the modem line the "
                   "adapter wired to the P1 Data Request pin)");
      if (v >= 0)
        out->source.data_request = v == 1   ? DSMR_DATA_REQUEST_RTS
                                   : v == 2 ? DSMR_DATA_REQUEST_DTR
                                            : DSMR_DATA_REQUEST_NONE;
    } else if (strcasecmp(k, "CheckCRC") == 0) {
      bool on = true;
      /* cf_util_get_boolean also takes "true"/"false" in quotes. */
      if (c->values_num != 1 || cf_util_get_boolean(c, &on) != 0)
        reject(&b, c, "true or false");
      out->check_crc = on ? 1 : 0;
    } else if (strcasecmp(k, "MaxTelegramSize") == 0) {
      char accepted[96];
      snprintf(accepted, sizeof(accepted), "bytes from %d to %d (1 MiB)",
               DSMR_MIN_TELEGRAM, DSMR_MAX_TELEGRAM);
      if (get_int(&b, c, DSMR_MIN_TELEGRAM, DSMR_MAX_TELEGRAM, &v, accepted) ==
          0)
        out->max_telegram = (size_t)v;
    } else if (strcasecmp(k, "SilenceTimeout") == 0) {
      get_silence(&b, c, &out->silence_timeout);
    } else if (strcasecmp(k, "ReportInterval") == 0) {
      if (get_int(&b, c, 0, 86400, &v,
                  "whole seconds from 1 to 86400, or 0 for every "
                  "telegram (the default)") == 0)
        out->report_interval = TIME_T_TO_CDTIME_T(v);
    } else if (strcasecmp(k, "Protocol") == 0) {
      v = get_word(&b, c, protocols,
                   "\"dsmr\" (P1 telegrams, the default; Smarty with "
                   "DecryptionKey), \"han\" (binary DLMS/COSEM over HDLC "
                   "or M-Bus) or \"auto\" (from the bytes)");
      if (v >= 0)
        out->protocol = v; /* DSMR_INPUT_PROTO_DSMR, _HAN, _AUTO */
    } else if (strcasecmp(k, "DecryptionKey") == 0) {
      dec_key = c;
      if (get_key(&b, c, out->decryption_key) == 0)
        out->decrypt = 1;
    } else if (strcasecmp(k, "CheckAuthenticationTag") == 0) {
      bool on = true;
      check_tag = c;
      if (c->values_num != 1 || cf_util_get_boolean(c, &on) != 0)
        reject(&b, c, "true (the default) or false");
      out->no_auth_check = on ? 0 : 1;
    } else if (strcasecmp(k, "AuthenticationKey") == 0) {
      auth_key = c;
      if (get_key(&b, c, out->auth_key) == 0)
        out->auth_key_set = 1;
    } else if (strcasecmp(k, "EnergyScaler") == 0) {
      scaler_opt = c;
      if (get_int(&b, c, 0, 3, &out->energy_scaler,
                  "0 (Wh: Swedish Kamstrup firmware), 1 (10 Wh: the "
                  "Kamstrup document), 2 (100 Wh) or 3 (kWh): the power of "
                  "ten of the energy registers of a HAN list that sends "
                  "no scaler_unit") == 0)
        out->energy_scaler_set = 1;
    } else if (strcasecmp(k, "TimeZone") == 0) {
      tz_opt = c;
      get_timezone(&b, c, &out->timezone);
    } else {
      ERROR("dsmr plugin: <Meter \"%s\">: unknown option \"%s\"; "
            "accepted: %s",
            b.meter, k, OPTIONS_ACCEPTED);
      b.errors++;
    }
  }

  if (device && host) {
    ERROR("dsmr plugin: <Meter \"%s\">: Device and Host are both set; "
          "accepted: one source per meter, either Device \"/dev/...\" or "
          "Host and Port",
          b.meter);
    b.errors++;
  } else if (!device && !host) {
    ERROR("dsmr plugin: <Meter \"%s\">: no source; accepted: Device "
          "\"/dev/...\" (serial port or pseudo-terminal) or Host and Port "
          "(TCP)",
          b.meter);
    b.errors++;
  } else if (host && !port) {
    ERROR("dsmr plugin: <Meter \"%s\">: Host \"%s\" has no Port; accepted: "
          "Port 1 to 65535 beside Host",
          b.meter, out->source.host);
    b.errors++;
  } else if (device && port) {
    ERROR("dsmr plugin: <Meter \"%s\">: Port is only valid with Host; "
          "accepted: Device alone, or Host and Port",
          b.meter);
    b.errors++;
  }
  /* Baudrate "auto" probes the whole line setting, on a serial line only,
   * and only where bytes are text (bit 7 may be cleared). */
  if (out->source.line_auto && line_opt) {
    char val[256];
    render_values(line_opt, val, sizeof(val));
    ERROR("dsmr plugin: <Meter \"%s\">: %s %s conflicts with Baudrate "
          "\"auto\", which probes data bits, parity and stop bits too; "
          "accepted: Baudrate \"auto\" without DataBits, Parity and "
          "StopBits, or a numeric Baudrate with them",
          b.meter, line_opt->key, val);
    b.errors++;
  }
  if (out->source.line_auto && host) {
    ERROR("dsmr plugin: <Meter \"%s\">: Baudrate \"auto\" is not valid "
          "with Host \"%s\": a network dongle or ser2net sets the serial "
          "line itself; accepted: Baudrate \"auto\" only with Device (set "
          "the line in the dongle, e.g. 115200 8N1 or 9600 7E1)",
          b.meter, out->source.host);
    b.errors++;
  }
  if (out->source.line_auto && dec_key &&
      out->protocol == DSMR_INPUT_PROTO_DSMR) {
    ERROR("dsmr plugin: <Meter \"%s\">: Baudrate \"auto\" is not valid "
          "with DecryptionKey: encrypted Smarty frames are binary, so the "
          "probing (which may clear bit 7) cannot judge them, and Smarty "
          "meters always send 115200 8N1; accepted: no Baudrate (115200 "
          "8N1, the default) with DecryptionKey",
          b.meter);
    b.errors++;
  }
  if (auth_key && !dec_key) {
    ERROR("dsmr plugin: <Meter \"%s\">: AuthenticationKey without "
          "DecryptionKey; accepted: AuthenticationKey only beside "
          "DecryptionKey (an encrypted Luxembourg Smarty meter)",
          b.meter);
    b.errors++;
  }
  /* Decrypting without the tag check is a risky, explicit choice: only
   * where a tag cannot be checked (no AuthenticationKey), and only on the
   * DLMS path (the Smarty decoder always checks, with the Luxembourg
   * default key). */
  if (check_tag && out->no_auth_check) {
    if (!dec_key) {
      ERROR("dsmr plugin: <Meter \"%s\">: CheckAuthenticationTag false "
            "without DecryptionKey; accepted: CheckAuthenticationTag false "
            "only beside DecryptionKey (an encrypted meter whose operator "
            "handed out only the encryption key)",
            b.meter);
      b.errors++;
    }
    if (auth_key) {
      ERROR("dsmr plugin: <Meter \"%s\">: CheckAuthenticationTag false "
            "conflicts with AuthenticationKey: with the key the tag is "
            "checked; accepted: AuthenticationKey (the tag checked), or "
            "CheckAuthenticationTag false without it",
            b.meter);
      b.errors++;
    }
    if (out->protocol == DSMR_INPUT_PROTO_DSMR) {
      ERROR("dsmr plugin: <Meter \"%s\">: CheckAuthenticationTag false is "
            "not valid with Protocol \"dsmr\": Smarty frames are always "
            "checked (AuthenticationKey defaults to the Luxembourg key); "
            "accepted: CheckAuthenticationTag false with Protocol \"han\" "
            "or \"auto\" (a DSMR telegram in a bare DLMS envelope, such as "
            "the Steiermark Sagemcom T210-D: Protocol \"auto\")",
            b.meter);
      b.errors++;
    }
  }
  /* The scaler of a HAN list sent without its own: DSMR telegrams state
   * their units, so there it would silently do nothing. */
  if (scaler_opt && out->protocol == DSMR_INPUT_PROTO_DSMR) {
    ERROR("dsmr plugin: <Meter \"%s\">: EnergyScaler is not valid with "
          "Protocol \"dsmr\" (the default): DSMR telegrams state their "
          "units; accepted: EnergyScaler with Protocol \"han\" or \"auto\" "
          "(a binary HAN meter whose list sends no scaler_unit, such as "
          "Kamstrup)",
          b.meter);
    b.errors++;
  }
  if (!tz_opt && out->protocol != DSMR_INPUT_PROTO_DSMR && !b.errors)
    host_timezone(&out->timezone);
  if (tz_opt && out->protocol == DSMR_INPUT_PROTO_DSMR && !b.errors)
    WARNING("dsmr plugin: <Meter \"%s\">: TimeZone only applies to HAN "
            "meters (Protocol \"han\" or \"auto\"); ignored: DSMR "
            "telegrams say their offset themselves",
            b.meter);
  if (b.errors)
    explicit_bzero(out->decryption_key, sizeof(out->decryption_key));
  if (b.errors || !out->decrypt)
    explicit_bzero(out->auth_key, sizeof(out->auth_key));
  if (host) {
    out->source.kind = DSMR_SOURCE_TCP;
    if (serial_only && !b.errors)
      WARNING("dsmr plugin: <Meter \"%s\">: %s only applies to Device; "
              "ignored for Host \"%s\"",
              b.meter, serial_only, out->source.host);
  }
  return b.errors ? -1 : 0;
}
