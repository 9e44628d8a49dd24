#!/bin/bash
# The whole test suite, as CI runs it (.ci/run) and as README's quick start
# says: installs what is missing, builds with warnings as errors, runs the
# unit, integration and store tests (`make check`), the quick start's demo
# (tests/test_demo.sh), the unit tests again under AddressSanitizer+UBSan
# (clang) and under valgrind, fuzzes each
# libFuzzer target for a bounded time, checks formatting, `make distcheck`,
# and tests the Debian package. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()

step() { # name command...
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED"
  fi
}

# Count the TAP results of a finished `make check` into the totals.
count_tap() { # builddir
  local p f
  p=$(cat "$1"/tests/*.log "$1"/tests/integration/*.log "$1"/tests/stores/*.log 2>/dev/null | grep -c '^ok ')
  f=$(cat "$1"/tests/*.log "$1"/tests/integration/*.log "$1"/tests/stores/*.log 2>/dev/null | grep -c '^not ok ')
  echo "--- $1: $p assertions passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
}

tools/install-deps.sh || { echo "installing dependencies failed"; exit 1; }
tools/install-store-deps.sh || { echo "installing the store servers failed"; exit 1; }
[ -x configure ] || ./autogen.sh || exit 1

build() { # dir configure-args...
  local dir=$1
  shift
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" &&
    "$top"/configure --enable-werror "$@" >configure.log 2>&1 &&
    make -j"$jobs" >make.log 2>&1 || { cat configure.log make.log 2>/dev/null | tail -40; cd "$top"; return 1; }
  cd "$top"
}

logged() { # LOG COMMAND...
  mkdir -p "$(dirname "$1")"
  "${@:2}" 2>&1 | tee "$1"
  return "${PIPESTATUS[0]}"
}

# 1. gcc, -Werror, every test (unit + integration with the real collectd)
step "build (gcc -Werror)" build build/gcc CC=gcc
step "make check (gcc)" make -C build/gcc -j"$jobs" check
count_tap build/gcc
[ -f build/gcc/test-suite.log ] && grep -E '^(FAIL|ERROR)' build/gcc/test-suite.log

# README's quick start, first command: tools/demo.sh builds, runs collectd
# with a simulated meter into RRD files, draws graphs and stops on Ctrl-C
# (its TAP log kept, so that failed_logs below repeats its failures)
step "quick start demo (tests/test_demo.sh)" logged build/test_demo.log tests/test_demo.sh

# 2. clang with AddressSanitizer + UndefinedBehaviorSanitizer: unit tests
san="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
step "build (clang ASan+UBSan)" build build/asan CC=clang CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined"
step "unit tests under ASan+UBSan" env ASAN_OPTIONS=detect_leaks=1 \
  make -C build/asan -j"$jobs" check TESTS='$(UNIT_TESTS)'

# 3. valgrind memcheck on the unit tests (gcc build)
valgrind_units() {
  local t rc=0
  for t in $(make -s -C build/gcc print-unit-tests); do
    (cd build/gcc && top_srcdir=$top valgrind -q --error-exitcode=99 --leak-check=full \
      --errors-for-leak-kinds=definite "./$t" >/dev/null) || { echo "valgrind: $t failed"; rc=1; }
  done
  return $rc
}
step "unit tests under valgrind" valgrind_units

# 4. libFuzzer targets: replay every kept crasher, then fuzz each target for
# a bounded time (FUZZ_SECONDS, default 45) from its seeds
fuzz_all() {
  fuzz/build.sh build/fuzz >build/fuzz-build.log 2>&1 || { tail -30 build/fuzz-build.log; return 1; }
  fuzz/run.sh build/fuzz "${FUZZ_SECONDS:-45}"
}
step "fuzzing (${FUZZ_SECONDS:-45} s per target)" fuzz_all

# 5. formatting
format_check() {
  local bad
  bad=$(git ls-files '*.c' '*.h' 2>/dev/null | while read -r f; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
  [ -z "$bad" ] || { echo "not clang-formatted: $bad"; return 1; }
}
step "clang-format" format_check

# 6. the release tarball builds and passes its own tests
step "make distcheck" make -C build/gcc -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror

# 7. the Debian package: built from the tree, lintian-clean, installed into a
# fresh Debian 12 root, reading a simulated meter through the system's
# collectd, upgraded over an older build, purged without leftovers
# (each TAP log kept in build/, so that failed_logs below repeats its failures)
step "Debian package (tests/test_package.sh)" logged build/test_package.log tests/test_package.sh

# arm64, armhf and s390x under emulation (tools/foreign-arch-test.sh ARCH)
# are run by hand: arm64 took about an hour on this 2-core machine, too
# close to CI's 90 minutes (HACKING.md, "The Debian package and other
# architectures").

# CI shows only the end of this output: repeat every failed test's failing
# assertions and the end of its log here, so a failure can be diagnosed from
# the last screen alone.
failed_logs() {
  local log
  for log in build/gcc/tests/*.log build/gcc/tests/integration/*.log build/gcc/tests/stores/*.log \
    build/asan/tests/*.log build/test_demo.log build/test_package.log; do
    [ -f "$log" ] && [ "$log" != build/gcc/test-suite.log ] || continue
    grep -qE '^(not ok |Bail out!)' "$log" || grep -q '^# exit status: [1-9]' "${log%.log}.trs" 2>/dev/null ||
      grep -qE '^:test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null || continue
    echo "----- $log: failing assertions"
    grep -E '^(not ok |Bail out!)' "$log" | head -20
    echo "----- $log: last lines"
    tail -25 "$log"
  done
}

echo
if [ ${#failures[@]} -gt 0 ]; then
  failed_logs
  echo
  echo "failed steps: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
