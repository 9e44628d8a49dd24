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
"""

import re

DAMAGES = ("flip", "cut", "badcrc", "dropseg")
KINDS = DAMAGES + ("noise", "disconnect")

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
