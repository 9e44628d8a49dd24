#!/usr/bin/env python3
"""TimeZone: HAN meter clocks sent as local time with deviation
"unspecified" (0x8000), read in a zone.

  dsmr-cat  tools/dsmr-sim --generate han-aidon --han-list 3 --han-clock
            unspecified through dsmr-cat --json --timezone Europe/Oslo: the
            clock with +02:00 in summer, +01:00 in winter, "meter_time" in
            UTC; the repeated autumn hour "ambiguous" and no meter_time;
            other zones; the host's zone from $TZ; a zone that does not
            read (exit 2); the public Aidon Sweden frame in
            Europe/Stockholm; the public Aidon Norway frame and dsmr-sim's
            Aidon (deviation 0, local time) in Europe/Oslo.
  collectd  the real collectd: two Aidon list-3 messages arriving 1.5 s
            apart whose clocks (local time, no offset) are an hour apart
            and whose import register grew 50 kWh in that hour. Read in
            the right zone the meter clock says an hour passed: stored.
            Read in UTC (a wrong zone) the clock is 1-2 h ahead of the
            arrival and not used; by the arrival 50 kWh in 1.5 s is
            implausible: refused, counted. So the stored data shows which
            zone the plugin used: TimeZone "Europe/Oslo", a POSIX rule,
            no TimeZone with TZ=Europe/Oslo in collectd's environment (the
            host's zone), and TimeZone "UTC"; and Aidon Norway's clock
            (deviation 0 for local time) in "Europe/Oslo": read in the
            zone, used, no future clock counted or complained about.
and the configuration errors (collectd -T)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap(sim=True)
sys.path.insert(0, os.path.join(d.SRCDIR, "tools"))
from dsmrsim import han  # noqa: E402

CAT = os.path.join(d.BUILDDIR, "dsmr-cat")
MISSING = "/dev/dsmr-test-no-such-device"


def sim_cat(start, *cat_args, env=None):
    """One Aidon list 3 at `start` (UTC), clock without offset, through
    dsmr-cat --json: (exit status, the JSON document or None, stderr)."""
    sim = subprocess.run(
        [d.PY, d.SIM, "--generate", "han-aidon", "--han-list", "3",
         "--han-clock", "unspecified", "--count", "1", "--start", start,
         "--stdout", "--quiet", "--seed", "7"],
        stdout=subprocess.PIPE, timeout=60)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([CAT, "--json"] + list(cat_args), input=sim.stdout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=60)
    lines = p.stdout.decode().splitlines()
    return (p.returncode, json.loads(lines[0]) if len(lines) == 1 else None,
            p.stderr.decode())


def clock_of(doc):
    for o in (doc or {}).get("objects", []):
        if o["obis"] == "0-0:1.0.0":
            return o["values"][0]
    return {}


# --- dsmr-cat --------------------------------------------------------------
cases = [
    ("2024-06-28T08:43:43Z", ["--timezone", "Europe/Oslo"], None,
     "2024-06-28T10:43:43+02:00", "timezone", "2024-06-28T08:43:43Z",
     "summer, Europe/Oslo: +02:00"),
    ("2024-01-15T12:00:00Z", ["--timezone", "Europe/Oslo"], None,
     "2024-01-15T13:00:00+01:00", "timezone", "2024-01-15T12:00:00Z",
     "winter, Europe/Oslo: +01:00"),
    ("2024-01-15T12:00:00Z", ["--timezone", "CET-1CEST,M3.5.0,M10.5.0/3"],
     None, "2024-01-15T13:00:00+01:00", "timezone", "2024-01-15T12:00:00Z",
     "winter, a POSIX rule: +01:00"),
    ("2024-01-15T12:00:00Z", [], {"TZ": "Europe/Oslo"},
     "2024-01-15T13:00:00+01:00", "timezone", "2024-01-15T12:00:00Z",
     "no --timezone, TZ=Europe/Oslo: the host's zone"),
    # the simulator's clock is CET; read in Helsinki it is an hour off
    ("2024-06-28T08:43:43Z", ["--timezone", "Europe/Helsinki"], None,
     "2024-06-28T10:43:43+03:00", "timezone", "2024-06-28T07:43:43Z",
     "the same clock read in Europe/Helsinki: +03:00 (a wrong zone is "
     "taken at its word)"),
    # 02:30 CEST on the last Sunday of October: 02:30 happens twice
    ("2024-10-27T00:30:00Z", ["--timezone", "Europe/Oslo"], None,
     "2024-10-27T02:30:00", "ambiguous", None,
     "the repeated autumn hour: no offset, clock not used"),
    ("2024-10-27T01:30:00Z", ["--timezone", "Europe/Oslo"], None,
     "2024-10-27T02:30:00", "ambiguous", None,
     "... its second pass too"),
    ("2024-10-27T02:00:00Z", ["--timezone", "Europe/Oslo"], None,
     "2024-10-27T03:00:00+01:00", "timezone", "2024-10-27T02:00:00Z",
     "03:00 after it: +01:00 again"),
]
for start, args, env, want_time, want_from, want_mt, what in cases:
    rc, doc, err = sim_cat(start, *args, env=env)
    clk = clock_of(doc)
    tap.ok(rc == 0 and clk.get("time") == want_time and
           clk.get("offset_from") == want_from and
           (doc or {}).get("meter_time") == want_mt,
           "dsmr-cat: %s (%s, meter_time %s)" % (what, want_time, want_mt),
           "rc %d, clock %r, meter_time %r, %s" %
           (rc, clk, (doc or {}).get("meter_time"), err))

rc, doc, err = sim_cat("2024-01-15T12:00:00Z", "--timezone", "Europe/Nowhere")
tap.ok(rc == 2 and "--timezone" in err and "Europe/Nowhere" in err,
       "dsmr-cat --timezone Europe/Nowhere: exit 2, naming it", err)
rc, doc, err = sim_cat("2024-01-15T12:00:00Z", "--timezone",
                       "CET-1CEST,M3.5.0")
tap.ok(rc == 2 and "end date" in err,
       "dsmr-cat --timezone with a rule cut short: exit 2, saying why", err)

# the public Aidon Sweden frame (deviation unspecified, 07:59:40 local)
pub = json.load(open(os.path.join(d.SRCDIR, "tests", "corpus", "han",
                                  "public.json"), encoding="utf-8"))
se = [v for v in pub if v["id"] == "aidon-se-3p-rj12-doc"]
if se:
    p = subprocess.run([CAT, "--json", "--timezone", "Europe/Stockholm"],
                       input=bytes.fromhex(se[0]["frame_hex"]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    doc = json.loads(p.stdout.decode().splitlines()[0]) if p.stdout else {}
    clk = clock_of(doc)
    tap.ok(p.returncode == 0 and
           clk.get("time") == "2019-12-16T07:59:40+01:00" and
           doc.get("meter_time") == "2019-12-16T06:59:40Z",
           "public Aidon SE frame, Europe/Stockholm: 07:59:40+01:00 = "
           "06:59:40Z", "%r %r" % (clk, doc.get("meter_time")))
else:
    tap.skip("public Aidon SE frame", "not in tests/corpus/han/public.json")

# the public Aidon Norway list 3 (gh1119): 16:00:00 Norwegian local time
# sent with deviation 0
no = [v for v in pub if v["id"] == "aidon-no-gh1119-1"]
if no:
    p = subprocess.run([CAT, "--json", "--timezone", "Europe/Oslo"],
                       input=bytes.fromhex(no[0]["frame_hex"]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    doc = json.loads(p.stdout.decode().splitlines()[0]) if p.stdout else {}
    clk = clock_of(doc)
    tap.ok(p.returncode == 0 and
           clk.get("time") == "2025-12-14T16:00:00+01:00" and
           clk.get("offset_from") == "timezone" and
           doc.get("meter_time") == "2025-12-14T15:00:00Z",
           "public Aidon NO frame (deviation 0), Europe/Oslo: local time, "
           "16:00:00+01:00 = 15:00:00Z", "%r %r" % (clk, doc.get("meter_time")))
else:
    tap.skip("public Aidon NO frame", "not in tests/corpus/han/public.json")
# dsmr-sim's Aidon clock as the Norwegian meters send it (deviation 0)
sim = subprocess.run(
    [d.PY, d.SIM, "--generate", "han-aidon", "--han-list", "3",
     "--han-clock", "zero", "--count", "1", "--start", "2024-06-28T08:43:43Z",
     "--stdout", "--quiet", "--seed", "7"], stdout=subprocess.PIPE, timeout=60)
p = subprocess.run([CAT, "--json", "--timezone", "Europe/Oslo"],
                   input=sim.stdout, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=60)
doc = json.loads(p.stdout.decode().splitlines()[0]) if p.stdout else {}
clk = clock_of(doc)
tap.ok(p.returncode == 0 and clk.get("time") == "2024-06-28T10:43:43+02:00" and
       doc.get("meter_time") == "2024-06-28T08:43:43Z",
       "dsmr-sim --han-clock zero (Aidon Norway), summer, Europe/Oslo: "
       "10:43:43+02:00 = 08:43:43Z", "%r %r" % (clk, doc.get("meter_time")))

# --- configuration (collectd -T) -----------------------------------------
FIFO = os.path.join(d.tmpdir("tzfifo"), "zone")
os.mkfifo(FIFO)
for tz, pattern, what in (
        ("Europe/Nowhere", r'TimeZone "Europe/Nowhere" is not valid: .*No '
         r'such file.*accepted: a zone name', "a zone that does not exist"),
        ("CET-1CEST", r'TimeZone "CET-1CEST" is not valid: .*daylight '
         r'saving time without its dates.*accepted', "a rule without dates"),
        ("../../etc/passwd", r'TimeZone "../../etc/passwd" is not valid: '
         r'.*neither a zone name', "a path out of zoneinfo"),
        # a FIFO (or a serial device: the Device on the wrong line) is not
        # opened: collectd's configuration blocked on it for good
        (FIFO, r'TimeZone "%s" is not valid: .*not a regular file' % FIFO,
         "a FIFO, refused at once")):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="han",
                                  TimeZone=tz)],
                   write_plugins=False, tag="tzcfg")
    rc, out = c.check()
    tap.ok(rc != 0 and re.search(pattern, out),
           "TimeZone: %s: collectd -T fails, naming option and value" % what,
           out)
c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="han",
                              TimeZone=5)],
               write_plugins=False, tag="tzcfg")
rc, out = c.check()
tap.ok(rc != 0 and re.search(r'TimeZone 5 is not valid; accepted: a zone '
                             r'name in quotes', out),
       "TimeZone 5 (a number): refused", out)
for tz in ("Europe/Oslo", "CET-1CEST,M3.5.0,M10.5.0/3", "UTC",
           "/usr/share/zoneinfo/Europe/Vienna"):
    c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="auto",
                                  TimeZone=tz)],
                   write_plugins=False, tag="tzcfg")
    rc, out = c.check()
    tap.is_(rc, 0, 'TimeZone "%s": collectd -T succeeds' % tz)
c = d.Collectd([d.meter_block("a", device=MISSING, Protocol="han")],
               write_plugins=False, tag="tzcfg", env={"TZ": "Nowhere/Atall"})
rc, out = c.check()
tap.ok(rc == 0 and len(re.findall(r"the host's time zone cannot be read "
                                  r"\(TZ=Nowhere/Atall.*read as UTC", out)) == 1,
       "no TimeZone, the host's zone unreadable: UTC, one notice", out)
c = d.Collectd([d.meter_block("a", device=MISSING, TimeZone="Europe/Oslo")],
               write_plugins=False, tag="tzcfg")
rc, out = c.check()
tap.ok(rc == 0 and "TimeZone only applies to HAN meters" in out,
       "TimeZone with Protocol \"dsmr\": accepted with a warning", out)


# --- the real collectd ----------------------------------------------------
def aidon(unix, import_10wh, deviation="unspecified"):
    """An Aidon list-3 HDLC frame: clock = Oslo wall time of `unix`,
    deviation unspecified (or "zero": 0, as Aidon Norway sends it);
    1-0:1.8.0 = import_10wh x 10 Wh."""
    p = han.PROFILES["han-aidon"](__import__("random").Random(5), 0)
    raw = {}
    for it in p.items(3):
        if it.tag not in (han.T_OCTETS, han.T_VISIBLE):
            raw[it.obis] = 1000
    for it in p.items(3):
        if it.qty == "1.8.0":
            raw[it.obis] = import_10wh
    clk = han.meter_clock(unix, deviation=deviation, dow_sunday=0)
    m = p.encode(raw, 3, unix, clock_dt=clk)
    fr = han.hdlc_message(m.apdu)
    return b"".join(fr) if isinstance(fr, list) else fr


def oslo_clear(t):
    """Neither t nor t - 3600 in Oslo's repeated or skipped hour."""
    for u in (t, t - 3600):
        lt = time.gmtime(u)
        if lt.tm_mon in (3, 10) and lt.tm_mday >= 25 and lt.tm_wday == 6 \
                and lt.tm_hour in (0, 1, 2):
            return False
    return True


now = int(time.time()) - 60
while not oslo_clear(now):
    now -= 3 * 3600
# 1,000,000 Wh an hour ago, then + 50,000 Wh: 50 kW on average

meters = {"oslo": {"TimeZone": "Europe/Oslo"},
          "rule": {"TimeZone": "CET-1CEST,M3.5.0,M10.5.0/3"},
          "host": {},
          "utc": {"TimeZone": "UTC"},
          "aidonno": {"TimeZone": "Europe/Oslo"}}
# aidonno: Aidon Norway's clock, local time with deviation 0
frames = {k: (aidon(now - 3600, 100000, "zero" if k == "aidonno" else
                    "unspecified"),
              aidon(now, 100000 + 5000, "zero" if k == "aidonno" else
                    "unspecified")) for k in meters}
tcp = {k: d.TcpMeter() for k in meters}
cd = d.Collectd([d.meter_block(k, host="127.0.0.1", port=tcp[k].port,
                               Protocol="han", **opts)
                 for k, opts in meters.items()],
                env={"TZ": "Europe/Oslo"}, tag="tz")
cd.start()
tap.ok(all(tcp[k].wait_client(15) for k in meters),
       "collectd connects to the five meters")
for k in meters:
    tcp[k].send(frames[k][0])
for k in meters:
    cd.wait_csv(k, "dsmr_energy-import", 1, timeout=10)
time.sleep(1.5)
for k in meters:
    tcp[k].send(frames[k][1])
for k in ("oslo", "rule", "host", "aidonno"):
    cd.wait_csv(k, "dsmr_energy-import", 2, timeout=10)
after = time.time()
for k in meters:
    cd.wait_report(k, after, timeout=10)


def health(meter, name):
    r = cd.csv_rows(meter, "dsmr_telegrams-" + name)
    return r[-1][1] if r else None


for k, what in (("oslo", 'TimeZone "Europe/Oslo"'),
                ("rule", "TimeZone as a POSIX rule"),
                ("host", "no TimeZone, TZ=Europe/Oslo (the host's zone)")):
    rows = [v for _, v in cd.csv_rows(k, "dsmr_energy-import")]
    tap.ok(rows == [1000000.0, 1050000.0] and health(k, "implausible") == 0,
           "%s: the meter clock says an hour passed: +50 kWh stored" % what,
           "rows %r, implausible %r" % (rows, health(k, "implausible")))
rows = [v for _, v in cd.csv_rows("utc", "dsmr_energy-import")]
tap.ok(rows == [1000000.0] and health("utc", "implausible") == 1,
       'TimeZone "UTC" (wrong here): the clock is ahead of the arrival, not '
       'used; +50 kWh in 1.5 s refused as implausible',
       "rows %r, implausible %r" % (rows, health("utc", "implausible")))
rows = [v for _, v in cd.csv_rows("aidonno", "dsmr_energy-import")]
tap.ok(rows == [1000000.0, 1050000.0] and
       health("aidonno", "implausible") == 0 and
       health("aidonno", "future_time") == 0,
       'Aidon Norway (deviation 0, local time), TimeZone "Europe/Oslo": the '
       'clock read in the zone, not as UTC ahead of the arrival: the hour it '
       'says passed is used, +50 kWh stored; no future time counted',
       "rows %r, implausible %r, future_time %r" %
       (rows, health("aidonno", "implausible"),
        health("aidonno", "future_time")))
cd.stop()
tap.ok(not re.search(r'meter "aidonno".*(ahead|future)', cd.log()),
       "Aidon Norway: no complaint about a clock ahead", cd.log())
tap.ok(not re.search(r"time zone cannot be read", cd.log()),
       "no notice about the host's zone (TZ is readable)")

sys.exit(tap.done())
