/* LD_PRELOAD allocation counter for bench/plugin_bench.py: counts
 * malloc/calloc/realloc/posix_memalign/aligned_alloc calls per kind of
 * thread, so that the dsmr plugin's reader threads ("dsmr/NAME", named by
 * plugin_thread_create) are told apart from collectd's own (main thread,
 * "reader#N", "writer#N"). Written when the process exits to the file
 * named by $DSMR_MALLOC_COUNT_FILE (else stderr), one "kind count" a line.
 *
 * A thread's name is looked up (prctl) until it differs from the process
 * name: threads are named right after they start. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

enum kind { K_UNKNOWN, K_OTHER, K_DSMR, K_WRITER, K_READER, K_N };
static const char *const kind_name[K_N] = {"main", "other", "dsmr", "writer",
                                           "reader"};
static atomic_ulong counts[K_N];
static __thread enum kind my_kind; /* K_UNKNOWN until named */
static __thread int inside;        /* prctl itself must not recurse */

static void count(void) {
  if (my_kind == K_UNKNOWN && !inside) {
    char name[17] = "";
    inside = 1;
    prctl(PR_GET_NAME, name, 0, 0, 0);
    inside = 0;
    if (strncmp(name, "dsmr/", 5) == 0)
      my_kind = K_DSMR;
    else if (strncmp(name, "writer#", 7) == 0)
      my_kind = K_WRITER;
    else if (strncmp(name, "reader#", 7) == 0)
      my_kind = K_READER;
    else if (strcmp(name, "collectd") != 0 &&
             strcmp(name, program_invocation_short_name) != 0)
      my_kind = K_OTHER;
  }
  atomic_fetch_add_explicit(&counts[my_kind], 1, memory_order_relaxed);
}

void *malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  count();
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t align, size_t n) {
  count();
  *p = __libc_memalign(align, n);
  return *p ? 0 : ENOMEM;
}
void *aligned_alloc(size_t align, size_t n) {
  count();
  return __libc_memalign(align, n);
}

__attribute__((destructor)) static void report(void) {
  const char *path = getenv("DSMR_MALLOC_COUNT_FILE");
  FILE *f = path ? fopen(path, "w") : NULL;
  if (!f)
    f = stderr;
  for (int k = 0; k < K_N; k++)
    fprintf(f, "%s %lu\n", kind_name[k], atomic_load(&counts[k]));
  if (f != stderr)
    fclose(f);
}
