/* The generic part of a source: waiting with a way out, reading, closing.
 * Opening is in source_serial.c and source_tcp.c. */
#include "source.h"

#include <errno.h>
#include <libserialport.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source_internal.h"

void dsmr_source_init(struct dsmr_source *s,
                      const struct dsmr_source_config *cfg) {
  memset(s, 0, sizeof(*s));
  s->cfg = *cfg;
  s->fd = -1;
  s->port = NULL;
  s->via = "";
}

int dsmr_source_left_ms(long long deadline_ms) {
  long long left = deadline_ms - dsmr_now_ms();
  if (left < 0)
    return 0;
  return left > 1000000000 ? 1000000000 : (int)left;
}

int dsmr_source_wait(int fd, short events, int wake_fd, int timeout_ms) {
  struct pollfd pfd[2];
  nfds_t n = 0;
  int rc;

  pfd[n].fd = fd;
  pfd[n].events = events;
  pfd[n].revents = 0;
  n++;
  if (wake_fd >= 0) {
    pfd[n].fd = wake_fd;
    pfd[n].events = POLLIN;
    pfd[n].revents = 0;
    n++;
  }
  rc = poll(pfd, n, timeout_ms);
  if (rc < 0)
    return errno == EINTR ? 0 : -1;
  if (rc == 0)
    return 0;
  /* The wake-up wins over data: a stopping reader must not start on one
   * more telegram. */
  if (n > 1 && pfd[1].revents)
    return -2;
  return pfd[0].revents ? pfd[0].revents : 0;
}

int dsmr_source_open(struct dsmr_source *s, int wake_fd, int timeout_ms,
                     char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  dsmr_source_close(s);
  s->fallback_reason[0] = '\0';
  s->data_request_note[0] = '\0';

  /* Honour a pending stop before doing anything that could take time. */
  if (wake_fd >= 0 && dsmr_source_wait(wake_fd, POLLIN, -1, 0) > 0)
    return -2;

  if (s->cfg.kind == DSMR_SOURCE_TCP)
    return dsmr_source_open_tcp(s, wake_fd, timeout_ms, err, errlen);
  return dsmr_source_open_serial(s, err, errlen);
}

ssize_t dsmr_source_read(struct dsmr_source *s, void *buf, size_t len,
                         int wake_fd, int timeout_ms, char *err,
                         size_t errlen) {
  int ev;
  ssize_t n;

  if (s->fd < 0) {
    snprintf(err, errlen, "not open");
    return -1;
  }
  ev = dsmr_source_wait(s->fd, POLLIN, wake_fd, timeout_ms);
  if (ev == -2 || ev == 0)
    return 0;
  if (ev < 0) {
    snprintf(err, errlen, "poll failed: %s", strerror(errno));
    return -1;
  }
  if (ev & POLLNVAL) {
    snprintf(err, errlen, "descriptor no longer valid");
    return -1;
  }
  /* POLLIN together with POLLHUP: read what is left first; the hang-up
   * shows again as EOF or EIO on a later call. */
  n = read(s->fd, buf, len);
  if (n > 0)
    return n;
  if (n == 0) {
    snprintf(err, errlen, "%s",
             s->cfg.kind == DSMR_SOURCE_TCP ? "connection closed by peer"
                                            : "end of file (hang-up)");
    return -1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
    /* A hang-up without data can report POLLHUP while read() says
     * EAGAIN on some drivers: treat a bare POLLHUP/POLLERR as loss. */
    if ((ev & (POLLHUP | POLLERR)) && !(ev & POLLIN)) {
      snprintf(err, errlen, "hang-up");
      return -1;
    }
    return 0;
  }
  /* EIO is what a pty slave reads once its master is gone, and what a
   * USB serial adapter reads when it is unplugged. */
  snprintf(err, errlen, "read failed: %s", strerror(errno));
  return -1;
}

void dsmr_source_close(struct dsmr_source *s) {
  if (s->port) {
    /* sp_close closes the descriptor libserialport opened. */
    sp_close(s->port);
    sp_free_port(s->port);
    s->port = NULL;
    s->fd = -1;
  } else if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  s->is_tty = 0;
  s->via = "";
}

int dsmr_source_still_named(const struct dsmr_source *s, char *err,
                            size_t errlen) {
  struct stat now, open;

  if (s->cfg.kind != DSMR_SOURCE_DEVICE || s->fd < 0 ||
      fstat(s->fd, &open) != 0)
    return 1;
  if (stat(s->cfg.device, &now) != 0) {
    if (errno != ENOENT && errno != ENOTDIR)
      return 1; /* EACCES on a directory, say: cannot tell */
    snprintf(err, errlen,
             "%s no longer exists while the device opened through it is "
             "silent",
             s->cfg.device);
    return 0;
  }
  if (S_ISCHR(open.st_mode) && S_ISCHR(now.st_mode)
          ? now.st_rdev == open.st_rdev
          : now.st_dev == open.st_dev && now.st_ino == open.st_ino)
    return 1;
  snprintf(err, errlen,
           "%s now names another device than the one opened through it, "
           "which is silent",
           s->cfg.device);
  return 0;
}

void dsmr_source_describe(const struct dsmr_source_config *cfg, char *buf,
                          size_t len) {
  if (cfg->kind == DSMR_SOURCE_TCP) {
    /* IPv6 literals get brackets so that the port stays readable. */
    if (strchr(cfg->host, ':'))
      snprintf(buf, len, "tcp [%s]:%s", cfg->host, cfg->port);
    else
      snprintf(buf, len, "tcp %s:%s", cfg->host, cfg->port);
  } else {
    snprintf(buf, len, "device %s", cfg->device);
  }
}
