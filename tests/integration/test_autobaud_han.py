#!/usr/bin/env python3
"""Baudrate "auto" for binary HAN meters: the real collectd with the real
plugin, HAN meters on pseudo-terminals.

What a pty can prove (as in test_autobaud.py): it ignores speed and
framing, whatever the plugin sets, so a pty cannot mis-frame bytes. Here:
  - han8e1: tools/dsmr-sim --generate han-aidon on its pty (2400 8E1 set),
    Protocol "han", Baudrate "auto": the first setting probed, 2400 8E1,
    is detected by an HDLC frame whose FCS passes ("line detected: 2400
    8E1"), and every value the simulator sent is stored exactly;
  - auto: Protocol "auto", Baudrate "auto", the test as the meter. While
    the pty's speed (read back from it: the plugin really sets it) is not
    2400, the test writes Aidon frames as a UART at 8N1 reads an 8E1 line:
    a character whose parity bit is 0 ends in a framing error where the
    stop bit should be, which Linux hands over as a NUL byte. Those frames
    fail their FCS: the probe goes through 115200 8N1, 115200 7E1 and
    9600 7E1 without settling and without counting or logging them. Once
    the speed reads 2400 (the 2400 8E1 window), the frames are written as
    sent: "line detected: 2400 8E1", and exactly those frames are stored.
The probing order and windows of the HAN families are unit-tested
(tests/test_line_probe.c, tests/test_input_chain.c); that a real port
changes framing needs a real adapter."""
import os
import re
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)
tmp = d.tmpdir("autobaudhan")
N = 4


def frames_of(path):
    """The HDLC frames of a dsmr-sim --file capture (7E A? LL ... 7E)."""
    data = open(path, "rb").read()
    out, i = [], 0
    while i + 3 <= len(data):
        if data[i] != 0x7E or data[i + 1] & 0xF0 != 0xA0:
            i += 1
            continue
        n = ((data[i + 1] & 0x07) << 8 | data[i + 2]) + 2
        out.append(data[i:i + n])
        i += n
    return out


def as_8n1_from_8e1(frame):
    """What an 8N1 UART delivers from an 8E1 line: a character whose even
    parity bit is 0 is a framing error, read as a NUL byte."""
    return bytes(0 if bin(b).count("1") % 2 == 0 else b for b in frame)


# --- han8e1: the simulator's pty, Protocol "han" -----------------------------
man8 = os.path.join(tmp, "han8e1.jsonl")
pty8 = os.path.join(tmp, "han8e1")
sim8, [r8] = d.start_sim(
    ["--pty", pty8, "--generate", "han-aidon", "--han-list", "2", "--rate",
     "2", "--count", str(N), "--unique", "--seed", "71", "--wait"], man8)
tap.ok(r8.startswith("pty " + pty8), "han-aidon on a pty", r8)

# --- auto: the test is the meter ---------------------------------------------
cap = os.path.join(tmp, "aidon.bin")
mana = os.path.join(tmp, "auto.jsonl")
gen, _ = d.start_sim(["--file", cap, "--generate", "han-aidon", "--han-list",
                      "2", "--rate", "100", "--count", "30", "--unique",
                      "--seed", "72"], mana, ready_lines=0)
gen.wait(timeout=60)
frames = frames_of(cap)
recs = d.read_manifest(mana)
tap.is_(len(frames), 30, "30 Aidon frames generated")
meter = d.PtyMeter(os.path.join(tmp, "auto"))

cd = d.Collectd([
    d.meter_block("han8e1", device=pty8, Protocol="han", Baudrate="auto",
                  SilenceTimeout=300),
    d.meter_block("auto", device=meter.path, Protocol="auto",
                  Baudrate="auto", SilenceTimeout=300),
], tag="abhan", writers=("csv",)).start()

# han8e1
sim8.wait(timeout=60)
want = [float(r["registers"]["1-0:1.7.0"]) for r in d.read_manifest(man8)
        if r.get("delivered", True)]
rows = cd.wait_csv("han8e1", "power-import", N, timeout=20)
tap.is_([v for _, v in rows], want, "han8e1: every power-import stored "
        "exactly as sent (%d)" % N)
tap.ok(cd.wait_log(r'meter "han8e1": Baudrate "auto": probing 2400 8E1, '
                   r'2400 8N1 or 115200 8N1, 12 s each'),
       "han8e1: the HAN settings are probed")
tap.ok(cd.wait_log(r'meter "han8e1": line detected: 2400 8E1$'),
       "han8e1: line detected: 2400 8E1")

# auto
tap.ok(cd.wait_log(r'meter "auto": Baudrate "auto": probing 115200 8N1, '
                   r'115200 7E1, 9600 7E1, 2400 8E1 or 2400 8N1, 12 s each'),
       "auto: the DSMR and HAN settings are probed")
speeds = []


def speed():
    try:
        return termios.tcgetattr(meter.slave)[5]
    except termios.error:
        return None


deadline = time.monotonic() + 60
k = 0
while time.monotonic() < deadline and speed() != termios.B2400:
    s = speed()
    if not speeds or speeds[-1] != s:
        speeds.append(s)
    meter.write(as_8n1_from_8e1(frames[k % 10]))
    k += 1
    time.sleep(1.0)
tap.ok(speed() == termios.B2400, "auto: the plugin set the pty to 2400 "
       "(after %d mangled frames)" % k)
tap.ok(termios.B115200 in speeds and termios.B9600 in speeds,
       "auto: through 115200 and 9600 first", speeds)
tap.ok(not cd.wait_log(r'meter "auto": line detected', timeout=0.1),
       "auto: nothing detected from the mangled frames")
sent = []
for i in range(10, 10 + N):
    meter.write(frames[i])
    sent.append(float(recs[i]["registers"]["1-0:1.7.0"]))
    time.sleep(1.0)
tap.ok(cd.wait_log(r'meter "auto": line detected: 2400 8E1$', timeout=15),
       "auto: line detected: 2400 8E1")
rows = cd.wait_csv("auto", "power-import", N, timeout=15)
tap.is_([v for _, v in rows], sent, "auto: exactly the frames written at "
        "2400 stored, in order")
tap.is_(cd.wait_last("auto", "dsmr_telegrams-ok", N), N,
        "auto: dsmr_telegrams-ok %d" % N)
tap.is_(cd.wait_last("auto", "dsmr_telegrams-crc_error", 0), 0,
        "auto: the frames that failed their FCS while probing are not "
        "counted")
log = cd.log()
tap.ok(not re.search(r'meter "auto": HAN frame failed its check', log),
       "auto: nor logged")
tap.is_(len(re.findall(r'meter "(auto|han8e1)": line detected', log)), 2,
        "each meter's line is logged once")
cd.stop()
tap.done()
