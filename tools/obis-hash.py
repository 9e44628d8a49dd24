#!/usr/bin/env python3
"""Find (or check) the multipliers of the OBIS table's two perfect hashes.

The library looks objects up through two slot indexes over the table in
src/lib/obis.c, both perfect (no two entries share a slot), both defined in
src/lib/obis_table.h and filled by the compiler:

  by key   slot = top OBIS_HASH_BITS bits of (key * OBIS_HASH_MULT),
           key = OBIS_KEY(a, b, c, d, e)              (the mapper, dsmr-cat)
  by text  slot = top OBIS_TEXT_HASH_BITS bits of ((lo + hi) *
           OBIS_TEXT_HASH_MULT), lo and hi = bytes 0..7 and 8..15 of the
           text "a-b:c.d.e", first byte lowest, zeros after; M-Bus rows
           (M(...)) on channels 1..4                  (the parser)

all arithmetic modulo 2^64. When a new row makes two entries collide, the
compiler warns about a repeated designated initializer (an error with
--enable-werror) and tests/test_mapper.c fails; run this script and paste
what it prints into src/lib/obis_table.h.

usage: tools/obis-hash.py [SRCDIR]          print multipliers that fit
       tools/obis-hash.py --check [SRCDIR]  exit 1 unless the current fit
SRCDIR defaults to the src/lib/ directory next to this script's.
"""
import os
import re
import sys

MASK = (1 << 64) - 1


def rows_of(text):
    """(a, b, c, d, e, mbus) of every X(...) and M(...) row."""
    rows = re.findall(r"^\s*([XM])\((\d+), (\d+), (\d+), (\d+), (\d+),",
                      text, re.M)
    return [tuple(int(x) for x in r[1:]) + (r[0] == "M",) for r in rows]


def keys_of(rows):
    return [(a << 32) | (b << 24) | (c << 16) | (d << 8) | e
            for a, b, c, d, e, _ in rows]


def texts_of(rows):
    """lo + hi of every id text, as the parser hashes it."""
    out = []
    for a, b, c, d, e, mbus in rows:
        for channel in (1, 2, 3, 4) if mbus else (b,):
            raw = ("%d-%d:%d.%d.%d" % (a, channel, c, d, e)).encode()
            raw = raw.ljust(16, b"\0")
            lo = int.from_bytes(raw[:8], "little")
            hi = int.from_bytes(raw[8:], "little")
            out.append((lo + hi) & MASK)
    return out


def fits(values, mult, bits):
    slots = {((v * mult) & MASK) >> (64 - bits) for v in values}
    return len(slots) == len(values)


def splitmix64(state):
    """Deterministic stream of well-mixed odd 64-bit candidates."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield (z ^ (z >> 31)) | 1


def define(header, name):
    return int(re.search(r"#define %s (0x[0-9a-fA-F]+|\d+)" % name,
                         header).group(1), 0)


def main(argv):
    check = "--check" in argv
    dirs = [a for a in argv[1:] if a != "--check"]
    src = dirs[0] if dirs else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src", "lib")
    rows = rows_of(open(os.path.join(src, "obis.c")).read())
    header = open(os.path.join(src, "obis_table.h")).read()
    hashes = [("OBIS_HASH", keys_of(rows)), ("OBIS_TEXT_HASH", texts_of(rows))]
    status = 0
    for name, values in hashes:
        bits = define(header, name + "_BITS")
        if check:
            mult = define(header, name + "_MULT")
            ok = fits(values, mult, bits)
            print("%s: %d entries, %d slots, multiplier %#x: %s"
                  % (name, len(values), 1 << bits, mult,
                     "fits" if ok else "COLLIDES"))
            status |= 0 if ok else 1
            continue
        for tries, mult in enumerate(splitmix64(0), 1):
            if fits(values, mult, bits):
                print("#define %s_MULT %#xULL /* %d entries, %d slots, "
                      "%d tries */" % (name, mult, len(values), 1 << bits,
                                       tries))
                break
            if tries == 10_000_000:
                print("%s: no multiplier found: raise %s_BITS"
                      % (name, name), file=sys.stderr)
                status = 1
                break
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
