#!/bin/bash
# All benchmarks, one command (`make bench`; HACKING.md "Benchmarks"):
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

# Instructions per telegram by stage: callgrind's counts by source file
# (inlined code counts where its source is), for N and 2N iterations.
stages() { # args... -> a table of instructions per telegram by stage
  local n=${stages_n:-2000} d per=1
  d=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$d/a" "$bin" --iterations $n "$@" >/dev/null 2>&1
  valgrind --tool=callgrind --callgrind-out-file="$d/b" "$bin" --iterations $((2 * n)) "$@" >/dev/null 2>&1
  callgrind_annotate --threshold=100 "$d/a" >"$d/a.txt" 2>/dev/null
  callgrind_annotate --threshold=100 "$d/b" >"$d/b.txt" 2>/dev/null
  # telegrams per pass of the file (1 but for a stream)
  per=$("$bin" --iterations 1 "$@" | sed -n 's/.* \([0-9]*\) telegrams per pass$/\1/p')
  python3 - "$d/a.txt" "$d/b.txt" $((5 * n * ${per:-1})) <<'PY'
import re, sys
# file (and, for the SIMD headers, function) -> stage
def stage(fil, fn):
    base = fil.rsplit("/", 1)[-1]
    if base == "crc16.c" or fn.startswith("dsmr_crc16"):
        return "CRC"
    if base in ("framer.c", "input_chain.c") or "memchr" in base or "memmove" in base:
        return "framer"  # with the input chain and the libc memchr/memcpy
    if base == "number.c" or base == "number_shape.h":
        return "numbers"
    if base == "timestamp.c":
        return "timestamps"
    if base in ("obis_table.h", "obis.c"):
        return "OBIS lookup"
    if base == "mapper.c":
        return "mapper"
    if base in ("parser.c", "parser_fast.h") or fn.startswith("dsmr_parser"):
        return "parser"
    if base == "bench_telegram.c":
        return None  # the benchmark's own loop
    return "other"
def load(path):
    out = {}
    for line in open(path, errors="replace"):
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S+?):(\S+)", line)
        if not m or m.group(2) == "PROGRAM":
            continue
        st = stage(m.group(2), m.group(3))
        if st:
            out[st] = out.get(st, 0) + int(m.group(1).replace(",", ""))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
per = int(sys.argv[3])
order = ["framer", "CRC", "parser", "numbers", "timestamps", "OBIS lookup",
         "mapper", "other"]
total = 0
for st in order:
    v = (b.get(st, 0) - a.get(st, 0)) / per
    if st == "other" and abs(v) < 1:
        continue
    total += v
    print("  %-12s %7.0f" % (st, v))
print("  %-12s %7.0f" % ("total", total))
PY
  rm -rf "$d"
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
  echo "instructions per telegram by stage (callgrind, by source file):"
  stages "$telegram"
  # A changing stream: 100 generated DSMR 5 telegrams (fixed seed), where
  # most registers keep their value from one telegram to the next, as on
  # a real meter (the repeated benchmark telegram keeps all of them).
  stream=$(mktemp)
  if python3 "$src/tools/dsmr-sim" --generate dsmr5 --count 100 --rate 0 \
    --seed 7 --start 2026-06-01T12:00:00 --file "$stream" --quiet 2>/dev/null; then
    a=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --iterations 20 "$stream" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    b=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --iterations 40 "$stream" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "instructions per telegram, changing stream (dsmr-sim --generate dsmr5, 100 telegrams): $(((b - a) / (5 * 20 * 100)))"
    echo "instructions per telegram by stage, changing stream:"
    stages_n=20 stages "$stream"
  fi
  rm -f "$stream"
  # The other public telegrams of HACKING.md's table: DSMR 4 and Belgian.
  for other in dsmrreader_kaifa_dsmr42 ndokter_fluvius_v171; do
    t=$src/tests/corpus/telegrams/$other.p1
    echo "instructions per telegram, $other ($(wc -c <"$t") bytes): $(instructions "$t")"
  done
fi

# The binary HAN path (framing, reassembly, A-XDR, layout, mapping; the
# decryption of the Austrian message counted apart): instructions per
# message, as for the telegram above.
if [ -x "$build/bench/bench_han" ]; then
  echo
  echo "== HAN path (instructions per message; 0 allocations: bench_han checks)"
  bin=$build/bench/bench_han
  for v in aidon-no-list2-1p-vendor-doc kamstrup-no-list1-roarfred \
    kaifa-at-tinetz-example-fneur; do
    echo "$v: $(instructions "$v") in all, $(instructions --framing-only "$v") framing only"
  done
  echo "kaifa-at-tinetz-example-fneur: $(instructions --decrypt-only kaifa-at-tinetz-example-fneur) framing and decryption only"
fi

collectd=${COLLECTD:-/usr/sbin/collectd}
if [ ! -x "$collectd" ]; then
  echo "no $collectd: plugin benchmarks skipped (tools/install-deps.sh)"
  exit 0
fi
echo
top_srcdir=$src top_builddir=$build exec python3 "$src/bench/plugin_bench.py" \
  --json "$build/bench/results.json" "${lib[@]}" "$@"
