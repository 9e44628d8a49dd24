#!/usr/bin/env python3
"""SQL: collectd's postgresql plugin with a <Writer> into a real PostgreSQL
the test starts (initdb, the server on a loopback port, a password login),
with the schema and writer function of contrib/postgresql/dsmr.sql. Every
register, power and voltage of every telegram must come back as a row,
exactly, at the time collectd gave it (csv in the same collectd is the
reference), gas once per capture at its capture time; then the SQL queries
of doc/stores.md ("energy imported today / this month", "gas
today") and the dsmr_latest view."""
import datetime
import os
import re
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/lib/collectd/postgresql.so")
if st.pg_bindir() is None:
    tap.skip_all("PostgreSQL not installed (tools/install-store-deps.sh)")
SCHEMA = os.path.join(st.SRCDIR, "contrib", "postgresql", "dsmr.sql")
TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
COUNT = 16

pg = st.PostgreSQL()
tap.ok(pg.ready, "PostgreSQL (initdb, postgres%s) on 127.0.0.1:%d" % (
    " as user postgres" if pg.user else "", pg.port),
    pg.initdb[-2000:], pg.proc.log()[-2000:] if hasattr(pg, "proc") else "")
if not pg.ready:
    sys.exit(tap.done())
ok, out = pg.setup(SCHEMA)
tap.ok(ok, "role collectd, database dsmr, contrib/postgresql/dsmr.sql "
       "loaded as collectd", out)

tmp = st.tmpdir("pg-run")
sim = st.Sim(tmp, "home", COUNT, fast_clock=True)
cd = st.collectd({"home": sim}, """
LoadPlugin postgresql
<Plugin postgresql>
  <Writer "dsmr">
    Statement "SELECT dsmr_insert($1, $2, $3, $4, $5, $6, $7, $8, $9);"
    StoreRates false
  </Writer>
  <Database "dsmr">
    Host "127.0.0.1"
    Port "{port}"
    User "collectd"
    Password "{pw}"
    Writer "dsmr"
    CommitInterval 1
  </Database>
</Plugin>
""".format(port=pg.port, pw=pg.PASSWORD), tag="pg", rrd=True)
st.run_meters(tap, cd, {"home": sim})
sent = sim.clean()
want = st.expected_values(sent)
gas_want = st.captures(sent)


def rows(sql):
    rc, out = pg.psql(sql, user="collectd")
    if rc:
        raise RuntimeError(out)
    return [line.split("|") for line in out.splitlines() if line]


def complete():
    """Every value of every telegram and every gas capture has its row, and
    so has the health report that counts the last telegram (it comes at the
    plugin's next read, after the telegram's values): collectd's write
    queue drops what is left in it at shutdown, and on a busy machine the
    writer lags. What is then missing or extra is asserted below."""
    n = {(typ, ti): int(c) for typ, ti, c in rows(
        "SELECT type, type_instance, count(*) FROM dsmr_values "
        "WHERE host = '%s' AND meter = 'home' GROUP BY type, type_instance"
        % st.HOST)}
    last_ok = rows(
        "SELECT max(value) FROM dsmr_values WHERE host = '%s' AND "
        "meter = 'home' AND type = 'dsmr_telegrams' AND type_instance = 'ok'"
        % st.HOST)
    return (all(n.get(k, 0) >= len(v) for k, v in want.items()) and
            n.get(("dsmr_volume", "gas"), 0) >= len(gas_want) and
            last_ok and last_ok[0][0] and
            float(last_ok[0][0]) >= len(sent)) or None


st.wait_until(complete, timeout=20, step=0.2)
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd (with the postgresql writer) exits 0")
log = cd.log()
tap.ok("postgresql" in log and not re.search(r"\[error\].*postgresql", log),
       "no postgresql errors in collectd's log",
       *[l for l in log.splitlines() if "postgresql" in l][:10])

got = {}
for t, typ, ti, v in rows(
        "SELECT extract(epoch FROM time), type, type_instance, value "
        "FROM dsmr_values WHERE host = '%s' AND meter = 'home' "
        "ORDER BY time" % st.HOST):
    got.setdefault((typ, ti), []).append((float(t), float(v)))
for key in sorted(want):
    tap.is_([v for _, v in got.get(key, [])], [float(x) for x in want[key]],
            "dsmr_values %s-%s: a row per telegram, the exact value" % key)
csv = cd.csv_rows("home", "dsmr_energy-import_t1")
db_t = [t for t, _ in got.get(("dsmr_energy", "import_t1"), [])]
tap.ok(len(csv) == len(db_t) and
       all(abs(a - b) < 0.0015 for (a, _), b in zip(csv, db_t)),
       "the rows' times are collectd's (as csv has them, to the ms)",
       "csv %r" % [t for t, _ in csv[:4]], "db  %r" % db_t[:4])
tap.is_([(int(t), int(v)) for t, v in got.get(("dsmr_volume", "gas"), [])],
        gas_want, "gas: one row per capture, at its capture time, in litres")
tap.ok(not [k for k in got if k[0] == "load"],
       "only the dsmr plugin's values are kept")
ok = got.get(("dsmr_telegrams", "ok"), [])
tap.ok(ok and ok[-1][1] == len(sent), "dsmr_telegrams ok = %d (health)"
       % len(sent), repr(ok[-2:]))
latest = {(r[0], r[1]): float(r[2]) for r in rows(
    "SELECT type, type_instance, value FROM dsmr_latest WHERE meter = 'home'")}
tap.is_(latest.get(("power", "import")), float(want[("power", "import")][-1]),
        "view dsmr_latest: the last power import")
tap.is_(latest.get(("dsmr_volume", "gas")), float(gas_want[-1][1]),
        "view dsmr_latest: the last gas reading")

# --------------------------------------------------------- doc/stores.md queries
now = datetime.datetime.now(TZ)
midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
month = now.replace(day=1, hour=0, minute=0, second=0,
                    microsecond=0).timestamp()


def spread(keys, since):
    total = 0.0
    for k in keys:
        vals = [v for t, v in got.get(k, []) if t >= since]
        if vals:
            total += max(vals) - min(vals)
    return total


energy = [("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2")]
for name, keys, since in (("energy-today", energy, midnight),
                          ("energy-month", energy, month),
                          ("gas-today", [("dsmr_volume", "gas")], midnight)):
    q = st.doc_block("sql", "sql", name)
    if not st.query_checkable(tap, q, "SQL", name, since):
        continue
    q = q.replace("'pi'", "'%s'" % st.HOST)
    try:
        res = rows(q)
        val = float(res[0][0]) if res and res[0][0] else None
        err = ""
    except RuntimeError as e:
        val, err = None, str(e)
    exp = spread(keys, since)
    tap.ok(val == exp and exp > 0, "SQL %s: %r (want %r)" % (name, val, exp),
           q, err)
sys.exit(tap.done())
