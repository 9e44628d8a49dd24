"""Rendering a model snapshot as the text a real meter sends.

Each profile imitates one real meter family from tests/corpus/telegrams:
  dsmr5   Iskra AM550 (DSMR 5.0, 115200 8N1, every second)
  dsmr4   Landis+Gyr E350 (DSMR 4.2, 115200 8N1, every 10 s; its register
          order 1.8.1, 2.8.1, 1.8.2, 2.8.2 is real and catches parsers that
          assume the other one)
  dsmr22  Iskra MT382 (DSMR 2.2, 9600 7E1, every 10 s, no CRC, gas as
          24.3.0 with the value on the next line)
  smarty  Luxembourg Smarty (DSMR 5 based, totals + reactive, usually
          AES-GCM wrapped: see aesgcm.py)
"""

from . import clock
from .crc import crc16_arc


class Telegram:
    """One rendered telegram.

    data       the exact bytes (latin-1), from '/' to the final CR LF
    bang       index of the '!' in data
    has_crc    whether a CRC follows '!'
    registers  OBIS id -> raw value text (no unit) of every single-valued line
    gas        None or {"time": iso, "unix": secs, "m3": text}
    unix       meter time (None if unknown, e.g. replayed DSMR 2.2)
    """

    __slots__ = ("data", "bang", "has_crc", "registers", "gas", "unix", "crc_ok", "source")

    def __init__(self, data, bang, has_crc, registers, gas, unix, crc_ok=True, source=None):
        self.data = data
        self.bang = bang
        self.has_crc = has_crc
        self.registers = registers
        self.gas = gas
        self.unix = unix
        self.crc_ok = crc_ok
        self.source = source

    @property
    def crc_text(self):
        if not self.has_crc:
            return None
        digits = self.data[self.bang + 1 : self.bang + 5]
        n = 0
        while n < len(digits) and digits[n : n + 1] in b"0123456789ABCDEFabcdef":
            n += 1
        return digits[:n].decode("latin-1") or None


def fixed(value, int_digits, decimals):
    """Zero-padded fixed point: fixed(123456, 6, 3) == '000123.456'.  `value`
    is an integer in units of 10**-decimals; it wraps like a meter's display."""
    width = int_digits + decimals
    text = "%0*d" % (width, value % 10**width)
    return text[:int_digits] + "." + text[int_digits:] if decimals else text


def hexstr(text):
    """DSMR 'octet string' objects: the ASCII text as upper-case hex."""
    return text.encode("ascii").hex().upper()


def assemble(header, lines, with_crc=True):
    """Frame `lines` (each 'obis(...)' without CR LF) into a telegram."""
    body = header + "\r\n\r\n" + "".join(line + "\r\n" for line in lines) + "!"
    raw = body.encode("latin-1")
    bang = len(raw) - 1
    if with_crc:
        raw += b"%04X\r\n" % crc16_arc(raw)
    else:
        raw += b"\r\n"
    return raw, bang


class Profile:
    """Base: a meter identity (header, serials) and a line template."""

    name = None
    header = None
    version = None  # 1-3:0.2.8 value, or None
    gas_period_s = 300
    power_step_w = 1
    default_interval = 1.0
    with_crc = True

    def __init__(self, rng, index=0):
        # Serial numbers as Dutch meters print them, different per meter.
        self.serial = "E00%02d%012d" % (rng.randint(30, 59), rng.randrange(10**12))
        self.gas_serial = "G00%02d%012d" % (rng.randint(30, 59), rng.randrange(10**12))
        self.index = index
        self.text_message = ""

    def render(self, s):
        registers = {}
        lines = []

        def add(obis, value, unit=None):
            registers[obis] = value
            lines.append("%s(%s%s)" % (obis, value, "*" + unit if unit else ""))

        self.lines(s, add, lines)
        raw, bang = assemble(self.header, lines, self.with_crc)
        gas_unix, litres = s["gas"]
        gas = {"time": clock.iso_utc(gas_unix), "unix": gas_unix, "m3": fixed(litres, 5, 3)}
        return Telegram(raw, bang, self.with_crc, registers, gas, s["unix"])

    # helpers shared by the DSMR 4/5 style profiles
    @staticmethod
    def kw(w):
        return fixed(w, 2, 3)

    def failure_log(self, s):
        log = s["failure_log"]
        text = "(%d)(0-0:96.7.19)" % len(log)
        for end, duration in log:
            text += "(%s)(%010d*s)" % (clock.stamp(end), duration)
        return text


class Dsmr5(Profile):
    name = "dsmr5"
    header = "/ISK5\\2M550T-1012"
    version = "50"
    gas_period_s = 300
    default_interval = 1.0

    def lines(self, s, add, lines):
        e = s["energy_wh"]
        add("1-3:0.2.8", self.version)
        add("0-0:1.0.0", clock.stamp(s["unix"]))
        add("0-0:96.1.1", hexstr(self.serial))
        self.energy_lines(e, add)
        add("0-0:96.14.0", "%04d" % s["tariff"])
        add("1-0:1.7.0", self.kw(s["power_w"][0]), "kW")
        add("1-0:2.7.0", self.kw(s["power_w"][1]), "kW")
        add("0-0:96.7.21", "%05d" % s["failures"][0])
        add("0-0:96.7.9", "%05d" % s["failures"][1])
        lines.append("1-0:99.97.0" + self.failure_log(s))
        for i, c in enumerate((32, 52, 72)):
            add("1-0:%d.32.0" % c, "%05d" % s["sags"][i])
        for i, c in enumerate((32, 52, 72)):
            add("1-0:%d.36.0" % c, "%05d" % s["swells"][i])
        self.message_lines(add)
        self.voltage_lines(s, add)
        for i, c in enumerate((31, 51, 71)):
            add("1-0:%d.7.0" % c, "%03d" % s["current_a"][i], "A")
        for i, c in enumerate((21, 41, 61)):
            add("1-0:%d.7.0" % c, self.kw(s["phase_import_w"][i]), "kW")
        for i, c in enumerate((22, 42, 62)):
            add("1-0:%d.7.0" % c, self.kw(s["phase_export_w"][i]), "kW")
        self.gas_lines(s, add, lines)

    def energy_lines(self, e, add):
        for k in ("1.8.1", "1.8.2", "2.8.1", "2.8.2"):
            add("1-0:" + k, fixed(e[k], 6, 3), "kWh")

    def message_lines(self, add):
        add("0-0:96.13.0", hexstr(self.text_message))

    def voltage_lines(self, s, add):
        for i, c in enumerate((32, 52, 72)):
            add("1-0:%d.7.0" % c, fixed(s["voltage_dv"][i], 3, 1), "V")

    def gas_lines(self, s, add, lines):
        gas_unix, litres = s["gas"]
        add("0-1:24.1.0", "003")
        add("0-1:96.1.0", hexstr(self.gas_serial))
        lines.append("0-1:24.2.1(%s)(%s*m3)" % (clock.stamp(gas_unix), fixed(litres, 5, 3)))


class Dsmr4(Dsmr5):
    name = "dsmr4"
    header = "/XMX5LGBBFFB231237740"
    version = "42"
    gas_period_s = 3600
    default_interval = 10.0

    def energy_lines(self, e, add):
        for k in ("1.8.1", "2.8.1", "1.8.2", "2.8.2"):
            add("1-0:" + k, fixed(e[k], 6, 3), "kWh")

    def message_lines(self, add):
        add("0-0:96.13.1", "")
        add("0-0:96.13.0", hexstr(self.text_message))

    def voltage_lines(self, s, add):
        pass  # DSMR 4.2.2 has no instantaneous voltage

    def gas_lines(self, s, add, lines):
        Dsmr5.gas_lines(self, s, add, lines)
        add("0-1:24.4.0", "1")


class Dsmr22(Profile):
    name = "dsmr22"
    header = "/ISk5\\2MT382-1003"
    gas_period_s = 3600
    power_step_w = 10  # the display has 10 W resolution: 0001.23 kW
    default_interval = 10.0
    with_crc = False

    def lines(self, s, add, lines):
        e = s["energy_wh"]
        add("0-0:96.1.1", hexstr(self.serial))
        for k in ("1.8.1", "1.8.2", "2.8.1", "2.8.2"):
            add("1-0:" + k, fixed(e[k], 5, 3), "kWh")
        add("0-0:96.14.0", "%04d" % s["tariff"])
        add("1-0:1.7.0", fixed(s["power_w"][0] // 10, 4, 2), "kW")
        add("1-0:2.7.0", fixed(s["power_w"][1] // 10, 4, 2), "kW")
        add("0-0:17.0.0", "0999.00", "kW")
        add("0-0:96.3.10", "1")
        add("0-0:96.13.1", "")
        add("0-0:96.13.0", hexstr(self.text_message))
        add("0-1:24.1.0", "3")
        add("0-1:96.1.0", hexstr(self.gas_serial))
        gas_unix, litres = s["gas"]
        lines.append(
            "0-1:24.3.0(%s)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(%s)"
            % (clock.stamp(gas_unix, flag=False), fixed(litres, 5, 3))
        )
        add("0-1:24.4.0", "1")


class Smarty(Dsmr5):
    name = "smarty"
    header = "/Lux5\\253694471_M"
    version = "42"
    gas_period_s = 300
    default_interval = 10.0

    def lines(self, s, add, lines):
        e = s["energy_wh"]
        q = s["reactive_varh"]
        add("1-3:0.2.8", self.version)
        add("0-0:1.0.0", clock.stamp(s["unix"]))
        add("0-0:42.0.0", hexstr(self.serial))
        add("1-0:1.8.0", fixed(e["1.8.1"] + e["1.8.2"], 6, 3), "kWh")
        add("1-0:2.8.0", fixed(e["2.8.1"] + e["2.8.2"], 6, 3), "kWh")
        add("1-0:3.8.0", fixed(q["3.8.0"], 6, 3), "kvarh")
        add("1-0:4.8.0", fixed(q["4.8.0"], 6, 3), "kvarh")
        add("1-0:1.7.0", self.kw(s["power_w"][0]), "kW")
        add("1-0:2.7.0", self.kw(s["power_w"][1]), "kW")
        add("1-0:3.7.0", self.kw(s["reactive_var"][0]), "kvar")
        add("1-0:4.7.0", self.kw(s["reactive_var"][1]), "kvar")
        add("0-0:17.0.0", "069.0", "kVA")
        add("0-0:96.3.10", "1")
        add("0-0:96.7.21", "%05d" % s["failures"][0])
        for i, c in enumerate((32, 52, 72)):
            add("1-0:%d.32.0" % c, "%05d" % s["sags"][i])
        for i, c in enumerate((32, 52, 72)):
            add("1-0:%d.36.0" % c, "%05d" % s["swells"][i])
        add("0-0:96.13.0", hexstr(self.text_message))
        for n in (2, 3, 4, 5):
            add("0-0:96.13.%d" % n, "")
        self.voltage_lines(s, add)
        for i, c in enumerate((31, 51, 71)):
            add("1-0:%d.7.0" % c, "%03d" % s["current_a"][i], "A")
        for i, c in enumerate((21, 41, 61)):
            add("1-0:%d.7.0" % c, self.kw(s["phase_import_w"][i]), "kW")
        for i, c in enumerate((22, 42, 62)):
            add("1-0:%d.7.0" % c, self.kw(s["phase_export_w"][i]), "kW")
        Dsmr5.gas_lines(self, s, add, lines)
        add("0-1:24.4.0", "1")


PROFILES = {p.name: p for p in (Dsmr5, Dsmr4, Dsmr22, Smarty)}
