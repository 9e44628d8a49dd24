#!/usr/bin/env python3
"""Two tiers, the way to scale past one house: two collectds with the dsmr
plugin (hosts house1 and house2, a simulated meter each) send over
collectd's network plugin, signed and encrypted with a user name and
password each, to a central collectd (without the dsmr plugin, but with
our types) that writes RRD files and csv. The central server must store
every value of every telegram of both houses exactly, at the times the
collectors gave them (their own csv is the reference), and its RRD files
must hold what rrdtool makes of them (storetest.rrd_model): registers as
average power."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storetest as st  # noqa: E402

tap = st.Tap()
st.need(tap, "/usr/lib/collectd/network.so", "/usr/lib/collectd/rrdtool.so")
COUNT = 25
HOUSES = ("house1", "house2")

port = st.free_port()
auth = os.path.join(st.tmpdir("auth"), "network-auth")
with open(auth, "w") as f:
    f.write("".join("%s: secret-of-%s\n" % (h, h) for h in HOUSES))
server = st.PlainCollectd("""
LoadPlugin network
<Plugin network>
  <Listen "127.0.0.1" "{port}">
    SecurityLevel Encrypt
    AuthFile "{auth}"
  </Listen>
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "{{data}}"
  StoreRates false
</Plugin>
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "{{data}}"
</Plugin>
""".format(port=port, auth=auth), tag="server").start()
tap.ok(server.wait_log(r"Initialization complete", timeout=10),
       "central collectd up (network listener, rrdtool, csv; no dsmr plugin)",
       server.log()[-2000:])

sims, clients = {}, {}
for i, house in enumerate(HOUSES):
    tmp = st.tmpdir(house)
    sims[house] = st.Sim(tmp, "home", COUNT, seed=11 + i)
    # csv too: the collector's own record, the reference for times
    clients[house] = st.collectd({"home": sims[house]}, """
<LoadPlugin network>
  FlushInterval 1
</LoadPlugin>
<Plugin network>
  <Server "127.0.0.1" "{port}">
    SecurityLevel Encrypt
    Username "{house}"
    Password "secret-of-{house}"
  </Server>
</Plugin>
""".format(port=port, house=house), tag=house, rrd=True, writers=("csv",))
    st.set_hostname(clients[house], house)
for house in HOUSES:
    clients[house].start()
for house in HOUSES:
    rc = sims[house].wait(COUNT + 20)
    tap.ok(rc == 0, "%s: the simulator sent its telegrams" % house)


def arrived():
    """Every value checked below reached the server's csv files (the
    collectors send every second, FlushInterval 1; the server's write
    queue follows, later on a busy machine). What is then missing or
    extra is asserted below."""
    for house in HOUSES:
        want = st.expected_values(sims[house].clean())
        for k in (("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2"),
                  ("power", "import"), ("power", "import_l1"),
                  ("voltage", "l1"), ("voltage", "l3")):
            if len(st.csv_rows(server.data, house, "home", "%s-%s" % k)) < \
                    len(want[k]):
                return False
        if len(st.csv_rows(server.data, house, "home", "dsmr_volume-gas")) < \
                len(st.captures(sims[house].clean())):
            return False
    return True


st.wait_until(arrived, timeout=20, step=0.3)
for house in HOUSES:
    _, rc = clients[house].stop()
    tap.is_(rc, 0, "%s: collector exits 0" % house)
time.sleep(0.5)
_, rc = server.stop()
tap.is_(rc, 0, "central collectd exits 0")
log = server.log()
tap.ok("Unknown type" not in log and "authentication" not in log.lower(),
       "server log: no unknown types, no authentication failures",
       *[l for l in log.splitlines() if "network" in l][:10])

for house in HOUSES:
    sent = sims[house].clean()
    tap.is_(len(sent), COUNT, "%s: %d telegrams delivered" % (house, COUNT))
    want = st.expected_values(sent)
    for key in (("dsmr_energy", "import_t1"), ("dsmr_energy", "import_t2"),
                ("power", "import"), ("power", "import_l1"),
                ("voltage", "l1"), ("voltage", "l3")):
        ident = "%s-%s" % key
        mine = st.csv_rows(clients[house].data, house, "home", ident)
        there = st.csv_rows(server.data, house, "home", ident)
        tap.is_([v for _, v in there], [float(x) for x in want[key]],
                "server %s/dsmr-home/%s: every telegram's value, exactly"
                % (house, ident))
        tap.ok(mine and [t for t, _ in mine] == [t for t, _ in there],
               "%s %s: the times the collector gave" % (house, ident),
               "collector %r" % [t for t, _ in mine[:3]],
               "server    %r" % [t for t, _ in there[:3]])
    gas = st.csv_rows(server.data, house, "home", "dsmr_volume-gas")
    tap.is_([(int(t), int(v)) for t, v in gas], st.captures(sent),
            "server %s: gas at its capture time" % house)
    # The RRD files on the server: rates, as rrdtool defines them.
    for ident, derive in (("dsmr_energy-import_t1", True),
                          ("dsmr_energy-import_t2", True),
                          ("power-import", False)):
        path = os.path.join(server.data, house, "dsmr-home", ident + ".rrd")
        info = st.d.rrd_info(path)
        step = int(info.get("step", 0))
        pts = [(st.rrd_seconds(t), v) for t, v in
               st.csv_rows(server.data, house, "home", ident)]
        if not tap.ok(step == 10 and pts, "server %s/%s.rrd: step 10 s"
                      % (house, ident), repr(info.get("step"))):
            continue
        model = st.rrd_model(pts, step, 2 * step, derive)
        fetched = dict(st.d.rrd_fetch(path, min(model) - step, max(model)))
        bad = [(e, fetched.get(e), w) for e, w in model.items()
               if (w is None) != (fetched.get(e) is None) or
               (w is not None and abs(fetched[e] - w) > 1e-9 * max(1, abs(w)))]
        known = [w for w in model.values() if w is not None]
        tap.ok(len(known) >= 2 and not bad, "server %s/%s: rrdtool fetch = "
               "the model, row by row (%d known)" % (house, ident, len(known)),
               repr(bad[:5]))
    # average power from the registers' rows, and from the power's rows
    e_rows = [st.rrd_model([(st.rrd_seconds(t), v) for t, v in st.csv_rows(
        server.data, house, "home", "dsmr_energy-import_" + t)], 10, 20, True)
        for t in ("t1", "t2")]
    p_rows = st.rrd_model([(st.rrd_seconds(t), v) for t, v in st.csv_rows(
        server.data, house, "home", "power-import")], 10, 20, False)
    both = [e for e in p_rows if p_rows[e] is not None and
            all(r.get(e) is not None for r in e_rows)]
    if both:
        ew = sum(sum(r[e] for r in e_rows) for e in both) / len(both) * 3600
        pw = sum(p_rows[e] for e in both) / len(both)
        tol = 3600.0 / (10 * len(both)) + 1
        tap.ok(abs(ew - pw) <= tol, "%s: energy rows x 3600 = %.0f W, power "
               "rows %.0f W (within %.0f W)" % (house, ew, pw, tol))
sys.exit(tap.done())
