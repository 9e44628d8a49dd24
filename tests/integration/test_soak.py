#!/usr/bin/env python3
"""Fault soak: the simulator (tools/dsmr-sim) sends DSMR 5 telegrams at 50 a
second to three meters at once, two over TCP and one on a pseudo-terminal,
each telegram with unique register values (--unique), about a fifth of them
damaged (a flipped bit, a cut, a wrong CRC line), noise between telegrams,
and now and then a dropped connection (TCP) or a device node that
disappears and comes back as a new pty (pty). The simulator's manifest is
the ground truth; the csv files collectd wrote are what is checked:

  every clean telegram handed to a reader is stored exactly once, with all
  four energy registers; nothing of a damaged one is stored; gas is stored
  once per capture time; the health counters agree; no register is judged
  implausible; collectd runs throughout and stops cleanly.

Clean telegrams sent while no reader was connected (the plugin was still
reconnecting) cannot arrive: they are counted as "not deliverable", not as
lost. The figures go to TAP comments and to one summary line (for HACKING.md).

Duration: DSMR_SOAK_SECONDS (default 40 s of sending, about a minute in
all); e.g. DSMR_SOAK_SECONDS=600 by hand for a long soak."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

SECONDS = float(os.environ.get("DSMR_SOAK_SECONDS") or 40)
RATE = 50
COUNT = int(SECONDS * RATE)
# A fifth damaged: flip + cut + badcrc = 0.2. Noise before 10 %. A
# disconnect after 1 telegram in 500 (every 10 s per meter on average).
FAULTS = "flip=0.07,cut=0.07,badcrc=0.06,noise=0.1,disconnect=0.002"
REGISTERS = (("1-0:1.8.1", "import_t1"), ("1-0:1.8.2", "import_t2"),
             ("1-0:2.8.1", "export_t1"), ("1-0:2.8.2", "export_t2"))
tmp = d.tmpdir("soak")


common = ["--generate", "dsmr5", "--rate", str(RATE), "--count", str(COUNT),
          "--unique", "--faults", FAULTS, "--wait",
          "--start", "2024-03-30T22:00:00Z"]
man_tcp = os.path.join(tmp, "tcp.jsonl")
man_pty = os.path.join(tmp, "pty.jsonl")
# The simulators are not quiet: their messages (stderr, read at the end)
# say what a reader did not take.
sim_tcp, ready = d.start_sim(["--tcp", "127.0.0.1:0", "--meters", "2",
                              "--seed", "2024"] + common, man_tcp, 2,
                             quiet=False, stderr=subprocess.PIPE)
ports = [int(l.rsplit(":", 1)[1]) for l in ready if l.startswith("listening")]
tap.is_(len(ports), 2, "simulator: 2 TCP meters listening")
pty_path = os.path.join(tmp, "meter")
sim_pty, ready = d.start_sim(["--pty", pty_path, "--seed", "2025",
                              "--disconnect-pause", "0.8"] + common, man_pty,
                             1, quiet=False, stderr=subprocess.PIPE)
tap.ok(ready and ready[0].startswith("pty " + pty_path),
       "simulator: pty ready", *ready)

names = ["tcp0", "tcp1", "pty"]
cd = d.Collectd([d.meter_block("tcp0", host="127.0.0.1", port=ports[0]),
                 d.meter_block("tcp1", host="127.0.0.1", port=ports[1]),
                 d.meter_block("pty", device=pty_path)], tag="soak",
                writers=("csv",)).start()

# collectd must be running all the time, not just at the end.
t0 = time.monotonic()
down_at = None
deadline = t0 + SECONDS * 2 + 60
while time.monotonic() < deadline:
    if not cd.running() and down_at is None:
        down_at = time.monotonic() - t0
    if sim_tcp.poll() is not None and sim_pty.poll() is not None:
        break
    time.sleep(0.25)
soak_s = time.monotonic() - t0
tap.ok(down_at is None, "collectd ran throughout the %.0f s soak" % soak_s,
       "it was gone after %s s" % down_at)
for p, n in ((sim_tcp, "tcp"), (sim_pty, "pty")):
    if p.poll() is None:
        p.kill()
        p.wait()
    err = p.stderr.read()
    tap.is_(p.returncode, 0, "the %s simulator ran to the end" % n)
    if "did not take everything" in err:
        tap.diag("%s simulator: %s" % (n, err.strip()))


sent = {"tcp0": [], "tcp1": [], "pty": []}
for e in d.read_manifest(man_tcp):
    sent["tcp%d" % e["meter"]].append(e)
sent["pty"] = d.read_manifest(man_pty)


def deliverable(name):
    return [e for e in sent[name] if e["clean"] and e["delivered"]]


def health(name, what):
    rows = cd.csv_rows(name, "dsmr_telegrams-" + what)
    return rows[-1][1] if rows else 0.0


# Let the write thread catch up and the read callback count the last ones.
def bad_crc_delivered(name):
    return len([e for e in sent[name] if not e["clean"] and e["delivered"]
                and e["fault"] in ("flip", "badcrc")])


# Until the counters got as far as the manifest says they must (the bytes
# the simulators sent may still be on their way); then one report of the
# read callback from after that: a counter that went further shows there.
for name in names:
    want = len(deliverable(name))
    cd.wait_csv(name, "dsmr_energy-import_t1", want, timeout=15)
    deadline = time.monotonic() + 10
    while (health(name, "ok") < want or
           health(name, "crc_error") < bad_crc_delivered(name)) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
mark = time.time()
for name in names:
    cd.wait_report(name, mark)
tap.ok(cd.running(), "collectd still running after the soak")
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops cleanly within 2 s "
       "(%.2f s, status %s)" % (elapsed, rc))
log = cd.log()
tap.ok("Exiting normally" in log, "collectd says it exits normally")
tap.ok(not re.search(r"value lists were left|\[error\]", log),
       "no error in the log, nothing left in the write queue",
       *[l for l in log.splitlines()
         if "[error]" in l or "were left" in l][:10])

F = dict.fromkeys(("sent", "clean", "damaged", "not_deliverable", "expected",
                   "stored", "lost", "wrong", "duplicated", "disconnects",
                   "lost_in_hangup"), 0)
for name in names:
    entries = sent[name]
    clean = [e for e in entries if e["clean"]]
    damaged = [e for e in entries if not e["clean"]]
    exp = deliverable(name)
    f = {
        "sent": len(entries), "clean": len(clean), "damaged": len(damaged),
        "not_deliverable": len(clean) - len(exp), "expected": len(exp),
        "disconnects": len([e for e in entries if e["disconnect_after"]]),
        "lost_in_hangup": len([e for e in entries
                               if e.get("lost_in_hangup")]),
    }
    rows = cd.csv_rows(name, "dsmr_energy-import_t1")
    got = [int(v) for _, v in rows]
    want = [d.wh(e["registers"]["1-0:1.8.1"]) for e in exp]
    want_set, got_set = set(want), set(got)
    f["stored"] = len(got)
    f["lost"] = len(want_set - got_set)
    f["duplicated"] = len(got) - len(got_set)
    f["wrong"] = len([v for v in got if v not in want_set])
    from_damaged = got_set & {d.wh(e["registers"]["1-0:1.8.1"])
                              for e in damaged}
    for k, v in f.items():
        F[k] += v
    tap.diag("%s: sent %d, clean %d, damaged %d, not deliverable %d, "
             "stored %d, lost %d, wrong %d, duplicated %d; %d disconnects"
             % (name, f["sent"], f["clean"], f["damaged"],
                f["not_deliverable"], f["stored"], f["lost"], f["wrong"],
                f["duplicated"], f["disconnects"]))
    faults = {k: len([e for e in damaged if e["fault"] == k])
              for k in ("flip", "cut", "badcrc")}
    tap.ok(f["damaged"] >= 0.15 * f["sent"] and all(faults.values()),
           "%s: %d of %d telegrams damaged (%s)" % (
               name, f["damaged"], f["sent"],
               ", ".join("%s %d" % kv for kv in sorted(faults.items()))))
    tap.ok(f["disconnects"] >= 1, "%s: the line went away %d times"
           % (name, f["disconnects"]))
    tap.ok(f["expected"] >= 0.5 * f["clean"], "%s: %d clean telegrams "
           "reached a reader" % (name, f["expected"]))
    tap.is_(f["lost"], 0, "%s: no clean telegram lost" % name)
    tap.is_(f["duplicated"], 0, "%s: none stored twice" % name)
    tap.is_(f["wrong"], 0, "%s: nothing stored that was not sent clean"
            % name)
    tap.is_(sorted(from_damaged), [], "%s: nothing of a damaged telegram "
            "stored" % name)
    backwards = [(a, b) for a, b in zip(rows, rows[1:]) if b[0] <= a[0]]
    tap.ok(not backwards, "%s: stored times strictly increase" % name,
           *["%r then %r" % ab for ab in backwards[:5]])
    tap.is_(got, want, "%s: exactly the clean telegrams, in order" % name)
    for obis, ti in REGISTERS[1:]:
        tap.is_([int(v) for _, v in cd.csv_rows(name, "dsmr_energy-" + ti)],
                [d.wh(e["registers"][obis]) for e in exp],
                "%s: %s too" % (name, ti))
    captures = []
    for e in exp:
        g = e.get("gas")
        if g and (not captures or captures[-1][0] != d.utc(g["time"])):
            captures.append((d.utc(g["time"]), d.wh(g["m3"])))
    gas = [(int(t), int(v)) for t, v in cd.csv_rows(name, "dsmr_volume-gas")]
    tap.is_(gas, captures, "%s: gas stored once per capture time (%d)"
            % (name, len(captures)))
    tap.is_(health(name, "ok"), float(f["stored"]),
            "%s: dsmr_telegrams-ok counts what was stored" % name)
    bad_crc = bad_crc_delivered(name)
    tap.is_(health(name, "crc_error"), float(bad_crc),
            "%s: dsmr_telegrams-crc_error = the flipped and bad-CRC "
            "telegrams delivered" % name)
    tap.is_([health(name, k) for k in ("malformed", "too_large",
                                       "implausible")], [0.0, 0.0, 0.0],
            "%s: nothing malformed, too large or implausible" % name)

summary = ("fault soak, %.0f s at %d telegrams/s on 3 meters (2 TCP, 1 pty): "
           "sent %d, clean %d, damaged %d, not deliverable %d (sent while "
           "reconnecting), stored %d, lost %d, wrong %d, duplicated %d; "
           "%d disconnects" % (
               soak_s, RATE, F["sent"], F["clean"], F["damaged"],
               F["not_deliverable"], F["stored"], F["lost"], F["wrong"],
               F["duplicated"], F["disconnects"]))
tap.diag(summary)
if F["lost_in_hangup"]:
    tap.diag("%d clean telegrams died in a hang-up before the reader read "
             "them (counted as not deliverable)" % F["lost_in_hangup"])
sys.exit(tap.done())
