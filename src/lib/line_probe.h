/* Baudrate "auto": which line setting to listen with, when to give up on
 * one, and when a settled line has gone bad. Pure: no I/O and no clock of
 * its own. The caller reports what the line delivered (bytes, frames) and
 * the passing of time (monotonic milliseconds), and applies the setting
 * this says: the plugin's reader (meter_reader.c) and dsmr-cat share it.
 *
 * The settings, in this order (the most common meters first):
 *   115200 8N1  DSMR 4 and 5 (and Luxembourg, Belgium, Sweden...)
 *   115200 7E1  a few DSMR 4 meters configured the old way
 *   9600 7E1    DSMR 2.2 and 3
 *
 * A 7E1 line read as 8N1 delivers each character's parity bit as bit 7
 * (both are ten bits a character: start, 7 data + parity or 8 data,
 * stop). P1 telegrams are ASCII, so clearing bit 7 rescues such a reading:
 * while an 8-bit setting is probed, the stream is framed twice, as read
 * and with bit 7 cleared. A telegram that is only valid masked means a 7E1
 * line: the probe settles on it and reports "115200 7E1" (the port stays
 * at 8N1 and every byte is masked, which reads a 7E1 line exactly as a
 * 7E1 port would, minus the parity check that the CRC makes redundant).
 * 7-bit settings are always masked: a pseudo-terminal (or a driver) may
 * hand the parity bit through in bit 7.
 *
 * Probing: each setting is listened to for DSMR_LINE_WINDOW_MS, long
 * enough for a DSMR 4 or 2.2 meter (a telegram every 10 s) to start and
 * finish one telegram wherever in its period the window begins (10 s plus
 * the ~1 s a 1 KB telegram takes at 9600 baud, plus margin). A window
 * that ends while a telegram is being collected is extended once by
 * DSMR_LINE_EXTEND_MS. After the last setting the first comes again: a
 * meter that is not sending yet is found whenever it starts.
 *
 * Settled: the first valid telegram settles the probe (valid: the CRC
 * matches; or, for DSMR 2.2/3 which send no CRC, it maps cleanly with at
 * least one data object: see dsmr_line_frame_valid). It goes back to
 * probing, starting with the setting that worked, after either
 *   - DSMR_LINE_BAD_RUN frames in a row that are not valid, or
 *   - DSMR_LINE_QUIET_MS without a valid frame while at least
 *     DSMR_LINE_QUIET_BYTES bytes arrived (a wrong line setting delivers
 *     garbage bytes; a silent or unplugged meter delivers none and keeps
 *     its setting).
 *
 * Not for encrypted (Luxembourg Smarty) streams: those are binary, bit 7
 * carries data. Smarty meters use 115200 8N1.
 *
 * Binary HAN meters (Protocol "han" / "auto", input_chain.h): the family
 * given at init says which settings are probed, in this order:
 *   DSMR  115200 8N1, 115200 7E1, 9600 7E1 (the above; the default)
 *   HAN   2400 8E1 (Aidon, Kaifa, Austria), 2400 8N1 (Kamstrup), 115200
 *         8N1 (the new Swedish RJ12 ports)
 *   ANY   the DSMR ones, then 2400 8E1 and 2400 8N1
 * A HAN frame is valid when its check passes (HDLC FCS, M-Bus checksum:
 * the caller judges and reports it through dsmr_line_probe_frame). Only
 * the DSMR settings' 8-bit one frames a masked copy (ASCII): at 2400 and
 * for HAN the bytes are binary and never masked. */
#ifndef DSMR_LINE_PROBE_H
#define DSMR_LINE_PROBE_H

#include <stddef.h>

#include "clock.h"
#include "framer.h"
#include "mapper.h"

#define DSMR_LINE_SETTINGS 3 /* the DSMR family's */
#define DSMR_LINE_SETTINGS_ALL 5
#define DSMR_LINE_WINDOW_MS 12000
#define DSMR_LINE_EXTEND_MS 3000
#define DSMR_LINE_BAD_RUN 5
#define DSMR_LINE_QUIET_MS 30000
#define DSMR_LINE_QUIET_BYTES 64

struct dsmr_line_setting {
  int baudrate;
  int databits; /* 7 or 8 */
  char parity;  /* 'N' or 'E' */
  int stopbits;
};

/* The DSMR family's first, in its probing order; then 2400 8E1, 2400 8N1. */
extern const struct dsmr_line_setting
    dsmr_line_settings[DSMR_LINE_SETTINGS_ALL];

enum dsmr_line_family {
  DSMR_LINE_FAMILY_DSMR = 0, /* DSMR telegrams (dsmr_line_probe_init) */
  DSMR_LINE_FAMILY_HAN,      /* binary HAN frames */
  DSMR_LINE_FAMILY_ANY,      /* either (Protocol "auto") */
};

enum dsmr_line_event {
  DSMR_LINE_KEEP = 0, /* carry on as before */
  DSMR_LINE_SWITCH,   /* a window ended: apply dsmr_line_probe_setting()
                         and reset the framers */
  DSMR_LINE_FOUND,    /* settled (on the setting in use): log it */
  DSMR_LINE_LOST,     /* the settled line failed: probing again from the
                         same setting; apply it and reset the framers */
};

enum dsmr_line_lost_reason {
  DSMR_LINE_LOST_NONE = 0,
  DSMR_LINE_LOST_BAD_RUN, /* DSMR_LINE_BAD_RUN invalid frames in a row */
  DSMR_LINE_LOST_QUIET,   /* bytes, but no valid frame for a while */
};

struct dsmr_line_probe {
  int settled;
  unsigned index; /* into order[]: the setting in use */
  enum dsmr_line_family family;
  const unsigned char *order; /* indices into dsmr_line_settings */
  unsigned nsettings;         /* in order[] */
  int masked; /* settled through the bit-7-masked copy of 8-bit data */
  /* probing */
  long long window_end;
  int extended;
  /* windows that ended without a valid telegram since probing (re)began:
   * nsettings of them = every setting was tried once */
  unsigned windows;
  /* settled */
  unsigned bad_run;
  long long last_good;
  unsigned long long bytes_since_good;
  enum dsmr_line_lost_reason lost_reason; /* of the last LOST */
  char found[24]; /* the last setting settled on, as described */
};

/* Start probing with the first setting. Every now_ms below is a reading of
 * dsmr_now_ms() (clock.h). The DSMR family. */
void dsmr_line_probe_init(struct dsmr_line_probe *p, long long now_ms);

/* The same for a family's settings (see above). */
void dsmr_line_probe_init_family(struct dsmr_line_probe *p, long long now_ms,
                                 enum dsmr_line_family family);

/* The source was (re)opened with dsmr_line_probe_setting(): probe again,
 * starting with the setting in use (the one that worked, if any). */
void dsmr_line_probe_restart(struct dsmr_line_probe *p, long long now_ms);

const struct dsmr_line_setting *
dsmr_line_probe_setting(const struct dsmr_line_probe *p);

/* Whether the bytes as read must have bit 7 cleared before framing. */
int dsmr_line_probe_mask(const struct dsmr_line_probe *p);

/* Whether a second, masked copy of the stream is framed too (probing an
 * 8-bit setting). */
int dsmr_line_probe_dual(const struct dsmr_line_probe *p);

/* Time passed and `bytes` more bytes were read (0 on a quiet second; call
 * at least once a second, before the frames of those bytes are reported).
 * in_progress: a framer is in the middle of a telegram. */
enum dsmr_line_event dsmr_line_probe_tick(struct dsmr_line_probe *p,
                                          size_t bytes, int in_progress,
                                          long long now_ms);

/* A frame completed; valid as dsmr_line_frame_valid says. from_masked: it
 * came from the masked copy (dsmr_line_probe_dual). Returns FOUND, LOST
 * or KEEP. */
enum dsmr_line_event dsmr_line_probe_frame(struct dsmr_line_probe *p,
                                           int from_masked, int valid,
                                           long long now_ms);

/* "115200 8N1", "9600 7E1"; a 7E1 line found through masking reads
 * "115200 7E1". At least 16 bytes. */
void dsmr_line_probe_describe(const struct dsmr_line_probe *p, char *buf,
                              size_t len);

/* "115200 8N1, 115200 7E1 or 9600 7E1", for log lines. */
void dsmr_line_settings_list(char *buf, size_t len);

/* The same for the probe's family ("2400 8E1, 2400 8N1 or 115200 8N1"). */
void dsmr_line_probe_list(const struct dsmr_line_probe *p, char *buf,
                          size_t len);

/* What settles the probe's family, for "no valid ... yet" messages:
 * "telegram", "HAN frame" or "telegram or HAN frame". */
const char *dsmr_line_probe_wants(const struct dsmr_line_probe *p);

/* Whether a frame shows that the line setting is right: its CRC matches,
 * or it has none and maps without error to at least one data object
 * (maps into *scratch, which is overwritten). */
int dsmr_line_frame_valid(const struct dsmr_frame *f,
                          struct dsmr_telegram *scratch);

/* Clear bit 7 of every byte, in place. */
void dsmr_line_mask(char *data, size_t len);

/* While probing: frame data[0..len) with `primary` (masked first when
 * dsmr_line_probe_mask) and, when dsmr_line_probe_dual, a masked copy
 * with `alt`; judge every frame with dsmr_line_frame_valid. Frames made
 * while probing are only judged, never handed out, except the one that
 * settles the probe: then *ev is DSMR_LINE_FOUND, *found describes it
 * (handle it at once: it points into a framer's buffer), and the return value
 * is the number of bytes up to its end. The rest of the chunk, data[ret..len),
 * is then ready (masked when the settled line needs it) to be fed to
 * `primary`, which is ready for it. Otherwise *ev is KEEP and len returned.
 *
 * `primary`'s counters only see the bytes (probing makes garbage frames by
 * design: they are not the meter's fault). data is modified (masked). */
size_t dsmr_line_probe_feed(struct dsmr_line_probe *p,
                            struct dsmr_framer *primary,
                            struct dsmr_framer *alt, char *data, size_t len,
                            struct dsmr_telegram *scratch, long long now_ms,
                            enum dsmr_line_event *ev, struct dsmr_frame *found);

#endif
