#!/usr/bin/env python3
"""collectd with the dsmr plugin under valgrind memcheck, through a run
with meters connecting, disconnecting and reconnecting (a pty whose node
disappears and comes back, a TCP dongle that drops its clients), a host
name to resolve (the asynchronous resolver path), a missing device and a
refused connection (backoff), bad telegrams (CRC errors, a cut one,
noise, one larger than MaxTelegramSize, malformed lines, an implausible
register), events (text message, power failure, silence and back, a
replaced meter), and a SIGTERM.

Passes when memcheck finds zero errors and no definite leak, nothing that
dsmr.so allocated is left at exit at all (not even reachable), and only the
suppressions of valgrind.supp (collectd's rrdtool dependencies, explained
there) were used. The values stored are checked too: slow is no excuse."""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.Tap()
if d.plugin_dir() is None:
    tap.skip_all("dsmr.so not built")
if not shutil.which("valgrind"):
    tap.skip_all("valgrind not installed")
if os.environ.get("DSMR_TEST_PRELOAD"):
    tap.skip_all("a sanitizer runtime is preloaded (DSMR_TEST_PRELOAD): "
                 "valgrind and ASan do not mix")

HERE = os.path.dirname(os.path.abspath(__file__))
SUPP = os.path.join(HERE, "valgrind.supp")
KNOWN_SUPPRESSIONS = {"pixman-constructor-implementation-table",
                      "glibc-dlopen-map-object-deps",
                      "glibc-getaddrinfo_a-pool-freeres"}
tmp = d.tmpdir("valgrind")
vglog = os.path.join(tmp, "valgrind.log")
os.environ["DSMR_TEST_WRAPPER"] = " ".join([
    "valgrind", "--tool=memcheck", "--leak-check=full",
    "--show-leak-kinds=all", "--errors-for-leak-kinds=definite",
    "--num-callers=40", "--error-exitcode=99", "-v",
    # collectd unloads plugins at exit: keep their symbols for the report
    "--keep-debuginfo=yes",
    "--suppressions=" + SUPP, "--log-file=" + vglog])
SLOW = 30  # seconds: everything takes ~20x longer under memcheck

pty = d.PtyMeter(os.path.join(tmp, "pty"))
net = d.TcpMeter()
named = d.TcpMeter()
cd = d.Collectd([
    d.meter_block("pty", device=pty.path, MaxTelegramSize=2048),
    d.meter_block("net", host="127.0.0.1", port=net.port, SilenceTimeout=3),
    d.meter_block("named", host="localhost", port=named.port),
    d.meter_block("missing", device=os.path.join(tmp, "nothing")),
    d.meter_block("refused", host="127.0.0.1", port=d.free_port()),
], tag="valgrind").start()

tap.ok(cd.wait_log(r'meter "pty": connected', timeout=SLOW),
       "pty meter connected (under valgrind)")
tap.ok(net.wait_client(SLOW) and named.wait_client(SLOW),
       "TCP meters connected (one through name resolution)")
tap.ok(cd.wait_log(r'meter "missing": cannot open', timeout=SLOW),
       "missing device: backing off")
tap.ok(cd.wait_log(r'meter "refused": cannot open tcp', timeout=SLOW),
       "refused connection: backing off")


def hexify(text):
    return text.encode("latin-1").hex().upper()


def lines(kwh, gas_ts=None, gas=None, text="", failures=(), sags=0,
          eq="4530303433303037313331363236373137"):
    extra = [
        "1-0:99.97.0(%d)(0-0:96.7.19)%s" % (
            len(failures), "".join("(%s)(%010d*s)" % f for f in failures)),
        "1-0:32.32.0(%05d)" % sags,
        "0-0:96.13.0(%s)" % hexify(text),
    ]
    out = d.dsmr5_lines(import_t1=kwh, gas_ts=gas_ts, gas_m3=gas, extra=extra)
    return [l if not l.startswith("0-0:96.1.1(") else "0-0:96.1.1(%s)" % eq
            for l in out]


F1 = ("240101120000W", 240)
good = [d.telegram(lines(1.001, "240615120000S", 10.0, failures=[F1])),
        d.telegram(lines(1.002, "240615120500S", 10.1, text="Storing",
                         failures=[F1, ("240615100000S", 30)], sags=1))]
bad_crc = d.telegram(lines(1.5), bad_crc=True)
cut = good[0][:200]
big = d.telegram(lines(1.6, text="A" * 1500))  # 3000 hex digits > 2048
malformed = d.telegram(lines(1.7) + ["this is not an obis line"])
backwards = d.telegram(lines(0.5, "240615121000S", 10.2))
replaced = d.telegram(lines(0.001, "240615121000S", 0.5,
                            eq="4530303433303037313331363236373939"))

pty.write(good[0])
net.send(d.telegram(lines(2.001)))
named.send(d.telegram(lines(3.001)))
tap.ok(cd.wait_csv("pty", "dsmr_energy-import_t1", 1, timeout=SLOW),
       "pty: first telegram stored")
pty.write(b"\x00junk\xff" + bad_crc + cut + good[1] + big + malformed +
          backwards)
tap.ok(cd.wait_log(r"Notification: severity = WARNING.*went backwards",
                   timeout=SLOW), "pty: the bad telegrams went through "
       "(the implausible one was the last)")
pty.write(replaced)
tap.ok(cd.wait_log(r"replaced meter was detected", timeout=SLOW),
       "pty: a replaced meter")

# Losses and recoveries.
pty.close()
net.drop_clients()
tap.ok(cd.wait_log(r'meter "pty": lost device', timeout=SLOW), "pty lost")
tap.ok(cd.wait_log(r'meter "net": lost tcp', timeout=SLOW), "net lost")
tap.ok(cd.wait_log(r'plugin_instance = net.*no valid telegram',
                   timeout=SLOW), "net: silence FAILURE")
pty.open()
tap.ok(cd.wait_log(r'meter "pty": connection to device .* restored',
                   timeout=SLOW), "pty: back")
tap.ok(net.wait_client(SLOW), "net: back")
time.sleep(0.5)
pty.write(d.telegram(lines(0.002, "240615121500S", 0.6,
                           eq="4530303433303037313331363236373939")))
net.send(d.telegram(lines(2.002)))
tap.ok(cd.wait_log(r'plugin_instance = net.*sends valid telegrams again',
                   timeout=SLOW), "net: silence OKAY")
got_pty = [v for _, v in cd.wait_csv("pty", "dsmr_energy-import_t1", 4,
                                     timeout=SLOW)]
got_net = [v for _, v in cd.wait_csv("net", "dsmr_energy-import_t1", 2,
                                     timeout=SLOW)]
tap.is_(got_pty, [1001.0, 1002.0, 1.0, 2.0],
        "pty: exactly the good telegrams stored")
tap.is_(got_net, [2001.0, 2002.0], "net: both telegrams stored")
# A report of the read callback from after the last telegrams.
cd.wait_report("pty", time.time(), timeout=SLOW)
counts = {k: (cd.csv_rows("pty", "dsmr_telegrams-" + k) or [(0, None)])[-1][1]
          for k in ("ok", "crc_error", "malformed", "too_large", "dropped",
                    "implausible")}
tap.is_(counts, {"ok": 4.0, "crc_error": 1.0, "malformed": 1.0,
                 "too_large": 1.0, "dropped": 1.0, "implausible": 1.0},
        "pty: every kind of bad telegram was met and counted")

t0 = time.monotonic()
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd under valgrind exits 0 (99 would be memcheck "
        "errors) after %.1f s" % elapsed)
log = cd.log()
tap.ok("Exiting normally" in log, "collectd says it exits normally")

try:
    with open(vglog, encoding="utf-8", errors="replace") as f:
        vg = f.read()
except OSError:
    vg = ""
summary = re.search(r"ERROR SUMMARY: (\d+) errors", vg)
tap.ok(summary and summary.group(1) == "0", "memcheck: 0 errors",
       *(vg.splitlines()[-40:] if not summary or summary.group(1) != "0"
         else []))
m = re.search(r"definitely lost: ([\d,]+) bytes", vg)
tap.ok(m is None or m.group(1) == "0", "memcheck: no definite leak",
       m.group(0) if m else "")

# Every loss record (definite, indirect, possible, still reachable) whose
# allocation stack passes through our plugin, except collectd's own
# bookkeeping of our registration (cf_register_complex called from our
# module_register: collectd never frees its list of config callbacks).
OURS = re.compile(r"\((?:dsmr_plugin|plugin_config|meter_reader|"
                  r"meter_dispatch|source|source_serial|source_tcp|framer|"
                  r"parser|number|obis|mapper|timestamp|crc16)\.c:\d+\)|"
                  r"dsmr\.so")
ALLOCATOR = re.compile(r"vgpreload_|/libc\.so|\((?:strdup|malloc|calloc|"
                       r"realloc)\.c:")
records = re.split(r"\n==\d+== \n", vg)


def allocated_by_us(record):
    frames = [l for l in record.splitlines() if re.search(r"\b(at|by) 0x", l)]
    if not any(OURS.search(f) for f in frames):
        return False
    first = next((f for f in frames if not ALLOCATOR.search(f)), "")
    return "/usr/sbin/collectd" not in first


ours = [r for r in records if "loss record" in r and allocated_by_us(r)]
tap.ok(not ours, "nothing allocated by dsmr.so is left at exit (%d loss "
       "records)" % len(ours), *ours[:3])
used = set(re.findall(r"used_suppression:\s+\d+\s+(\S+)", vg))
tap.ok(used <= KNOWN_SUPPRESSIONS, "only the explained suppressions were "
       "used: %s" % (", ".join(sorted(used)) or "none"))
errors = [r for r in records if re.search(r"Invalid|uninitialised|"
                                          r"Mismatched|overlap", r)]
tap.ok(not errors, "no invalid access, no use of uninitialised memory",
       *errors[:3])
tap.diag("valgrind: %s; %s" % (
    summary.group(0) if summary else "no summary",
    m.group(0) if m else "no definite leak"))
sys.exit(tap.done())
