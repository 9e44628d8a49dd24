# TAP helpers for the shell tests and tools (tests/test_install.sh,
# tests/test_package.sh, tools/foreign-arch-test.sh). Sourced, not run:
#
#   . "$top/tests/tap.sh"
#
# POSIX sh (test_install.sh runs under /bin/sh). Set tap_prefix before or
# after sourcing to put a word in front of every description, time and
# bail-out (foreign-arch-test.sh: "$arch: ").
#
#   ok DESCRIPTION, not_ok DESCRIPTION, skip DESCRIPTION REASON
#   check DESCRIPTION COMMAND...   ok when COMMAND succeeds, else not ok
#   diag TEXT...                   TEXT as TAP comments, line by line
#   timed NAME                     "# time: NAME: S s" since the last timed
#   bail TEXT...                   "Bail out!", exit 1
#   tap_done                       the plan (1..n); fails when a check failed
n=0
failed=0
tap_prefix=${tap_prefix:-}
ok() { n=$((n + 1)); echo "ok $n - $tap_prefix$1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $tap_prefix$1"; }
check() { # check DESCRIPTION COMMAND...
  tap_d=$1
  shift
  if "$@"; then ok "$tap_d"; else not_ok "$tap_d"; fi
}
skip() { n=$((n + 1)); echo "ok $n - $tap_prefix$1 # SKIP $2"; }
diag() { echo "$*" | sed 's/^/# /'; }
t_start=$(date +%s)
t_step=$t_start
timed() { # timed NAME: the time since the last call
  tap_now=$(date +%s)
  diag "time: $tap_prefix$1: $((tap_now - t_step)) s"
  t_step=$tap_now
}
bail() {
  echo "Bail out! $tap_prefix$*"
  exit 1
}
tap_done() {
  echo "1..$n"
  [ "$failed" -eq 0 ]
}
