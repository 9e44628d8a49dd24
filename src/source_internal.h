/* Shared between source.c (the generic part: read, close, waiting) and the
 * two ways of opening a source (source_serial.c, source_tcp.c). Not part of
 * the contract in source.h. */
#ifndef DSMR_SOURCE_INTERNAL_H
#define DSMR_SOURCE_INTERNAL_H

#include <stddef.h>

#include "clock.h"
#include "source.h"

/* Wait until fd reports one of `events` or wake_fd becomes readable.
 * Returns fd's revents (> 0), 0 on timeout, -2 when woken, -1 when poll
 * itself failed (errno set). timeout_ms < 0 waits forever. */
int dsmr_source_wait(int fd, short events, int wake_fd, int timeout_ms);

/* Milliseconds left until deadline_ms (a reading of dsmr_now_ms, clock.h),
 * never negative. */
int dsmr_source_left_ms(long long deadline_ms);

/* Both return 0 with s->fd open and non-blocking, or -1 with err filled;
 * the TCP one also -2 when woken. */
int dsmr_source_open_serial(struct dsmr_source *s, char *err, size_t errlen);
int dsmr_source_open_tcp(struct dsmr_source *s, int wake_fd, int timeout_ms,
                         char *err, size_t errlen);

#endif
