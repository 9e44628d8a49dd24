#!/bin/bash
# All benchmarks, one command (`make bench`; README "Benchmarks"):
#  1. the library path: time, allocations and instructions per telegram for
#     a DSMR 5 telegram of about 1 KB (frame, CRC, parse, map) and for the
#     CRC alone (bench/bench_telegram). Instructions come from callgrind as
#     the difference of two runs (N and 2N iterations), so start-up costs
#     cancel out.
#  2. the plugin inside the real collectd (bench/plugin_bench.py): CPU per
#     telegram with and without collectd's dispatch, latency, memory per
#     meter, 64 x 1/s and 16 x 50/s, allocations per telegram, callgrind.
# Ends with the table of figures next to the targets. Takes ~6 minutes.
# usage: bench/run.sh BUILD_DIR SRC_DIR [plugin_bench.py options/sections]
#   (or: make bench; make bench BENCH_ARGS="--quick" or BENCH_ARGS="cpu")
set -euo pipefail
build=${1:-build/gcc}
src=${2:-.}
shift 2 || true
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

echo "== Library path"
echo "telegram: $telegram ($(wc -c <"$telegram") bytes)"
"$bin" "$telegram"
"$bin" --chunk 64 "$telegram"
"$bin" --crc-only "$telegram"
lib=()
if command -v valgrind >/dev/null; then
  full=$(instructions "$telegram")
  lib=(--library-instructions "$full")
  echo "instructions per telegram, full path: $full"
  echo "instructions per telegram, full path in 64-byte reads: $(instructions --chunk 64 "$telegram")"
  echo "instructions per telegram, CRC alone: $(instructions --crc-only "$telegram")"
fi

collectd=${COLLECTD:-/usr/sbin/collectd}
if [ ! -x "$collectd" ]; then
  echo "no $collectd: plugin benchmarks skipped (tools/install-deps.sh)"
  exit 0
fi
echo
top_srcdir=$src top_builddir=$build exec python3 "$src/bench/plugin_bench.py" \
  --json "$build/bench/results.json" "${lib[@]}" "$@"
