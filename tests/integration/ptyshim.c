/* TEST SHIM, loaded with LD_PRELOAD into collectd by
 * test_libserialport.py, and only there: it makes a pseudo-terminal look
 * like a serial port to libserialport 0.1.1, so that the plugin's
 * libserialport path can be tested without hardware.
 *
 * libserialport 0.1.1 cannot open a pty for two reasons, and this shim
 * answers exactly those, nothing else:
 *  1. sp_get_port_by_name("/dev/pts/N") looks up /sys/class/tty/pts/N
 *     (lstat, then readlink); ptys have no such entry. The shim reports it
 *     as a symlink into /sys/devices/virtual/tty.
 *  2. sp_open reads and sets the modem lines (TIOCMGET, TIOCMSET,
 *     TIOCMBIS, TIOCMBIC), which a pty rejects with ENOTTY. The shim keeps
 *     a modem-line word per process and answers those four ioctls on
 *     descriptors of /dev/pts/ devices.
 * Everything else (open, termios, read) is the real pty. Each answered
 * ioctl is appended to the file named by $DSMR_SHIM_LOG, so the test can
 * tell that libserialport really ran and which lines DataRequest raised.
 *
 * It also observes (and passes on unchanged) tcsetattr on ptys: the Linux
 * pty driver forces CS8 and clears PARENB, so what was asked for (7E1 for
 * DSMR 2.2) can only be seen on the way in. With DSMR_SHIM_FAKE=0 the shim
 * only observes: libserialport then fails as usual and the plugin's own
 * termios path can be watched the same way.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* The pretend modem lines of every pty in this process (one meter per
 * test run is all the test needs). */
static int modem_lines = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR;

static void shim_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...) {
  const char *path = getenv("DSMR_SHIM_LOG");
  char line[256];
  va_list ap;
  int fd, n;

  if (!path)
    return;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof(line))
    n = sizeof(line) - 1;
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  if (write(fd, line, (size_t)n) < 0) {
  }
  close(fd);
}

/* "/sys/class/tty/pts/<digits>" and nothing more. */
static int faking(void) {
  const char *v = getenv("DSMR_SHIM_FAKE");
  return !(v && strcmp(v, "0") == 0);
}

static int is_sys_pts(const char *path) {
  static const char prefix[] = "/sys/class/tty/pts/";
  const char *p;
  if (!faking() || !path || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
    return 0;
  p = path + sizeof(prefix) - 1;
  if (!*p)
    return 0;
  for (; *p; p++)
    if (*p < '0' || *p > '9')
      return 0;
  return 1;
}

static int is_pts_fd(int fd) {
  char link[64], target[256];
  ssize_t n;
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  n = readlink(link, target, sizeof(target) - 1);
  if (n <= 0)
    return 0;
  target[n] = '\0';
  return strncmp(target, "/dev/pts/", 9) == 0;
}

static void fake_link_stat(struct stat *st) {
  memset(st, 0, sizeof(*st));
  st->st_mode = S_IFLNK | 0777;
  st->st_nlink = 1;
}

int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st) {
  static int (*real)(int, const char *, struct stat *);
  if (is_sys_pts(path)) {
    fake_link_stat(st);
    shim_log("lstat %s\n", path);
    return 0;
  }
  if (!real)
    real =
        (int (*)(int, const char *, struct stat *))dlsym(RTLD_NEXT, "__lxstat");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(ver, path, st);
}

int lstat(const char *path, struct stat *st) {
  static int (*real)(const char *, struct stat *);
  if (is_sys_pts(path)) {
    fake_link_stat(st);
    shim_log("lstat %s\n", path);
    return 0;
  }
  if (!real)
    real = (int (*)(const char *, struct stat *))dlsym(RTLD_NEXT, "lstat");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(path, st);
}

ssize_t readlink(const char *path, char *buf, size_t size) {
  static ssize_t (*real)(const char *, char *, size_t);
  if (is_sys_pts(path)) {
    char target[128];
    int n = snprintf(target, sizeof(target), "../../devices/virtual/tty/pts%s",
                     path + 19);
    if (n < 0 || (size_t)n > size) {
      errno = ENAMETOOLONG;
      return -1;
    }
    memcpy(buf, target, (size_t)n); /* readlink does not terminate */
    return n;
  }
  if (!real)
    real =
        (ssize_t(*)(const char *, char *, size_t))dlsym(RTLD_NEXT, "readlink");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(path, buf, size);
}

static const char *lines_text(int v, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s%s", v & TIOCM_RTS ? " RTS" : "",
           v & TIOCM_DTR ? " DTR" : "", v & TIOCM_CTS ? " CTS" : "",
           v & TIOCM_DSR ? " DSR" : "");
  return buf;
}

int ioctl(int fd, unsigned long req, ...) {
  static int (*real)(int, unsigned long, ...);
  va_list ap;
  void *arg;
  char t[32];

  va_start(ap, req);
  arg = va_arg(ap, void *);
  va_end(ap);

  if ((req == TIOCMGET || req == TIOCMSET || req == TIOCMBIS ||
       req == TIOCMBIC) &&
      faking() && is_pts_fd(fd)) {
    int *v = arg;
    switch (req) {
    case TIOCMGET:
      *v = modem_lines;
      shim_log("TIOCMGET ->%s\n", lines_text(modem_lines, t, sizeof(t)));
      break;
    case TIOCMSET:
      modem_lines = *v;
      shim_log("TIOCMSET%s\n", lines_text(*v, t, sizeof(t)));
      break;
    case TIOCMBIS:
      modem_lines |= *v;
      shim_log("TIOCMBIS%s\n", lines_text(*v, t, sizeof(t)));
      break;
    case TIOCMBIC:
      modem_lines &= ~*v;
      shim_log("TIOCMBIC%s\n", lines_text(*v, t, sizeof(t)));
      break;
    }
    return 0;
  }
  if (!real)
    real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd, req, arg);
}

static int speed_value(speed_t s) {
  switch (s) {
  case B1200:
    return 1200;
  case B2400:
    return 2400;
  case B4800:
    return 4800;
  case B9600:
    return 9600;
  case B19200:
    return 19200;
  case B38400:
    return 38400;
  case B57600:
    return 57600;
  case B115200:
    return 115200;
  case B230400:
    return 230400;
  default:
    return -1;
  }
}

int tcsetattr(int fd, int when, const struct termios *t) {
  static int (*real)(int, int, const struct termios *);
  if (is_pts_fd(fd)) {
    tcflag_t size = t->c_cflag & CSIZE;
    int raw = !(t->c_lflag & (ICANON | ECHO | ISIG)) &&
              !(t->c_iflag & (ICRNL | IXON)) && !(t->c_oflag & OPOST);
    shim_log("tcsetattr %d %d%c%d %s\n", speed_value(cfgetispeed(t)),
             size == CS7   ? 7
             : size == CS8 ? 8
             : size == CS6 ? 6
                           : 5,
             !(t->c_cflag & PARENB)  ? 'N'
             : (t->c_cflag & PARODD) ? 'O'
                                     : 'E',
             t->c_cflag & CSTOPB ? 2 : 1, raw ? "raw" : "cooked");
  }
  if (!real)
    real = (int (*)(int, int, const struct termios *))dlsym(RTLD_NEXT,
                                                            "tcsetattr");
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd, when, t);
}
