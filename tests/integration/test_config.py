#!/usr/bin/env python3
"""Configuration errors: every wrong <Plugin dsmr> block makes the real
`collectd -T` exit non-zero with a "dsmr plugin:" log line that names the
option, the value and what is accepted. Good blocks (including a device
that does not exist yet) pass."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dsmrtest as d  # noqa: E402

tap = d.plugin_tap()

MISSING = "/dev/dsmr-test-no-such-device"
# A link to a device another meter names directly.
LINK = os.path.join(d.tmpdir("cfg-link"), "null-link")
os.symlink("/dev/null", LINK)

# (what, <Plugin dsmr> body, regex the error line must match)
BAD = [
    ("no source", '<Meter "a">\n  Baudrate 115200\n</Meter>',
     r'<Meter "a">: no source; accepted: Device .* or Host and Port'),
    ("Device and Host", '<Meter "a">\n  Device "%s"\n  Host "127.0.0.1"\n'
     '  Port 2000\n</Meter>' % MISSING,
     r'<Meter "a">: Device and Host are both set; accepted: one source'),
    ("Host without Port", '<Meter "a">\n  Host "127.0.0.1"\n</Meter>',
     r'<Meter "a">: Host "127.0.0.1" has no Port; accepted: Port 1 to 65535'),
    ("Port without Host", '<Meter "a">\n  Device "%s"\n  Port 23\n</Meter>'
     % MISSING, r'<Meter "a">: Port is only valid with Host'),
    ("unknown option", '<Meter "a">\n  Device "%s"\n  Speed 9600\n</Meter>'
     % MISSING,
     r'<Meter "a">: unknown option "Speed"; accepted: Device, Host, Port, '
     r'Baudrate'),
    ("Baudrate 1234", '<Meter "a">\n  Device "%s"\n  Baudrate 1234\n</Meter>'
     % MISSING,
     r'<Meter "a">: Baudrate 1234 is not valid; accepted: 115200 .*9600'),
    ("Baudrate auto with DataBits", '<Meter "a">\n  Device "%s"\n'
     '  Baudrate "auto"\n  DataBits 7\n</Meter>' % MISSING,
     r'<Meter "a">: DataBits 7 conflicts with Baudrate "auto".*; accepted: '
     r'Baudrate "auto" without DataBits'),
    ("Parity maybe", '<Meter "a">\n  Device "%s"\n  Parity "maybe"\n</Meter>'
     % MISSING,
     r'<Meter "a">: Parity "maybe" is not valid; accepted: "none" .*"even"'),
    ("DataBits 9", '<Meter "a">\n  Device "%s"\n  DataBits 9\n</Meter>'
     % MISSING, r'<Meter "a">: DataBits 9 is not valid; accepted: 7 .* or 8'),
    ("StopBits 3", '<Meter "a">\n  Device "%s"\n  StopBits 3\n</Meter>'
     % MISSING, r'<Meter "a">: StopBits 3 is not valid; accepted: 1 or 2'),
    ("DataRequest cts", '<Meter "a">\n  Device "%s"\n  DataRequest "cts"\n'
     '</Meter>' % MISSING,
     r'<Meter "a">: DataRequest "cts" is not valid; accepted: "none", "rts" '
     r'or "dtr"'),
    ("CheckCRC maybe", '<Meter "a">\n  Device "%s"\n  CheckCRC "maybe"\n'
     '</Meter>' % MISSING,
     r'<Meter "a">: CheckCRC "maybe" is not valid; accepted: true or false'),
    ("MaxTelegramSize 10", '<Meter "a">\n  Device "%s"\n'
     '  MaxTelegramSize 10\n</Meter>' % MISSING,
     r'<Meter "a">: MaxTelegramSize 10 is not valid; accepted: bytes from '
     r'128 to 1048576'),
    ("MaxTelegramSize > 1 MiB", '<Meter "a">\n  Device "%s"\n'
     '  MaxTelegramSize 1048577\n</Meter>' % MISSING,
     r'<Meter "a">: MaxTelegramSize 1048577 is not valid; accepted: bytes'),
    ("SilenceTimeout -5", '<Meter "a">\n  Device "%s"\n'
     '  SilenceTimeout -5\n</Meter>' % MISSING,
     r'<Meter "a">: SilenceTimeout -5 is not valid; accepted: seconds'),
    ("ReportInterval 2.5", '<Meter "a">\n  Device "%s"\n'
     '  ReportInterval 2.5\n</Meter>' % MISSING,
     r'<Meter "a">: ReportInterval 2.5 is not valid; accepted: whole seconds '
     r'from 1 to 86400, or 0'),
    ("ReportInterval 86401", '<Meter "a">\n  Device "%s"\n'
     '  ReportInterval 86401\n</Meter>' % MISSING,
     r'<Meter "a">: ReportInterval 86401 is not valid; accepted: whole'),
    ("Port 70000", '<Meter "a">\n  Host "127.0.0.1"\n  Port 70000\n</Meter>',
     r'<Meter "a">: Port 70000 is not valid; accepted: a TCP port number'),
    ("relative Device", '<Meter "a">\n  Device "ttyUSB0"\n</Meter>',
     r'<Meter "a">: Device "ttyUSB0" is not valid; accepted: an absolute '
     r'path'),
    ("option twice", '<Meter "a">\n  Device "%s"\n  Baudrate 9600\n'
     '  Baudrate 115200\n</Meter>' % MISSING,
     r'<Meter "a">: Baudrate is given more than once'),
    ("meter without a name", '<Meter>\n  Device "%s"\n</Meter>' % MISSING,
     r'<Meter \(no value\)>: a meter needs a name'),
    ("meter name with a slash", '<Meter "a/b">\n  Device "%s"\n</Meter>'
     % MISSING, r'<Meter "a/b">: a meter needs a name of 1 to 63 letters'),
    ("name used twice", '<Meter "a">\n  Device "%s"\n</Meter>\n'
     '<Meter "a">\n  Host "127.0.0.1"\n  Port 2000\n</Meter>' % MISSING,
     r'<Meter "a">: the name "a" is used twice; accepted: a different name'),
    ("unknown option outside <Meter>", 'Device "%s"' % MISSING,
     r'unknown option "Device" in <Plugin dsmr>; accepted: <Meter "name">'),
    # Quoted numbers are decimal only (strtod alone takes hex, exponents).
    ('Port "0x17"', '<Meter "a">\n  Host "127.0.0.1"\n  Port "0x17"\n'
     '</Meter>', r'<Meter "a">: Port "0x17" is not valid; accepted: a TCP '
     r'port number, 1 to 65535, written in decimal digits'),
    ('Port "1e3"', '<Meter "a">\n  Host "127.0.0.1"\n  Port "1e3"\n'
     '</Meter>', r'<Meter "a">: Port "1e3" is not valid; accepted: a TCP '
     r'port number, 1 to 65535, written in decimal digits'),
    ('Baudrate "0x2580"', '<Meter "a">\n  Device "%s"\n'
     '  Baudrate "0x2580"\n</Meter>' % MISSING,
     r'<Meter "a">: Baudrate "0x2580" is not valid; accepted: 115200 .*'
     r'written in decimal digits'),
    ('MaxTelegramSize " 4096"', '<Meter "a">\n  Device "%s"\n'
     '  MaxTelegramSize " 4096"\n</Meter>' % MISSING,
     r'<Meter "a">: MaxTelegramSize " 4096" is not valid; accepted: bytes '
     r'from 128 .*written in decimal digits'),
    ('SilenceTimeout "1e2"', '<Meter "a">\n  Device "%s"\n'
     '  SilenceTimeout "1e2"\n</Meter>' % MISSING,
     r'<Meter "a">: SilenceTimeout "1e2" is not valid; accepted: seconds '
     r'from 1 to 86400.*written in decimal digits'),
    ('SilenceTimeout "0.5"', '<Meter "a">\n  Device "%s"\n'
     '  SilenceTimeout "0.5"\n</Meter>' % MISSING,
     r'<Meter "a">: SilenceTimeout "0.5" is not valid; accepted: seconds '
     r'from 1 to 86400, or 0'),
    # Host is a name or an address; the port goes in Port.
    ('Host "127.0.0.1:23"', '<Meter "a">\n  Host "127.0.0.1:23"\n'
     '  Port 23\n</Meter>',
     r'<Meter "a">: Host "127.0.0.1:23" is not valid; accepted: a host name '
     r'or an IP address alone.*\(IPv6 without brackets\); the port goes in '
     r'Port'),
    ('Host "[::1]"', '<Meter "a">\n  Host "[::1]"\n  Port 23\n</Meter>',
     r'<Meter "a">: Host "\[::1\]" is not valid; accepted: a host name or an '
     r'IP address alone.*"fd00::50" \(IPv6 without brackets\)'),
    ('Host "tcp://dongle"', '<Meter "a">\n  Host "tcp://dongle"\n'
     '  Port 23\n</Meter>',
     r'<Meter "a">: Host "tcp://dongle" is not valid; accepted: a host name'),
    # One source, one meter: a second reader would split its telegrams.
    ("same Device twice", '<Meter "a">\n  Device "%s"\n</Meter>\n'
     '<Meter "b">\n  Device "%s"\n</Meter>' % (MISSING, MISSING),
     r'<Meter "b">: device %s is already read by <Meter "a"> \(the same '
     r'device, links resolved\); accepted: each device, or each Host and '
     r'Port, in one meter only' % re.escape(MISSING)),
    ("same device through a link", '<Meter "a">\n  Device "/dev/null"\n'
     '</Meter>\n<Meter "b">\n  Device "%s"\n</Meter>' % LINK,
     r'<Meter "b">: device %s is already read by <Meter "a">'
     % re.escape(LINK)),
    ("same Host and Port twice", '<Meter "a">\n  Host "LocalHost"\n'
     '  Port 2000\n</Meter>\n<Meter "b">\n  Host "localhost"\n'
     '  Port "2000"\n</Meter>',
     r'<Meter "b">: tcp localhost:2000 is already read by <Meter "a"> \(the '
     r'same Host and Port\)'),
    ("same IPv6 address written twice", '<Meter "a">\n  Host "::1"\n'
     '  Port 2000\n</Meter>\n<Meter "b">\n  Host "0:0::1"\n'
     '  Port 2000\n</Meter>',
     r'<Meter "b">: tcp \[0:0::1\]:2000 is already read by <Meter "a">'),
]

for what, body, rx in BAD:
    c = d.Collectd([], plugin_block="<Plugin dsmr>\n%s\n</Plugin>" % body,
                   write_plugins=False, tag="cfg")
    out = d.check_refused(tap, c, what, rx, "option, value and what is accepted")

# Several problems in one block are all reported in one run.
c = d.Collectd([], plugin_block='<Plugin dsmr>\n<Meter "a">\n'
               '  Baudrate 1234\n  Parity "maybe"\n</Meter>\n</Plugin>',
               write_plugins=False, tag="cfg")
rc, out = c.check()
tap.ok(rc != 0 and "Baudrate 1234" in out and 'Parity "maybe"' in out and
       "no source" in out, "every problem of a block is reported at once",
       out)

# Good blocks. A device that does not exist yet is not a config error: the
# reader logs it (once) and keeps retrying.
GOOD = [
    ("every option, device missing at start",
     '<Meter "home">\n  Device "%s"\n  Baudrate 9600\n  DataBits 7\n'
     '  Parity "even"\n  StopBits 1\n  DataRequest "rts"\n  CheckCRC false\n'
     '  MaxTelegramSize 16384\n  SilenceTimeout 60\n</Meter>' % MISSING,
     r'version .* reading 1 meter$'),
    ("TCP meter, nobody listening, quoted Port",
     '<Meter "net">\n  Host "127.0.0.1"\n  Port "%d"\n</Meter>'
     % d.free_port(), r'version .* reading 1 meter$'),
    ("serial options beside Host are ignored with a warning",
     '<Meter "net">\n  Host "localhost"\n  Port %d\n  Baudrate 9600\n'
     '</Meter>' % d.free_port(),
     r'<Meter "net">: Baudrate only applies to Device; ignored'),
    ("quoted SilenceTimeout, like every numeric option",
     '<Meter "a">\n  Device "%s"\n  SilenceTimeout "30"\n'
     '  MaxTelegramSize "4096"\n  Baudrate "9600"\n</Meter>' % MISSING,
     r'version .* reading 1 meter$'),
    ("IPv6 address without brackets; one host on two ports",
     '<Meter "v6">\n  Host "::1"\n  Port %d\n</Meter>\n<Meter "v4">\n'
     '  Host "127.0.0.1"\n  Port %d\n</Meter>\n<Meter "v4b">\n'
     '  Host "127.0.0.1"\n  Port %d\n</Meter>'
     % (d.free_port(), d.free_port(), d.free_port()),
     r'version .* reading 3 meters'),
    ("several meters, quoted boolean, silence check off",
     '<Meter "a">\n  Device "%s"\n</Meter>\n<Meter "b.2_x-y">\n'
     '  Device "%s-2"\n  CheckCRC "false"\n  SilenceTimeout 0\n</Meter>'
     % (MISSING, MISSING), r'version .* reading 2 meters'),
]
for what, body, rx in GOOD:
    c = d.Collectd([], plugin_block="<Plugin dsmr>\n%s\n</Plugin>" % body,
                   write_plugins=False, tag="cfg")
    rc, out = c.check()
    tap.is_(rc, 0, "%s: collectd -T succeeds" % what)
    if rc != 0:
        tap.diag(out)
    ok = any(re.search(rx, l) for l in out.splitlines())
    tap.ok(ok, "%s: log says /%s/" % (what, rx), out)

# The shipped drop-in, as a user would install it (only the paths of our
# not yet installed files are adjusted).
with open(os.path.join(d.SRCDIR, "collectd.conf.d", "dsmr.conf")) as f:
    dropin = f.read()
tap.ok('TypesDB "/usr/share/collectd/types.db" "/usr/share/collectd/dsmr.db"'
       in dropin and "LoadPlugin dsmr" in dropin,
       "collectd.conf.d/dsmr.conf names both types files and loads dsmr")
dropin = dropin.replace("/usr/share/collectd/dsmr.db",
                        os.path.join(d.SRCDIR, "types", "dsmr.db"))
dropin = dropin.replace("LoadPlugin dsmr", "")
c = d.Collectd([], plugin_block=dropin, write_plugins=False, tag="cfg")
rc, out = c.check()
tap.is_(rc, 0, "collectd.conf.d/dsmr.conf passes collectd -T")
tap.ok(re.search(r"dsmr plugin: version .* reading 1 meter", out),
       "and configures its one meter", out)
sys.exit(tap.done())
