#!/usr/bin/env python3
"""Notifications, as collectd's logfile plugin writes them: a new text
message from the grid operator (hex-decoded), a new entry in the
power-failure log, voltage sags and swells counting up (WARNING), and a
meter that goes silent for SilenceTimeout (FAILURE) and comes back (OKAY).
What was already there at the first telegram (the failure log, the
counters) is history, not news."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("events")
pty = d.PtyMeter(os.path.join(tmp, "meter"))
cd = d.Collectd([d.meter_block("ev", device=pty.path, SilenceTimeout=2)],
                tag="events").start()
tap.ok(cd.wait_log(r'meter "ev": connected'), "meter connected")


def hexify(text):
    return text.encode("latin-1").hex().upper()


def notes(severity=None):
    out = []
    for l in cd.log().splitlines():
        m = re.search(r"Notification: severity = (\w+),.*message = (.*)$", l)
        if m and (severity is None or m.group(1) == severity):
            out.append(m.group(2))
    return out


def wait_notes(rx, n=1, timeout=6.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [x for x in notes() if re.search(rx, x)]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def judged(n, timeout=10.0):
    """Wait until the read callback reports n telegrams ok: the reader
    counts a telegram after it is done with it, notifications included."""
    deadline = time.monotonic() + timeout
    while True:
        rows = cd.csv_rows("ev", "dsmr_telegrams-ok")
        if (rows and rows[-1][1] >= n) or time.monotonic() > deadline:
            return rows[-1][1] if rows else None
        time.sleep(0.05)


def lines(kwh, text="", failures=(), sags=(0, 0, 0), swells=(0, 0, 0)):
    log = "1-0:99.97.0(%d)(0-0:96.7.19)%s" % (
        len(failures), "".join("(%s)(%010d*s)" % f for f in failures))
    extra = [
        "0-0:96.7.21(00004)",
        "0-0:96.7.9(00002)",
        log,
        "1-0:32.32.0(%05d)" % sags[0],
        "1-0:52.32.0(%05d)" % sags[1],
        "1-0:72.32.0(%05d)" % sags[2],
        "1-0:32.36.0(%05d)" % swells[0],
        "1-0:52.36.0(%05d)" % swells[1],
        "1-0:72.36.0(%05d)" % swells[2],
        "0-0:96.13.0(%s)" % hexify(text),
    ]
    return d.dsmr5_lines(import_t1=kwh, extra=extra)


F1 = ("240101120000W", 240)
F2 = ("240615100000S", 300)

# 1: a standing message is news; the failure log and counters are history.
pty.write(d.telegram(lines(1.001, text="Storing 14:00-16:00\tin uw wijk",
                           failures=[F1], sags=(3, 0, 0), swells=(0, 1, 0))))
found = wait_notes(r"message from the grid operator")
tap.is_(found, ['meter "ev": message from the grid operator: '
                'Storing 14:00-16:00 in uw wijk'],
        "text message: one notification, hex-decoded, tab made a space")
tap.ok(re.search(r"severity = WARNING.*message from the grid operator",
                 cd.log()), "text message notification is a WARNING")
time.sleep(0.5)
tap.is_([x for x in notes() if "power failure" in x or "rose" in x], [],
        "a failure log and counters already there at start raise nothing")

# 2: same message again, a new failure, sags on L1 and swells on L3 go up.
pty.write(d.telegram(lines(1.002, text="Storing 14:00-16:00\tin uw wijk",
                           failures=[F1, F2], sags=(4, 0, 0),
                           swells=(0, 1, 2))))
found = wait_notes(r"new power failure")
tap.is_(found, ['meter "ev": new power failure logged: 300 s, ended '
                '2024-06-15T08:00:00Z (2 in the log)'],
        "power failure: one WARNING with duration and end time (UTC)")
found = wait_notes(r"rose from", n=2)
tap.is_(sorted(found), ['meter "ev": voltage_sags_l1 rose from 3 to 4',
                        'meter "ev": voltage_swells_l3 rose from 0 to 2'],
        "sags and swells: one WARNING per counter that went up")
tap.ok(re.search(r"severity = WARNING.*type_instance = voltage_sags_l1",
                 cd.log()), "the sag notification names the counter")
judged(2)
tap.is_(len(wait_notes(r"message from the grid operator", n=2,
                       timeout=0.5)), 1,
        "the same message again raises nothing")

# 3: a new message; a cleared one raises nothing.
pty.write(d.telegram(lines(1.003, text="Einde storing",
                           failures=[F1, F2], sags=(4, 0, 0),
                           swells=(0, 1, 2))))
tap.is_(len(wait_notes(r"message from the grid operator", n=2)), 2,
        "a different message is news again")
t_sent = time.time()  # before the write: the plugin reads it after this
pty.write(d.telegram(lines(1.004, text="", failures=[F1, F2],
                           sags=(4, 0, 0), swells=(0, 1, 2))))
t_last = time.time()
judged(4)
tap.is_(len(wait_notes(r"message from the grid operator", n=3,
                       timeout=0.5)), 2, "an emptied message raises nothing")
tap.is_(len([x for x in notes() if "power failure" in x or "rose" in x]), 3,
        "unchanged failure log and counters raise nothing more")

# 4: silence, then the meter is back.
found = wait_notes(r"no valid telegram for", timeout=8)
tap.ok(found and re.match(r'meter "ev": no valid telegram for [23] s '
                          r'\(SilenceTimeout 2 s\)', found[0]),
       "silence: FAILURE after SilenceTimeout 2 s", repr(found))


def first_check(timeout=5.0):
    """The time of the read callback that raised the FAILURE, in collectd's
    own clock: the same call dispatched dsmr_age, and it is the first age
    of 2 s or more since the last telegram. (When this test noticed the log
    line says more about this test's polling than about collectd.)"""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in cd.csv_rows("ev", "dsmr_age")
                if r[0] > t_sent and r[1] >= 2.0]
        if rows or time.monotonic() > deadline:
            return rows[0][0] if rows else None
        time.sleep(0.05)


t_fail = first_check()
tap.ok(t_fail is not None and 2.0 <= t_fail - t_sent and
       t_fail - t_last < 4.0, "not before the timeout, and within a read "
       "interval after it (%.2f s)" % ((t_fail or 0) - t_last))
tap.ok(re.search(r"severity = FAILURE.*type_instance = silence", cd.log()),
       "the silence notification is a FAILURE")
# Two more seconds of silence, as the read callback saw them.
t_after = (t_fail or time.time()) + 2.0
tap.ok(cd.wait_report("ev", t_after), "the read callback runs on while "
       "silent")
tap.is_(len(wait_notes(r"no valid telegram for", n=2, timeout=0.1)), 1,
        "a silence is reported once, not at every read")
age = cd.csv_rows("ev", "dsmr_age")
tap.ok(age and age[-1][1] >= 3.5, "dsmr_age grows while silent", age[-2:])
pty.write(d.telegram(lines(1.005, failures=[F1, F2], sags=(4, 0, 0),
                           swells=(0, 1, 2))))
found = wait_notes(r"sends valid telegrams again")
tap.ok(found and re.search(r"severity = OKAY.*type_instance = silence.*"
                           r"sends valid telegrams again", cd.log()),
       "back: OKAY notification")

elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0, "collectd stops within 2 s (%.2f s)" % elapsed)
sys.exit(tap.done())
