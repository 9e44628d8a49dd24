#!/bin/bash
# Library benchmark: time, allocations and instructions per telegram for a
# DSMR 5 telegram of about 1 KB (the full path: frame, CRC, parse, map) and
# for the CRC alone. Instructions come from callgrind as the difference of
# two runs (N and 2N iterations), so start-up costs cancel out.
# usage: bench/run.sh BUILD_DIR SRC_DIR   (or: make bench)
set -euo pipefail
build=${1:-build/gcc}
src=${2:-.}
bin=$build/bench/bench_telegram
telegram=$src/tests/corpus/telegrams/ndokter_v5_two_mbus.p1

instructions() { # args... -> instructions per iteration
  local n=2000 a b
  a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --iterations $n "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --iterations $((2 * n)) "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  # 5 timed runs of n iterations each
  echo $(((b - a) / (5 * n)))
}

echo "telegram: $telegram ($(wc -c <"$telegram") bytes)"
"$bin" "$telegram"
"$bin" --chunk 64 "$telegram"
"$bin" --crc-only "$telegram"
if command -v valgrind >/dev/null; then
  echo "instructions per telegram, full path: $(instructions "$telegram")"
  echo "instructions per telegram, full path in 64-byte reads: $(instructions --chunk 64 "$telegram")"
  echo "instructions per telegram, CRC alone: $(instructions --crc-only "$telegram")"
fi
