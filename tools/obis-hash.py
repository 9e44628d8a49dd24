#!/usr/bin/env python3
"""Find (or check) OBIS_HASH_MULT for the OBIS table in src/obis.c.

src/obis.c looks an object up by hashing its key into a slot index that is
perfect for the table (no two rows share a slot): slot = top OBIS_HASH_BITS
bits of (key * OBIS_HASH_MULT) mod 2^64. When a new row makes two rows
collide, the compiler warns about a repeated designated initializer and
tests/test_mapper.c fails; run this script and paste the multiplier it
prints into src/obis.c.

usage: tools/obis-hash.py [src/obis.c]          print a multiplier that fits
       tools/obis-hash.py --check [src/obis.c]  exit 1 unless the current fits
"""
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
    paths = [a for a in argv[1:] if a != "--check"]
    text = open(paths[0] if paths else "src/obis.c").read()
    keys = keys_of(text)
    bits = int(re.search(r"#define OBIS_HASH_BITS (\d+)", text).group(1))
    if check:
        mult = int(re.search(r"#define OBIS_HASH_MULT (0x[0-9a-fA-F]+)", text)
                   .group(1), 16)
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
