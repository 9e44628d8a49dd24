/* A meter's input chain: the stages its bytes pass between the source and
 * the mapper, built once from the meter's configuration and driven the
 * same way by the plugin's reader (meter_reader.c) and by dsmr-cat, so that
 * what dsmr-cat shows is what the plugin stores.
 *
 *   bytes ─▶ [line probe] ─▶ [Smarty unwrapping] ─▶ DSMR framer ─▶ frames
 *            (Baudrate auto)  (DecryptionKey)
 *
 * Protocol "han" / "auto" (binary DLMS/COSEM meters, han.h):
 *
 *   bytes ─▶ [AUTO: "/XXXd" DSMR, 7E A? / 68 L L 68 HAN, DB 08 a bare
 *            envelope] ─▶ HAN framing (HDLC, M-Bus, block transfer; or
 *            AUTO's bare envelopes) ─▶ [DLMS decryption, replay
 *            guard] ─▶ dsmr_han_decode + dsmr_han_map ─▶ HAN_TELEGRAM
 *            (a mapped struct dsmr_telegram); a DSMR telegram (AUTO's
 *            plain stream, or one inside a DLMS envelope) ─▶ DSMR framer.
 *   For frames whose tag was not checked (0x20 / 0x21, or 0x30 with
 *   han_allow_unchecked) the counter is committed only once the inner
 *   check passed: the APDU inside decoded (one that does not is
 *   DECRYPT_FAILED), or the DSMR telegram inside passed its CRC.
 *
 * One small interface, no callbacks: the caller hands over a chunk of
 * bytes with dsmr_input_feed, then calls dsmr_input_next until it returns
 * DSMR_INPUT_NONE; each call returns one thing that happened: a telegram
 * (with its CRC verdict), or an event (line found, line switch needed,
 * decryption failed, replay refused, telegram too large, telegram cut
 * short...). The caller turns events into its own output (the plugin:
 * counters, log lines, notifications; dsmr-cat: stdout and stderr).
 *
 *   dsmr_input_feed(&in, buf, n, dsmr_now_ms());
 *   while ((ev = dsmr_input_next(&in, &out)) != DSMR_INPUT_NONE)
 *     switch (ev) { case DSMR_INPUT_FRAME: ... out.frame ...; ... }
 *
 * Stages. Every stage has the same shape: a push function that consumes
 * bytes from its input and returns one output at a time: bytes for the
 * next stage, a frame, or an event for the caller. The driver (input_chain.c)
 * always runs the deepest stage that has input left first, so a stage's
 * output (pointing into its own buffer) is used up before that stage runs
 * again. A stage that has more to say than one output per push holds the
 * rest and says it at its next push. New stages (HDLC or M-Bus framing,
 * block-transfer reassembly, DLMS decryption) go between the existing ones
 * without changing the interface below. Adding one: its state (and its
 * buffer, allocated in dsmr_input_init) in struct dsmr_input; a push
 * function (dsmr_input_push) wrapping its feed function as smarty_push
 * wraps dsmr_smarty_feed (BYTES for the next stage, or an event of its
 * own, added to enum dsmr_input_event and counted in finish()); an
 * add_stage() call in dsmr_input_init at its place in the order; its
 * reset in drop_input() / dsmr_input_restart(). A chain that ends in
 * readings rather than DSMR text (A-XDR) adds an output event for them.
 *
 * The line probe (line_probe.h) is the first stage. While it probes, the
 * frames the framer makes are only judged for the line and never handed
 * out, and the framer's complaints (too large, cut short) are not the
 * meter's fault and are swallowed; the frame that settles the line is
 * handed out after DSMR_INPUT_LINE_FOUND. It also frames a bit-7-masked
 * copy of the stream while an 8-bit setting is probed (a 7E1 line read as
 * 8N1). Once settled, every frame is still judged: a line that goes bad
 * is reported (DSMR_INPUT_LINE_LOST) and probed again.
 *
 * Memory: every buffer is allocated by dsmr_input_init; nothing is
 * allocated per chunk or frame. No I/O, no clock of its own (the caller
 * passes monotonic milliseconds, dsmr_now_ms), no threads: one chain
 * per meter, used by one thread at a time. Part of libdsmr_smarty.la (it
 * links libgcrypt for the Smarty stage), so that libdsmr stays crypto-free. */
#ifndef DSMR_INPUT_CHAIN_H
#define DSMR_INPUT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "dlms_cipher.h"
#include "framer.h"
#include "han.h"
#include "han_layouts.h"
#include "line_probe.h"
#include "mapper.h"
#include "smarty.h"
#include "tz.h"

/* What the chain is built from (one meter's configuration). */
struct dsmr_input_config {
  size_t max_telegram; /* largest telegram ('/' .. '!') accepted */
  /* Judge CRCs: a telegram whose CRC fails, or that has none although the
   * meter has sent one before, gets a check verdict other than OK. */
  int check_crc;
  int line_probe; /* Baudrate "auto": probe the line settings */
  /* 16 bytes: the stream is encrypted (Luxembourg Smarty); NULL: plain P1.
   * Not kept: the caller may wipe its copies once dsmr_input_init returns. */
  const uint8_t *decryption_key;
  const uint8_t *auth_key; /* 16 bytes, or NULL: the Luxembourg default */
  /* DSMR_INPUT_PROTO_*: DSMR (0: as before), HAN (binary DLMS/COSEM over
   * HDLC or M-Bus: decryption_key / auth_key are then the DLMS keys, auth
   * NULL: none; with a decryption_key also bare DB 08 envelopes, the
   * first signature deciding, as for AUTO) or AUTO (from the bytes: "/XXXd"
   * DSMR, 7E A? HDLC, 68 L L 68 M-Bus, DB 08 a bare envelope, whose plaintext
   * decides: a DSMR telegram to the DSMR framer, a data-notification decoded;
   * the keys are the DLMS ones, so a Luxembourg Smarty read with AUTO needs its
   * authentication key given). With line_probe, HAN probes 2400 8E1, 2400 8N1
   * and 115200 8N1, AUTO those and the DSMR ones (line_probe.h); a HAN frame
   * whose check (FCS, M-Bus checksum) passes settles it. */
  int protocol;
  /* HAN: where decoded lists are mapped (the caller's telegram, so that
   * its dispatch path reads it in place); NULL: the chain's own. */
  struct dsmr_telegram *han_telegram;
  /* HAN: open GCM-tagged frames without checking the tag when no auth_key
   * is given (dlms_cipher.h); the first such frame is reported once. */
  int han_allow_unchecked;
  /* HAN: the zone a clock sent as local time without its offset
   * (deviation "unspecified", or Aidon Norway's 0: dsmr_han_clock_is_local)
   * is read in (tz.h; TimeZone), giving info.meter_time; NULL: such a
   * clock is not used. Not copied: it must outlive the chain. */
  const struct dsmr_tz *timezone;
  /* HAN: EnergyScaler (dsmr_han_options): the power of ten of the energy
   * registers (Wh, varh, VAh) of a list that sends no scaler_unit, instead
   * of the vendor document's (Swedish Kamstrup: 0, Wh, not 10 Wh). A
   * scaler_unit sent in the frame is always used as sent. */
  int han_energy_scaler_set;
  int han_energy_scaler;
};

enum dsmr_input_protocol {
  DSMR_INPUT_PROTO_DSMR = 0,
  DSMR_INPUT_PROTO_HAN = 1,
  DSMR_INPUT_PROTO_AUTO = 2,
};

/* NONE, FRAME and TOO_LARGE have the values of the framer's events. */
enum dsmr_input_event {
  /* the input is used up: feed more */
  DSMR_INPUT_NONE = DSMR_FRAME_NONE,
  /* out.frame: a telegram, out.check its verdict */
  DSMR_INPUT_FRAME = DSMR_FRAME_TELEGRAM,
  /* a telegram larger than max_telegram: dropped */
  DSMR_INPUT_TOO_LARGE = DSMR_FRAME_TOO_LARGE,
  /* an unfinished telegram (past its identification line: a '/' and
   * anything but a line end is noise) was cut off by the next one (bytes
   * lost on the line); one event per telegram, whatever the chunks */
  DSMR_INPUT_CUT,
  /* line probe (out.line: the probe; its `found`, `masked`, `windows`,
   * `lost_reason` and dsmr_line_probe_setting() say the rest) */
  DSMR_INPUT_LINE_FOUND,  /* settled; the frame that settled it follows */
  DSMR_INPUT_LINE_SWITCH, /* a window ended: apply the probe's setting to
                             the source; the chunk fed was dropped */
  DSMR_INPUT_LINE_LOST,   /* the settled line failed: probing again from
                             the same setting; the rest of the chunk was
                             dropped */
  /* Smarty envelopes (out.envelope) */
  DSMR_INPUT_DECRYPT_OK,         /* the first envelope that decrypts (once per
                                    chain: the keys are right) */
  DSMR_INPUT_DECRYPT_FAILED,     /* tag mismatch: wrong keys or a corrupted
                                    envelope; out.decrypted says how many did
                                    decrypt before */
  DSMR_INPUT_REPLAY,             /* frame counter not above the last one */
  DSMR_INPUT_ENVELOPE_TOO_LARGE, /* does not fit max_telegram: dropped */
  DSMR_INPUT_ENVELOPE_MALFORMED, /* cut short or malformed: dropped */
  /* HAN (Protocol "han" / "auto"). DECRYPT_OK, DECRYPT_FAILED, REPLAY and
   * ENVELOPE_MALFORMED also come from DLMS ciphered APDUs (out.han set,
   * out.envelope's system_title / frame_counter / last_counter filled). */
  DSMR_INPUT_HAN_TELEGRAM,        /* out.telegram: a decoded list mapped
                                     (out.han the list, out.han_errors the
                                     mapper's errors: dispatch only at 0) */
  DSMR_INPUT_HAN_FRAME_CHECK,     /* a frame failed its check (out.detail:
                                     bad HCS, bad FCS, bad M-Bus checksum) */
  DSMR_INPUT_HAN_MISSING_SEGMENT, /* a segment of a message missing */
  DSMR_INPUT_HAN_BLOCK_REFUSED,   /* block transfer: duplicated, missing or
                                     out-of-order block (out.detail) */
  DSMR_INPUT_HAN_TOO_LARGE,       /* a message longer than the buffers */
  DSMR_INPUT_HAN_PARSE_ERROR,     /* a data-notification that does not
                                     decode (out.detail) */
  DSMR_INPUT_HAN_NO_KEY,          /* an encrypted APDU that cannot be opened
                                     with the keys given (out.detail) */
  DSMR_INPUT_HAN_UNCHECKED,       /* the first frame opened without checking
                                     its GCM tag (han_allow_unchecked) */
  DSMR_INPUT_HAN_TRANSPORT,       /* the framing found out.detail ("HDLC",
                                     "M-Bus") */
  DSMR_INPUT_PROTOCOL,            /* AUTO: the stream is out.detail ("DSMR",
                                     "HAN") */
  /* internal: bytes from one stage to the next (never returned) */
  DSMR_INPUT_BYTES,
};

/* A frame's verdict under check_crc (without it, always OK). */
enum dsmr_input_check {
  DSMR_INPUT_CHECK_OK = 0,
  DSMR_INPUT_CHECK_CRC_BAD,     /* CRC mismatch or malformed CRC line */
  DSMR_INPUT_CHECK_CRC_MISSING, /* none, though the meter has sent one */
};

/* What dsmr_input_next returns; pointers stay valid until the next call. */
struct dsmr_input_out {
  enum dsmr_input_event ev;
  struct dsmr_frame frame; /* FRAME */
  enum dsmr_input_check check;
  const struct dsmr_line_probe *line; /* LINE_* */
  struct dsmr_smarty_frame envelope;  /* DECRYPT_*, REPLAY, ENVELOPE_* */
  uint64_t decrypted;                 /* DECRYPT_FAILED: envelopes so far */
  const char *data;                   /* BYTES (internal) */
  size_t len;
  /* HAN */
  int han;                          /* the event came from the HAN path */
  struct dsmr_telegram *telegram;   /* HAN_TELEGRAM */
  const struct dsmr_han_list *list; /* HAN_TELEGRAM */
  unsigned han_errors;              /* HAN_TELEGRAM */
  const char *detail;               /* HAN_* (static string) */
};

/* Counts over the chain's life (restart keeps them). */
struct dsmr_input_stats {
  uint64_t bytes;     /* bytes taken in (not those of dropped chunks) */
  uint64_t frames;    /* FRAME events */
  uint64_t too_large; /* TOO_LARGE events */
  uint64_t cut;       /* telegrams cut short (CUT events) */
  uint64_t decrypted, decrypt_failed, replayed; /* Smarty envelopes */
  uint64_t envelope_too_large, envelope_malformed;
  /* HAN (decrypt_failed, replayed, envelope_malformed count there too) */
  uint64_t han_telegrams, han_frame_check, han_missing_segment,
      han_block_refused, han_too_large, han_parse_error, han_no_key;
};

struct dsmr_input;

/* One stage: consume from p[0..len), set out->ev (NONE when used up and
 * nothing held), return the bytes consumed. */
typedef size_t (*dsmr_input_push)(struct dsmr_input *in, const char *p,
                                  size_t len, struct dsmr_input_out *out);

#define DSMR_INPUT_MAX_STAGES 6

struct dsmr_input_stage {
  dsmr_input_push push;
  const char *p; /* input not yet consumed */
  size_t len;
  int again; /* its last push had an output: push again even with len 0 */
};

struct dsmr_input {
  int check_crc, seen_crc;
  long long now_ms;
  struct dsmr_input_stage stage[DSMR_INPUT_MAX_STAGES];
  unsigned nstages;
  int held; /* held_out is returned by the next dsmr_input_next */
  struct dsmr_input_out held_out;
  struct dsmr_input_stats stats;

  /* DSMR framer (the last stage) */
  struct dsmr_framer framer;
  uint64_t framer_dropped;    /* framer.stats.dropped already reported */
  uint64_t framer_cuts;       /* CUTs still to report */
  int framer_busy, framer_nl; /* collecting; that telegram has a '\n' */
  size_t framer_nl_checked;   /* its bytes searched for the '\n' */
  int framer_held;
  int framer_pending; /* framer_cuts or framer_held */
  struct dsmr_input_out framer_out;

  /* Smarty (decryption_key given) */
  int decrypt;
  struct dsmr_smarty smarty;
  const char *plain; /* plaintext held after DECRYPT_OK */
  size_t plain_len;

  /* line probe (line_probe): the probe, the framer of the masked copy,
   * a telegram to judge frames without CRC, the chunk being probed. */
  int probing;
  struct dsmr_line_probe line;
  struct dsmr_framer alt;
  struct dsmr_telegram *scratch;
  char *chunk;
  size_t chunk_len, rest;
  int step;
  struct dsmr_frame found;

  /* HAN stage (protocol HAN or AUTO) */
  int protocol;
  int decided;      /* AUTO: 0 not yet, else DSMR or HAN (input_chain.c) */
  int say_protocol; /* AUTO: the decision is still to be said */
  uint8_t sniff[8]; /* AUTO: the last bytes seen while undecided */
  size_t nsniff;
  const uint8_t *pend; /* bytes of sniff still to route after deciding */
  size_t pend_len;
  struct dsmr_han_framing hf;
  uint8_t *han_buf;
  int have_cipher, decrypted_once;
  struct dsmr_dlms_cipher cipher;
  struct dsmr_han_list *list;
  struct dsmr_telegram *tel;
  int own_tel;
  const struct dsmr_tz *tz;        /* cfg->timezone */
  struct dsmr_han_options han_opt; /* cfg->han_energy_scaler* */
  struct dsmr_input_out hq[4];     /* outputs still to return, in order */
  unsigned hq_n, hq_i;
  /* a DSMR telegram from a DLMS envelope whose tag was not checked is in
   * the framer: its counter is committed once its CRC passed */
  int commit_pending;
  struct dsmr_dlms_plain pending_plain;
  /* AUTO: bare envelopes (DB 08 ..., no HDLC or M-Bus around them) */
  int bare;
  uint8_t *env_buf; /* DSMR_HAN_MESSAGE_MAX bytes */
  size_t env_len, env_need;
  uint8_t sig[4]; /* the framing's signature, found between envelopes */
  /* line probe with HAN: a HAN frame lost the settled line (next_stages) */
  int han_line_lost;
};

/* Build the chain: allocates its buffers. now_ms: dsmr_now_ms().
 * Returns 0, or -1 with a message in err (never key material). Smarty:
 * see dsmr_smarty_init on libgcrypt's initialisation. */
int dsmr_input_init(struct dsmr_input *in, const struct dsmr_input_config *cfg,
                    long long now_ms, char *err, size_t errlen);

/* Free the buffers, wipe the keys. Safe after a failed init, and twice. */
void dsmr_input_free(struct dsmr_input *in);

/* The source was (re)opened: forget partial telegrams and envelopes, probe
 * again from the line setting in use. Keeps the stats, the last Smarty
 * frame counter and whether the meter sends CRCs. */
void dsmr_input_restart(struct dsmr_input *in, long long now_ms);

/* The line setting to open the source with; NULL when not probing. */
const struct dsmr_line_setting *dsmr_input_line(const struct dsmr_input *in);

/* A chunk read from the source (len 0: a quiet second; with line probing,
 * call at least once a second). Call when dsmr_input_next has returned
 * NONE. data stays the caller's, but is read and rewritten in place (bit 7
 * masking) until dsmr_input_next returns NONE. Inline: every read pays
 * for it. */
void dsmr_input_tick_(struct dsmr_input *in); /* the line probe's part */
static inline void dsmr_input_feed(struct dsmr_input *in, char *data,
                                   size_t len, long long now_ms) {
  in->now_ms = now_ms;
  in->stage[0].p = data;
  in->stage[0].len = len;
  if (in->probing)
    dsmr_input_tick_(in);
}

/* The input has ended (a file): a telegram whose CRC line is cut short
 * there (a DSMR 2.2/3 telegram whose '!' is the last byte, a CRC of fewer
 * than 4 digits without its CR LF) ends with it. Call when
 * dsmr_input_next has returned NONE, then call it until NONE again. */
void dsmr_input_end(struct dsmr_input *in);

/* The next thing that happened, in stream order; NONE when the input is
 * used up. *out (and what it points to) is valid until the next call. */
enum dsmr_input_event dsmr_input_next(struct dsmr_input *in,
                                      struct dsmr_input_out *out);

/* A short name ("frame", "line found", "decryption failed"...). */
const char *dsmr_input_event_name(enum dsmr_input_event ev);

/* Whether a HAN date-time of list l is local time without its offset,
 * read in the TimeZone (dsmr_input_config.timezone): deviation
 * "unspecified" (0x8000: Aidon SE, Kaifa NO, Kamstrup, L&G CH), or 0 in
 * an Aidon Norway list (list id AIDON_V...). Aidon's and NVE's list
 * documents define that clock as "Local date and time of Norway"
 * (han-aidon-norway-1.1A item 15, han-nve-lists item 15: CET/CEST), and
 * the meter sends it with deviation 0 (a captured list 3 says 16:00:00
 * for the 16:00 local hour, amsreader-firmware gh1119), not -60/-120: read
 * as UTC it would be 1-2 h ahead. Other meters' deviation 0 is UTC. */
int dsmr_han_clock_is_local(const struct dsmr_han_list *l,
                            const struct dsmr_cosem_datetime *dt);

#endif
