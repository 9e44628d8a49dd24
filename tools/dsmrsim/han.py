"""Binary HAN meters: DLMS/COSEM data-notification push messages over HDLC
(IEC 62056-46 frame format type 3) or wired M-Bus long frames (EN 13757-2),
plain or in general-glo-ciphering, as Norwegian, Swedish, Danish and
Austrian meters send them.  Written from the specs (../../shared/specs/
han-*.txt, the DLMS Green/Blue Book excerpts); tests/test_sim.py checks the
encoder byte for byte against published frames.

Layers, each a plain function returning bytes:

  A-XDR       array, structure, octet-string, visible-string, integers of
              every width, enum, boolean, scaler_unit, OBIS, date-time
  APDU        data-notification 0F (date-time forms 00, 0C + 12 bytes and
              Kaifa's 09 0C + 12 bytes); general-glo-ciphering DB with
              security control 0x20/0x21 (AES-128-CTR from IV || 00000002,
              no tag) or 0x30 (GCM, 12-byte tag, AAD = SC || AK);
              general-block-transfer E0
  transport   HDLC frames (1-4 byte addresses, any control byte, HCS and
              FCS CRC-16/X.25, LLC E6 E7 00, no byte stuffing); M-Bus long
              frames 68 L L 68 C A CI STSAP DTSAP data CS 16 with CI segment
              numbers and the FIN bit

Profiles (HanProfile subclasses) lay out a model snapshot (model.py) as one
vendor's list and say what a reader must decode from it (OBIS -> exact
decimal and unit), which the simulator's manifest records.
"""

from . import clock
from .aesgcm import gcm_encrypt
from .crc import crc16_x25  # CRC-16/X.25, also han.crc16_x25 for the tests

# --------------------------------------------------------------------------
# A-XDR (Blue Book 13 / Green Book 9 data types)

T_ARRAY, T_STRUCT, T_BOOL = 0x01, 0x02, 0x03
T_S32, T_U32, T_OCTETS, T_VISIBLE = 0x05, 0x06, 0x09, 0x0A
T_S8, T_S16, T_U8, T_U16 = 0x0F, 0x10, 0x11, 0x12
T_S64, T_U64, T_ENUM = 0x14, 0x15, 0x16

_INT_TYPES = {  # tag: (bytes, signed)
    T_S8: (1, True), T_S16: (2, True), T_S32: (4, True), T_S64: (8, True),
    T_U8: (1, False), T_U16: (2, False), T_U32: (4, False), T_U64: (8, False),
    T_ENUM: (1, False),
}

# Blue Book unit enumeration (Table 4) for the units these meters use.
UNITS = {27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh", 32: "varh", 33: "A", 35: "V", 44: "Hz", 255: ""}
UNIT_CODE = {v: k for k, v in UNITS.items()}


def length(n):
    """A-XDR length: one byte below 0x80, else 81 xx or 82 xx xx."""
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return bytes([0x81, n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    raise ValueError("A-XDR length %d too large" % n)


def array(items):
    return bytes([T_ARRAY]) + length(len(items)) + b"".join(items)


def structure(items):
    return bytes([T_STRUCT]) + length(len(items)) + b"".join(items)


def octet_string(data):
    return bytes([T_OCTETS]) + length(len(data)) + bytes(data)


def visible_string(text):
    data = text.encode("ascii") if isinstance(text, str) else bytes(text)
    return bytes([T_VISIBLE]) + length(len(data)) + data


def integer(tag, value):
    """Any integer type by tag (T_S8 ... T_U64, T_ENUM); range checked."""
    size, signed = _INT_TYPES[tag]
    return bytes([tag]) + int(value).to_bytes(size, "big", signed=signed)


def boolean(value):
    return bytes([T_BOOL, 0xFF if value else 0x00])


def scaler_unit(scaler, unit):
    """02 02 0F <scaler> 16 <unit>; unit an enum value or a name ("W")."""
    code = UNIT_CODE[unit] if isinstance(unit, str) else unit
    return structure([integer(T_S8, scaler), integer(T_ENUM, code)])


def obis_bytes(text):
    """'1-0:1.7.0.255' or '1-0:1.7.0' (F = 255) -> 6 bytes."""
    ab, _, cdef = text.partition(":")
    a, b = ab.split("-")
    rest = cdef.split(".")
    if len(rest) == 3:
        rest.append("255")
    return bytes(int(x) for x in [a, b] + rest)


def obis_text(code):
    """The reader's key: A-B:C.D.E, F left out when 255 (as DSMR writes them)."""
    a, b, c, d, e, f = code
    text = "%d-%d:%d.%d.%d" % (a, b, c, d, e)
    return text if f == 255 else text + ".%d" % f


def obis(text):
    return octet_string(obis_bytes(text))


DEVIATION_UNSPECIFIED = -0x8000


def date_time(year, month, day, dow, hour, minute, second, hundredths=0xFF,
              deviation=DEVIATION_UNSPECIFIED, status=0x00):
    """The 12-byte COSEM date-time (Blue Book 4.1.6.1); deviation in minutes
    with local time = UTC - deviation, 0x8000 = not specified."""
    return (year.to_bytes(2, "big") + bytes([month, day, dow, hour, minute, second, hundredths])
            + (deviation & 0xFFFF).to_bytes(2, "big") + bytes([status]))


def meter_clock(unix, deviation="local", dow_sunday=7, hundredths=0xFF):
    """date-time of the meter's wall clock (Central European time, the EU
    rule in clock.py: the same in Norway, Denmark, Sweden and Austria).
    deviation: "local" = the real offset (-60/-120, status 0x80 in summer),
    "unspecified" = 0x8000, "zero" = 0 (what Aidon NO sends with local
    time).  dow_sunday: the day-of-week number for Sunday (7 per DLMS;
    Aidon sends 0)."""
    t = clock.local_time(unix)
    dow = t.isoweekday()
    if dow == 7:
        dow = dow_sunday
    summer = clock.is_summer(unix)
    if deviation == "local":
        dev, status = -clock.local_offset(unix) // 60, 0x80 if summer else 0x00
    elif deviation == "zero":
        dev, status = 0, 0x00
    else:
        dev, status = DEVIATION_UNSPECIFIED, 0x00
    return date_time(t.year, t.month, t.day, dow, t.hour, t.minute, t.second, hundredths, dev, status)


# --------------------------------------------------------------------------
# APDUs

DT_NONE, DT_PLAIN, DT_TAGGED = "00", "0c", "090c"


def data_notification(invoke_id, body, dt=None, dt_form=DT_NONE):
    """0F | long-invoke-id-and-priority (4) | date-time | body.  dt_form
    DT_NONE: 00 (empty octet string, Aidon); DT_PLAIN: 0C + 12 bytes
    (Kamstrup, Austria); DT_TAGGED: 09 0C + 12 bytes (Kaifa)."""
    head = b"\x0f" + (invoke_id & 0xFFFFFFFF).to_bytes(4, "big")
    if dt_form == DT_NONE:
        head += b"\x00"
    elif dt_form == DT_PLAIN:
        head += b"\x0c" + dt
    elif dt_form == DT_TAGGED:
        head += b"\x09\x0c" + dt
    else:
        raise ValueError("date-time form %r" % dt_form)
    return head + body


SC_CTR_SUITE0, SC_CTR_SUITE1, SC_GCM = 0x20, 0x21, 0x30


def glo_cipher(apdu, key, system_title, counter, sc=SC_GCM, auth_key=b""):
    """general-glo-ciphering: DB 08 <title> <len> SC IC ciphertext [tag12].
    SC with bit 4 (A) set: GCM with AAD = SC || AK and a 12-byte tag;
    without it (0x20, 0x21): AES-128-CTR from IV || 00000002, no tag.
    IV = system title || invocation counter."""
    if len(system_title) != 8:
        raise ValueError("system title must be 8 bytes")
    ic = (counter & 0xFFFFFFFF).to_bytes(4, "big")
    authenticated = bool(sc & 0x10)
    aad = bytes([sc]) + bytes(auth_key) if authenticated else b""
    ct, tag = gcm_encrypt(key, system_title + ic, apdu, aad, 12)
    body = bytes([sc]) + ic + ct + (tag if authenticated else b"")
    return b"\xdb\x08" + system_title + length(len(body)) + body


def read_length(data, pos):
    """(length, next position) of an A-XDR length at data[pos]."""
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    n = first & 0x7F
    if n == 0 or n > 2:
        raise ValueError("A-XDR length form %02X" % first)
    return int.from_bytes(data[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def glo_decipher(envelope, key, auth_key=None):
    """Inverse of glo_cipher (for tests): returns dict(apdu, title, sc,
    counter, tag_ok) where tag_ok is None when there is no tag or no
    authentication key to check it with."""
    if envelope[:2] != b"\xdb\x08":
        raise ValueError("not a general-glo-ciphering APDU")
    title = bytes(envelope[2:10])
    n, pos = read_length(envelope, 10)
    body = bytes(envelope[pos:pos + n])
    if len(body) != n:
        raise ValueError("envelope cut: %d of %d bytes" % (len(body), n))
    sc, ic = body[0], body[1:5]
    authenticated = bool(sc & 0x10)
    ct = body[5:-12] if authenticated else body[5:]
    # CTR is its own inverse: "encrypting" the ciphertext gives the plaintext.
    plain, _ = gcm_encrypt(key, title + ic, ct, b"", 12)
    tag_ok = None
    if authenticated and auth_key is not None:
        _, tag = gcm_encrypt(key, title + ic, plain, bytes([sc]) + bytes(auth_key), 12)
        tag_ok = tag == body[-12:]
    return {"apdu": plain, "title": title, "sc": sc, "counter": int.from_bytes(ic, "big"), "tag_ok": tag_ok}


def gbt_blocks(apdu, sizes):
    """general-block-transfer: split `apdu` into blocks of the given data
    sizes (an int: all blocks that size; a list: one size per block, the
    rest in a last block): E0 | control (0x40, last 0xC0) | block number (2,
    from 1) | acknowledged block (2, 0) | A-XDR length + data."""
    if isinstance(sizes, int):
        if sizes <= 0:
            raise ValueError("block size must be > 0")
        sizes = [sizes] * ((len(apdu) + sizes - 1) // sizes)
    parts, pos = [], 0
    for s in sizes:
        if pos >= len(apdu):
            break
        parts.append(apdu[pos:pos + s])
        pos += s
    if pos < len(apdu):
        parts.append(apdu[pos:])
    out = []
    for i, part in enumerate(parts):
        control = 0xC0 if i == len(parts) - 1 else 0x40
        out.append(bytes([0xE0, control]) + (i + 1).to_bytes(2, "big") + b"\x00\x00" + length(len(part)) + part)
    return out


# --------------------------------------------------------------------------
# Transports

LLC = b"\xe6\xe7\x00"


def hdlc_frame(info, dst=b"\x41", src=b"\x08\x83", control=0x13, segmented=False):
    """One HDLC frame format type 3: 7E | A0+len (S bit 0x08) | dst | src |
    control | HCS | info | FCS | 7E.  Addresses are given with their
    extension bits (last byte odd).  HCS only when there is information."""
    for addr in (dst, src):
        if not 1 <= len(addr) <= 4 or not addr[-1] & 1 or any(b & 1 for b in addr[:-1]):
            raise ValueError("HDLC address %s: 1-4 bytes, extension bit only on the last" % addr.hex())
    head_len = 2 + len(dst) + len(src) + 1
    flen = head_len + (2 + len(info) if info else 0) + 2
    if flen > 0x7FF:
        raise ValueError("HDLC frame of %d bytes exceeds the 11-bit length" % flen)
    head = bytes([0xA0 | (0x08 if segmented else 0) | flen >> 8, flen & 0xFF]) + dst + src + bytes([control])
    if info:
        hcs = crc16_x25(head)
        head += bytes([hcs & 0xFF, hcs >> 8]) + info
    fcs = crc16_x25(head)
    return b"\x7e" + head + bytes([fcs & 0xFF, fcs >> 8]) + b"\x7e"


def hdlc_message(apdu, dst=b"\x41", src=b"\x08\x83", control=0x13, gbt=None):
    """An APDU as the meter sends it over HDLC: one frame LLC + APDU, or with
    gbt (block size or list of sizes) one frame per general-block-transfer
    block, only the first with the LLC header.  Returns the list of frames."""
    if not gbt:
        return [hdlc_frame(LLC + apdu, dst, src, control)]
    blocks = gbt_blocks(apdu, gbt)
    return [hdlc_frame((LLC if i == 0 else b"") + b, dst, src, control) for i, b in enumerate(blocks)]


MBUS_MAX_DATA = 245  # L = 0xFA at most: C A CI STSAP DTSAP + 245


def mbus_frames(apdu, max_data=MBUS_MAX_DATA, c=0x53, a=0xFF, stsap=0x01, dtsap=0x67):
    """The DLMS M-Bus wrapper: 68 L L 68 | C A CI STSAP DTSAP data | CS 16,
    L = bytes from C to the end of data, CS = their sum mod 256, CI = segment
    number (bits 0-3) | FIN 0x10 on the last (a single frame: CI 0x10)."""
    if not 1 <= max_data <= MBUS_MAX_DATA:
        raise ValueError("M-Bus segment data size must be 1..%d" % MBUS_MAX_DATA)
    chunks = [apdu[i:i + max_data] for i in range(0, len(apdu), max_data)] or [b""]
    if len(chunks) > 16:
        raise ValueError("%d bytes need %d M-Bus segments; CI numbers only 16" % (len(apdu), len(chunks)))
    out = []
    for n, chunk in enumerate(chunks):
        ci = (n & 0x0F) | (0x10 if n == len(chunks) - 1 else 0)
        body = bytes([c, a, ci, stsap, dtsap]) + chunk
        out.append(bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16]))
    return out


# --------------------------------------------------------------------------
# Model quantities -> raw register values

# quantity (OBIS C.D.E) -> (snapshot key, index or None, decimal exponent of
# the snapshot's unit, unit)
def _quantity(s, qty):
    """Exact value of a quantity from a model snapshot, as (integer, exponent)."""
    e, q = s["energy_wh"], s["reactive_varh"]
    imp_w, exp_w = s["power_w"]
    q_imp, q_exp = s["reactive_var"]
    table = {
        "1.8.0": (e["1.8.1"] + e["1.8.2"], 0),
        "2.8.0": (e["2.8.1"] + e["2.8.2"], 0),
        "3.8.0": (q["3.8.0"], 0),
        "4.8.0": (q["4.8.0"], 0),
        "1.7.0": (imp_w, 0),
        "2.7.0": (exp_w, 0),
        "3.7.0": (q_imp, 0),
        "4.7.0": (q_exp, 0),
    }
    if qty in table:
        return table[qty]
    for i, (i_code, u_code) in enumerate(((31, 32), (51, 52), (71, 72))):
        if qty == "%d.7.0" % i_code:
            return s["current_ma"][i], -3
        if qty == "%d.7.0" % u_code:
            return s["voltage_dv"][i], -1
    if qty == "13.7.0":  # power factor, thousandths
        p = imp_w + exp_w
        r = q_imp + q_exp
        if p == 0 and r == 0:
            return 1000, -3
        return int(round(1000 * p / (p * p + r * r) ** 0.5)), -3
    raise KeyError(qty)


def to_raw(value, exp, scaler):
    """Register value in units of 10**scaler from an exact value*10**exp
    (truncated like a meter's register)."""
    if scaler <= exp:
        return value * 10 ** (exp - scaler)
    return value // 10 ** (scaler - exp)


def decimal_text(raw, scaler):
    """raw * 10**scaler, exactly, with as many decimals as the scaler says."""
    if scaler >= 0:
        return str(raw * 10 ** scaler)
    sign = "-" if raw < 0 else ""
    digits = "%0*d" % (-scaler + 1, abs(raw))
    return sign + digits[:scaler] + "." + digits[scaler:]


# --------------------------------------------------------------------------
# List layouts

class Item:
    """One register of a list: OBIS, A-XDR type, scaler and unit (what the
    frame carries or, without scaler_unit, what the vendor document fixes),
    and the phase it belongs to (for 1-phase variants)."""

    __slots__ = ("obis", "tag", "scaler", "unit", "qty", "phase")

    def __init__(self, obis, tag, scaler=0, unit=None, phase=1):
        self.obis = obis
        self.tag = tag
        self.scaler = scaler
        self.unit = unit
        self.qty = ".".join(obis.split(":")[1].split(".")[:3])
        self.phase = phase


def _phase_of(qty):
    c = int(qty.split(".")[0])
    return 2 if c in (51, 52) else 3 if c in (71, 72) else 1


def _items(b, spec):
    """[(qty, tag, scaler, unit)] -> Items with OBIS A-B = 1-b."""
    return [Item("1-%d:%s.255" % (b, qty), tag, sc, unit, _phase_of(qty)) for qty, tag, sc, unit in spec]


class Message:
    """One push message: the APDU and what it says.

    apdu       the plain data-notification
    registers  OBIS text -> exact decimal text (after the scaler)
    units      OBIS text -> unit ("W", "Wh", "V", "A", "var", "varh", "")
    strings    OBIS text -> text of the identifying strings
    list       list number (1, 2, 3) or the layout's name
    clock      the meter's date-time as sent (hex) or None
    """

    def __init__(self, apdu, registers, units, strings, list_no, clock_hex):
        self.apdu = apdu
        self.registers = registers
        self.units = units
        self.strings = strings
        self.list = list_no
        self.clock = clock_hex


class HanProfile:
    """Base of the vendor profiles.  encode(raw, ...) builds the APDU from
    raw register values (OBIS -> integer in the register's own units, or
    text), so the same code serves the model and the public-frame tests;
    render(snapshot, list_no) fills raw from the model."""

    name = None
    vendor = None
    line = "8E1"  # serial settings of the real port (2400 baud)
    transport = "hdlc"
    always_encrypted = False  # without --han-key: key 000102...0F
    default_interval = 10.0
    lists = (1, 2, 3)
    dst, src, control = b"\x41", b"\x08\x83", 0x13
    title_prefix = b"XXX"
    clock_deviation = None  # --han-clock: local|zero|unspecified; None: the meter's own

    def __init__(self, rng, index=0):
        self.rng = rng
        self.index = index
        self.meter_id = "%016d" % rng.randrange(10**15, 10**16)
        self.invoke = 0

    def title(self):
        return self.title_prefix + int(self.meter_id[-10:]).to_bytes(5, "big")

    def items(self, list_no, phases=3):
        raise NotImplementedError

    def raw_from_model(self, s, list_no):
        raw = {}
        for it in self.items(list_no):
            if it.tag in (T_OCTETS, T_VISIBLE):
                continue
            value, exp = _quantity(s, it.qty)
            raw[it.obis] = to_raw(value, exp, it.scaler)
        return raw

    def render(self, s, list_no):
        raw = self.raw_from_model(s, list_no)
        return self.encode(raw, list_no, s["unix"])

    def describe(self, raw, list_no, phases=3):
        regs, units = {}, {}
        for it in self.items(list_no, phases):
            if it.obis in raw and it.tag not in (T_OCTETS, T_VISIBLE):
                key = obis_text(obis_bytes(it.obis))
                regs[key] = decimal_text(raw[it.obis], it.scaler)
                units[key] = it.unit or ""
        return regs, units


class Aidon(HanProfile):
    """Aidon Norway (AIDON_V0001, AIDON-NO 3.2-3.3.1): an array of
    structures {OBIS, value[, scaler_unit]}, header date-time 00; list 1 =
    P+, list 2 = identity + P/Q + I (long, 0.1 A) + U (long-unsigned,
    0.1 V), list 3 = list 2 + clock + energies (10 Wh).  The clock is local
    time with deviation 0 and Sunday = 0, as the real meter sends it."""

    name = "han-aidon"
    vendor = "Aidon"
    line = "8E1"
    title_prefix = b"AID"
    meter_type = "6534"
    _L1 = [("1.7.0", T_U32, 0, "W")]
    _L2 = [("1.7.0", T_U32, 0, "W"), ("2.7.0", T_U32, 0, "W"), ("3.7.0", T_U32, 0, "var"),
           ("4.7.0", T_U32, 0, "var"), ("31.7.0", T_S16, -1, "A"), ("51.7.0", T_S16, -1, "A"),
           ("71.7.0", T_S16, -1, "A"), ("32.7.0", T_U16, -1, "V"), ("52.7.0", T_U16, -1, "V"),
           ("72.7.0", T_U16, -1, "V")]
    _L3 = [("1.8.0", T_U32, 1, "Wh"), ("2.8.0", T_U32, 1, "Wh"), ("3.8.0", T_U32, 1, "varh"),
           ("4.8.0", T_U32, 1, "varh")]

    def items(self, list_no, phases=3):
        if list_no == 1:
            return _items(0, self._L1)
        its = [it for it in _items(0, self._L2) if phases == 3 or it.phase == 1]
        return its + (_items(0, self._L3) if list_no == 3 else [])

    def encode(self, raw, list_no, unix, phases=3, meter_id=None, meter_type=None, clock_dt=None):
        if clock_dt is None and list_no == 3:
            clock_dt = meter_clock(unix, deviation=self.clock_deviation or "zero", dow_sunday=0)
        elems = []
        if list_no != 1:
            elems.append(structure([obis("1-1:0.2.129.255"), visible_string("AIDON_V0001")]))
            elems.append(structure([obis("0-0:96.1.0.255"), visible_string(meter_id or self.meter_id)]))
            elems.append(structure([obis("0-0:96.1.7.255"), visible_string(meter_type or self.meter_type)]))
        for it in self.items(list_no, phases):
            if it.qty == "1.8.0":
                elems.append(structure([obis("0-0:1.0.0.255"), octet_string(clock_dt)]))
            elems.append(structure([obis(it.obis), integer(it.tag, raw[it.obis]), scaler_unit(it.scaler, it.unit)]))
        apdu = data_notification(0x40000000, array(elems))
        regs, units = self.describe(raw, list_no, phases)
        strings = {} if list_no == 1 else {"1-1:0.2.129": "AIDON_V0001", "0-0:96.1.0": meter_id or self.meter_id,
                                           "0-0:96.1.7": meter_type or self.meter_type}
        return Message(apdu, regs, units, strings, list_no, clock_dt.hex() if clock_dt else None)


class Kaifa(HanProfile):
    """Kaifa Norway (KFM_001, KFM items J-N): a structure of bare values, no
    OBIS, no scaler, header date-time 09 0C; list 1 = P+ (1 value), list 2 =
    version, id, type, P+ P- Q+ Q-, I1-3 (mA), U1-3 (0.1 V) (13), list 3 =
    list 2 + clock + energies in Wh (18).  Every number double-long-unsigned."""

    name = "han-kaifa"
    vendor = "Kaifa"
    line = "8E1"
    dst, src, control = b"\x01", b"\x02\x01", 0x10
    title_prefix = b"KFM"
    meter_type = "MA304H4"
    _L2 = [("1.7.0", T_U32, 0, "W"), ("2.7.0", T_U32, 0, "W"), ("3.7.0", T_U32, 0, "var"),
           ("4.7.0", T_U32, 0, "var"), ("31.7.0", T_U32, -3, "A"), ("51.7.0", T_U32, -3, "A"),
           ("71.7.0", T_U32, -3, "A"), ("32.7.0", T_U32, -1, "V"), ("52.7.0", T_U32, -1, "V"),
           ("72.7.0", T_U32, -1, "V")]
    _L3 = [("1.8.0", T_U32, 0, "Wh"), ("2.8.0", T_U32, 0, "Wh"), ("3.8.0", T_U32, 0, "varh"),
           ("4.8.0", T_U32, 0, "varh")]

    def items(self, list_no, phases=3):
        if list_no == 1:
            return _items(0, self._L2[:1])
        its = [it for it in _items(0, self._L2) if phases == 3 or it.phase == 1]
        return its + (_items(0, self._L3) if list_no == 3 else [])

    def encode(self, raw, list_no, unix, phases=3, meter_id=None, meter_type=None, clock_dt=None,
               version="KFM_001"):
        if clock_dt is None:
            clock_dt = meter_clock(unix, deviation="unspecified")
        elems = []
        if list_no != 1:
            elems += [octet_string(version.encode()), octet_string((meter_id or self.meter_id).encode()),
                      octet_string((meter_type or self.meter_type).encode())]
        for it in self.items(list_no, phases):
            if it.qty == "1.8.0":
                elems.append(octet_string(clock_dt))
            elems.append(integer(it.tag, raw[it.obis]))
        apdu = data_notification(0x40000000, structure(elems), clock_dt, DT_TAGGED)
        regs, units = self.describe(raw, list_no, phases)
        strings = {} if list_no == 1 else {"1-1:0.2.129": version, "0-0:96.1.0": meter_id or self.meter_id,
                                           "0-0:96.1.7": meter_type or self.meter_type}
        return Message(apdu, regs, units, strings, list_no, clock_dt.hex())


class Kamstrup(HanProfile):
    """Kamstrup HAN-NVE (Kamstrup_V0001, KAM-NVE 2.7-2.8): a structure whose
    element 0 is the list version without its OBIS, then {OBIS, value}
    pairs with B = 1 and no scalers (fixed: I 0.01 A, U 1 V, energy 10 Wh),
    header date-time 0C with deviation unspecified; list 1 = identity,
    P/Q, I, U (25 elements), list 2 = list 1 + clock + energies (35).
    2400 8N1."""

    name = "han-kamstrup"
    vendor = "Kamstrup"
    line = "8N1"
    lists = (1, 2)
    dst, src, control = b"\x2b", b"\x21", 0x13
    title_prefix = b"KAM"
    meter_type = "6841131BN243101040"
    _L1 = [("1.7.0", T_U32, 0, "W"), ("2.7.0", T_U32, 0, "W"), ("3.7.0", T_U32, 0, "var"),
           ("4.7.0", T_U32, 0, "var"), ("31.7.0", T_U32, -2, "A"), ("51.7.0", T_U32, -2, "A"),
           ("71.7.0", T_U32, -2, "A"), ("32.7.0", T_U16, 0, "V"), ("52.7.0", T_U16, 0, "V"),
           ("72.7.0", T_U16, 0, "V")]
    _L2 = [("1.8.0", T_U32, 1, "Wh"), ("2.8.0", T_U32, 1, "Wh"), ("3.8.0", T_U32, 1, "varh"),
           ("4.8.0", T_U32, 1, "varh")]
    # --han-energy-scaler: the power of ten the energy registers count in
    # (1: 10 Wh, the document; 0: Wh, Swedish firmware); never sent
    energy_scaler = 1

    def title(self):
        return b"KAME" + int(self.meter_id[-8:]).to_bytes(4, "big")

    def items(self, list_no, phases=3):
        its = [it for it in _items(1, self._L1) if phases == 3 or it.phase == 1]
        if phases == 1:  # the 1-phase 1-quadrant meter: P+, I1, U1 (KAM-NVE list 2 ex. 3)
            its = [it for it in its if it.qty in ("1.7.0", "31.7.0", "32.7.0")]
        extra = _items(1, [(q, t, self.energy_scaler, u) for q, t, _, u in self._L2]) if list_no == 2 else []
        if phases == 1:
            extra = extra[:1]
        return its + extra

    def encode(self, raw, list_no, unix, phases=3, meter_id=None, meter_type=None, clock_dt=None):
        if clock_dt is None:
            clock_dt = meter_clock(unix, deviation="unspecified")
        mid = meter_id or self.meter_id
        mtype = meter_type if meter_type is not None else self.meter_type
        elems = [visible_string("Kamstrup_V0001"), obis("1-1:0.0.5.255"), visible_string(mid),
                 obis("1-1:96.1.1.255"), visible_string(mtype)]
        for it in self.items(list_no, phases):
            if it.qty == "1.8.0":
                elems += [obis("0-1:1.0.0.255"), octet_string(clock_dt)]
            elems += [obis(it.obis), integer(it.tag, raw[it.obis])]
        apdu = data_notification(0, structure(elems), clock_dt, DT_PLAIN)
        regs, units = self.describe(raw, list_no, phases)
        strings = {"1-1:0.2.129": "Kamstrup_V0001", "1-1:0.0.5": mid, "1-1:96.1.1": mtype}
        return Message(apdu, regs, units, strings, list_no, clock_dt.hex())


class AustriaEvn(HanProfile):
    """Austria, Netz Niederoesterreich / EVN list (NOE pp.6-9; Kaifa MA309,
    Sagemcom T210-D): one flat structure of 35 elements: date-time, then
    11 triplets {OBIS, value, scaler_unit} (1.8.0, 2.8.0, 1.7.0, 2.7.0,
    U1-3 0.1 V, I1-3 0.01 A, power factor 0.001), then the meter number;
    header date-time 0C with the real deviation; always encrypted
    (general-glo-ciphering, SC 0x20, or 0x30 with an authentication key),
    in M-Bus long frames of at most 245 data bytes, every 5 s."""

    name = "han-austria"
    vendor = "Kaifa MA309 (Netz NOe / EVN)"
    line = "8E1"
    transport = "mbus"
    always_encrypted = True
    default_interval = 5.0
    lists = ("evn",)
    title_prefix = b"KFM"
    _LIST = [("1.8.0", T_U32, 0, "Wh"), ("2.8.0", T_U32, 0, "Wh"), ("1.7.0", T_U32, 0, "W"),
             ("2.7.0", T_U32, 0, "W"), ("32.7.0", T_U16, -1, "V"), ("52.7.0", T_U16, -1, "V"),
             ("72.7.0", T_U16, -1, "V"), ("31.7.0", T_U16, -2, "A"), ("51.7.0", T_U16, -2, "A"),
             ("71.7.0", T_U16, -2, "A"), ("13.7.0", T_U16, -3, "")]

    def __init__(self, rng, index=0):
        HanProfile.__init__(self, rng, index)
        self.meter_id = "%012d" % rng.randrange(10**11, 10**12)
        self.invoke = rng.randrange(1 << 24) | 0x80000000

    def title(self):
        return b"KFM" + int(self.meter_id[-10:]).to_bytes(5, "big")

    def items(self, list_no="evn", phases=3):
        return _items(0, self._LIST)

    def encode(self, raw, list_no, unix, phases=3, meter_id=None, clock_dt=None, invoke_id=None):
        if clock_dt is None:
            clock_dt = meter_clock(unix, deviation="local", hundredths=0)
        if invoke_id is None:
            invoke_id = self.invoke
            self.invoke = (self.invoke + 1) & 0xFFFFFFFF
        elems = [octet_string(clock_dt)]
        for it in self.items():
            elems += [obis(it.obis), integer(it.tag, raw[it.obis]), scaler_unit(it.scaler, it.unit or 255)]
        mid = meter_id or self.meter_id
        elems.append(octet_string(mid.encode()))
        apdu = data_notification(invoke_id, structure(elems), clock_dt, DT_PLAIN)
        regs, units = self.describe(raw, list_no, phases)
        return Message(apdu, regs, units, {"0-0:96.1.0": mid}, "evn", clock_dt.hex())


PROFILES = {p.name: p for p in (Aidon, Kaifa, Kamstrup, AustriaEvn)}


# --------------------------------------------------------------------------
# One simulated HAN meter: which list when, encryption, transport


def list_for(profile, choice, unix, interval_s):
    """The list to send at meter time `unix`: a fixed one, or with "auto"
    the longest list on the first message of every hour (the meters send it
    hourly, a few seconds past the hour) and the middle one otherwise."""
    lists = profile.lists
    if len(lists) == 1:
        return lists[0]
    if choice != "auto":
        return int(choice)
    if unix % 3600 < max(1, int(interval_s)):
        return lists[-1]
    return lists[-2]


class HanSource:
    """Turns model snapshots into wire bytes for one meter.  next(snapshot)
    returns (frames, message, info): the frames (HDLC frames or M-Bus
    segments) of one push message, in order."""

    def __init__(self, profile, list_choice="auto", key=None, auth_key=None, counter=1,
                 transport=None, segment=MBUS_MAX_DATA, gbt=None, interval_s=10.0, title=None):
        self.profile = profile
        self.list_choice = list_choice
        self.key = key
        self.auth_key = auth_key
        self.counter = counter
        self.transport = transport or profile.transport
        self.segment = segment
        self.gbt = gbt
        self.interval_s = interval_s
        self.title = title or profile.title()

    def next(self, s):
        p = self.profile
        list_no = list_for(p, self.list_choice, s["unix"], self.interval_s)
        msg = p.render(s, list_no)
        apdu = msg.apdu
        info = {"list": msg.list}
        if self.key is not None:
            sc = SC_GCM if self.auth_key is not None else SC_CTR_SUITE0
            apdu = glo_cipher(apdu, self.key, self.title, self.counter, sc, self.auth_key or b"")
            info.update(frame_counter=self.counter, security_control="%02X" % sc, system_title=self.title.hex())
            self.counter = (self.counter + 1) & 0xFFFFFFFF
        if self.transport == "mbus":
            frames = mbus_frames(apdu, self.segment)
        else:
            frames = hdlc_message(apdu, p.dst, p.src, p.control, self.gbt)
        return frames, msg, info


# --------------------------------------------------------------------------
# Faults on binary frames (see faults.py for the kinds and their rules)

# Noise never contains a byte that could start a frame for any protocol a
# reader may detect: HDLC flag 7E, M-Bus 68, DSMR '/' and '!', a bare DB
# envelope.
_NOISE_ALPHABET = bytes(b for b in range(256) if b not in (0x7E, 0x68, 0x2F, 0x21, 0xDB, 0xAF, 0xA1))


def noise(rng):
    return bytes(rng.choice(_NOISE_ALPHABET) for _ in range(rng.randint(1, 64)))


def _payload_span(frame):
    """(start, end) of the bytes a frame check covers and a flipped bit in
    them is sure to break: HDLC information field (HCS to FCS), M-Bus
    data (after DTSAP, before CS)."""
    if frame[0] == 0x7E:
        # 7E, format(2), addresses, control, HCS(2): find the end of the
        # addresses by their extension bits.
        pos = 3
        for _ in range(2):
            while not frame[pos] & 1:
                pos += 1
            pos += 1
        start = pos + 1 + 2
        return start, len(frame) - 3
    return 9, len(frame) - 2


def flip(frames, rng):
    """One bit of one byte of one frame's payload: a bad FCS (HDLC) or a bad
    checksum (M-Bus).  Returns (frames, detail) or (None, None)."""
    spans = [(i, _payload_span(f)) for i, f in enumerate(frames)]
    spans = [(i, a, b) for i, (a, b) in spans if b > a]
    if not spans:
        return None, None
    i, a, b = rng.choice(spans)
    pos, bit = rng.randrange(a, b), rng.randint(0, 7)
    f = bytearray(frames[i])
    f[pos] ^= 1 << bit
    out = list(frames)
    out[i] = bytes(f)
    return out, {"frame": i, "offset": pos, "bit": bit}


def badcrc(frames, rng):
    """A wrong FCS (HDLC) or checksum (M-Bus) on one frame."""
    i = rng.randrange(len(frames))
    f = bytearray(frames[i])
    if f[0] == 0x7E:
        old = f[-3] | f[-2] << 8
        new = old ^ rng.randint(1, 0xFFFF)
        f[-3], f[-2] = new & 0xFF, new >> 8
        detail = {"frame": i, "fcs": "%04X" % new}
    else:
        f[-2] ^= rng.randint(1, 0xFF)
        detail = {"frame": i, "checksum": "%02X" % f[-2]}
    out = list(frames)
    out[i] = bytes(f)
    return out, detail


def dropseg(frames, rng, first=True):
    """Leave out one frame of a message of several (an M-Bus segment or a
    block-transfer block); not applicable to a one-frame message.

    first=False: never the first frame.  The simulator passes it when the
    message before was not delivered whole: segment and block numbers
    restart with every message, so the first frames of that one and the
    rest of this one would look like one message, and no reader could tell
    (with encryption only, not even the cipher).  A reader must instead
    drop a partial message when a frame fails its check; those cases stay."""
    if len(frames) < 2:
        return None, None
    i = rng.randrange(len(frames)) if first else rng.randrange(1, len(frames))
    return frames[:i] + frames[i + 1:], {"dropped": i}


def cut(frames, rng):
    """Only a prefix of the message, without at least its last two bytes:
    an HDLC frame that lost only its closing flag is still whole, since the
    next message's opening flag may close it (one flag between frames)."""
    data = b"".join(frames)
    n = rng.randint(1, len(data) - 2)
    return [data[:n]], {"length": n, "of": len(data)}
