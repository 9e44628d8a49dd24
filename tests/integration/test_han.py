#!/usr/bin/env python3
"""Binary HAN meters (DLMS/COSEM over HDLC or M-Bus) read by the real
collectd through the same input chain, storing rules and identifiers as a
DSMR meter (Protocol "han" / "auto").

  aidon     tools/dsmr-sim --generate han-aidon (list 3) over TCP,
            Protocol "han"
  kamstrup  han-kamstrup (list 2) on a pty, 2400 8N1, Protocol "auto"
  kaifa     han-kaifa (list 3) on a pty, 2400 8E1, Protocol "han"
  austria   han-austria (encrypted M-Bus, two segments) on a pty with its
            key in DecryptionKey
  every csv value exact against the simulator's manifest;
  faults    han-aidon with flipped bits and cut messages, han-austria with
            dropped segments: the bad messages counted (crc_error, dropped)
            and never stored, the clean ones all stored;
  wrongkey  han-austria with a wrong DecryptionKey: decrypt_error, nothing
            stored;
and the configuration errors for Protocol (collectd -T)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

AT_KEY = "000102030405060708090A0B0C0D0E0F"  # the simulator's default
WRONG = "F0E1D2C3B4A5968778695A4B3C2D1E0F"
MISSING = "/dev/dsmr-test-no-such-device"

# OBIS (value group B 0 or 1) -> the identifier a DSMR meter has
IDENT = {
    "1-0:1.7.0": "power-import",
    "1-0:2.7.0": "power-export",
    "1-0:3.7.0": "dsmr_reactive_power-import",
    "1-0:4.7.0": "dsmr_reactive_power-export",
    "1-0:31.7.0": "current-l1",
    "1-0:51.7.0": "current-l2",
    "1-0:71.7.0": "current-l3",
    "1-0:32.7.0": "voltage-l1",
    "1-0:52.7.0": "voltage-l2",
    "1-0:72.7.0": "voltage-l3",
    "1-0:1.8.0": "dsmr_energy-import",
    "1-0:2.8.0": "dsmr_energy-export",
    "1-0:3.8.0": "dsmr_reactive_energy-import",
    "1-0:4.8.0": "dsmr_reactive_energy-export",
}


def norm(obis):
    """'1-1:31.7.0' -> '1-0:31.7.0' (B 0 and 1 both mean the meter)."""
    a, rest = obis.split("-", 1)
    b, cde = rest.split(":", 1)
    return "%s-%s:%s" % (a, "0" if b in ("0", "1") else b, cde)


def expected(manifest, clean_only=True):
    """ident -> [values] of the delivered (clean) messages, in order."""
    want = {}
    for rec in manifest:
        if not rec.get("delivered", True):
            continue
        if clean_only and not rec.get("clean", True):
            continue
        for obis, value in rec["registers"].items():
            ident = IDENT.get(norm(obis))
            if ident:
                want.setdefault(ident, []).append(float(value))
    return want


# --- configuration errors (collectd -T) ----------------------------------
c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="p1")],
               write_plugins=False, tag="hancfg")
rc, out = c.check()
tap.ok(rc != 0 and re.search(
    r'<Meter "a">: Protocol .*"p1".*accepted: "dsmr".*"han".*"auto"', out),
    'Protocol "p1": collectd -T fails, naming the option and the accepted '
    'values', out)
c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="han",
                              Baudrate="auto")],
               write_plugins=False, tag="hancfg")
rc, out = c.check()
tap.is_(rc, 0, 'Protocol "han" with Baudrate "auto": accepted (2400 8E1, '
        '2400 8N1 and 115200 8N1 probed: test_autobaud_han.py)')
for proto in ("dsmr", "HAN", "auto"):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol=proto)],
                   write_plugins=False, tag="hancfg")
    rc, out = c.check()
    tap.is_(rc, 0, 'Protocol "%s": collectd -T succeeds' % proto)

# --- the running plugin ----------------------------------------------------
tmp = d.tmpdir("han")
N = 6
man = {k: os.path.join(tmp, k + ".jsonl") for k in
       ("aidon", "kamstrup", "kaifa", "austria", "faults", "segfaults",
        "wrongkey")}

sim_aidon, [r_aidon] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-aidon", "--han-list", "3",
     "--rate", "4", "--count", str(N), "--unique", "--seed", "41", "--wait"],
    man["aidon"])
aidon_port = r_aidon.rsplit(":", 1)[-1]
tap.ok(r_aidon.startswith("listening on"), "han-aidon on TCP", r_aidon)
kam_pty = os.path.join(tmp, "kamstrup")
sim_kam, [r_kam] = d.start_sim(
    ["--pty", kam_pty, "--generate", "han-kamstrup", "--han-list", "2",
     "--rate", "4", "--count", str(N), "--unique", "--seed", "42", "--wait"],
    man["kamstrup"])
tap.ok(r_kam.startswith("pty " + kam_pty), "han-kamstrup on a pty", r_kam)
kaifa_pty = os.path.join(tmp, "kaifa")
sim_kaifa, [r_kaifa] = d.start_sim(
    ["--pty", kaifa_pty, "--generate", "han-kaifa", "--han-list", "3",
     "--rate", "4", "--count", str(N), "--unique", "--seed", "43", "--wait"],
    man["kaifa"])
tap.ok(r_kaifa.startswith("pty " + kaifa_pty), "han-kaifa on a pty", r_kaifa)
at_pty = os.path.join(tmp, "austria")
sim_at, [r_at] = d.start_sim(
    ["--pty", at_pty, "--generate", "han-austria", "--rate", "4", "--count",
     str(N), "--unique", "--seed", "44", "--wait", "--han-counter", "500"],
    man["austria"])
tap.ok(r_at.startswith("pty " + at_pty), "han-austria on a pty", r_at)
NF = 24
sim_f, [r_f] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-aidon", "--han-list", "3",
     "--rate", "8", "--count", str(NF), "--unique", "--seed", "45", "--wait",
     "--faults", "flip=0.2,cut=0.15,noise=0.2"], man["faults"])
f_port = r_f.rsplit(":", 1)[-1]
sim_sf, [r_sf] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-austria", "--rate", "8",
     "--count", str(NF), "--unique", "--seed", "46", "--wait",
     "--faults", "dropseg=0.25,flip=0.15"], man["segfaults"])
sf_port = r_sf.rsplit(":", 1)[-1]
sim_w, [r_w] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-austria", "--rate", "4",
     "--count", "4", "--seed", "47", "--wait"], man["wrongkey"])
w_port = r_w.rsplit(":", 1)[-1]

cd = d.Collectd([
    d.meter_block("aidon", host="127.0.0.1", port=aidon_port, Protocol="han",
                  SilenceTimeout=300),
    d.meter_block("kamstrup", device=kam_pty, Baudrate=2400, Parity="none",
                  Protocol="auto", SilenceTimeout=300),
    d.meter_block("kaifa", device=kaifa_pty, Baudrate=2400, Parity="even",
                  Protocol="han", SilenceTimeout=300),
    d.meter_block("austria", device=at_pty, Baudrate=2400, Parity="even",
                  Protocol="han", DecryptionKey=AT_KEY, SilenceTimeout=300),
    d.meter_block("faults", host="127.0.0.1", port=f_port, Protocol="han",
                  SilenceTimeout=300),
    d.meter_block("segfaults", host="127.0.0.1", port=sf_port,
                  Protocol="auto", DecryptionKey=AT_KEY, SilenceTimeout=300),
    d.meter_block("wrongkey", host="127.0.0.1", port=w_port, Protocol="han",
                  DecryptionKey=WRONG, SilenceTimeout=300),
], tag="han", writers=("csv",)).start()


def check_meter(name, sim, nwant, what):
    """Every identifier's csv values equal the manifest's (clean ones)."""
    sim.wait(timeout=60)
    recs = d.read_manifest(man[name])
    want = expected(recs)
    tap.ok(want.get("power-import") and len(want["power-import"]) >= nwant,
           "%s: the manifest has %d clean messages with power-import" %
           (name, len(want.get("power-import", []))))
    for ident in sorted(want):
        rows = cd.wait_csv(name, ident, len(want[ident]), timeout=15)
        tap.is_([v for _, v in rows], want[ident],
                "%s: %s stored exactly as sent (%s)" % (name, ident, what))
    return recs


for name, sim, what in (("aidon", sim_aidon, "HDLC over TCP"),
                        ("kamstrup", sim_kam, "HDLC on a pty, auto"),
                        ("kaifa", sim_kaifa, "HDLC on a pty, 8E1"),
                        ("austria", sim_at, "encrypted M-Bus")):
    check_meter(name, sim, N, what)
    tap.is_(cd.wait_last(name, "dsmr_telegrams-ok", N), N,
            "%s: dsmr_telegrams-ok %d" % (name, N))
tap.ok(cd.wait_log(r'meter "kamstrup": Protocol "auto": the meter sends '
                   r'binary HAN'), "kamstrup: auto says HAN in the log")
tap.ok(cd.wait_log(r'meter "austria": HAN frames are M-Bus') and
       cd.wait_log(r'meter "austria": DLMS frames decrypt \(system title '
                   r'[0-9A-F]{16}, invocation counter 500\)'),
       "austria: M-Bus and decryption logged")
tap.ok(AT_KEY.lower() not in cd.log().lower(), "the key is not logged")

# --- faults ----------------------------------------------------------------
recs = check_meter("faults", sim_f, 4, "flip, cut, noise")
bad = [r for r in recs if r.get("delivered", True) and not r["clean"]]
tap.ok(any(r["fault"] and "flip" in r["fault"] for r in bad) and
       any(r["fault"] and "cut" in r["fault"] for r in bad),
       "faults: the simulator sent flipped and cut messages",
       [r["fault"] for r in bad])
clean = len([r for r in recs if r.get("delivered", True) and r["clean"]])
tap.is_(cd.wait_last("faults", "dsmr_telegrams-ok", clean), clean,
        "faults: dsmr_telegrams-ok counts the clean messages only")
flips = len([r for r in bad if "flip" in (r["fault"] or "")])
got = cd.wait_last("faults", "dsmr_telegrams-crc_error", flips)
tap.ok(got is not None and got >= flips,
       "faults: every flipped frame counted in dsmr_telegrams-crc_error "
       "(%s >= %d)" % (got, flips))
tap.ok(cd.wait_log(r'meter "faults": HAN frame failed its check \(bad FCS'),
       "faults: the bad frame is logged")

recs = check_meter("segfaults", sim_sf, 4, "dropped segments, encrypted")
drops = len([r for r in recs if r.get("delivered", True) and
             "dropseg" in (r["fault"] or "")])
tap.ok(drops > 0, "segfaults: the simulator dropped segments (%d)" % drops)
got = cd.wait_last("segfaults", "dsmr_telegrams-dropped", drops)
tap.ok(got is not None and got >= drops,
       "segfaults: every message missing a segment counted in "
       "dsmr_telegrams-dropped (%s >= %d)" % (got, drops))

# --- wrong key ---------------------------------------------------------------
sim_w.wait(timeout=60)
got = cd.wait_last("wrongkey", "dsmr_telegrams-decrypt_error", 4, timeout=15)
tap.ok(got is not None and got >= 3,
       "wrongkey: decrypt_error counted (%s)" % got)
tap.is_(cd.csv_rows("wrongkey", "power-import"), [],
        "wrongkey: nothing stored")
tap.ok(cd.wait_log(r'meter "wrongkey": DLMS frame \d+ failed decryption'),
       "wrongkey: the failure is logged")
tap.ok(WRONG.lower() not in cd.log().lower(), "the wrong key is not logged")

cd.stop()
tap.done()
