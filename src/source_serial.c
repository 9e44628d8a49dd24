/* Opening a serial device or pseudo-terminal.
 *
 * libserialport first: it knows the quirks of USB serial adapters. But
 * libserialport 0.1.1 (Debian 12) cannot open what users also point us at:
 * pseudo-terminals (socat, ser2net, our simulator), because its
 * sp_get_port_by_name wants a /sys/class/tty/<name> entry and sp_open
 * fails on the TIOCMGET ioctl that ptys do not implement. So when it fails
 * we open the device ourselves with plain termios, in raw mode (a fresh tty
 * "cooks" input: CR becomes LF, lines are buffered, bytes are echoed). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libserialport.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "source.h"
#include "source_internal.h"

const int dsmr_source_baudrates[] = {300,   600,   1200,  2400,   4800,   9600,
                                     19200, 38400, 57600, 115200, 230400, 0};

static speed_t speed_constant(int baud) {
  switch (baud) {
  case 300:
    return B300;
  case 600:
    return B600;
  case 1200:
    return B1200;
  case 2400:
    return B2400;
  case 4800:
    return B4800;
  case 9600:
    return B9600;
  case 19200:
    return B19200;
  case 38400:
    return B38400;
  case 57600:
    return B57600;
  case 115200:
    return B115200;
  case 230400:
    return B230400;
  default:
    return B0;
  }
}

/* Name of user uid / group gid, or the number. */
static void user_name(uid_t uid, char *buf, size_t len) {
  struct passwd pw, *res = NULL;
  char tmp[1024];
  if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
    snprintf(buf, len, "%s", res->pw_name);
  else
    snprintf(buf, len, "%u", (unsigned)uid);
}

static void group_name(gid_t gid, char *buf, size_t len) {
  struct group gr, *res = NULL;
  char tmp[4096];
  if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res)
    snprintf(buf, len, "%s", res->gr_name);
  else
    snprintf(buf, len, "%u", (unsigned)gid);
}

/* EACCES: who we are, who may read the device, and what to change. */
static void permission_error(char *err, size_t errlen, const char *path) {
  char me[64], owner[64], group[64];
  struct stat st;

  user_name(geteuid(), me, sizeof(me));
  if (stat(path, &st) != 0) {
    snprintf(err, errlen,
             "permission denied opening %s as user %s: give that user read "
             "access to the device (usually: add it to the group 'dialout')",
             path, me);
    return;
  }
  user_name(st.st_uid, owner, sizeof(owner));
  group_name(st.st_gid, group, sizeof(group));
  if (st.st_mode & S_IRGRP)
    snprintf(err, errlen,
             "permission denied opening %s (owner %s, group %s, mode %04o) as "
             "user %s: add user %s to the group '%s' (e.g. usermod -aG %s "
             "%s) and restart collectd, or run collectd as root",
             path, owner, group, (unsigned)(st.st_mode & 07777), me, me, group,
             group, me);
  else
    snprintf(err, errlen,
             "permission denied opening %s (owner %s, group %s, mode %04o) as "
             "user %s: the device is not readable by its group; give user "
             "%s read access (e.g. a udev rule with GROUP=\"dialout\", "
             "MODE=\"0660\") or run collectd as root",
             path, owner, group, (unsigned)(st.st_mode & 07777), me, me);
}

/* The reason an open failed, with what the user can do about it. */
static void open_error(char *err, size_t errlen, const char *path, int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    snprintf(err, errlen,
             "%s does not exist (adapter unplugged or not yet there? "
             "/dev/serial/by-id/ names survive re-plugging)",
             path);
    break;
  case ENODEV:
  case ENXIO:
    /* The node is there, the device behind it is not (or, for /dev/tty,
     * is no terminal of this process): say what the kernel said. */
    snprintf(err, errlen,
             "cannot open %s: %s (the node exists but no device answers "
             "it: adapter unplugged, or not a serial port of this machine?)",
             path, strerror(e));
    break;
  case EACCES:
  case EPERM:
    permission_error(err, errlen, path);
    break;
  case EBUSY:
    snprintf(err, errlen, "%s is busy (another program holds it)", path);
    break;
  default:
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
    break;
  }
}

static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -1;
  return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* libserialport's own message for the last failure, copied (it must be
 * freed with sp_free_error_message). */
static void sp_reason(char *buf, size_t len, const char *step) {
  char *msg = sp_last_error_message();
  snprintf(buf, len, "libserialport failed to %s it: %s", step,
           msg ? msg : "unknown error");
  if (msg)
    sp_free_error_message(msg);
}

static char parity_letter(enum dsmr_parity p) {
  return p == DSMR_PARITY_EVEN ? 'E' : p == DSMR_PARITY_ODD ? 'O' : 'N';
}

static enum sp_parity sp_parity_of(enum dsmr_parity p) {
  switch (p) {
  case DSMR_PARITY_EVEN:
    return SP_PARITY_EVEN;
  case DSMR_PARITY_ODD:
    return SP_PARITY_ODD;
  default:
    return SP_PARITY_NONE;
  }
}

/* Character size, parity, stop bits and speed from c into t. */
static void termios_line(struct termios *t,
                         const struct dsmr_source_config *c) {
  speed_t speed = speed_constant(c->baudrate);

  t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB);
  t->c_cflag |= (tcflag_t)(c->databits == 7 ? CS7 : CS8);
  if (c->parity != DSMR_PARITY_NONE)
    t->c_cflag |= PARENB;
  if (c->parity == DSMR_PARITY_ODD)
    t->c_cflag |= PARODD;
  if (c->stopbits == 2)
    t->c_cflag |= CSTOPB;
  if (speed != B0) {
    cfsetispeed(t, speed);
    cfsetospeed(t, speed);
  }
}

/* Apply t to fd. A pseudo-terminal has no character framing: Linux keeps
 * it at CS8 without parity, and refuses with EINVAL a request whose only
 * change is the framing (7E1 for a 9600 7E1 meter behind socat, or
 * Baudrate "auto" probing). A pty then gets the rest of the request
 * (speed, raw mode) with the framing it has; its bytes are what the
 * writer wrote either way. */
static int set_attr(int fd, struct termios *t) {
  const tcflag_t framing = CSIZE | PARENB | PARODD | CSTOPB;
  struct termios cur;
  struct stat st;

  if (tcsetattr(fd, TCSANOW, t) == 0)
    return 0;
  /* Unix98 pty slaves: majors 136 to 143. */
  if (errno != EINVAL || fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) ||
      major(st.st_rdev) < 136 || major(st.st_rdev) > 143 ||
      tcgetattr(fd, &cur) != 0 ||
      (cur.c_cflag & framing) == (t->c_cflag & framing)) {
    errno = EINVAL;
    return -1;
  }
  t->c_cflag = (t->c_cflag & ~framing) | (cur.c_cflag & framing);
  return tcsetattr(fd, TCSANOW, t);
}

/* The whole line configuration c onto an open port, at opening and for
 * each Baudrate "auto" step alike. A new config leaves every setting
 * "unchanged" until set: RTS and DTR stay as the open left them unless
 * DataRequest asks for one. (Leaving flow control "unchanged" too makes
 * libserialport 0.1.1 read uninitialised memory: valgrind.) Returns
 * SP_OK or libserialport's error. */
static enum sp_return sp_configure(struct sp_port *port,
                                   const struct dsmr_source_config *c) {
  struct sp_port_config *conf = NULL;
  enum sp_return rc = sp_new_config(&conf);

  if (rc != SP_OK)
    return rc;
  if ((rc = sp_set_config_baudrate(conf, c->baudrate)) != SP_OK ||
      (rc = sp_set_config_bits(conf, c->databits)) != SP_OK ||
      (rc = sp_set_config_parity(conf, sp_parity_of(c->parity))) != SP_OK ||
      (rc = sp_set_config_stopbits(conf, c->stopbits)) != SP_OK ||
      (rc = sp_set_config_cts(conf, SP_CTS_IGNORE)) != SP_OK ||
      (rc = sp_set_config_dsr(conf, SP_DSR_IGNORE)) != SP_OK ||
      (rc = sp_set_config_xon_xoff(conf, SP_XONXOFF_DISABLED)) != SP_OK ||
      (c->data_request == DSMR_DATA_REQUEST_RTS &&
       (rc = sp_set_config_rts(conf, SP_RTS_ON)) != SP_OK) ||
      (c->data_request == DSMR_DATA_REQUEST_DTR &&
       (rc = sp_set_config_dtr(conf, SP_DTR_ON)) != SP_OK))
    goto out;
  rc = sp_set_config(port, conf);
out:
  sp_free_config(conf);
  return rc;
}

static int open_libserialport(struct dsmr_source *s, const char *path) {
  struct sp_port *port = NULL;
  enum sp_return rc;
  int fd = -1;

  rc = sp_get_port_by_name(path, &port);
  if (rc != SP_OK) {
    /* SP_ERR_ARG: no /sys/class/tty entry for it (a pseudo-terminal);
     * errno means nothing then. */
    if (rc == SP_ERR_ARG)
      snprintf(s->fallback_reason, sizeof(s->fallback_reason),
               "libserialport does not know it as a serial port");
    else
      sp_reason(s->fallback_reason, sizeof(s->fallback_reason), "lookup");
    return -1;
  }
  if (sp_open(port, SP_MODE_READ) != SP_OK) {
    sp_reason(s->fallback_reason, sizeof(s->fallback_reason), "open");
    sp_free_port(port);
    return -1;
  }
  if (sp_configure(port, &s->cfg) != SP_OK) {
    sp_reason(s->fallback_reason, sizeof(s->fallback_reason), "configure");
    goto fail;
  }
  if (sp_get_port_handle(port, &fd) != SP_OK || fd < 0 ||
      set_nonblocking(fd) < 0) {
    snprintf(s->fallback_reason, sizeof(s->fallback_reason),
             "libserialport: no usable descriptor");
    goto fail;
  }
  s->port = port;
  s->fd = fd;
  s->is_tty = 1;
  s->via = "libserialport";
  return 0;

fail:
  sp_close(port);
  sp_free_port(port);
  return -1;
}

static int open_termios(struct dsmr_source *s, const char *path, char *err,
                        size_t errlen) {
  const struct dsmr_source_config *c = &s->cfg;
  struct termios t;
  int fd;

  /* O_NONBLOCK: a serial open can otherwise wait for carrier detect;
   * O_NOCTTY: never become collectd's controlling terminal. */
  fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    open_error(err, errlen, path, errno);
    return -1;
  }
  if (!isatty(fd)) {
    snprintf(err, errlen, "%s is not a serial device or terminal", path);
    close(fd);
    return -1;
  }
  if (tcgetattr(fd, &t) < 0) {
    snprintf(err, errlen, "%s: cannot read terminal settings: %s", path,
             strerror(errno));
    close(fd);
    return -1;
  }
  cfmakeraw(&t);
  t.c_cflag &= ~(tcflag_t)CRTSCTS;
  t.c_cflag |= (tcflag_t)(CLOCAL | CREAD);
  termios_line(&t, c);
  t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (set_attr(fd, &t) < 0) {
    snprintf(err, errlen, "%s: cannot set raw mode at %d baud: %s", path,
             c->baudrate, strerror(errno));
    close(fd);
    return -1;
  }
  if (c->data_request != DSMR_DATA_REQUEST_NONE) {
    int bit = c->data_request == DSMR_DATA_REQUEST_RTS ? TIOCM_RTS : TIOCM_DTR;
    if (ioctl(fd, TIOCMBIS, &bit) < 0)
      snprintf(s->data_request_note, sizeof(s->data_request_note),
               "DataRequest \"%s\" not applied: the device has no modem "
               "lines (%s)",
               c->data_request == DSMR_DATA_REQUEST_RTS ? "rts" : "dtr",
               strerror(errno));
  }
  s->fd = fd;
  s->is_tty = 1;
  s->via = "termios";
  return 0;
}

int dsmr_source_open_serial(struct dsmr_source *s, char *err, size_t errlen) {
  char real[PATH_MAX];

  /* libserialport finds a port's sysfs entry from its /dev name, so it
   * needs "/dev/ttyUSB0", not the /dev/serial/by-id/ link users should
   * configure (that name survives re-plugging). */
  if (!realpath(s->cfg.device, real)) {
    open_error(err, errlen, s->cfg.device, errno);
    return -1;
  }
  if (open_libserialport(s, real) == 0)
    return 0;
  return open_termios(s, real, err, errlen);
}

int dsmr_source_set_line(struct dsmr_source *s, int baudrate, int databits,
                         enum dsmr_parity parity, int stopbits, char *err,
                         size_t errlen) {
  struct dsmr_source_config *c = &s->cfg;
  struct termios t;

  if (s->fd < 0 || !s->is_tty) {
    snprintf(err, errlen, "not an open serial device");
    return -1;
  }
  c->baudrate = baudrate;
  c->databits = databits;
  c->parity = parity;
  c->stopbits = stopbits;
  if (s->port) {
    if (sp_configure(s->port, c) != SP_OK) {
      char *msg = sp_last_error_message();
      snprintf(err, errlen, "cannot set %d %d%c%d: %s", baudrate, databits,
               parity_letter(parity), stopbits, msg ? msg : "unknown error");
      if (msg)
        sp_free_error_message(msg);
      return -1;
    }
    sp_flush(s->port, SP_BUF_INPUT);
    return 0;
  }
  if (tcgetattr(s->fd, &t) < 0) {
    snprintf(err, errlen, "cannot read terminal settings: %s", strerror(errno));
    return -1;
  }
  termios_line(&t, c);
  if (set_attr(s->fd, &t) < 0) {
    snprintf(err, errlen, "cannot set %d %d%c%d: %s", baudrate, databits,
             parity_letter(parity), stopbits, strerror(errno));
    return -1;
  }
  tcflush(s->fd, TCIFLUSH);
  return 0;
}
