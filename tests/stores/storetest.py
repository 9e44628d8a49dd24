"""Harness of the store tests: the real servers people write collectd's
values to (InfluxDB 1.x, carbon-cache and graphite-web, Prometheus,
PostgreSQL, a second collectd), each started by the test on 127.0.0.1 with
a free port and its state in a temp dir, and stopped by its PID on exit,
on failure and on SIGTERM (tests/integration/dsmrtest.py's cleanup list,
which this module reuses along with its collectd runner and TAP output).

The meter is tools/dsmr-sim on a pseudo-terminal; its manifest (one JSON
line per telegram sent) is the ground truth every stored value is checked
against, exactly.

Environment: as dsmrtest (top_srcdir, top_builddir, COLLECTD, PYTHON3).
For debugging: DSMR_STORE_KEEP=1 keeps every temp dir (and says where);
DSMR_STORE_DEBUG=1 reports how each server stopped.
"""
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import dsmrtest as d  # noqa: E402

Tap = d.Tap
HOST = d.HOST
SRCDIR = d.SRCDIR
BUILDDIR = d.BUILDDIR
PY = os.environ.get("PYTHON3") or sys.executable
SIM = os.path.join(SRCDIR, "tools", "dsmr-sim")
STOCK_TYPES = d.STOCK_TYPES
DSMR_TYPES = d.DSMR_TYPES
if os.environ.get("DSMR_STORE_KEEP"):
    # Debugging: keep every temp dir (servers' data, logs, PNGs).
    import tempfile

    def _keep(tag):
        path = tempfile.mkdtemp(prefix="dsmr-%s-" % tag)
        sys.stderr.write("keeping %s\n" % path)
        return path
    d.tmpdir = _keep
tmpdir = d.tmpdir
free_port = d.free_port
on_cleanup = d.on_cleanup


def need(tap, *paths):
    """Skip the whole test when a program it needs is not installed
    (tools/install-store-deps.sh installs them all)."""
    if d.plugin_dir() is None:
        tap.skip_all("dsmr.so not built")
    for p in paths:
        if not os.path.exists(p):
            tap.skip_all("%s not installed (tools/install-store-deps.sh)" % p)


# ------------------------------------------------------------- processes
class Proc:
    """A server in the foreground, as a child of the test: its output goes
    to a log file; it is stopped by its own PID (SIGTERM, then SIGKILL)."""

    def __init__(self, argv, log, env=None, cwd=None, user=None):
        self.argv = argv
        self.logpath = log
        out = open(log, "ab")
        kw = {}
        if user is not None:
            kw["user"] = user
            kw["group"] = user
            kw["extra_groups"] = []
        self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                     **kw)
        out.close()
        self.pid = self.proc.pid
        on_cleanup(self.stop)

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=3.0):
        """SIGTERM (or stop_signal), SIGKILL after timeout; returns the
        exit status."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        t0 = time.monotonic()
        try:
            os.kill(self.pid, getattr(self, "stop_signal", signal.SIGTERM))
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            rc = self.proc.wait()
        except ProcessLookupError:
            rc = self.proc.wait()
        if os.environ.get("DSMR_STORE_DEBUG"):
            sys.stderr.write("stopped %s (pid %d) in %.2f s: %r\n" % (
                os.path.basename(self.argv[0]), self.pid,
                time.monotonic() - t0, rc))
            if rc == -signal.SIGKILL:
                sys.stderr.write(self.log()[-1500:])
        return rc

    def log(self):
        try:
            with open(self.logpath, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def wait_port(port, timeout=15.0, proc=None):
    """True once something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.running():
            return False
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def http_get(url, timeout=10.0):
    """(status, body text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait_until(fn, timeout=10.0, step=0.1):
    """fn() until it returns something true or time runs out; returns the
    last result."""
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r or time.monotonic() > deadline:
            return r
        time.sleep(step)


# ------------------------------------------------------------- the meter
def wh(text):
    """A register as the meter wrote it ('003238.408' kWh or m3) -> the
    integer the plugin stores (Wh or L), exactly."""
    whole, frac = text.split(".")
    return int(whole) * 1000 + int(frac.ljust(3, "0")[:3])


def watt(text):
    """'01.234' kW -> 1234 W, exactly."""
    return wh(text)


def utc(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


# What a DSMR 5 telegram of the simulator carries, under our identifiers.
ENERGY = {"1-0:1.8.1": "import_t1", "1-0:1.8.2": "import_t2",
          "1-0:2.8.1": "export_t1", "1-0:2.8.2": "export_t2"}
POWER = {"1-0:1.7.0": "import", "1-0:2.7.0": "export",
         "1-0:21.7.0": "import_l1", "1-0:41.7.0": "import_l2",
         "1-0:61.7.0": "import_l3", "1-0:22.7.0": "export_l1",
         "1-0:42.7.0": "export_l2", "1-0:62.7.0": "export_l3"}
VOLTAGE = {"1-0:32.7.0": "l1", "1-0:52.7.0": "l2", "1-0:72.7.0": "l3"}


class Sim:
    """tools/dsmr-sim generating DSMR 5 telegrams on a pseudo-terminal,
    starting once the plugin has opened it (--wait).

    fast_clock: the meter clock runs 60 s per telegram (one telegram per
    real second), so that the gas capture (every 5 minutes of meter time)
    moves every 5 telegrams; it is set to end about now, so that gas times
    are recent; no solar panels, so that energy is imported at any hour. Otherwise the meter clock is real time (1 s per telegram)."""

    def __init__(self, tmp, name, count, fast_clock=False, seed=7,
                 extra=()):
        self.path = os.path.join(tmp, name)
        self.manifest = os.path.join(tmp, name + ".jsonl")
        args = ["--pty", self.path, "--generate", "dsmr5", "--count",
                str(count), "--seed", str(seed), "--wait", "--linger", "1",
                "--manifest", self.manifest, "--quiet"]
        if fast_clock:
            now = int(time.time())
            # Start 5 minutes + count minutes back, on a capture boundary:
            # the last gas capture is at most a few minutes old at the end.
            start = now - 60 * count - 300
            start -= start % 300
            self.start_unix = start
            # The meter clock is about now, so a model with solar panels
            # would export at midday and leave "energy imported" at 0 Wh
            # at some hours of the day: the queries' checks need import.
            args += ["--interval", "60", "--rate", "1", "--no-solar",
                     "--start",
                     time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))]
        else:
            args += ["--interval", "1"]
        args += list(extra)
        self.proc = subprocess.Popen([PY, SIM] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        on_cleanup(self.kill)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("pty "):
            raise RuntimeError("simulator did not start: %r" % line)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def entries(self):
        with open(self.manifest) as f:
            return [json.loads(l) for l in f if l.strip()]

    def clean(self):
        """Every telegram the reader received whole (no faults are asked
        for; a telegram written while the pty was not yet open is not
        delivered)."""
        return [e for e in self.entries() if e["clean"] and e["delivered"]]


def captures(entries):
    """[(capture time, litres)], once per capture, in order."""
    out = []
    for e in entries:
        g = e.get("gas")
        if g and (not out or out[-1][0] != utc(g["time"])):
            out.append((utc(g["time"]), wh(g["m3"])))
    return out


def expected_values(entries):
    """{(type, type_instance): [values in order]} for what every stored
    telegram must have given."""
    want = {}
    for e in entries:
        reg = e["registers"]
        for obis, ti in ENERGY.items():
            want.setdefault(("dsmr_energy", ti), []).append(wh(reg[obis]))
        for obis, ti in POWER.items():
            want.setdefault(("power", ti), []).append(watt(reg[obis]))
        for obis, ti in VOLTAGE.items():
            want.setdefault(("voltage", ti), []).append(float(reg[obis]))
    return want


# -------------------------------------------------------------- collectd
def collectd(meters, config, tag, rrd=False, writers=("csv", "rrdtool")):
    """dsmrtest's collectd (dsmr.so from the build tree, logfile) with the
    write plugins and their configuration in `config`; dsmrtest's csv and
    rrdtool (or `writers` of them) only when rrd is true. `meters`:
    {name: Sim}."""
    blocks = [d.meter_block(n, device=s.path, SilenceTimeout=300)
              for n, s in meters.items()]
    block = "%s\n<Plugin dsmr>\n%s\n</Plugin>\n" % (config, "\n".join(blocks))
    return d.Collectd(None, plugin_block=block, tag=tag, write_plugins=rrd,
                      writers=writers)


class PlainCollectd(d.Collectd):
    """A collectd without the dsmr plugin (a central server), with our
    types: `config` is everything after the logfile plugin; "{data}" in it
    becomes its data directory. dsmrtest's runner (start, stop, log)."""

    def __init__(self, config, tag):
        d.Collectd.__init__(self, None, plugin_block="", tag=tag,
                            write_plugins=False)
        with open(self.conf, "w") as f:
            f.write(d.conf_head("tests/stores/storetest.py", "server",
                                self.dir, 1, self.logfile) +
                    config.replace("{data}", self.data) + "\n")


def run_meters(tap, cd, sims, timeout=60):
    """Start collectd, let every simulator send all its telegrams, and
    check that they all arrived. Returns nothing; asserts."""
    cd.start()
    for name, s in sims.items():
        rc = s.wait(timeout)
        tap.ok(rc == 0, "simulator %s sent its telegrams" % name,
               "exit status %r" % (rc,), cd.log()[-2000:])
    for name, s in sims.items():
        ent = s.entries()
        tap.ok(ent and all(e["clean"] and e["delivered"] for e in ent),
               "%s: all %d telegrams delivered to the plugin" % (name, len(ent)))


# ---------------------------------------------------------------- servers
class InfluxDB:
    """influxd 1.x with its HTTP API, a [[collectd]] input (database
    "collectd", our types in its typesdb directory) and a [[udp]] input
    (database "udp", line protocol with millisecond times)."""

    def __init__(self):
        self.dir = tmpdir("influxdb")
        self.http = free_port()
        self.collectd_port = free_port()
        self.udp_port = free_port()
        rpc = free_port()
        # typesdb takes a file or a directory of types files: collectd's
        # own types and ours side by side.
        self.typesdb = os.path.join(self.dir, "types")
        os.mkdir(self.typesdb)
        for src in (STOCK_TYPES, DSMR_TYPES):
            os.symlink(src, os.path.join(self.typesdb, os.path.basename(src)))
        self.conf = os.path.join(self.dir, "influxdb.conf")
        with open(self.conf, "w") as f:
            f.write(INFLUXDB_CONF.format(dir=self.dir, http=self.http,
                                         rpc=rpc, typesdb=self.typesdb,
                                         collectd=self.collectd_port,
                                         udp=self.udp_port))
        env = dict(os.environ, HOME=self.dir)
        self.proc = Proc(["influxd", "-config", self.conf],
                         os.path.join(self.dir, "influxd.log"), env=env)
        self.ready = wait_until(
            lambda: not self.proc.running() or
            http_get("http://127.0.0.1:%d/ping" % self.http, 1)[0] == 204,
            timeout=20, step=0.05) and self.proc.running()

    def query(self, q, db="collectd"):
        """The result of one InfluxQL statement: JSON, times in ms."""
        url = "http://127.0.0.1:%d/query?%s" % (self.http, urllib.parse.urlencode(
            {"db": db, "q": q, "epoch": "ms"}))
        status, body = http_get(url)
        if status != 200:
            raise RuntimeError("InfluxDB %d: %s" % (status, body))
        return json.loads(body)

    def rows(self, q, db="collectd"):
        """[{column: value}] of every series of the first statement, with
        the series' tags merged in."""
        out = []
        for r in self.query(q, db).get("results", []):
            if "error" in r:
                raise RuntimeError(r["error"])
            for s in r.get("series", []):
                for v in s["values"]:
                    row = dict(zip(s["columns"], v))
                    row.update(s.get("tags") or {})
                    out.append(row)
        return out


INFLUXDB_CONF = """# written by tests/stores/storetest.py
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  log-enabled = false
[[collectd]]
  enabled = true
  bind-address = "127.0.0.1:{collectd}"
  database = "collectd"
  typesdb = "{typesdb}"
  security-level = "none"
  batch-size = 5000
  batch-timeout = "1s"
[[udp]]
  enabled = true
  bind-address = "127.0.0.1:{udp}"
  database = "udp"
  precision = "ms"
  batch-size = 5000
  batch-timeout = "1s"
"""


# ------------------------------------------------------------------- PNG
def png_read(path):
    """(width, height, rows): rows of (r, g, b) tuples of an 8-bit RGB or
    RGBA PNG, non-interlaced (what rrdtool and Chromium write)."""
    import struct
    import zlib
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, w = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                raise ValueError("%s: PNG kind %d/%d/%d not handled"
                                 % (path, depth, ctype, interlace))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def graph_info(text):
    """`rrdtool graphv` output -> {key: value} (numbers as floats)."""
    info = {}
    for line in text.splitlines():
        if " = " not in line:
            continue
        k, v = line.split(" = ", 1)
        v = v.strip()
        if v.startswith('"'):
            info[k.strip()] = v.strip('"')
        else:
            try:
                info[k.strip()] = float(v)
            except ValueError:
                info[k.strip()] = v
    return info


def canvas_colors(path, info):
    """{(r, g, b): count} of the pixels inside the graph area of an rrdtool
    PNG (graph_left/top/width/height from graphv), without the 2 pixels
    along the axes (left and bottom)."""
    _, _, rows = png_read(path)
    x0, y0 = int(info["graph_left"]) + 2, int(info["graph_top"])
    x1 = int(info["graph_left"] + info["graph_width"])
    y1 = int(info["graph_top"] + info["graph_height"]) - 2
    out = {}
    for row in rows[y0:y1]:
        for px in row[x0:x1]:
            out[px] = out.get(px, 0) + 1
    return out


def color_pixels(colors, rgb, alpha=1.0, tol=10):
    """How many pixels of `colors` (from canvas_colors) are the colour
    'rrggbb' drawn with `alpha` over white (within tol per channel)."""
    want = [255 + (int(rgb[i:i + 2], 16) - 255) * alpha for i in (0, 2, 4)]
    return sum(n for px, n in colors.items()
               if all(abs(a - b) <= tol for a, b in zip(px, want)))


# ------------------------------------------------------------------- RRD
def rrd_seconds(t):
    """collectd's rrdtool plugin writes whole seconds, rounded
    (CDTIME_T_TO_TIME_T: half a second goes up)."""
    import math
    return int(math.floor(t + 0.5))


def rrd_model(points, step, heartbeat, derive):
    """What an RRD archive of one primary data point per row must hold
    after the updates `points` [(whole second, value)], computed the way
    rrdtool defines it: a DERIVE value's rate (or a GAUGE value) holds for
    the time since the previous update, unless that is longer than the
    heartbeat (unknown); a row is the average over its known seconds, and
    unknown when more than half of it is unknown. Returns {row end time:
    value or None} for every complete row from the first update on."""
    pts = []
    for t, v in points:  # rrdtool refuses a second update in one second
        if not pts or t > pts[-1][0]:
            pts.append((t, v))
    segs = []
    if not derive:
        # collectd creates the file one second before its first value
        # (utils_rrdcreate.c: last_up -= 1): a GAUGE's first value holds
        # for that second; a DERIVE's first value has no rate yet.
        segs.append((pts[0][0] - 1, pts[0][0], pts[0][1]))
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if t1 - t0 > heartbeat:
            rate = None
        elif derive:
            rate = (v1 - v0) / (t1 - t0)
            if rate < 0:  # DERIVE with minimum 0 (our types)
                rate = None
        else:
            rate = v1
        segs.append((t0, t1, rate))
    first, last = pts[0][0], pts[-1][0]
    rows = {}
    end = first - first % step + step
    while end <= last:
        known = total = 0.0
        for a, b, r in segs:
            lo, hi = max(a, end - step), min(b, end)
            if hi > lo and r is not None:
                known += hi - lo
                total += r * (hi - lo)
        rows[end] = None if step - known > step / 2 else total / known
        end += step
    return rows


# -------------------------------------------------------------- Graphite
SYS_PY = "/usr/bin/python3"  # Debian's python: carbon, whisper, graphite-web

CARBON_CONF = """# written by tests/stores/storetest.py
[cache]
STORAGE_DIR = {dir}/storage
LOCAL_DATA_DIR = {dir}/storage/whisper
WHITELISTS_DIR = {dir}/storage/lists
CONF_DIR = {dir}
LOG_DIR = {dir}/log
PID_DIR = {dir}
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query}
LOG_LISTENER_CONN_SUCCESS = False
LOG_UPDATES = False
LOG_CREATES = False
LOG_CACHE_HITS = False
WHISPER_AUTOFLUSH = False
ENABLE_TAGS = False
"""

GRAPHITE_WEB_SETTINGS = """# written by tests/stores/storetest.py
SECRET_KEY = "dsmr-store-test"
TIME_ZONE = "Europe/Amsterdam"
ALLOWED_HOSTS = ["127.0.0.1"]
STORAGE_DIR = "{dir}/storage"
WHISPER_DIR = "{dir}/storage/whisper"
STANDARD_DIRS = ["{dir}/storage/whisper"]
INDEX_FILE = "{dir}/storage/index"
LOG_DIR = "{dir}/weblog"
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
CARBONLINK_HOSTS = ["127.0.0.1:{query}"]
DATABASES = {{"default": {{"NAME": "{dir}/graphite.db",
                          "ENGINE": "django.db.backends.sqlite3"}}}}
"""


def contrib_file(*path):
    with open(os.path.join(SRCDIR, "contrib", *path)) as f:
        return f.read()


class Graphite:
    """carbon-cache (plaintext on `line`) with the storage schemas and
    aggregation of contrib/graphite/, and graphite-web's render API (the
    Graphite functions) on `http`, reading the same whisper files and
    carbon's cache."""

    def __init__(self):
        self.dir = tmpdir("graphite")
        self.line, self.http = free_port(), free_port()
        query = free_port()
        for sub in ("storage/whisper", "storage/lists", "log", "weblog"):
            os.makedirs(os.path.join(self.dir, sub))
        self.whisper = os.path.join(self.dir, "storage", "whisper")
        conf = os.path.join(self.dir, "carbon.conf")
        with open(conf, "w") as f:
            f.write(CARBON_CONF.format(dir=self.dir, line=self.line,
                                       pickle=free_port(), query=query))
        for name in ("storage-schemas.conf", "storage-aggregation.conf"):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(contrib_file("graphite", name))
        self.carbon = Proc([SYS_PY, "/usr/bin/carbon-cache", "--config=" + conf,
                            "--pidfile=" + os.path.join(self.dir, "carbon.pid"),
                            "--logdir=" + os.path.join(self.dir, "log"),
                            "--nodaemon", "start"],
                           os.path.join(self.dir, "carbon.out"))
        with open(os.path.join(self.dir, "dsmr_graphite_settings.py"), "w") as f:
            f.write(GRAPHITE_WEB_SETTINGS.format(dir=self.dir, query=query))
        env = dict(os.environ, PYTHONPATH=self.dir,
                   GRAPHITE_SETTINGS_MODULE="dsmr_graphite_settings",
                   DJANGO_SETTINGS_MODULE="graphite.settings")
        env.pop("PYTHONHOME", None)
        self.web = Proc([SYS_PY, "-c",
                         "from wsgiref.simple_server import make_server, "
                         "WSGIRequestHandler\n"
                         "class Quiet(WSGIRequestHandler):\n"
                         "    def log_message(self, *a): pass\n"
                         "from graphite.wsgi import application\n"
                         "make_server('127.0.0.1', %d, application, "
                         "handler_class=Quiet).serve_forever()\n" % self.http],
                        os.path.join(self.dir, "web.out"), env=env, cwd=self.dir)
        self.ready = (wait_port(self.line, 20, self.carbon) and
                      wait_port(query, 20, self.carbon) and
                      wait_port(self.http, 20, self.web))

    def log(self):
        out = self.carbon.log() + self.web.log()
        for name in ("console.log", "creates.log"):
            try:
                with open(os.path.join(self.dir, "log", name)) as f:
                    out += f.read()
            except OSError:
                pass
        return out

    def wsp(self, metric):
        return os.path.join(self.whisper, *metric.split(".")) + ".wsp"

    def fetch(self, metric, start, end):
        """whisper-fetch of a metric's file: [(time, value)] of the points
        that are set."""
        r = subprocess.run([SYS_PY, "/usr/bin/whisper-fetch", "--from",
                            str(int(start)), "--until", str(int(end)),
                            self.wsp(metric)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        pts = []
        for line in r.stdout.decode().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] != "None":
                pts.append((int(parts[0]), float(parts[1])))
        return pts

    def render(self, target, frm, until="now"):
        """graphite-web's render API, JSON: [{target, datapoints}]."""
        url = "http://127.0.0.1:%d/render?%s" % (self.http, urllib.parse.urlencode(
            {"target": target, "from": frm, "until": until, "format": "json",
             "tz": "Europe/Amsterdam"}))
        status, body = http_get(url, timeout=30)
        if status != 200:
            raise RuntimeError("graphite-web %d: %s" % (status, body[-2000:]))
        return json.loads(body)


# ------------------------------------------------------------ Prometheus
PROMETHEUS_CONF = """# written by tests/stores/storetest.py
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: collectd
    honor_labels: true
    honor_timestamps: true
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


class Prometheus:
    """A Prometheus server scraping collectd's write_prometheus every
    second, keeping collectd's timestamps; PromQL over its HTTP API."""

    def __init__(self, target_port):
        self.dir = tmpdir("prometheus")
        self.port = free_port()
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(PROMETHEUS_CONF.format(port=target_port))
        self.proc = Proc(["prometheus", "--config.file=" + conf,
                          "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                          "--web.listen-address=127.0.0.1:%d" % self.port,
                          "--log.level=warn"],
                         os.path.join(self.dir, "prometheus.log"))
        self.ready = wait_until(
            lambda: not self.proc.running() or http_get(
                "http://127.0.0.1:%d/-/ready" % self.port, 1)[0] == 200,
            timeout=20, step=0.1) and self.proc.running()

    def query(self, q, at=None):
        """An instant query: [(labels, value)]."""
        args = {"query": q}
        if at is not None:
            args["time"] = "%.3f" % at
        status, body = http_get("http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode(args)))
        res = json.loads(body) if body.startswith("{") else {}
        if status != 200 or res.get("status") != "success":
            raise RuntimeError("Prometheus %d: %s" % (status, body[-1000:]))
        data = res["data"]
        if data["resultType"] == "matrix":
            return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]])
                    for r in data["result"]]
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def parse_metrics(text):
    """Prometheus text format -> {(name, frozenset(labels)): (value, ms)}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)(?: (\d+))?$',
                     line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = (float(m.group(4)),
                                     int(m.group(5)) if m.group(5) else None)
    return out


# ------------------------------------------------------------ PostgreSQL
def pg_bindir():
    import glob
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda p: int(p.split("/")[-2]))
    return dirs[-1] if dirs else None


class PostgreSQL:
    """A PostgreSQL cluster made by initdb in a temp dir, its server in the
    foreground on 127.0.0.1:port (PostgreSQL refuses to run as root: then
    as the user postgres), a role `collectd` with a password and a database
    `dsmr` owned by it."""

    PASSWORD = "dsmr-test-password"

    def __init__(self):
        import pwd
        self.bin = pg_bindir()
        self.dir = tmpdir("pg")
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        os.mkdir(self.sock)
        user = None
        if os.geteuid() == 0:
            user = "postgres"
            pw = pwd.getpwnam(user)
            os.chmod(self.dir, 0o755)
            os.chown(self.sock, pw.pw_uid, pw.pw_gid)
            os.mkdir(self.data, 0o700)
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self.user = user
        kw = {"user": user, "group": user, "extra_groups": []} if user else {}
        r = subprocess.run([os.path.join(self.bin, "initdb"), "-D", self.data,
                            "-U", "postgres", "-E", "UTF8", "--no-sync",
                            "--auth-local=trust",
                            "--auth-host=scram-sha-256"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120, cwd="/", **kw)
        self.initdb = r.stdout.decode(errors="replace")
        self.ready = False
        if r.returncode != 0:
            return
        self.proc = Proc([os.path.join(self.bin, "postgres"), "-D", self.data,
                          "-p", str(self.port), "-k", self.sock,
                          "-c", "listen_addresses=127.0.0.1",
                          "-c", "fsync=off", "-c", "log_min_messages=warning"],
                         os.path.join(self.dir, "postgres.log"), cwd="/",
                         user=user)
        self.proc.stop_signal = signal.SIGINT  # "fast" shutdown
        self.ready = wait_until(
            lambda: not self.proc.running() or self.psql(
                "SELECT 1", db="postgres")[0] == 0, timeout=30, step=0.1) \
            and self.proc.running()

    def psql(self, sql, db="dsmr", user="postgres", files=()):
        """(exit status, output) of psql over the Unix socket."""
        args = [os.path.join(self.bin, "psql"), "-X", "-q", "-At",
                "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p", str(self.port),
                "-U", user, "-d", db]
        for f in files:
            args += ["-f", f]
        if sql:
            args += ["-c", sql]
        r = subprocess.run(args, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        return r.returncode, r.stdout.decode(errors="replace")

    def setup(self, schema):
        """The role collectd, the database dsmr, and the schema loaded as
        collectd."""
        out = []
        for sql, db, user in (
                ("CREATE ROLE collectd LOGIN PASSWORD '%s'" % self.PASSWORD,
                 "postgres", "postgres"),
                ("CREATE DATABASE dsmr OWNER collectd", "postgres", "postgres")):
            rc, o = self.psql(sql, db=db, user=user)
            out.append(o)
            if rc:
                return False, "".join(out)
        rc, o = self.psql(None, user="collectd", files=[schema])
        return rc == 0, "".join(out) + o


# (time, value) rows of host/dsmr-<meter>/<ident> under a csv datadir
csv_rows = d.csv_rows


def set_hostname(cd, host):
    """Give a dsmrtest collectd another Hostname (before it starts)."""
    with open(cd.conf) as f:
        text = f.read()
    with open(cd.conf, "w") as f:
        f.write(text.replace('Hostname "%s"' % HOST, 'Hostname "%s"' % host, 1))


def doc_block(marker, fence, name):
    """The text of the ```FENCE block after `<!-- MARKER:NAME -->` in
    doc/stores.md (stripped), or None."""
    with open(os.path.join(SRCDIR, "doc", "stores.md")) as f:
        text = f.read()
    m = re.search(r"<!-- %s:%s -->\s*```%s\n(.*?)```" % (marker, name, fence),
                  text, re.S)
    return m.group(1).strip() if m else None


def query_checkable(tap, query, kind, name, since, label=None):
    """Whether a doc/stores.md query can be checked now: asserts that
    doc/stores.md has it, and skips (TAP SKIP "KIND LABEL") while the period
    it asks for (since) is too young."""
    if not tap.ok(query, "doc/stores.md has the %s query %s" % (kind, name)):
        return False
    why = period_too_young(since)
    if why:
        tap.skip("%s %s" % (kind, label or name), why)
        return False
    return True


def period_too_young(since, span=1800):
    """Why a "today" / "this month" check of Europe/Amsterdam cannot be made
    now, or None. Sim(fast_clock) readings reach 20-odd minutes back (gas
    carries the meter's capture times): in the first half hour of a day
    the period holds only part of them, maybe no two gas readings, and
    "how much since midnight" has no answer to check against."""
    age = time.time() - since
    if age < span:
        return ("the day began %d s ago in Europe/Amsterdam: less than the "
                "%d s the readings span" % (age, span))
    return None


def zone_with_midnight(t):
    """A POSIX TZ in which local midnight is t (floored to a whole minute),
    and that midnight: "today" then starts where a test needs it."""
    midnight = int(t) - int(t) % 60
    east = -midnight % 86400  # local = UTC + east makes midnight 00:00
    if east > 43200:
        east -= 86400
    west = -east  # POSIX: the offset counts west of Greenwich
    tz = "DSMR%s%d:%02d" % ("-" if west < 0 else "+", abs(west) // 3600,
                            abs(west) % 3600 // 60)
    return tz, midnight


def near_midnight_zone(t):
    """A zone in which local midnight was 5..6 minutes before t. rrdtool
    reads the finest archive that reaches back to a graph's start;
    collectd's finest one (10 s rows) spans 3.3 hours: a "today" that began
    shortly before the data shows them to the last row, whatever the time
    of day the tests run. The same few minutes every time, so that graphs
    of "today" draw the data at the same width at any hour. (Gas values
    carry the meter's capture times, which fast_clock puts 20-odd minutes
    back: "gas today" wants zone_with_midnight at one of them.)"""
    return zone_with_midnight(int(t) - 300)
