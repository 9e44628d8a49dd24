#!/usr/bin/env python3
"""RRD files, as collectd's rrdtool plugin writes them, and the PNG graphs
tools/dsmr-graphs.sh draws from them.

Two simulated DSMR 5 meters: "home" at the real pace (a telegram a second,
a sunny noon: the panels export 2-4 kW) and "fast", whose clock runs a
minute per telegram so that its gas meter reports every 5 telegrams. The
csv plugin, in the same collectd, tells the exact time each value got; the
simulator's manifest, the exact value. From those, what every RRD row must
hold follows from rrdtool's definition (storetest.rrd_model): `rrdtool
fetch` must show exactly that -- DERIVE registers (Wh, L) as rates, i.e.
average power (Wh/s x 3600 = W) and gas flow. Then the rrdtool queries of
doc/stores.md ("energy imported today / this month", "gas
today"), and the graphs: every PNG exists, has its series drawn in the
graph area (pixels of the series' colours, found by decoding the PNG) and
prints the right numbers in its legend (rrdtool graphv)."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/bin/rrdtool", "/usr/lib/collectd/rrdtool.so")
GRAPHS = os.path.join(st.SRCDIR, "tools", "dsmr-graphs.sh")
COUNT = 25

tmp = st.tmpdir("rrd")
home = st.Sim(tmp, "home", COUNT, seed=1,
              extra=["--start", "2024-06-15T10:00:00Z"])
fast = st.Sim(tmp, "fast", COUNT, fast_clock=True)
sims = {"home": home, "fast": fast}
cd = st.collectd(sims, "", tag="rrd", rrd=True)
st.run_meters(tap, cd, sims)
time.sleep(1.5)  # the last read interval: health values too
elapsed, rc = cd.stop()
tap.ok(rc == 0, "collectd stops cleanly")
t_now = time.time()


def csv_points(meter, ident, want):
    """The (rrd second, value) of each stored value, after checking that
    csv got exactly the values the meter sent."""
    rows = cd.csv_rows(meter, ident)
    tap.is_([v for _, v in rows], [float(v) for v in want],
            "%s: csv has every %s value sent (the times' source)"
            % (meter, ident))
    return [(st.rrd_seconds(t), v) for t, v in rows]


def check_rrd(meter, ident, points, derive, what):
    """rrdtool fetch of dsmr-<meter>/<ident>.rrd against the model; returns
    the model's rows."""
    path = cd.rrd(meter, ident)
    info = st.d.rrd_info(path)
    step = int(info.get("step", 0))
    hb = int(info.get("ds[value].minimal_heartbeat", 0))
    tap.ok(step > 0 and hb == 2 * step and
           info.get("ds[value].type") == ("DERIVE" if derive else "GAUGE"),
           "%s/%s.rrd: %s, step %d s, heartbeat %d s" % (
               meter, ident, info.get("ds[value].type"), step, hb))
    model = st.rrd_model(points, step, hb, derive)
    fetched = dict(st.d.rrd_fetch(path, min(model) - step, max(model)))
    bad = []
    for end, want in sorted(model.items()):
        got = fetched.get(end, "missing")
        if want is None:
            if got is not None:
                bad.append((end, got, None))
        elif got is None or got == "missing" or \
                abs(got - want) > 1e-9 * max(1.0, abs(want)):
            bad.append((end, got, want))
    known = [v for v in model.values() if v is not None]
    tap.ok(len(known) >= 2 and not bad, "%s/%s: rrdtool fetch = %s, row by "
           "row (%d rows, %d known)" % (meter, ident, what, len(model),
                                        len(known)),
           "row end, got, want: %r" % bad[:6])
    return model, step


# ---------------------------------------------------------------- values
sent = {m: s.clean() for m, s in sims.items()}
exp_home = st.expected_values(sent["home"])
exp_fast = st.expected_values(sent["fast"])

# home: energy exported (solar) and power exported, 10 s rows.
e_pts = csv_points("home", "dsmr_energy-export_t1",
                   exp_home[("dsmr_energy", "export_t1")])
p_pts = csv_points("home", "power-export", exp_home[("power", "export")])
e_rows, step = check_rrd("home", "dsmr_energy-export_t1", e_pts, True,
                         "Wh/s between telegrams")
p_rows, _ = check_rrd("home", "power-export", p_pts, False,
                      "the average of the powers sent")
# The register's rate x 3600 is the average power: per telegram the
# simulator's registers keep to power x time within 1 Wh, so over the rows
# both know, within 1 Wh / their length.
both = [e for e in e_rows if e_rows[e] is not None and p_rows.get(e) is not None]
if both:
    e_w = sum(e_rows[e] for e in both) / len(both) * 3600
    p_w = sum(p_rows[e] for e in both) / len(both)
    tol = 3600.0 / (len(both) * step) + 1
    tap.ok(p_w > 1000 and abs(e_w - p_w) <= tol,
           "home: energy rate x 3600 = %.0f W, power-export average %.0f W "
           "(within %.0f W)" % (e_w, p_w, tol))
else:
    tap.ok(False, "home: rows with both energy and power")

# fast: energy imported (both tariffs), voltage, gas.
fi = {t: csv_points("fast", "dsmr_energy-import_" + t,
                    exp_fast[("dsmr_energy", "import_" + t)])
      for t in ("t1", "t2")}
fi_rows = {t: check_rrd("fast", "dsmr_energy-import_" + t, fi[t], True,
                        "Wh/s between telegrams")[0] for t in fi}
v_pts = csv_points("fast", "voltage-l2", exp_fast[("voltage", "l2")])
check_rrd("fast", "voltage-l2", v_pts, False, "the average voltage")
gas = st.captures(sent["fast"])
tap.ok(len(gas) >= 4, "fast: %d gas captures, 5 minutes apart" % len(gas))
tap.is_([(int(t), v) for t, v in cd.csv_rows("fast", "dsmr_volume-gas")],
        gas, "fast: csv has every gas reading at its capture time")
g_rows, g_step = check_rrd("fast", "dsmr_volume-gas", gas, True,
                           "L/s between readings (gas flow)")
tap.is_(g_step, 300, "gas RRD: 300 s rows (the DSMR 5 gas period)")
flows = [v * 3600 / 1000 for v in g_rows.values() if v is not None]
tap.ok(flows and all(0 < f < 10 for f in flows),
       "gas flow in m3/h: %s" % ", ".join("%.3f" % f for f in flows))

# ---------------------------------------------------------- doc/stores.md queries
# To see the answers to the last row, "today" starts shortly before the
# data here: a zone whose midnight was 5..65 minutes ago (see
# storetest.near_midnight_zone). The same queries then run in
# Europe/Amsterdam, where they may read coarser rows and lag (never exceed).
TZ_NEAR, midnight_near = st.near_midnight_zone(t_now)
tap.diag("zone %s: midnight %s UTC" % (TZ_NEAR, time.strftime(
    "%H:%M", time.gmtime(midnight_near))))


def readme_sh(name):
    with open(os.path.join(st.SRCDIR, "doc", "stores.md")) as f:
        text = f.read()
    m = re.search(r"<!-- rrdtool:%s -->\s*```sh\n(.*?)```" % name, text, re.S)
    return m.group(1) if m else None


def run_readme(name, meter, tz):
    script = readme_sh(name)
    if script is None:
        return None, "no <!-- rrdtool:%s --> block in doc/stores.md" % name
    env = dict(os.environ, TZ=tz,
               D=os.path.join(cd.data, st.HOST, "dsmr-" + meter))
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    out = r.stdout.decode()
    m = re.findall(r"^(-?nan|[0-9.]+) (kWh|m3)", out, re.M)
    if r.returncode or not m:
        return None, script + out
    return (float("nan") if "nan" in m[-1][0] else float(m[-1][0])), out


def since(rows_list, t0):
    """The sum of rate x row length over the rows after t0 (rrdtool's VDEF
    TOTAL: unknown rows count as nothing)."""
    total = 0.0
    for rows in rows_list:
        st_ = sorted(rows)
        length = st_[1] - st_[0] if len(st_) > 1 else 0
        total += sum(v * length for e, v in rows.items()
                     if v is not None and e > t0)
    return total


# rrdtool prints these with %.3lf: within half a unit of the last digit,
# that half included. A total of exactly x.5 Wh is common (a 2 s update
# interval split by a row boundary), and rrdtool's sum and ours may then
# differ in the last bit of the double and round to different sides.
HALF = 0.0005 + 1e-9
exp_today = since(list(fi_rows.values()), midnight_near) / 1000
got, out = run_readme("energy-today", "fast", TZ_NEAR)
tap.ok(got is not None and exp_today > 0 and abs(got - exp_today) <= HALF,
       "rrdtool 'energy imported today': %r kWh, want %.3f (zone %s)" %
       (got, exp_today, TZ_NEAR), out)
got, out = run_readme("energy-today", "fast", "Europe/Amsterdam")
got = 0.0 if got != got else got  # nan: no complete coarse row yet
tap.ok(got is not None and -HALF <= got <= exp_today + HALF,
       "rrdtool 'energy imported today' in Europe/Amsterdam: %r kWh "
       "(<= %.3f; coarser rows may lag)" % (got, exp_today), out)
got, out = run_readme("energy-month", "fast", "Europe/Amsterdam")
got = 0.0 if got != got else got
tap.ok(got is not None and -HALF <= got <= exp_today + HALF,
       "rrdtool 'energy imported this month': runs, %r kWh (<= %.3f; "
       "its rows are 37 minutes)" % (got, exp_today), out)
# Gas carries the meter's capture times (20-odd minutes back, see
# storetest.Sim): its "today" starts at the middle capture, so that the
# query has rows on both sides of midnight to tell apart.
TZ_GAS, midnight_gas = st.zone_with_midnight(gas[len(gas) // 2][0])
for tz, t0 in ((TZ_GAS, midnight_gas), ("Europe/Amsterdam", None)):
    if t0 is None:
        import zoneinfo
        import datetime
        now = datetime.datetime.fromtimestamp(t_now,
                                              zoneinfo.ZoneInfo(tz))
        t0 = int(now.replace(hour=0, minute=0, second=0,
                             microsecond=0).timestamp())
    exp = since([g_rows], t0) / 1000
    got, out = run_readme("gas-today", "fast", tz)
    tap.ok(got is not None and abs(got - exp) <= HALF and
           (exp > 0 or tz != TZ_GAS),
           "rrdtool 'gas today': %r m3, want %.3f (zone %s)" % (got, exp, tz),
           out)

# ------------------------------------------------------------------ graphs
# dsmr-graphs.sh, with `rrdtool graph` turned into `rrdtool graphv` (a
# wrapper first in PATH) to learn where the graph area is and what the
# legend says.
wrap = os.path.join(tmp, "bin")
os.mkdir(wrap)
real = subprocess.run(["sh", "-c", "command -v rrdtool"],
                      stdout=subprocess.PIPE).stdout.decode().strip()
with open(os.path.join(wrap, "rrdtool"), "w") as f:
    f.write('#!/bin/sh\nif [ "$1" = graph ]; then shift; out=$1\n'
            '  exec %s graphv "$@" >"$out.info"\nfi\nexec %s "$@"\n'
            % (real, real))
os.chmod(os.path.join(wrap, "rrdtool"), 0o755)
PNGS = ["power.png", "voltage.png", "energy.png", "gas.png", "health.png"]
graphs = {}
for meter in ("home", "fast"):
    out = os.path.join(tmp, "graphs-" + meter)
    t0 = time.monotonic()
    r = subprocess.run(["bash", GRAPHS, os.path.join(cd.data, st.HOST,
                                                     "dsmr-" + meter), out],
                       env=dict(os.environ, PATH=wrap + ":" + os.environ["PATH"],
                                TZ=TZ_NEAR),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tap.ok(r.returncode == 0, "dsmr-graphs.sh %s: exit 0 (%.1f s)"
           % (meter, time.monotonic() - t0), r.stdout.decode()[-2000:])
    for png in PNGS:
        path = os.path.join(out, png)
        ok = os.path.isfile(path) and os.path.isfile(path + ".info")
        tap.ok(ok, "%s: %s drawn" % (meter, png))
        if ok:
            with open(path + ".info") as f:
                info = st.graph_info(f.read())
            graphs[(meter, png)] = (info, st.canvas_colors(path, info))


def series(meter, png, rgb, alpha, what, least=5):
    if (meter, png) not in graphs:
        return tap.ok(False, "%s %s: %s drawn" % (meter, png, what))
    n = st.color_pixels(graphs[(meter, png)][1], rgb, alpha)
    tap.ok(n >= least, "%s %s: %s drawn in the graph area (%d pixels)"
           % (meter, png, what, n))


def area(meter, png, rgb, what, rows, step):
    """An AREA (alpha 0x60) of the model's rows: its pixels, against the
    pixels those rows span at the graph's scale (graphv: seconds and
    values per pixel). 25 s of data are two or three 10 s rows, a few
    pixels wide, as high as their values, and the phase lines are drawn
    over them: a fixed count passed or failed with the run's values and
    how its rows fell (measured: 0.44 to 1.6 of the span); a quarter of
    the span is what must show."""
    if (meter, png) not in graphs:
        return tap.ok(False, "%s %s: %s drawn" % (meter, png, what))
    info, colors = graphs[(meter, png)]
    s_px = (info["graph_end"] - info["graph_start"]) / info["graph_width"]
    v_px = (info["value_max"] - info["value_min"]) / info["graph_height"]
    # rrdtool leaves out the newest pixel, which is still filling
    span = sum(step / s_px * abs(v) / v_px for end, v in rows.items()
               if v is not None and end - step >= info["graph_start"] and
               end <= info["graph_end"] - s_px)
    n = st.color_pixels(colors, rgb, 0x60 / 255)
    tap.ok(span >= 40 and n >= span / 4, "%s %s: %s drawn in the graph area "
           "(%d pixels; its rows span %.0f)" % (meter, png, what, n, span))


def legend(meter, png, pattern):
    info = graphs.get((meter, png), ({}, {}))[0]
    texts = [v for k, v in info.items() if k.startswith("legend[")]
    for t in texts:
        m = re.search(pattern, t)
        if m:
            return m.group(1)
    return None


def last_row(rows):
    return [v for _, v in sorted(rows.items()) if v is not None][-1]


def model_of(meter, ident, want, derive=False):
    """The model rows of an identifier (values checked in csv first)."""
    path = cd.rrd(meter, ident)
    info = st.d.rrd_info(path)
    step = int(info.get("step", 10))
    return st.rrd_model(csv_points(meter, ident, want), step, 2 * step, derive)


def legend_has(meter, png, text):
    texts = [v for k, v in graphs.get((meter, png), ({}, {}))[0].items()
             if k.startswith("legend[")]
    return tap.ok(text in texts, "%s %s: legend %r" % (meter, png, text),
                  "legend: %r" % texts)


def legend_near(meter, png, pattern, want, unit):
    """A legend figure printed with 3 decimals (one of those `pattern`
    matches), against the model's value, not its %.3f text: see HALF."""
    texts = [v for k, v in graphs.get((meter, png), ({}, {}))[0].items()
             if k.startswith("legend[")]
    got = [float(m.group(1)) for m in (re.search(pattern, t) for t in texts)
           if m]
    return tap.ok(any(abs(g - want) <= HALF for g in got),
                  "%s %s: legend %s %s, want %.4f" % (
                      meter, png, " or ".join("%.3f" % g for g in got), unit,
                      want), "legend: %r" % texts)


# The lines of 25 s of data in a one-hour graph are a few pixels wide:
# what counts there is that they are drawn at all; the numbers the legend
# prints (rrdtool's LAST: the newest row) are checked against the model.
area("home", "power.png", "2ca02c", "export (area)", p_rows,
     int(st.d.rrd_info(cd.rrd("home", "power-export")).get("step", 10)))
area("fast", "power.png", "d62728", "import (area)",
     model_of("fast", "power-import", exp_fast[("power", "import")]),
     int(st.d.rrd_info(cd.rrd("fast", "power-import")).get("step", 10)))
series("home", "power.png", "1f77b4", 1, "L1 (line)", 1)
legend_has("home", "power.png", "latest 0 W")
legend_has("home", "power.png", "latest %.0f W" % last_row(p_rows))
for ident, label in (("power-export_l1", "export"),
                     ("power-import_l2", "import")):
    rows = model_of("home", ident, exp_home[tuple(ident.split("-"))])
    legend_has("home", "power.png", "%s %.0f W" % (label, last_row(rows)))
# Three voltages within a volt of each other: one line may hide another;
# together they must be there, and each phase's number in the legend.
if ("fast", "voltage.png") in graphs:
    n = sum(st.color_pixels(graphs[("fast", "voltage.png")][1], c, 1)
            for c in ("1f77b4", "ff7f0e", "9467bd"))
    tap.ok(n >= 5, "fast voltage.png: phase lines drawn (%d pixels)" % n)
for i in range(3):
    rows = model_of("fast", "voltage-l%d" % (i + 1),
                    exp_fast[("voltage", "l%d" % (i + 1))])
    legend_has("fast", "voltage.png", "%.1f V" % last_row(rows))
series("fast", "energy.png", "d62728", 0x80 / 255, "imported today (area)",
       200)
series("home", "energy.png", "2ca02c", 1, "exported today (line)", 20)
legend_near("fast", "energy.png", r"^today ([\d.]+) kWh$", exp_today, "kWh")
exp_export = since([e_rows], midnight_near) / 1000
tap.ok(exp_export > 0.005, "home: %.3f kWh exported since the data began"
       % exp_export)
legend_near("home", "energy.png", r"^today ([\d.]+) kWh$", exp_export, "kWh")
series("fast", "gas.png", "8c564b", 1, "gas flow (area)", 20)
legend_near("fast", "gas.png", r"^used today ([\d.]+) m3$",
            since([g_rows], midnight_near) / 1000, "m3")
series("fast", "health.png", "2ca02c", 1, "ok telegrams (line)", 3)
age = legend("fast", "health.png", r"age of the last valid telegram (\d+) s")
tap.ok(age is not None and int(age) <= 3, "fast health.png: age of the "
       "last valid telegram %s s" % age)
# A telegram a second: about 60 a minute. The file's rows are 1 s (the
# read interval) and the graph averages them to its own step (some 10 s
# a pixel) and then over the graph, so the legend lies between the lowest
# and the highest of the 1 s rows in the graph's span (fetched from the
# file), and near 60/min: 45..75, as a row is the ok counter's rate between
# two reports and the graph's last rows hold the reports after the last
# telegram (0/min) beside 60/min ones (a legend of 57.9/min was seen when
# the checks used a model of 10 s rows from the csv reports instead).
ginfo = graphs.get(("fast", "health.png"), ({}, {}))[0]
g0, g1 = ginfo.get("graph_start", 0), ginfo.get("graph_end", 0)
fetched = st.d.rrd_fetch(cd.rrd("fast", "dsmr_telegrams-ok"), g0, g1)
in_graph = [v * 60 for e, v in fetched if v is not None and g0 < e <= g1]
rate = legend("fast", "health.png", r"^([\d.]+)/min")
tap.ok(rate is not None and in_graph and
       min(in_graph) - 0.05 <= float(rate) <= max(in_graph) + 0.05 and
       45 <= float(rate) <= 75,
       "fast health.png: ok telegrams %s/min (%d rows of the file in the "
       "graph, %.1f..%.1f/min, mean %.1f)"
       % (rate, len(in_graph), min(in_graph or [0]), max(in_graph or [0]),
          sum(in_graph) / max(len(in_graph), 1)),
       "fetched %r, graph %s..%s" % (fetched, g0, g1))
sys.exit(tap.done())
