#!/bin/bash
# The quick-start demo: installs what is missing, builds, and runs the real
# collectd in the foreground with the dsmr plugin reading a simulated DSMR 5
# meter (or your meter: tools/demo.sh /dev/ttyUSB0 [115200|9600|auto]; 9600
# is a DSMR 2.2/3 line, 9600 7E1; auto lets the plugin find the line). Values
# go into RRD files; PNG graphs are redrawn every minute. Ctrl-C stops it all.
#   DSMR_DEMO_DIR   where RRD files and graphs go (default ./demo)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
device=${1:-}
baud=${2:-115200}
case $baud in
auto) line='Baudrate "auto"' ;;
# DSMR 2.2/3 meters send 7E1: read as 8N1, bit 7 would carry the parity
9600) line=$'Baudrate 9600\n    DataBits 7\n    Parity "even"' ;;
*[!0-9]* | "") echo "usage: tools/demo.sh [DEVICE [115200|9600|auto]]" >&2; exit 2 ;;
*) line="Baudrate $baud" ;;
esac
out=${DSMR_DEMO_DIR:-$top/demo}

tools/install-deps.sh
[ -x configure ] || ./autogen.sh
mkdir -p build/demo
(cd build/demo && { [ -f Makefile ] || "$top"/configure >/dev/null; } && make -j"$(nproc)" >/dev/null)
plugindir=$top/build/demo/.libs
[ -f "$plugindir/dsmr.so" ] || { echo "build failed: no $plugindir/dsmr.so"; exit 1; }

mkdir -p "$out/rrd" "$out/graphs"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$device" ]; then
  device=$out/meter
  python3 tools/dsmr-sim --pty "$device" --generate dsmr5 >"$out/simulator.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do [ -e "$device" ] && break; sleep 0.1; done
  echo "simulated DSMR 5 meter on $device (one telegram a second)"
fi

cat >"$out/collectd.conf" <<CONF
Hostname "demo"
FQDNLookup false
Interval 10
BaseDir "$out"
PIDFile "$out/collectd.pid"
TypesDB "/usr/share/collectd/types.db" "$top/types/dsmr.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File stdout
  Timestamp true
  PrintSeverity true
</Plugin>
PluginDir "$plugindir"
LoadPlugin dsmr
PluginDir "/usr/lib/collectd"
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "$out/rrd"
</Plugin>
<Plugin dsmr>
  <Meter "demo">
    Device "$device"
    $line
  </Meter>
</Plugin>
CONF

(
  while sleep 60; do
    tools/dsmr-graphs.sh "$out/rrd/demo/dsmr-demo" "$out/graphs" >/dev/null 2>&1 || true
  done
) &
pids+=($!)

echo "RRD files: $out/rrd/demo/dsmr-demo"
echo "graphs (redrawn every minute): $out/graphs"
echo "starting collectd (Ctrl-C to stop)"
/usr/sbin/collectd -f -C "$out/collectd.conf" &
pids+=($!)
wait "${pids[-1]}"
