/* The byte sources against real pseudo-terminals and sockets (no collectd):
 * raw mode, exact bytes, every way of losing the source, and the wake-up
 * fd cutting short every wait (open, connect, name lookup, read). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "source.h"
#include "tap.h"

/* "At once": well within a second. The alternative each such check rules
 * out is a wait for the timeout (2 or 10 s); a tighter bound would measure
 * how soon a loaded machine (make -j check) gives this thread a CPU. */
#define AT_ONCE_S 1.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char tmpdir[64];

static struct dsmr_source_config device_config(const char *path) {
  struct dsmr_source_config c;
  memset(&c, 0, sizeof(c));
  c.kind = DSMR_SOURCE_DEVICE;
  snprintf(c.device, sizeof(c.device), "%s", path);
  c.baudrate = 115200;
  c.databits = 8;
  c.parity = DSMR_PARITY_NONE;
  c.stopbits = 1;
  return c;
}

static struct dsmr_source_config tcp_config(const char *host, int port) {
  struct dsmr_source_config c;
  memset(&c, 0, sizeof(c));
  c.kind = DSMR_SOURCE_TCP;
  snprintf(c.host, sizeof(c.host), "%s", host);
  snprintf(c.port, sizeof(c.port), "%d", port);
  return c;
}

static int listener(int backlog, int *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      listen(s, backlog) < 0 || getsockname(s, (struct sockaddr *)&a, &len) < 0)
    return -1;
  *port = ntohs(a.sin_port);
  return s;
}

/* A port where a connect hangs in SYN_SENT: a listener with backlog 0
 * whose one slot is taken and never accepted. */
static int blackhole(int *port, int *filler) {
  struct sockaddr_in a;
  int s = listener(0, port);
  *filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)*port);
  if (s < 0 || *filler < 0 ||
      connect(*filler, (struct sockaddr *)&a, sizeof(a)) < 0)
    return -1;
  return s;
}

struct waker {
  int fd;
  int ms;
};

static void *wake_later(void *arg) {
  struct waker *w = arg;
  usleep((useconds_t)w->ms * 1000);
  if (write(w->fd, "x", 1) < 0) {
  }
  return NULL;
}

static void test_pty(void) {
  struct dsmr_source s;
  struct dsmr_source_config c;
  struct termios t;
  char link[128], err[512], buf[64];
  int master, slave, rc;
  ssize_t n;
  double t0;

  if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
    ok(0, "openpty: %s", strerror(errno));
    return;
  }
  snprintf(link, sizeof(link), "%s/meter", tmpdir);
  if (symlink(ttyname(slave), link) < 0) {
    ok(0, "symlink: %s", strerror(errno));
    return;
  }
  c = device_config(link);
  c.baudrate = 9600;
  dsmr_source_init(&s, &c);
  rc = dsmr_source_open(&s, -1, 1000, err, sizeof(err));
  is_int(rc, 0, "pty behind a symlink opens");
  is_str(s.via, "termios", "through termios (libserialport cannot)");
  ok(strstr(s.fallback_reason, "libserialport") != NULL,
     "the fallback says why: %s", s.fallback_reason);

  tcgetattr(slave, &t);
  ok(!(t.c_lflag & (ICANON | ECHO | ISIG)) && !(t.c_iflag & ICRNL) &&
         !(t.c_oflag & OPOST),
     "the pty is in raw mode (no line buffering, echo or CR translation)");
  is_int(cfgetispeed(&t), B9600, "at the configured speed");

  if (write(master, "/A\r\nB!\r\n", 8) != 8)
    ok(0, "write to pty");
  n = dsmr_source_read(&s, buf, sizeof(buf), -1, 1000, err, sizeof(err));
  ok(n == 8 && memcmp(buf, "/A\r\nB!\r\n", 8) == 0,
     "bytes arrive exactly, CR LF untouched (%zd bytes)", n);

  n = dsmr_source_read(&s, buf, sizeof(buf), -1, 100, err, sizeof(err));
  is_int(n, 0, "a silent line: 0 after the timeout");

  /* The meter goes away: master closed, node removed. */
  close(master);
  unlink(link);
  t0 = now_s();
  n = dsmr_source_read(&s, buf, sizeof(buf), -1, 2000, err, sizeof(err));
  is_int(n, -1, "a hung-up pty is lost");
  ok(now_s() - t0 < AT_ONCE_S, "at once, not after the timeout (%.2f s)",
     now_s() - t0);
  ok(err[0] != '\0', "with a reason: %s", err);
  dsmr_source_close(&s);
  is_int(s.fd, -1, "closed");
  close(slave);

  rc = dsmr_source_open(&s, -1, 1000, err, sizeof(err));
  is_int(rc, -1, "the removed node does not open");
  ok(strstr(err, "does not exist") && strstr(err, link),
     "the reason names the device: %s", err);
}

static void test_not_a_tty(void) {
  struct dsmr_source s;
  struct dsmr_source_config c;
  char path[128], err[512];
  int fd;

  snprintf(path, sizeof(path), "%s/file", tmpdir);
  fd = open(path, O_CREAT | O_WRONLY, 0644);
  close(fd);
  c = device_config(path);
  dsmr_source_init(&s, &c);
  is_int(dsmr_source_open(&s, -1, 1000, err, sizeof(err)), -1,
         "a regular file is refused");
  ok(strstr(err, "not a serial device") != NULL, "because: %s", err);
  unlink(path);
}

static void test_tcp(void) {
  struct dsmr_source s;
  struct dsmr_source_config c;
  char err[512], buf[64], what[300];
  int ls, port, peer, rc;
  ssize_t n;
  double t0;

  ls = listener(4, &port);
  c = tcp_config("127.0.0.1", port);
  dsmr_source_init(&s, &c);
  rc = dsmr_source_open(&s, -1, 1000, err, sizeof(err));
  is_int(rc, 0, "TCP connects");
  is_str(s.via, "tcp", "via tcp");
  peer = accept(ls, NULL, NULL);
  if (write(peer, "/X!12", 5) != 5)
    ok(0, "send");
  n = dsmr_source_read(&s, buf, sizeof(buf), -1, 1000, err, sizeof(err));
  ok(n == 5 && memcmp(buf, "/X!12", 5) == 0, "bytes arrive (%zd)", n);
  close(peer);
  t0 = now_s();
  n = dsmr_source_read(&s, buf, sizeof(buf), -1, 2000, err, sizeof(err));
  is_int(n, -1, "a closed connection is lost");
  ok(now_s() - t0 < AT_ONCE_S, "at once (%.2f s)", now_s() - t0);
  is_str(err, "connection closed by peer", "reason");
  dsmr_source_close(&s);
  close(ls);

  /* Nobody listens any more on that port. */
  rc = dsmr_source_open(&s, -1, 1000, err, sizeof(err));
  is_int(rc, -1, "a refused connection fails");
  ok(strstr(err, "refused") != NULL, "because: %s", err);

  /* A name, resolved asynchronously. */
  ls = listener(4, &port);
  c = tcp_config("localhost", port);
  dsmr_source_init(&s, &c);
  rc = dsmr_source_open(&s, -1, 2000, err, sizeof(err));
  is_int(rc, 0, "a host name (localhost) resolves and connects");
  dsmr_source_close(&s);
  close(ls);

  c = tcp_config("no-such-host.invalid", 23);
  dsmr_source_init(&s, &c);
  rc = dsmr_source_open(&s, -1, 3000, err, sizeof(err));
  is_int(rc, -1, "an unknown host name fails");
  ok(strstr(err, "no-such-host.invalid") != NULL, "naming it: %s", err);

  dsmr_source_describe(&c, what, sizeof(what));
  is_str(what, "tcp no-such-host.invalid:23", "describe (tcp)");
  c = tcp_config("::1", 2323);
  dsmr_source_describe(&c, what, sizeof(what));
  is_str(what, "tcp [::1]:2323", "describe (IPv6)");
  c = device_config("/dev/ttyUSB0");
  dsmr_source_describe(&c, what, sizeof(what));
  is_str(what, "device /dev/ttyUSB0", "describe (device)");
}

static void test_wake(void) {
  struct dsmr_source s;
  struct dsmr_source_config c;
  struct waker w;
  pthread_t th;
  char err[512], buf[64], link[128];
  int hole, filler, port, wake[2], rc, master, slave;
  ssize_t n;
  double t0;

  /* A connect that would hang: the timeout ends it. */
  hole = blackhole(&port, &filler);
  ok(hole >= 0, "a port where connects hang");
  c = tcp_config("127.0.0.1", port);
  dsmr_source_init(&s, &c);
  t0 = now_s();
  rc = dsmr_source_open(&s, -1, 300, err, sizeof(err));
  is_int(rc, -1, "a hanging connect fails after the timeout");
  ok(now_s() - t0 >= 0.25 && now_s() - t0 < 1.0, "after 0.3 s (%.2f s)",
     now_s() - t0);
  ok(strstr(err, "timed out") != NULL, "because: %s", err);

  /* ... and a wake-up ends it sooner. */
  if (pipe(wake) < 0)
    return;
  w.fd = wake[1];
  w.ms = 100;
  pthread_create(&th, NULL, wake_later, &w);
  t0 = now_s();
  rc = dsmr_source_open(&s, wake[0], 10000, err, sizeof(err));
  pthread_join(th, NULL);
  is_int(rc, -2, "a wake-up ends a hanging connect");
  ok(now_s() - t0 < AT_ONCE_S, "at once (%.2f s)", now_s() - t0);
  is_int(s.fd, -1, "and leaves the source closed");

  /* Once woken, every call returns at once. */
  t0 = now_s();
  is_int(dsmr_source_open(&s, wake[0], 10000, err, sizeof(err)), -2,
         "open after the wake-up: -2 without trying");
  c = tcp_config("no-such-host.invalid", 23);
  dsmr_source_init(&s, &c);
  is_int(dsmr_source_open(&s, wake[0], 10000, err, sizeof(err)), -2,
         "also before a name lookup");
  ok(now_s() - t0 < AT_ONCE_S, "both at once (%.2f s)", now_s() - t0);
  close(wake[0]);
  close(wake[1]);

  /* A silent line: a wake-up ends the wait for bytes. */
  if (openpty(&master, &slave, NULL, NULL, NULL) < 0 || pipe(wake) < 0)
    return;
  snprintf(link, sizeof(link), "%s/silent", tmpdir);
  if (symlink(ttyname(slave), link) < 0)
    return;
  c = device_config(link);
  dsmr_source_init(&s, &c);
  is_int(dsmr_source_open(&s, wake[0], 1000, err, sizeof(err)), 0,
         "silent pty opens");
  w.fd = wake[1];
  w.ms = 100;
  pthread_create(&th, NULL, wake_later, &w);
  t0 = now_s();
  n = dsmr_source_read(&s, buf, sizeof(buf), wake[0], 10000, err, sizeof(err));
  pthread_join(th, NULL);
  is_int(n, 0, "a wake-up ends the wait for bytes");
  ok(now_s() - t0 < AT_ONCE_S, "at once (%.2f s)", now_s() - t0);
  dsmr_source_close(&s);
  unlink(link);
  close(master);
  close(slave);
  close(wake[0]);
  close(wake[1]);
  close(hole);
  close(filler);
}

/* dsmr_source_still_named: the configured link repointed to another pty,
 * then removed, while the first pty stays open and silent. */
static void test_moved(void) {
  struct dsmr_source s;
  struct dsmr_source_config c;
  char link[128], tmpl[140], err[512];
  int m1, s1, m2, s2;

  if (openpty(&m1, &s1, NULL, NULL, NULL) < 0 ||
      openpty(&m2, &s2, NULL, NULL, NULL) < 0) {
    ok(0, "openpty: %s", strerror(errno));
    return;
  }
  snprintf(link, sizeof(link), "%s/by-id-link", tmpdir);
  snprintf(tmpl, sizeof(tmpl), "%s.new", link);
  if (symlink(ttyname(s1), link) < 0) {
    ok(0, "symlink: %s", strerror(errno));
    return;
  }
  c = device_config(link);
  dsmr_source_init(&s, &c);
  is_int(dsmr_source_open(&s, -1, 1000, err, sizeof(err)), 0,
         "moved: the link opens");
  err[0] = '\0';
  is_int(dsmr_source_still_named(&s, err, sizeof(err)), 1,
         "moved: the link still names the open pty");
  if (symlink(ttyname(s2), tmpl) < 0 || rename(tmpl, link) < 0)
    ok(0, "repoint: %s", strerror(errno));
  is_int(dsmr_source_still_named(&s, err, sizeof(err)), 0,
         "moved: repointed to another pty, it no longer does");
  ok(strstr(err, "now names another device") != NULL, "moved: %s", err);
  unlink(link);
  is_int(dsmr_source_still_named(&s, err, sizeof(err)), 0,
         "moved: removed, it names nothing");
  ok(strstr(err, "no longer exists") != NULL, "moved: %s", err);
  if (symlink(ttyname(s1), link) < 0)
    ok(0, "symlink: %s", strerror(errno));
  is_int(dsmr_source_still_named(&s, err, sizeof(err)), 1,
         "moved: pointed back at the open pty, it names it again");
  dsmr_source_close(&s);
  dsmr_source_free(&s);
  unlink(link);
  close(m1);
  close(s1);
  close(m2);
  close(s2);
}

int main(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/dsmr-source-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    printf("Bail out! mkdtemp: %s\n", strerror(errno));
    return 1;
  }
  test_pty();
  test_moved();
  test_not_a_tty();
  test_tcp();
  test_wake();
  rmdir(tmpdir);
  return tap_done();
}
