#!/bin/bash
# Draw the dsmr plugin's RRD files as PNG graphs:
#   power.png   power per phase (import up, export down), last hour
#   energy.png  energy imported and exported per day, last 7 days
#   gas.png     gas used per hour, last 24 hours
# usage: tools/dsmr-graphs.sh RRD_DIR OUT_DIR
#   RRD_DIR is collectd's  DataDir/<host>/dsmr-<meter>
set -euo pipefail
rrd=${1:?usage: dsmr-graphs.sh RRD_DIR OUT_DIR}
out=${2:?usage: dsmr-graphs.sh RRD_DIR OUT_DIR}
mkdir -p "$out"
base=(--imgformat PNG --width 800 --height 240 --slope-mode
  --color BACK#ffffff --color CANVAS#ffffff)
common=("${base[@]}" --lower-limit 0)
have() { [ -f "$rrd/$1.rrd" ]; }

# Power per phase: fall back to the total on single-phase meters.
args=()
colors=(1f77b4 ff7f0e 2ca02c)
n=0
for l in 1 2 3; do
  have "power-import_l$l" || continue
  args+=("DEF:i$l=$rrd/power-import_l$l.rrd:value:AVERAGE"
    "LINE1:i$l#${colors[$((l - 1))]}:import L$l")
  if have "power-export_l$l"; then
    args+=("DEF:e$l=$rrd/power-export_l$l.rrd:value:AVERAGE" "CDEF:ne$l=e$l,-1,*"
      "LINE1:ne$l#${colors[$((l - 1))]}:export L$l\\n")
  fi
  n=$((n + 1))
done
if [ $n -eq 0 ] && have power-import; then
  args+=("DEF:i=$rrd/power-import.rrd:value:AVERAGE" "LINE1:i#1f77b4:import")
fi
if [ ${#args[@]} -gt 0 ]; then
  rrdtool graph "$out/power.png" "${base[@]}" \
    --start -1h --title "Power per phase (W)" --vertical-label W "${args[@]}" >/dev/null
fi

# Energy per day: the registers are DERIVE (Wh), so the RRD holds Wh/s;
# a day's average rate x 86400 s is that day's energy.
args=()
sum_i="" sum_e=""
for t in t1 t2 t3 t4 ""; do
  name=import${t:+_$t}
  have "dsmr_energy-$name" || continue
  v=${t:-all}
  args+=("DEF:i$v=$rrd/dsmr_energy-$name.rrd:value:AVERAGE:step=86400")
  sum_i=${sum_i:+$sum_i,}i$v${sum_i:+,ADDNAN}
  [ "$t" = "" ] && { sum_i="iall"; break; }
done
for t in t1 t2 t3 t4 ""; do
  name=export${t:+_$t}
  have "dsmr_energy-$name" || continue
  v=${t:-all}
  args+=("DEF:e$v=$rrd/dsmr_energy-$name.rrd:value:AVERAGE:step=86400")
  sum_e=${sum_e:+$sum_e,}e$v${sum_e:+,ADDNAN}
  [ "$t" = "" ] && { sum_e="eall"; break; }
done
if [ -n "$sum_i" ]; then
  args+=("CDEF:imp=$sum_i,86400,*,1000,/" "VDEF:impt=imp,LAST"
    "AREA:imp#d62728:imported kWh/day" "GPRINT:impt:today so far %.2lf kWh\\n")
  if [ -n "$sum_e" ]; then
    args+=("CDEF:exp=$sum_e,86400,*,1000,/" "VDEF:expt=exp,LAST"
      "LINE2:exp#2ca02c:exported kWh/day" "GPRINT:expt:today so far %.2lf kWh\\n")
  fi
  rrdtool graph "$out/energy.png" "${common[@]}" --start -7d --step 86400 \
    --title "Energy per day (kWh)" --vertical-label kWh "${args[@]}" >/dev/null
fi

# Gas: litres per hour over the last day, and today's total in m3.
if have dsmr_volume-gas; then
  rrdtool graph "$out/gas.png" "${common[@]}" --start -24h --step 3600 \
    --title "Gas (m3 per hour)" --vertical-label m3/h \
    "DEF:g=$rrd/dsmr_volume-gas.rrd:value:AVERAGE:step=3600" \
    "CDEF:gh=g,3600,*,1000,/" "VDEF:tot=g,TOTAL" "CDEF:unk=g,UN,1,0,IF" \
    "AREA:gh#8c564b:gas m3/h" "GPRINT:tot:%.3lf L in the last 24 h\\n" >/dev/null
fi
ls "$out"/*.png 2>/dev/null | sed 's/^/graph: /'
