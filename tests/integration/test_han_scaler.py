#!/usr/bin/env python3
"""EnergyScaler: a Swedish Kamstrup, whose firmware counts energy in Wh
where the Kamstrup document (and the plugin's default) says 10 Wh, with no
scaler in its frames.

  se        tools/dsmr-sim --generate han-kamstrup --han-list 2
            --han-energy-scaler 0 on a pty at 2400 8N1, read by the real
            collectd with Protocol "han" and EnergyScaler 0: every csv
            value exact against the simulator's manifest (energies in Wh,
            and power, current, voltage unchanged);
  default   the same Swedish stream over TCP without the option: the
            energies stored 10 times what the meter counts (the failure
            the option is for), power unchanged;
  aidon     han-aidon list 3 (scaler_unit sent) with EnergyScaler 3: the
            frame's scaler wins, every value exact, and a warning says the
            option has no effect (the se meter's log says it applies);
and the configuration errors (collectd -T): a value out of range, a word,
a negative number, and EnergyScaler with Protocol "dsmr" are refused with
a message naming the option and what is accepted."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.Tap()
if d.plugin_dir() is None:
    tap.skip_all("dsmr.so not built")
d.need_sim(tap)

MISSING = "/dev/dsmr-test-no-such-device"
IDENT = {
    "1.7.0": "power-import",
    "31.7.0": "current-l1",
    "32.7.0": "voltage-l1",
    "1.8.0": "dsmr_energy-import",
    "2.8.0": "dsmr_energy-export",
    "3.8.0": "dsmr_reactive_energy-import",
    "4.8.0": "dsmr_reactive_energy-export",
}
ENERGY = ("1.8.0", "2.8.0", "3.8.0", "4.8.0")

# --- configuration errors (collectd -T) ----------------------------------
for val, what in ((4, "4"), ("Wh", '"Wh"'), (-1, "-1"), (0.5, "0.5")):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="han",
                                  EnergyScaler=val)],
                   write_plugins=False, tag="scalercfg")
    rc, out = c.check()
    tap.ok(rc != 0 and re.search(
        r'<Meter "a">: EnergyScaler .*is not valid; accepted: 0 \(Wh: '
        r'Swedish Kamstrup firmware\), 1 \(10 Wh.*3 \(kWh\)', out),
        "EnergyScaler %s: collectd -T fails, naming the option and 0..3" % what,
        out)
c = d.Collectd([d.meter_block("a", device=MISSING, EnergyScaler=0)],
               write_plugins=False, tag="scalercfg")
rc, out = c.check()
tap.ok(rc != 0 and re.search(
    r'<Meter "a">: EnergyScaler is not valid with Protocol "dsmr".*accepted: '
    r'EnergyScaler with Protocol "han" or "auto"', out),
    'EnergyScaler without Protocol (i.e. "dsmr"): refused, naming it', out)
c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="dsmr",
                              EnergyScaler=1)],
               write_plugins=False, tag="scalercfg")
rc, out = c.check()
tap.ok(rc != 0 and 'EnergyScaler is not valid with Protocol "dsmr"' in out,
       'EnergyScaler with Protocol "dsmr": refused', out)
for proto, val in (("han", 0), ("auto", "3")):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol=proto,
                                  EnergyScaler=val)],
                   write_plugins=False, tag="scalercfg")
    rc, out = c.check()
    tap.is_(rc, 0, 'EnergyScaler %r with Protocol "%s": accepted' %
            (val, proto))

# --- the running plugin ----------------------------------------------------
tmp = d.tmpdir("hanscaler")
N = 4
man = {k: os.path.join(tmp, k + ".jsonl") for k in ("se", "default", "aidon")}
se_pty = os.path.join(tmp, "se")
sim_se, [r_se] = d.start_sim(
    ["--pty", se_pty, "--generate", "han-kamstrup", "--han-list", "2",
     "--han-energy-scaler", "0", "--rate", "4", "--count", str(N),
     "--unique", "--seed", "52", "--wait"], man["se"])
tap.ok(r_se.startswith("pty " + se_pty), "Swedish han-kamstrup on a pty",
       r_se)
sim_def, [r_def] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-kamstrup", "--han-list", "2",
     "--han-energy-scaler", "0", "--rate", "4", "--count", str(N),
     "--unique", "--seed", "53", "--wait"], man["default"])
def_port = r_def.rsplit(":", 1)[-1]
sim_aidon, [r_aidon] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "han-aidon", "--han-list", "3",
     "--rate", "4", "--count", str(N), "--unique", "--seed", "54", "--wait"],
    man["aidon"])
aidon_port = r_aidon.rsplit(":", 1)[-1]

cd = d.Collectd([
    d.meter_block("se", device=se_pty, Baudrate=2400, Parity="none",
                  Protocol="han", EnergyScaler=0, SilenceTimeout=300),
    d.meter_block("default", host="127.0.0.1", port=def_port, Protocol="han",
                  SilenceTimeout=300),
    d.meter_block("aidon", host="127.0.0.1", port=aidon_port, Protocol="auto",
                  EnergyScaler=3, SilenceTimeout=300),
], tag="hanscaler", writers=("csv",)).start()


def sent(name, sim):
    """ident -> [(the meter's count as sent, unit)] of the clean messages;
    the energies are whole Wh (the manifest's decimal after scaler 0)."""
    sim.wait(timeout=60)
    want = {}
    for rec in d.read_manifest(man[name]):
        if not rec.get("delivered", True) or not rec.get("clean", True):
            continue
        for obis, value in rec["registers"].items():
            qty = obis.split(":")[1]
            if qty in IDENT:
                want.setdefault(qty, []).append(float(value))
    return want


want = sent("se", sim_se)
tap.ok(len(want.get("1.8.0", [])) == N and
       any(v % 10 for v in want["1.8.0"] + want["2.8.0"]),
       "se: %d messages sent, energies in Wh (not all multiples of 10, so "
       "a 10 Wh reading would show)" % len(want.get("1.8.0", [])),
       want.get("1.8.0"))
for qty in sorted(want):
    ident = IDENT[qty]
    rows = cd.wait_csv("se", ident, len(want[qty]), timeout=15)
    tap.is_([v for _, v in rows], want[qty],
            "se, EnergyScaler 0: %s stored exactly as the meter counts (%s)"
            % (ident, "Wh" if qty in ENERGY else "unchanged"))
tap.is_(cd.wait_last("se", "dsmr_telegrams-ok", N), N,
        "se: dsmr_telegrams-ok %d" % N)

want = sent("default", sim_def)
for qty in ("1.8.0", "2.8.0", "1.7.0"):
    ident = IDENT[qty]
    k = 10 if qty in ENERGY else 1
    rows = cd.wait_csv("default", ident, len(want[qty]), timeout=15)
    tap.is_([v for _, v in rows], [k * v for v in want[qty]],
            "default (no EnergyScaler) on the Swedish stream: %s stored %s"
            % (ident, "10x what the meter counts (the document's 10 Wh)"
               if k == 10 else "unchanged"))

tap.ok(cd.wait_log(r'meter "se": EnergyScaler 0: 4 energy registers sent '
                   r'without a scaler_unit read as counts of 10\^0 Wh '
                   r'\(list "Kamstrup_V0001"\)'),
       "se: the log says EnergyScaler applies")

want = sent("aidon", sim_aidon)
tap.ok(len(want.get("1.8.0", [])) == N, "aidon: %d list-3 messages sent" %
       len(want.get("1.8.0", [])))
for qty in sorted(want):
    ident = IDENT[qty]
    rows = cd.wait_csv("aidon", ident, len(want[qty]), timeout=15)
    tap.is_([v for _, v in rows], want[qty],
            "aidon (scaler_unit sent), EnergyScaler 3: %s stored exactly "
            "with the frame's scaler" % ident)
tap.ok(cd.wait_log(r'meter "aidon": EnergyScaler 3 has no effect: this '
                   r'meter.s list \("AIDON_V0001"\) sends the scaler_unit'),
       "aidon: a warning says EnergyScaler has no effect")
tap.ok(not re.search(r'meter "(se|default)": EnergyScaler .*no effect',
                     cd.log()), "no such warning for the Kamstrup meters")

cd.stop()
tap.done()
