#!/usr/bin/env python3
"""Every way a meter line fails, one meter each, in one collectd (plus one
collectd running as an unprivileged user):

  permission  collectd runs as 'nobody' (setpriv) and the device is a pty
              owned by root:dialout mode 0660: a real EACCES (as root, open()
              ignores file modes). The log line names the device, the user,
              the device's group and what to change; once the mode is
              fixed the meter connects without a restart.
  vanish      a pty that hangs up and whose node disappears in the middle
              of a telegram; when it is back, the rest of that telegram
              arrives and then a whole one: only the whole one is stored.
  vanishtcp   the same over TCP (the dongle closes mid-telegram).
  endless     a meter that sends '/' and then lines forever (10 MB) without
              '!': counted once as too_large, logged once, memory stays
              flat, and the next real telegram is stored.
  baud        bytes that never frame, as a wrong baud rate or parity gives
              them: random bytes, then real telegrams in 7E1 read as 8N1
              (bit 7 set by parity, so '/' never appears). Nothing stored,
              the bytes counted, and the FAILURE after SilenceTimeout says
              that bytes arrive and to check Baudrate/DataBits/Parity.
  silenttcp   a TCP peer that accepts and never sends: FAILURE after
              SilenceTimeout (without the bytes hint), no hang.
At the end both collectds stop within 2 s of SIGTERM.
(Missing device at start: test_reconnect.py; shutdown while connecting,
reading or backing off and ten meters: test_shutdown.py; 10 MB/s:
test_flood.py.)"""
import os
import pwd
import random
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("failures")
os.chmod(tmp, 0o755)  # 'nobody' must resolve the permission meter's link

# --- collectd as 'nobody', reading a root-owned pty ----------------------
unpriv = None
if os.geteuid() == 0:
    try:
        pwd.getpwnam("nobody")
        unpriv = "nobody"
    except KeyError:
        pass
perm = d.PtyMeter(os.path.join(tmp, "perm"))
perm_dev = os.ttyname(perm.slave)
# As udev makes USB serial adapters: root:dialout 0660 (a pty comes as
# root:tty 0620; without 'dialout', any group of which nobody is no member).
try:
    import grp
    dialout = grp.getgrnam("dialout").gr_gid
except KeyError:
    dialout = os.stat(perm_dev).st_gid
os.chown(perm_dev, 0, dialout)
os.chmod(perm_dev, 0o660)
if unpriv:
    cd_perm = d.Collectd([d.meter_block("perm", device=perm.path)],
                         tag="perm", user=unpriv,
                         writers=("csv",)).start()

# --- everything else, as root -------------------------------------------
vanish = d.PtyMeter(os.path.join(tmp, "vanish"))
vtcp = d.TcpMeter()
endless = d.PtyMeter(os.path.join(tmp, "endless"))
baud = d.PtyMeter(os.path.join(tmp, "baud"))
silent = d.TcpMeter()
cd = d.Collectd([
    d.meter_block("vanish", device=vanish.path),
    d.meter_block("vanishtcp", host="127.0.0.1", port=vtcp.port),
    d.meter_block("endless", device=endless.path),
    d.meter_block("baud", device=baud.path, SilenceTimeout=2),
    d.meter_block("silenttcp", host="127.0.0.1", port=silent.port,
                  SilenceTimeout=2),
], tag="failures", writers=("csv",)).start()
t_start = time.monotonic()
tap.is_(len(cd.wait_log(r'meter "(vanish|endless|baud)": connected', count=3)),
        3, "pty meters connected")
tap.ok(vtcp.wait_client(5) and silent.wait_client(5), "TCP meters connected")

# Bytes that never frame, as a wrong baud rate or parity gives them: sent
# now, before SilenceTimeout, so that the silence is one with bytes.
rng = random.Random(7)
junk = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
parity = bytes((b & 0x7F) | (0x80 if bin(b & 0x7F).count("1") & 1 else 0)
               for b in d.telegram(d.dsmr5_lines(import_t1=40.001)) * 20)
baud.write(junk + parity)


def tel(kwh, power=100):
    return d.telegram(d.dsmr5_lines(import_t1=kwh, power_w=power))


def stored(meter):
    return [v for _, v in cd.csv_rows(meter, "dsmr_energy-import_t1")]


def health(c, meter, ident):
    rows = c.csv_rows(meter, ident)
    return rows[-1][1] if rows else None


def wait_health(c, meter, ident, cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        v = health(c, meter, ident)
        if (v is not None and cond(v)) or time.monotonic() > deadline:
            return v
        time.sleep(0.1)


# --- permission denied ---------------------------------------------------
if not unpriv:
    tap.diag("not root: no way to run collectd as another user; the "
             "permission test is skipped")
else:
    rx = (r'\[warning\] dsmr plugin: meter "perm": cannot open device %s: '
          r'permission denied opening %s \(owner root, group (\w+), mode 0660\)'
          r' as user nobody: add user nobody to the group \'\1\' \(e\.g\. '
          r'usermod -aG \1 nobody\) and restart collectd, or run collectd as '
          r'root' % (re.escape(perm.path), re.escape(perm_dev)))
    found = cd_perm.wait_log(rx)
    tap.ok(found, "permission denied: one clear log line (device, user, "
           "group, what to do)", *[l for l in cd_perm.log().splitlines()
                                   if "perm" in l][:5])
    os.chmod(perm_dev, 0o666)  # the admin fixes it (udev rule, group...)
    # Its retries come after 1, 2, 4, 8, 16 s (then every 30 s): the
    # deadline covers a retry that began its long wait just before the fix.
    tap.ok(cd_perm.wait_log(r'meter "perm": connection to device .* restored|'
                            r'meter "perm": connected', timeout=35),
           "after the fix the meter connects, without a restart")
    perm.write(tel(1.5))
    got = cd_perm.wait_csv("perm", "dsmr_energy-import_t1", 1)
    tap.is_([v for _, v in got], [1500.0], "... and its telegram is stored")
    tap.is_(len([l for l in cd_perm.log().splitlines()
                 if "permission denied" in l]), 1,
            "the permission problem was logged once, not per retry")

# --- vanishing in the middle of a telegram ------------------------------
vanish.write(tel(10.001))
vtcp.send(tel(20.001))
cd.wait_csv("vanish", "dsmr_energy-import_t1", 1)
cd.wait_csv("vanishtcp", "dsmr_energy-import_t1", 1)
cut_pty, cut_tcp = tel(10.002), tel(20.002)
vanish.write(cut_pty[:len(cut_pty) // 2])
vtcp.send(cut_tcp[:len(cut_tcp) // 2])
time.sleep(0.3)
vanish.close()
vtcp.drop_clients()
tap.ok(cd.wait_log(r'meter "vanish": lost device'), "pty: vanished "
       "mid-telegram, the loss is logged")
tap.ok(cd.wait_log(r'meter "vanishtcp": lost tcp'), "tcp: closed "
       "mid-telegram, the loss is logged")
vanish.open()
tap.ok(vtcp.wait_client(6), "tcp: reconnected")
tap.ok(cd.wait_log(r'meter "vanish": connection to device .* restored',
                   timeout=8), "pty: reconnected when the node is back")
time.sleep(0.3)
# The rest of the cut telegram: with the first half it would make a
# valid telegram, but those bytes died with the connection.
vanish.write(cut_pty[len(cut_pty) // 2:] + tel(10.003))
vtcp.send(cut_tcp[len(cut_tcp) // 2:] + tel(20.003))
cd.wait_csv("vanish", "dsmr_energy-import_t1", 2)
cd.wait_csv("vanishtcp", "dsmr_energy-import_t1", 2)
time.sleep(0.5)
tap.is_(stored("vanish"), [10001.0, 10003.0],
        "pty: the cut telegram is not stored, the next whole one is")
tap.is_(stored("vanishtcp"), [20001.0, 20003.0],
        "tcp: the cut telegram is not stored, the next whole one is")
for m in ("vanish", "vanishtcp"):
    v = [wait_health(cd, m, "dsmr_telegrams-" + k, lambda x: True)
         for k in ("crc_error", "malformed")]
    tap.is_(v, [0.0, 0.0], "%s: no CRC error or malformed telegram from the "
            "halves" % m)

# --- a meter that never sends '!' ----------------------------------------
endless.write(tel(30.001))
cd.wait_csv("endless", "dsmr_energy-import_t1", 1)
rss0 = cd.rss_kb()
line = b"1-0:1.8.1(000123.456*kWh)\r\n"
block = line * (64 * 1024 // len(line))
total = 0
endless.write(b"/ISK5\\2M550T-1012\r\n\r\n")
t0 = time.monotonic()
while total < 10 * 1024 * 1024:
    endless.write(block)
    total += len(block)
t_endless = time.monotonic() - t0
rss1 = cd.rss_kb()
endless.write(tel(30.002))
got = cd.wait_csv("endless", "dsmr_energy-import_t1", 2)
tap.is_([v for _, v in got], [30001.0, 30002.0],
        "endless: after %.1f MB without '!' (%.1f s), the next telegram is "
        "stored" % (total / 1e6, t_endless))
tap.is_(wait_health(cd, "endless", "dsmr_telegrams-too_large",
                    lambda v: v >= 1), 1.0,
        "endless: counted once as too_large")
v = wait_health(cd, "endless", "total_bytes-received",
                lambda v: v >= total)
tap.ok(v is not None and v >= total, "endless: every byte counted (%s)" % v)
tap.is_(len(cd.wait_log(r'meter "endless": telegram larger than '
                        r'MaxTelegramSize 8192 bytes: dropped')), 1,
        "endless: logged once")
if d.instrumented():
    tap.skip("endless: collectd's memory stays flat (%s kB -> %s kB)"
             % (rss0, rss1), d.instrumented())
else:
    tap.ok(rss0 and rss1 and rss1 - rss0 < 4096,
           "endless: collectd's memory stays flat (%s kB -> %s kB)"
           % (rss0, rss1))

# --- bytes that never frame (sent at the start, see above) ------------
found = cd.wait_log(r'Notification: severity = FAILURE.*plugin_instance = '
                    r'baud.*no valid telegram for \d+ s \(SilenceTimeout 2 s\)'
                    r'; \d+ bytes arrived meanwhile: check Baudrate, DataBits '
                    r'and Parity', timeout=8)
tap.ok(found, "baud: FAILURE after SilenceTimeout, saying bytes arrive and "
       "to check the line settings")
tap.ok(re.search(r'\[warning\] dsmr plugin: meter "baud": no valid telegram '
                 r'for \d+ s; \d+ bytes arrived meanwhile: check Baudrate',
                 cd.log()), "baud: the same in the log")
v = wait_health(cd, "baud", "total_bytes-received",
                lambda v: v >= len(junk) + len(parity))
tap.is_(v, float(len(junk) + len(parity)), "baud: every byte counted")
tap.is_(health(cd, "baud", "dsmr_telegrams-ok"), 0.0, "baud: no telegram ok "
        "(the random bytes hold a '/' junk '!' frame without CRC)")
tap.is_(stored("baud"), [], "baud: nothing stored")

# --- a TCP peer that accepts and never sends -----------------------------
found = cd.wait_log(r'Notification: severity = FAILURE.*plugin_instance = '
                    r'silenttcp.*message = meter "silenttcp": no valid '
                    r'telegram for \d+ s \(SilenceTimeout 2 s\)$', timeout=8)
tap.ok(found, "silent TCP peer: FAILURE after SilenceTimeout (no bytes hint)")
v = wait_health(cd, "silenttcp", "dsmr_age", lambda v: v >= 2)
tap.ok(v is not None and v >= 2, "silent TCP peer: dsmr_age grows (%s)" % v)

tap.ok(cd.running(), "collectd kept running through all of it")
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops within 2 s (%.2f s, "
       "status %s), a peer still silent" % (elapsed, rc))
if unpriv:
    elapsed, rc = cd_perm.stop()
    tap.ok(elapsed < 2.0 and rc == 0, "the unprivileged collectd stops "
           "within 2 s (%.2f s, status %s)" % (elapsed, rc))
log = cd.log()
tap.ok(not re.search(r"\[error\]", log), "no error in the log",
       *[l for l in log.splitlines() if "[error]" in l])
sys.exit(tap.done())
