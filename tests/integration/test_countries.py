#!/usr/bin/env python3
"""Meters outside the Netherlands, played by the simulator (tools/dsmr-sim
--play) on pseudo-terminals into one collectd, and what its csv plugin
stored:

  be  Belgium (Fluvius, e-MUCS): five telegrams written here (CRC computed),
      modeled on a real Fluvius one. The peak history 0-0:98.1.0 (13
      months) is stored from the first telegram, once per month, each value
      at its own peak time, also while every telegram repeats it; a new monthly peak (1-0:1.6.0) raises one WARNING
      with value and time, never on the first telegram; at the month's end
      the closed month joins the history (stored once more, only that one).
  se  Sweden (HAN H1 2.0): kVArh / kVAr registers with capitals, per phase.
  lu  Luxembourg (Smarty 1.1.3, unencrypted): the specification's example
      telegram: apparent power, the kVA threshold, the 1-1:31.4.0 current
      limits (import, and export as a negative value), a dead M-Bus channel.
  hu  Hungary (E.ON, from the corpus as recorded): quadrant registers, power
      factor, frequency, per-phase fuses; its 0-0:98.1.0 is a billing
      profile, not peaks, and stores nothing.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.Tap()
if d.plugin_dir() is None:
    tap.skip_all("dsmr.so not built")
d.need_sim(tap)
CORPUS = os.path.join(d.SRCDIR, "tests", "corpus", "telegrams")

tmp = d.tmpdir("countries")
T = d.p1_time_to_utc  # 'YYMMDDhhmmssX' -> UTC seconds


def write(name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# --- Belgium ---------------------------------------------------------------
# The history as a Fluvius meter sends it: the 13 months before the current
# one, oldest first; each entry (month stamp = the next month's first
# midnight)(when the peak was set)(peak). July 2023 had no peak: a
# placeholder time and 0 kW, as real meters send it. 13 entries, more than
# the 5 telegrams: all must be stored from the first telegram on.


def flag(month):
    """W/S of a day in `month` away from the DST switches (2022/2023)."""
    return "S" if 4 <= month <= 10 else "W"


def history(first, count):
    """count entries from (year, month) `first` on."""
    out = []
    y, m = first
    for _ in range(count):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        stamp = "%02d%02d01000000%s" % (ny % 100, nm, flag(nm))
        if (y, m) == (2023, 7):
            out.append((stamp, "632525252525W", "00.000"))
        else:
            kw = "%06.3f" % (2.0 + 0.1 * m + (y - 2022))
            out.append((stamp, "%02d%02d15180000%s" % (y % 100, m, flag(m)),
                        kw))
        y, m = ny, nm
    return out


HISTORY = history((2022, 10), 13)  # October 2022 .. October 2023
# After the month's end: October 2022 drops out, November 2023 comes in.
HISTORY_DEC = history((2022, 11), 12) + [
    ("231201000000W", "231130234500W", "04.512")]
assert len(HISTORY_DEC) == 13


def be_lines(meter_ts, kwh, peak_ts, peak_kw, history, gas_ts, gas_m3):
    hist = "0-0:98.1.0(%d)(1-0:1.6.0)(1-0:1.6.0)%s" % (
        len(history), "".join("(%s)(%s)(%s*kW)" % h for h in history))
    return [
        "0-0:96.1.4(50217)",
        "0-0:96.1.1(3153414733313030373231333236)",
        "0-0:1.0.0(%s)" % meter_ts,
        "1-0:1.8.1(%010.3f*kWh)" % kwh,
        "1-0:1.8.2(000270.014*kWh)",
        "1-0:2.8.1(000000.005*kWh)",
        "1-0:2.8.2(000000.000*kWh)",
        "0-0:96.14.0(0001)",
        "1-0:1.4.0(00.052*kW)",
        "1-0:1.6.0(%s)(%s*kW)" % (peak_ts, peak_kw),
        hist,
        "1-0:1.7.0(00.338*kW)",
        "1-0:2.7.0(00.000*kW)",
        "1-0:21.7.0(00.047*kW)",
        "1-0:32.7.0(232.9*V)",
        "1-0:31.7.0(000.27*A)",
        "0-0:96.3.10(1)",
        "0-0:17.0.0(999.9*kW)",
        "1-0:31.4.0(999*A)",
        "0-0:96.13.0()",
        "0-1:24.1.0(003)",
        "0-1:96.1.1(37464C4F32313233303838303237)",
        "0-1:24.4.0(1)",
        "0-1:24.2.3(%s)(%s*m3)" % (gas_ts, gas_m3),
        "0-2:24.1.0(007)",
        "0-2:96.1.1(3853455430303030393631313733)",
        "0-2:24.2.1(231130235500W)(00008.579*m3)",
    ]


BE_HEADER = "FLU5\\253769484_A"
be_files = [
    # 1: the first telegram: history and peak are the baseline
    be_lines("231130235800W", 301.548, "231102114500W", "03.064", HISTORY,
             "231130235500W", "00092.287"),
    # 2: the same peak and history again
    be_lines("231130235810W", 301.549, "231102114500W", "03.064", HISTORY,
             "231130235500W", "00092.287"),
    # 3: a new peak of the month
    be_lines("231130235820W", 301.550, "231130234500W", "04.512", HISTORY,
             "231130235500W", "00092.287"),
    # 4: unchanged
    be_lines("231130235830W", 301.551, "231130234500W", "04.512", HISTORY,
             "231130235500W", "00092.287"),
    # 5: December: November joins the history, a new month's first peak
    be_lines("231201001600W", 301.552, "231201001500W", "00.800",
             HISTORY_DEC, "231201001000W", "00092.301"),
]
be_paths = [write("be%d.p1" % (i + 1), d.telegram(l, header=BE_HEADER))
            for i, l in enumerate(be_files)]

# --- Sweden (HAN H1 2.0, Bilaga 3: 8.3 kVArh, 4.3 kW / kVAr, 3.1 V / A) ---
se_lines = [
    "0-0:1.0.0(231115100940W)",
    "1-0:1.8.0(00001234.567*kWh)",
    "1-0:2.8.0(00000012.345*kWh)",
    "1-0:3.8.0(00000123.456*kVArh)",
    "1-0:4.8.0(00000045.678*kVArh)",
    "1-0:1.7.0(0001.234*kW)",
    "1-0:2.7.0(0000.000*kW)",
    "1-0:3.7.0(0000.321*kVAr)",
    "1-0:4.7.0(0000.012*kVAr)",
    "1-0:21.7.0(0000.400*kW)",
    "1-0:41.7.0(0000.500*kW)",
    "1-0:61.7.0(0000.334*kW)",
    "1-0:22.7.0(0000.000*kW)",
    "1-0:42.7.0(0000.000*kW)",
    "1-0:62.7.0(0000.000*kW)",
    "1-0:23.7.0(0000.101*kVAr)",
    "1-0:43.7.0(0000.102*kVAr)",
    "1-0:63.7.0(0000.103*kVAr)",
    "1-0:24.7.0(0000.004*kVAr)",
    "1-0:44.7.0(0000.005*kVAr)",
    "1-0:64.7.0(0000.006*kVAr)",
    "1-0:32.7.0(231.2*V)",
    "1-0:52.7.0(230.8*V)",
    "1-0:72.7.0(229.9*V)",
    "1-0:31.7.0(001.8*A)",
    "1-0:51.7.0(002.2*A)",
    "1-0:71.7.0(001.5*A)",
]
se_path = write("se.p1", d.telegram(se_lines, header="KAM5"))

# --- Luxembourg: the Smarty specification's example (appendix A) ---------
lu_lines = """1-3:0.2.8(42)
0-0:1.0.0(200706104157S)
0-0:42.0.0(53414731303330373930303032353734)
1-0:1.8.0(000025.653*kWh)
1-0:2.8.0(000000.040*kWh)
1-0:3.8.0(000000.835*kvarh)
1-0:4.8.0(000063.781*kvarh)
1-0:1.7.0(00.005*kW)
1-0:2.7.0(00.000*kW)
1-0:3.7.0(00.000*kvar)
1-0:4.7.0(00.000*kvar)
0-0:17.0.0(069.0*kVA)
1-0:9.7.0(00.021*kVA)
1-0:10.7.0(00.000*kVA)
1-1:31.4.0(100*A)(-063*A)
0-0:96.3.10(1)
0-1:96.3.10(0)
0-2:96.3.10(0)
0-0:96.7.21(00099)
1-0:32.32.0(00040)
1-0:52.32.0(00003)
1-0:72.32.0(00002)
1-0:32.36.0(00000)
1-0:52.36.0(00000)
1-0:72.36.0(00000)
0-0:96.13.0()
1-0:32.7.0(233.0*V)
1-0:52.7.0(000.0*V)
1-0:72.7.0(001.0*V)
1-0:31.7.0(000*A)
1-0:51.7.0(000*A)
1-0:71.7.0(000*A)
1-0:21.7.0(00.005*kW)
1-0:23.7.0(00.000*kvar)
1-0:24.7.0(00.000*kvar)
0-1:24.1.0(003)
0-1:96.1.0(464C4F313839393030303630333535)
0-1:24.2.1(200706103140S)(00000.006*m3)
0-1:24.4.0(0)
0-2:24.1.0(007)
0-2:96.1.0()
0-2:24.2.1(632525252525S)(00000.000)
0-2:24.4.0(1)""".splitlines()
lu_path = write("lu.p1", d.telegram(lu_lines, header="Lux5\\253694471_M"))

# --- Hungary: the corpus telegram as it was recorded ----------------------
hu_path = os.path.join(CORPUS, "ndokter_eon_hungary.p1")


meters = {"be": be_paths, "se": [se_path], "lu": [lu_path], "hu": [hu_path]}
sims = {}
for name, files in meters.items():
    path = os.path.join(tmp, name)
    # The simulator playing `files` once each, in order, on a pty; one a
    # second, a DSMR 5 meter's pace (rrdtool takes one update a second).
    sims[name], [ready] = d.start_sim(
        ["--pty", path, "--play"] + files +
        ["--count", str(len(files)), "--rate", "1", "--wait"])
    tap.ok(ready.startswith("pty " + path), "simulator %s ready" % name, ready)

cd = d.Collectd([d.meter_block(n, device=os.path.join(tmp, n),
                               SilenceTimeout=300) for n in meters],
                tag="countries").start()
for name, p in sims.items():
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        pass
    tap.is_(p.returncode, 0, "simulator %s played its telegrams" % name)

for name, files in meters.items():
    tap.is_(cd.wait_last(name, "dsmr_telegrams-ok", len(files)), len(files),
            "%s: %d telegram(s) ok" % (name, len(files)))
time.sleep(1.2)  # one more write: everything the telegrams carried is out


def values(meter, ident):
    return [v for _, v in cd.csv_rows(meter, ident)]


def notes(rx):
    out = []
    for l in cd.log().splitlines():
        m = re.search(r"Notification: severity = (\w+),.*message = (.*)$", l)
        if m and re.search(rx, m.group(2)):
            out.append((m.group(1), m.group(2)))
    return out


# --- Belgium ---------------------------------------------------------------
want_history = sorted(
    {(float(T(when)), float(kw) * 1000) for _, when, kw in
     HISTORY + HISTORY_DEC if not when.startswith("6325")})
tap.is_(len(want_history), 13, "be: 12 months with a peak, then November")
tap.is_(cd.csv_rows("be", "power-demand_peak_history"), want_history,
        "be: each month's peak stored once, at its peak time, all 12 from the "
        "first telegram (July without a peak skipped; October 2022 kept when "
        "it leaves the telegram; November once, when the month closed)")
tap.is_(cd.csv_rows("be", "power-demand_peak_month"),
        [(float(T("231102114500W")), 3064.0),
         (float(T("231130234500W")), 4512.0),
         (float(T("231201001500W")), 800.0)],
        "be: the month's peak stored once per new peak, at its own time")
peaks = notes(r"new monthly peak")
tap.is_(len(peaks), 2, "be: two new-peak notifications (a higher peak, "
        "then December's first), none for the first or repeated telegrams")
tap.ok(len(peaks) >= 1 and peaks[0][0] == "WARNING" and
       re.search(r'meter "be": new monthly peak demand 4\.512 kW at '
                 r'2023-11-30T22:45:00Z \(was 3\.064 kW at '
                 r'2023-11-02T10:45:00Z\)', peaks[0][1]),
       "be: WARNING with the new value and time and the old ones", peaks)
tap.ok(len(peaks) >= 2 and re.search(r"0\.800 kW at 2023-11-30T23:15:00Z",
                                     peaks[1][1]),
       "be: the next month's first peak", peaks)
tap.is_(values("be", "power-demand_average"), [52.0] * 5,
        "be: 1-0:1.4.0 average demand 0.052 kW = 52 W")
tap.is_(values("be", "dsmr_tariff"), [1.0] * 5,
        "be: tariff 1 (normal/day in Belgium)")
tap.is_(cd.csv_rows("be", "dsmr_volume-gas"),
        [(float(T("231130235500W")), 92287.0),
         (float(T("231201001000W")), 92301.0)],
        "be: gas from 0-1:24.2.3 (beside its 96.1.1 id), once per capture")
tap.is_(cd.csv_rows("be", "dsmr_volume-water"),
        [(float(T("231130235500W")), 8579.0)],
        "be: water on channel 2 from 24.2.1")
tap.is_(values("be", "current-l1")[:1], [0.27],
        "be: current with two decimals")
tap.is_(values("be", "current-limit_l1")[:1], [999.0],
        "be: 1-0:31.4.0 fuse limit 999 A")
tap.is_(values("be", "power-threshold")[:1], [999900.0],
        "be: 0-0:17.0.0 999.9 kW threshold")

# --- Sweden ----------------------------------------------------------------
want_se = {
    "dsmr_reactive_energy-import": 123456.0,
    "dsmr_reactive_energy-export": 45678.0,
    "dsmr_reactive_power-import": 321.0,
    "dsmr_reactive_power-export": 12.0,
    "dsmr_reactive_power-import_l1": 101.0,
    "dsmr_reactive_power-import_l2": 102.0,
    "dsmr_reactive_power-import_l3": 103.0,
    "dsmr_reactive_power-export_l1": 4.0,
    "dsmr_reactive_power-export_l2": 5.0,
    "dsmr_reactive_power-export_l3": 6.0,
    "dsmr_energy-import": 1234567.0,
    "power-import_l2": 500.0,
    "current-l2": 2.2,
}
got_se = {k: values("se", k) for k in want_se}
tap.is_(got_se, {k: [v] for k, v in want_se.items()},
        "se: kVArh -> varh, kVAr -> var, per phase, exactly")

# --- Luxembourg ------------------------------------------------------------
want_lu = {
    "dsmr_reactive_energy-import": 835.0,
    "dsmr_reactive_energy-export": 63781.0,
    "dsmr_apparent_power-import": 21.0,
    "dsmr_apparent_power-export": 0.0,
    "dsmr_apparent_power-threshold": 69000.0,
    "current-limit_import": 100.0,
    "current-limit_export": -63.0,
    "dsmr_reactive_power-import": 0.0,
    "count-voltage_sags_l1": 40.0,
    "dsmr_energy-import": 25653.0,
}
got_lu = {k: values("lu", k) for k in want_lu}
tap.is_(got_lu, {k: [v] for k, v in want_lu.items()},
        "lu: kVA -> VA, the kVA threshold, current limits 100 A / -63 A")
tap.is_(cd.csv_rows("lu", "dsmr_volume-gas"),
        [(float(T("200706103140S")), 6.0)],
        "lu: gas at its capture time; the water channel's placeholder "
        "(632525252525S) stores nothing")
tap.is_(cd.csv_rows("lu", "dsmr_volume-water"), [], "lu: no water value")

# --- Hungary ---------------------------------------------------------------
want_hu = {
    "dsmr_power_factor-total": 4.556,
    "dsmr_power_factor-l1": 4.591,
    "dsmr_power_factor-l2": 4.542,
    "dsmr_power_factor-l3": 4.552,
    "frequency": 50.0,
    "dsmr_reactive_energy-q1": 668.0,
    "dsmr_reactive_energy-q4": 143346.0,
    "dsmr_reactive_power-q3": 504.0,
    "current-limit_l1": 200.0,
    "current-limit_l3": 200.0,
    "power-threshold": 90000.0,
    "dsmr_energy-absolute": 800817.0,
}
got_hu = {k: values("hu", k) for k in want_hu}
tap.is_(got_hu, {k: [v] for k, v in want_hu.items()},
        "hu: power factor, frequency, quadrants, fuses, 90 kW threshold")
tap.is_(cd.csv_rows("hu", "power-demand_peak_history"), [],
        "hu: its 0-0:98.1.0 billing profile is not taken for peaks")

# --- nothing out of order, nothing rejected --------------------------------
log = cd.log()
noise = [l for l in log.splitlines()
         if re.search(r"too old|illegal attempt|not stored|malformed", l)]
tap.is_(noise, [], "no value-too-old, rrdtool or rejection lines in the log")
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd stops cleanly")
sys.exit(tap.done())
