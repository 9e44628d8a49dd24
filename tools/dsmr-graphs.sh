#!/bin/bash
# Draw the dsmr plugin's RRD files as PNG graphs, the panels of the Grafana
# dashboard (contrib/grafana/dsmr-influxdb.json):
#   power.png    power import (up) and export (down), total and per phase, last hour
#   voltage.png  voltage per phase, last hour
#   energy.png   energy imported and exported today, cumulative since midnight
#   gas.png      gas flow over the last 24 hours, and gas used today
#   health.png   telegrams per minute by outcome, last hour
# usage: tools/dsmr-graphs.sh RRD_DIR OUT_DIR
#   RRD_DIR is collectd's  DataDir/<host>/dsmr-<meter>
# "Today" is local time: set TZ (e.g. TZ=Europe/Amsterdam) if the machine's
# zone is not the meter's.
#
# Why "today since midnight" and not bars per day over a week: rrdtool graph
# averages the data of one pixel and drops the newest, incomplete pixel (12
# minutes in a 7-day graph), and collectd's RRD files keep the fine rows for
# a few hours only (the 7-day archive has 37-minute rows): a week of bars is
# blank for the first hour and always misses the last part of today.
# Registers are DERIVE (Wh, L): the files hold rates (Wh/s, L/s), and the
# energy of a stretch of time is rate x seconds summed over it (unknown
# stretches count as nothing, never as an average).
set -euo pipefail
rrd=${1:?usage: dsmr-graphs.sh RRD_DIR OUT_DIR}
out=${2:?usage: dsmr-graphs.sh RRD_DIR OUT_DIR}
mkdir -p "$out"
base=(--imgformat PNG --width 800 --height 240 --slope-mode
  --color BACK#ffffff --color CANVAS#ffffff)
have() { [ -f "$rrd/$1.rrd" ]; }
draw() { # file args...: one graph; its output (PRINT lines) is not wanted
  local f=$1
  shift
  rrdtool graph "$out/$f" "$@" >/dev/null
  echo "graph: $out/$f"
}
phase_colors=(1f77b4 ff7f0e 9467bd)

# Power: totals as areas (import up, export down), phases as lines.
args=()
if have power-import; then
  args+=("DEF:imp=$rrd/power-import.rrd:value:AVERAGE"
    "AREA:imp#d6272860:import"
    "GPRINT:imp:LAST:latest %.0lf W")
fi
if have power-export; then
  args+=("DEF:exp=$rrd/power-export.rrd:value:AVERAGE" "CDEF:nexp=exp,-1,*"
    "AREA:nexp#2ca02c60:export"
    "GPRINT:exp:LAST:latest %.0lf W\\n")
fi
for l in 1 2 3; do
  c=${phase_colors[$((l - 1))]}
  if have "power-import_l$l"; then
    args+=("DEF:i$l=$rrd/power-import_l$l.rrd:value:AVERAGE"
      "LINE2:i$l#$c:L$l" "GPRINT:i$l:LAST:import %.0lf W")
    if have "power-export_l$l"; then
      args+=("DEF:e$l=$rrd/power-export_l$l.rrd:value:AVERAGE"
        "CDEF:ne$l=e$l,-1,*" "LINE2:ne$l#$c" "GPRINT:e$l:LAST:export %.0lf W")
    fi
    args+=("COMMENT:\\n")
  fi
done
if [ ${#args[@]} -gt 0 ]; then
  draw power.png "${base[@]}" --start -1h --title "Power (W): import up, export down" \
    --vertical-label W "${args[@]}"
fi

# Voltage per phase.
args=()
for l in 1 2 3; do
  have "voltage-l$l" || continue
  args+=("DEF:v$l=$rrd/voltage-l$l.rrd:value:AVERAGE"
    "LINE2:v$l#${phase_colors[$((l - 1))]}:L$l"
    "GPRINT:v$l:LAST:%.1lf V")
done
if [ ${#args[@]} -gt 0 ]; then
  draw voltage.png "${base[@]}" --start -1h --title "Voltage (V)" \
    --vertical-label V --alt-autoscale --left-axis-format %.1lf "${args[@]}"
fi

# Energy today. The tariff registers add up to the total (a meter with a
# total register 1.8.0/2.8.0 and no tariffs: that one).
#   ...z  a register's rate (Wh/s), unknown as 0
#   cum   running total since midnight, in kWh: each row adds rate x row
#         length. A row carries the time its interval ends, so the row
#         stamped 00:00 (NEWDAY) is yesterday's last: it starts today at 0.
args=()
for dir in import export; do
  terms=""
  n=0
  for t in t1 t2 t3 t4; do
    have "dsmr_energy-${dir}_$t" || continue
    args+=("DEF:$dir$t=$rrd/dsmr_energy-${dir}_$t.rrd:value:AVERAGE"
      "CDEF:$dir${t}z=$dir$t,UN,0,$dir$t,IF")
    terms=${terms:+$terms,}$dir${t}z${terms:+,+}
    n=$((n + 1))
  done
  if [ $n -eq 0 ] && have "dsmr_energy-$dir"; then
    args+=("DEF:${dir}all=$rrd/dsmr_energy-$dir.rrd:value:AVERAGE"
      "CDEF:${dir}allz=${dir}all,UN,0,${dir}all,IF")
    terms=${dir}allz
  fi
  [ -n "$terms" ] || continue
  args+=("CDEF:${dir}cum=NEWDAY,0,PREV,$terms,STEPWIDTH,*,1000,/,ADDNAN,IF"
    "VDEF:${dir}today=${dir}cum,LAST")
  if [ "$dir" = import ]; then
    args+=("AREA:${dir}cum#d6272880:imported" "GPRINT:${dir}today:today %.3lf kWh\\n")
  else
    args+=("LINE2:${dir}cum#2ca02c:exported" "GPRINT:${dir}today:today %.3lf kWh\\n")
  fi
done
if [ ${#args[@]} -gt 0 ]; then
  draw energy.png "${base[@]}" --lower-limit 0 --units-exponent 0 --left-axis-format %.3lf --start midnight --end now \
    --title "Energy today (kWh, since midnight)" --vertical-label kWh "${args[@]}"
fi

# Gas: the flow between two readings (m3/h) and the running total today.
if have dsmr_volume-gas; then
  draw gas.png "${base[@]}" --lower-limit 0 --units-exponent 0 --left-axis-format %.2lf --start -24h --title "Gas (m3/h)" \
    --vertical-label m3/h \
    "DEF:g=$rrd/dsmr_volume-gas.rrd:value:AVERAGE" \
    "CDEF:gh=g,3600,*,1000,/" "CDEF:gz=g,UN,0,g,IF" \
    "CDEF:gcum=NEWDAY,0,PREV,gz,STEPWIDTH,*,1000,/,ADDNAN,IF" \
    "VDEF:gtoday=gcum,LAST" \
    "AREA:gh#8c564b:gas flow" "GPRINT:gtoday:used today %.3lf m3\\n"
fi

# Telegram health: telegrams per minute by outcome, and the age of the last
# valid one.
args=()
hcolors=(ok:2ca02c crc_error:d62728 malformed:ff7f0e too_large:9467bd dropped:7f7f7f)
for oc in "${hcolors[@]}"; do
  o=${oc%%:*}
  have "dsmr_telegrams-$o" || continue
  args+=("DEF:$o=$rrd/dsmr_telegrams-$o.rrd:value:AVERAGE" "CDEF:${o}m=$o,60,*"
    "LINE2:${o}m#${oc##*:}:$o" "GPRINT:${o}m:AVERAGE:%.1lf/min")
done
if have dsmr_age; then
  args+=("DEF:age=$rrd/dsmr_age.rrd:value:MAX" "COMMENT:\\n"
    "GPRINT:age:LAST:age of the last valid telegram %.0lf s")
fi
if [ ${#args[@]} -gt 0 ]; then
  draw health.png "${base[@]}" --lower-limit 0 --start -1h \
    --title "Telegrams per minute" --vertical-label "/min" "${args[@]}"
fi
