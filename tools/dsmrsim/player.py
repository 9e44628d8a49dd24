"""Replaying recorded telegrams (.p1 files: the exact bytes a meter sent).

Each file is sent as is, byte for byte, as one unit (a file may carry junk
after its telegram, as the Q3D gateways do); the files are cycled in order.
For the manifest we read what the file says: its OBIS values, its meter time
and gas reading, and whether its CRC is right (some corpus files were
altered after the meter sent them and carry a wrong CRC: those are
"clean": false because a correct reader rejects them).
"""

import os
import re

from . import clock
from .crc import crc16_arc
from .telegram import Telegram

_LINE = re.compile(rb"^(\d+-\d+:\d+\.\d+\.\d+)((?:\([^()\r\n]*\))+)", re.M)
_GROUP = re.compile(rb"\(([^()]*)\)")
_CRC = re.compile(rb"!([0-9A-Fa-f]{1,4})?")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    start = data.find(b"/")
    bang = data.find(b"!", max(start, 0))
    if start < 0 or bang < 0:
        raise ValueError("%s: no '/'..'!' telegram in the file" % path)
    m = _CRC.match(data, bang)
    has_crc = bool(m and m.group(1))
    crc_ok = True
    if has_crc:
        crc_ok = crc16_arc(data[start : bang + 1]) == int(m.group(1), 16)

    registers = {}
    gas = None
    unix = None
    for line in _LINE.finditer(data, start, bang):
        obis = line.group(1).decode("latin-1")
        groups = [g.decode("latin-1") for g in _GROUP.findall(line.group(2))]
        if len(groups) == 1:
            value = groups[0].split("*", 1)[0]
            registers[obis] = value
            if obis == "0-0:1.0.0":
                unix = clock.parse_stamp(value)
        elif obis.endswith(":24.2.1") and len(groups) == 2 and gas is None:
            t = clock.parse_stamp(groups[0])
            gas = {
                "time": clock.iso_utc(t) if t is not None else None,
                "unix": t,
                "m3": groups[1].split("*", 1)[0],
            }
    return Telegram(data, bang, has_crc, registers, gas, unix, crc_ok, os.path.basename(path))


class Player:
    def __init__(self, paths):
        if not paths:
            raise ValueError("--play needs at least one file")
        self.telegrams = [load(p) for p in paths]
        self.next_index = 0

    def next(self):
        tel = self.telegrams[self.next_index]
        self.next_index = (self.next_index + 1) % len(self.telegrams)
        return tel
