#!/usr/bin/env python3
"""Find (or check) OBIS_HASH_MULT for the OBIS table.

The library looks an object up by hashing its key into a slot index that
is perfect for the table in src/obis.c (no two rows share a slot):
slot = top OBIS_HASH_BITS bits of (key * OBIS_HASH_MULT) mod 2^64, both
defined in src/obis_table.h. When a new row makes two rows collide, the
compiler warns about a repeated designated initializer and
tests/test_mapper.c fails; run this script and paste the multiplier it
prints into src/obis_table.h.

usage: tools/obis-hash.py [SRCDIR]          print a multiplier that fits
       tools/obis-hash.py --check [SRCDIR]  exit 1 unless the current fits
SRCDIR defaults to the src/ directory next to this script's.
"""
import os
import re
import sys

MASK = (1 << 64) - 1


def keys_of(text):
    rows = re.findall(r"^\s*X\((\d+), (\d+), (\d+), (\d+), (\d+),", text, re.M)
    return [(a << 32) | (b << 24) | (c << 16) | (d << 8) | e
            for a, b, c, d, e in ((int(x) for x in r) for r in rows)]


def fits(keys, mult, bits):
    return len({((k * mult) & MASK) >> (64 - bits) for k in keys}) == len(keys)


def splitmix64(state):
    """Deterministic stream of well-mixed 64-bit candidates."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield (z ^ (z >> 31)) | 1


def main(argv):
    check = "--check" in argv
    dirs = [a for a in argv[1:] if a != "--check"]
    src = dirs[0] if dirs else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src")
    keys = keys_of(open(os.path.join(src, "obis.c")).read())
    header = open(os.path.join(src, "obis_table.h")).read()
    bits = int(re.search(r"#define OBIS_HASH_BITS (\d+)", header).group(1))
    if check:
        mult = int(re.search(r"#define OBIS_HASH_MULT (0x[0-9a-fA-F]+)",
                             header).group(1), 16)
        ok = fits(keys, mult, bits)
        print("%d rows, %d slots, multiplier %#x: %s"
              % (len(keys), 1 << bits, mult, "fits" if ok else "COLLIDES"))
        return 0 if ok else 1
    for tries, mult in enumerate(splitmix64(0), 1):
        if fits(keys, mult, bits):
            print("#define OBIS_HASH_MULT %#xULL  /* %d rows, %d slots, "
                  "%d tries */" % (mult, len(keys), 1 << bits, tries))
            return 0
        if tries == 10_000_000:
            print("no multiplier found: raise OBIS_HASH_BITS", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
