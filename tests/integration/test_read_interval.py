#!/usr/bin/env python3
"""Health values at most once a second: with Interval 0.4 collectd runs the
read callback two or three times a second (as it does twice in one second
when a read runs late under load and the next one on time). rrdtool keeps
one update a second and refuses the next ("minimum one second step"), so
the plugin reports a meter's health only when the time, rounded to the
second as collectd rounds it for rrdtool and Graphite, moved on. The
counters are cumulative: the reports skipped lose nothing."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

tmp = d.tmpdir("readiv")
pty_path = os.path.join(tmp, "meter")
COUNT = 8
sim, ready = d.start_sim(["--pty", pty_path, "--generate", "dsmr5",
                          "--rate", "1", "--count", str(COUNT), "--wait"])
tap.ok(ready and ready[0].startswith("pty " + pty_path),
       "simulator: pty ready", *ready)

# rrdtool's step comes from the values' interval, 0 s here: give it 1 s.
cd = d.Collectd([d.meter_block("m", device=pty_path)], interval=0.4,
                writers=("csv",), tag="readiv", extra="""
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "%s"
  StepSize 1
</Plugin>
""" % os.path.join(tmp, "rrd")).start()
try:
    sim.wait(30)
except Exception:
    pass
tap.is_(sim.returncode, 0, "the simulator sent its %d telegrams" % COUNT)
time.sleep(1.5)  # a few more reads after the last telegram
log = cd.log()
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd stops cleanly")

ok_rows = cd.csv_rows("m", "dsmr_telegrams-ok")
age_rows = cd.csv_rows("m", "dsmr_age")
secs = [int(t + 0.5) for t, _ in ok_rows]
tap.ok(len(ok_rows) >= COUNT,
       "health reported about once a second (%d reports over %d s of "
       "telegrams)" % (len(ok_rows), COUNT), repr([t for t, _ in ok_rows]))
tap.ok(all(a < b for a, b in zip(secs, secs[1:])),
       "never two health reports in one (rounded) second",
       repr([t for t, _ in ok_rows]))
tap.is_([t for t, _ in age_rows], [t for t, _ in ok_rows],
        "every health value of a report at the report's time")
tap.is_(ok_rows[-1][1] if ok_rows else None, float(COUNT),
        "the last report counts every telegram (dsmr_telegrams-ok)")
rrd = os.path.join(tmp, "rrd", d.HOST, "dsmr-m", "dsmr_telegrams-ok.rrd")
tap.ok(os.path.exists(rrd), "rrdtool stored the health counters", rrd)
noise = [l for l in log.splitlines()
         if re.search(r"illegal attempt|minimum one second|too old", l)]
tap.is_(noise, [], "no rrdtool refusal or value-too-old line in the log")
sys.exit(tap.done())
