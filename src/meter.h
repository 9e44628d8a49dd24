/* One configured meter inside collectd: its settings, its reader thread and
 * the state that thread keeps between telegrams. Shared by the collectd glue
 * (dsmr_plugin.c), the configuration (plugin_config.c), the reader
 * (meter_reader.c) with its input chain (input_chain.h) and what a
 * telegram turns into (meter_dispatch.c).
 *
 * Include after core/daemon/collectd.h (cdtime_t, pthread). */
#ifndef DSMR_METER_H
#define DSMR_METER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "input_chain.h"
#include "mapper.h"
#include "source.h"
#include "report.h"
#include "store_rules.h"

#define DSMR_METER_NAME_MAX 64
#define DSMR_MIN_TELEGRAM 128
#define DSMR_MAX_TELEGRAM (1024 * 1024)
/* Decoded grid-operator text messages are kept up to this size (DSMR
 * allows 1024 characters). */
#define DSMR_TEXT_MAX 1024

struct dsmr_meter_config {
  char name[DSMR_METER_NAME_MAX];
  struct dsmr_source_config source;
  int check_crc;
  size_t max_telegram;
  cdtime_t silence_timeout; /* 0: never report silence */
  cdtime_t report_interval; /* ReportInterval, 0: every telegram */
  /* Luxembourg Smarty: the stream is encrypted (DecryptionKey given). The
   * keys live here only until the meter starts: dsmr_meter_start hands them
   * to libgcrypt and wipes these copies. */
  int decrypt;
  int auth_key_set; /* else the Luxembourg default */
  uint8_t decryption_key[16];
  uint8_t auth_key[16];
  /* Protocol: DSMR_INPUT_PROTO_DSMR (0, the default), _HAN or _AUTO; with
   * HAN / AUTO the keys are the DLMS ones (no Luxembourg default). */
  int protocol;
  /* CheckAuthenticationTag false: GCM-tagged DLMS frames are decrypted
   * without checking their tag (no AuthenticationKey; Protocol han/auto) */
  int no_auth_check;
  /* TimeZone (HAN): the zone of a meter clock sent without its offset */
  struct dsmr_tz timezone;
  /* EnergyScaler (HAN): set, and the power of ten of energy registers
   * sent without a scaler_unit (dsmr_han_options) */
  int energy_scaler_set;
  int energy_scaler;
};

/* Counters the read callback reports; updated by the reader under lock. */
struct dsmr_meter_stats {
  uint64_t ok, crc_error, malformed, too_large, dropped, implausible;
  uint64_t decrypt_error, replayed; /* Smarty: failed GCM tag, old counter */
  /* readings refused from a stored telegram (store_rules.h): a capture
   * time in the future, a register a rounding lower than stored */
  uint64_t future_time, held_back;
  uint64_t bytes;
  uint64_t reconnects;
};

/* Rate limit for repeated complaints (CRC errors on a noisy line). */
struct dsmr_complaint {
  cdtime_t last;
  uint64_t suppressed;
};

struct dsmr_meter {
  struct dsmr_meter_config cfg;

  /* --- reader thread ------------------------------------------------- */
  pthread_t thread;
  int thread_started;
  int wake[2];         /* pipe: shutdown writes one byte, never drained */
  atomic_int stopping; /* set before the wake-up byte is written */
  struct dsmr_source source;
  /* line probe (Baudrate "auto"), Smarty decryption, framer: built at
   * init from cfg, buffers allocated then */
  struct dsmr_input input;
  char read_buf[4096];
  struct dsmr_telegram telegram; /* ~12 KiB: never on the stack */
  /* the mapper's memory: M-Bus names, objects sent without a unit */
  struct dsmr_map_state map_state;

  /* --- dispatch state (reader thread only) --------------------------- */
  cdtime_t last_arrival;   /* when the last frame (any verdict) arrived */
  struct dsmr_rules rules; /* what is stored, and when (store_rules.h) */
  struct dsmr_rules_result rules_result; /* of the last telegram */
  struct dsmr_report report;             /* ReportInterval: the open interval */
  char text[DSMR_TEXT_MAX + 1];
  unsigned failure_entries;
  int64_t failure_last_end;
  struct dsmr_complaint complain_crc, complain_malformed, complain_size,
      complain_dropped, complain_pace, complain_decrypt, complain_replay,
      complain_future, complain_held;
  /* Pacing (meter_reader.c): telegrams allowed before reading waits. */
  double pace_tokens;
  cdtime_t pace_at;
  int energy_scaler_said; /* EnergyScaler: whether it applies, said once */

  /* --- shared with the read callback, under lock -------------------- */
  pthread_mutex_t lock;
  struct dsmr_meter_stats stats;
  cdtime_t started;        /* when the reader started: age before the first */
  cdtime_t last_valid;     /* arrival of the last clean telegram, 0: none */
  uint64_t bytes_at_valid; /* stats.bytes then: bytes since = line noise */
  struct dsmr_meter_stats at_valid; /* stats then: the silence hint */
  int silent; /* a "silent" FAILURE was sent, OKAY still due */
};

/* meter_reader.c */
struct dsmr_meter *dsmr_meter_new(const struct dsmr_meter_config *cfg);
int dsmr_meter_start(struct dsmr_meter *m);
/* Tell the reader to stop, without waiting (so that several meters stop
 * in parallel); dsmr_meter_stop then joins. */
void dsmr_meter_request_stop(struct dsmr_meter *m);
void dsmr_meter_stop(struct dsmr_meter *m); /* idempotent, joins */
void dsmr_meter_free(struct dsmr_meter *m); /* after stop */

/* meter_reader.c: a complaint rate-limited to one log line a minute per
 * kind. */
void dsmr_meter_complain(struct dsmr_meter *m, struct dsmr_complaint *c,
                         cdtime_t now, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* meter_dispatch.c: a clean telegram (in m->telegram) that arrived at
 * `arrival`: dispatch its values and raise the notifications it calls
 * for. Reader thread only. Returns 0 when dispatched, 1 when rejected
 * because a register in it is implausible (nothing dispatched). */
int dsmr_meter_dispatch(struct dsmr_meter *m, cdtime_t arrival);
/* At shutdown, after the reader stopped: the partial ReportInterval
 * interval, written straight to the write plugins (collectd stops its
 * write queue before shutdown callbacks run). */
void dsmr_meter_report_flush(struct dsmr_meter *m);
/* A frame arrived (any verdict): learn the telegram period from it. */
void dsmr_meter_note_arrival(struct dsmr_meter *m, cdtime_t arrival);
/* The interval electricity values carry: observed period or 10 s. */
cdtime_t dsmr_meter_interval(const struct dsmr_meter *m);

/* A collectd notification about meter m (plugin "dsmr", plugin_instance
 * the meter's name). Returns nothing: -1 only means that no notification
 * plugin is loaded. */
void dsmr_meter_notify(const struct dsmr_meter *m, int severity,
                       const char *type_instance, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Grid-operator text message 0-0:96.13.0: hex-decoded when it is hex
 * (DSMR 4+), else taken as is; unprintable bytes become '?', trailing
 * blanks and NULs are dropped. Writes at most outlen-1 bytes plus NUL. */
void dsmr_decode_text(const char *raw, size_t len, char *out, size_t outlen);

#endif
