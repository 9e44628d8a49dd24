#!/usr/bin/env python3
"""Two gas meters on M-Bus channels 1 and 2 (issue 14, point 2): when
channel 1 sends its placeholder (000101000000W, no reading) for a while,
channel 2 keeps the name gas_ch2 and channel 1 keeps gas, in the real
collectd's csv files, with no rejected telegram and no false "restarted"
or "went backwards" warning. Also: a Smarty meter that leaves units out
(1-0:3.7.0(00.000)) is read, and logged once. Telegrams are written by
this test byte for byte, so every stored value and time is exact."""
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("gasch")
pty = d.PtyMeter(os.path.join(tmp, "gas2"))
lux = d.PtyMeter(os.path.join(tmp, "lux"))
cd = d.Collectd([
    d.meter_block("g", device=pty.path, SilenceTimeout=300),
    d.meter_block("lux", device=lux.path, SilenceTimeout=300),
], tag="gasch").start()
tap.is_(len(cd.wait_log(r'meter "(g|lux)": connected to device', count=2)),
        2, "both meters connected")

# 2024-10-27 10:00 UTC+1 (winter time), then every 5 minutes
T0 = calendar.timegm((2024, 10, 27, 9, 0, 0, 0, 0, 0))


def stamp(utc):
    return time.strftime("%y%m%d%H%M%S", time.gmtime(utc + 3600)) + "W"


def gas_telegram(i, ch1, ch2):
    """Telegram i (its clock T0 + 5 min * i); ch1/ch2: m3 or None for the
    placeholder a channel without a reading sends."""
    now = T0 + 300 * i
    lines = [
        "1-3:0.2.8(50)",
        "0-0:1.0.0(%s)" % stamp(now),
        "0-0:96.1.1(4530303433303037313331363236373137)",
        "1-0:1.8.1(%010.3f*kWh)" % (1000 + i),
        "1-0:1.7.0(00.500*kW)",
    ]
    for ch, m3 in ((1, ch1), (2, ch2)):
        lines.append("0-%d:24.1.0(003)" % ch)
        if m3 is None:
            lines.append("0-%d:24.2.1(000101000000W)(00000.000*m3)" % ch)
        else:
            lines.append("0-%d:24.2.1(%s)(%09.3f*m3)" % (ch, stamp(now), m3))
    return d.telegram(lines)


# channel 1 reads 100 m3, channel 2 5,000 m3; then channel 1 sends its
# placeholder five times; then it is back.
plan = [(100.000, 5000.000)]
plan += [(None, 5000.000 + 0.001 * k) for k in range(1, 6)]
plan += [(100.006, 5000.006)]
want_gas, want_ch2 = [], []
for i, (c1, c2) in enumerate(plan):
    pty.write(gas_telegram(i, c1, c2))
    if c1 is not None:
        want_gas.append((float(T0 + 300 * i), round(c1 * 1000)))
    want_ch2.append((float(T0 + 300 * i), round(c2 * 1000)))
    cd.wait_csv("g", "dsmr_energy-import_t1", i + 1, timeout=10)

got_ch2 = cd.wait_csv("g", "dsmr_volume-gas_ch2", len(want_ch2), timeout=10)
got_gas = cd.wait_csv("g", "dsmr_volume-gas", len(want_gas), timeout=10)
tap.is_(got_gas, [(t, float(v)) for t, v in want_gas],
        "dsmr_volume-gas: channel 1's readings only (100000 L, 100006 L), "
        "at their capture times")
tap.is_(got_ch2, [(t, float(v)) for t, v in want_ch2],
        "dsmr_volume-gas_ch2: all 7 of channel 2's readings, exact, at their "
        "capture times")
tap.is_(cd.csv_rows("g", "dsmr_volume-gas_ch1"), [],
        "no dsmr_volume-gas_ch1: channel 1 keeps its plain name")
tap.is_([v for _, v in cd.csv_rows("g", "dsmr_energy-import_t1")],
        [1000000.0 + 1000 * i for i in range(len(plan))],
        "every telegram dispatched (its electricity register stored)")

after = time.time()
tap.ok(cd.wait_report("g", after), "a health report after the last telegram")


def last(ident):
    r = cd.csv_rows("g", ident)
    return r[-1][1] if r else None


tap.is_(last("dsmr_telegrams-ok"), float(len(plan)),
        "dsmr_telegrams-ok = %d" % len(plan))
tap.is_(last("dsmr_telegrams-malformed"), 0.0, "no malformed telegram")
tap.is_(last("dsmr_telegrams-implausible"), 0.0, "no implausible telegram")
log = cd.log()
bad = [l for l in log.splitlines()
       if re.search(r"restarted|went backwards|malformed|implausible", l)]
tap.is_(bad, [], "no restarted / went backwards / malformed warning")

# --- Smarty without units (openHAB's test telegram, CR LF as sent) -------
with open(os.path.join(d.SRCDIR, "tests", "corpus", "telegrams",
                       "openhab_smarty_unitless.p1"), "rb") as f:
    smarty = f.read()
lux.write(smarty)
rows = cd.wait_csv("lux", "dsmr_reactive_power-export", 1)
tap.is_([v for _, v in rows], [7.0],
        "1-0:4.7.0(00.007) without unit: 7 var")
tap.is_([v for _, v in cd.wait_csv("lux", "dsmr_apparent_power-threshold",
                                   1)], [77376.0],
        "0-0:17.0.0(77.376) without unit: 77376 VA")
tap.is_([v for _, v in cd.wait_csv("lux", "dsmr_energy-import", 1)], [6695.0],
        "the rest of the telegram: 6.695 kWh = 6695 Wh")
time.sleep(1.1)
text = smarty.decode("latin-1").split("\r\n")
lux.write(d.telegram([l.replace("1-0:1.7.0(00.000*kW)", "1-0:1.7.0(00.001*kW)")
                      for l in text[2:text.index("!CFDE")]],
                     header=text[0][1:]))
cd.wait_csv("lux", "power-import", 2)
told = cd.wait_log(r'meter "lux": values without a unit, read in the unit '
                   r'of the OBIS table: (.*)$')
tap.is_([m.group(1) for m in told], ["0-0:17.0.0 1-0:3.7.0 1-0:4.7.0"],
        "logged once, naming the objects")
tap.is_(cd.stop()[1], 0, "collectd stops cleanly")
sys.exit(tap.done())
