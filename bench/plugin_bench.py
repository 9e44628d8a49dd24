#!/usr/bin/env python3
"""Plugin-level benchmarks: the real collectd (/usr/sbin/collectd) loading
the built dsmr.so, fed by the simulator (tools/dsmr-sim) over TCP and by
pseudo-terminals. Run by bench/run.sh (`make bench`); numbers go into
HACKING.md, never into assertions.

  plugin_bench.py [--quick] [SECTION...]
  sections: cpu latency memory scale allocs profile report
           (default: all)

What each section measures (details in HACKING.md "Benchmarks"):
  cpu      CPU seconds (utime+stime of collectd, /proc/PID/stat, and per
           thread from /proc/PID/task) per 1,000 telegrams at flood rate,
           for three setups: csv writer on tmpfs; no writer (collectd's
           dispatch and value cache, nothing stored); the bench build
           without plugin_dispatch_values (the plugin's own work only).
  scale    64 meters x 1/s and 16 x 50/s in one collectd: telegrams the
           simulator delivered vs rows csv stored, CPU used, and the
           latency probe's p50/p99 (last byte read -> dispatch returned).
  memory   VmRSS of collectd with 0, 1, 16, 64 meters over TCP and ptys.
  allocs   heap allocations per telegram on the plugin's reader threads
           (LD_PRELOAD counter bench/malloc_count.c), N vs 2N telegrams.
  profile  callgrind over collectd + plugin: instructions per telegram by
           stage (framing+CRC, parse+map, dispatch logic, collectd).
  report   ReportInterval side by side: the same meters at a meter's pace
           (generated DSMR 5 telegrams, 1 a second each, csv writer) with
           every telegram stored and with ReportInterval 10: the reader
           threads' and collectd's write thread's CPU per 1,000 telegrams,
           and the csv rows stored per telegram.

The simulator is a Python process on the same machine: it takes CPU too.
A flooded meter is paced by the plugin to 100 telegrams/s (PACE_RATE in
src/meter_reader.c), so flood runs use several meters.

Environment: top_srcdir, top_builddir (set by run.sh); the harness is
tests/integration/dsmrtest.py. collectd's directories go to /dev/shm
(tmpfs; or $DSMR_BENCH_TMPDIR) so that the csv writer's files cost no
disk I/O.
"""
import argparse
import glob
import json
import shutil
import os
import re
import subprocess
import sys
import threading
import time

SRC = os.path.abspath(os.environ.get("top_srcdir") or
                      os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("top_builddir") or os.getcwd())
os.environ["top_srcdir"], os.environ["top_builddir"] = SRC, BUILD
# collectd's directory (csv files): tmpfs, or $DSMR_BENCH_TMPDIR
_tmp = os.environ.get("DSMR_BENCH_TMPDIR") or "/dev/shm"
if os.path.isdir(_tmp):
    os.environ["TMPDIR"] = _tmp
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import dsmrtest as dt  # noqa: E402

TELEGRAM = os.path.join(SRC, "tests", "corpus", "telegrams",
                        "ndokter_v5_two_mbus.p1")
SIM = os.path.join(SRC, "tools", "dsmr-sim")
HZ = os.sysconf("SC_CLK_TCK")
VARIANTS = {
    None: os.path.join(BUILD, ".libs"),
    "nodispatch": os.path.join(BUILD, "bench", "nodispatch", ".libs"),
    "probe": os.path.join(BUILD, "bench", "probe", ".libs"),
}
PRELOAD = os.path.join(BUILD, "bench", ".libs", "malloc_count.so")
# A value every telegram carries: its csv rows count stored telegrams.
EVERY_TELEGRAM = "power-import"


def say(text):
    print(text)
    sys.stdout.flush()


# ------------------------------------------------------------ processes
class Sim:
    """dsmr-sim serving `meters` meters over TCP; its manifest tells which
    telegrams reached a connected reader."""

    def __init__(self, meters, rate, count=None, play=False, linger=2.0,
                 tag="sim"):
        self.dir = dt.tmpdir(tag)
        self.manifest = os.path.join(self.dir, "manifest.jsonl")
        argv = [sys.executable, SIM, "--tcp", "0", "--meters", str(meters),
                "--rate", str(rate), "--wait", "--quiet",
                "--linger", str(linger), "--manifest", self.manifest]
        argv += ["--play", TELEGRAM] if play else ["--generate", "dsmr5"]
        if count is not None:
            argv += ["--count", str(count)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        dt.on_cleanup(self.kill)
        self.ports = []
        while len(self.ports) < meters:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("dsmr-sim ended before listening")
            m = re.search(r"listening on .*:(\d+)", line)
            if m:
                self.ports.append(int(m.group(1)))

    def blocks(self, prefix="m"):
        return [dt.meter_block("%s%d" % (prefix, i), host="127.0.0.1", port=p)
                for i, p in enumerate(self.ports)]

    def wait(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def delivered(self):
        """Telegrams that reached a connected reader, per meter index."""
        per = {}
        with open(self.manifest) as f:
            for line in f:
                r = json.loads(line)
                if r["delivered"]:
                    per[r["meter"]] = per.get(r["meter"], 0) + 1
        return per


def collectd(meters, variant=None, writers=("csv",), env=None, tag="cd",
             plugin_block=None):
    """A dt.Collectd running the given build of dsmr.so."""
    pdir = VARIANTS[variant]
    if not os.path.isfile(os.path.join(pdir, "dsmr.so")):
        raise RuntimeError("no %s/dsmr.so: run `make bench`" % pdir)
    saved = dt.plugin_dir
    dt.plugin_dir = lambda: pdir
    try:
        return dt.Collectd(meters, tag=tag, writers=writers, env=env,
                           write_plugins=bool(writers),
                           plugin_block=plugin_block)
    finally:
        dt.plugin_dir = saved


def cpu(pid):
    """CPU seconds of the process: "stat" is utime+stime of /proc/PID/stat
    (clock ticks); the others come from each thread's schedstat (on-CPU
    nanoseconds, precise): "total" over all threads, and by kind."""
    out = {"stat": 0.0, "total": 0.0}
    for k in ("dsmr", "writer", "other"):
        out[k] = out[k + "_user"] = out[k + "_sys"] = 0.0
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    out["stat"] = (int(v[11]) + int(v[12])) / HZ
    for task in glob.glob("/proc/%d/task/*" % pid):
        try:
            with open(task + "/comm") as f:
                name = f.read().strip()
            with open(task + "/schedstat") as f:
                ns = int(f.read().split()[0])
            with open(task + "/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            continue
        kind = ("dsmr" if name.startswith("dsmr/") else
                "writer" if name.startswith("writer#") else "other")
        out[kind] += ns / 1e9
        # user/system split (ticks): how much of it is the kernel's
        out[kind + "_user"] += int(v[11]) / HZ
        out[kind + "_sys"] += int(v[12]) / HZ
        out["total"] += ns / 1e9
    return out


def cpu_delta(a, b):
    return {k: b[k] - a[k] for k in a}


def stored(cd, meters, prefix="m"):
    return {i: len(cd.csv_rows("%s%d" % (prefix, i), EVERY_TELEGRAM))
            for i in range(meters)}


def wait_stored(cd, want, prefix="m", timeout=30.0):
    """Wait until csv holds `want` (meter -> count) rows, or stops
    growing; returns what it holds."""
    deadline = time.monotonic() + timeout
    last, still = None, 0
    while True:
        got = stored(cd, len(want), prefix)
        if all(got[i] >= want.get(i, 0) for i in got):
            return got
        still = still + 1 if got == last else 0
        if still >= 20 or time.monotonic() > deadline:  # 2 s unchanged
            return got
        last = got
        time.sleep(0.1)


def ok_counter(cd, meter):
    """The last dsmr_telegrams-ok value csv stored for a meter."""
    rows = cd.csv_rows(meter, "dsmr_telegrams-ok")
    return int(rows[-1][1]) if rows else 0


# ------------------------------------------------------------ sections
def bench_cpu(args, results):
    say("== CPU per telegram at flood rate (%d meters x %d telegrams, "
        "paced by the plugin to 100/s each; best of %d)" %
        (args.flood_meters, args.flood_count, args.repeat))
    setups = [("csv", None, ("csv",)), ("nowriter", None, ()),
              ("nodispatch", "nodispatch", ())]
    out, runs = {}, {}
    # Each setup runs args.repeat times, interleaved; the table keeps each
    # setup's best run (least disturbed by whatever else runs here).
    for _ in range(args.repeat):
        for name, variant, writers in setups:
            r = cpu_run(args, variant, writers)
            say("  %-10s %6d telegrams at %4.0f/s: %.3f CPU s per 1,000 "
                "(utime+stime; %.1f us/telegram on-CPU: reader threads "
                "%.1f, write thread %.1f, rest %.1f)" %
                (name, r["telegrams"], r["rate"], r["stat"] / 1000.0,
                 r["total"], r["dsmr"], r["writer"], r["other"]))
            runs.setdefault(name, []).append(round(r["total"], 1))
            if name not in out or r["total"] < out[name]["total"]:
                out[name] = r
            out[name]["runs"] = runs[name]
    # collectd idle: what the window costs without telegrams
    cd = collectd([], None, ("csv",), tag="idle",
                  plugin_block="<Plugin dsmr>\n</Plugin>")
    cd.start()
    cd.wait_log(r"Initialization complete", 20)
    c0 = cpu(cd.proc.pid)
    time.sleep(5)
    idle = cpu_delta(c0, cpu(cd.proc.pid))["total"] / 5.0
    cd.stop()
    out["idle_cpu_per_s"] = idle
    say("  idle collectd: %.2f ms CPU per second" % (idle * 1e3))
    results["cpu"] = out


def cpu_run(args, variant, writers):
    """One flood run; figures per telegram (µs) by kind of thread."""
    sim = Sim(args.flood_meters, 0, args.flood_count, play=True)
    cd = collectd(sim.blocks(), variant, writers, tag="cpu")
    cd.start()
    if len(cd.wait_log(r"connected to", 20, args.flood_meters)) < \
            args.flood_meters:
        raise RuntimeError("meters did not connect:\n" + cd.log())
    c0, t0 = cpu(cd.proc.pid), time.monotonic()
    # EOF after the simulator's last telegram: everything was read.
    cd.wait_log(r'": lost tcp', args.flood_count / 100.0 * 3 + 60,
                args.flood_meters)
    sim.wait(30)
    sent = sim.delivered()
    n = sum(sent.values())
    if writers:
        got = wait_stored(cd, sent)
        if sum(got.values()) != n:
            say("  csv stored %d of %d telegrams" % (sum(got.values()), n))
    c1, t1 = cpu(cd.proc.pid), time.monotonic()
    cd.stop()
    d = cpu_delta(c0, c1)
    r = {k: d[k] / n * 1e6 for k in d}  # µs per telegram
    r["telegrams"] = n
    r["rate"] = n / (t1 - t0)
    return r


def run_scale(meters, rate, seconds, results_key, results, variant="probe"):
    count = int(rate * seconds)
    sim = Sim(meters, rate, count, linger=5, tag="scale")
    lat = os.path.join(dt.tmpdir("lat"), "latency.txt")
    cd = collectd(sim.blocks(), variant, ("csv",), tag="scale",
                  env={"DSMR_LATENCY_FILE": lat})
    cd.start()
    if len(cd.wait_log(r"connected to", 30, meters)) < meters:
        raise RuntimeError("meters did not connect:\n" + cd.log())
    c0, t0 = cpu(cd.proc.pid), time.monotonic()
    sim.wait(seconds * 3 + 60)
    sent = sim.delivered()
    if variant == "nodispatch":
        # No values stored: count what the plugin took (its ok counter,
        # dispatched once an interval by the read callback).
        deadline = time.monotonic() + 10
        while True:
            got = {i: ok_counter(cd, "m%d" % i) for i in range(meters)}
            if got == sent or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    else:
        got = wait_stored(cd, sent)
    c1, t1 = cpu(cd.proc.pid), time.monotonic()
    cd.stop()
    n, m = sum(sent.values()), sum(got.values())
    lost = sum(max(0, sent[i] - got.get(i, 0)) for i in sent)
    d = cpu_delta(c0, c1)
    r = {"meters": meters, "rate": rate, "sent": n, "stored": m,
         "lost": lost, "seconds": t1 - t0,
         "cpu_share": d["total"] / (t1 - t0),
         "us_per_telegram": d["total"] / max(n, 1) * 1e6,
         "reader_us_per_telegram": d["dsmr"] / max(n, 1) * 1e6,
         "reader_user_us": d["dsmr_user"] / max(n, 1) * 1e6,
         "reader_sys_us": d["dsmr_sys"] / max(n, 1) * 1e6}
    try:
        with open(lat) as f:
            head = f.readline().split()
        r["latency"] = dict(zip(head[0::2], (int(x) for x in head[1::2])))
    except (OSError, ValueError):
        r["latency"] = None
    results.setdefault("scale", {})[results_key] = r
    say("  %2d meters x %2d/s: %d delivered, %d stored, %d lost; collectd "
        "%.1f%% of a core over %.0f s (%.1f us/telegram, reader threads "
        "%.1f: user %.1f, system %.1f); latency %s" %
        (meters, rate, n, m, lost, r["cpu_share"] * 100, r["seconds"],
         r["us_per_telegram"], r["reader_us_per_telegram"],
         r["reader_user_us"], r["reader_sys_us"],
         "p50 %(p50_us)d us, p99 %(p99_us)d us, max %(max_us)d us "
         "(%(count)d telegrams)" % r["latency"] if r["latency"] else "n/a"))


def bench_scale(args, results):
    say("== Scale (bench/probe build: the latency probe adds two "
        "clock_gettime per telegram)")
    run_scale(64, 1, args.scale_seconds, "64x1", results)
    run_scale(16, 50, args.scale_seconds, "16x50", results)
    say("  the same 64 x 1/s with bench/nodispatch (the plugin without "
        "collectd's dispatch; its ok counter counts):")
    run_scale(64, 1, args.scale_seconds, "64x1-nodispatch", results,
              "nodispatch")


def bench_latency(args, results):
    say("== Latency at 4 meters x 10/s (bench/probe build)")
    run_scale(4, 10, args.scale_seconds // 2, "4x10", results)


def pty_feeder(meters, stop):
    """Write the corpus telegram to each pty once a second."""
    with open(TELEGRAM, "rb") as f:
        data = f.read()
    while not stop.is_set():
        for m in meters:
            try:
                m.write(data)
            except OSError:
                pass
        stop.wait(1.0)


def bench_memory(args, results):
    say("== Resident memory (VmRSS) of collectd (csv writer, after %d s "
        "of telegrams at 1/s)" % args.settle)
    out = {}
    for kind in ("tcp", "pty"):
        for n in (0, 1, 16, 64):
            if kind == "pty" and n == 0:
                continue
            stop = threading.Event()
            sim = None
            if n == 0:
                blocks = None
            elif kind == "tcp":
                sim = Sim(n, 1, tag="mem")
                blocks = sim.blocks()
            else:
                d = dt.tmpdir("pty")
                ptys = [dt.PtyMeter(os.path.join(d, "p%d" % i))
                        for i in range(n)]
                blocks = [dt.meter_block("m%d" % i, device=p.path)
                          for i, p in enumerate(ptys)]
                threading.Thread(target=pty_feeder, args=(ptys, stop),
                                 daemon=True).start()
            cd = collectd(blocks or [], None, ("csv",), tag="mem",
                          plugin_block=None if blocks else
                          "<Plugin dsmr>\n</Plugin>")
            cd.start()
            if n:
                cd.wait_log(r"connected to", 30, n)
            else:
                cd.wait_log(r"Initialization complete", 20)
            time.sleep(args.settle)
            rss = cd.rss_kb()
            ok = sum(ok_counter(cd, "m%d" % i) for i in range(n))
            cd.stop()
            stop.set()
            if sim:
                sim.kill()
            out["%s%d" % (kind, n)] = rss
            say("  %-3s %2d meters: VmRSS %6d KiB (%d telegrams taken)" %
                (kind, n, rss, ok))
    base = out["tcp0"]
    for kind in ("tcp", "pty"):
        per = (out[kind + "64"] - out[kind + "1"]) / 63.0
        out[kind + "_per_meter"] = per
        say("  %s: first meter %+d KiB, each further meter %.0f KiB "
            "(1 -> 64 meters)" % (kind, out[kind + "1"] - base, per))
    results["memory"] = out


def alloc_run(variant, n):
    sim = Sim(1, 0, n, play=True, linger=120, tag="alloc")
    counts = os.path.join(dt.tmpdir("alloc"), "counts.txt")
    cd = collectd(sim.blocks(), variant, ("csv",), tag="alloc",
                  env={"LD_PRELOAD": PRELOAD,
                       "DSMR_MALLOC_COUNT_FILE": counts})
    cd.start()
    deadline = time.monotonic() + n / 50.0 + 30
    while ok_counter(cd, "m0") < n and time.monotonic() < deadline:
        time.sleep(0.2)
    got = ok_counter(cd, "m0")
    cd.stop()
    sim.kill()
    with open(counts) as f:
        c = {k: int(v) for k, v in (line.split() for line in f)}
    c["ok"] = got
    return c


def bench_allocs(args, results):
    n = args.alloc_count
    say("== Heap allocations per telegram (LD_PRELOAD counter; %d vs %d "
        "telegrams, so start-up cancels out)" % (n, 2 * n))
    if not os.path.isfile(PRELOAD):
        raise RuntimeError("no %s: run `make bench`" % PRELOAD)
    out = {}
    for name, variant in (("plugin", None), ("nodispatch", "nodispatch")):
        a, b = alloc_run(variant, n), alloc_run(variant, 2 * n)
        if a["ok"] != n or b["ok"] != 2 * n:
            say("  %s: took %d and %d telegrams, not %d and %d" %
                (name, a["ok"], b["ok"], n, 2 * n))
        dn = max(b["ok"] - a["ok"], 1)
        r = {k: (b[k] - a[k]) / dn for k in a if k != "ok"}
        out[name] = r
        say("  %-10s reader thread %.2f, collectd write thread %.2f, "
            "other threads %.2f allocations per telegram" %
            (name, r["dsmr"], r["writer"],
             r["main"] + r["other"] + r["reader"]))
    results["allocs"] = out


STAGES = [  # (label, function) for the callgrind summary
    ("reader thread, all", "reader_main"),
    ("framing (incl. CRC)", "dsmr_framer_feed"),
    ("  CRC-16", "dsmr_crc16"),
    ("parse + map", "dsmr_map_telegram"),
    ("plugin dispatch logic (incl. collectd's)", "dsmr_meter_dispatch"),
    ("  collectd plugin_dispatch_values", "plugin_dispatch_values"),
    ("collectd write thread: cache update", "uc_update"),
    ("collectd write thread: writers", "plugin_write"),
]


def bench_profile(args, results):
    n = args.profile_count
    say("== Where the time goes: callgrind over collectd + plugin "
        "(%d telegrams, csv writer)" % n)
    if not shutil.which("valgrind"):
        say("  valgrind not installed: skipped")
        return
    # Kept for a closer look: callgrind_annotate --inclusive=yes FILE
    d = os.path.join(BUILD, "bench")
    sim = Sim(1, 0, n, play=True, linger=600, tag="cg")
    os.environ["DSMR_TEST_WRAPPER"] = (
        "valgrind --tool=callgrind --callgrind-out-file=%s/callgrind.out" % d)
    try:
        cd = collectd(sim.blocks(), None, ("csv",), tag="cg")
        cd.start()
        deadline = time.monotonic() + 300
        while ok_counter(cd, "m0") < n and time.monotonic() < deadline:
            time.sleep(0.5)
        got = ok_counter(cd, "m0")
        cd.stop()
    finally:
        del os.environ["DSMR_TEST_WRAPPER"]
    sim.kill()
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes",
                          "--threshold=100", d + "/callgrind.out"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    incl = {}
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+\S*:([A-Za-z_]\w*)", line) \
            or re.match(r"\s*([\d,]+)\s+\S*:([A-Za-z_]\w*)", line)
        if m and m.group(2) not in incl:
            incl[m.group(2)] = int(m.group(1).replace(",", ""))
    out = {"telegrams": got}
    for label, fn in STAGES:
        if fn in incl:
            out[fn] = incl[fn] / max(got, 1)
            say("  %-42s %8.0f instructions per telegram" % (label, out[fn]))
    results["profile"] = out


# ------------------------------------------------------------ table
def table(results, lib):
    """The HACKING.md table: figures next to the targets."""
    rows = []

    def row(what, measured, target="—"):
        rows.append("| %s | %s | %s |" % (what, measured, target))

    if lib:
        row("library path (frame + CRC + parse + map), instructions per "
            "telegram", "{:,}".format(lib), "≤ 15,000")
    c = results.get("cpu")
    if c:
        row("plugin CPU per telegram incl. dispatch (reader thread, "
            "flood %d meters x 100/s)" % (4), "%.0f µs" % c["csv"]["dsmr"],
            "< 20 µs")
    sc = results.get("scale", {})
    if "64x1" in sc:
        row("plugin CPU per telegram incl. dispatch at 64 x 1/s",
            "%.0f µs" % sc["64x1"]["reader_us_per_telegram"], "< 20 µs")
    if c:
        row("plugin CPU per telegram without collectd's dispatch "
            "(bench/nodispatch), flood", "%.0f µs" % c["nodispatch"]["dsmr"])
    if "64x1-nodispatch" in sc:
        row("plugin CPU per telegram without collectd's dispatch, 64 x 1/s",
            "%.0f µs" % sc["64x1-nodispatch"]["reader_us_per_telegram"])
    if c:
        row("collectd CPU s per 1,000 telegrams: csv on tmpfs / no writer / "
            "no dispatch", "%.3f / %.3f / %.3f" %
            (c["csv"]["stat"] / 1000, c["nowriter"]["stat"] / 1000,
             c["nodispatch"]["stat"] / 1000))
    for key, name in (("4x10", "4 x 10/s"), ("64x1", "64 x 1/s"),
                      ("16x50", "16 x 50/s")):
        lat = sc.get(key, {}).get("latency")
        if lat:
            row("latency last byte → dispatch returned, p50 / p99, %s" % name,
                "%d / %d µs" % (lat["p50_us"], lat["p99_us"]))
    m = results.get("memory")
    if m:
        row("collectd VmRSS, 0 / 1 / 16 / 64 meters over TCP",
            "%d / %d / %d / %d KiB" % (m["tcp0"], m["tcp1"], m["tcp16"],
                                       m["tcp64"]))
        row("collectd VmRSS, 1 / 16 / 64 meters over ptys",
            "%d / %d / %d KiB" % (m["pty1"], m["pty16"], m["pty64"]))
        row("resident memory per extra meter, TCP / pty",
            "%.0f / %.0f KiB" % (m["tcp_per_meter"], m["pty_per_meter"]),
            "< 256 KiB")
    for key, name in (("64x1", "64 meters x 1/s"), ("16x50", "16 meters x 50/s")):
        if key in sc:
            r = sc[key]
            row("telegrams lost, %s (%.0f s)" % (name, r["seconds"]),
                "%d of %d; collectd %.0f%% of a core" %
                (r["lost"], r["sent"], r["cpu_share"] * 100), "0")
    a = results.get("allocs")
    if a:
        row("heap allocations per telegram, reader thread: plugin / with "
            "collectd's dispatch", "%.2f / %.1f" %
            (a["nodispatch"]["dsmr"], a["plugin"]["dsmr"]), "0 (plugin)")
    p = results.get("profile")
    if p:
        row("instructions per telegram (callgrind): framing+CRC / parse+map "
            "/ dispatch logic / collectd dispatch call / csv write",
            "%.0f / %.0f / %.0f / %.0f / %.0f" %
            (p.get("dsmr_framer_feed", 0), p.get("dsmr_map_telegram", 0),
             p.get("dsmr_meter_dispatch", 0) -
             p.get("plugin_dispatch_values", 0),
             p.get("plugin_dispatch_values", 0), p.get("plugin_write", 0)))
    rep = results.get("report")
    if rep:
        row("CPU s per 1,000 telegrams at 1/s, every telegram / "
            "ReportInterval 10: reader threads",
            "%.3f / %.3f" % (rep["every"]["reader_s_per_1000"],
                             rep["ri10"]["reader_s_per_1000"]))
        row("the same: collectd's write thread (csv)",
            "%.3f / %.3f" % (rep["every"]["writer_s_per_1000"],
                             rep["ri10"]["writer_s_per_1000"]))
        row("the same: collectd in all",
            "%.3f / %.3f" % (rep["every"]["total_s_per_1000"],
                             rep["ri10"]["total_s_per_1000"]))
    return "| what | measured | target |\n|---|---|---|\n" + "\n".join(rows)


def report_run(args, interval):
    """One run at a meter's pace; figures per 1,000 telegrams."""
    meters, seconds = args.report_meters, args.report_seconds
    sim = Sim(meters, 1, seconds, linger=3, tag="report")
    blocks = [dt.meter_block("m%d" % i, host="127.0.0.1", port=p,
                             ReportInterval=interval)
              for i, p in enumerate(sim.ports)]
    cd = collectd(blocks, None, ("csv",), tag="report")
    cd.start()
    if len(cd.wait_log(r"connected to", 30, meters)) < meters:
        raise RuntimeError("meters did not connect:\n" + cd.log())
    c0 = cpu(cd.proc.pid)
    sim.wait(seconds * 3 + 60)
    sent = sim.delivered()
    # the ok counters (not delayed by ReportInterval): everything was read
    deadline = time.monotonic() + 15
    while True:
        got = {i: ok_counter(cd, "m%d" % i) for i in range(meters)}
        if got == sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1.5)  # the write thread catches up
    c1 = cpu(cd.proc.pid)
    rows = sum(len(cd.csv_rows("m%d" % i, "power-import"))
               for i in range(meters))
    cd.stop()
    n = sum(sent.values())
    d = cpu_delta(c0, c1)
    return {"telegrams": n, "read": sum(got.values()),
            "reader_s_per_1000": d["dsmr"] / n * 1000,
            "writer_s_per_1000": d["writer"] / n * 1000,
            "total_s_per_1000": d["total"] / n * 1000,
            "power_rows_per_telegram": rows / n}


def bench_report(args, results):
    say("== ReportInterval: every telegram vs 10 s (%d meters x 1/s for "
        "%d s, generated DSMR 5, csv on tmpfs; best of %d)" %
        (args.report_meters, args.report_seconds, args.repeat))
    out = {}
    for _ in range(args.repeat):
        for name, interval in (("every", 0), ("ri10", 10)):
            r = report_run(args, interval)
            say("  %-5s %5d telegrams: reader threads %.3f, write thread "
                "%.3f, collectd in all %.3f CPU s per 1,000 telegrams; "
                "%.2f power-import rows per telegram" %
                (name, r["telegrams"], r["reader_s_per_1000"],
                 r["writer_s_per_1000"], r["total_s_per_1000"],
                 r["power_rows_per_telegram"]))
            if name not in out or \
                    r["total_s_per_1000"] < out[name]["total_s_per_1000"]:
                out[name] = r
    results["report"] = out


# ------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sections", nargs="*",
                    default=["cpu", "latency", "scale", "memory", "allocs",
                             "profile", "report"])
    ap.add_argument("--quick", action="store_true",
                    help="shorter runs (figures less steady)")
    ap.add_argument("--json", metavar="FILE", help="write the results here")
    ap.add_argument("--library-instructions", type=int, metavar="N",
                    help="bench_telegram's figure, for the table")
    args = ap.parse_args()
    args.flood_meters = 4
    args.flood_count = 600 if args.quick else 1500
    args.repeat = 1 if args.quick else 2
    args.scale_seconds = 12 if args.quick else 30
    args.settle = 4 if args.quick else 6
    args.alloc_count = 200 if args.quick else 500
    args.profile_count = 100 if args.quick else 300
    args.report_meters = 16 if args.quick else 32
    args.report_seconds = 20 if args.quick else 60
    results = {"load": os.getloadavg()}
    say("load average at start: %.2f %.2f %.2f (%d CPUs)" %
        (*os.getloadavg(), os.cpu_count()))
    fns = {"cpu": bench_cpu, "latency": bench_latency, "scale": bench_scale,
           "memory": bench_memory, "allocs": bench_allocs,
           "profile": bench_profile, "report": bench_report}
    for s in args.sections:
        if s not in fns:
            ap.error("unknown section %s" % s)
        fns[s](args, results)
    say("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    say("\n" + table(results, args.library_instructions))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
