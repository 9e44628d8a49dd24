#!/usr/bin/env python3
"""What the plugin says must be what happened (issue 14, point 8), with the
real collectd on ptys:
- silence while telegrams arrive that are larger than MaxTelegramSize: the
  hint says so (MaxTelegramSize, the too_large counter), it does not blame
  Baudrate and Parity, whose settings are right since telegrams frame;
- a flood of '/' bytes is noise, not dropped telegrams: dsmr_telegrams-
  dropped counts only an unfinished telegram (past its identification
  line) that the next one cut off;
- /dev/tty, which exists but is no terminal of collectd (it has none), is
  reported with the kernel's reason, not as "does not exist"."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

# collectd in a session of its own: without a controlling terminal, as a
# daemon runs (and whether or not the test itself has one).
wrapper = os.environ.get("DSMR_TEST_WRAPPER", "")
os.environ["DSMR_TEST_WRAPPER"] = ("setsid " + wrapper).strip()

tmp = d.tmpdir("messages")
big = d.PtyMeter(os.path.join(tmp, "big"))
slash = d.PtyMeter(os.path.join(tmp, "slash"))
cd = d.Collectd([
    d.meter_block("big", device=big.path, MaxTelegramSize=128,
                  SilenceTimeout=3),
    d.meter_block("slash", device=slash.path, SilenceTimeout=0),
    d.meter_block("devtty", device="/dev/tty"),
], tag="messages").start()


def telegram(kwh):
    return d.telegram(d.dsmr5_lines(import_t1=kwh, power_w=100))


tap.ok(cd.wait_log(r'meter "big": connected to device'), "big connected")
tap.ok(cd.wait_log(r'meter "slash": connected to device'), "slash connected")

# --- /dev/tty ----------------------------------------------------------------
found = cd.wait_log(r'meter "devtty": cannot open device /dev/tty: .*')
line = found[0].group(0) if found else ""
tap.ok(re.search(r'cannot open /dev/tty: No such device or address', line),
       "/dev/tty: the kernel's reason (ENXIO) is given", line)
tap.ok(line and "does not exist" not in line,
       "/dev/tty: not reported as a device that does not exist", line)

# --- telegrams too large for MaxTelegramSize, until silence is reported --
t0 = time.monotonic()
while time.monotonic() - t0 < 6:
    big.write(telegram(1.0))
    time.sleep(0.5)
found = cd.wait_log(r'\[warning\] dsmr plugin: meter "big": no valid '
                    r'telegram for \d+ s; \d+ bytes arrived meanwhile: .*',
                    timeout=8)
tap.ok(found, "big: silence reported", cd.log())
hint = found[0].group(0) if found else ""
tap.ok(re.search(r'telegrams arrive but are larger than MaxTelegramSize 128 '
                 r'bytes: raise it if the meter really sends such \(counters '
                 r'since the last valid telegram: too_large \d+\)', hint),
       "big: the hint says what the counters say (too_large, "
       "MaxTelegramSize)", hint)
tap.ok("Baudrate" not in hint and "Parity" not in hint,
       "big: the line settings are not blamed", hint)
notif = cd.wait_log(r'Notification: severity = FAILURE.*plugin_instance = big'
                    r'.*no valid telegram.*larger than MaxTelegramSize 128')
tap.ok(notif, "big: the FAILURE notification says the same", cd.log())

# --- a flood of '/' bytes ------------------------------------------------------
FLOOD = 2 * 1024 * 1024
cut = telegram(2.0)
cut = cut[:cut.index(b"1-0:1.8.1")]  # header and a blank line: cut off
slash.write(b"/" * FLOOD, chunk=65536)
slash.write(telegram(2.5))
time.sleep(1.2)  # one telegram a second, as a meter sends them
slash.write(cut)
slash.write(telegram(2.501))
if not tap.is_(cd.wait_last("slash", "dsmr_telegrams-ok", 2, timeout=20), 2,
               "slash: both whole telegrams stored"):
    tap.diag("\n".join(l for l in cd.log().splitlines() if "slash" in l))
tap.is_(cd.wait_last("slash", "dsmr_telegrams-dropped", 1, timeout=5), 1,
        "slash: dropped counts the one telegram cut off, not %d '/' bytes"
        % FLOOD)
tap.is_(len(re.findall(r'meter "slash": an unfinished telegram was cut off',
                       cd.log())), 1,
        "slash: that one cut is logged")
time.sleep(1.5)
tap.is_(cd.wait_last("slash", "dsmr_telegrams-dropped", 1, timeout=1), 1,
        "slash: and stays 1")
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd exits 0")
sys.exit(tap.done())
