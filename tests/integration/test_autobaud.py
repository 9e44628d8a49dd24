#!/usr/bin/env python3
"""Baudrate "auto": the real collectd with the real plugin, meters on
pseudo-terminals.

What a pseudo-terminal can and cannot prove. A pty ignores the baud rate
and the character size: whatever the plugin sets, the bytes arrive as they
were written. So this test cannot show that a real 9600-baud line is found
at 9600 (the plugin's first setting, 115200 8N1, already reads everything a
pty delivers). What it does prove, with real bytes:
  - a 7E1 line read as 8N1 (the simulator's --baud-bits 7e1 puts even
    parity in bit 7, exactly what a UART at 8N1 delivers from a 7E1 line)
    is rescued by masking bit 7, reported as "115200 7E1", and every value
    stored is the one the simulator sent (its manifest), none lost;
  - a plain 8N1 stream is reported as "115200 8N1";
  - a settled line goes back to probing after a run of invalid telegrams,
    and after a spell of bytes without a valid telegram (the stream turning
    from 8N1 into 7E1 on the same, never closed, pty), and is found again;
  - a silent meter's port is switched through every setting, 12 s each,
    without losing the connection: the speed is read back from the pty,
    the framing asked for is seen by the test shim of test_libserialport.py
    (observing only: a pty keeps 8 bits without parity whatever is asked);
  - the same through libserialport (the shim fakes what it needs from a
    pty, as for test_libserialport.py): sp_set_config is asked for each
    setting, and a telegram that arrives while 9600 7E1 is probed is found
    there (on a pty any setting would read it);
  - a pty that refuses a framing-only change is still opened at 9600 7E1;
  - the conflicting options are refused by `collectd -T`.
The probing order, windows and their timing are unit-tested
(tests/test_line_probe.c); that the port really changes speed needs a real
adapter (doc/hardware.md: "Line settings")."""
import os
import re
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)
tmp = d.tmpdir("autobaud")
MISSING = "/dev/dsmr-test-no-such-device"

# --- configuration: conflicts fail `collectd -T`, auto alone passes -------
BAD = [
    ("auto with Parity", 'Device "%s"\n  Baudrate "auto"\n  Parity "even"'
     % MISSING,
     r'<Meter "a">: Parity "even" conflicts with Baudrate "auto", which '
     r'probes data bits, parity and stop bits too; accepted: Baudrate '
     r'"auto" without DataBits, Parity and StopBits'),
    ("auto with StopBits", 'Device "%s"\n  StopBits 1\n  Baudrate "Auto"'
     % MISSING, r'<Meter "a">: StopBits 1 conflicts with Baudrate "auto"'),
    ("auto with Host", 'Host "127.0.0.1"\n  Port 2000\n  Baudrate "auto"',
     r'<Meter "a">: Baudrate "auto" is not valid with Host "127.0.0.1": .*'
     r'accepted: Baudrate "auto" only with Device'),
    ("auto with DecryptionKey", 'Device "%s"\n  Baudrate "auto"\n'
     '  DecryptionKey "000102030405060708090A0B0C0D0E0F"' % MISSING,
     r'<Meter "a">: Baudrate "auto" is not valid with DecryptionKey: .*'
     r'accepted: no Baudrate \(115200 8N1, the default\) with DecryptionKey'),
]
for what, body, rx in BAD:
    c = d.Collectd([], plugin_block='<Plugin dsmr>\n<Meter "a">\n  %s\n'
                   '</Meter>\n</Plugin>' % body, write_plugins=False,
                   tag="abcfg")
    out = d.check_refused(tap, c, what, rx, "the conflict and what is accepted")
    tap.ok("0102030405" not in out, "%s: no key in the output" % what)

c = d.Collectd([], plugin_block='<Plugin dsmr>\n<Meter "a">\n  Device "%s"\n'
               '  Baudrate "AUTO"\n  DataRequest "rts"\n</Meter>\n</Plugin>'
               % MISSING, write_plugins=False, tag="abcfg")
rc, out = c.check()
tap.is_(rc, 0, 'Baudrate "AUTO" (any case) with DataRequest: collectd -T '
        'succeeds')


# --- simulator: a 7E1 DSMR 2.2 meter and an 8N1 DSMR 5 meter -------------
COUNT = 8
old_pty, new_pty = os.path.join(tmp, "old"), os.path.join(tmp, "new")
man_old, man_new = os.path.join(tmp, "old.jsonl"), os.path.join(tmp, "new.jsonl")
sim_old, [ready_old] = d.start_sim(
    ["--pty", old_pty, "--generate", "dsmr22", "--baud-bits", "7e1",
     "--interval", "600", "--rate", "2", "--count", str(COUNT), "--unique",
     "--seed", "21", "--wait", "--start", "2024-01-10T08:00:00Z"], man_old)
sim_new, [ready_new] = d.start_sim(
    ["--pty", new_pty, "--generate", "dsmr5", "--interval", "60",
     "--rate", "2", "--count", str(COUNT), "--unique", "--seed", "22",
     "--wait", "--start", "2024-01-10T08:00:00Z"], man_new)
tap.ok(ready_old.startswith("pty ") and ready_new.startswith("pty "),
       "simulators: ptys ready", ready_old, ready_new)

cd = d.Collectd([d.meter_block("old", device=old_pty, Baudrate="auto",
                               SilenceTimeout=300),
                 d.meter_block("new", device=new_pty, Baudrate="auto",
                               SilenceTimeout=300)], tag="autobaud").start()
tap.ok(cd.wait_log(r'meter "old": connected to device .*Baudrate auto'),
       "connected, the log says Baudrate auto")
tap.ok(cd.wait_log(r'meter "old": Baudrate "auto": probing 115200 8N1, '
                   r'115200 7E1 or 9600 7E1, 12 s each'),
       "the log names the settings probed")
det_old = cd.wait_log(r'meter "old": line detected: (.*)', timeout=15)
det_new = cd.wait_log(r'meter "new": line detected: (.*)', timeout=15)
tap.ok(det_old and det_old[0].group(1).startswith("115200 7E1"),
       '7E1 stream (parity in bit 7): "line detected: 115200 7E1"',
       det_old and det_old[0].group(0))
tap.ok(det_old and "bit 7" in det_old[0].group(1),
       "... found by masking bit 7 of an 8N1 reading")
tap.is_(det_new and det_new[0].group(1), "115200 8N1",
        '8N1 stream: "line detected: 115200 8N1"')

for p in (sim_old, sim_new):
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        pass
tap.ok(sim_old.returncode == 0 and sim_new.returncode == 0,
       "both simulators ran to the end")

for name, man in (("old", man_old), ("new", man_new)):
    sent = [e for e in d.read_manifest(man) if e["delivered"] and e["clean"]]
    rows = cd.wait_csv(name, "dsmr_energy-import_t1", len(sent), timeout=10)
    want = [float(d.wh(e["registers"]["1-0:1.8.1"])) for e in sent]
    got = [v for _, v in rows]
    tap.is_(len(sent), COUNT, "%s: all %d telegrams delivered" % (name, COUNT))
    tap.is_(got, want, "%s: every telegram stored once, with the exact "
            "register the simulator sent (the first included)" % name)
    power = [v for _, v in cd.csv_rows(name, "power-import")]
    want_p = [float(d.wh(e["registers"]["1-0:1.7.0"])) for e in sent]
    tap.is_(power, want_p, "%s: power stored exactly" % name)
log = cd.log()
tap.ok(not re.search(r'meter "(old|new)": .*(CRC|malformed)', log),
       "no CRC or malformed complaints while probing",
       *[l for l in log.splitlines() if "CRC" in l or "malformed" in l])
tap.is_(len(re.findall(r"line detected", log)), 2,
        "each meter's line is logged once")
cd.stop()


# --- a line that changes under a settled meter ----------------------------
meter = d.PtyMeter(os.path.join(tmp, "change"))
# "sw" stays silent while "ch" is tested: its probe goes through every
# setting. The pty's termios (shared by every opener, the test holds the
# slave too) shows what the plugin set: real even on a pty, but only the
# speed (Linux keeps a pty at CS8 without parity and refuses to change
# that; the plugin then sets the speed alone).
silent = d.PtyMeter(os.path.join(tmp, "silent"))
# The test shim of test_libserialport.py, only observing (DSMR_SHIM_FAKE=0):
# it logs every tcsetattr on a pty as asked for, framing included, which
# the pty itself does not keep.
shim = os.path.join(d.BUILDDIR, "tests", "integration", ".libs",
                    "ptyshim.so")
shim_log = os.path.join(tmp, "shim.log")
env = {"LD_PRELOAD": shim, "DSMR_SHIM_LOG": shim_log,
       "DSMR_SHIM_FAKE": "0"} if os.path.isfile(shim) else None
# "sp" goes through libserialport, as a USB adapter would (the shim fakes
# what libserialport needs from a pty, as in test_libserialport.py): it is
# silent until the probe is at its third setting, then sends a telegram.
sp_pty = d.PtyMeter(os.path.join(tmp, "sp"))
sp_log = os.path.join(tmp, "spshim.log")
cd_sp = sp_connected = None
if env:
    cd_sp = d.Collectd([d.meter_block("sp", device=sp_pty.path,
                                      Baudrate="auto", SilenceTimeout=300)],
                       tag="absp", writers=("csv",),
                       env={"LD_PRELOAD": shim,
                            "DSMR_SHIM_LOG": sp_log}).start()
    sp_connected = cd_sp.wait_log(r'meter "sp": connected to device .*\(via '
                                  r'libserialport, Baudrate auto\)')
    sp_timer = threading.Timer(
        2 * 12 + 3,
        lambda: sp_pty.write(d.telegram(d.dsmr5_lines(import_t1=777.777))))
    sp_timer.start()
cd = d.Collectd([d.meter_block("ch", device=meter.path, Baudrate="auto",
                               SilenceTimeout=300),
                 d.meter_block("sw", device=silent.path, Baudrate="auto",
                               SilenceTimeout=300)], tag="abchange",
                env=env).start()
tap.ok(cd.wait_log(r'meter "ch": connected to device'), "change: connected")
tap.ok(cd.wait_log(r'meter "sw": connected to device'), "silent: connected")
seen = []


def watch_termios(fd, until):
    """The distinct line settings the pty goes through, in order."""
    names = {termios.B115200: "115200", termios.B9600: "9600"}
    while time.monotonic() < until:
        try:
            attr = termios.tcgetattr(fd)
        except termios.error:
            return
        cflag = attr[2]
        state = "%s %s%s1" % (
            names.get(attr[5], str(attr[5])),
            "7" if cflag & termios.CSIZE == termios.CS7 else "8",
            "E" if cflag & termios.PARENB and not cflag & termios.PARODD
            else "N" if not cflag & termios.PARENB else "O")
        if not seen or seen[-1][1] != state:
            seen.append((time.monotonic(), state))
        time.sleep(0.1)


watcher = threading.Thread(target=watch_termios,
                           args=(silent.slave, time.monotonic() + 40),
                           daemon=True)
watcher.start()
seq = [0]


def send(kind, n, pause=1.0):
    """n telegrams, a second apart; returns their import_t1 in Wh."""
    sent = []
    for _ in range(n):
        seq[0] += 1
        kwh = 1000.0 + seq[0] * 0.011
        tg = d.telegram(d.dsmr5_lines(import_t1=kwh, power_w=500),
                        bad_crc=(kind == "badcrc"))
        meter.write(d.parity_7e1(tg) if kind == "7e1" else tg)
        sent.append(round(kwh * 1000))
        time.sleep(pause)
    return sent


good1 = send("8n1", 3)
tap.ok(cd.wait_log(r'meter "ch": line detected: 115200 8N1$'),
       "change: 8N1 detected")
send("badcrc", 5)
tap.ok(cd.wait_log(r'meter "ch": line 115200 8N1 no longer works \(invalid '
                   r'telegrams in a row\): probing line settings again'),
       "change: 5 invalid telegrams in a row: back to probing")
good2 = send("8n1", 2)
tap.ok(cd.wait_log(r'meter "ch": line detected: 115200 8N1$', count=2),
       "change: the same line found again")
t_change = time.monotonic()
good3 = []
lost = []
# 8N1 -> 7E1: the settled reader sees bytes but no telegram at all (no '/'
# survives: it has 5 bits set, so its parity bit is set); after the quiet
# time (30 s) it probes again and the masked copy finds the 7E1 line.
while time.monotonic() - t_change < 60 and not lost:
    good3 += send("7e1", 1)
    lost = cd.wait_log(r'meter "ch": line 115200 8N1 no longer works \(bytes '
                       r'arrive but no valid telegram', timeout=0)
tap.ok(lost, "change: 8N1 -> 7E1: back to probing after the quiet time")
tap.ok(time.monotonic() - t_change >= 29,
       "change: ... not before the quiet time (30 s)")
after = send("7e1", 3)
tap.ok(cd.wait_log(r'meter "ch": line detected: 115200 7E1 \(read as 8N1',
                   timeout=15), "change: 7E1 detected after the change")
rows = cd.wait_csv("ch", "dsmr_energy-import_t1",
                   len(good1) + len(good2) + 2, timeout=10)
got = [int(v) for _, v in rows]
tap.ok(all(v in got for v in good1 + good2),
       "change: every valid 8N1 telegram stored", got)
tap.ok(all(v in good1 + good2 + good3 + after for v in got),
       "change: nothing stored that was not sent", got)
tap.ok(after[-1] in got and after[-2] in got,
       "change: telegrams after the change are stored", after, got)
tap.ok(not any(v in got for v in good3[:-3]),
       "change: nothing stored from the 7E1 stream read unmasked", good3, got)

watcher.join()
speeds = []
for t, st in seen:
    if not speeds or speeds[-1][1] != st.split()[0]:
        speeds.append((t, st.split()[0]))
tap.is_([sp for _, sp in speeds[:3]], ["115200", "9600", "115200"],
        "silent: the pty is set to 9600 for the third setting, then back to "
        "115200 (states seen: %s)" % ", ".join(st for _, st in seen))
tap.ok(len(speeds) >= 3 and 11 <= speeds[2][0] - speeds[1][0] <= 13.5,
       "silent: 9600 for about 12 s (one window)",
       [round(t - seen[0][0], 1) for t, _ in speeds])
if env:
    with open(shim_log) as f:
        asked = [l.split()[1] + " " + l.split()[2] for l in f
                 if l.startswith("tcsetattr ")]
    # Only "sw" switches ("ch" is always found within its window): after
    # the two opens at 115200 8N1, what it asked for, in order. (A pty
    # refuses a request that only changes the framing: the plugin then asks
    # again with the pty's own, hence the 8N1 after 7E1.)
    want = ["115200 7E1", "9600 7E1", "115200 8N1"]
    it = iter(asked[2:])
    tap.ok(asked[:2] == ["115200 8N1"] * 2 and
           all(any(a == w for a in it) for w in want),
           "silent: the plugin asked for 115200 7E1, then 9600 7E1, then "
           "115200 8N1 (tcsetattr seen by the test shim)", *asked)
else:
    tap.skip("silent: framing asked for", "test shim not built")
tap.ok(cd.wait_log(r'meter "sw": Baudrate "auto": no valid telegram at 115200 '
                   r'8N1, 115200 7E1 or 9600 7E1 yet; still trying', timeout=1),
       "silent: after a full cycle, one warning")
tap.ok(not cd.wait_log(r'meter "sw": (lost|line detected)', timeout=0),
       "silent: switching the line never lost the connection")
cd.stop()

if cd_sp:
    sp_timer.join()
    tap.ok(sp_connected, "libserialport: opened via libserialport")
    tap.ok(cd_sp.wait_log(r'meter "sp": line detected: 9600 7E1$'),
           "libserialport: a telegram sent while 9600 7E1 is probed: "
           "detected there (a pty delivers it at any setting)",
           *[l for l in cd_sp.log().splitlines() if "dsmr" in l])
    tap.is_([v for _, v in cd_sp.wait_csv("sp", "dsmr_energy-import_t1", 1)],
            [777777.0], "libserialport: and stored")
    with open(sp_log) as f:
        asked = [l.split()[1] + " " + l.split()[2] for l in f
                 if l.startswith("tcsetattr ")]
    tap.ok(asked[-3:] == ["115200 8N1", "115200 7E1", "9600 7E1"],
           "libserialport: the port was set to 115200 8N1, 115200 7E1, "
           "9600 7E1 through sp_set_config", *asked)
    tap.ok(not cd_sp.wait_log(r'meter "sp": lost', timeout=0),
           "libserialport: without losing the connection")
    cd_sp.stop()
else:
    tap.skip("libserialport path", "test shim not built")

# --- a pty already raw: opening it at 9600 7E1 changes only the framing ---
# Linux refuses (EINVAL) a termios request on a pty whose only change is
# character size or parity; the plugin must then take the rest (as it does
# for every probing step above). Before that, a 7E1 meter behind a pty the
# plugin had opened before (a reconnect) could not be opened again.
raw = d.PtyMeter(os.path.join(tmp, "raw"))
attr = termios.tcgetattr(raw.slave)
attr[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK |
             termios.ISTRIP | termios.INLCR | termios.IGNCR | termios.ICRNL |
             termios.IXON | termios.IXOFF | termios.IXANY)
attr[1] &= ~termios.OPOST
attr[2] &= ~(termios.CSIZE | termios.PARENB | termios.PARODD |
             termios.CSTOPB | termios.CRTSCTS)
attr[2] |= termios.CS8 | termios.CLOCAL | termios.CREAD
attr[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG |
             termios.IEXTEN)
attr[4] = attr[5] = termios.B9600
attr[6][termios.VMIN], attr[6][termios.VTIME] = 1, 0
termios.tcsetattr(raw.slave, termios.TCSANOW, attr)
want7 = list(attr)
want7[2] = (attr[2] & ~termios.CSIZE) | termios.CS7 | termios.PARENB
try:
    termios.tcsetattr(raw.slave, termios.TCSANOW, want7)
    refused = False
except termios.error:
    refused = True
if not refused:
    tap.skip("raw pty at 9600 7E1", "this kernel does not refuse CS7 on a pty")
else:
    cd = d.Collectd([d.meter_block("raw7", device=raw.path, Baudrate=9600,
                                   DataBits=7, Parity="even",
                                   SilenceTimeout=300)], tag="abraw").start()
    tap.ok(cd.wait_log(r'meter "raw7": connected to device .*9600 7E1'),
           "a pty already raw (the kernel refuses CS7 on it) opens at 9600 7E1",
           *[l for l in cd.log().splitlines() if "raw7" in l])
    raw.write(d.telegram(d.dsmr5_lines(import_t1=4321.5)))
    tap.is_([v for _, v in cd.wait_csv("raw7", "dsmr_energy-import_t1", 1)],
            [4321500.0], "and its telegram is stored")
    cd.stop()
sys.exit(tap.done())
