#!/usr/bin/env python3
"""InfluxDB 1.x, both ways collectd gets there: the network plugin into
InfluxDB's [[collectd]] input (which must be given our dsmr.db in its
typesdb, or it drops our types), and write_influxdb_udp into its [[udp]]
input (line protocol, millisecond times). One simulated DSMR 5 meter; every
register, power and voltage of every telegram must come back exactly, with
strictly increasing times within the run, and gas as one point per capture
at its capture time. Then the queries doc/stores.md gives users
("energy imported today / this month", "gas today"), as written there, and
every query of the Grafana dashboard in contrib/grafana/."""
import datetime
import json
import os
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/bin/influxd", "/usr/lib/collectd/network.so",
        "/usr/lib/collectd/write_influxdb_udp.so")
TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
DASHBOARD = os.path.join(st.SRCDIR, "contrib", "grafana", "dsmr-influxdb.json")
COUNT = 16

db = st.InfluxDB()
tap.ok(db.ready, "influxd answers /ping on 127.0.0.1:%d" % db.http,
       db.proc.log()[-3000:])
if not db.ready:
    sys.exit(tap.done())

tmp = st.tmpdir("influx")
sim = st.Sim(tmp, "home", COUNT, fast_clock=True)
cd = st.collectd({"home": sim}, """
<LoadPlugin network>
  FlushInterval 1
</LoadPlugin>
<Plugin network>
  Server "127.0.0.1" "{collectd}"
</Plugin>
<LoadPlugin write_influxdb_udp>
  FlushInterval 1
</LoadPlugin>
<Plugin write_influxdb_udp>
  Server "127.0.0.1" "{udp}"
</Plugin>
# write_influxdb_udp writes every value of a plugin into one measurement
# (the plugin's name), DERIVE as integers and GAUGE as floats: InfluxDB
# keeps one type per field and drops the rest ("field type conflict").
# So the registers (DERIVE) go to measurement dsmr_counter, for
# write_influxdb_udp only; network gets them unchanged.
LoadPlugin match_regex
LoadPlugin target_set
PostCacheChain "PostCache"
<Chain "PostCache">
  <Rule "dsmr_counters_apart">
    <Match "regex">
      Plugin "^dsmr$"
      Type "^(dsmr_(energy|reactive_energy|volume|heat|telegrams|reconnects)|total_bytes)$"
    </Match>
    <Target "write">
      Plugin "network"
    </Target>
    <Target "set">
      Plugin "dsmr_counter"
    </Target>
    <Target "write">
      Plugin "write_influxdb_udp"
    </Target>
    Target "stop"
  </Rule>
  Target "write"
</Chain>
""".format(collectd=db.collectd_port, udp=db.udp_port), tag="influx")
t_start = time.time()
st.run_meters(tap, cd, {"home": sim})
t_end = time.time() + 1
sent = sim.clean()
want = st.expected_values(sent)
gas_want = st.captures(sent)
tap.ok(len(gas_want) >= 3, "the gas capture moved %d times"
       % (len(gas_want) - 1))


def series(dbname, measurement, extra=""):
    """{(type, type_instance): [(time ms, value)]} of our meter, from one
    or more measurements ("a", "b")."""
    q = ('SELECT "value" FROM %s WHERE "host"=\'%s\' AND '
         '"instance"=\'home\' %s GROUP BY "type", "type_instance"'
         % (measurement, st.HOST, extra))
    out = {}
    for r in db.rows(q, dbname):
        out.setdefault((r.get("type"), r.get("type_instance", "")), []).append(
            (r["time"], r["value"]))
    return out


def wait_complete(dbname, measurement):
    """Wait until every value of every telegram, every gas capture and the
    final dsmr_telegrams-ok are there (the inputs write in batches, once a
    second; on a busy machine later): what is then missing or extra is
    asserted below."""
    def have():
        try:
            got = series(dbname, measurement)
        except RuntimeError:  # the database is created with the first batch
            return None
        ok = got.get(("dsmr_telegrams", "ok"), [])
        return (all(len(got.get(k, [])) >= len(v) for k, v in want.items())
                and len(got.get(("dsmr_volume", "gas"), [])) >= len(gas_want)
                and ok and ok[-1][1] >= len(sent)) or None
    st.wait_until(have, timeout=20, step=0.3)
    return series(dbname, measurement)


for dbname, measurement, how in (
        ("collectd", '"dsmr_value"', "network plugin -> [[collectd]] input"),
        ("udp", '"dsmr", "dsmr_counter"', "write_influxdb_udp -> [[udp]] "
         "input")):
    got = wait_complete(dbname, measurement)
    tap.ok(got, "%s: our meter's series are in database %s, measurement %s"
           % (how, dbname, measurement), sorted(got)[:10], db.proc.log()[-2000:])
    for key in sorted(want):
        pts = got.get(key, [])
        vals = [v for _, v in pts]
        tap.is_(vals, want[key], "%s: %s-%s: every telegram's value, exactly"
                % (how, key[0], key[1]))
    times = [t for t, _ in got.get(("dsmr_energy", "import_t1"), [])]
    tap.ok(len(times) == len(sent) and
           all(a < b for a, b in zip(times, times[1:])) and
           times and t_start * 1000 <= times[0] and times[-1] <= t_end * 1000,
           "%s: energy times strictly increase, within the run" % how,
           "run %.3f..%.3f, got %r" % (t_start, t_end, times))
    gas = [(t // 1000, int(v)) for t, v in got.get(("dsmr_volume", "gas"), [])]
    tap.is_(gas, gas_want, "%s: gas, one point per capture, at its capture "
            "time, in litres" % how)
    tap.ok(all(t % 1000 == 0 for t, _ in got.get(("dsmr_volume", "gas"), [])),
           "%s: gas times are whole seconds (the meter's capture time)" % how)
    ok = got.get(("dsmr_telegrams", "ok"), [])
    tap.ok(ok and ok[-1][1] == len(sent), "%s: dsmr_telegrams-ok = %d "
           "(health)" % (how, len(sent)), repr(ok[-3:]))
    if dbname == "collectd":
        stored = got
    else:
        fields = {r["fieldKey"]: r["fieldType"] for r in
                  db.rows('SHOW FIELD KEYS FROM "dsmr_counter"', dbname)}
        tap.is_(fields, {"value": "integer"}, "%s: registers in measurement "
                "dsmr_counter, as integers" % how)
        fields = {r["fieldKey"]: r["fieldType"] for r in
                  db.rows('SHOW FIELD KEYS FROM "dsmr"', dbname)}
        tap.is_(fields, {"value": "float"}, "%s: the rest in measurement "
                "dsmr, as floats" % how)
        tap.ok("field type conflict" not in db.proc.log(),
               "%s: no field type conflict in InfluxDB's log" % how)
cd.stop()

# ---------------------------------------------------------------- doc/stores.md
# The queries of doc/stores.md, with today's date filled in as a
# user would. Expected: computed from the points checked above.
now = datetime.datetime.now(TZ)
today = now.strftime("%Y-%m-%d")
month = now.strftime("%Y-%m-01")
midnight_ms = int(datetime.datetime(now.year, now.month, now.day,
                                    tzinfo=TZ).timestamp() * 1000)
month_ms = int(datetime.datetime(now.year, now.month, 1,
                                 tzinfo=TZ).timestamp() * 1000)


def spread(key, since_ms):
    vals = [v for t, v in stored.get(key, []) if t >= since_ms]
    return max(vals) - min(vals) if vals else None


for name, since, since_ms, keys, what in (
        ("energy-today", today, midnight_ms,
         [("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2")],
         "energy imported today"),
        ("energy-month", month, month_ms,
         [("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2")],
         "energy imported this month"),
        ("gas-today", today, midnight_ms, [("dsmr_volume", "gas")],
         "gas used today")):
    q = st.doc_block("influxql", "sql", name)
    if not st.query_checkable(tap, q, "InfluxQL", name, since_ms / 1000, what):
        continue
    q = q.replace("2024-06-15", since).replace("2024-06-01", since)
    parts = [spread(k, since_ms) for k in keys]
    exp = sum(p for p in parts if p is not None)
    rows = db.rows(q)
    got = rows[-1].get("Wh", rows[-1].get("L")) if rows else None
    tap.ok(got == exp and exp > 0, "InfluxQL %s: %r (the spread of what "
           "the meter sent since %s)" % (what, got, since), q,
           "want %r, rows %r" % (exp, rows))

# ------------------------------------------------------------- Grafana
# Every InfluxQL query of the dashboard, with Grafana's macros as Grafana
# fills them in for "last 6 hours", must return data.
with open(DASHBOARD) as f:
    dash = json.load(f)
tap.is_(dash.get("uid"), "dsmr-influxdb", "dashboard JSON parses, uid "
        "dsmr-influxdb")
panels = [p for p in dash.get("panels", []) if p.get("type") != "row"]
titles = sorted(p.get("title") for p in panels)
tap.diag("panels: %s" % ", ".join(titles))
for want_title in ("Power", "Power per phase", "Voltage", "Energy per day",
                   "Gas per day", "Telegrams"):
    tap.ok(any(t == want_title for t in titles),
           "dashboard has a panel %r" % want_title)
variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
tap.ok("host" in variables and "meter" in variables,
       "dashboard has the $host and $meter variables")


def fill(q, interval="10s"):
    return (q.replace("$timeFilter", "time >= now() - 6h")
            .replace("$__interval", interval)
            .replace("$host", st.HOST).replace("$meter", "home"))


for v in variables.values():
    if v.get("type") == "query":
        q = v.get("query") if isinstance(v.get("query"), str) else \
            v["query"].get("query")
        vals = [r for r in db.rows(fill(q))]
        tap.ok(vals, "variable $%s: its query returns values" % v["name"],
               fill(q))
for p in panels:
    for tgt in p.get("targets", []):
        tap.ok(tgt.get("rawQuery"), "panel %r: raw InfluxQL" % p["title"])
        q = fill(tgt.get("query", ""))
        try:
            rows = db.rows(q)
            err = None
        except RuntimeError as e:
            rows, err = [], str(e)
        nonnull = [r for r in rows
                   if any(v is not None for k, v in r.items() if k != "time"
                          and not isinstance(v, str))]
        tap.ok(nonnull, "panel %r, query %s: returns data (%d points)"
               % (p["title"], tgt.get("refId"), len(nonnull)), q, err or "")
sys.exit(tap.done())
