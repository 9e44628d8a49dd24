#!/usr/bin/env python3
"""Self-test of tools/dsmr-sim (TAP).  Runs the simulator as a user would (a
subprocess) and checks its output with code of its own: an independent
bitwise CRC-16/ARC, an independent framer, and the tz database (zoneinfo)
for the W/S flags and tariffs.  Exit status is non-zero if anything fails."""

import calendar
import datetime as dt
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "..", "tools", "dsmr-sim")
CORPUS = os.path.join(HERE, "corpus", "telegrams")
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

try:
    from zoneinfo import ZoneInfo

    AMS = ZoneInfo("Europe/Amsterdam")
except Exception:  # pragma: no cover - no tz database
    AMS = None

# --------------------------------------------------------------------------
# TAP
_n = 0
_failed = 0


def ok(cond, name, diag=None):
    global _n, _failed
    _n += 1
    if cond:
        print("ok %d - %s" % (_n, name))
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, name))
        if diag:
            for line in str(diag).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def skip(name, why):
    global _n
    _n += 1
    print("ok %d - %s # SKIP %s" % (_n, name, why))


# --------------------------------------------------------------------------
# independent helpers


def crc_arc_bitwise(data):
    """CRC-16/ARC straight from its definition: reflected poly 0xA001, init 0."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


# The same, a byte at a time (the bitwise form is too slow for thousands of
# telegrams); checked against the definition and the catalogue value below.
_CRC_TABLE = [crc_arc_bitwise(bytes([i])) for i in range(256)]


def crc_arc(data):
    crc = 0
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


FRAME = re.compile(rb"/[^/!]*!([0-9A-F]{4})?\r\n")


def frames(stream):
    """Split a byte stream like a careful reader: a frame runs from '/' to the
    next '!' (restarting at any '/' on the way), then CRC digits and CR LF.
    Returns [(frame bytes, crc_ok or None if the frame has no CRC)]."""
    out = []
    i = 0
    while True:
        start = stream.find(b"/", i)
        if start < 0:
            return out
        m = FRAME.match(stream, start)
        if not m:
            i = start + 1
            continue
        body = stream[start : m.start(1) if m.group(1) else m.end() - 2]
        crc = None
        if m.group(1):
            crc = crc_arc(body) == int(m.group(1), 16)
        out.append((m.group(0), crc))
        i = m.end()


LINE = re.compile(r"^(\d+-\d+:\d+\.\d+\.\d+)((?:\([^()]*\))+)$")


def parse(frame):
    """{obis: [group texts]} of one frame."""
    text = frame.decode("latin-1")
    objs = {}
    for line in text.split("\r\n")[2:]:
        m = LINE.match(line)
        if m:
            objs[m.group(1)] = re.findall(r"\(([^()]*)\)", m.group(2))
    return objs


def value(objs, obis):
    return objs[obis][0].split("*")[0]


def milli(text):
    """'000123.456' -> 123456 (exact)."""
    whole, _, frac = text.partition(".")
    return int(whole + frac)


def ams_stamp(unix):
    """YYMMDDhhmmssX from the tz database, for comparison."""
    local = dt.datetime.fromtimestamp(unix, AMS)
    flag = "S" if local.dst() else "W"
    return local.strftime("%y%m%d%H%M%S") + flag


def run(args, timeout=30, **kw):
    p = subprocess.run([sys.executable, SIM, "--quiet"] + args, capture_output=True, timeout=timeout, **kw)
    return p


def manifest(path):
    """The records of a manifest; a last line still being written (no
    newline yet) is left out."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]


def unix_of(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


TMP = tempfile.mkdtemp(prefix="test_sim.")


def tmp(name):
    return os.path.join(TMP, name)


# --------------------------------------------------------------------------
def test_crc_reference():
    ok(crc_arc_bitwise(b"123456789") == 0xBB3D and crc_arc(b"123456789") == 0xBB3D,
       "test's own CRC-16/ARC gives the catalogue check value 0xBB3D")
    blob = os.urandom(2000)
    ok(crc_arc(blob) == crc_arc_bitwise(blob), "test's table CRC equals its bitwise CRC")


def test_dsmr5_generation():
    # 400 telegrams 223 s apart: Friday 06:00 local to Saturday 06:50, so
    # night, day (solar), evening and weekend tariffs all occur, and the odd
    # step lands at every offset within the 5-minute gas periods.
    STEP = 223
    man = tmp("gen5.jsonl")
    n = 400
    p = run(["--generate", "dsmr5", "--count", str(n), "--rate", "0", "--seed", "11",
             "--start", "2024-01-12T05:00:07Z", "--interval", str(STEP), "--manifest", man])
    ok(p.returncode == 0, "dsmr5 flood run exits 0", p.stderr)
    fr = frames(p.stdout)
    ok(len(fr) == n, "dsmr5: %d frames in the stream" % n, len(fr))
    ok(all(c is True for _, c in fr), "dsmr5: every telegram passes an independent CRC-16/ARC")
    ok(b"".join(f for f, _ in fr) == p.stdout, "dsmr5: the stream is exactly the telegrams, nothing else")
    recs = manifest(man)
    ok([r["seq"] for r in recs] == list(range(1, n + 1)) and all(r["clean"] for r in recs),
       "dsmr5: manifest has seq 1..N, all clean")
    objs = [parse(f) for f, _ in fr]
    first = fr[0][0].decode()
    ok(first.startswith("/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0("), "dsmr5: header and version line")
    want = ["0-0:96.1.1", "1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2", "0-0:96.14.0", "1-0:1.7.0",
            "1-0:2.7.0", "0-0:96.7.21", "0-0:96.7.9", "1-0:99.97.0", "1-0:32.32.0", "1-0:72.36.0",
            "0-0:96.13.0", "1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0", "1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0",
            "1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0", "1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0",
            "0-1:24.1.0", "0-1:96.1.0", "0-1:24.2.1"]
    missing = [o for o in want if o not in objs[0]]
    ok(not missing, "dsmr5: all expected OBIS objects present", missing)
    fmt_ok = all(
        re.fullmatch(r"\d{6}\.\d{3}\*kWh", o["1-0:1.8.1"][0])
        and re.fullmatch(r"\d{2}\.\d{3}\*kW", o["1-0:21.7.0"][0])
        and re.fullmatch(r"\d{3}\.\d\*V", o["1-0:32.7.0"][0])
        and re.fullmatch(r"\d{3}\*A", o["1-0:31.7.0"][0])
        and re.fullmatch(r"\d{12}[WS]", o["0-0:1.0.0"][0])
        and re.fullmatch(r"(?:[0-9A-F]{2})+", o["0-0:96.1.1"][0])
        and o["0-1:24.1.0"] == ["003"]
        for o in objs)
    ok(fmt_ok, "dsmr5: value formats (kWh 6.3, kW 2.3, V 3.1, A 3, timestamp, hex id)")
    same = all(r["registers"][k] == value(o, k) for r, o in zip(recs, objs)
               for k in ("1-0:1.8.1", "1-0:2.8.2", "1-0:1.7.0", "1-0:32.7.0", "0-0:96.14.0"))
    ok(same, "dsmr5: manifest registers equal the telegrams' values")

    regs = ("1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2")
    mono = all(milli(value(b, k)) >= milli(value(a, k)) for a, b in zip(objs, objs[1:]) for k in regs)
    ok(mono, "dsmr5: energy registers never decrease")
    both = [i for i, o in enumerate(objs) if milli(value(o, "1-0:1.7.0")) and milli(value(o, "1-0:2.7.0"))]
    ok(not both, "dsmr5: import and export power never both non-zero", both[:5])
    phases = all(
        sum(milli(value(o, "1-0:%d.7.0" % c)) for c in (21, 41, 61))
        - sum(milli(value(o, "1-0:%d.7.0" % c)) for c in (22, 42, 62))
        == milli(value(o, "1-0:1.7.0")) - milli(value(o, "1-0:2.7.0"))
        for o in objs)
    ok(phases, "dsmr5: per-phase powers add up to the totals (W exact)")
    saw_export = any(milli(value(o, "1-0:2.7.0")) for o in objs)
    saw_import = any(milli(value(o, "1-0:1.7.0")) for o in objs)
    ok(saw_export and saw_import, "dsmr5: the day has both import and export (solar)")

    # Energy = power x time: the power in telegram i is the average over the
    # interval ending at i, charged to the tariff shown in telegram i.
    worst = 0.0
    for reg, pw, tariff in (("1-0:1.8.1", "1-0:1.7.0", 1), ("1-0:1.8.2", "1-0:1.7.0", 2),
                            ("1-0:2.8.1", "1-0:2.7.0", 1), ("1-0:2.8.2", "1-0:2.7.0", 2)):
        wh = 0.0
        for o in objs[1:]:
            if int(value(o, "0-0:96.14.0")) == tariff:
                wh += milli(value(o, pw)) * STEP / 3600.0
        delta = milli(value(objs[-1], reg)) - milli(value(objs[0], reg))
        worst = max(worst, abs(delta - wh))
    ok(worst < 1.0, "dsmr5: register deltas = sum(power x interval) within 1 Wh (worst %.3f)" % worst)

    if AMS is None:
        skip("dsmr5: timestamps and tariffs vs tz database", "no zoneinfo")
    else:
        t0 = unix_of("2024-01-12T05:00:07Z")
        stamps = all(value(o, "0-0:1.0.0") == ams_stamp(t0 + STEP * i) for i, o in enumerate(objs))
        ok(stamps, "dsmr5: 0-0:1.0.0 = Europe/Amsterdam wall time + W/S (tz database)")
        bad = []
        for i, o in enumerate(objs):
            local = dt.datetime.fromtimestamp(t0 + STEP * i, AMS)
            low = local.weekday() >= 5 or local.hour >= 23 or local.hour < 7
            if int(value(o, "0-0:96.14.0")) != (1 if low else 2):
                bad.append((i, local.isoformat()))
        ok(not bad and {value(o, "0-0:96.14.0") for o in objs} == {"0001", "0002"},
           "dsmr5: tariff 1 from 23:00 to 07:00 local, else 2 (both seen)", bad[:5])

    # Gas: capture time on the 5-minute boundary at or before the meter time;
    # the value changes only when the capture time does.
    gas_bad = []
    prev = None
    t0 = unix_of("2024-01-12T05:00:07Z")
    for i, o in enumerate(objs):
        ts, m3 = o["0-1:24.2.1"]
        t = t0 + STEP * i
        boundary = t - t % 300
        if AMS is not None and ts != ams_stamp(boundary):
            gas_bad.append(("time", i, ts))
        if not re.fullmatch(r"\d{5}\.\d{3}\*m3", m3):
            gas_bad.append(("fmt", i, m3))
        if prev is not None:
            if prev[0] == ts and prev[1] != m3:
                gas_bad.append(("changed within a period", i))
            if milli(m3.split("*")[0]) < milli(prev[1].split("*")[0]):
                gas_bad.append(("decreased", i))
        prev = (ts, m3)
    ok(not gas_bad, "dsmr5: gas capture time on 5-minute boundaries, value changes only there", gas_bad[:5])
    changes = sum(1 for a, b in zip(objs, objs[1:]) if a["0-1:24.2.1"][1] != b["0-1:24.2.1"][1])
    ok(changes > 3, "dsmr5: gas does advance (%d changes)" % changes)
    g = recs[-1]["gas"]
    ok(g and g["m3"] == objs[-1]["0-1:24.2.1"][1].split("*")[0] and g["time"].endswith("Z")
       and unix_of(g["time"]) % 300 == 0, "dsmr5: manifest gas {time, m3}")


def test_dst():
    if AMS is None:
        skip("DST flags", "no zoneinfo")
        return
    for start, expect in (
        ("2024-03-31T00:30:00Z", ["240331013000W", "240331014000W", "240331015000W",
                                   "240331030000S", "240331031000S", "240331032000S"]),
        ("2024-10-27T00:30:00Z", ["241027023000S", "241027024000S", "241027025000S",
                                   "241027020000W", "241027021000W", "241027022000W"]),
    ):
        p = run(["--count", "6", "--rate", "0", "--seed", "1", "--start", start, "--interval", "600"])
        got = [value(parse(f), "0-0:1.0.0") for f, _ in frames(p.stdout)]
        ok(got == expect, "DST change at %s: W/S flags and wall time" % start, got)
        gas = [parse(f)["0-1:24.2.1"][0] for f, _ in frames(p.stdout)]
        ok(gas == expect, "DST change at %s: gas capture stamps follow (interval = 2 periods)" % start, gas)
    # A long run across both changes against the tz database.
    p = run(["--generate", "dsmr4", "--count", "400", "--rate", "0", "--seed", "1",
             "--start", "2023-01-01T00:00:00Z", "--interval", "80107"])
    t0 = unix_of("2023-01-01T00:00:00Z")
    bad = [i for i, (f, _) in enumerate(frames(p.stdout))
           if value(parse(f), "0-0:1.0.0") != ams_stamp(t0 + 80107 * i)]
    ok(not bad, "a year of timestamps agrees with the tz database", bad[:5])


def test_unique():
    man = tmp("uniq.jsonl")
    p = run(["--unique", "--count", "300", "--rate", "0", "--seed", "5", "--start", "2024-06-01T01:00:00Z",
             "--manifest", man])
    objs = [parse(f) for f, _ in frames(p.stdout)]
    regs = ("1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2")
    bad = [(i, k) for i, (a, b) in enumerate(zip(objs, objs[1:])) for k in regs
           if milli(value(b, k)) - milli(value(a, k)) < 1]
    ok(len(objs) == 300 and not bad, "--unique: every energy register grows >= 0.001 kWh per telegram", bad[:5])
    tuples = {tuple(value(o, k) for k in regs) for o in objs}
    ok(len(tuples) == 300, "--unique: no two telegrams share register values")
    recs = manifest(man)
    ok(len({r["registers"]["1-0:1.8.1"] for r in recs}) == 300, "--unique: manifest agrees")


def test_dsmr4_dsmr22():
    p = run(["--generate", "dsmr4", "--count", "200", "--rate", "0", "--seed", "3",
             "--start", "2024-02-01T10:00:05Z", "--interval", "37"])
    fr = frames(p.stdout)
    ok(len(fr) == 200 and all(c is True for _, c in fr), "dsmr4: 200 telegrams, CRCs right")
    o = parse(fr[0][0])
    ok(value(o, "1-3:0.2.8") == "42" and "1-0:32.7.0" not in o and o["0-1:24.4.0"] == ["1"],
       "dsmr4: version 42, no voltage (as DSMR 4.2.2), valve line")
    order = [ln.split("(")[0] for ln in fr[0][0].decode().split("\r\n") if ln.startswith("1-0:") and ".8." in ln]
    ok(order == ["1-0:1.8.1", "1-0:2.8.1", "1-0:1.8.2", "1-0:2.8.2"], "dsmr4: Landis+Gyr register order", order)
    t0 = unix_of("2024-02-01T10:00:05Z")
    bad = []
    for i, (f, _) in enumerate(fr):
        ts = parse(f)["0-1:24.2.1"][0]
        t = t0 + 37 * i
        if AMS is not None and ts != ams_stamp(t - t % 3600):
            bad.append((i, ts))
    hours = {parse(f)["0-1:24.2.1"][0] for f, _ in fr}
    ok(not bad and len(hours) == 3, "dsmr4: gas captured hourly, stamp on the hour", bad[:3])

    p = run(["--generate", "dsmr22", "--count", "50", "--rate", "0", "--seed", "3",
             "--start", "2024-02-01T10:00:05Z"])
    fr = frames(p.stdout)
    ok(len(fr) == 50 and all(c is None for _, c in fr), "dsmr22: 50 telegrams ending '!' CR LF, no CRC")
    text = fr[0][0].decode()
    ok(text.startswith("/ISk5\\2MT382-1003\r\n\r\n0-0:96.1.1(") and "0.2.8" not in text and "0-0:1.0.0" not in text,
       "dsmr22: header, no version or clock line")
    ok(re.search(r"\r\n0-1:24\.3\.0\(\d{12}\)\(00\)\(60\)\(1\)\(0-1:24\.2\.1\)\(m3\)\r\n\(\d{5}\.\d{3}\)\r\n", text)
       is not None, "dsmr22: gas as 24.3.0 + value on the next line", text[-200:])
    o = parse(fr[0][0])
    ok(re.fullmatch(r"\d{5}\.\d{3}\*kWh", o["1-0:1.8.1"][0]) and re.fullmatch(r"\d{4}\.\d{2}\*kW", o["1-0:1.7.0"][0]),
       "dsmr22: kWh 5.3 and kW 4.2 formats")


def test_faults():
    man = tmp("faults.jsonl")
    n = 400
    p = run(["--count", str(n), "--rate", "0", "--seed", "7", "--start", "2024-05-05T12:00:00Z",
             "--faults", "flip=0.15,cut=0.15,badcrc=0.15,noise=0.2", "--manifest", man])
    recs = manifest(man)
    kinds = {r["fault"] for r in recs}
    ok(len(recs) == n and kinds == {None, "flip", "cut", "badcrc"} and any(r["noise_before"] for r in recs),
       "faults: manifest shows flip, cut, badcrc and noise", kinds)
    ok(all(r["clean"] == (r["fault"] is None) for r in recs), "faults: clean == no damage (noise is not damage)")
    good = [parse(f) for f, c in frames(p.stdout) if c]
    clean = [r for r in recs if r["clean"]]
    same = len(good) == len(clean) and all(
        value(o, "0-0:1.0.0") == r["registers"]["0-0:1.0.0"] and value(o, "1-0:1.8.2") == r["registers"]["1-0:1.8.2"]
        for o, r in zip(good, clean))
    ok(same, "faults: the telegrams that pass CRC are exactly the clean ones, in order",
       "%d valid frames, %d clean" % (len(good), len(clean)))
    ok(any(r["noise_before"] and r["clean"] for r in recs), "faults: a telegram after noise is still clean")
    # Each damaged telegram really fails: its meter time never shows up valid.
    valid_times = {value(o, "0-0:1.0.0") for o in good}
    leaked = [r["seq"] for r in recs if not r["clean"] and r["registers"]["0-0:1.0.0"] in valid_times]
    ok(not leaked, "faults: no damaged telegram passes a CRC check", leaked[:5])
    badcrc = [f for f, c in frames(p.stdout) if c is False]
    ok(len(badcrc) >= sum(1 for r in recs if r["fault"] == "badcrc"),
       "faults: flipped and bad-CRC telegrams are complete frames with a wrong CRC")
    cuts = [r for r in recs if r["fault"] == "cut"]
    full = min(r["bytes"] for r in recs if r["clean"] and not r["noise_before"])
    ok(cuts and all(r["detail"]["length"] < full and r["bytes"] == r["detail"]["length"] + (
        r["bytes"] - r["detail"]["length"]) for r in cuts),
       "faults: cut telegrams are short, with their length in the manifest")


def test_determinism_and_parity():
    base = ["--count", "20", "--rate", "0", "--start", "2024-08-01T12:00:00Z", "--faults", "flip=0.3"]
    plain = run(base + ["--seed", "42"]).stdout
    odd = run(base + ["--seed", "42", "--baud-bits", "7e1"]).stdout
    other = run(base + ["--seed", "43"]).stdout
    even = all(bin(x).count("1") % 2 == 0 for x in odd)
    ok(even and any(x & 0x80 for x in odd), "--baud-bits 7e1: every byte has even parity in bit 7")
    ok(bytes(x & 0x7F for x in odd) == plain and len(plain) > 10000,
       "same seed and start give the same telegrams and faults (7e1 masked == 8n1)")
    ok(other != plain, "another seed gives other telegrams")


def test_smarty():
    key = bytes(range(16))
    p = run(["--generate", "smarty", "--count", "3", "--rate", "0", "--seed", "9", "--smarty-key", key.hex(),
             "--start", "2024-09-01T08:00:00Z", "--smarty-counter", "77"])
    data = p.stdout
    frames_ok = []
    pos = 0
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except Exception:
        AESGCM = None
    from dsmrsim import aesgcm  # the simulator's own, checked against NIST first

    k = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
    pt = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532f"
                       "cf0e2449a6b525b16aedf5aa0de657ba637b39")
    ct, tag = aesgcm.gcm_encrypt(k, bytes.fromhex("cafebabefacedbaddecaf888"), pt,
                                 bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"))
    ok(ct.hex().startswith("42831ec2217774244b7221b784d0d49c") and ct.hex().endswith("3d58e091")
       and tag.hex() == "5bc94fbc3221a5db94fae95ae7121a47", "AES-128-GCM matches NIST SP 800-38D test case 4")
    counters = []
    while pos < len(data):
        if data[pos:pos + 2] != b"\xdb\x08":
            break
        title = data[pos + 2:pos + 10]
        if data[pos + 10] != 0x82:
            break
        length = int.from_bytes(data[pos + 11:pos + 13], "big")
        if data[pos + 13] != 0x30:
            break
        fc = data[pos + 14:pos + 18]
        counters.append(int.from_bytes(fc, "big"))
        body = data[pos + 18:pos + 13 + length]
        ct, tag = body[:-12], body[-12:]
        aad = b"\x30" + bytes.fromhex("00112233445566778899AABBCCDDEEFF")
        if AESGCM is not None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _A
            # cryptography wants a 16-byte tag; verify the 12-byte one via
            # the full tag recomputed from the plaintext below.
            full = _A(key).encrypt(title + fc, b"\0" * len(ct), aad)  # keystream
            plain = bytes(x ^ y for x, y in zip(ct, full[:len(ct)]))
            check = _A(key).encrypt(title + fc, plain, aad)
            good_tag = check[len(ct):len(ct) + 12] == tag
        else:
            ks, _ = aesgcm.gcm_encrypt(key, title + fc, b"\0" * len(ct), aad)
            plain = bytes(x ^ y for x, y in zip(ct, ks))
            good_tag = aesgcm.gcm_encrypt(key, title + fc, plain, aad, 12)[1] == tag
        fr = frames(plain)
        frames_ok.append(good_tag and len(fr) == 1 and fr[0][1] is True and fr[0][0] == plain)
        pos += 13 + length
    ok(len(frames_ok) == 3 and all(frames_ok) and pos == len(data),
       "smarty: 3 frames DB 08 title 82 len 30 fc ct tag; tag right, plaintext a valid telegram%s"
       % ("" if AESGCM else " (own GCM)"))
    ok(counters == [77, 78, 79], "smarty: frame counter increments", counters)
    p = run(["--generate", "smarty", "--smarty-plain", "--count", "2", "--rate", "0", "--seed", "9",
             "--start", "2024-09-01T08:00:00Z"])
    fr = frames(p.stdout)
    o = parse(fr[0][0]) if fr else {}
    ok(len(fr) == 2 and all(c for _, c in fr) and "1-0:1.8.0" in o and "1-0:3.8.0" in o
       and fr[0][0].startswith(b"/Lux5\\"), "smarty --smarty-plain: Lux telegram with totals and reactive energy")


def test_play():
    files = [os.path.join(CORPUS, f) for f in ("ndokter_v5.p1", "ndokter_v2_2.p1")]
    if not all(os.path.exists(f) for f in files):
        skip("--play", "corpus missing")
        return
    man = tmp("play.jsonl")
    p = run(["--play"] + files + ["--count", "5", "--rate", "0", "--manifest", man])
    blobs = [open(f, "rb").read() for f in files]
    ok(p.stdout == blobs[0] + blobs[1] + blobs[0] + blobs[1] + blobs[0], "--play: byte-exact, cycling")
    recs = manifest(man)
    ok([r["file"] for r in recs[:2]] == ["ndokter_v5.p1", "ndokter_v2_2.p1"]
       and recs[0]["registers"]["1-0:1.8.1"] == "000004.426" and recs[0]["meter_time"] == "2017-01-02T18:20:02Z"
       and recs[0]["gas"]["m3"] == "00000.107" and recs[1]["crc"] is None,
       "--play: manifest reads registers, meter time and gas from the file")


def _read_frames(fd_read, want, timeout):
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline and len([c for _, c in frames(buf)]) < want:
        r, _, _ = select.select([fd_read], [], [], 0.2)
        if r:
            try:
                chunk = fd_read.recv(4096) if isinstance(fd_read, socket.socket) else os.read(fd_read, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def _start(args):
    return subprocess.Popen([sys.executable, SIM, "--quiet"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_pty():
    link = tmp("ttyP1")
    man = tmp("pty.jsonl")
    proc = _start(["--pty", link, "--rate", "40", "--count", "40", "--manifest", man, "--seed", "1"])
    line = proc.stdout.readline().strip()
    m = re.fullmatch(r"pty (\S+) -> (/dev/pts/\d+)", line)
    ok(m and m.group(1) == link and os.path.realpath(link) == m.group(2), "pty: announces 'pty PATH -> /dev/pts/N'",
       line)
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would drop what already arrived
    buf = _read_frames(fd, 3, 5)
    fr = frames(buf)
    ok(len(fr) >= 3 and all(c for _, c in fr), "pty: a reader of the symlink gets valid telegrams", len(fr))
    first = fr[0][0] if fr else b""
    ok(buf.startswith(first) and first.startswith(b"/ISK5"), "pty: the reader starts at a telegram boundary, no stale data")
    os.close(fd)
    rc = proc.wait(10)
    recs = manifest(man)
    ok(rc == 0 and len(recs) == 40 and not os.path.lexists(link), "pty: after --count exits 0 and removes the symlink")
    ok(any(r["delivered"] for r in recs) and not all(r["delivered"] for r in recs),
       "pty: manifest says which telegrams had a reader")

    # a reader that leaves with unread telegrams must not hand them to the next
    man = tmp("stale.jsonl")
    proc = _start(["--pty", link, "--rate", "40", "--count", "60", "--manifest", man, "--seed", "1",
                   "--start", "2024-01-01T00:00:00Z"])
    proc.stdout.readline()
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    time.sleep(0.4)  # ~16 telegrams pile up unread
    os.close(fd)
    seq_gone = manifest(man)[-1]["seq"]
    time.sleep(0.2)
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    buf = _read_frames(fd, 1, 5)
    os.close(fd)
    proc.wait(10)
    fr = frames(buf)
    recs = {r["registers"]["0-0:1.0.0"]: r for r in manifest(man)}
    first = recs.get(value(parse(fr[0][0]), "0-0:1.0.0")) if fr else None
    ok(first is not None and first["seq"] > seq_gone and buf.startswith(fr[0][0]),
       "pty: unread telegrams of a reader that left are not handed to the next one",
       (seq_gone, first and first["seq"]))

    # disconnect: the device goes and comes back behind the same link
    proc = _start(["--pty", link, "--rate", "10", "--faults", "disconnect=1", "--disconnect-pause", "0.3",
                   "--seed", "1", "--wait", "--count", "3"])
    line = proc.stdout.readline()
    fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    buf = b""
    eof = False
    deadline = time.time() + 5
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            buf += chunk
    os.close(fd)
    again = proc.stdout.readline()
    ok(eof and len(frames(buf)) == 1 and again.startswith("pty " + link + " -> "),
       "pty disconnect: reader gets one telegram then hang-up; a new pty appears behind the link",
       (eof, len(frames(buf)), again))
    proc.stdout.read()
    ok(proc.wait(10) == 0, "pty disconnect run exits 0")

    # SIGTERM: clean exit, symlink removed
    proc = _start(["--pty", link])
    proc.stdout.readline()
    existed = os.path.islink(link)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(5)
    ok(existed and rc == 0 and not os.path.lexists(link), "pty: SIGTERM exits 0 and removes the symlink")


def test_tcp():
    man = tmp("tcp.jsonl")
    proc = _start(["--tcp", "0", "--meters", "2", "--rate", "40", "--count", "40", "--manifest", man, "--seed", "2"])
    ports = []
    for _ in range(2):
        m = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", proc.stdout.readline().strip())
        ports.append(int(m.group(1)) if m else None)
    ok(None not in ports and len(set(ports)) == 2, "tcp: two meters announce two ports", ports)
    socks = [socket.create_connection(("127.0.0.1", p)) for p in ports]
    bufs = [_read_frames(s, 3, 5) for s in socks]
    frs = [frames(b) for b in bufs]
    ok(all(len(f) >= 3 and all(c for _, c in f) for f in frs), "tcp: each client gets valid telegrams")
    ids = [value(parse(f[0][0]), "0-0:96.1.1") if f else None for f in frs]
    ok(ids[0] != ids[1], "tcp: the meters have different serials")
    ok(all(b.startswith(b"/") for b in bufs), "tcp: a client starts at a telegram boundary")
    rest = [b"", b""]
    for i, s in enumerate(socks):
        s.settimeout(10)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest[i] += chunk
        s.close()
    rc = proc.wait(10)
    recs = manifest(man)
    ok(rc == 0 and len(recs) == 80 and {r["port"] for r in recs} == set(ports),
       "tcp: after --count: clean close, manifest has both ports")
    last = [r for r in recs if r["port"] == ports[0]][-1]
    got_last = frames(bufs[0] + rest[0])[-1][0]
    ok(value(parse(got_last), "1-0:1.8.1") == last["registers"]["1-0:1.8.1"] and last["clients"] == 1,
       "tcp: the client received up to the last telegram before the close")

    # disconnect closes clients, the server keeps listening
    man = tmp("tcpd.jsonl")
    proc = _start(["--tcp", "0", "--rate", "40", "--faults", "disconnect=0.25", "--seed", "4", "--count", "40",
                   "--manifest", man])
    port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(10)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    s2 = socket.create_connection(("127.0.0.1", port))
    more = _read_frames(s2, 1, 5)
    s2.close()
    proc.wait(10)
    recs = manifest(man)
    got = frames(data)
    ok(got and all(c for _, c in got) and any(r["disconnect_after"] for r in recs)
       and frames(more), "tcp disconnect: client closed after whole telegrams, reconnect works")
    if got:
        ts = value(parse(got[-1][0]), "0-0:1.0.0")
        rec = [r for r in recs if r["registers"]["0-0:1.0.0"] == ts]
        ok(rec and rec[0]["disconnect_after"], "tcp disconnect: the last telegram before EOF is marked disconnect_after")


def test_realtime_and_errors():
    # Timed from the first telegram's arrival to the end of the output (4
    # gaps of 0.25 s), so Python's start-up does not count.
    p = subprocess.Popen([sys.executable, SIM, "--quiet", "--count", "5", "--interval", "0.25",
                          "--start", "2024-01-01T00:00:00Z"], stdout=subprocess.PIPE)
    out = p.stdout.read(1)
    t = time.monotonic()
    out += p.stdout.read()
    el = time.monotonic() - t
    rc = p.wait(30)
    ok(rc == 0 and len(frames(out)) == 5 and 0.9 < el < 2.5,
       "real pace: 5 telegrams at --interval 0.25 take about 1 s after the first (%.2f s)" % el)
    for bad in (["--faults", "flip=0.7,cut=0.7"], ["--meters", "2"], ["--start", "yesterday"],
                ["--interval", "0"]):
        p = run(bad + ["--count", "1"])
        ok(p.returncode == 2 and p.stderr, "rejects %s with a message" % " ".join(bad))


# --------------------------------------------------------------------------
# Binary HAN meters (tools/dsmrsim/han.py).  The public frames are the
# arbiter: the encoder must reproduce them byte for byte.  The stream checks
# use a reader of the test's own (bitwise CRC-16/X.25, HDLC and M-Bus
# framing, A-XDR walker, vendor scalers from the vendor documents).

HAN_CORPUS = os.path.join(HERE, "corpus", "han", "sim", "frames.json")


def crc_x25_bitwise(data):
    """CRC-16/X.25 from its definition: reflected poly 0x8408, init/xorout 0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def hdlc_read(stream, failures=False):
    """Careful HDLC type 3 reader: a frame is 7E, length from the format
    field, HCS and FCS right, closing 7E; anything else: resynchronise at the
    next 7E.  Returns [(info, dst, src, control, start offset)], with
    failures=True also None for every flag that did not start a good frame."""
    out, i = [], 0
    while True:
        i = stream.find(b"\x7e", i)
        if i < 0 or i + 3 > len(stream):
            return out
        fmt = stream[i + 1] << 8 | stream[i + 2]
        n = fmt & 0x7FF
        frame = stream[i + 1:i + 1 + n]
        if fmt & 0xF000 != 0xA000 or n < 7 or len(frame) < n or stream[i + 1 + n:i + 2 + n] != b"\x7e":
            if failures and i + 1 < len(stream) and stream[i + 1] != 0x7E:
                out.append(None)
            i += 1
            continue
        pos = 2
        addrs = []
        for _ in range(2):
            start = pos
            while pos < n and not frame[pos] & 1:
                pos += 1
            pos += 1
            addrs.append(frame[start:pos])
        control = frame[pos]
        pos += 1
        good = crc_x25_bitwise(frame[:-2]) == frame[-2] | frame[-1] << 8
        if pos + 2 < n - 2:
            good = good and crc_x25_bitwise(frame[:pos]) == frame[pos] | frame[pos + 1] << 8
            info = frame[pos + 2:-2]
        else:
            info = b""
        if not good:
            if failures:
                out.append(None)
            i += 1
            continue
        out.append((info, addrs[0], addrs[1], control, i))
        i += n + 2


def mbus_read(stream):
    """M-Bus long frames 68 L L 68 ... CS 16 (checksum right), reassembled by
    CI: segments 0, 1, ... the last with FIN; a gap, a stray segment or a
    frame that fails its check drops the message.  Returns [(apdu, number of
    segments)]."""
    out, i, parts = [], 0, []
    while True:
        i = stream.find(b"\x68", i)
        if i < 0 or i + 6 > len(stream):
            return out
        n = stream[i + 1]
        body = stream[i + 4:i + 4 + n]
        if (stream[i + 2] != n or stream[i + 3] != 0x68 or len(body) < n or n < 5
                or stream[i + 4 + n:i + 6 + n] != bytes([sum(body) & 0xFF, 0x16])):
            parts = []
            i += 1
            continue
        ci = body[2]
        if ci & 0x0F != len(parts):
            parts = []
            if ci & 0x0F != 0:
                i += 6 + n
                continue
        parts.append(body[5:])
        if ci & 0x10:
            out.append((b"".join(parts), len(parts)))
            parts = []
        i += 6 + n


_INTS = {0x0F: (1, True), 0x10: (2, True), 0x05: (4, True), 0x14: (8, True), 0x11: (1, False),
         0x12: (2, False), 0x06: (4, False), 0x15: (8, False), 0x16: (1, False)}


def axdr(data, pos=0):
    """(value, next pos): lists for array/structure, bytes for octet-string,
    str for visible-string, int for the integers and enum."""
    tag = data[pos]
    pos += 1
    if tag in (0x01, 0x02, 0x09, 0x0A):
        n = data[pos]
        pos += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[pos:pos + k], "big")
            pos += k
        if tag in (0x09, 0x0A):
            v = data[pos:pos + n]
            if len(v) != n:
                raise ValueError("string cut")
            return (v.decode("ascii") if tag == 0x0A else v), pos + n
        items = []
        for _ in range(n):
            v, pos = axdr(data, pos)
            items.append(v)
        return items, pos
    if tag in _INTS:
        size, signed = _INTS[tag]
        return int.from_bytes(data[pos:pos + size], "big", signed=signed), pos + size
    raise ValueError("A-XDR tag %02X at %d" % (tag, pos - 1))


def notification(apdu):
    """(invoke id, header date-time bytes or None, body) of a 0F APDU."""
    if apdu[0] != 0x0F:
        raise ValueError("not a data-notification: %02X" % apdu[0])
    invoke = int.from_bytes(apdu[1:5], "big")
    pos = 5
    if apdu[pos] == 0x00:
        dt_bytes, pos = None, pos + 1
    elif apdu[pos] == 0x0C:
        dt_bytes, pos = apdu[pos + 1:pos + 13], pos + 13
    elif apdu[pos:pos + 2] == b"\x09\x0c":
        dt_bytes, pos = apdu[pos + 2:pos + 14], pos + 14
    else:
        raise ValueError("date-time form %02X" % apdu[pos])
    body, end = axdr(apdu, pos)
    if end != len(apdu):
        raise ValueError("%d bytes after the body" % (len(apdu) - end))
    return invoke, dt_bytes, body


def _obis(b):
    text = "%d-%d:%d.%d.%d" % tuple(b[:5])
    return text if b[5] == 255 else text + ".%d" % b[5]


def _dec(raw, scaler):
    from decimal import Decimal
    return Decimal(raw).scaleb(scaler)


# Fixed scalers from the vendor documents for the lists without scaler_unit.
_KAIFA_ORDER = ["1.7.0", "2.7.0", "3.7.0", "4.7.0", "31.7.0", "51.7.0", "71.7.0", "32.7.0", "52.7.0", "72.7.0"]
_KAIFA_SCALER = {"31.7.0": -3, "51.7.0": -3, "71.7.0": -3, "32.7.0": -1, "52.7.0": -1, "72.7.0": -1}
_KAMSTRUP_SCALER = {"31.7.0": -2, "51.7.0": -2, "71.7.0": -2, "1.8.0": 1, "2.8.0": 1, "3.8.0": 1, "4.8.0": 1}


def han_decode(vendor, apdu):
    """{OBIS: Decimal}, {OBIS: str}, clock bytes or None, header date-time."""
    invoke, hdr, body = notification(apdu)
    values, strings, clock_dt = {}, {}, None
    if vendor == "han-aidon":
        for el in body:
            key = _obis(el[0])
            if len(el) == 3:
                values[key] = _dec(el[1], el[2][0])
            elif key == "0-0:1.0.0":
                clock_dt = el[1]
            else:
                strings[key] = el[1]
    elif vendor == "han-kaifa":
        if len(body) == 1:
            values["1-0:1.7.0"] = _dec(body[0], 0)
        else:
            strings.update({"1-1:0.2.129": body[0].decode(), "0-0:96.1.0": body[1].decode(),
                            "0-0:96.1.7": body[2].decode()})
            for qty, v in zip(_KAIFA_ORDER, body[3:13]):
                values["1-0:" + qty] = _dec(v, _KAIFA_SCALER.get(qty, 0))
            if len(body) == 18:
                clock_dt = body[13]
                for qty, v in zip(("1.8.0", "2.8.0", "3.8.0", "4.8.0"), body[14:]):
                    values["1-0:" + qty] = _dec(v, 0)
    elif vendor == "han-kamstrup":
        strings["1-1:0.2.129"] = body[0]
        for k in range(1, len(body), 2):
            key = _obis(body[k])
            v = body[k + 1]
            if key == "0-1:1.0.0":
                clock_dt = v
            elif isinstance(v, (str, bytes)):
                strings[key] = v
            else:
                qty = key.split(":")[1]
                values[key] = _dec(v, _KAMSTRUP_SCALER.get(qty, 0))
    elif vendor == "han-austria":
        clock_dt = body[0]
        for k in range(1, len(body) - 1, 3):
            values[_obis(body[k])] = _dec(body[k + 1], body[k + 2][0])
        strings["0-0:96.1.0"] = body[-1].decode()
    return values, strings, clock_dt, hdr


def _public():
    with open(HAN_CORPUS) as f:
        return {e["id"]: e for e in json.load(f)}


def _dt_fields(iso, dow, hundredths=0xFF, deviation=-0x8000, status=0):
    from dsmrsim import han
    t = dt.datetime.fromisoformat(iso[:19])
    return han.date_time(t.year, t.month, t.day, dow, t.hour, t.minute, t.second, hundredths, deviation, status)


def test_han_public_frames():
    from decimal import Decimal
    from dsmrsim import han

    ok(crc_x25_bitwise(b"123456789") == 0x906E and han.crc16_x25(b"123456789") == 0x906E
       and han.crc16_x25(b"\x03\x3f") == 0xEC5B,
       "CRC-16/X.25: check value 906E and the Green Book test sequence 7E 03 3F 5B EC 7E")
    blob = bytes(range(256)) * 3
    ok(han.crc16_x25(blob) == crc_x25_bitwise(blob), "CRC-16/X.25: table form equals the bitwise definition")
    ok(han.length(0x7F) == b"\x7f" and han.length(0x80) == b"\x81\x80" and han.length(0xF8) == b"\x81\xf8"
       and han.length(0x109) == b"\x82\x01\x09", "A-XDR lengths: 1 byte, 81 xx, 82 xx xx")
    pub = _public()

    def raw_of(prof, e, list_no, phases):
        exp = {x["obis"]: x for x in e["expected"] if x["obis"]}
        raw = {}
        for it in prof.items(list_no, phases):
            x = exp[it.obis]
            raw[it.obis] = int(x["raw"]) if "raw" in x else int(Decimal(str(x["value"])).scaleb(-it.scaler))
        return raw, {k: x["value"] for k, x in exp.items()}

    import random
    cases = [  # id, profile, list, phases, clock dow, clock status, source address
        ("aidon-no-list1-amshan-0x7d", han.Aidon, 1, 3, None, 0, None),
        ("aidon-no-list2-1p-vendor-doc", han.Aidon, 2, 1, None, 0, None),
        ("aidon-no-gh1119-1", han.Aidon, 3, 3, 0, 0, None),  # Sunday = 0, deviation 0
        ("kaifa-no-list1-amshan-0x7e", han.Kaifa, 1, 3, 6, 0, None),
        ("kaifa-no-list2-roarfred", han.Kaifa, 2, 3, 4, 0, None),
        ("kaifa-no-gh180-2", han.Kaifa, 2, 3, 7, 0, None),
        ("kaifa-se-list2-u9n", han.Kaifa, 3, 3, 1, 0, b"\x00\x01"),
        ("kamstrup-no-vendor-doc-ex1", han.Kamstrup, 1, 3, 6, 1, None),
        ("kamstrup-no-vendor-doc-ex2", han.Kamstrup, 2, 3, 3, 0, None),
        ("kamstrup-no-vendor-doc-ex3", han.Kamstrup, 2, 1, 3, 0, None),
        ("kamstrup-no-list2-em001-1", han.Kamstrup, 2, 3, 4, 0, None),
        ("kamstrup-se-list1-amshan", han.Kamstrup, 1, 3, 1, 0, None),
    ]
    for vid, cls, list_no, phases, dow, status, src in cases:
        e = pub[vid]
        prof = cls(random.Random(1))
        raw, s = raw_of(prof, e, list_no, phases)
        kw = {"phases": phases}
        if cls is han.Aidon:
            if list_no != 1:
                kw.update(meter_id=s["0-0:96.1.0.255"], meter_type=s["0-0:96.1.7.255"])
            if list_no == 3:
                kw["clock_dt"] = _dt_fields(s["0-0:1.0.0.255"], dow, deviation=0, status=status)
        else:
            kw["clock_dt"] = _dt_fields(e["checks"]["datetime_header"], dow, status=status)
            if cls is han.Kaifa and list_no != 1:
                kw.update(meter_id=s["0-0:96.1.0.255"], meter_type=s["0-0:96.1.7.255"])
            if cls is han.Kamstrup:
                kw.update(meter_id=s["1-1:0.0.5.255"], meter_type=s["1-1:96.1.1.255"])
        msg = prof.encode(raw, list_no, 0, **kw)
        got = han.hdlc_message(msg.apdu, prof.dst, src or prof.src, prof.control)
        want = bytes.fromhex(e["frame_hex"])
        ok(got == [want], "public frame %s: encoder reproduces it byte for byte from its values" % vid,
           "got  %s\nwant %s" % (b"".join(got).hex(), want.hex()))
        exp = {x["obis"]: x for x in e["expected"] if x["obis"] and x["unit"] is not None}
        same = all(Decimal(msg.registers[k.rsplit(".", 1)[0]]) == Decimal(str(exp[k]["value"]))
                   and msg.units[k.rsplit(".", 1)[0]] == exp[k]["unit"] for k in exp)
        ok(same and len(msg.registers) == len(exp), "public frame %s: the message's decoded values are the "
           "published ones" % vid, (msg.registers, exp))

    # Austria (Netz NOe / EVN): the list from its values, then CTR (SC 0x20)
    # and two M-Bus segments: the published wire bytes.
    e = pub["kaifa-at-evn-netznoe-doc"]
    c = e["checks"]
    prof = han.AustriaEvn(random.Random(1))
    raw, s = raw_of(prof, e, "evn", 3)
    msg = prof.encode(raw, "evn", 0, meter_id="181220000009", invoke_id=int(c["invoke_id_and_priority"], 16),
                      clock_dt=_dt_fields(c["datetime_header"], 1, 0, -120, 0x80))
    ok(msg.apdu.hex() == c["plaintext_apdu_hex"], "public EVN message: the 35-element list from its values")
    key = bytes.fromhex(e["key_hex"])
    env = han.glo_cipher(msg.apdu, key, bytes.fromhex(c["system_title"]), int(c["frame_counter"], 16), 0x20)
    segs = han.mbus_frames(env)
    ok(b"".join(segs).hex() == e["frame_hex"] and [f[6] for f in segs] == [0x00, 0x11],
       "public EVN frame: SC 0x20 (AES-CTR, length 81 F8) in M-Bus segments CI 00, 11: byte for byte")
    wire = bytes.fromhex(e["frame_hex"])
    got = mbus_read(wire)
    dec = han.glo_decipher(got[0][0], key) if got else {}
    ok(got and dec["apdu"].hex() == c["plaintext_apdu_hex"] and dec["counter"] == 0x23,
       "public EVN frame: reassembled and decrypted with the published key gives the published plaintext")
    e = pub["kaifa-at-tinetz-example-fneur"]
    c = e["checks"]
    key = bytes.fromhex(e["key_hex"])
    env = han.glo_cipher(bytes.fromhex(c["plaintext_apdu_hex"]), key, bytes.fromhex(c["system_title"]),
                         int(c["frame_counter"], 16), 0x21)
    ok(b"".join(han.mbus_frames(env)).hex() == e["frame_hex"],
       "public TINETZ frame: SC 0x21 (suite 1, CTR, length 82 01 09), 2 segments: byte for byte")
    got = mbus_read(bytes.fromhex(e["frame_hex"]))
    ok(got and han.glo_decipher(got[0][0], key)["apdu"].hex() == c["plaintext_apdu_hex"],
       "public TINETZ frame: decrypts to the published plaintext")
    for vid in ("lg-e450-at-burgenland-gh501-1", "lg-e450-at-burgenland-gh501-2"):
        e = pub[vid]
        c = e["checks"]
        key, ak = bytes.fromhex(e["key_hex"]), bytes.fromhex(e["auth_key_hex"])
        pt = bytes.fromhex(c["plaintext_apdu_hex"])
        env = han.glo_cipher(pt, key, bytes.fromhex(c["system_title"]), int(c["frame_counter"], 16), 0x30, ak)
        ok(han.hdlc_message(env, b"\xce\xff", b"\x03")[0].hex() == e["frame_hex"],
           "public %s: GCM (SC 0x30, AAD 30||AK, 12-byte tag) in HDLC CE FF/03: byte for byte" % vid)
        info = hdlc_read(bytes.fromhex(e["frame_hex"]))[0][0][3:]
        d = han.glo_decipher(info, key, ak)
        bad = bytearray(info)
        bad[30] ^= 0x01
        ok(d["apdu"] == pt and d["tag_ok"] is True and han.glo_decipher(bytes(bad), key, ak)["tag_ok"] is False,
           "public %s: decrypts, the tag verifies, one changed bit fails it" % vid)
    e = pub["iskra-am550-at-shrdzm"]
    fr = hdlc_read(bytes.fromhex(e["frame_hex"]))
    d = han.glo_decipher(fr[0][0][3:], bytes.fromhex(e["key_hex"]))
    ok(d["apdu"].hex() == e["checks"]["plaintext_apdu_hex"] and d["sc"] == 0x20 and d["tag_ok"] is None,
       "public Iskra AM550 frame (SC 0x20 in HDLC): decrypts to the published plaintext")
    e = pub["lg-e450-ch-vse2026-scs"]
    wire = bytes.fromhex(e["frame_hex"])
    fr = hdlc_read(wire)
    blocks = [f[0][3:] if k == 0 else f[0] for k, f in enumerate(fr)]
    datas = [axdr(b"\x09" + b[6:])[0] for b in blocks]
    apdu = b"".join(datas)
    ok(han.hdlc_message(apdu, b"\xce\xff", b"\x03", gbt=[len(x) for x in datas]) == [f for f in
       [wire[a[4]:a[4] + (wire[a[4] + 1] & 7) * 256 + wire[a[4] + 2] + 2] for a in fr]],
       "public L&G E450 frame: general-block-transfer (E0 40/C0, numbers 1..4, LLC in the first only): byte for byte")
    e = pub["lg-e450-gbt-encrypted-scs"]
    fr = hdlc_read(bytes.fromhex(e["frame_hex"]))
    blocks = [f[0][3:] if k == 0 else f[0] for k, f in enumerate(fr)]
    env = b"".join(axdr(b"\x09" + b[6:])[0] for b in blocks)
    d = han.glo_decipher(env, bytes.fromhex(e["key_hex"]))
    ok(len(fr) == 3 and d["apdu"].hex() == e["checks"]["plaintext_apdu_hex"],
       "public L&G E450 GBT + GCM frame: blocks joined and decrypted give the published plaintext")
    e = pub["iskra-am550-at-shrdzm"]
    wire = bytes.fromhex(e["frame_hex"])
    ok(han.hdlc_frame(hdlc_read(wire)[0][0], b"\xcf", b"\x02\x23") == wire
       and han.hdlc_frame(b"\x00", b"\xcf", b"\x00\x02\x00\x23")[4:8] == b"\x00\x02\x00\x23",
       "HDLC addresses of 1, 2 and 4 bytes")
    segs = han.mbus_frames(bytes(600), 245)
    ok([f[6] for f in segs] == [0x00, 0x01, 0x12] and [f[1] for f in segs] == [250, 250, 115]
       and han.mbus_frames(bytes(10))[0][6] == 0x10
       and all(f[-2] == sum(f[4:-2]) & 0xFF and f[-1] == 0x16 for f in segs),
       "M-Bus segments: CI 00, 01, 12 (FIN on the last), a single frame CI 10, checksums and stop bytes")


def _han_run(name, gen, extra, count=24, start="2025-03-30T00:59:00Z"):
    man = tmp(name + ".jsonl")
    p = run(["--generate", gen, "--count", str(count), "--rate", "0", "--seed", "5", "--start", start,
             "--manifest", man] + extra)
    return p, (manifest(man) if p.returncode == 0 else [])


def _han_messages(gen, data, key=None, auth_key=None, mbus=False):
    """Messages a careful reader gets from a stream: (apdu, envelope info)."""
    from dsmrsim import han
    if mbus:
        apdus = [a for a, _ in mbus_read(data)]
    else:
        apdus, pending = [], None
        for fr in hdlc_read(data, failures=True):
            if fr is None:  # a frame failed its check: a partial message is lost
                pending = None
                continue
            info = fr[0]
            if info[:3] == b"\xe6\xe7\x00":
                info = info[3:]
                pending = None
                if info[:1] != b"\xe0":
                    apdus.append(info)
                    continue
                pending = []
            if info[:1] == b"\xe0" and pending is not None:
                num = int.from_bytes(info[2:4], "big")
                if num != len(pending) + 1:
                    pending = None
                    continue
                pending.append(axdr(b"\x09" + info[6:])[0])
                if info[1] & 0x80:
                    apdus.append(b"".join(pending))
                    pending = None
    out = []
    for a in apdus:
        env = None
        if a[:1] == b"\xdb":
            env = han.glo_decipher(a, key, auth_key)
            a = env["apdu"]
        out.append((a, env))
    return out


def test_han_generators():
    try:
        from zoneinfo import ZoneInfo
        cet = ZoneInfo("Europe/Oslo")
    except Exception:
        cet = None
    key = bytes(range(16))
    ak = bytes(range(0xD0, 0xE0))
    runs = [
        ("aidon", "han-aidon", [], {}),
        ("kaifa", "han-kaifa", [], {}),
        ("kamstrup", "han-kamstrup", [], {}),
        ("austria", "han-austria", [], {"key": key, "mbus": True}),
        ("austria-gcm", "han-austria", ["--han-key", key.hex(), "--han-auth-key", ak.hex(), "--han-counter", "500"],
         {"key": key, "auth_key": ak, "mbus": True}),
        ("kamstrup-gcm", "han-kamstrup", ["--han-key", key.hex(), "--han-auth-key", ak.hex()],
         {"key": key, "auth_key": ak}),
        ("aidon-mbus", "han-aidon", ["--han-mbus", "--han-segment", "100", "--han-list", "3"], {"mbus": True}),
        ("kaifa-gbt", "han-kaifa", ["--han-gbt", "40", "--han-key", key.hex()], {"key": key}),
    ]
    for name, gen, extra, kw in runs:
        p, recs = _han_run(name, gen, extra)
        msgs = _han_messages(gen, p.stdout, **kw)
        ok(p.returncode == 0 and len(recs) == 24 and len(msgs) == 24 and all(r["clean"] for r in recs),
           "%s: 24 messages, every frame check right, all read back" % name, (p.stderr, len(recs), len(msgs)))
        bad = []
        for (apdu, env), r in zip(msgs, recs):
            values, strings, clock_dt, hdr = han_decode(gen, apdu)
            from decimal import Decimal
            want = {k: Decimal(v) for k, v in r["registers"].items()}
            if values != want or any(strings.get(k) != v for k, v in r["strings"].items()):
                bad.append((r["seq"], values, want))
            sent = clock_dt or hdr  # the clock object, or the header date-time
            if (sent.hex() if sent else None) != r["clock"] or (hdr and clock_dt and hdr != clock_dt):
                bad.append((r["seq"], "clock", clock_dt, r["clock"]))
            if env is not None and (env["counter"] != r["frame_counter"] or env["tag_ok"] is False
                                    or "%02X" % env["sc"] != r["security_control"]):
                bad.append((r["seq"], "envelope", env["counter"], env["tag_ok"]))
        ok(not bad, "%s: decoded values, ids and clock equal the manifest" % name, bad[:3])
        if "auth_key" in kw:
            ok(all(e["tag_ok"] is True and e["sc"] == 0x30 for _, e in msgs)
               and [e["counter"] for _, e in msgs][:2] == ([500, 501] if "--han-counter" in extra else [1, 2]),
               "%s: GCM tags verify with the authentication key, counters increment" % name)
        if name == "aidon":
            lists = [r["list"] for r in recs]
            hour = [r["unix"] % 3600 < 10 for r in recs]
            ok(lists == [3 if h else 2 for h in hour] and lists.count(3) == 1,
               "aidon --han-list auto: list 3 (with energies) on the hour, list 2 otherwise", lists)
            l3 = [r for r in recs if r["list"] == 3]
            if cet is not None and l3:
                t = dt.datetime.fromtimestamp(l3[0]["unix"], cet)
                c = bytes.fromhex(l3[0]["clock"])
                ok(c[:2] == t.year.to_bytes(2, "big") and list(c[2:8]) == [t.month, t.day, t.isoweekday() % 7,
                                                                          t.hour, t.minute, t.second]
                   and c[9:11] == b"\0\0", "aidon clock: Norwegian wall time (tz database), deviation 0, Sunday 0")
            e = [r["registers"] for r in recs]
            mono = all(int(b["1-0:1.8.0"]) >= int(a["1-0:1.8.0"]) for a, b in zip(e, e[1:]) if "1-0:1.8.0" in a
                       and "1-0:1.8.0" in b)
            both = [x for x in e if int(x["1-0:1.7.0"]) and int(x["1-0:2.7.0"])]
            ok(mono and not both and all(x["1-0:1.8.0"].endswith("0") for x in e if "1-0:1.8.0" in x),
               "aidon: energy in 10 Wh steps never decreases; import and export power never both non-zero")
        if name == "austria" and cet is not None:
            off = []
            for r in recs:
                t = dt.datetime.fromtimestamp(r["unix"], ZoneInfo("Europe/Vienna"))
                c = bytes.fromhex(r["clock"])
                dev = int.from_bytes(c[9:11], "big", signed=True)
                if (c[5], c[6], dev, bool(c[11] & 0x80)) != (t.hour, t.minute,
                                                             -int(t.utcoffset().total_seconds() // 60),
                                                             bool(t.dst())):
                    off.append((r["meter_time"], c.hex()))
            ok(not off, "austria clock: Vienna wall time, deviation -60/-120 and the DST bit across the "
               "change of 2025-03-30 (tz database)", off[:3])
            ok(all(r["frames"] == 2 for r in recs), "austria: every message in two M-Bus segments")
    p = run(["--generate", "han-kaifa", "--han-list", "1", "--count", "3", "--rate", "0", "--seed", "1"])
    fr = hdlc_read(p.stdout)
    ok(len(fr) == 3 and all(f[1] == b"\x01" and f[2] == b"\x02\x01" and f[3] == 0x10 and len(f[0]) == 3 + 5 + 14 + 2 + 5
                            for f in fr), "kaifa list 1: 01/02 01/control 10, 1 value after 09 0C date-time")
    for bad in (["--generate", "dsmr5", "--han-key", key.hex()], ["--generate", "han-austria", "--han-gbt", "50"],
                ["--generate", "han-aidon", "--han-key", "0011"], ["--generate", "han-aidon", "--han-segment", "300"],
                ["--generate", "han-aidon", "--baud-bits", "7e1"]):
        p = run(bad + ["--count", "1"])
        ok(p.returncode == 2 and p.stderr, "rejects %s with a message" % " ".join(bad[2:]))


def test_han_faults():
    from decimal import Decimal
    n = 200
    spec = "flip=0.2,cut=0.1,badcrc=0.1,noise=0.3"
    # A reader that drops a partial message when a frame fails its check
    # (as the test's does) gets exactly the clean messages: the simulator
    # never loses the first frame of a message silently after a damaged one.
    for name, gen, extra, kw in (("kaifa-faults", "han-kaifa", ["--han-list", "2"], {}),
                                 ("aidon-gbt-faults", "han-aidon", ["--han-gbt", "60"], {}),
                                 ("austria-faults", "han-austria", [], {"key": bytes(range(16)), "mbus": True})):
        multi = gen == "han-austria" or "--han-gbt" in extra
        faults = spec + (",dropseg=0.15" if multi else "")
        p, recs = _han_run(name, gen, extra + ["--faults", faults], count=n)
        kinds = {r["fault"] for r in recs}
        want = {None, "flip", "cut", "badcrc"} | ({"dropseg"} if multi else set())
        ok(len(recs) == n and kinds == want and any(r["noise_before"] for r in recs),
           "%s: every fault kind occurs (%s)" % (name, sorted(k or "clean" for k in kinds)), kinds)
        msgs = _han_messages(gen, p.stdout, **kw)
        got = [han_decode(gen, a)[0] for a, _ in msgs]
        clean = [{k: Decimal(v) for k, v in r["registers"].items()} for r in recs if r["clean"]]
        ok(got == clean and len(clean) < n,
           "%s: the messages that pass every check are exactly the clean ones, in order (%d of %d)"
           % (name, len(clean), n), (len(got), len(clean)))
        ok(any(r["noise_before"] and r["clean"] for r in recs), "%s: a message after noise is still clean" % name)
        drops = [r for r in recs if r["fault"] == "dropseg"]
        if gen == "han-austria":
            ok(drops and all(r["frames"] == 1 and r["detail"]["dropped"] in (0, 1) for r in drops),
               "austria: dropseg leaves one of the two segments out")


def test_han_pty():
    from decimal import Decimal
    for gen, parity in (("han-kaifa", True), ("han-kamstrup", False)):
        link = tmp("ttyHAN")
        proc = _start(["--generate", gen, "--pty", link, "--rate", "20", "--count", "200", "--seed", "1"])
        line = proc.stdout.readline().strip()
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        attrs = termios.tcgetattr(fd)
        tty.setraw(fd, termios.TCSANOW)
        buf = b""
        deadline = time.time() + 5
        while time.time() < deadline and len(hdlc_read(buf)) < 3:
            r, _, _ = select.select([fd], [], [], 0.2)
            if r:
                buf += os.read(fd, 4096)
        os.close(fd)
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        cflag = attrs[2]
        # Linux ptys always read back CS8 without PARENB (pty_set_termios
        # clears it), so the parity the simulator asks for cannot be seen
        # here; the speed is kept.
        ok(line.startswith("pty ") and attrs[4] == termios.B2400 and attrs[5] == termios.B2400
           and cflag & termios.CSIZE == termios.CS8 and not cflag & termios.CSTOPB,
           "%s pty: 2400 baud, 8 bits, 1 stop bit on the line (vendor parity: %s)"
           % (gen, "even" if parity else "none"), attrs)
        ok(len(hdlc_read(buf)) >= 3, "%s pty: a reader gets whole HDLC frames" % gen, buf[:40].hex())
    man = tmp("han-tcp.jsonl")
    proc = _start(["--generate", "han-austria", "--tcp", "0", "--count", "4", "--rate", "8", "--wait",
                   "--manifest", man])
    line = proc.stdout.readline().strip()
    buf = b""
    try:
        sock = socket.create_connection(("127.0.0.1", int(line.rsplit(":", 1)[1])), timeout=5)
        sock.settimeout(5)
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        sock.close()
    except (OSError, ValueError, IndexError):
        pass
    rc = proc.wait(10)
    recs = manifest(man)
    msgs = _han_messages("han-austria", buf, key=bytes(range(16)), mbus=True)
    ok(rc == 0 and len(msgs) == 4 and all(r["delivered"] and r["port"] for r in recs)
       and [han_decode("han-austria", a)[0] for a, _ in msgs]
       == [{k: Decimal(v) for k, v in r["registers"].items()} for r in recs],
       "han-austria over TCP: a client gets the 4 encrypted M-Bus messages of the manifest", line)


def main():
    t = time.monotonic()
    tests = [test_crc_reference, test_dsmr5_generation, test_dst, test_unique, test_dsmr4_dsmr22, test_faults,
             test_determinism_and_parity, test_smarty, test_play, test_pty, test_tcp, test_realtime_and_errors,
             test_han_public_frames, test_han_generators, test_han_faults, test_han_pty]
    for test in tests:
        try:
            test()
        except Exception as e:  # a crash is a failure, not an abort
            import traceback
            ok(False, "%s raised %s" % (test.__name__, e), traceback.format_exc())
    print("1..%d" % _n)
    print("# %d failed, %.1f s" % (_failed, time.monotonic() - t))
    if not _failed:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("# files kept in %s" % TMP)
    return 1 if _failed else 0


if __name__ == "__main__":
    sys.exit(main())
