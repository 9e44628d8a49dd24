#!/usr/bin/env python3
"""Generated telegrams that are not in the corpus, with faults in between,
from the meter simulator (tools/dsmr-sim): two DSMR 5 meters over TCP and
a DSMR 4 meter on a pseudo-terminal, read by one collectd. The simulator's
manifest is the ground truth: every clean telegram that reached the plugin
is stored exactly once with its exact registers, nothing of a damaged one
is stored, and gas is stored once per capture time, at that time."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

tmp = d.tmpdir("sim")

# Faults: flipped bytes, wrong CRC lines, cut telegrams, noise in between.
FAULTS = "flip=0.12,badcrc=0.1,cut=0.1,noise=0.2"
man_tcp = os.path.join(tmp, "tcp.jsonl")
man_pty = os.path.join(tmp, "pty.jsonl")
# DSMR 5: meter clock 60 s per telegram, so the 5-minute gas capture moves
# every 5 telegrams; DSMR 4: 10 minutes per telegram, hourly gas.
sim_tcp, ready = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--meters", "2", "--generate", "dsmr5",
     "--interval", "60", "--rate", "5", "--count", "30", "--unique",
     "--faults", FAULTS, "--seed", "11", "--wait",
     "--start", "2024-03-31T00:00:00Z"], man_tcp, 2)
ports = [int(l.rsplit(":", 1)[1]) for l in ready if l.startswith("listening")]
tap.is_(len(ports), 2, "simulator: 2 TCP meters listening")
pty_path = os.path.join(tmp, "meter")
sim_pty, ready = d.start_sim(
    ["--pty", pty_path, "--generate", "dsmr4", "--interval", "600",
     "--rate", "5", "--count", "20", "--unique", "--faults", FAULTS,
     "--seed", "12", "--wait", "--start", "2024-10-26T23:00:00Z"],
    man_pty, 1)
tap.ok(ready and ready[0].startswith("pty " + pty_path),
       "simulator: pty ready", *ready)

names = ["tcp0", "tcp1", "pty"]
cd = d.Collectd([d.meter_block("tcp0", host="127.0.0.1", port=ports[0]),
                 d.meter_block("tcp1", host="127.0.0.1", port=ports[1]),
                 d.meter_block("pty", device=pty_path)], tag="sim").start()

d.wait_procs((sim_tcp, sim_pty), 40)
tap.ok(sim_tcp.returncode == 0 and sim_pty.returncode == 0,
       "both simulators ran to the end",
       "tcp: %r, pty: %r" % (sim_tcp.returncode, sim_pty.returncode))


sent = {"tcp0": [], "tcp1": [], "pty": []}
for e in d.read_manifest(man_tcp):
    sent["tcp%d" % e["meter"]].append(e)
sent["pty"] = d.read_manifest(man_pty)


def expected(name):
    """The clean telegrams that must be stored: those the simulator handed
    to a reader (before closing its pty it waits until the reader has read
    every byte, so "delivered" means it)."""
    return [e for e in sent[name] if e["clean"] and e["delivered"]]


def health_ok(name):
    rows = cd.csv_rows(name, "dsmr_telegrams-ok")
    return rows[-1][1] if rows else None

# Wait until collectd has written what the clean telegrams carried, and
# the read callback has counted them.
for name in names:
    must = expected(name)
    cd.wait_csv(name, "dsmr_energy-import_t1", len(must), timeout=10)
    deadline = time.monotonic() + 4
    while (health_ok(name) or 0) < len(must) and time.monotonic() < deadline:
        time.sleep(0.1)
mark = time.time()  # one report after this: the counters are final
for name in names:
    cd.wait_report(name, mark)
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops cleanly")

totals = {"sent": 0, "clean": 0, "damaged": 0, "stored": 0}
for name in names:
    entries = sent[name]
    delivered = [e for e in entries if e["delivered"]]
    clean = expected(name)
    damaged = [e for e in delivered if not e["clean"]]
    got = [v for _, v in cd.csv_rows(name, "dsmr_energy-import_t1")]
    want = [float(d.wh(e["registers"]["1-0:1.8.1"])) for e in clean]
    bad = {float(d.wh(e["registers"]["1-0:1.8.1"])) for e in damaged}
    totals["sent"] += len(entries)
    totals["clean"] += len(clean)
    totals["damaged"] += len(damaged)
    totals["stored"] += len(got)
    tap.ok(len(clean) >= 5 and len(damaged) >= 2,
           "%s: %d telegrams delivered, %d clean, %d damaged (%s)"
           % (name, len(delivered), len(clean), len(damaged),
              ", ".join(sorted({e["fault"] for e in damaged}))))
    tap.is_(got, want, "%s: every clean telegram stored once, exactly, in "
            "order" % name)
    tap.is_(sorted(bad & set(got)), [],
            "%s: nothing stored from a damaged telegram" % name)
    # T2 too: a second register, from the same telegrams.
    want2 = [float(d.wh(e["registers"]["1-0:1.8.2"])) for e in clean]
    got2 = [v for _, v in cd.csv_rows(name, "dsmr_energy-import_t2")]
    tap.is_(got2, want2, "%s: the tariff 2 register too" % name)

    captures = []
    for e in clean:
        g = e.get("gas")
        if g and (not captures or captures[-1][0] != d.utc(g["time"])):
            captures.append((d.utc(g["time"]), float(d.wh(g["m3"]))))
    gas = [(int(t), v) for t, v in cd.csv_rows(name, "dsmr_volume-gas")]
    tap.ok(len(captures) >= 2, "%s: the gas capture moved %d times"
           % (name, len(captures) - 1))
    tap.is_(gas, captures, "%s: gas stored once per capture time, at that "
            "time, exactly" % name)
    tap.is_(health_ok(name), float(len(clean)),
            "%s: dsmr_telegrams-ok = %d" % (name, len(clean)))
tap.diag("sent %(sent)d, clean %(clean)d, damaged %(damaged)d, "
         "stored %(stored)d" % totals)
sys.exit(tap.done())
