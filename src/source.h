/* Where a meter's bytes come from: a serial device (libserialport), a
 * pseudo-terminal (plain termios: libserialport 0.1.1 cannot open ptys), or
 * a TCP peer (P1-to-network dongle, ser2net). Knows nothing of telegrams.
 *
 * Every blocking step also watches `wake_fd` (the read end of a pipe or an
 * eventfd owned by the caller): when it becomes readable the call returns
 * at once, so a reader thread can always be stopped within a second. The
 * caller never drains wake_fd: once written it stays readable, so every
 * later call returns at once too. */
#ifndef DSMR_SOURCE_H
#define DSMR_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

enum dsmr_source_kind { DSMR_SOURCE_DEVICE = 0, DSMR_SOURCE_TCP = 1 };
enum dsmr_parity { DSMR_PARITY_NONE = 0, DSMR_PARITY_EVEN, DSMR_PARITY_ODD };
enum dsmr_data_request {
  DSMR_DATA_REQUEST_NONE = 0,
  DSMR_DATA_REQUEST_RTS,
  DSMR_DATA_REQUEST_DTR,
};

struct dsmr_source_config {
  enum dsmr_source_kind kind;
  char device[256]; /* DSMR_SOURCE_DEVICE */
  char host[256];   /* DSMR_SOURCE_TCP */
  char port[32];
  int baudrate; /* e.g. 115200, 9600 */
  int databits; /* 7 or 8 */
  enum dsmr_parity parity;
  int stopbits; /* 1 or 2 */
  enum dsmr_data_request data_request;
  /* Baudrate "auto" (devices only): the caller probes line settings
   * (line_probe.h) and applies each with dsmr_source_set_line; the four
   * fields above hold the one in use. */
  int line_auto;
};

struct sp_port;
struct dsmr_lookup;

struct dsmr_source {
  struct dsmr_source_config cfg;
  int fd;               /* -1 when closed */
  struct sp_port *port; /* set when opened through libserialport */
  int is_tty;           /* opened through termios (pty or tty) */
  /* How the open source was reached, for log lines: "libserialport",
   * "termios" or "tcp"; "" when closed. */
  const char *via;
  /* Why libserialport was not used for the open device ("" when it was, or
   * for TCP): the fallback is normal for ptys but worth a debug line. */
  char fallback_reason[128];
  /* Set when DataRequest could not be applied (a pty has no modem lines):
   * the caller logs it once. */
  char data_request_note[128];
  /* A name lookup that outlasted an open (source_tcp.c): kept, and either
   * picked up by the next open or reaped once it completes. */
  struct dsmr_lookup *lookup;
};

/* The baud rates the serial path can set (the config checks against this
 * list): zero-terminated. */
extern const int dsmr_source_baudrates[];

void dsmr_source_init(struct dsmr_source *s,
                      const struct dsmr_source_config *cfg);

/* Open (connect) the source. Returns 0, or -1 with a human-readable reason
 * in err (naming the device or host, and what to do for EACCES/ENOENT),
 * or -2 when woken through wake_fd. Never blocks longer than
 * timeout_ms, and not at all once wake_fd is readable. */
int dsmr_source_open(struct dsmr_source *s, int wake_fd, int timeout_ms,
                     char *err, size_t errlen);

/* Wait up to timeout_ms for bytes. Returns the number read (> 0), 0 on
 * timeout or wake-up, -1 when the source was lost (EOF, hang-up, device
 * gone; reason in err). */
ssize_t dsmr_source_read(struct dsmr_source *s, void *buf, size_t len,
                         int wake_fd, int timeout_ms, char *err, size_t errlen);

/* Change the line settings of an open serial source in place (Baudrate
 * "auto" probing), discarding bytes received but not yet read: they were
 * read with the old settings. Updates s->cfg. Returns 0, or -1 with the
 * reason in err. */
int dsmr_source_set_line(struct dsmr_source *s, int baudrate, int databits,
                         enum dsmr_parity parity, int stopbits, char *err,
                         size_t errlen);

/* Whether the configured Device path still names the device that is open
 * (a /dev/serial/by-id/ link, or any link, may be repointed to another tty
 * or removed while the old tty stays open and silent). Compares stat(path)
 * with fstat(fd): device numbers for character devices, else device and
 * inode. Returns 1 when it does (and for TCP, a closed source, or when it
 * cannot tell), 0 when the path now names another device or nothing, with
 * the reason in err: the caller closes and opens again. */
int dsmr_source_still_named(const struct dsmr_source *s, char *err,
                            size_t errlen);

/* Safe to call on a closed source. */
void dsmr_source_close(struct dsmr_source *s);

/* At the end of the source's life (after close): also lets go of a name
 * lookup still pending (source_tcp.c). */
void dsmr_source_free(struct dsmr_source *s);

/* "device /dev/ttyUSB0" or "tcp 192.168.1.50:23", for log lines. */
void dsmr_source_describe(const struct dsmr_source_config *cfg, char *buf,
                          size_t len);

#endif
