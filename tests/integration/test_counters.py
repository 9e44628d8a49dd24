#!/usr/bin/env python3
"""Counters never lie: a register (energy, gas, water...) that goes
backwards, or grows faster than the meter could physically measure, is not
stored; the whole telegram it came in is rejected, counted as
dsmr_telegrams-implausible, and a WARNING notification names the
identifier, the old and the new value. A replaced meter (new equipment id
0-0:96.1.1) is accepted from its own values with a notification; a register
whose new series is confirmed by 3 readings in a row becomes the new
baseline. An M-Bus reading is judged once per capture time.

The limits (src/meter_dispatch.c): electricity 100 kW per register, gas
40 m3/h, water 25 m3/h, over (elapsed + 10 s), elapsed being the larger of
the arrival times' and the meter clocks' difference (capture times for
M-Bus). The telegrams here carry a meter clock that moves 60 s per
telegram, so electricity may grow by 100 kW x 70 s = 1944.4 Wh."""
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("counters")
pty = d.PtyMeter(os.path.join(tmp, "meter"))
cd = d.Collectd([d.meter_block("c", device=pty.path)], tag="counters").start()
tap.ok(cd.wait_log(r'meter "c": connected'), "meter connected")

T0 = calendar.timegm((2024, 1, 10, 12, 0, 0))  # meter clock of telegram 0
EQ1 = "4530303433303037313331363236373137"  # "E0043007131626717"
EQ2 = "4530303433303037313331363236373939"  # "E0043007131626799"
state = {"n": 0, "power": 100}


def stamp(unix):
    """Winter time (W = UTC+1), as the meter writes it."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(unix + 3600)) + "W"


def send(t1, gas=None, water=None, eq=EQ1, t2=2.399, export=0.0):
    """One telegram; the meter clock moves 60 s per telegram. gas/water:
    (minutes after T0 of the capture, m3). Returns the power value (W) it
    carries: unique per telegram, so that we can tell whether anything of
    the telegram was stored."""
    state["n"] += 1
    state["power"] += 1
    lines = [
        "1-3:0.2.8(50)",
        "0-0:1.0.0(%s)" % stamp(T0 + 60 * state["n"]),
        "0-0:96.1.1(%s)" % eq,
        "1-0:1.8.1(%010.3f*kWh)" % t1,
        "1-0:1.8.2(%010.3f*kWh)" % t2,
        "1-0:2.8.1(%010.3f*kWh)" % export,
        "1-0:2.8.2(000000.000*kWh)",
        "0-0:96.14.0(0002)",
        "1-0:1.7.0(%06.3f*kW)" % (state["power"] / 1000.0),
    ]
    if gas:
        lines += ["0-1:24.1.0(003)",
                  "0-1:24.2.1(%s)(%09.3f*m3)" % (stamp(T0 + 60 * gas[0]),
                                                 gas[1])]
    if water:
        lines += ["0-2:24.1.0(007)",
                  "0-2:24.2.1(%s)(%09.3f*m3)" % (stamp(T0 + 60 * water[0]),
                                                 water[1])]
    pty.write(d.telegram(lines))
    return float(state["power"])


def rows(ident):
    return [v for _, v in cd.csv_rows("c", ident)]


def health(name):
    r = cd.csv_rows("c", "dsmr_telegrams-" + name)
    return r[-1][1] if r else None


def wait_health(name, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while health(name) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return health(name)


def warnings():
    out = []
    for l in cd.log().splitlines():
        m = re.search(r"Notification: severity = WARNING, .*?"
                      r"(?:type = (\S+), )?(?:type_instance = (\S+), )?"
                      r"message = (.*)$", l)
        if m:
            out.append((m.group(1), m.group(2), m.group(3)))
    return out


def wait_warning(rx, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        found = [w for w in warnings() if re.search(rx, w[2])]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


ok_count = [0]


def whole(n):
    """Wait until the read callback counts n telegrams ok: the reader counts
    one after it dispatched all its values, and csv writes in order, so
    every value of the nth telegram is in the files then, not only the
    power value seen (gas and water come after it)."""
    return wait_health("ok", float(n), timeout=10.0)


def accepted(power, what):
    """The telegram carrying `power` was stored (its power value is)."""
    ok_count[0] += 1
    got = cd.wait_csv("c", "power-import", ok_count[0])
    whole(ok_count[0])
    return tap.ok(got and got[-1][1] == power,
                  "%s: the telegram is stored" % what, got[-2:])


def rejected(power, nth, what):
    """The telegram carrying `power` was rejected as the nth implausible
    one: counted, and nothing of it stored."""
    got = wait_health("implausible", float(nth))
    tap.is_(got, float(nth), "%s: dsmr_telegrams-implausible = %d"
            % (what, nth))
    tap.ok(power not in rows("power-import"),
           "%s: nothing of the telegram is stored" % what)


# --- a register that goes backwards -------------------------------------
accepted(send(1000.000, gas=(0, 100.000), water=(0, 10.000)), "first telegram")
tap.is_(rows("dsmr_volume-gas"), [100000.0], "gas baseline stored")
accepted(send(1000.001), "a normal step")
p = send(999.000)
found = wait_warning(r"went backwards")
tap.is_([w[2] for w in found],
        ['meter "c": dsmr_energy-import_t1 went backwards from 1000001 to '
         '999000 Wh: telegram not stored'],
        "backwards: a WARNING naming the identifier, old and new value")
tap.is_(found[0][:2] if found else None, ("dsmr_energy", "import_t1"),
        "the notification carries type and type_instance")
rejected(p, 1, "backwards")
accepted(send(1000.002), "the next good telegram")

# --- jumps: the physical limit ------------------------------------------
p = send(9000.000)
found = wait_warning(r"jumped from 1000002 to 9000000")
tap.ok(found and re.search(
    r"\(\+7999998 Wh in 60 s; at most 1944 Wh possible at 100 kW\): "
    r"telegram not stored$", found[0][2]),
    "a wild jump: WARNING with the growth, the time and the limit",
    repr(found))
rejected(p, 2, "jump")
accepted(send(1000.003), "back to normal")
# Just under and just over 100 kW x (60 s + 10 s) = 1944.4 Wh.
accepted(send(1001.941), "+1938 Wh in 60 s (within 100 kW)")
p = send(1003.891)
tap.ok(wait_warning(r"jumped from 1001941 to 1003891 Wh \(\+1950 Wh in 60 s"),
       "+1950 Wh in 60 s (beyond 100 kW) is implausible")
rejected(p, 3, "just beyond the limit")
p = send(1003.000, export=5000.0)
tap.ok(wait_warning(r"dsmr_energy-export_t1 jumped from 0 to 5000000"),
       "an export register is judged too")
rejected(p, 4, "a good import register does not save the telegram")
tap.is_(rows("dsmr_energy-export_t1"), [0.0] * 5,
        "the export register stored only its plausible values")

# --- M-Bus: judged once per capture time --------------------------------
p = send(1003.001, gas=(5, 200.000), water=(5, 10.100))
found = wait_warning(r"dsmr_volume-gas jumped")
tap.ok(found and re.search(r"jumped from 100000 to 200000 L \(\+100000 L "
                           r"in 300 s; at most 3444 L possible at 40 m3/h\)",
                           found[0][2]), "gas: +100 m3 in 5 min rejected "
       "(G25: 40 m3/h)", repr(found))
rejected(p, 5, "gas jump")
tap.is_(rows("dsmr_volume-water"), [10000.0],
        "water of the rejected telegram not stored")
accepted(send(1003.002, gas=(5, 200.000), water=(5, 10.100)),
         "the same capture again: the telegram is stored")
tap.is_(rows("dsmr_volume-gas"), [100000.0],
        "... without the rejected gas reading")
tap.is_(rows("dsmr_volume-water"), [10000.0, 10100.0],
        "... with the plausible water reading")
tap.is_(health("implausible"), 5.0, "a repeated rejected capture is not "
        "counted again")
accepted(send(1003.003, gas=(10, 100.500), water=(10, 10.150)),
         "the next gas capture")
tap.is_(rows("dsmr_volume-gas"), [100000.0, 100500.0],
        "gas: the next plausible capture is stored")
p = send(1003.004, gas=(15, 100.400), water=(15, 10.200))
tap.ok(wait_warning(r"dsmr_volume-gas went backwards from 100500 to 100400 L"),
       "gas going backwards: WARNING")
rejected(p, 6, "gas backwards")
accepted(send(1003.005, gas=(15, 100.400), water=(20, 13.000)),
         "water: +2.85 m3 in 10 min is within 25 m3/h")
tap.is_(rows("dsmr_volume-water"), [10000.0, 10100.0, 10150.0, 13000.0],
        "water stored")
p = send(1003.006, water=(25, 20.000))
tap.ok(wait_warning(r"dsmr_volume-water jumped from 13000 to 20000 L \(\+7000 "
                    r"L in 300 s; at most 2153 L possible at 25 m3/h\)"),
       "water: +7 m3 in 5 min is beyond 25 m3/h")
rejected(p, 7, "water jump")

# --- a register that restarted: three agreeing readings ------------------
p1 = send(5.000)
tap.ok(wait_warning(r"went backwards from 1003005 to 5000"),
       "restart, first reading: rejected")
rejected(p1, 8, "restart, first reading")
p2 = send(5.001)
tap.ok(wait_warning(r"went backwards from 1003005 to 5001"),
       "restart, second reading: rejected")
rejected(p2, 9, "restart, second reading")
accepted(send(5.002), "restart, third agreeing reading")
tap.ok(wait_warning(r"dsmr_energy-import_t1 restarted: 3 readings in a row "
                    r"agree on 5002 after 1003005; taken as its new baseline"),
       "a WARNING says the register restarted")
accepted(send(5.003), "the new series goes on")
# Two rejected readings that disagree with each other do not make a series.
p1 = send(1.000)
rejected(p1, 10, "a lone low value")
p2 = send(900.000)
rejected(p2, 11, "a lone high value")
accepted(send(5.004), "the series before them goes on")

# --- a replaced meter ----------------------------------------------------
p = send(0.001, t2=0.0, eq=EQ2)
found = wait_warning(r"replaced meter")
tap.is_([w[2] for w in found],
        ['meter "c": a replaced meter was detected (equipment id '
         'E0043007131626799, was E0043007131626717): its registers start '
         'again from their own values'], "replaced meter: a WARNING")
ok_count[0] += 1
got = cd.wait_csv("c", "power-import", ok_count[0])
whole(ok_count[0])
tap.ok(got and got[-1][1] == p, "replaced meter: its first telegram is "
       "stored although every register went down")
accepted(send(0.002, t2=0.0, eq=EQ2), "the new meter goes on")
tap.is_(health("implausible"), 11.0, "no implausible telegram from the new "
        "meter")

tap.is_(rows("dsmr_energy-import_t1"),
        [1000000.0, 1000001.0, 1000002.0, 1000003.0, 1001941.0, 1003002.0,
         1003003.0, 1003005.0, 5002.0, 5003.0, 5004.0, 1.0, 2.0],
        "import_t1: exactly the plausible values were stored")
tap.ok(cd.running(), "collectd running")
elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops cleanly")
sys.exit(tap.done())
