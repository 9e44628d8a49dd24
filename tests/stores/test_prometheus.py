#!/usr/bin/env python3
"""Prometheus: collectd's write_prometheus (which needs libmicrohttpd12).
Its /metrics, scraped while a simulated meter sends, must show every
series under its documented name and labels, with values that are exactly
those of telegrams the meter sent, at the times collectd gave them (csv in
the same collectd is the reference), and at the end the last telegram's
values; gas at its capture time. A Prometheus server scrapes the same
endpoint every second; the PromQL queries of doc/stores.md
("energy imported today / this month", "gas today") must give what the
samples it stored say."""
import datetime
import os
import re
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/lib/collectd/write_prometheus.so")
HAVE_PROMETHEUS = os.path.exists("/usr/bin/prometheus")
TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
COUNT = 16

port = st.free_port()
tmp = st.tmpdir("prom-run")
sim = st.Sim(tmp, "home", COUNT, fast_clock=True)
cd = st.collectd({"home": sim}, """
LoadPlugin write_prometheus
<Plugin write_prometheus>
  Host "127.0.0.1"
  Port "{port}"
</Plugin>
""".format(port=port), tag="prom", rrd=True)
prom = st.Prometheus(port) if HAVE_PROMETHEUS else None
if prom is not None:
    tap.ok(prom.ready, "prometheus ready on 127.0.0.1:%d" % prom.port,
           prom.proc.log()[-2000:])

URL = "http://127.0.0.1:%d/metrics" % port
E = "collectd_dsmr_dsmr_energy_total"


def key(name, **labels):
    return (name, frozenset(dict(labels, instance=st.HOST, dsmr="home").items()))


# Scrape while the meter sends: every value seen must be one that was sent.
cd.start()
seen = {}  # metric key -> [(value, ms)]
deadline = time.monotonic() + COUNT + 20
while time.monotonic() < deadline and sim.proc.poll() is None:
    if not cd.running():
        tap.ok(False, "collectd runs", cd.log()[-2000:])
        sys.exit(tap.done())
    status, body = st.http_get(URL, 2)
    if status == 200:
        for k, v in st.parse_metrics(body).items():
            if not seen.setdefault(k, []) or seen[k][-1] != v:
                seen[k].append(v)
    time.sleep(0.25)
rc = sim.wait(5)
tap.ok(rc == 0, "simulator sent its telegrams")


def counted_all():
    """The read callback's report that counts every telegram ok has reached
    write_prometheus: the values of every telegram were dispatched before
    that report, and collectd's write queue keeps their order."""
    status, body = st.http_get(URL, 2)
    ok = st.parse_metrics(body).get(
        key("collectd_dsmr_dsmr_telegrams_total", type="ok")) \
        if status == 200 else None
    return ok is not None and ok[0] >= COUNT


st.wait_until(counted_all, timeout=20, step=0.25)
status, body = st.http_get(URL)
tap.is_(status, 200, "write_prometheus answers on 127.0.0.1:%d/metrics" % port)
final = st.parse_metrics(body)
sent = sim.clean()
tap.is_(len(sent), COUNT, "all %d telegrams delivered" % COUNT)
want = st.expected_values(sent)
gas_want = st.captures(sent)

NAMES = {"dsmr_energy": E, "power": "collectd_dsmr_power",
         "voltage": "collectd_dsmr_voltage"}
for (typ, ti), vals in sorted(want.items()):
    k = key(NAMES[typ], type=ti)
    got = final.get(k)
    csv = cd.csv_rows("home", "%s-%s" % (typ, ti))
    tap.ok(got is not None and got[0] == vals[-1] and csv and
           got[1] == int(round(csv[-1][0] * 1000)),
           "%s{dsmr=\"home\",type=\"%s\",instance=\"%s\"}: the last "
           "telegram's value %r at its time" % (NAMES[typ], ti, st.HOST,
                                                vals[-1]),
           "got %r, csv last %r" % (got, csv[-1:]))
    # Everything scraped during the run: values of telegrams, with the
    # times collectd gave them.
    pairs = {(float(v), int(round(t * 1000))) for t, v in csv}
    odd = [p for p in seen.get(k, []) if p not in pairs]
    tap.ok(len(seen.get(k, [])) >= 3 and not odd,
           "%s %s: %d scraped values, each a telegram's (value, time)"
           % (typ, ti, len(seen.get(k, []))), "not sent: %r" % odd[:5])
tap.ok(all(k[0].endswith("_total") for k in final
           if k[0].startswith("collectd_dsmr_dsmr_energy")),
       "DERIVE registers are counters: _total")
# Gas: at its capture time, in litres.
g = final.get(key("collectd_dsmr_dsmr_volume_total", type="gas"))
tap.is_(g, (float(gas_want[-1][1]), gas_want[-1][0] * 1000),
        "collectd_dsmr_dsmr_volume_total{type=\"gas\"}: the last capture, "
        "in litres, at its capture time")
gs = seen.get(key("collectd_dsmr_dsmr_volume_total", type="gas"), [])
tap.ok(set(gs) <= {(float(v), t * 1000) for t, v in gas_want} and
       len(gs) >= 2, "gas scraped during the run: captures only (%d)"
       % len(gs), repr(gs))
ok = final.get(key("collectd_dsmr_dsmr_telegrams_total", type="ok"))
tap.ok(ok and ok[0] == COUNT, "collectd_dsmr_dsmr_telegrams_total"
       "{type=\"ok\"} = %d (health)" % COUNT, repr(ok))
helps = re.findall(r"^# TYPE (collectd_dsmr_\w+) (\w+)$", body, re.M)
tap.ok(("collectd_dsmr_dsmr_energy_total", "counter") in helps and
       ("collectd_dsmr_power", "gauge") in helps,
       "TYPE lines: energy a counter, power a gauge")

# ------------------------------------------------------------------ PromQL
if prom is None:
    tap.diag("prometheus not installed: PromQL queries not run")
    sys.exit(tap.done())
cd.stop()
now = time.time()
local = datetime.datetime.fromtimestamp(now, TZ)
midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
month = local.replace(day=1, hour=0, minute=0, second=0,
                      microsecond=0).timestamp()


def stored(metric, ti, since):
    """The samples Prometheus keeps of a series since `since`."""
    res = prom.query('%s{instance="%s",dsmr="home",type="%s"}[%ds]' % (
        metric, st.HOST, ti, int(now - since) + 1), at=now)
    return res[0][1] if res else []


for name, metric, tis, since in (
        ("energy-today", E, ("import_t1", "import_t2"), midnight),
        ("energy-month", E, ("import_t1", "import_t2"), month),
        ("gas-today", "collectd_dsmr_dsmr_volume_total", ("gas",), midnight)):
    q = st.doc_block("promql", "promql", name)
    if not st.query_checkable(tap, q, "PromQL", name, since):
        continue
    exp = 0.0
    bad = []
    for ti in tis:
        samples = stored(metric, ti, since)
        if samples:
            exp += samples[-1][1] - samples[0][1]
        csv = cd.csv_rows("home", ("dsmr_volume-" if ti == "gas" else
                                   "dsmr_energy-") + ti)
        pairs = {(round(t, 3), v) for t, v in csv}
        bad += [s for s in samples if (round(s[0], 3), s[1]) not in pairs]
    tap.ok(not bad, "%s: every sample Prometheus stored is a stored value "
           "at its time" % name, repr(bad[:5]))
    q_run = (q.replace("${__range_s}", "%d" % int(now - since))
             .replace('"pi"', '"%s"' % st.HOST))
    res = prom.query(q_run, at=now)
    got = res[0][1] if res else None
    tap.ok(got == exp and exp > 0, "PromQL %s: %r (want %r)" % (name, got, exp),
           q_run)
sys.exit(tap.done())
