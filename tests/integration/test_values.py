#!/usr/bin/env python3
"""Values, times and rejections, as collectd's own csv and rrdtool plugins
store them. Three meters at once: "home" (DSMR 5 on a pseudo-terminal, with
gas), "old" (DSMR 2.2 without CRC, 9600 7E1, on a pseudo-terminal) and
"net" (DSMR 5 over TCP). Telegrams are written by this test byte for byte,
so that every stored value and time can be predicted exactly."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("values")
home = d.PtyMeter(os.path.join(tmp, "home"))
old = d.PtyMeter(os.path.join(tmp, "old"))
net = d.TcpMeter()

cd = d.Collectd([
    d.meter_block("home", device=home.path, MaxTelegramSize=2048,
                  SilenceTimeout=300),
    d.meter_block("old", device=old.path, Baudrate=9600, DataBits=7,
                  Parity="even", SilenceTimeout=300),
    d.meter_block("net", host="127.0.0.1", port=net.port, SilenceTimeout=300),
], tag="values").start()

up = cd.wait_log(r'meter "(home|old)": connected to device', count=2)
tap.is_(len(up), 2, "both pty meters connected")
tap.ok(cd.wait_log(r'meter "old": connected to device .*9600 7E1'),
       "the DSMR 2.2 meter is opened at 9600 7E1")
tap.ok(net.wait_client(5), "the TCP meter was connected to")

sent_home = 0  # bytes written to "home", for total_bytes


def send_home(data, **kw):
    """Write to home; returns (time before the last byte, time after)."""
    global sent_home
    t0 = time.time()
    home.write(data, **kw)
    sent_home += len(data)
    return t0, time.time()


GAS1, GAS2 = "240615115500S", "240615120000S"

# --- clean telegrams on all three meters --------------------------------
t1 = send_home(d.telegram(d.dsmr5_lines(import_t1=1000.001, power_w=1234,
                                        voltage=231.4, gas_ts=GAS1,
                                        gas_m3=100.001)))
net.send(d.telegram(d.dsmr5_lines(import_t1=2000.002, power_w=500)))
old.write(d.telegram([
    "0-0:96.1.1(00000000000000)",
    "1-0:1.8.1(00123.456*kWh)",
    "1-0:1.8.2(00001.001*kWh)",
    "0-0:96.14.0(0001)",
    "1-0:1.7.0(0001.01*kW)",
    "1-0:2.7.0(0000.00*kW)",
], header="ISk5\\2MT382-1004", crc=False))

rows = cd.wait_csv("home", "dsmr_energy-import_t1", 1)
tap.is_([v for _, v in rows], [1000001.0],
        "home: 1000.001 kWh stored as 1000001 Wh (exact)")
tap.ok(rows and t1[0] - 0.002 <= rows[0][0] <= t1[1] + 0.5,
       "home: its time is the arrival of the last byte",
       "sent %.3f..%.3f, stored %r" % (t1[0], t1[1], rows))
tap.is_([v for _, v in cd.wait_csv("home", "power-import", 1)], [1234.0],
        "home: 1.234 kW stored as 1234 W")
tap.is_([v for _, v in cd.wait_csv("home", "voltage-l1", 1)], [231.4],
        "home: voltage 231.4 V")
gas = cd.wait_csv("home", "dsmr_volume-gas", 1)
tap.is_(gas, [(float(d.p1_time_to_utc(GAS1)), 100001.0)],
        "home: gas 100.001 m3 stored as 100001 L at its capture time "
        "(2024-06-15 11:55:00 summer time = 09:55:00Z)")
tap.is_([v for _, v in cd.wait_csv("net", "dsmr_energy-import_t1", 1)],
        [2000002.0], "net (TCP): 2000.002 kWh stored as 2000002 Wh")
tap.is_([v for _, v in cd.wait_csv("old", "dsmr_energy-import_t1", 1)],
        [123456.0], "old (DSMR 2.2, no CRC, 7E1): 123.456 kWh stored")
tap.is_([v for _, v in cd.wait_csv("old", "power-import", 1)], [1010.0],
        "old: 1.01 kW stored as 1010 W")

# --- telegrams that must store nothing ---------------------------------
send_home(d.telegram(d.dsmr5_lines(import_t1=9999.999, power_w=9999),
                     bad_crc=True))
tap.is_(cd.wait_last("home", "dsmr_telegrams-crc_error", 1), 1,
        "bad CRC: counted as crc_error")
# This meter has sent CRCs: a telegram without one is a damaged CRC line.
send_home(d.telegram(d.dsmr5_lines(import_t1=8888.888, power_w=8888),
                     crc=False))
tap.is_(cd.wait_last("home", "dsmr_telegrams-crc_error", 2), 2,
        "missing CRC from a meter that sends CRCs: counted as crc_error")
bad_line = d.dsmr5_lines(import_t1=7777.777, power_w=7777)
bad_line[3] = "1-0:1.8.1(7777.7x7*kWh)"
send_home(d.telegram(bad_line))
tap.is_(cd.wait_last("home", "dsmr_telegrams-malformed", 1), 1,
        "a register that is not a number: counted as malformed")
big = d.dsmr5_lines(import_t1=6666.666, power_w=6666,
                    extra=["0-0:96.13.0(%s)" % ("41" * 1100)])
send_home(d.telegram(big))
tap.is_(cd.wait_last("home", "dsmr_telegrams-too_large", 1), 1,
        "a telegram beyond MaxTelegramSize 2048: counted as too_large")
stored = [v for _, v in cd.csv_rows("home", "dsmr_energy-import_t1")]
tap.is_(stored, [1000001.0], "none of the four stored an energy value")
stored = [v for _, v in cd.csv_rows("home", "power-import")]
tap.is_(stored, [1234.0], "none of the four stored a power value")

# --- chunked delivery, repeated gas capture ------------------------------
t2 = send_home(d.telegram(d.dsmr5_lines(import_t1=1000.002, power_w=1234,
                                        voltage=231.4, gas_ts=GAS1,
                                        gas_m3=100.001)),
               chunk=7, pause=0.002)
rows = cd.wait_csv("home", "dsmr_energy-import_t1", 2)
tap.is_([v for _, v in rows], [1000001.0, 1000002.0],
        "a telegram arriving 7 bytes at a time is stored once")
tap.ok(len(rows) == 2 and t2[0] - 0.002 <= rows[1][0] <= t2[1] + 0.5,
       "with the time of its last byte", "sent %.3f..%.3f, stored %r" %
       (t2[0], t2[1], rows))

# --- a meter every second, read with jitter: whole seconds stay apart ----
# collectd's rrdtool plugin rounds times to whole seconds and rejects two
# updates in one second. A telegram 0.7 s after one that arrived at x.6 s
# would round to the same second: its time moves to the next x.5 s.
time.sleep(1.0)  # a meter's pace: A must not share a second with T2 either
while not 0.55 <= time.time() % 1 < 0.65:
    time.sleep(0.005)
ta = send_home(d.telegram(d.dsmr5_lines(import_t1=1000.003, power_w=1234,
                                        voltage=231.4)))
time.sleep(max(0.0, 0.7 - (time.time() - ta[0])))
tb = send_home(d.telegram(d.dsmr5_lines(import_t1=1000.004, power_w=1234,
                                        voltage=231.4)))
rows = cd.wait_csv("home", "dsmr_energy-import_t1", 4)
sec_a = int(ta[0]) + 1  # what rrdtool makes of a time at x.6 s
tap.ok(len(rows) == 4 and ta[0] - 0.002 <= rows[2][0] <= ta[1] + 0.3,
       "a telegram at x.6 s keeps its arrival time", repr(rows[2:]))
tap.ok(len(rows) == 4 and rows[3][0] == sec_a + 0.5,
       "the next one 0.7 s later (x+1.3 s) is stored at x+1.5 s, the first "
       "instant of the next whole second", "sent at %.3f, want %.3f, got %r"
       % (tb[0], sec_a + 0.5, rows[3:]))

# --- two telegrams in one write; the gas capture moves on ----------------
time.sleep(1.1)  # a meter's pace: the pair must not share a second with B
pair = (d.telegram(d.dsmr5_lines(import_t1=1000.005, power_w=1234,
                                 voltage=231.4, gas_ts=GAS2,
                                 gas_m3=100.011)) +
        d.telegram(d.dsmr5_lines(import_t1=1000.006, power_w=1234,
                                 voltage=231.4, gas_ts=GAS2,
                                 gas_m3=100.011)))
tp = send_home(pair)
rows = cd.wait_csv("home", "dsmr_energy-import_t1", 6)
tap.is_([v for _, v in rows], [1000001.0, 1000002.0, 1000003.0, 1000004.0,
                               1000005.0, 1000006.0],
        "two telegrams in one read are both stored")
times = [t for t, _ in rows]
tap.ok(all(a < b for a, b in zip(times, times[1:])),
       "every energy time is strictly later than the one before",
       repr(times))
gas = cd.wait_csv("home", "dsmr_volume-gas", 2)
time.sleep(0.3)
gas = cd.csv_rows("home", "dsmr_volume-gas")
tap.is_(gas, [(float(d.p1_time_to_utc(GAS1)), 100001.0),
              (float(d.p1_time_to_utc(GAS2)), 100011.0)],
        "gas stored once per capture time (5 telegrams with gas, "
        "2 captures)")

# --- a telegram cut short by the next one (TCP) --------------------------
full = d.telegram(d.dsmr5_lines(import_t1=2000.003, power_w=501))
net.send(full[:len(full) // 2] + full)
rows = cd.wait_csv("net", "dsmr_energy-import_t1", 2)
tap.is_([v for _, v in rows], [2000002.0, 2000003.0],
        "net: the telegram after a cut one is stored, the cut one is not")
tap.is_(cd.wait_last("net", "dsmr_telegrams-dropped", 1), 1,
        "net: the cut telegram is counted as dropped")

# --- health values --------------------------------------------------------
tap.is_(cd.wait_last("home", "dsmr_telegrams-ok", 6), 6,
        "home: 6 telegrams ok")
tap.is_(cd.wait_last("home", "total_bytes-received", sent_home), sent_home,
        "home: total_bytes-received = every byte written (%d)" % sent_home)
tap.is_(cd.wait_last("old", "dsmr_telegrams-crc_error", 0), 0,
        "old: a meter that never sent a CRC has no CRC errors")
tap.is_(cd.wait_last("net", "dsmr_telegrams-ok", 2), 2, "net: 2 telegrams ok")
tap.is_(cd.wait_last("home", "dsmr_reconnects", 0), 0, "home: no reconnects")
age = cd.csv_rows("home", "dsmr_age")
tap.ok(age and 0 <= age[-1][1] < 5, "home: dsmr_age is seconds since the "
       "last valid telegram", repr(age[-3:]))

elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0, "collectd stops within 2 s of SIGTERM (%.2f s)"
       % elapsed)
tap.is_(rc, 0, "collectd exits 0")

# --- what rrdtool stored --------------------------------------------------
power = cd.rrd("home", "power-import")
info = d.rrd_info(power)
tap.is_(info.get("step"), "10", "power-import.rrd: step 10 s (the default "
        "interval before the telegram period is known)")
lu = d.rrd_lastupdate(power)
tap.ok(lu is not None and lu[1] == 1234.0,
       "rrdtool lastupdate of power-import: 1234 W", repr(lu))
gasrrd = cd.rrd("home", "dsmr_volume-gas")
tap.is_(d.rrd_info(gasrrd).get("step"), "300",
        "dsmr_volume-gas.rrd: step 300 s (DSMR 5 gas period)")
u1, u2 = d.p1_time_to_utc(GAS1), d.p1_time_to_utc(GAS2)
lu = d.rrd_lastupdate(gasrrd)
tap.ok(lu is not None and lu[0] == u2 and lu[1] == 100011.0,
       "rrdtool lastupdate of gas: 100011 L at the capture time", repr(lu))
fetched = dict(d.rrd_fetch(gasrrd, u1, u2))
rate = fetched.get(u2)
tap.ok(rate is not None and abs(rate - 10.0 / 300) < 1e-9,
       "rrdtool fetch: gas flow over the 5 minutes = 10 L / 300 s",
       repr(sorted(fetched.items())))

log = cd.log()
tap.ok("Value too old" not in log, "no 'value too old' in the log",
       *[l for l in log.splitlines() if "too old" in l])
# rrdtool keeps whole seconds: of the two telegrams that came in one read,
# it can only take the first. That must be the only rrdtool complaint about
# meter values. (Health values come from collectd's read loop: on a loaded
# machine it runs a late read and the next one within a second, and rrdtool
# refuses one of them, as it would for any stock read plugin.)
import re
HEALTH = ("dsmr_telegrams", "total_bytes", "dsmr_reconnects", "dsmr_age")
rrd_times = set()
for line in log.splitlines():
    m = re.search(r"/dsmr-\w+/([a-z_]+)[-.][^ ]*: illegal attempt to update "
                  r"using time (\d+)", line)
    if m and m.group(1) not in HEALTH:
        rrd_times.add(m.group(2))
pair_secs = {str(int(t + 0.5)) for t in times[4:6]}
tap.ok(rrd_times <= pair_secs,
       "rrdtool only refused the second of the two telegrams of one read",
       "refused %r, pair %r" % (sorted(rrd_times), sorted(pair_secs)),
       *[l for l in log.splitlines() if "rrd" in l])
tap.ok(log.count("failed its CRC check") == 1,
       "the CRC error is logged once", log)
sys.exit(tap.done())
