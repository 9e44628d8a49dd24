/* The one monotonic clock of the project, in milliseconds: what the line
 * probe, the input chain, the sources' timeouts and dsmr-cat measure time
 * with. Monotonic, so that a wall-clock step (NTP, a manual date) never
 * ends or stretches a probe window or a timeout. */
#ifndef DSMR_CLOCK_H
#define DSMR_CLOCK_H

#include <time.h>

static inline long long dsmr_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
