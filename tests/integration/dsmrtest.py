"""Harness of the integration tests: the real collectd loading the built
dsmr.so, meters on pseudo-terminals and TCP, and readers of what collectd's
own write plugins (csv, rrdtool) and its logfile plugin stored.

Every process and pseudo-terminal a test starts is registered here and
cleaned up on exit, on failure and on SIGTERM/SIGINT (automake's harness
kills tests that hang), each by its own PID.

Environment (set by the Makefile's AM_TESTS_ENVIRONMENT, with fallbacks
for running a test by hand from the build directory):
  top_srcdir, top_builddir, COLLECTD
For checking the plugin itself under tools (only collectd gets them):
  DSMR_TEST_PRELOAD  prepended to collectd's LD_PRELOAD, e.g. the ASan
                     runtime for a plugin built with -fsanitize=address
  DSMR_TEST_WRAPPER  a command collectd runs under, e.g.
                     "valgrind --error-exitcode=99 --log-file=/tmp/vg.%p"
"""
import atexit
import calendar
import glob
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

SRCDIR = os.path.abspath(
    os.environ.get("top_srcdir")
    or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or os.getcwd())
COLLECTD = os.environ.get("COLLECTD") or "/usr/sbin/collectd"
STOCK_PLUGINS = "/usr/lib/collectd"
HOST = "dsmrtest"

_cleanups = []


def _cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # cleanup must go on whatever happened
            pass


def _on_signal(signum, _frame):
    _cleanup_all()
    sys.stdout.write("Bail out! killed by signal %d\n" % signum)
    sys.stdout.flush()
    os._exit(1)


atexit.register(_cleanup_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def on_cleanup(fn):
    _cleanups.append(fn)


# --------------------------------------------------------------------- TAP
class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.t0 = time.monotonic()

    def ok(self, cond, msg, *diag):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, msg))
        if not cond:
            self.failed += 1
            for d in diag:
                self.diag(d)
        sys.stdout.flush()
        return bool(cond)

    def is_(self, got, want, msg):
        return self.ok(got == want, msg, "got:  %r" % (got,),
                       "want: %r" % (want,))

    def skip(self, msg, why):
        """An assertion that cannot be made here, said so (TAP SKIP)."""
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, msg, why))
        sys.stdout.flush()

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line)
        sys.stdout.flush()

    def skip_all(self, why):
        print("1..0 # SKIP " + why)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n)
        self.diag("%.1f s" % (time.monotonic() - self.t0))
        sys.stdout.flush()
        _cleanup_all()
        return 1 if self.failed else 0


def instrumented():
    """Why collectd's memory use means nothing in this run (a sanitizer
    runtime preloaded, or a wrapper such as valgrind), or None."""
    if os.environ.get("DSMR_TEST_PRELOAD"):
        return "collectd runs with DSMR_TEST_PRELOAD (ASan keeps freed memory)"
    if os.environ.get("DSMR_TEST_WRAPPER"):
        return "collectd runs under DSMR_TEST_WRAPPER"
    return None


def plugin_dir():
    """The directory holding the built dsmr.so (collectd refuses a symlink,
    so it must be libtool's .libs/dsmr.so itself)."""
    d = os.path.join(BUILDDIR, ".libs")
    so = os.path.join(d, "dsmr.so")
    if not os.path.isfile(so) or os.path.islink(so):
        return None
    return d


def tmpdir(tag):
    d = tempfile.mkdtemp(prefix="dsmr-%s-" % tag)
    on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


_port_lock_fd = None  # one open file: closing any fd of it drops our locks
_ports_held = set()


def _port_ranges():
    """Ports the kernel never hands out by itself: below and above
    ip_local_port_range (the source ports of connect() and of bind to
    port 0)."""
    low, high = 32768, 60999
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        pass
    ranges = [(max(1024, low - 10000), low - 1), (high + 1, 65535)]
    return [(a, b) for a, b in ranges if b >= a]


def _bindable(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port():
    """A port on 127.0.0.1 (TCP and UDP) that nothing uses, for a server a
    test starts later. Binding to port 0 and closing (the old way) gave a
    port from the ephemeral range, which any connect() on the machine may
    take as its source port, and which a test running in parallel may get
    from the kernel too, before our server bound it. So the port comes
    from outside that range, and it stays ours while this test runs: a
    lock on byte `port` of one file that every test shares (released by
    the kernel when the test exits, however it exits)."""
    global _port_lock_fd
    import fcntl
    import random
    if _port_lock_fd is None:
        path = os.path.join(tempfile.gettempdir(), "dsmrtest-ports.lock")
        _port_lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            os.fchmod(_port_lock_fd, 0o666)
        except OSError:
            pass
    ranges = _port_ranges()
    total = sum(b - a + 1 for a, b in ranges)
    rng = random.SystemRandom()
    for _ in range(2000):
        i = rng.randrange(total)
        for a, b in ranges:
            if i <= b - a:
                port = a + i
                break
            i -= b - a + 1
        if port in _ports_held:
            continue
        try:
            fcntl.lockf(_port_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
        except OSError:
            continue  # another test has it
        if _bindable(port):
            _ports_held.add(port)
            return port
        fcntl.lockf(_port_lock_fd, fcntl.LOCK_UN, 1, port)
    raise RuntimeError("no free port outside the ephemeral range")


# ---------------------------------------------------------------- telegrams
def crc16(data):
    """CRC-16/ARC: poly 0xA001 reflected, init 0, as DSMR uses it."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def telegram(lines, header="ISK5\\2M550T-1012", crc=True, bad_crc=False):
    """The exact bytes of one telegram: '/'header, empty line, the OBIS
    lines, '!' and (unless crc is False) the CRC, all with CR LF."""
    body = ("/" + header + "\r\n\r\n" + "".join(l + "\r\n" for l in lines) +
            "!").encode("latin-1")
    if not crc:
        return body + b"\r\n"
    c = crc16(body)
    if bad_crc:
        c ^= 0x5A5A
    return body + ("%04X\r\n" % c).encode()


def dsmr5_lines(import_t1=1234.567, power_w=1234, voltage=230.1,
                gas_ts=None, gas_m3=None, version="50", extra=()):
    """A DSMR 5 telegram body with the values under test. Times as the
    meter writes them (YYMMDDhhmmssX)."""
    lines = [
        "1-3:0.2.8(%s)" % version,
        "0-0:1.0.0(240615120000S)",
        "0-0:96.1.1(4530303433303037313331363236373137)",
        "1-0:1.8.1(%010.3f*kWh)" % import_t1,
        "1-0:1.8.2(000002.399*kWh)",
        "1-0:2.8.1(000000.000*kWh)",
        "1-0:2.8.2(000000.000*kWh)",
        "0-0:96.14.0(0002)",
        "1-0:1.7.0(%06.3f*kW)" % (power_w / 1000.0),
        "1-0:2.7.0(00.000*kW)",
        "1-0:32.7.0(%05.1f*V)" % voltage,
    ]
    lines += list(extra)
    if gas_ts is not None:
        lines += [
            "0-1:24.1.0(003)",
            "0-1:96.1.0(4730303339303031363532303530323136)",
            "0-1:24.2.1(%s)(%09.3f*m3)" % (gas_ts, gas_m3),
        ]
    return lines


def p1_time_to_utc(ts):
    """'YYMMDDhhmmssX' (X = W: UTC+1, S: UTC+2) -> UTC seconds."""
    y, mo, d, h, mi, s = (int(ts[i:i + 2]) for i in range(0, 12, 2))
    off = 3600 if ts[12] == "W" else 7200
    return calendar.timegm((2000 + y, mo, d, h, mi, s, 0, 0, 0)) - off


def parity_7e1(data):
    """data as an 8N1 UART reads a 7E1 line: 7 data bits, even parity in
    bit 7."""
    out = bytearray()
    for b in data:
        b &= 0x7F
        out.append(b | 0x80 if bin(b).count("1") & 1 else b)
    return bytes(out)


def wh(text):
    """A register's exact decimal text -> an int in thousandths, without
    rounding: '003238.408' kWh -> 3238408 Wh, '0001.23' kW -> 1230 W. A
    text that is not digits, a point and 1 to 3 decimals (a sign, a space,
    a fourth decimal that would be cut off) raises ValueError."""
    m = re.fullmatch(r"([0-9]+)\.([0-9]{1,3})", text)
    if not m:
        raise ValueError("not a register with 1 to 3 decimals: %r" % (text,))
    return int(m.group(1)) * 1000 + int(m.group(2).ljust(3, "0"))


def utc(iso):
    """'2024-03-31T00:00:00Z' (the simulator's times) -> UTC seconds."""
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


# --------------------------------------------------------------- simulator
SIM = os.path.join(SRCDIR, "tools", "dsmr-sim")
PY = os.environ.get("PYTHON3") or sys.executable


def need_sim(tap):
    """Skip the whole test (TAP skip_all) when tools/dsmr-sim is not there."""
    if not os.path.isfile(SIM):
        tap.skip_all("tools/dsmr-sim not there")


def plugin_tap(sim=False):
    """The Tap of a test of the plugin: skips the whole test when dsmr.so is
    not built (and, with sim=True, when tools/dsmr-sim is not there)."""
    tap = Tap()
    if plugin_dir() is None:
        tap.skip_all("dsmr.so not built")
    if sim:
        need_sim(tap)
    return tap


def need_valgrind(tap):
    """Skip the whole test when valgrind is not installed or a sanitizer
    runtime is preloaded (valgrind and ASan do not mix)."""
    if not shutil.which("valgrind"):
        tap.skip_all("valgrind not installed")
    if os.environ.get("DSMR_TEST_PRELOAD"):
        tap.skip_all("a sanitizer runtime is preloaded (DSMR_TEST_PRELOAD): "
                     "valgrind and ASan do not mix")


def check_refused(tap, c, what, rx, names):
    """collectd -T with Collectd c's configuration: asserts that it fails
    and that a "dsmr plugin: " line of its output matches rx ("WHAT: the
    log line names NAMES"). Returns the output, for further checks."""
    rc, out = c.check()
    tap.ok(rc != 0, "%s: collectd -T fails" % what, out)
    lines = [l for l in out.splitlines() if "dsmr plugin: " in l]
    tap.ok(any(re.search(rx, l) for l in lines),
           "%s: the log line names %s" % (what, names),
           "want /%s/ in:" % rx, *lines)
    return out


def read_memcheck(path):
    """valgrind's log at path ("" when there is none) and the error count
    of its ERROR SUMMARY line (a string; None when there is none)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            vg = f.read()
    except OSError:
        vg = ""
    summary = re.search(r"ERROR SUMMARY: (\d+) errors", vg)
    return vg, summary.group(1) if summary else None


def wait_procs(procs, timeout):
    """Wait for each process in turn, at most timeout seconds each; their
    returncodes (None for one still running)."""
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    return [p.returncode for p in procs]


def start_sim(args, manifest=None, ready_lines=1, quiet=True,
              stderr=subprocess.STDOUT):
    """Run the simulator with args (then --manifest FILE unless None, and
    --quiet unless quiet is False), killed at cleanup. Returns (process,
    the first ready_lines lines it printed, stripped); a line it never
    printed (it ended first) is "", so that the test's check of it fails
    rather than the test. stderr=subprocess.PIPE keeps its messages apart
    for the test to read."""
    argv = [PY, SIM] + list(args)
    if manifest is not None:
        argv += ["--manifest", manifest]
    if quiet:
        argv.append("--quiet")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr,
                         text=True)

    def kill():
        if p.poll() is None:
            p.kill()
            p.wait()
    on_cleanup(kill)
    lines = []
    deadline = time.monotonic() + 10
    while len(lines) < ready_lines and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    return p, lines + [""] * (ready_lines - len(lines))


def read_manifest(path):
    """The simulator's manifest (--manifest): one dict a telegram sent. A
    last line without its newline is a record being written now (the
    simulator still runs): it is left out, not read half."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.endswith("\n") and l.strip()]


# ------------------------------------------------------------------ meters
class PtyMeter:
    """A meter on a pseudo-terminal, reached through a symlink (as socat
    and ser2net offer them). The test keeps the slave side open so that
    its raw mode survives until the plugin opens it."""

    def __init__(self, path):
        self.path = path
        self.master = self.slave = None
        self.open()
        on_cleanup(self.close)

    def open(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tmp = self.path + ".new"
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.path)

    def write(self, data, chunk=None, pause=0.0):
        view = memoryview(data)
        step = chunk or len(view)
        while len(view):
            n = os.write(self.master, view[:step])
            view = view[n:]
            if pause and len(view):
                time.sleep(pause)

    def close(self):
        """The meter goes away: the pty is hung up and its node is gone."""
        for fd in (self.master, self.slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self.slave = None
        try:
            os.unlink(self.path)
        except OSError:
            pass


class TcpMeter:
    """A P1-to-network dongle: a TCP server on 127.0.0.1 that sends to every
    connected client."""

    def __init__(self, port=None):
        # A port of our own (free_port), not one the kernel picks: after
        # stop(), listen() takes the same port again, and no other test's
        # server or client may have taken it meanwhile.
        self.port = port or free_port()
        self.clients = []
        self.lock = threading.Lock()
        self.accepted = threading.Event()
        self.sock = None
        self.listen()
        on_cleanup(self.stop)

    def listen(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(4)
        self.port = s.getsockname()[1]
        self.sock = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True)
        t.start()

    def _accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with self.lock:
                self.clients.append(c)
            self.accepted.set()

    def wait_client(self, timeout=5.0):
        return self.accepted.wait(timeout)

    def send(self, data):
        with self.lock:
            for c in self.clients:
                try:
                    c.sendall(data)
                except OSError:
                    pass

    def drop_clients(self):
        with self.lock:
            for c in self.clients:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.clients = []
            self.accepted.clear()

    def stop(self):
        """The dongle goes away: no listener, every connection closed."""
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        self.drop_clients()


# ---------------------------------------------------------------- collectd
def meter_block(name, device=None, host=None, port=None, **opts):
    lines = ['  <Meter "%s">' % name]
    if device:
        lines.append('    Device "%s"' % device)
    if host:
        lines.append('    Host "%s"' % host)
    if port:
        lines.append("    Port %s" % port)
    for k, v in opts.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, str):
            v = '"%s"' % v
        lines.append("    %s %s" % (k, v))
    lines.append("  </Meter>")
    return "\n".join(lines)


def csv_rows(datadir, host, meter, ident):
    """(time, value) rows collectd's csv plugin wrote under datadir for
    host/dsmr-<meter>/<ident>, over all days."""
    rows = []
    pat = os.path.join(datadir, host, "dsmr-" + meter,
                       ident + "-[0-9][0-9][0-9][0-9]-*")
    for path in sorted(glob.glob(pat)):
        with open(path) as f:
            for line in f:
                # A line without its newline is being written now.
                if (line.startswith("epoch") or not line.strip() or
                        not line.endswith("\n")):
                    continue
                t, v = line.strip().split(",")[:2]
                rows.append((float(t), float(v)))
    return rows


STOCK_TYPES = "/usr/share/collectd/types.db"
DSMR_TYPES = os.path.join(SRCDIR, "types", "dsmr.db")


def conf_head(by, host, basedir, interval, logfile, plugindir=None):
    """The start of a test's collectd.conf (written by `by`): host, base
    directory, interval, collectd's types and ours, the logfile plugin
    (from plugindir, when given)."""
    return """# written by {by}
Hostname "{host}"
FQDNLookup false
BaseDir "{dir}"
PIDFile "{dir}/collectd.pid"
Interval {interval}
WriteThreads 1
TypesDB "{stock}" "{dsmr}"
{plugindir}LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{log}"
  Timestamp true
  PrintSeverity true
</Plugin>
""".format(by=by, host=host, dir=basedir, interval=interval,
           stock=STOCK_TYPES, dsmr=DSMR_TYPES, log=logfile,
           plugindir='PluginDir "%s"\n' % plugindir if plugindir else "")


class Collectd:
    """One collectd process with csv + rrdtool + logfile (notifications go
    to the log too) and the dsmr plugin from the build tree."""

    def __init__(self, meters, interval=1, plugin_block=None, tag="cd",
                 write_plugins=True, env=None, writers=("csv", "rrdtool"),
                 user=None, extra=""):
        """writers: which of csv and rrdtool to load (write_plugins=False:
        none). user: run collectd as this user (through setpriv; its
        directory is handed to that user). extra: more configuration."""
        self.dir = tmpdir(tag)
        self.user = user
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "collectd.log")
        self.conf = os.path.join(self.dir, "collectd.conf")
        self.out = os.path.join(self.dir, "stdout.txt")
        self.env = env
        self.proc = None
        pdir = plugin_dir()
        if pdir is None:
            raise RuntimeError("no %s/.libs/dsmr.so: build first" % BUILDDIR)
        block = plugin_block if plugin_block is not None else (
            "<Plugin dsmr>\n%s\n</Plugin>" % "\n".join(meters))
        wtext = ""
        if write_plugins and "csv" in writers:
            wtext += """
LoadPlugin csv
<Plugin csv>
  DataDir "{data}"
  StoreRates false
</Plugin>
""".format(data=self.data)
        if write_plugins and "rrdtool" in writers:
            wtext += """
LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "{data}"
</Plugin>
""".format(data=self.data)
        text = conf_head("tests/integration/dsmrtest.py", HOST, self.dir,
                         interval, self.logfile, STOCK_PLUGINS)
        text += """PluginDir "{pdir}"
LoadPlugin dsmr
PluginDir "{stock}"
{writers}
{extra}
{block}
""".format(stock=STOCK_PLUGINS, pdir=pdir, writers=wtext, block=block,
           extra=extra)
        with open(self.conf, "w") as f:
            f.write(text)
        if user:
            import pwd
            pw = pwd.getpwnam(user)
            for root, dirs, files in os.walk(self.dir):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)

    # -- running
    def _env(self):
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        pre = os.environ.get("DSMR_TEST_PRELOAD")
        if pre:
            env["LD_PRELOAD"] = " ".join(
                x for x in (pre, env.get("LD_PRELOAD")) if x)
        return env

    def _argv(self, *args):
        wrapper = shlex.split(os.environ.get("DSMR_TEST_WRAPPER", ""))
        become = []
        if self.user:
            import pwd
            gid = pwd.getpwnam(self.user).pw_gid
            become = ["setpriv", "--reuid=" + self.user,
                      "--regid=%d" % gid, "--init-groups", "--"]
        return become + wrapper + [COLLECTD] + list(args)

    def start(self):
        out = open(self.out, "wb")
        self.proc = subprocess.Popen(self._argv("-f", "-C", self.conf),
                                     stdout=out, stderr=subprocess.STDOUT,
                                     env=self._env())
        out.close()
        on_cleanup(self.kill)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kb(self):
        """collectd's resident memory (kB), or None once it is gone."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=10.0):
        """SIGTERM; returns (seconds until exit, exit status); kills after
        timeout (longer under a wrapper such as valgrind). The seconds are
        collectd's: from just before the signal to the moment the process
        is gone, as a pidfd reports it (Popen.wait polls, up to 50 ms
        late)."""
        if os.environ.get("DSMR_TEST_WRAPPER"):
            timeout = max(timeout, 120.0)
        import select
        try:
            pidfd = os.pidfd_open(self.proc.pid)
        except (AttributeError, OSError):
            pidfd = None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        t_gone = None
        if pidfd is not None:
            try:
                if select.select([pidfd], [], [], timeout)[0]:
                    t_gone = time.monotonic()
            finally:
                os.close(pidfd)
        if pidfd is None:
            wait = timeout
        else:  # gone (reaped at once), or the timeout is over already
            wait = 10.0 if t_gone is not None else 0.01
        try:
            rc = self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        if t_gone is None:
            t_gone = time.monotonic()
        return t_gone - t0, rc

    def check(self):
        """collectd -T: parse the config, init, one read, shutdown."""
        r = subprocess.run(self._argv("-T", "-C", self.conf),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120, env=self._env())
        return r.returncode, r.stdout.decode("utf-8", "replace") + self.log()

    # -- the log
    def log(self):
        try:
            with open(self.logfile, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def output(self):
        with open(self.out, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Wait until `pattern` (a regex) matched `count` log lines; returns
        the list of matches (shorter when it timed out)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in (rx.search(l) for l in self.log().splitlines())
                     if m]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            if self.proc is not None and self.proc.poll() is not None:
                return found
            time.sleep(0.05)

    # -- stored values
    def csv_rows(self, meter, ident):
        """(time, value) rows csv stored for dsmr-<meter>/<ident>, where
        ident is 'type-type_instance' (or 'type'), over all days."""
        return csv_rows(self.data, HOST, meter, ident)

    def wait_csv(self, meter, ident, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            rows = self.csv_rows(meter, ident)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    def wait_last(self, meter, ident, want, timeout=8.0):
        """Wait until the newest csv row of dsmr-<meter>/<ident> (a health
        counter, say) equals want; returns want, or else the newest value
        when the time is over (None without any row)."""
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.csv_rows(meter, ident)
            if rows and rows[-1][1] == want:
                return want
            time.sleep(0.1)
        return rows[-1][1] if rows else None

    def wait_report(self, meter, after, timeout=10.0):
        """Wait until the read callback reported meter's health values at a
        time later than `after` (time.time()): its counters then include
        everything the meter's reader had done by `after`. dsmr_age is the
        last value of a report, and csv writes in order (WriteThreads 1).
        Returns whether such a report came."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.csv_rows(meter, "dsmr_age")
            if rows and rows[-1][0] > after:
                return True
            if time.monotonic() > deadline or not self.running():
                return False
            time.sleep(0.05)

    def rrd(self, meter, ident):
        return os.path.join(self.data, HOST, "dsmr-" + meter, ident + ".rrd")


def rrd_lastupdate(path):
    """(time, value) of the last update rrdtool stored."""
    out = subprocess.run(["rrdtool", "lastupdate", path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode()
    for line in out.splitlines():
        m = re.match(r"\s*(\d+(?:\.\d+)?):\s+(\S+)", line)
        if m:
            return float(m.group(1)), float(m.group(2))
    return None


def rrd_info(path):
    out = subprocess.run(["rrdtool", "info", path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=10).stdout.decode()
    info = {}
    for line in out.splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            info[k.strip()] = v.strip().strip('"')
    return info


def rrd_fetch(path, start, end, cf="AVERAGE"):
    """[(time, value or None)] from `rrdtool fetch`."""
    out = subprocess.run(["rrdtool", "fetch", path, cf, "-s", str(int(start)),
                          "-e", str(int(end))],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=10).stdout.decode()
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(\d+):\s+(\S+)", line)
        if m:
            v = m.group(2)
            rows.append((int(m.group(1)),
                         None if v.lower().startswith(("nan", "-nan")) else
                         float(v)))
    return rows
