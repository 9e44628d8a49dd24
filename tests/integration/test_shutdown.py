#!/usr/bin/env python3
"""collectd stops within 2 s of SIGTERM whatever its meters are doing.
Ten meters at once, each in a state a reader can be stuck in: connected
but silent (pty and TCP), in the middle of a telegram, backing off after
a missing device or a refused connection, and in a TCP connect that never
completes (a listener whose accept queue is full drops our SYN). And a
SIGTERM right after start, while the readers are still opening."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

tmp = d.tmpdir("shutdown")
ptys = [d.PtyMeter(os.path.join(tmp, "pty%d" % i)) for i in range(4)]
tcps = [d.TcpMeter() for _ in range(2)]
refused = d.free_port()

# A listener that never accepts, with a backlog of 0 already used up by
# one connection: the kernel drops further SYNs, so a connect hangs.
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
hole.listen(0)
hole_port = hole.getsockname()[1]
filler = socket.create_connection(("127.0.0.1", hole_port))
d.on_cleanup(hole.close)
d.on_cleanup(filler.close)

meters = [d.meter_block("silent%d" % i, device=p.path)
          for i, p in enumerate(ptys[:3])]
meters.append(d.meter_block("midtelegram", device=ptys[3].path))
meters += [d.meter_block("tcpsilent%d" % i, host="127.0.0.1", port=t.port)
           for i, t in enumerate(tcps)]
meters += [d.meter_block("missing%d" % i,
                         device=os.path.join(tmp, "nothing%d" % i))
           for i in range(2)]
meters.append(d.meter_block("refused", host="127.0.0.1", port=refused))
meters.append(d.meter_block("connecting", host="127.0.0.1", port=hole_port))
cd = d.Collectd(meters, tag="shutdown").start()

tap.is_(len(cd.wait_log(r'meter "(silent\d|midtelegram)": connected',
                        count=4)), 4, "4 pty meters connected")
tap.ok(all(t.wait_client(5) for t in tcps), "2 TCP meters connected")
tap.is_(len(cd.wait_log(r'meter "missing\d": cannot open', count=2)), 2,
        "2 meters back off from a missing device")
tap.ok(cd.wait_log(r'meter "refused": cannot open tcp .*refused'),
       "1 meter backs off from a refused connection")


def syn_sent(port):
    """Is some socket of this host in SYN_SENT towards port?"""
    with open("/proc/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == port and fields[3] == "02":
                return True
    return False


deadline = time.monotonic() + 5
while not syn_sent(hole_port) and time.monotonic() < deadline:
    time.sleep(0.05)
tap.ok(syn_sent(hole_port), "1 meter hangs in a TCP connect (SYN_SENT)")
tel = d.telegram(d.dsmr5_lines())
ptys[3].write(tel[:len(tel) // 2])  # half a telegram, the rest never comes
time.sleep(1.2)  # let the backing-off meters be in the middle of a wait
tap.ok(cd.running(), "collectd is running")

elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0, "ten meters: collectd exits %.2f s after SIGTERM "
       "(limit 2 s)" % elapsed)
tap.is_(rc, 0, "ten meters: exit status 0")
log = cd.log()
tap.ok("Exiting normally" in log, "collectd says it exits normally")
tap.ok(not re.search(r"\[error\]", log), "no error in the log",
       *[l for l in log.splitlines() if "[error]" in l])

# A SIGTERM while the readers are still starting.
cd2 = d.Collectd([d.meter_block("a", device=ptys[0].path),
                  d.meter_block("b", host="127.0.0.1", port=hole_port),
                  d.meter_block("c", device=os.path.join(tmp, "nothing"))],
                 tag="shutdown2").start()
cd2.wait_log(r"dsmr plugin: version", timeout=5)
elapsed, rc = cd2.stop()
tap.ok(elapsed < 2.0, "right after start: collectd exits %.2f s after "
       "SIGTERM" % elapsed)
tap.is_(rc, 0, "right after start: exit status 0")
sys.exit(tap.done())
