/* Connecting to a TCP peer (a P1-to-network dongle, ser2net), without ever
 * blocking past the caller's timeout or a wake-up: the name lookup runs
 * asynchronously (getaddrinfo_a) and the connect is non-blocking. */
#define _GNU_SOURCE /* getaddrinfo_a */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "source.h"
#include "source_internal.h"

/* Everything an asynchronous lookup points into lives in one block, owned
 * by the source (s->lookup) from start to completion: a lookup that
 * outlasts the open timeout (a resolver that does not answer) is not
 * abandoned but kept, and the next open waits on it again instead of
 * starting another; once it has completed, its answer is used (or, when it
 * failed, it is freed and a fresh one started). So at most one lookup per
 * meter is ever pending, and every block is freed: either here once
 * complete, or cancelled. Only at the end of the meter's life
 * (dsmr_source_free) can a lookup still be running in glibc's resolver
 * thread, which writes into the block: then it is left to that thread (a
 * one-off at shutdown; glibc's request list still points to it). */
struct dsmr_lookup {
  struct gaicb cb;
  struct gaicb *list[1];
  struct addrinfo hints;
  char host[256];
  char port[32];
};

static void lookup_free(struct dsmr_lookup *lk) {
  if (lk->cb.ar_result)
    freeaddrinfo(lk->cb.ar_result);
  free(lk);
}

/* Lets go of s->lookup: freed when complete or cancelled, else left to the
 * resolver thread (end of life only). */
static void lookup_drop(struct dsmr_source *s) {
  struct dsmr_lookup *lk = s->lookup;
  if (!lk)
    return;
  s->lookup = NULL;
  /* EAI_ALLDONE: it completed in between; only EAI_NOTCANCELED means
   * the resolver thread is still at it. */
  if (gai_error(&lk->cb) != EAI_INPROGRESS ||
      gai_cancel(&lk->cb) != EAI_NOTCANCELED)
    lookup_free(lk);
  /* else still running: glibc's thread writes into lk; it is left to it */
}

void dsmr_source_free(struct dsmr_source *s) {
  lookup_drop(s);
}

static int lookup_start(struct dsmr_source *s, char *err, size_t errlen) {
  const struct dsmr_source_config *c = &s->cfg;
  struct dsmr_lookup *lk = calloc(1, sizeof(*lk));
  int rc;

  if (!lk) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(lk->host, sizeof(lk->host), "%s", c->host);
  snprintf(lk->port, sizeof(lk->port), "%s", c->port);
  lk->hints.ai_family = AF_UNSPEC;
  lk->hints.ai_socktype = SOCK_STREAM;
  lk->hints.ai_flags = AI_ADDRCONFIG;
  lk->cb.ar_name = lk->host;
  lk->cb.ar_service = lk->port;
  lk->cb.ar_request = &lk->hints;
  lk->list[0] = &lk->cb;
  rc = getaddrinfo_a(GAI_NOWAIT, lk->list, 1, NULL);
  if (rc != 0) {
    snprintf(err, errlen, "%s: cannot start name lookup: %s", c->host,
             gai_strerror(rc));
    free(lk);
    return -1;
  }
  s->lookup = lk;
  return 0;
}

/* 0 with *res set, -1 with err, -2 when woken. */
static int resolve(struct dsmr_source *s, int wake_fd, long long deadline,
                   struct addrinfo **res, char *err, size_t errlen) {
  const struct dsmr_source_config *c = &s->cfg;
  struct addrinfo hints;
  struct dsmr_lookup *lk;
  int rc;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_ADDRCONFIG;
  /* An address literal needs no resolver: answer at once. */
  rc = getaddrinfo(c->host, c->port, &hints, res);
  if (rc == 0)
    return 0;
  if (rc != EAI_NONAME) {
    snprintf(err, errlen, "%s port %s: %s", c->host, c->port, gai_strerror(rc));
    return -1;
  }

  /* A lookup left by the last open: an answer that came meanwhile is
   * used; a failure is old news, so a fresh lookup is started. */
  if (s->lookup && (rc = gai_error(&s->lookup->cb)) != EAI_INPROGRESS &&
      rc != 0)
    lookup_drop(s);
  if (!s->lookup && lookup_start(s, err, errlen) != 0)
    return -1;
  lk = s->lookup;
  for (;;) {
    int w;
    rc = gai_error(&lk->cb);
    if (rc != EAI_INPROGRESS)
      break;
    /* Poll the lookup every 50 ms; the wake fd is watched meanwhile. */
    w = wake_fd >= 0 ? dsmr_source_wait(wake_fd, POLLIN, -1, 50) : 0;
    if (wake_fd < 0)
      usleep(50000);
    if (w == -2 || w > 0)
      return -2; /* s->lookup is dropped by dsmr_source_free */
    if (dsmr_source_left_ms(deadline) == 0) {
      /* Kept in s->lookup: the next open waits on it again. */
      snprintf(err, errlen, "%s: name lookup timed out", c->host);
      return -1;
    }
  }
  s->lookup = NULL;
  if (rc != 0) {
    snprintf(err, errlen, "%s: %s", c->host, gai_strerror(rc));
    lookup_free(lk);
    return -1;
  }
  *res = lk->cb.ar_result;
  lk->cb.ar_result = NULL;
  lookup_free(lk);
  return 0;
}

/* A dongle that loses power never sends a FIN: keepalive probes find the
 * dead peer within about a minute and a half. */
static void keepalive(int fd) {
  int on = 1, idle = 30, intvl = 10, cnt = 6;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* One non-blocking connect: 0 with *out, -1 with an errno value in *why,
 * -2 when woken. */
static int try_connect(const struct addrinfo *ai, int wake_fd,
                       long long deadline, int *out, int *why) {
  int fd, ev, soerr = 0;
  socklen_t sl = sizeof(soerr);

  fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
              ai->ai_protocol);
  if (fd < 0) {
    *why = errno;
    return -1;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *why = errno;
      close(fd);
      return -1;
    }
    ev = dsmr_source_wait(fd, POLLOUT, wake_fd, dsmr_source_left_ms(deadline));
    if (ev == -2) {
      close(fd);
      return -2;
    }
    if (ev == 0) {
      *why = ETIMEDOUT;
      close(fd);
      return -1;
    }
    if (ev < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
        soerr != 0) {
      *why = soerr ? soerr : errno;
      close(fd);
      return -1;
    }
  }
  keepalive(fd);
  *out = fd;
  return 0;
}

int dsmr_source_open_tcp(struct dsmr_source *s, int wake_fd, int timeout_ms,
                         char *err, size_t errlen) {
  const struct dsmr_source_config *c = &s->cfg;
  long long deadline = dsmr_now_ms() + timeout_ms;
  struct addrinfo *res = NULL, *ai;
  int rc, fd = -1, why = 0;

  rc = resolve(s, wake_fd, deadline, &res, err, errlen);
  if (rc != 0)
    return rc;
  for (ai = res; ai; ai = ai->ai_next) {
    rc = try_connect(ai, wake_fd, deadline, &fd, &why);
    if (rc == 0 || rc == -2)
      break;
  }
  freeaddrinfo(res);
  if (rc == -2)
    return -2;
  if (rc != 0) {
    snprintf(err, errlen, "cannot connect to %s port %s: %s", c->host, c->port,
             strerror(why ? why : ECONNREFUSED));
    return -1;
  }
  s->fd = fd;
  s->via = "tcp";
  return 0;
}
