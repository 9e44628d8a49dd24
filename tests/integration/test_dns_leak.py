#!/usr/bin/env python3
"""A resolver that never answers (issue 14, point 4): name lookups then
outlast the 10 s open timeout. Each one the plugin gave up on used to leak
its 400-byte block (getaddrinfo_a request) once it finally completed. Now
the source keeps a pending lookup, waits on it again at the next open and
frees it when it completes.

The real collectd under valgrind memcheck, in a mount namespace of its own
whose /etc/resolv.conf names a local UDP port that swallows every query
(nothing on this machine is touched); two meters whose Host is a name.
Each lookup takes 12 s (timeout:4 attempts:3), so in a run of about a
minute several lookups are given up on and complete afterwards. Passes
when memcheck reports no definitely lost bytes, no error, and the lookups
were really given up on (the log says so) and really reached the port."""
import os
import re
import shlex
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()
d.need_valgrind(tap)
if os.geteuid() != 0 or not shutil.which("unshare"):
    tap.skip_all("needs root and unshare(1) for a mount namespace with its "
                 "own resolv.conf")

HERE = os.path.dirname(os.path.abspath(__file__))
SUPP = os.path.join(HERE, "valgrind.supp")
tmp = d.tmpdir("dnsleak")
vglog = os.path.join(tmp, "valgrind.log")

# The resolver: a UDP socket on port 53 of a loopback address of its own,
# never read from, never answering.
DNS_ADDR = "127.83.77.82"
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sink.bind((DNS_ADDR, 53))
except OSError as e:
    tap.skip_all("cannot bind %s:53 (%s)" % (DNS_ADDR, e))
d.on_cleanup(sink.close)
resolv = os.path.join(tmp, "resolv.conf")
with open(resolv, "w") as f:
    f.write("nameserver %s\noptions timeout:4 attempts:3\n" % DNS_ADDR)

# The probe: does the namespace work here (a container may forbid mount)?
probe = os.system("unshare -m sh -c 'mount --bind %s /etc/resolv.conf && "
                  "grep -q %s /etc/resolv.conf' >/dev/null 2>&1"
                  % (shlex.quote(resolv), DNS_ADDR))
if probe != 0:
    tap.skip_all("unshare -m with a bind mount is not permitted here")

valgrind = [
    "valgrind", "--tool=memcheck", "--leak-check=full",
    "--show-leak-kinds=definite,possible", "--errors-for-leak-kinds=definite",
    "--num-callers=40", "--error-exitcode=99", "--keep-debuginfo=yes",
    "--suppressions=" + SUPP, "--log-file=" + vglog]
inner = "mount --bind %s /etc/resolv.conf && exec \"$0\" \"$@\"" % (
    shlex.quote(resolv))
os.environ["DSMR_TEST_WRAPPER"] = " ".join(
    ["unshare", "-m", "sh", "-c", shlex.quote(inner)] +
    [shlex.quote(a) for a in valgrind])

NAME = "p1-dongle.dsmr-test.example"
cd = d.Collectd([
    d.meter_block("dns1", host=NAME, port=d.free_port()),
    d.meter_block("dns2", host=NAME.upper(), port=d.free_port()),
], write_plugins=False, tag="dnsleak").start()

# 10 s open timeout, 12 s lookups, backoff 1, 2, 4 s: a minute holds three
# or four given-up lookups per meter.
RUN = 60
timeouts = cd.wait_log(r'meter "dns1": cannot open tcp .*name lookup timed '
                       r'out', timeout=RUN)
tap.ok(timeouts, "dns1: the lookup outlasts the open timeout", cd.log())
deadline = time.monotonic() + RUN
while time.monotonic() < deadline and cd.running():
    time.sleep(1)
tap.ok(cd.running(), "collectd keeps running")
elapsed, rc = cd.stop()
tap.is_(rc, 0, "collectd under valgrind exits 0 (99: memcheck errors)")

sink.setblocking(False)
queries = 0
while True:
    try:
        sink.recv(4096)
        queries += 1
    except OSError:
        break
tap.ok(queries > 0, "the queries reached the silent resolver (%d)" % queries)

vg, summary = d.read_memcheck(vglog)
tap.ok(summary == "0", "memcheck: 0 errors",
       *(vg.splitlines()[-60:] if summary != "0" else []))
m = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", vg)
records = [r for r in re.split(r"\n==\d+== \n", vg)
           if "definitely lost in loss record" in r]
tap.ok(summary is not None and (m is None or m.group(1) == "0"),
       "memcheck: no definitely lost bytes (%s)"
       % (m.group(0) if m else "none"), *records[:2])
tap.diag("valgrind: %s; %s" % ("ERROR SUMMARY: %s errors" % summary
                                if summary is not None else "no summary",
                                m.group(0) if m else "no definite leak"))
sys.exit(tap.done())
