#!/usr/bin/env python3
"""Losing the meter and getting it back, without restarting collectd:
a pseudo-terminal that hangs up and whose node disappears, a TCP dongle
that goes away and comes back on the same port, and a device that does not
exist yet when collectd starts. Each loss and each recovery is logged once
(not once per retry) and raises a notification; values flow again after
it; dsmr_reconnects counts the recoveries."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("reconnect")
pty = d.PtyMeter(os.path.join(tmp, "pty"))
net = d.TcpMeter()
late_path = os.path.join(tmp, "late")

cd = d.Collectd([
    d.meter_block("pty", device=pty.path),
    d.meter_block("net", host="127.0.0.1", port=net.port),
    d.meter_block("late", device=late_path),
], tag="reconnect").start()


def count(rx):
    return len([l for l in cd.log().splitlines() if re.search(rx, l)])


def telegram(kwh):
    return d.telegram(d.dsmr5_lines(import_t1=kwh, power_w=100))


def stored(meter):
    return [v for _, v in cd.csv_rows(meter, "dsmr_energy-import_t1")]


tap.ok(cd.wait_log(r'meter "pty": connected to device'), "pty connected")
tap.ok(net.wait_client(5), "net connected")
tap.ok(cd.wait_log(r'meter "late": cannot open device %s: .*does not exist'
                   % re.escape(late_path)),
       "a device missing at start-up is logged, collectd keeps running")

pty.write(telegram(10.001))
net.send(telegram(20.001))
cd.wait_csv("pty", "dsmr_energy-import_t1", 1)
cd.wait_csv("net", "dsmr_energy-import_t1", 1)
tap.is_(stored("pty"), [10001.0], "pty: first telegram stored")
tap.is_(stored("net"), [20001.0], "net: first telegram stored")

# --- both meters go away -------------------------------------------------
pty.close()
net.stop()
tap.ok(cd.wait_log(r'\[warning\] dsmr plugin: meter "pty": lost device .*: '
                   r'(read failed|end of file|hang-up)'),
       "pty: the loss is logged with its reason")
tap.ok(cd.wait_log(r'\[warning\] dsmr plugin: meter "net": lost tcp '
                   r'127\.0\.0\.1:\d+: connection closed by peer'),
       "net: the loss is logged with its reason")
tap.ok(cd.wait_log(r'Notification: severity = FAILURE.*plugin_instance = pty'
                   r'.*message = meter "pty": connection to device .* lost'),
       "pty: FAILURE notification 'connection lost'")
tap.ok(cd.wait_log(r'Notification: severity = FAILURE.*plugin_instance = net'
                   r'.*connection to tcp .* lost'),
       "net: FAILURE notification 'connection lost'")

# Retries at 1 s, then 2 s later...: 3.5 s of absence is 2 failed retries.
time.sleep(3.5)
tap.ok(cd.running(), "collectd keeps running without its meters")
tap.is_(count(r'meter "late": cannot open device'), 1,
        "late: a device missing for 3.5 s is logged once, not per retry")
tap.is_(count(r'meter "pty": reconnecting to device .*does not exist'), 1,
        "pty: the failed retries are logged once (with the new reason)")

# --- the missing device appears; both meters come back --------------------
# Each reader retries after 1, 2, 4, 8, 16 s: on a busy machine this point
# may come after a long wait has begun, hence the deadlines (30 s at most
# between retries).
late = d.PtyMeter(late_path)
pty.open()
net.listen()
tap.ok(cd.wait_log(r'meter "late": connected to device .*\(via termios',
                   timeout=35),
       "late: connected once the device appeared (no restart)")
tap.ok(cd.wait_log(r'\[info\] dsmr plugin: meter "pty": connection to '
                   r'device .* restored .*after \d+ failed attempt',
                   timeout=35), "pty: the recovery is logged")
tap.ok(net.wait_client(35), "net: the plugin connected again")
tap.ok(cd.wait_log(r'meter "net": connection to tcp .* restored'),
       "net: the recovery is logged")
tap.ok(cd.wait_log(r'Notification: severity = OKAY.*plugin_instance = pty.*'
                   r'connection to device .* restored'),
       "pty: OKAY notification 'connection restored'")
tap.ok(cd.wait_log(r'Notification: severity = OKAY.*plugin_instance = net.*'
                   r'restored'), "net: OKAY notification")

pty.write(telegram(10.002))
net.send(telegram(20.002))
late.write(telegram(30.001))
cd.wait_csv("pty", "dsmr_energy-import_t1", 2)
cd.wait_csv("net", "dsmr_energy-import_t1", 2)
cd.wait_csv("late", "dsmr_energy-import_t1", 1)
tap.is_(stored("pty"), [10001.0, 10002.0], "pty: values flow again")
tap.is_(stored("net"), [20001.0, 20002.0], "net: values flow again")
tap.is_(stored("late"), [30001.0], "late: values flow")

deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    r = [cd.csv_rows(m, "dsmr_reconnects") for m in ("pty", "net", "late")]
    if all(x for x in r) and [x[-1][1] for x in r] == [1.0, 1.0, 0.0]:
        break
    time.sleep(0.1)
tap.is_([x[-1][1] if x else None for x in r], [1.0, 1.0, 0.0],
        "dsmr_reconnects: pty 1, net 1, late 0 (a first connection is no "
        "reconnect)")

tap.is_(count(r'meter "pty": lost device'), 1, "pty: the loss was logged once")
tap.is_(count(r'dsmr plugin: meter "pty": connection to device .* restored'), 1,
        "pty: the recovery was logged once")

# --- net goes away again: collectd is stopped while it backs off ---------
net.stop()
tap.is_(len(cd.wait_log(r'meter "net": lost tcp', count=2)), 2,
        "net: the second loss is logged")
time.sleep(1.5)
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0, "collectd stops within 2 s of SIGTERM while a meter "
       "is backing off (%.2f s)" % elapsed)
tap.is_(rc, 0, "collectd exits 0")
sys.exit(tap.done())
