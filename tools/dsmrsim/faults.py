"""Line faults, each chosen so that its effect on a correct reader is known.

Per telegram at most one *damage* is drawn (flip, cut or badcrc; their
probabilities must sum to <= 1), and independently `noise` (junk bytes
before the telegram) and `disconnect` (after it).  A damaged telegram is not
clean; noise does not make the telegram after it unclean.

  flip    one bit (0..6, never bit 7, so a reader that masks bit 7 for 7E1
          lines cannot undo it) of one byte strictly between '/' and '!',
          never turning it into '/' or '!' (frame boundaries stay put).
          A CRC-16 detects every single-bit error, so with a CRC the telegram
          always fails.  DSMR 2.2 has no CRC: there we flip bit 0 of a digit
          inside an energy register value, which leaves a well-formed but
          wrong value that only a comparison with the manifest can detect.
          Use dsmr4/dsmr5 for tests that expect the reader to reject faults.
  cut     only a prefix of the telegram is sent, ending before its '!', so
          it can never be mistaken for a complete telegram; the next
          telegram (with its '/') follows directly.
  badcrc  the CRC digits are replaced by a different valid-looking value.
          Not applicable to telegrams without a CRC (DSMR 2.2): ignored.
  dropseg (binary HAN streams only, see han.py) one frame of a message of
          several (an M-Bus segment, a block-transfer block) left out;
          ignored elsewhere.
  noise   1..64 random bytes before the telegram, never '/' or '!' (nor
          those with bit 7 set), so noise cannot start or end a frame.

Data faults keep the telegram well-formed and its CRC right (they are what
a meter itself gets wrong, not the line), each drawn independently, and
only when its probability is not 0 (so the random stream of a run without
them is unchanged):

  back1wh     1-0:1.8.1 is written 1 Wh below the value the previous
              telegram sent (a meter rounding); the next telegram is normal.
  future_gas  the gas capture time (0-n:24.2.1) is written a year ahead.
"""

import re

DAMAGES = ("flip", "cut", "badcrc", "dropseg")
DATA_FAULTS = ("back1wh", "future_gas")
KINDS = DAMAGES + ("noise", "disconnect") + DATA_FAULTS

_NOISE_ALPHABET = bytes(b for b in range(256) if b not in (0x2F, 0xAF, 0x21, 0xA1))
_CRC_DIGITS = re.compile(rb"[0-9A-Fa-f]{1,4}")
_ENERGY_VALUE = re.compile(rb"1-0:[12]\.8\.[0-9]\((\d+\.\d+)")


class FaultSpec:
    def __init__(self, text=None):
        self.p = {k: 0.0 for k in KINDS}
        if text:
            for item in text.split(","):
                item = item.strip()
                if not item:
                    continue
                name, sep, value = item.partition("=")
                name = name.strip()
                if name not in self.p:
                    raise ValueError("unknown fault %r (known: %s)" % (name, ", ".join(KINDS)))
                try:
                    prob = float(value) if sep else 1.0
                except ValueError:
                    raise ValueError("fault %s: %r is not a probability" % (name, value)) from None
                if not 0.0 <= prob <= 1.0:
                    raise ValueError("fault %s: probability %s not in [0, 1]" % (name, value))
                self.p[name] = prob
        if sum(self.p[k] for k in DAMAGES) > 1.0 + 1e-9:
            raise ValueError("flip + cut + badcrc + dropseg probabilities exceed 1")

    def any(self):
        return any(self.p.values())

    def roll(self, rng):
        """(damage or None, noise, disconnect).  Always draws three numbers, so
        the random stream does not depend on the outcome."""
        r_damage, r_noise, r_disc = rng.random(), rng.random(), rng.random()
        damage = None
        acc = 0.0
        for k in DAMAGES:
            acc += self.p[k]
            if r_damage < acc:
                damage = k
                break
        return damage, r_noise < self.p["noise"], r_disc < self.p["disconnect"]

    def roll_data(self, rng):
        """The data faults for one telegram (a list, maybe empty).  Draws a
        number only for the data faults asked for."""
        return [k for k in DATA_FAULTS if self.p[k] > 0 and rng.random() < self.p[k]]


def flip(tel, rng):
    """Return (bytes, detail) with one bit flipped (see module doc)."""
    data = bytearray(tel.data)
    start = max(tel.data.find(b"/", 0, tel.bang), 0)
    if tel.has_crc:
        if tel.bang - start < 2:
            return None, None
        while True:
            pos = rng.randint(start + 1, tel.bang - 1)
            bit = rng.randint(0, 6)
            # Never make a '/' or '!': that would move the frame boundaries
            # and leave a 1 in 65536 chance of a sub-frame with a valid CRC.
            if data[pos] ^ (1 << bit) not in (0x2F, 0x21):
                break
    else:
        digits = []
        for m in _ENERGY_VALUE.finditer(tel.data, 0, tel.bang):
            digits += [i for i in range(m.start(1), m.end(1)) if tel.data[i] != 0x2E]
        if not digits:
            if tel.bang - start < 2:
                return None, None
            digits = list(range(start + 1, tel.bang))
        pos = rng.choice(digits)
        bit = 0
    data[pos] ^= 1 << bit
    return bytes(data), {"offset": pos, "bit": bit}


def cut(data, limit, rng):
    """A prefix of `data` of 1..limit bytes (limit = index of '!', so the
    prefix never contains it)."""
    limit = max(1, min(limit, len(data) - 1))
    n = rng.randint(1, limit)
    return data[:n], {"length": n}


def badcrc(tel, rng):
    """Replace the CRC digits after '!' (1..4 hex digits in replayed files)
    by a different 4-digit value."""
    m = _CRC_DIGITS.match(tel.data, tel.bang + 1)
    if not tel.has_crc or not m:
        return None, None
    good = int(m.group(0), 16)
    bad = good ^ rng.randint(1, 0xFFFF)
    data = tel.data[: m.start()] + b"%04X" % bad + tel.data[m.end() :]
    return data, {"crc": "%04X" % bad}


def noise(rng):
    return bytes(rng.choice(_NOISE_ALPHABET) for _ in range(rng.randint(1, 64)))


def even_parity_7e1(data):
    """What an 8N1 reader sees from a 7E1 line: bit 7 carries even parity."""
    table = _PARITY
    return bytes(table[b] for b in data)


_PARITY = tuple((b & 0x7F) | (0x80 if bin(b & 0x7F).count("1") & 1 else 0) for b in range(256))


_T1 = re.compile(rb"1-0:1\.8\.1\((\d+)\.(\d+)\*kWh\)")
_GAS_TIME = re.compile(rb"0-\d:24\.2\.1\((\d{12})([SW]?)\)")
YEAR = 365 * 86400


def _reseal(data, has_crc):
    """`data` (a telegram whose values were rewritten) with its CRC
    recomputed over '/'..'!'."""
    from .crc import crc16_arc

    start = max(data.find(b"/"), 0)
    bang = data.find(b"!", start)
    if has_crc:
        data = data[: bang + 1] + b"%04X\r\n" % crc16_arc(data[start : bang + 1])
    return data


def back1wh(data, has_crc, last_t1):
    """Rewrite 1-0:1.8.1 to 1 Wh below `last_t1` (the text the previous
    telegram sent, e.g. "001234.567").  (bytes, the text written) or
    (None, None) when it does not apply."""
    m = _T1.search(data)
    if not m or not last_t1:
        return None, None
    ip, fp = last_t1.split(".")
    scale = 10 ** len(fp)
    value = int(ip) * scale + int(fp) - 1
    if value < 0:
        return None, None
    text = "%0*d.%0*d" % (len(ip), value // scale, len(fp), value % scale)
    data = data[: m.start(1)] + text.encode() + data[m.end(2) :]
    return _reseal(data, has_crc), text


def future_gas(data, has_crc, gas_unix):
    """Rewrite the gas capture time (0-n:24.2.1) a year after `gas_unix`.
    (bytes, the new UTC time) or (None, None) when it does not apply."""
    from . import clock

    m = _GAS_TIME.search(data)
    if not m or gas_unix is None:
        return None, None
    when = gas_unix + YEAR
    text = clock.stamp(when, flag=bool(m.group(2)))
    data = data[: m.start(1)] + text.encode() + data[m.end(2) :]
    return _reseal(data, has_crc), when


def apply_data(tel, kinds, last_t1):
    """Apply the data faults `kinds` to the clean telegram `tel`.  Returns
    (bytes, registers, gas, detail, applied): what was sent, for the
    manifest, and which faults applied."""
    from . import clock

    data, registers, gas, detail, applied = tel.data, tel.registers, tel.gas, {}, []
    for k in kinds:
        if k == "back1wh":
            new, text = back1wh(data, tel.has_crc, last_t1)
            if new is not None:
                data, registers = new, dict(registers, **{"1-0:1.8.1": text})
                detail["1-0:1.8.1 was"] = tel.registers.get("1-0:1.8.1")
                applied.append(k)
        elif k == "future_gas" and gas:
            new, when = future_gas(data, tel.has_crc, gas.get("unix"))
            if new is not None:
                data = new
                gas = dict(gas, time=clock.iso_utc(when), unix=when)
                detail["gas time was"] = tel.gas["time"]
                applied.append(k)
    return data, registers, gas, detail or None, applied
