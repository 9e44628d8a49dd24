#!/usr/bin/env python3
"""CheckAuthenticationTag false: the real collectd with the real plugin,
meters whose frames carry a GCM tag (security control 0x30) but whose
operator handed out only the encryption key.

  at-unchecked  tools/dsmr-sim --generate han-austria --han-auth-key (SC
                0x30, M-Bus) over TCP, only DecryptionKey, Protocol "han",
                CheckAuthenticationTag false: every csv value exact against
                the simulator's manifest, the warning logged once;
  at-refused    the same stream without the option: nothing stored, the
                frames counted in decrypt_error, "AuthenticationKey needed"
                logged;
  at-wrongkey   the option with a wrong DecryptionKey: nothing stored
                (the message inside does not decode), decrypt_error;
  st-unchecked  --generate smarty with an authentication key that is not
                the Luxembourg one (a DSMR telegram in a bare DB 08 envelope,
                as the Steiermark Sagemcom T210-D sends it), Protocol
                "auto", only DecryptionKey, CheckAuthenticationTag false:
                dsmr_energy-import stored exactly (the DSMR CRC inside is
                the check);
and the configuration errors (collectd -T): without DecryptionKey, with
AuthenticationKey, with Protocol "dsmr", a value that is no boolean."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)

KEY = "000102030405060708090A0B0C0D0E0F"  # the simulator's default
AUTH = "5A1E0C3B9D7F2468ACE013579BDF0246"  # never given to the plugin
WRONG = "F0E1D2C3B4A5968778695A4B3C2D1E0F"
MISSING = "/dev/dsmr-test-no-such-device"

# --- configuration errors (collectd -T) ------------------------------------
BAD = [
    ("without DecryptionKey", dict(Protocol="han",
                                   CheckAuthenticationTag=False),
     r'<Meter "a">: CheckAuthenticationTag false without DecryptionKey; '
     r'accepted: CheckAuthenticationTag false only beside DecryptionKey'),
    ("with AuthenticationKey", dict(Protocol="han", DecryptionKey=KEY,
                                    AuthenticationKey=AUTH,
                                    CheckAuthenticationTag=False),
     r'<Meter "a">: CheckAuthenticationTag false conflicts with '
     r'AuthenticationKey'),
    ("with Protocol dsmr", dict(DecryptionKey=KEY,
                                CheckAuthenticationTag=False),
     r'<Meter "a">: CheckAuthenticationTag false is not valid with Protocol '
     r'"dsmr": .*accepted: .*Protocol "han" or "auto"'),
    ("not a boolean", dict(Protocol="han", DecryptionKey=KEY,
                           CheckAuthenticationTag="sometimes"),
     r'<Meter "a">: CheckAuthenticationTag .*"sometimes".*accepted: true '
     r'\(the default\) or false'),
]
for what, opts, rx in BAD:
    c = d.Collectd([d.meter_block("a", device=MISSING, **opts)],
                   write_plugins=False, tag="tagcfg")
    out = d.check_refused(tap, c, what, rx, "the problem and what is accepted")
    tap.ok(KEY.lower()[8:] not in out.lower() and
           AUTH.lower()[8:] not in out.lower(), "%s: no key in the output"
           % what)
for val in (True, False):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="auto",
                                  DecryptionKey=KEY,
                                  CheckAuthenticationTag=val)],
                   write_plugins=False, tag="tagcfg")
    rc, out = c.check()
    tap.is_(rc, 0, "CheckAuthenticationTag %s with Protocol \"auto\" and "
            "DecryptionKey: collectd -T succeeds" % val)

# --- the running plugin ------------------------------------------------------
tmp = d.tmpdir("authtag")
N = 5
man = {k: os.path.join(tmp, k + ".jsonl") for k in
       ("at-unchecked", "at-refused", "at-wrongkey", "st-unchecked")}
sims, ports = {}, {}
for name, gen, seed in (("at-unchecked", ["han-austria", "--han-auth-key",
                                          AUTH], 61),
                        ("at-refused", ["han-austria", "--han-auth-key",
                                        AUTH], 62),
                        ("at-wrongkey", ["han-austria", "--han-auth-key",
                                         AUTH], 63),
                        ("st-unchecked", ["smarty", "--smarty-auth-key",
                                          AUTH, "--interval", "10"], 64)):
    sims[name], [r] = d.start_sim(
        ["--tcp", "127.0.0.1:0", "--generate"] + gen +
        ["--rate", "4", "--count", str(N), "--unique", "--seed", str(seed),
         "--wait"], man[name])
    ports[name] = r.rsplit(":", 1)[-1]
    tap.ok(r.startswith("listening on"), "%s: simulator on TCP" % name, r)

cd = d.Collectd([
    d.meter_block("at-unchecked", host="127.0.0.1",
                  port=ports["at-unchecked"], Protocol="han",
                  DecryptionKey=KEY, CheckAuthenticationTag=False,
                  SilenceTimeout=300),
    d.meter_block("at-refused", host="127.0.0.1", port=ports["at-refused"],
                  Protocol="han", DecryptionKey=KEY, SilenceTimeout=300),
    d.meter_block("at-wrongkey", host="127.0.0.1",
                  port=ports["at-wrongkey"], Protocol="han",
                  DecryptionKey=WRONG, CheckAuthenticationTag=False,
                  SilenceTimeout=300),
    d.meter_block("st-unchecked", host="127.0.0.1",
                  port=ports["st-unchecked"], Protocol="auto",
                  DecryptionKey=KEY, CheckAuthenticationTag=False,
                  SilenceTimeout=300),
], tag="authtag", writers=("csv",)).start()

for s in sims.values():
    s.wait(timeout=60)
recs = {k: [r for r in d.read_manifest(v) if r.get("delivered", True)]
        for k, v in man.items()}
tap.ok(all(r.get("security_control") == "30" for r in recs["at-unchecked"]),
       "at-unchecked: the simulator sent GCM-tagged frames (SC 30)")

# Austria, tag not checked: every value exact
want_e = [float(r["registers"]["1-0:1.8.0"]) for r in recs["at-unchecked"]]
want_v = [float(r["registers"]["1-0:32.7.0"]) for r in recs["at-unchecked"]]
rows = cd.wait_csv("at-unchecked", "dsmr_energy-import", N, timeout=20)
tap.is_([v for _, v in rows], want_e, "at-unchecked: dsmr_energy-import "
        "stored exactly as sent")
rows = cd.wait_csv("at-unchecked", "voltage-l1", N, timeout=10)
tap.is_([v for _, v in rows], want_v, "at-unchecked: voltage-l1 stored "
        "exactly as sent")
tap.is_(cd.wait_last("at-unchecked", "dsmr_telegrams-ok", N), N,
        "at-unchecked: dsmr_telegrams-ok %d" % N)
warn = r'meter "at-unchecked": CheckAuthenticationTag false: DLMS frames ' \
       r'carry a GCM tag, decrypted WITHOUT checking it'
tap.is_(len(cd.wait_log(warn)), 1, "at-unchecked: the warning is logged once")

# Austria, the same without the option: refused
got = cd.wait_last("at-refused", "dsmr_telegrams-decrypt_error", N,
                   timeout=15)
tap.is_(got, N, "at-refused: every frame counted in decrypt_error")
tap.is_(cd.csv_rows("at-refused", "dsmr_energy-import"), [],
        "at-refused: nothing stored")
tap.ok(cd.wait_log(r'meter "at-refused": encrypted HAN frame \(system title '
                   r'[0-9A-F]{16}\) not read: the frame carries a GCM tag: '
                   r'AuthenticationKey needed \(or CheckAuthenticationTag '
                   r'false\)'), "at-refused: the reason is logged")

# the option with a wrong key: nothing stored
got = cd.wait_last("at-wrongkey", "dsmr_telegrams-decrypt_error", N,
                   timeout=15)
tap.is_(got, N, "at-wrongkey: every frame counted in decrypt_error")
tap.is_(cd.csv_rows("at-wrongkey", "dsmr_energy-import"), [],
        "at-wrongkey: nothing stored")

# a DSMR telegram in a bare envelope (Steiermark), Protocol "auto"
want_s = [d.wh(r["registers"]["1-0:1.8.0"]) for r in recs["st-unchecked"]]
rows = cd.wait_csv("st-unchecked", "dsmr_energy-import", N, timeout=20)
tap.is_([v for _, v in rows], [float(w) for w in want_s],
        "st-unchecked: dsmr_energy-import stored exactly as sent")
tap.ok(cd.wait_log(r'meter "st-unchecked": Protocol "auto": the meter sends '
                   r'binary HAN'), "st-unchecked: auto recognised the bare "
       "envelope")
tap.is_(len(cd.wait_log(r'meter "st-unchecked": CheckAuthenticationTag '
                        r'false')), 1, "st-unchecked: the warning once")

log = cd.log().lower()
tap.ok(KEY.lower() not in log and AUTH.lower() not in log and
       WRONG.lower() not in log, "no key is logged")
cd.stop()
tap.done()
