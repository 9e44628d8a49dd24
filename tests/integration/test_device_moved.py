#!/usr/bin/env python3
"""A configured device link that moves while the old tty stays open and
silent (issue 14, point 3): /dev/serial/by-id/... names another tty after
a re-plug, or the link is removed for 5 s and comes back pointing
elsewhere. The old tty never hangs up (its other side stays open), so no
read ever fails: the plugin must notice on a quiet second that the
configured path no longer names the open device, open it again, count a
reconnect and store what the new tty sends.

Real collectd, real ptys; the "link" is a symlink like udev's by-id
names."""
import os
import re
import sys
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("moved")
link = os.path.join(tmp, "usb-meter-if00-port0")


class Pty:
    """A pty kept open on both sides: it never hangs up, it only falls
    silent when nothing is written."""

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)
        d.on_cleanup(self.close)

    def write(self, data):
        os.write(self.master, data)

    def close(self):
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def point(target):
    tmpl = link + ".new"
    os.symlink(target, tmpl)
    os.replace(tmpl, link)


def telegram(kwh):
    return d.telegram(d.dsmr5_lines(import_t1=kwh, power_w=100))


a, b, c = Pty(), Pty(), Pty()
point(a.name)
cd = d.Collectd([d.meter_block("m", device=link)], tag="moved").start()


def stored():
    return [v for _, v in cd.csv_rows("m", "dsmr_energy-import_t1")]


def feed_until(p, kwh, count, timeout=30):
    """Writes a telegram each second (as a meter does) until count values
    are stored."""
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n += 1
        p.write(telegram(kwh + n / 1000.0))
        time.sleep(1)
        if len(stored()) >= count:
            return True
    return False


def reconnects():
    rows = cd.csv_rows("m", "dsmr_reconnects")
    return rows[-1][1] if rows else None


tap.ok(cd.wait_log(r'meter "m": connected to device'), "connected")
tap.ok(feed_until(a, 100, 1), "first tty: a telegram is stored")

# --- the link is repointed; the first tty stays open and silent ----------
point(b.name)
tap.ok(cd.wait_log(r'\[warning\] dsmr plugin: meter "m": lost device %s: %s '
                   r'now names another device than the one opened through '
                   r'it, which is silent; reconnecting'
                   % (re.escape(link), re.escape(link)), timeout=10),
       "the move is noticed on silence and logged with its reason")
n0 = len(stored())
tap.ok(feed_until(b, 200, n0 + 3), "second tty: its telegrams are stored")
got = stored()
tap.ok(all(v > 200000 for v in got[n0:]) and len(got) >= n0 + 3,
       "the values are the second tty's", got)
deadline = time.monotonic() + 5
while reconnects() != 1.0 and time.monotonic() < deadline:
    time.sleep(0.2)
tap.is_(reconnects(), 1.0, "dsmr_reconnects counts the reopening")

# --- the link disappears for 5 s, then comes back pointing elsewhere ------
os.unlink(link)
tap.ok(cd.wait_log(r'meter "m": lost device %s: %s no longer exists while '
                   r'the device opened through it is silent'
                   % (re.escape(link), re.escape(link)), timeout=10),
       "a removed link is noticed too")
time.sleep(5)
point(c.name)
n1 = len(stored())
tap.ok(feed_until(c, 300, n1 + 3, timeout=45),
       "third tty: telegrams stored after the link came back")
got = stored()
tap.ok(len(got) > n1 and all(v > 300000 for v in got[n1:]),
       "the values are the third tty's",
       got[n1:])
deadline = time.monotonic() + 5
while reconnects() != 2.0 and time.monotonic() < deadline:
    time.sleep(0.2)
tap.is_(reconnects(), 2.0, "dsmr_reconnects: 2")

# A link that stays put is never reopened: no further loss in 3 quiet s.
losses = len(re.findall(r'meter "m": lost device', cd.log()))
time.sleep(3)
tap.is_(len(re.findall(r'meter "m": lost device', cd.log())), losses,
        "a quiet tty whose link did not move is not reopened")
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd exits 0")
sys.exit(tap.done())
