#!/usr/bin/env python3
"""The storing rules of issue 14, with the real collectd and the meter
simulator (tools/dsmr-sim), csv values checked exactly:

 (7) a register that goes back by 1 Wh (a meter rounding) is not stored,
     alone: the rest of its telegram is (power), the telegram counts as ok,
     the register's reading as dsmr_telegrams-held_back, and it is never
     stored lower than its stored value (three such telegrams do not make
     a new series);
 (1) a gas capture time a year in the future, and a meter clock a year
     ahead for a few telegrams, are refused (dsmr_telegrams-future_time,
     one count per capture), logged naming the meter and the identifier,
     and never become the identifier's last time: the normal gas readings
     after them are stored;
 (6) a DSMR 2.2 meter at the end of summer time: its hourly gas capture
     241027020000 (no flag) comes at 00:00 and again at 01:00 UTC with
     another value; the second is stored at 01:00 UTC.

(7) and (1) replay telegrams written here (--play), (6) is the simulator's
own DSMR 2.2 meter started before the change of time."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

tmp = d.tmpdir("rules")
NOW = int(time.time()) // 3600 * 3600 - 7200  # two whole hours ago
YEAR = 365 * 86400
EQ = "4530303433303037313331363236373137"


def stamp(unix):
    """Winter time, W flag (the simulator's and collectd's clocks do not
    care: only the UTC instant counts)."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(unix + 3600)) + "W"


def write_files(name, telegrams):
    """Each telegram (a list of lines) into its own .p1 file; the paths."""
    paths = []
    for i, lines in enumerate(telegrams):
        p = os.path.join(tmp, "%s-%02d.p1" % (name, i))
        with open(p, "wb") as f:
            f.write(d.telegram(lines))
        paths.append(p)
    return paths


def lines(clock, t1, power_w, gas=None):
    out = [
        "1-3:0.2.8(50)",
        "0-0:1.0.0(%s)" % stamp(clock),
        "0-0:96.1.1(%s)" % EQ,
        "1-0:1.8.1(%010.3f*kWh)" % t1,
        "1-0:1.8.2(000100.000*kWh)",
        "1-0:1.7.0(%06.3f*kW)" % (power_w / 1000.0),
    ]
    if gas:
        out += ["0-1:24.1.0(003)",
                "0-1:24.2.1(%s)(%09.3f*m3)" % (stamp(gas[0]), gas[1])]
    return out


# --- (7): the import register back by 1 Wh, four times ---------------------
T1 = [1000.000, 1000.001, 1000.000, 1000.000, 1000.000, 1000.000, 1000.002]
back_files = write_files("back", [
    lines(NOW + 10 * i, t1, 100 + i) for i, t1 in enumerate(T1)])

# --- (1): gas a year ahead, then the meter's clock a year ahead -----------
C0 = NOW - NOW % 300 - 600  # a 5-minute capture before NOW
future = [
    (NOW, 1000.0, (C0, 100.000)),
    (NOW + 10, 1000.001, (C0 + YEAR, 100.050)),  # gas a year ahead
    (NOW + 20, 1000.002, (C0 + YEAR, 100.050)),  # repeated: counted once
    (NOW + 30, 1000.003, (C0 + 300, 100.010)),
    (NOW + YEAR + 40, 1000.004, (C0 + YEAR + 600, 100.020)),  # clock ahead
    (NOW + YEAR + 50, 1000.005, (C0 + YEAR + 600, 100.020)),
    (NOW + 60, 1000.006, (C0 + 600, 100.020)),
    (NOW + 70, 1000.007, (C0 + 900, 100.030)),
]
future_files = write_files("future", [
    lines(clock, t1, 200 + i, gas)
    for i, (clock, t1, gas) in enumerate(future)])

pty_back = os.path.join(tmp, "back")
pty_future = os.path.join(tmp, "future")
pty_dst = os.path.join(tmp, "dst")
sims = []
for path, files in ((pty_back, back_files), (pty_future, future_files)):
    p, ready = d.start_sim(["--pty", path, "--play"] + files +
                           ["--rate", "4", "--count", str(len(files)),
                            "--wait"], path + ".jsonl")
    tap.ok(ready[0].startswith("pty " + path), "simulator ready: %s" % path,
           *ready)
    sims.append(p)

# --- (6): DSMR 2.2, hourly gas, flagless local time, across 2024-10-27 ----
# 01:00 UTC. The meter clock moves 60 s per telegram (so that no register
# grows faster than the 100 kW limit allows in the 0.05 s between
# telegrams): 150 telegrams from 23:50 UTC to 02:20 UTC.
dst_manifest = os.path.join(tmp, "dst.jsonl")
p, ready = d.start_sim(["--pty", pty_dst, "--generate", "dsmr22",
                        "--interval", "60", "--rate", "20", "--count", "150",
                        "--seed", "14", "--wait",
                        "--start", "2024-10-26T23:50:00Z"], dst_manifest)
tap.ok(ready[0].startswith("pty " + pty_dst), "simulator ready: DSMR 2.2",
       *ready)
sims.append(p)

# --- (7) and (1) together, from the simulator's model: data faults -------
# back1wh (1-0:1.8.1 1 Wh below the last value sent without a fault) and
# future_gas (the gas capture a year ahead), CRC right; DSMR 5, meter clock
# 60 s per telegram, from three hours ago.
pty_faults = os.path.join(tmp, "faults")
faults_manifest = os.path.join(tmp, "faults.jsonl")
p, ready = d.start_sim(["--pty", pty_faults, "--generate", "dsmr5",
                        "--interval", "60", "--rate", "10", "--count", "60",
                        "--faults", "back1wh=0.15,future_gas=0.15",
                        "--seed", "21", "--wait", "--start",
                        time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                      time.gmtime(NOW - 3600))],
                       faults_manifest)
tap.ok(ready[0].startswith("pty " + pty_faults),
       "simulator ready: data faults", *ready)
sims.append(p)

cd = d.Collectd([d.meter_block("back", device=pty_back),
                 d.meter_block("future", device=pty_future),
                 d.meter_block("dst", device=pty_dst),
                 d.meter_block("faults", device=pty_faults)],
                tag="rules").start()
for p in sims:
    try:
        p.wait(60)
    except Exception:  # noqa: BLE001 - checked below
        pass
tap.ok(all(p.returncode == 0 for p in sims), "the simulators ran to the end",
       repr([p.returncode for p in sims]))


def vals(meter, ident):
    return [v for _, v in cd.csv_rows(meter, ident)]


def health(meter, name):
    r = cd.csv_rows(meter, "dsmr_telegrams-" + name)
    return r[-1][1] if r else None


# Everything read, then one report of the counters after that.
cd.wait_csv("back", "power-import", len(T1), timeout=10)
cd.wait_csv("future", "power-import", len(future), timeout=10)
man = d.read_manifest(dst_manifest)
cd.wait_csv("dst", "dsmr_energy-import_t1",
            len([e for e in man if e["delivered"]]), timeout=15)
fman = [e for e in d.read_manifest(faults_manifest) if e["delivered"]]
cd.wait_csv("faults", "power-import", len(fman), timeout=15)
mark = time.time()
for m in ("back", "future", "dst", "faults"):
    cd.wait_report(m, mark)

# (7)
tap.is_(vals("back", "power-import"), [100.0 + i for i in range(len(T1))],
        "back 1 Wh: every telegram's power is stored")
tap.is_(vals("back", "dsmr_energy-import_t1"), [1000000.0, 1000001.0,
                                                1000002.0],
        "back 1 Wh: the register is never stored lower, and goes on")
tap.is_(vals("back", "dsmr_energy-import_t2"), [100000.0] * len(T1),
        "back 1 Wh: the other register of those telegrams is stored")
tap.is_(health("back", "ok"), float(len(T1)), "back 1 Wh: all 7 telegrams ok")
tap.is_(health("back", "implausible"), 0.0,
        "back 1 Wh: no telegram implausible")
tap.is_(health("back", "held_back"), 4.0,
        "back 1 Wh: dsmr_telegrams-held_back counts the 4 readings")
tap.ok(not [l for l in cd.log().splitlines() if "restarted" in l],
       "back 1 Wh: no 'restarted' (no new series)")
tap.ok(re.search(r'meter "back": dsmr_energy-import_t1 read 1000000 Wh, 1 '
                 r'below its stored 1000001', cd.log()),
       "back 1 Wh: logged, naming the meter and the identifier")

# (1)
tap.is_(cd.csv_rows("future", "dsmr_volume-gas"),
        [(float(C0), 100000.0), (float(C0 + 300), 100010.0),
         (float(C0 + 600), 100020.0), (float(C0 + 900), 100030.0)],
        "future gas: every normal capture stored, at its time, exactly")
tap.is_(vals("future", "power-import"),
        [200.0 + i for i in range(len(future))],
        "future gas: the telegrams themselves are stored")
tap.is_(health("future", "future_time"), 2.0,
        "future gas: dsmr_telegrams-future_time = 2 (one per capture)")
tap.is_(health("future", "implausible"), 0.0, "future gas: none implausible")
found = [l for l in cd.log().splitlines()
         if 'meter "future": dsmr_volume-gas: capture time' in l]
tap.ok(found and re.search(r"capture time \S+ is \d+ s ahead of the arrival "
                           r"\(\S+; at most 900 s allowed\): not stored",
                           found[0]),
       "future gas: a WARNING names the meter, the identifier and the time",
       *found)
tap.ok(not [l for l in cd.log().splitlines() if "illegal attempt" in l and
            "dsmr_volume" in l], "future gas: rrdtool refused no gas update")

# (6)
captures = []
for e in man:
    g = e.get("gas")
    if e["delivered"] and g and (not captures or
                                 captures[-1][0] != d.utc(g["time"])):
        captures.append((float(d.utc(g["time"])), float(d.wh(g["m3"]))))
second = [c for c in captures if c[0] == d.utc("2024-10-27T01:00:00Z")]
tap.ok(second and second[0][1] != [c for c in captures if c[0] == d.utc(
    "2024-10-27T00:00:00Z")][0][1],
       "DST: the simulator sent 241027020000 twice with two values",
       repr(captures))
tap.is_(cd.csv_rows("dst", "dsmr_volume-gas"), captures,
        "DST: every hourly capture stored at its true UTC time, 01:00 UTC "
        "included")
tap.is_(health("dst", "implausible"), 0.0, "DST: no implausible telegram")
tap.ok(re.search(r'meter "dst": dsmr_volume-gas: capture time '
                 r'2024-10-27T00:00:00Z came again with another value: .* '
                 r'stored at 2024-10-27T01:00:00Z', cd.log()),
       "DST: the second occurrence is logged (INFO)")

# (7) and (1) from the model
faulted = {k: [e for e in fman if k in (e["fault"] or "")]
           for k in ("back1wh", "future_gas")}
tap.ok(len(faulted["back1wh"]) >= 3 and len(faulted["future_gas"]) >= 3 and
       all(e["clean"] for e in fman),
       "faults: %d telegrams delivered, %d back1wh, %d future_gas, all with "
       "a right CRC" % (len(fman), len(faulted["back1wh"]),
                        len(faulted["future_gas"])))
tap.is_(vals("faults", "power-import"),
        [float(d.wh(e["registers"]["1-0:1.7.0"])) for e in fman],
        "faults: every telegram's power is stored")
want_t1 = [float(d.wh(e["registers"]["1-0:1.8.1"])) for e in fman
           if "back1wh" not in (e["fault"] or "")]
got_t1 = vals("faults", "dsmr_energy-import_t1")
tap.is_(got_t1, want_t1,
        "faults: import_t1 stored exactly from the telegrams without back1wh")
tap.ok(all(a <= b for a, b in zip(got_t1, got_t1[1:])),
       "faults: import_t1 never stored lower")
want_gas = []
for e in fman:
    g = e["gas"]
    if "future_gas" in (e["fault"] or "") or not g:
        continue
    if not want_gas or want_gas[-1][0] != d.utc(g["time"]):
        want_gas.append((float(d.utc(g["time"])), float(d.wh(g["m3"]))))
tap.is_(cd.csv_rows("faults", "dsmr_volume-gas"), want_gas,
        "faults: gas stored once per real capture, at its time, exactly")
tap.is_(health("faults", "held_back"), float(len(faulted["back1wh"])),
        "faults: dsmr_telegrams-held_back = the back1wh telegrams")
tap.is_(health("faults", "future_time"),
        float(len({e["gas"]["time"] for e in faulted["future_gas"]})),
        "faults: dsmr_telegrams-future_time = the distinct future captures")
tap.is_(health("faults", "implausible"), 0.0, "faults: none implausible")
tap.is_(health("faults", "ok"), float(len(fman)), "faults: all ok")

tap.ok(cd.running(), "collectd running")
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops cleanly")
sys.exit(tap.done())
