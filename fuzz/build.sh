#!/bin/sh
# Build every libFuzzer target into OUTDIR, one executable each:
#   fuzz/build.sh OUTDIR
# The library sources are compiled straight into each target (no autotools
# build needed). CC defaults to clang-14 (or clang); libFuzzer comes with
# clang's runtime (Debian: libclang-rt-14-dev). fuzz_config also needs
# collectd's headers (collectd-dev) and libserialport (the list of baud
# rates the configuration accepts lives in source_serial.c), fuzz_smarty
# libgcrypt (libgcrypt20-dev).
#
# Each target is built twice: OUTDIR/<target> with AddressSanitizer and
# UBSan (the one to fuzz with), and OUTDIR/<target>_msan with
# MemorySanitizer, which reports reads of uninitialised memory on the first
# input that makes them (ASan only sees them when the garbage happens to
# overflow something); run.sh replays regressions and seeds with both.
# FUZZ_NO_MSAN=1 skips the MSan builds. DSMR_SRC=dir builds against another
# copy of the library sources (e.g. one with a fix being tried).
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "${DSMR_SRC:-$HERE/../src}" && pwd) # no "fuzz/.." in it: see IGNORE

if [ -z "${CC:-}" ]; then
  if command -v clang-14 >/dev/null 2>&1; then CC=clang-14; else CC=clang; fi
fi
COLLECTD_INCLUDE=${COLLECTD_INCLUDE:-/usr/include/collectd}

# -fno-sanitize-recover: UBSan must stop the run (and save the input) like
# ASan does, not print and go on.
ASAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
MSAN="-fsanitize=fuzzer,memory -fsanitize-memory-track-origins"
# coverage (and comparison tracing) of the library only: see the file
IGNORE="-fsanitize-coverage-ignorelist=$HERE/coverage-ignore.txt"
BASE="-std=gnu11 -g -O1 -fno-omit-frame-pointer ${CFLAGS:-}"
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes"
LIB="$SRC/lib/crc16.c $SRC/lib/framer.c $SRC/lib/parser.c $SRC/lib/number.c \
  $SRC/lib/timestamp.c $SRC/lib/obis.c $SRC/lib/mapper.c"

mkdir -p "$OUT"

build() {
  name=$1
  shift
  echo "CC $name"
  # shellcheck disable=SC2086 # word splitting of the flag lists is meant
  $CC $BASE $ASAN $IGNORE $WARN -I"$SRC" -I"$SRC/lib" -I"$HERE" -o "$OUT/$name" "$@"
  if [ -z "${FUZZ_NO_MSAN:-}" ]; then
    echo "CC ${name}_msan"
    # shellcheck disable=SC2086
    $CC $BASE $MSAN $IGNORE $WARN -I"$SRC" -I"$SRC/lib" -I"$HERE" -o "$OUT/${name}_msan" "$@"
  fi
}

# fuzz_telegram's ASan build links a second copy of LIB with the same
# sanitizers but no coverage instrumentation, every global symbol prefixed
# nc_, for the calls that repeat instrumented ones ("Two copies of the
# library" in fuzz_telegram.c); its MSan build has one copy.
nocov_lib() {
  dir=$(mktemp -d)
  for f in "$@"; do
    # shellcheck disable=SC2086
    $CC $BASE -fsanitize=address,undefined -fno-sanitize-recover=all $WARN \
      -I"$SRC" -I"$SRC/lib" -c -o "$dir/$(basename "$f" .c).o" "$f"
  done
  ld -r -o "$dir/lib.o" "$dir"/[a-z]*.o
  nm --defined-only -g "$dir/lib.o" | awk 'NF == 3 { print $3, "nc_" $3 }' \
    >"$dir/syms"
  objcopy --redefine-syms="$dir/syms" "$dir/lib.o" "$OUT/.nocov_lib.o"
  rm -rf "$dir"
}
# The instrumented library of its ASan build has no comparison tracing
# (trace-cmp): those callbacks were a quarter of its time, and on the bytes
# of a telegram they fed libFuzzer little it can use (README, "Speed of the
# telegram target": measured with and without, coverage from the seeds and
# two planted bugs).
TEL_COV="-fno-sanitize-coverage=trace-cmp"
echo "CC fuzz_telegram (nc_ copy of the library)"
# shellcheck disable=SC2086 # LIB is a list of files (no spaces in paths)
nocov_lib $LIB
echo "CC fuzz_telegram"
# shellcheck disable=SC2086
$CC $BASE $ASAN $TEL_COV $IGNORE $WARN -DFZ_NOCOV_COPY -I"$SRC" -I"$SRC/lib" \
  -I"$HERE" -o "$OUT/fuzz_telegram" "$HERE/fuzz_telegram.c" "$HERE/value_oracle.c" \
  $LIB "$OUT/.nocov_lib.o" -lm
rm -f "$OUT/.nocov_lib.o"
if [ -z "${FUZZ_NO_MSAN:-}" ]; then
  echo "CC fuzz_telegram_msan"
  # shellcheck disable=SC2086
  $CC $BASE $MSAN $IGNORE $WARN -I"$SRC" -I"$SRC/lib" -I"$HERE" \
    -o "$OUT/fuzz_telegram_msan" "$HERE/fuzz_telegram.c" \
    "$HERE/value_oracle.c" $LIB -lm
fi
# shellcheck disable=SC2086
build fuzz_values "$HERE/fuzz_values.c" "$HERE/value_oracle.c" $LIB "$SRC/lib/tz.c" -lm

# shellcheck disable=SC2086
build fuzz_rules "$HERE/fuzz_rules.c" $LIB "$SRC/lib/store_rules.c" -lm

GCRYPT_LIBS=$(pkg-config --libs libgcrypt 2>/dev/null || echo -lgcrypt)
# shellcheck disable=SC2086
build fuzz_smarty "$HERE/fuzz_smarty.c" "$SRC/lib/smarty.c" "$SRC/lib/hdlc.c" \
  "$SRC/lib/dlms_cipher.c" \
  $GCRYPT_LIBS
# shellcheck disable=SC2086
# binary HAN: framing, reassembly, decryption (fixed key), A-XDR, layouts
HAN_LIB="$SRC/lib/hdlc.c $SRC/lib/mbus.c $SRC/lib/dlms_apdu.c $SRC/lib/axdr.c \
  $SRC/lib/han_layouts.c $SRC/lib/han.c $SRC/lib/dlms_cipher.c"
# shellcheck disable=SC2086
build fuzz_input_chain "$HERE/fuzz_input_chain.c" "$SRC/lib/input_chain.c" \
  "$SRC/lib/smarty.c" "$SRC/lib/line_probe.c" "$SRC/lib/tz.c" $HAN_LIB $LIB \
  $GCRYPT_LIBS -lm
# shellcheck disable=SC2086
build fuzz_han "$HERE/fuzz_han.c" $HAN_LIB $LIB $GCRYPT_LIBS -lm

if [ -f "$COLLECTD_INCLUDE/core/daemon/collectd.h" ]; then
  SP_LIBS=$(pkg-config --libs libserialport 2>/dev/null || echo -lserialport)
  SP_CFLAGS=$(pkg-config --cflags libserialport 2>/dev/null || true)
  # shellcheck disable=SC2086
  build fuzz_config -DHAVE_CONFIG_H -I"$COLLECTD_INCLUDE" \
    -I"$COLLECTD_INCLUDE/core" $SP_CFLAGS \
    "$HERE/fuzz_config.c" "$HERE/collectd_stubs.c" "$HERE/oconfig_text.c" \
    "$SRC/plugin_config.c" "$SRC/source_serial.c" "$SRC/lib/smarty.c" \
    "$SRC/lib/hdlc.c" "$SRC/lib/dlms_cipher.c" "$SRC/tz_load.c" \
    "$SRC/lib/tz.c" "$SRC/lib/timestamp.c" $SP_LIBS $GCRYPT_LIBS
else
  echo "build.sh: no collectd headers in $COLLECTD_INCLUDE" \
    "(set COLLECTD_INCLUDE)" >&2
  exit 1
fi
echo "built into $OUT"
