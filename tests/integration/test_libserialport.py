#!/usr/bin/env python3
"""The two ways the plugin opens a serial device.

1. Through libserialport, as for a real USB adapter. There is no serial
   hardware here, and libserialport 0.1.1 cannot open a pseudo-terminal,
   so this part uses a TEST SHIM (tests/integration/ptyshim.c, loaded into
   collectd with LD_PRELOAD): it answers the /sys/class/tty lookup and the
   modem-line ioctls (TIOCMGET/TIOCMSET/TIOCMBIS/TIOCMBIC) that a pty
   lacks, and logs each answered call. Everything else is the real pty:
   the plugin's libserialport code runs unchanged, and the line settings it
   asks for are read back from the pty.
2. Without the shim's fakes, libserialport fails on the pty and the plugin
   falls back to plain termios (raw mode, the configured speed and
   framing); DataRequest cannot be applied to a pty, which is logged.
The shim also watches tcsetattr on ptys (passing it on unchanged): the
Linux pty driver forces 8 bits without parity, so the 7E1 asked for can
only be seen on its way in."""
import os
import re
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()
shim = os.path.join(d.BUILDDIR, "tests", "integration", ".libs", "ptyshim.so")

tmp = d.tmpdir("serial")


def line_settings(pty):
    """(speed, raw) the pty is set to now. (Data bits and parity cannot be
    read back: the Linux pty driver forces CS8 and no parity.)"""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = termios.tcgetattr(
        pty.slave)
    raw = not (lflag & (termios.ICANON | termios.ECHO | termios.ISIG)) and \
        not (iflag & (termios.ICRNL | termios.IXON)) and \
        not (oflag & termios.OPOST)
    speed = {termios.B9600: 9600, termios.B115200: 115200}.get(ispeed)
    return speed, raw


def shim_calls(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def last_tcsetattr(calls):
    sets = [c for c in calls if c.startswith("tcsetattr ")]
    return sets[-1] if sets else None


def run(tag, env, check):
    pty = d.PtyMeter(os.path.join(tmp, tag))
    cd = d.Collectd([d.meter_block("sp", device=pty.path, Baudrate=9600,
                                   DataBits=7, Parity="even",
                                   DataRequest="dtr")],
                    tag=tag, env=env).start()
    connected = cd.wait_log(r'meter "sp": connected to device .*\(via (\w+), '
                            r'9600 7E1\)')
    check(pty, cd, connected[0].group(1) if connected else None)
    pty.write(d.telegram(d.dsmr5_lines(import_t1=42.042)))
    rows = cd.wait_csv("sp", "dsmr_energy-import_t1", 1)
    tap.is_([v for _, v in rows], [42042.0], "%s: a telegram is stored" % tag)
    # Losing and re-opening goes through the same path again.
    pty.close()
    cd.wait_log(r'meter "sp": lost device')
    pty.open()
    again = cd.wait_log(r'meter "sp": connection to device .* restored '
                        r'\(via (\w+)', timeout=8)
    tap.is_(again[0].group(1) if again else None,
            connected[0].group(1) if connected else "?",
            "%s: the device is re-opened the same way after a loss" % tag)
    elapsed, rc = cd.stop()
    tap.ok(elapsed < 2.0 and rc == 0, "%s: collectd stops cleanly" % tag)
    return cd


# --- 1: libserialport, with the shim -------------------------------------
shim_log = os.path.join(tmp, "shim.log")


def check_libserialport(pty, cd, via):
    tap.is_(via, "libserialport", "with the shim: opened via libserialport, "
            "at 9600 7E1")
    calls = shim_calls(shim_log)
    tap.ok(any(re.match(r"lstat /sys/class/tty/pts/\d+$", c) for c in calls),
           "libserialport looked the pty up in /sys/class/tty (answered by "
           "the shim)", *calls)
    gets = [i for i, c in enumerate(calls) if c.startswith("TIOCMGET")]
    tap.ok(len(gets) >= 2, "libserialport read the modem lines when "
           "opening and when configuring", *calls)
    tap.ok(gets and "TIOCMBIS DTR" in calls[gets[-1]:],
           "DataRequest \"dtr\": the plugin's port configuration raised DTR",
           *calls)
    tap.is_(last_tcsetattr(calls), "tcsetattr 9600 7E1 raw",
            "libserialport asked for raw 9600 7E1 (seen by the shim)")
    tap.is_(line_settings(pty), (9600, True),
            "the pty is raw at 9600 baud (read back)")
    tap.ok("not applied" not in cd.log(),
           "no DataRequest warning on the libserialport path")


if not os.path.isfile(shim):
    tap.ok(False, "the test shim %s is built (make check builds it)" % shim)
else:
    run("libserialport", {"LD_PRELOAD": shim, "DSMR_SHIM_LOG": shim_log},
        check_libserialport)


# --- 2: plain termios, without the shim's fakes ----------------------------
# The shim only observes here (DSMR_SHIM_FAKE=0): libserialport fails on
# the pty as it does for users, and the plugin's termios call is seen.
observe_log = os.path.join(tmp, "observe.log")


def check_termios(pty, cd, via):
    tap.is_(via, "termios", "without the fakes: libserialport fails on a "
            "pty, the plugin opens it with termios")
    tap.ok(cd.wait_log(r'meter "sp": opened with plain termios, as '
                       r'libserialport does not know it as a serial port'),
           "the fallback is explained once in the log")
    tap.ok(cd.wait_log(r'\[warning\] dsmr plugin: meter "sp": DataRequest '
                       r'"dtr" not applied: the device has no modem lines'),
           "DataRequest that a pty cannot honour is a warning")
    calls = shim_calls(observe_log)
    tap.ok(not any(c.startswith(("lstat", "TIOCM")) for c in calls),
           "nothing was faked", *calls)
    tap.is_(last_tcsetattr(calls), "tcsetattr 9600 7E1 raw",
            "the plugin asked termios for raw 9600 7E1 (seen by the shim)")
    tap.is_(line_settings(pty), (9600, True),
            "the pty is raw at 9600 baud (read back)")


if os.path.isfile(shim):
    run("termios", {"LD_PRELOAD": shim, "DSMR_SHIM_LOG": observe_log,
                    "DSMR_SHIM_FAKE": "0"}, check_termios)
sys.exit(tap.done())
