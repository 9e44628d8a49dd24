#!/bin/bash
# README's quick start, first command: tools/demo.sh builds the plugin, runs
# the real collectd with it against a simulated DSMR 5 meter, stores the
# values in RRD files and draws PNG graphs every minute. This runs it as a
# user would (in its own output directory), checks what it promises, then
# stops it the way a user does (SIGINT, Ctrl-C) and checks that nothing it
# started is left running. Run by tests/run-all.sh (not by `make check`:
# the demo builds in the source tree, which distcheck makes read-only).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD
. "$top/tests/tap.sh"

out=$(mktemp -d /tmp/dsmr-demo.XXXXXX)
rrd=$out/rrd/demo/dsmr-demo
log=$out/demo.log
# In its own session and process group, as in a terminal of its own. A
# command put in the background by a script starts with SIGINT ignored, and
# bash cannot trap a signal ignored on entry: python3 sets it back to the
# default first, as a terminal's shell would have it.
DSMR_DEMO_DIR=$out setsid python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' tools/demo.sh >"$log" 2>&1 &
pid=$!

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds or the demo ended
  local end=$(($(date +%s) + $1))
  shift
  while [ "$(date +%s)" -lt "$end" ]; do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}
started() { grep -q '^starting collectd' "$log"; }
stored() { # the power file holds a number (not U) as its last update
  [ -f "$rrd/power-import.rrd" ] &&
    rrdtool lastupdate "$rrd/power-import.rrd" 2>/dev/null |
    tail -1 | grep -qE '^[0-9]+: [0-9.e+-]+$'
}
png() { # a PNG file of some size
  [ -s "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
    [ "$(stat -c %s "$1")" -gt 2000 ]
}
graphs() { png "$out/graphs/power.png" && png "$out/graphs/health.png"; }

# The build is most of the wait on a fresh checkout (configure, make).
if wait_for 900 started; then
  ok "demo: built and started collectd"
else
  not_ok "demo: built and started collectd"
  tail -30 "$log" | sed 's/^/# /'
fi
timed "build and start"
check "demo: values stored in RRD files ($rrd)" wait_for 120 stored
rrdtool lastupdate "$rrd/power-import.rrd" 2>/dev/null | sed 's/^/# /'
# the first graphs are drawn a minute after the start
check "demo: PNG graphs drawn (power.png, health.png)" wait_for 120 graphs
ls -l "$out/graphs" 2>/dev/null | sed 's/^/# /'
check "demo: the simulated meter's telegrams are read (no dsmr plugin error)" \
  sh -c "! grep -E '\\[error\\].*dsmr plugin' '$log'"
timed "values and graphs"

# Ctrl-C: SIGINT to the demo's whole process group, as a terminal sends
# it; the demo stops collectd, the simulator and the graph loop.
kill -INT -- -"$pid" 2>/dev/null
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
check "demo: stops on SIGINT" sh -c "! kill -0 $pid 2>/dev/null"
# setsid made the demo a session leader: every process it started, and
# theirs, is in its session
left() { pgrep -s "$pid" >/dev/null || pgrep -f -- "$out" >/dev/null; }
wait_for_gone() { for _ in $(seq 15); do left || return 0; sleep 1; done; return 1; }
if wait_for_gone; then
  ok "demo: nothing it started is left running"
else
  not_ok "demo: nothing it started is left running"
  { pgrep -as "$pid"; pgrep -af -- "$out"; } | sed 's/^/# /'
  pkill -s "$pid"
  pkill -f -- "$out"
fi
wait "$pid" 2>/dev/null
rm -rf "$out"
tap_done
