#!/usr/bin/env python3
"""TCP peers that send at 10 MB/s, beside a normal meter:
  flood  valid telegrams as fast as it can (up to 10 MB/s): the reader
         paces itself to 100 telegrams a second (src/meter_reader.c), so
         flow control slows the peer down instead of collectd's write
         queue growing (without pacing collectd grew by ~30 MB a second
         here); logged once.
  noise  10 MB/s of bytes that never frame: read and counted, cheaply.
  calm   a pty meter with one telegram a second: each is stored within a
         second while the others flood (collectd stays responsive).
Asserted: collectd's memory stays bounded, its read callback keeps
reporting every second, the counters move, nothing crashes, and collectd
stops within 2 s of SIGTERM in the middle of the flood."""
import os
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

RATE = 10 * 1000 * 1000  # bytes a second, per flooding peer
SECONDS = 8
stop = threading.Event()


class Flooder:
    """A TCP server that, once a client connects, sends `chunk` over and
    over at up to RATE bytes a second until told to stop."""

    def __init__(self, chunk):
        self.chunk = chunk
        self.sent = 0
        self.conn = None
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.connected = threading.Event()
        self.go = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        d.on_cleanup(self.close)

    def run(self):
        try:
            self.conn, _ = self.srv.accept()
        except OSError:
            return
        self.connected.set()
        self.go.wait()
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                self.conn.sendall(self.chunk)
            except OSError:
                return
            self.sent += len(self.chunk)
            ahead = self.sent / RATE - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def close(self):
        stop.set()
        for s in (self.conn, self.srv):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


# Sent over and over: the registers stay put (a register that went back
# every 200 telegrams would be judged implausible), the power moves.
tels = b"".join(d.telegram(d.dsmr5_lines(import_t1=1000, power_w=i))
                for i in range(200))
rng = random.Random(3)
junk = bytes(b for b in (rng.getrandbits(8) for _ in range(80000))
             if b != ord("/"))[:64 * 1024]
flood = Flooder(tels)
noise = Flooder(junk)
tmp = d.tmpdir("flood")
calm = d.PtyMeter(os.path.join(tmp, "calm"))
cd = d.Collectd([
    d.meter_block("flood", host="127.0.0.1", port=flood.port),
    d.meter_block("noise", host="127.0.0.1", port=noise.port),
    d.meter_block("calm", device=calm.path),
], tag="flood", writers=("csv",)).start()
tap.ok(flood.connected.wait(5) and noise.connected.wait(5),
       "both flooding peers connected")
tap.ok(cd.wait_log(r'meter "calm": connected'), "calm meter connected")
time.sleep(1.5)
rss0 = cd.rss_kb()
reports0 = len(cd.csv_rows("calm", "dsmr_age"))


def counter(meter, ident):
    rows = cd.csv_rows(meter, ident)
    return rows[-1][1] if rows else 0.0


flood.go.set()
noise.go.set()
t0 = time.monotonic()
latencies = []
rss_max = rss0


def stored_at():
    """When csv last wrote calm's energy file: the moment the newest row
    was stored (its mtime), whenever this test gets to look at it."""
    import glob
    paths = glob.glob(os.path.join(cd.data, d.HOST, "dsmr-calm",
                                   "dsmr_energy-import_t1-*"))
    return max((os.stat(p).st_mtime for p in paths), default=None)


for i in range(SECONDS):
    t_sent = time.time()
    calm.write(d.telegram(d.dsmr5_lines(import_t1=1.0 + i / 1000.0)))
    rows = cd.wait_csv("calm", "dsmr_energy-import_t1", i + 1, timeout=3)
    if len(rows) >= i + 1:
        latencies.append(stored_at() - t_sent)
    rss_max = max(rss_max, cd.rss_kb() or 0)
    time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
flood_s = time.monotonic() - t0
ok_flood = counter("flood", "dsmr_telegrams-ok")
bytes_noise = counter("noise", "total_bytes-received")
reports = len(cd.csv_rows("calm", "dsmr_age")) - reports0

tap.ok(cd.running(), "collectd survives %.0f s of flooding" % flood_s)
tap.is_(len(latencies), SECONDS, "calm: every telegram stored during the "
        "flood")
tap.ok(latencies and max(latencies) < 1.0, "calm: each stored within 1 s "
       "(slowest %.2f s)" % max(latencies or [0]))
tap.ok(reports >= SECONDS - 2, "the read callback kept reporting every "
       "second (%d reports in %.0f s)" % (reports, flood_s))
tap.diag("flood peer sent %.1f MB of telegrams, noise peer %.1f MB"
         % (flood.sent / 1e6, noise.sent / 1e6))
tap.ok(ok_flood >= 50 * SECONDS, "flood: telegrams counted ok move "
       "(%d in %.0f s)" % (ok_flood, flood_s))
tap.ok(ok_flood <= 100 * (SECONDS + 3) + 100, "flood: paced to at most "
       "100 telegrams a second (%d)" % ok_flood)
tap.ok(bytes_noise >= 0.5 * RATE * (SECONDS - 1),
       "noise: bytes counted at flood speed (%.1f MB)" % (bytes_noise / 1e6))
tap.ok(noise.sent >= 0.7 * RATE * SECONDS, "noise: the peer really sent at "
       "about 10 MB/s (%.1f MB)" % (noise.sent / 1e6))
if d.instrumented():
    tap.skip("collectd's memory stays bounded (%d kB -> at most %d kB)"
             % (rss0, rss_max), d.instrumented())
else:
    tap.ok(rss_max - rss0 < 20 * 1024, "collectd's memory stays bounded "
           "(%d kB -> at most %d kB)" % (rss0, rss_max))
tap.is_(len(cd.wait_log(r'meter "flood": more than 100 telegrams a second '
                        r'arrive: reading slowed down', timeout=1)), 1,
        "flood: the pacing is logged once")

elapsed, rc = cd.stop()
tap.ok(elapsed < 2.0 and rc == 0, "collectd stops within 2 s of SIGTERM in "
       "the middle of the flood (%.2f s, status %s)" % (elapsed, rc))
stop.set()
log = cd.log()
tap.ok(not re.search(r"value lists were left", log),
       "the write queue was empty at shutdown",
       *[l for l in log.splitlines() if "left" in l])
tap.ok(not re.search(r"\[error\]", log), "no error in the log",
       *[l for l in log.splitlines() if "[error]" in l])
tap.ok(not re.search(r"implausible|went backwards|jumped", log),
       "no register judged implausible")
sys.exit(tap.done())
