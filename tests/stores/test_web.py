#!/usr/bin/env python3
"""The static web page: contrib/web/index.html next to the PNGs of
tools/dsmr-graphs.sh and the latest.json of contrib/web/dsmr-latest.py,
made from the RRD files collectd wrote for a simulated meter, served by
`python3 -m http.server` on 127.0.0.1 and opened in headless Chromium.
latest.json must hold the last telegram's exact readings and today's
totals; the page must load every graph and the readings (it sets
<html data-loaded="yes"> when all <img> onload and the JSON arrived) and
show the readings; the screenshot is kept as
$top_builddir/tests/stores/web-screenshot.png."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
st.need(tap, CHROMIUM, "/usr/bin/rrdtool", "/usr/lib/collectd/rrdtool.so")
GRAPHS = os.path.join(st.SRCDIR, "tools", "dsmr-graphs.sh")
LATEST = os.path.join(st.SRCDIR, "contrib", "web", "dsmr-latest.py")
PAGE = os.path.join(st.SRCDIR, "contrib", "web", "index.html")
PNGS = ["power.png", "energy.png", "gas.png", "voltage.png", "health.png"]
COUNT = 16

tmp = st.tmpdir("web")
sim = st.Sim(tmp, "home", COUNT, fast_clock=True)
cd = st.collectd({"home": sim}, "", tag="web", rrd=True)
st.run_meters(tap, cd, {"home": sim})
time.sleep(1.5)
cd.stop()
sent = sim.clean()
want = st.expected_values(sent)
gas = st.captures(sent)
rrd_dir = os.path.join(cd.data, st.HOST, "dsmr-home")
www = os.path.join(tmp, "www")
# "Today" starts at the middle gas capture (gas carries the meter's capture
# times, 20-odd minutes back; the electricity values, all later, arrived in
# the last seconds): both "today" figures then have something to add up.
tz, midnight = st.zone_with_midnight(gas[len(gas) // 2][0])
env = dict(os.environ, TZ=tz)

# --------------------------------------------------------- what is served
r = subprocess.run(["bash", GRAPHS, rrd_dir, www], env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
tap.ok(r.returncode == 0 and all(os.path.isfile(os.path.join(www, p))
                                 for p in PNGS),
       "dsmr-graphs.sh drew %s" % ", ".join(PNGS), r.stdout.decode())
r = subprocess.run([st.PY, LATEST, rrd_dir, www], env=env,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
tap.ok(r.returncode == 0, "dsmr-latest.py wrote latest.json", r.stdout.decode())
shutil.copy(PAGE, www)
with open(os.path.join(www, "latest.json")) as f:
    doc = json.load(f)
rd = doc.get("readings", {})
tap.is_((doc.get("host"), doc.get("meter")), (st.HOST, "home"),
        "latest.json: host and meter")
for (typ, ti), vals in sorted(want.items()):
    ident = "%s-%s" % (typ, ti)
    csv = cd.csv_rows("home", ident)
    got = rd.get(ident, {})
    tap.ok(got.get("value") == vals[-1] and csv and
           got.get("time") == st.rrd_seconds(csv[-1][0]),
           "latest.json %s: the last telegram's %r %s, at its time" %
           (ident, vals[-1], got.get("unit")), repr(got))
tap.is_((rd.get("dsmr_volume-gas", {}).get("time"),
         rd.get("dsmr_volume-gas", {}).get("value")),
        (gas[-1][0], float(gas[-1][1])),
        "latest.json dsmr_volume-gas: the last capture, at its capture time")
tap.is_(rd.get("power-import", {}).get("unit"), "W", "latest.json: units")


def known_rows_since(ident, derive, since):
    """The rows rrdtool should hold for ident after `since`, modelled from
    the csv values: [(end, rate)] of the known ones."""
    pts = [(st.rrd_seconds(t), v) for t, v in cd.csv_rows("home", ident)]
    step = int(st.d.rrd_info(os.path.join(rrd_dir, ident + ".rrd"))["step"])
    rows = st.rrd_model(pts, step, 2 * step, derive)
    return step, [(e, v) for e, v in rows.items() if v is not None and e > since]


def model_since(ident, derive, since):
    step, rows = known_rows_since(ident, derive, since)
    return sum(v * step for _, v in rows)


today = doc.get("today", {})
# dsmr-latest.py prints with %.3lf: within half a unit of the last digit,
# that half included (a total of exactly x.5 Wh is common, and rrdtool's
# sum and ours may differ in the last bit of the double).
HALF = 0.0005 + 1e-9
exp = (model_since("dsmr_energy-import_t1", True, midnight) +
       model_since("dsmr_energy-import_t2", True, midnight)) / 1000
tap.ok(today.get("energy_import_kwh") is not None and exp > 0 and
       abs(today["energy_import_kwh"] - exp) <= HALF,
       "latest.json today: %r kWh imported (want %.3f, zone %s)"
       % (today.get("energy_import_kwh"), exp, tz))
exp_gas = model_since("dsmr_volume-gas", True, midnight) / 1000
gas_known = len(known_rows_since("dsmr_volume-gas", True, midnight)[1])
tap.ok(gas_known > 0 and today.get("gas_m3") is not None and
       abs(today["gas_m3"] - exp_gas) <= HALF,
       "latest.json today: %r m3 gas (want %.3f, from %d known rows)"
       % (today.get("gas_m3"), exp_gas, gas_known))

# ----------------------------------------------------------- the browser
port = st.free_port()
server = st.Proc([st.PY, "-m", "http.server", "--bind", "127.0.0.1",
                  str(port)], os.path.join(tmp, "http.log"), cwd=www)
tap.ok(st.wait_port(port, 10, server), "python3 -m http.server on "
       "127.0.0.1:%d" % port)
url = "http://127.0.0.1:%d/" % port


def chromium(*args, timeout=90, budget=10000):
    """Headless Chromium in a session of its own, so that all its helper
    processes go with it when it hangs; (exit status, stdout)."""
    prof = st.tmpdir("chromium")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + prof, "--virtual-time-budget=%d" % budget] + \
        list(args) + [url]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)

    def kill():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    st.on_cleanup(kill)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill()
        return None, "chromium timed out"
    return p.returncode, out.decode(errors="replace") + err.decode(
        errors="replace")[-2000:]


# 65 s of the page's (virtual) time: the first load and the refresh a
# minute later, without waiting a minute.
t0 = time.monotonic()
rc, dom = chromium("--dump-dom", budget=65000)
tap.ok(rc == 0, "chromium --dump-dom: exit 0 (%.1f s)" % (time.monotonic() - t0),
       dom[-2000:])
m = re.search(r"<html([^>]*)>", dom)
attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1))) if m else {}
tap.is_(attrs.get("data-loaded"), "yes", "the page: data-loaded=\"yes\" "
        "(every graph's onload fired and latest.json arrived)")
tap.is_(attrs.get("data-failed"), "", "the page: nothing failed to load")
tap.is_(attrs.get("data-refreshes"), "2", "the page reloaded itself after "
        "a minute (data-refreshes)")
imgs = re.findall(r'<img ([^>]*)>', dom)
ok = [i for i in imgs if 'data-ok="yes"' in i]
tap.ok(len(ok) == len(PNGS), "the page: %d graphs loaded" % len(PNGS),
       *imgs)


def shown(ident):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(ident), dom)
    return m.group(1) if m else None


tap.is_(shown("now-import"), "{:,.0f} W".format(want[("power", "import")][-1]),
        "the page shows the power imported")
tap.is_(shown("dsmr_energy-import_t1"),
        "{:,.3f}".format(want[("dsmr_energy", "import_t1")][-1] / 1000),
        "the page shows the tariff 1 register in kWh")
tap.is_(shown("voltage-l2"), "{:,.1f}".format(want[("voltage", "l2")][-1]),
        "the page shows the voltage of L2")
tap.is_(shown("dsmr_volume-gas"), "{:,.3f}".format(gas[-1][1] / 1000),
        "the page shows the gas register in m3")
tap.is_(shown("today-import"), "{:,.3f} kWh".format(today.get(
    "energy_import_kwh") or 0), "the page shows today's import")

shot = os.path.join(tmp, "screenshot.png")
rc, out = chromium("--screenshot=" + shot, "--window-size=960,2300",
                   "--hide-scrollbars")
tap.ok(rc == 0 and os.path.isfile(shot), "chromium --screenshot", out[-2000:])
if os.path.isfile(shot):
    w, h, rows = st.png_read(shot)
    inked = sum(1 for row in rows for px in row if px != (255, 255, 255))
    tap.ok(w == 960 and inked > 0.05 * w * h, "screenshot %dx%d, %d pixels "
           "not white" % (w, h, inked))
    keep = os.path.join(st.BUILDDIR, "tests", "stores")
    os.makedirs(keep, exist_ok=True)
    shutil.copy(shot, os.path.join(keep, "web-screenshot.png"))
    tap.diag("screenshot kept: %s" % os.path.join(keep, "web-screenshot.png"))
sys.exit(tap.done())
