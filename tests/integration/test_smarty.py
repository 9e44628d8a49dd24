#!/usr/bin/env python3
"""Luxembourg Smarty meters: encrypted P1 (AES-128-GCM in DLMS
general-glo-ciphering frames) read by the real collectd.

  lux    the simulator (--generate smarty, frames wrapped in HDLC) on a
         pseudo-terminal: what csv stores equals the plaintext's registers
  wrong  the simulator over TCP, read with the wrong DecryptionKey: nothing
         stored, one rate-limited error naming the meter, decrypt_error
         counted, no key in the log
  raw    frames written by this test (tools/dsmrsim/aesgcm.py) with its own
         AuthenticationKey: all three length forms, bare and in HDLC (also
         segmented), replayed and backwards frame counters refused and
         counted (also across a reconnect), a frame sealed with another
         authentication key refused
and configuration errors for bad keys (collectd -T), which never show the
key either."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)
sys.path.insert(0, os.path.join(d.SRCDIR, "tools"))
from dsmrsim.aesgcm import hdlc_wrap, smarty_frame  # noqa: E402

KEY = "000102030405060708090A0B0C0D0E0F"     # the simulator's default
WRONG = "F0E1D2C3B4A5968778695A4B3C2D1E0F"
KEY2 = "2B7E151628AED2A6ABF7158809CF4F3C"
AUTH2 = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
LUX_AUTH = "00112233445566778899AABBCCDDEEFF"
SECRETS = (KEY, WRONG, KEY2, AUTH2)
MISSING = "/dev/dsmr-test-no-such-device"


def leaked(text, extra=()):
    """Which secrets (or long pieces of them) appear in text."""
    low = text.lower()
    return [s for s in SECRETS + tuple(extra)
            if s.lower() in low or s[:16].lower() in low or
            s[16:].lower() in low]


# --- configuration errors (collectd -T) ----------------------------------
BAD = [
    ("DecryptionKey too short", {"DecryptionKey": "00112233"},
     r'<Meter "a">: DecryptionKey is not valid .*accepted: 32 hex digits',
     "00112233"),
    ("DecryptionKey not hex", {"DecryptionKey": "G" + KEY[1:]},
     r'<Meter "a">: DecryptionKey is not valid .*accepted: 32 hex digits',
     "G" + KEY[1:]),
    ("DecryptionKey 33 digits", {"DecryptionKey": KEY + "0"},
     r'<Meter "a">: DecryptionKey is not valid .*accepted: 32 hex digits',
     KEY + "0"),
    ("AuthenticationKey bad", {"DecryptionKey": KEY2,
                               "AuthenticationKey": AUTH2[:-1] + "x"},
     r'<Meter "a">: AuthenticationKey is not valid .*accepted: 32 hex '
     r'digits', AUTH2[:-1] + "x"),
    ("AuthenticationKey without DecryptionKey", {"AuthenticationKey": AUTH2},
     r'<Meter "a">: AuthenticationKey without DecryptionKey', AUTH2),
]
for what, opts, rx, value in BAD:
    c = d.Collectd([d.meter_block("a", device=MISSING, **opts)],
                   write_plugins=False, tag="smcfg")
    out = d.check_refused(tap, c, what, rx, "the option and what is accepted")
    tap.ok(value.lower() not in out.lower() and not leaked(out),
           "%s: the value is not shown" % what, out)

c = d.Collectd([d.meter_block("a", device=MISSING, DecryptionKey=KEY2,
                              AuthenticationKey=AUTH2.lower())],
               write_plugins=False, tag="smcfg")
rc, out = c.check()
tap.is_(rc, 0, "DecryptionKey and AuthenticationKey (lower case): "
        "collectd -T succeeds")
tap.ok(re.search(r"dsmr plugin: version .* reading 1 meter", out) and
       not leaked(out), "and logs no key", out)


# --- the running plugin ----------------------------------------------------
tmp = d.tmpdir("smarty")


def milli(text):
    """'008554.813' (kWh, kvarh, kW) -> 8554813 (Wh, varh, W), exactly."""
    whole, frac = text.split(".")
    return float(int(whole) * 1000 + int(frac.ljust(3, "0")[:3]))


man_lux = os.path.join(tmp, "lux.jsonl")
man_wrong = os.path.join(tmp, "wrong.jsonl")
pty_path = os.path.join(tmp, "lux")
N_LUX, N_WRONG = 8, 6
sim_lux, [ready] = d.start_sim(
    ["--pty", pty_path, "--generate", "smarty", "--smarty-hdlc",
     "--interval", "10", "--rate", "4", "--count", str(N_LUX), "--unique",
     "--seed", "31", "--wait", "--smarty-counter", "1000"], man_lux)
tap.ok(ready.startswith("pty " + pty_path), "simulator (HDLC) on a pty",
       ready)
sim_wrong, [ready] = d.start_sim(
    ["--tcp", "127.0.0.1:0", "--generate", "smarty", "--rate", "4",
     "--count", str(N_WRONG), "--seed", "32", "--wait"], man_wrong)
port = ready.rsplit(":", 1)[-1]
tap.ok(ready.startswith("listening on") and port.isdigit(),
       "simulator on TCP", ready)

raw = d.PtyMeter(os.path.join(tmp, "raw"))
cd = d.Collectd([
    d.meter_block("lux", device=pty_path, DecryptionKey=KEY,
                  SilenceTimeout=300),
    d.meter_block("wrong", host="127.0.0.1", port=port, DecryptionKey=WRONG,
                  SilenceTimeout=300),
    d.meter_block("raw", device=raw.path, DecryptionKey=KEY2,
                  AuthenticationKey=AUTH2, SilenceTimeout=300),
], tag="smarty", writers=("csv",)).start()
tap.ok(cd.wait_log(r'meter "raw": connected to device'), "raw: connected")


# --- raw: frames written byte for byte -------------------------------------
TITLE = b"SAG\x00\x00\x01\x02\x03"
KEY2B, AUTH2B = bytes.fromhex(KEY2), bytes.fromhex(AUTH2)


def plain(wh):
    """A short Smarty telegram (fits every length form) with 1.8.0 = wh."""
    return d.telegram(["1-3:0.2.8(42)",
                       "1-0:1.8.0(%06d.%03d*kWh)" % divmod(wh, 1000)],
                      header="Lux5\\253694471_M")


def seal(fc, wh, form="82", auth=AUTH2B):
    return smarty_frame(KEY2B, TITLE, fc, plain(wh), form, auth)


tap.ok(len(plain(100001)) + 17 <= 0x7F, "a telegram short enough for the "
       "one-byte length form (%d bytes)" % len(plain(100001)))
stream = [
    ("one-byte length form", seal(10, 100001, "short")),
    ("81 length form", seal(11, 100002, "81")),
    ("82 length form, in HDLC", hdlc_wrap(seal(12, 100003))),
    ("82 length form, in segmented HDLC", hdlc_wrap(seal(13, 100004), 24)),
]
tap.ok(stream[0][1][10] == 17 + len(plain(100001)) and
       stream[1][1][10] == 0x81 and stream[2][1][:2] == b"\x7e\xa0" and
       stream[3][1][:2] == b"\x7e\xa8",
       "the frames have the forms they claim")
want = []
for what, frame in stream:
    raw.write(frame, chunk=7, pause=0.001)
    want.append(100001.0 + len(want))
    rows = cd.wait_csv("raw", "dsmr_energy-import", len(want))
    tap.is_([v for _, v in rows], want, "raw: %s, 7 bytes at a time: "
            "decrypted and stored" % what)
    time.sleep(0.05)

raw.write(stream[2][1])                 # the very same frame again
raw.write(seal(5, 100099))              # authentic, counter went backwards
tap.is_(cd.wait_last("raw", "dsmr_telegrams-replayed", 2), 2,
        "raw: a repeated frame and a backwards frame counter: replayed 2")
tap.ok(cd.wait_log(r'meter "raw": Smarty frame counter 12 is not above the '
                   r'last accepted 13: refused as a replay'),
       "raw: the replay is logged with both counters")
raw.write(seal(14, 100098, auth=bytes.fromhex(LUX_AUTH)))
tap.is_(cd.wait_last("raw", "dsmr_telegrams-decrypt_error", 1), 1,
        "raw: a frame under another authentication key: decrypt_error 1")
raw.write(seal(15, 100005))
want.append(100005.0)
rows = cd.wait_csv("raw", "dsmr_energy-import", len(want))
tap.is_([v for _, v in rows], want, "raw: none of those three stored; the "
        "next good frame is")

# The line is lost mid-frame; after the reconnect, the frame counter is
# still remembered and the half frame does not hold up the next one.
raw.write(seal(16, 100006)[:40])
time.sleep(0.2)
raw.close()
time.sleep(0.3)
raw.open()
tap.ok(cd.wait_log(r'meter "raw": connection to .* restored', timeout=15),
       "raw: reconnected")
time.sleep(0.3)
raw.write(seal(15, 100097))             # replay across the reconnect
raw.write(seal(17, 100007))
want.append(100007.0)
rows = cd.wait_csv("raw", "dsmr_energy-import", len(want))
tap.is_([v for _, v in rows], want, "raw: after the reconnect the next "
        "frame is stored, the replayed one is not")
tap.is_(cd.wait_last("raw", "dsmr_telegrams-replayed", 3), 3,
        "raw: replayed 3 (a replay across the reconnect)")
tap.is_(cd.wait_last("raw", "dsmr_telegrams-ok", len(want)), len(want),
        "raw: dsmr_telegrams-ok = %d" % len(want))

# --- lux and wrong: the simulator ------------------------------------------
d.wait_procs((sim_lux, sim_wrong), 30)
tap.ok(sim_lux.returncode == 0 and sim_wrong.returncode == 0,
       "both simulators ran to the end",
       "lux %r, wrong %r" % (sim_lux.returncode, sim_wrong.returncode))
sent = [e for e in d.read_manifest(man_lux) if e["delivered"]]
tap.is_(len(sent), N_LUX, "lux: %d frames delivered" % N_LUX)
tap.is_([e["frame_counter"] for e in sent], list(range(1000, 1000 + N_LUX)),
        "lux: with frame counters 1000 on")
rows = cd.wait_csv("lux", "dsmr_energy-import", len(sent))
CHECKS = [("dsmr_energy-import", "1-0:1.8.0", milli),
          ("dsmr_energy-export", "1-0:2.8.0", milli),
          ("dsmr_reactive_energy-import", "1-0:3.8.0", milli),
          ("dsmr_reactive_energy-export", "1-0:4.8.0", milli),
          ("power-import", "1-0:1.7.0", milli),
          ("voltage-l1", "1-0:32.7.0", float),
          ("current-l2", "1-0:51.7.0", float)]
for ident, obis, conv in CHECKS:
    got = [v for _, v in cd.wait_csv("lux", ident, len(sent))]
    tap.is_(got, [conv(e["registers"][obis]) for e in sent],
            "lux: %s = %s of every decrypted telegram" % (ident, obis))
tap.is_(cd.wait_last("lux", "dsmr_telegrams-ok", len(sent)), len(sent),
        "lux: dsmr_telegrams-ok = %d" % len(sent))
tap.is_(cd.wait_last("lux", "dsmr_telegrams-decrypt_error", 0), 0,
        "lux: no decrypt errors")
lux_bytes = sum(e["bytes"] for e in sent)
tap.is_(cd.wait_last("lux", "total_bytes-received", lux_bytes), lux_bytes,
        "lux: total_bytes-received counts the encrypted bytes (%d)"
        % lux_bytes)

wrong_sent = [e for e in d.read_manifest(man_wrong) if e["delivered"]]
tap.ok(len(wrong_sent) >= N_WRONG - 1, "wrong: %d frames delivered"
       % len(wrong_sent))
tap.is_(cd.wait_last("wrong", "dsmr_telegrams-decrypt_error",
                     len(wrong_sent)),
        len(wrong_sent), "wrong: every frame counted as decrypt_error")
tap.is_(cd.csv_rows("wrong", "dsmr_energy-import"), [],
        "wrong: nothing stored")
tap.is_(cd.wait_last("wrong", "dsmr_telegrams-ok", 0), 0,
        "wrong: no telegram ok")

elapsed, rc = cd.stop()
tap.ok(rc == 0 and elapsed < 2.0, "collectd stops cleanly (%.2f s)" % elapsed)

log = cd.log()
errs = [l for l in log.splitlines()
        if re.search(r'meter "wrong": Smarty frame \d+ failed '
                     r'authentication', l)]
tap.is_(len(errs), 1, "wrong: the failure is logged once (rate-limited)")
tap.ok(errs and "wrong DecryptionKey or AuthenticationKey" in errs[0],
       "wrong: the log line says the key is wrong", *errs)
tap.ok(re.search(r'meter "lux": Smarty frames decrypt \(system title '
                 r'534147[0-9A-F]{10}, frame counter 1000, in HDLC frames\)',
                 log) and
       re.search(r'meter "raw": Smarty frames decrypt \(system title '
                 r'5341470000010203, frame counter 10\)', log),
       "the first decrypted frame is logged once, with title and counter",
       *[l for l in log.splitlines() if "decrypt (" in l])
tap.ok("Smarty frames decrypt" not in "".join(
    l for l in log.splitlines() if 'meter "wrong"' in l),
    "wrong: never said to decrypt")
tap.ok(not leaked(log), "no key in the log", *leaked(log))
COMPLAINTS = ("authentication", "replay", "cut short", "malformed", "CRC",
              "dropped", "larger than")
tap.ok(not [l for l in log.splitlines() if 'meter "lux"' in l and
            any(w in l for w in COMPLAINTS)],
       "lux: no complaint at all",
       *[l for l in log.splitlines() if 'meter "lux"' in l])
sys.exit(tap.done())
