/* Inlining hints of the hot path, in one place: HOT_INLINE for the small
 * steps every line of a telegram takes (the benchmark loses its budget when
 * the compiler declines to inline them), COLD for error paths, kept out of
 * the way of the hot code. Only hints: without GNU C they are plain. */
#ifndef DSMR_INLINE_H
#define DSMR_INLINE_H

#if defined(__GNUC__)
#define COLD __attribute__((cold, noinline))
#define HOT_INLINE __attribute__((always_inline)) inline
#else
#define COLD
#define HOT_INLINE inline
#endif

#endif
