#!/bin/sh
# Run every fuzz target built by build.sh:
#   fuzz/run.sh OUTDIR SECONDS
# For each target: first replay every input in fuzz/regressions/<target>/
# (each one a crash that was found and fixed), then fuzz for SECONDS on a
# temporary copy of fuzz/corpus/<target>/ (the repository's corpus is never
# written). Exits non-zero if a regression input fails or fuzzing finds a
# crash, a sanitizer report, a leak, a timeout or an out-of-memory; the
# input that did it is kept under OUTDIR/artifacts/ and its path printed.
# libFuzzer's output of each run stays in OUTDIR/logs/.
#
# FUZZ_TARGETS="fuzz_values ..." runs only those; FUZZ_KEEP_CORPUS=DIR keeps
# each run's grown corpus in DIR/<target>/ (e.g. to merge new seeds by hand
# with -merge=1).
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 OUTDIR SECONDS" >&2
  exit 2
fi
OUT=$(cd "$1" && pwd) || exit 2
SECS=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=${FUZZ_TARGETS:-"fuzz_telegram fuzz_values fuzz_config fuzz_smarty fuzz_rules fuzz_han fuzz_input_chain"}
COMMON="-timeout=5 -rss_limit_mb=2048"
STAMP=$(date +%Y%m%d-%H%M%S)
# The growing corpus goes to memory when it can: libFuzzer writes a file per
# new input, and on ext4 creating them was a sixth of the telegram target's
# time.
tmp=${TMPDIR:-/tmp}
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
WORK=$(mktemp -d "$tmp/dsmr-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT INT TERM

max_len() {
  case $1 in
  fuzz_telegram) echo 8192 ;; # the default maximum telegram: see README
  fuzz_values) echo 256 ;;
  fuzz_smarty) echo 16384 ;; # recipes: a few telegrams to seal
  fuzz_rules) echo 1028 ;;   # 4 + 64 telegrams of 16 bytes
  fuzz_han) echo 8192 ;;     # a few frames, beyond one message buffer
  fuzz_input_chain) echo 16384 ;; # a few telegrams
  *) echo 4096 ;;
  esac
}

# AddressSanitizer options per target, before any the caller sets (the last
# one given wins). fuzz_telegram: a 1 MB quarantine instead of 256 MB. The
# only heap block its code under test touches is libFuzzer's copy of each
# input (the library allocates nothing, the harness uses fuzz_slab.h), and
# a pointer kept into it is read by the next inputs, while the block is
# still in quarantine (1 MB holds the last 128 inputs of -max_len 8192 at
# least). With 256 MB every copy landed on memory ASan had to fault in
# again: a fifth of the target's time (README, "Speed of the telegram
# target").
asan_options() {
  case $1 in
  fuzz_telegram) echo "quarantine_size_mb=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" ;;
  *) echo "${ASAN_OPTIONS:-}" ;;
  esac
}

status=0
for t in $TARGETS; do
  exe=$OUT/$t
  if [ ! -x "$exe" ]; then
    echo "FAIL $t: $exe not built (run fuzz/build.sh $OUT)"
    status=1
    continue
  fi
  art=$OUT/artifacts/$STAMP/$t
  mkdir -p "$art"

  # 1. Regressions (libFuzzer runs each file given as an argument once),
  #    under ASan+UBSan and, when built, MemorySanitizer; the seeds too
  #    under MSan (ASan+UBSan see them when fuzzing starts).
  reg=$HERE/regressions/$t
  for e in "$exe" "${exe}_msan"; do
    [ -x "$e" ] || continue
    san=asan
    [ "$e" = "$exe" ] || san=msan
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
      n=$(find "$reg" -type f | wc -l)
      # shellcheck disable=SC2086 # COMMON is a list of flags
      if find "$reg" -type f -exec "$e" $COMMON -artifact_prefix="$art/" {} + \
        >"$WORK/$t.replay.log" 2>&1; then
        echo "ok   $t: $n regression inputs replayed ($san)"
      else
        echo "FAIL $t: a regression input fails again ($san):"
        grep -E "invariant failed|ERROR|WARNING: Memory|SUMMARY|Running:" \
          "$WORK/$t.replay.log" | tail -8
        status=1
      fi
    fi
    if [ $san = msan ]; then
      # shellcheck disable=SC2086
      if "$e" $COMMON -runs=0 -artifact_prefix="$art/" "$HERE/corpus/$t" \
        >"$WORK/$t.seeds.log" 2>&1; then
        echo "ok   $t: seeds replayed ($san)"
      else
        echo "FAIL $t: a seed fails ($san):"
        grep -E "invariant failed|ERROR|WARNING: Memory|SUMMARY|#[0-3] " \
          "$WORK/$t.seeds.log" | head -8
        status=1
      fi
    fi
  done

  # 2. Fuzzing on a copy of the seeds.
  corpus=$WORK/corpus/$t
  mkdir -p "$corpus"
  cp "$HERE/corpus/$t/"* "$corpus/" 2>/dev/null
  dict=
  [ -f "$HERE/$t.dict" ] && dict="-dict=$HERE/$t.dict"
  mkdir -p "$OUT/logs/$STAMP"
  log=$OUT/logs/$STAMP/$t.log
  # shellcheck disable=SC2086
  ASAN_OPTIONS=$(asan_options "$t") \
    "$exe" $COMMON $dict -max_len="$(max_len "$t")" -max_total_time="$SECS" \
    -print_final_stats=1 -artifact_prefix="$art/" "$corpus" >"$log" 2>&1
  rc=$?
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp "$corpus/"* "$FUZZ_KEEP_CORPUS/$t/" 2>/dev/null
  fi

  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(echo "$last" | sed -n 's/.*\(cov: [0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.*\(ft: [0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.*\(corp: [^ ]*\).*/\1/p')
  found=$(find "$art" -type f)
  if [ $rc -ne 0 ] || [ -n "$found" ]; then
    echo "FAIL $t: exit $rc after ${execs:-?} runs; log: $log"
    grep -E "invariant failed|ERROR:|SUMMARY:|runtime error" "$log" | head -5
    for f in $found; do
      echo "     input kept: $f"
    done
    status=1
  else
    rmdir "$art" 2>/dev/null
    echo "ok   $t: ${SECS}s, ${execs:-?} runs, ${speed:-?} exec/s, $cov, $ft, $corp"
  fi
done
rmdir "$OUT/artifacts/$STAMP" "$OUT/artifacts" 2>/dev/null
exit $status
