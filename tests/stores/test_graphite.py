#!/usr/bin/env python3
"""Graphite: collectd's write_graphite into carbon-cache (plaintext
protocol), with the storage schemas and aggregation of contrib/graphite/.
The whisper files, read back with whisper-fetch, must hold every register,
power and voltage of every telegram exactly (one-second slots) and gas once
per capture, at its capture time. Then graphite-web's render API runs the
Graphite-function queries of doc/stores.md ("energy imported
today / this month", "gas today")."""
import datetime
import os
import re
import subprocess
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/bin/carbon-cache", "/usr/bin/whisper-fetch",
        "/usr/lib/python3/dist-packages/graphite/wsgi.py",
        "/usr/lib/collectd/write_graphite.so")
TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
COUNT = 16

g = st.Graphite()
tap.ok(g.ready, "carbon-cache listens on 127.0.0.1:%d, graphite-web on %d"
       % (g.line, g.http), g.log()[-3000:])
if not g.ready:
    sys.exit(tap.done())

tmp = st.tmpdir("graphite-run")
sim = st.Sim(tmp, "home", COUNT, fast_clock=True)
cd = st.collectd({"home": sim}, """
<LoadPlugin write_graphite>
  FlushInterval 1
</LoadPlugin>
<Plugin write_graphite>
  <Node "carbon">
    Host "127.0.0.1"
    Port "{port}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates false
    LogSendErrors true
  </Node>
</Plugin>
""".format(port=g.line), tag="graphite")
# "This month" reads whisper's 1-minute archive, whose slots keep the last
# reading of each minute: only a run that crosses a minute shows an
# increase there, and only if energy was imported after the crossing.
# Start so that the minute turns in the middle of the run (COUNT
# telegrams, one a second): about COUNT/2 readings on each side.
sec = time.time() % 60
mid = 60 - COUNT // 2
if not mid - 3 <= sec <= mid + 3:
    time.sleep((mid - sec) % 60)
t_start = int(time.time())
st.run_meters(tap, cd, {"home": sim})
t_end = int(time.time()) + 1
sent = sim.clean()
want = st.expected_values(sent)
gas_want = st.captures(sent)
PREFIX = "collectd.%s.dsmr-home." % st.HOST


def metric(key):
    return PREFIX + "%s-%s" % key


def complete():
    """Every value of every telegram, every gas capture and the final
    dsmr_telegrams-ok are in the whisper files (carbon-cache writes its
    cache out metric by metric, in no particular order, and later on a
    busy machine): what is then missing or extra is asserted below."""
    for key, vals in want.items():
        if len(g.fetch(metric(key), t_start - 5, t_end + 5)) < len(vals):
            return None
    if len(g.fetch(metric(("dsmr_volume", "gas")), gas_want[0][0] - 600,
                   t_end)) < len(gas_want):
        return None
    ok = g.fetch(PREFIX + "dsmr_telegrams-ok", t_start - 5, t_end + 5)
    return (ok and ok[-1][1] >= len(sent)) or None


st.wait_until(complete, timeout=30, step=0.5)
cd.stop()

for key in sorted(want):
    pts = g.fetch(metric(key), t_start - 5, t_end + 5)
    tap.is_([v for _, v in pts], [float(x) for x in want[key]],
            "whisper %s: every telegram's value, exactly" % metric(key)[
                len(PREFIX):])
times = [t for t, _ in g.fetch(metric(("dsmr_energy", "import_t1")),
                               t_start - 5, t_end + 5)]
tap.ok(len(times) == len(sent) and all(a < b for a, b in zip(times, times[1:]))
       and t_start <= times[0] and times[-1] <= t_end,
       "whisper: energy times one per second, within the run",
       "run %d..%d, got %r" % (t_start, t_end, times))
gas = g.fetch(metric(("dsmr_volume", "gas")), gas_want[0][0] - 600, t_end)
tap.is_([(t, int(v)) for t, v in gas], gas_want,
        "whisper dsmr_volume-gas: one point per capture, at its capture "
        "time, in litres")
ok = g.fetch(PREFIX + "dsmr_telegrams-ok", t_start - 5, t_end + 5)
tap.ok(ok and ok[-1][1] == len(sent), "whisper dsmr_telegrams-ok: %d "
       "(health)" % len(sent), repr(ok[-3:]))

r = subprocess.run([st.SYS_PY, "/usr/bin/whisper-info",
                       g.wsp(metric(("dsmr_energy", "import_t1")))],
                      stdout=subprocess.PIPE, text=True)
tap.ok(re.search(r"aggregationMethod: last", r.stdout) and
       re.search(r"retention: 86400", r.stdout),
       "registers: aggregation 'last', 1 s slots for a day "
       "(contrib/graphite/*.conf)", r.stdout)
r = subprocess.run([st.SYS_PY, "/usr/bin/whisper-info",
                       g.wsp(metric(("power", "import")))],
                      stdout=subprocess.PIPE, text=True)
tap.ok(re.search(r"aggregationMethod: average", r.stdout),
       "power: aggregation 'average'", r.stdout)

# --------------------------------------------------------- doc/stores.md queries
now = datetime.datetime.now(TZ)
midnight = int(now.replace(hour=0, minute=0, second=0,
                           microsecond=0).timestamp())
month = int(now.replace(day=1, hour=0, minute=0, second=0,
                        microsecond=0).timestamp())
stored = {k: g.fetch(metric(k), t_start - 5, t_end + 5)
          for k in (("dsmr_energy", "import_t1"),
                    ("dsmr_energy", "import_t2"))}
stored[("dsmr_volume", "gas")] = gas


def readme_query(name):
    """target= and from= of the block after <!-- graphite:NAME -->."""
    block = st.doc_block("graphite", "text", name)
    if block is None:
        return None
    q = dict(line.split("=", 1) for line in block.splitlines())
    q["target"] = q["target"].replace("collectd.pi.", "collectd.%s." % st.HOST)
    q["from"] = q["from"].replace("20240601", now.strftime("%Y%m01"))
    return q


def increase(keys, since, slot=1):
    """last - first reading after `since`, summed over the series; with
    slot 60, of the last reading in each minute (the 1-minute archive)."""
    total = 0
    for k in keys:
        pts = [(t - t % slot, v) for t, v in stored[k] if t >= since]
        last = {}
        for t, v in pts:
            last[t] = v
        vals = [last[t] for t in sorted(last)]
        if vals:
            total += vals[-1] - vals[0]
    return total


energy = [("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2")]
# The month reads the 1-minute archive unless it is the month's first day
# (whisper reads the finest archive that reaches back to `from`).
month_slot = 1 if time.time() - (month - 1) <= 86400 else 60
for name, keys, since, slot, unit in (
        ("energy-today", energy, midnight, 1, "Wh"),
        ("energy-month", energy, month, month_slot, "Wh"),
        ("gas-today", [("dsmr_volume", "gas")], midnight, 1, "L")):
    q = readme_query(name)
    if not st.query_checkable(tap, q, "Graphite", name, since):
        continue
    exp = increase(keys, since, slot)
    try:
        res = g.render(q["target"], q["from"])
        vals = [v for s in res for v, _ in s["datapoints"] if v is not None]
        got = vals[-1] if vals else None
        err = repr(res)[:1500]
    except RuntimeError as e:
        got, err = None, str(e)
    tap.ok(got == exp and exp > 0, "Graphite %s: %r %s (want %r)"
           % (name, got, unit, exp), q["target"], "from=" + q["from"], err)
sys.exit(tap.done())
