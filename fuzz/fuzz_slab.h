/* Exact-size buffers without malloc, for the fuzz targets.
 *
 * A harness that wants AddressSanitizer to see over-reads copies a frame
 * into an allocation of exactly its size. With malloc/free per input that
 * was half of the telegram target's time: ASan's allocator poisons every
 * freed block into its quarantine (256 MB) and keeps mapping fresh pages.
 * A slab is a static area of which only the bytes handed out are
 * addressable: the rest of the area and a guard before it are poisoned, so
 * a read one byte before or after the buffer is reported as it was on the
 * heap. When dropped, the whole area is poisoned again: a pointer kept from
 * an earlier input is a use-after-poison report at once (the heap found it
 * only while the block was in quarantine). Under MemorySanitizer the bytes
 * handed out are marked uninitialised, as malloc's are. Without a
 * sanitizer the macros do nothing. */
#ifndef DSMR_FUZZ_SLAB_H
#define DSMR_FUZZ_SLAB_H

#include <stddef.h>

#include "fuzz_assert.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#endif
#if __has_feature(memory_sanitizer)
#include <sanitizer/msan_interface.h>
#define FZ_UNINIT(p, n) __msan_allocated_memory(p, n)
#endif
#endif
#ifndef FZ_POISON
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#ifndef FZ_UNINIT
#define FZ_UNINIT(p, n) ((void)(p), (void)(n))
#endif

/* FZ_SLAB(name, size) defines one; only one buffer of it is out at a time. */
#define FZ_SLAB_GUARD 64
#define FZ_SLAB(name, size)                                                    \
  static struct {                                                              \
    size_t out; /* bytes handed out, or (size_t)-1 before first use */         \
    _Alignas(64) unsigned char guard[FZ_SLAB_GUARD];                           \
    unsigned char mem[((size) + 7) / 8 * 8];                                   \
  } name = {.out = (size_t)-1}

/* n bytes (n <= the slab's size; n == 0 gives a buffer with no addressable
 * byte), uninitialised for MSan; the previous buffer of the slab is gone. */
#define fz_slab_take(s, n)                                                     \
  fz_slab_take_((s).guard, sizeof((s).mem), &(s).out, n)
#define fz_slab_drop(s) fz_slab_drop_((s).guard, sizeof((s).mem), &(s).out)

static inline unsigned char *fz_slab_take_(unsigned char *guard, size_t size,
                                           size_t *out, size_t n) {
  unsigned char *mem = guard + FZ_SLAB_GUARD;
  FZ_ASSERT(n <= size);
  if (*out != 0) /* first use, or the previous buffer was not dropped */
    FZ_POISON(guard, FZ_SLAB_GUARD + size);
  FZ_UNPOISON(mem, n);
  FZ_UNINIT(mem, n);
  *out = n;
  return mem;
}

static inline void fz_slab_drop_(unsigned char *guard, size_t size,
                                 size_t *out) {
  FZ_POISON(guard + FZ_SLAB_GUARD, size);
  *out = 0;
}

#endif
