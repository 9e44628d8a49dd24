#!/usr/bin/env python3
"""dsmr-cat as a user runs it: every corpus telegram through --json gives the
CRC verdict of public.json and exactly its objects (obis, raw groups,
numbers, units, times); --summary counts; exit statuses; errors name the
file. TAP output."""
import calendar
import json
import os
import subprocess
import sys
import tempfile

top = os.environ.get("top_srcdir", "..")
build = os.environ.get("top_builddir", ".")
cat = os.path.join(build, "dsmr-cat")
corpus = os.path.join(top, "tests", "corpus")
n = 0
failed = 0


def ok(cond, msg):
    global n, failed
    n += 1
    if not cond:
        failed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, msg))
    return cond


def run(*args, stdin=None, env=None):
    e = dict(os.environ, **env) if env else None
    p = subprocess.run([cat, *args], input=stdin, capture_output=True, env=e)
    return p.returncode, p.stdout.decode("latin-1"), p.stderr.decode()


def groups(e):
    if "values" in e:
        return e["values"]
    v = e.get("value", "")
    return [v + "*" + e["unit"]] if e.get("unit") else [v]


def ts_utc(raw):
    """Independent reading of YYMMDDhhmmss[WS]: W = UTC+1, S = UTC+2."""
    y, mo, d, h, mi, s = (int(raw[i:i + 2]) for i in range(0, 12, 2))
    off = {"W": 1, "S": 2}[raw[12].upper()]
    t = calendar.timegm(((1900 if y >= 70 else 2000) + y, mo, d, h, mi, s)) - off * 3600
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % tuple(
        __import__("time").gmtime(t)[:6])


data = json.load(open(os.path.join(corpus, "public.json"), encoding="utf-8"))
for t in data:
    path = os.path.join(corpus, "telegrams", t["id"] + ".p1")
    rc, out, err = run("--json", path)
    lines = out.splitlines()
    if not ok(len(lines) == 1, "%s: one JSON line" % t["id"]):
        continue
    j = json.loads(lines[0])
    want_crc = "ok" if t["crc_ok"] else ("bad" if t["crc_present"] else "none")
    ok(j["crc"] == want_crc, "%s: crc %s (got %s)" % (t["id"], want_crc, j["crc"]))
    ok(rc == (1 if want_crc == "bad" else 0), "%s: exit status %d" % (t["id"], rc))
    ok(j["header"] == t["telegram"][1:].split("\r\n")[0],
       "%s: header %r" % (t["id"], j["header"]))
    if not t["expected"]:
        continue
    got = [(o["obis"], [v["raw"] for v in o["values"]]) for o in j["objects"]]
    want = [(e["obis"], groups(e)) for e in t["expected"]]
    if not ok(got == want, "%s: all %d objects with exact raw groups"
              % (t["id"], len(want))):
        for g, w in zip(got, want):
            if g != w:
                print("#   got %r\n#  want %r" % (g, w))
                break
    # numbers, units and flagged times, checked against our own reading
    bad = []
    for o in j["objects"]:
        for v in o["values"]:
            raw = v["raw"]
            if "*" in raw and raw.split("*")[0].replace(".", "").lstrip("-").isdigit():
                num, unit = raw.split("*", 1)
                if v.get("unit") != unit or abs(v.get("number", 1e99) - float(num)) > 1e-12:
                    bad.append(raw)
            if len(raw) == 13 and raw[:12].isdigit() and raw[12] in "WSws":
                try:
                    want_t = ts_utc(raw)
                except ValueError:
                    want_t = None  # impossible date: no time expected
                if v.get("time") != want_t:
                    bad.append(raw)
    ok(not bad, "%s: numbers, units and times%s" % (t["id"], " " + repr(bad[:3]) if bad else ""))

# the whole corpus in one stream, in order
paths = [os.path.join(corpus, "telegrams", t["id"] + ".p1") for t in data]
rc, out, err = run("--json", *paths)
ok(len(out.splitlines()) == len(data), "one line per telegram for %d files" % len(data))
ok([json.loads(l)["header"] for l in out.splitlines()] ==
   [t["telegram"][1:].split("\r\n")[0] for t in data], "stream order kept")

# summary: counts of the whole path
rc, out, err = run("--summary", *paths)
nbad = sum(1 for t in data if t["crc_present"] and not t["crc_ok"])
ok(out.strip() == "telegrams %d, ok %d, CRC errors %d, too large 0, malformed 0"
   % (len(data), len(data) - nbad, nbad), "summary line: " + out.strip())
ok(rc == 1, "exit 1 when some telegram failed")

good = [p for p, t in zip(paths, data) if t["crc_ok"] or not t["crc_present"]]
rc, out, err = run("--summary", *good)
ok(rc == 0, "exit 0 when every telegram is ok or has no CRC")

# stdin, and a too-large telegram
blob = open(good[0], "rb").read()
rc, out, err = run("--summary", "--max-size", "100", stdin=blob)
ok("too large 1" in out and rc == 1, "too large counted from stdin: " + out.strip())

# a corrupted byte: CRC error, values listed as not dispatched
crc_file = [p for p, t in zip(paths, data) if t["crc_ok"]][0]
raw = bytearray(open(crc_file, "rb").read())
i = raw.index(b"1-0:1.8.1(") + 12
raw[i] = ord("7") if raw[i] != ord("7") else ord("8")
rc, out, err = run(stdin=bytes(raw))
ok("CRC: bad" in out and "NOT dispatched" in out and rc == 1, "flipped digit: CRC bad, not dispatched")

# errors name the file, exit 2
rc, out, err = run("/nonexistent/meter.p1")
ok(rc == 2 and "/nonexistent/meter.p1" in err and len(err.splitlines()) == 1,
   "missing file: exit 2, one line naming it: " + err.strip())
rc, out, err = run("--bogus")
ok(rc == 2 and "--bogus" in err, "unknown option: exit 2")

# --json lists every error of a telegram, in line order (issue 14)
three = (b"/X\r\n\r\n1-0:1.8.1(000687.138*kW)\r\ngarbage\r\n"
         b"1-0:1.7.0(00.428*kW)\r\n1-0:2.7.0(x)\r\n!\r\n")
rc, out, err = run("--json", stdin=three)
errs = json.loads(out)["errors"] if out.strip() else None
ok(rc == 1 and errs == [
    {"line": 3, "obis": "1-0:1.8.1", "error": "unexpected unit"},
    {"line": 4, "error": "line is not an OBIS object"},
    {"line": 6, "obis": "1-0:2.7.0", "error": "value is not a number"}],
   "--json: all three errors of a telegram: %r" % (errs,))
rc, out, err = run(stdin=three)
ok(rc == 1 and "REJECTED: 3 error(s)" in out and
   "line 6 1-0:2.7.0: value is not a number" in out,
   "listing: all three errors")

# the last telegram of a file without its final CR LF (DSMR 2.2: '!' last)
v22 = (b"/ISk5\\2MT382-1004\r\n\r\n0-0:96.1.1(00000000000000)\r\n"
       b"1-0:1.8.1(00123.456*kWh)\r\n1-0:32.7.0(227.8*V)\r\n"
       b"1-0:31.7.0(1.66*A)\r\n0-1:24.1.0(3)\r\n"
       b"0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n"
       b"(00001.001)\r\n!")
v22file = os.path.join(tempfile.mkdtemp(), "v22.p1")
with open(v22file, "wb") as f:
    f.write(v22)
rc, out, err = run("--json", v22file)
ok(rc == 0 and len(out.splitlines()) == 1 and
   json.loads(out)["collectd"][0]["value"] == 123456,
   "a DSMR 2.2 telegram ending in '!' at the end of the file is read")
rc, out, err = run("--summary", v22file, v22file)
ok(rc == 0 and out.startswith("telegrams 2, ok 2"),
   "two such files in one stream: both read: " + out.strip())
rc, out, err = run("--json", stdin=v22[:-1] + b"!1A")
ok(len(out.splitlines()) == 1 and json.loads(out)["crc"] == "bad",
   "a CRC of 2 digits cut off by the end: read, CRC judged")

# input without any telegram: a message and exit status 1
for what, data in (("text", b"hello\n"), ("nothing", b""),
                   ("a telegram cut off", v22[:40])):
    rc, out, err = run("--summary", stdin=data)
    ok(rc == 1 and "no telegram" in err,
       "%s: exit %d, %s" % (what, rc, err.strip()))

# the values collectd gets, as the meter wrote them (shortest decimal that
# is the same double), and local time beside UTC in the listing only
rc, out, err = run(v22file, env={"TZ": "Europe/Amsterdam"})
ok("    voltage-l1 = 227.8\n" in out and "    current-l1 = 1.66\n" in out,
   "listing: voltage-l1 = 227.8, current-l1 = 1.66")
ok("dsmr_volume-gas = 1001 at 2016-11-07T18:00:00Z "
   "(local 2016-11-07 19:00:00 CET)" in out and
   "2016-11-07T18:00:00Z (local 2016-11-07 19:00:00 CET) (00)" in out,
   "listing: UTC times with the local time beside them")
rc, out, err = run(v22file, env={"TZ": "UTC"})
ok("(local 2016-11-07 18:00:00 UTC)" in out, "local time follows TZ")
rc, out, err = run("--json", v22file, env={"TZ": "Europe/Amsterdam"})
j = json.loads(out)
by_type = {c["type"]: c for c in j["collectd"]}
ok("local" not in out and
   by_type["dsmr_volume"]["time"] == "2016-11-07T18:00:00Z" and
   '"value":227.8}' in out and '"value":1.66' in out and
   [by_type[k]["value"] for k in ("voltage", "current")] == [227.8, 1.66],
   "--json: UTC only, numbers as written")

# values without a unit (openHAB's Smarty telegram)
rc, out, err = run("--json", os.path.join(corpus, "telegrams",
                                          "openhab_smarty_unitless.p1"))
j = json.loads(out)
got = {(c["type"], c["type_instance"]): c["value"] for c in j["collectd"]}
rc2, out2, err2 = run(os.path.join(corpus, "telegrams",
                                   "openhab_smarty_unitless.p1"))
ok("    dsmr_apparent_power-threshold = 77376\n" in out2 and
   "    count-power_failures = 69\n" in out2 and
   "    count-voltage_sags_l1 = 44\n" in out2,
   "listing: whole numbers in plain notation (77376, 69, 44)")
rc2, out2, err2 = run(stdin=b"/X\r\n\r\n0-0:17.0.0(069.0*kVA)\r\n"
                      b"1-0:32.32.0(00040)\r\n1-0:31.7.0(000.01*A)\r\n!\r\n")
ok("threshold = 69000\n" in out2 and "voltage_sags_l1 = 40\n" in out2 and
   "current-l1 = 0.01\n" in out2,
   "listing: 69000 (not 6.9e+04), 40 (not 4e+01), 0.01")
ok(rc == 0 and j["errors"] == [] and j.get("unitless") == 3 and
   got[("dsmr_reactive_power", "export")] == 7 and
   got[("dsmr_apparent_power", "threshold")] == 77376,
   "Smarty values without a unit: read, counted")

# two gas meters: names stay with their channel across telegrams
def mbus(ch1, ch2, hour):
    lines = []
    for ch, m3 in ((1, ch1), (2, ch2)):
        lines.append("0-%d:24.1.0(003)" % ch)
        lines.append("0-%d:24.2.1(%s)(%s*m3)" % (
            ch, "000101000000W" if m3 is None else "2410271%d0000W" % hour,
            m3 or "00000.000"))
    return ("/X\r\n\r\n" + "".join(l + "\r\n" for l in lines) + "!\r\n").encode()


rc, out, err = run("--json", stdin=mbus("00100.000", "05000.000", 0) +
                   mbus(None, "05000.001", 1) + mbus("00100.002", "05000.002", 2))
names = [[(c["type_instance"], c["value"]) for c in json.loads(l)["collectd"]]
         for l in out.splitlines()]
ok(names == [[("gas", 100000), ("gas_ch2", 5000000)], [("gas_ch2", 5000001)],
             [("gas", 100002), ("gas_ch2", 5000002)]],
   "gas channel 1 on its placeholder: channel 2 stays gas_ch2: %r" % (names,))

# live sources: the simulator on a pseudo-terminal and over TCP
import shutil
import time

sim = os.path.join(top, "tools", "dsmr-sim")

# --key: Luxembourg Smarty streams made by the simulator
KEY, AKEY = "000102030405060708090A0B0C0D0E0F", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
stmp = tempfile.mkdtemp()


def sim_file(name, *args):
    path, man = os.path.join(stmp, name), os.path.join(stmp, name + ".jsonl")
    subprocess.run([sys.executable, sim, "--file", path, "--manifest", man, "--rate", "0",
                    "--quiet", "--linger", "0", *args], check=True)
    return path, [json.loads(l) for l in open(man)]


def kwh(text):
    whole, frac = text.split(".")
    return int(whole) * 1000 + int(frac.ljust(3, "0")[:3])


enc, sent = sim_file("smarty.bin", "--generate", "smarty", "--count", "3", "--smarty-hdlc",
                     "--smarty-counter", "7")
rc, out, err = run("--json", "--key", KEY.lower(), enc)
got = [[c["value"] for c in json.loads(l)["collectd"] if c["type"] == "dsmr_energy"]
       for l in out.splitlines()]
ok(rc == 0 and err == "" and got == [[kwh(e["registers"]["1-0:1.8.0"]), kwh(e["registers"]["1-0:2.8.0"])]
                                     for e in sent], "--key: HDLC-wrapped Smarty frames decrypted, exact registers")
rc, out, err = run("--summary", "--key", "F" + KEY[1:], enc)
ok(rc == 1 and out.startswith("telegrams 0, ok 0") and err.count("authentication failed") == 3 and
   "Smarty frame 7 (system title " in err and KEY[1:].lower() not in err.lower(),
   "wrong --key: nothing decoded, each failure on stderr with its frame counter: " + err.splitlines()[0])
rc, out, err = run("--summary", "--key", KEY, stdin=open(enc, "rb").read() * 2)
ok(rc == 1 and "replayed 3" in out and err.count("refused as a replay") == 3,
   "the same frames again (stdin): refused as replays: " + out.splitlines()[-1])
plain = os.path.join(stmp, "short.p1")  # short enough for every length form
body = b"/Lux5\\253694471_M\r\n\r\n1-0:1.8.0(000123.456*kWh)\r\n!"
c = 0
for b in body:  # CRC-16/ARC
    c ^= b
    for _ in range(8):
        c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
with open(plain, "wb") as f:
    f.write(body + b"%04X\r\n" % c)
for form in ("short", "81", "82"):
    enc2, _ = sim_file("f" + form, "--play", plain, "--smarty-encrypt", "--smarty-length", form, "--count", "2",
                       "--smarty-auth-key", AKEY)
    rc, out, err = run("--summary", "--key", KEY, "--auth-key", AKEY, enc2)
    lb = open(enc2, "rb").read()[10]  # DB 08 <title> <length form>
    ok(rc == 0 and out.startswith("telegrams 2, ok 2,") and
       (lb < 0x80 if form == "short" else lb == int(form, 16)),
       "--auth-key, length form %s: %s" % (form, out.replace("\n", "; ")))
rc, out, err = run("--summary", "--key", KEY, enc2)
ok(rc == 1 and err.count("authentication failed") == 2, "without --auth-key: authentication fails")
rc, out, err = run("--key", "0011", enc)
ok(rc == 2 and "--key" in err and "32 hex digits" in err and "0011" not in err,
   "--key 0011: exit 2, says 32 hex digits, does not echo it: " + err.strip())
rc, out, err = run("--auth-key", AKEY, enc)
ok(rc == 2 and "--auth-key needs --key" in err and AKEY not in err, "--auth-key alone: exit 2")


def start_sim(*args):
    out = tempfile.TemporaryFile()
    p = subprocess.Popen([sys.executable, sim, *args], stdout=out,
                         stderr=subprocess.STDOUT)
    # The simulator is a Python process that may take many seconds to
    # start on a loaded machine (a HAN-over-TCP check failed once under a
    # load of 13 with 10 s); the loop ends as soon as it is ready.
    deadline = time.time() + 60
    text = ""
    while time.time() < deadline:
        out.seek(0)
        text = out.read().decode()
        if "listening on" in text or " -> /dev/" in text:
            break
        time.sleep(0.05)
    return p, text


tmp = tempfile.mkdtemp()
try:
    link = os.path.join(tmp, "meter")
    p, text = start_sim("--pty", link, "--generate", "dsmr5", "--rate", "20",
                        "--count", "200")
    try:
        rc, out, err = run("--summary", "--device", link, "--count", "5")
        ok(rc == 0 and out.strip() ==
           "telegrams 5, ok 5, CRC errors 0, too large 0, malformed 0",
           "--device on a pseudo-terminal: " + out.strip() + err.strip())
    finally:
        p.kill()
        p.wait()
    # --baudrate auto (a pty ignores the speed: what it shows is the
    # masking of a 7E1 line read as 8N1, and 8N1 found as 8N1)
    for bits, gen, want in (("7e1", "dsmr22", "115200 7E1 (read as 8N1"),
                            ("8n1", "dsmr5", "115200 8N1\n")):
        p, text = start_sim("--pty", link, "--generate", gen, "--baud-bits",
                            bits, "--rate", "5", "--count", "200")
        try:
            rc, out, err = run("--json", "--device", link, "--baudrate",
                               "auto", "--count", "3")
            lines = out.splitlines()
            ok(rc == 0 and "line detected: " + want in err and
               len(lines) == 3 and
               all(json.loads(l)["errors"] == [] and
                   json.loads(l)["crc"] == ("none" if gen == "dsmr22"
                                            else "ok") for l in lines),
               "--baudrate auto, %s %s: detected on stderr, 3 telegrams: %s"
               % (gen, bits, err.strip().replace("\n", "; ")))
        finally:
            p.kill()
            p.wait()
    rc, out, err = run("--device", link, "--baudrate", "auto", "--databits",
                       "7")
    ok(rc == 2 and "leave out --databits" in err,
       "--baudrate auto --databits 7: exit 2: " + err.strip())
    rc, out, err = run("--host", "127.0.0.1", "--port", "1", "--baudrate",
                       "auto")
    ok(rc == 2 and "needs --device" in err,
       "--baudrate auto with --host: exit 2: " + err.strip())
    # --baudrate auto --key: an encrypted Austrian meter (M-Bus, 2400 8E1,
    # the simulator's default key), probed over the HAN settings as the
    # plugin's Protocol "han" with Baudrate "auto" and a DecryptionKey; the
    # pty ignores the speed, so the first setting, 2400 8E1, settles it
    p, text = start_sim("--pty", link, "--generate", "han-austria", "--rate",
                        "5", "--count", "200")
    try:
        rc, out, err = run("--json", "--device", link, "--baudrate", "auto",
                           "--key", "000102030405060708090A0B0C0D0E0F",
                           "--count", "2")
        lines = [json.loads(x) for x in out.splitlines()]
        ok(rc == 0 and "line detected: 2400 8E1" in err and
           len(lines) == 2 and
           all(x["crc"] == "ok" and x["errors"] == [] and
               any(o.get("obis") == "1-0:1.8.0" for o in x["objects"])
               for x in lines),
           "--baudrate auto --key, encrypted Austrian M-Bus: 2400 8E1 "
           "detected, 2 decrypted lists: %s" % err.strip().replace("\n", "; "))
    finally:
        p.kill()
        p.wait()
    p, text = start_sim("--tcp", "127.0.0.1:0", "--generate", "dsmr4",
                        "--rate", "20", "--count", "200")
    try:
        port = text.split("listening on 127.0.0.1:")[1].split()[0] \
            if "listening on 127.0.0.1:" in text else "1"
        rc, out, err = run("--json", "--host", "127.0.0.1", "--port", port,
                           "--count", "2")
        lines = out.splitlines()
        ok(rc == 0 and len(lines) == 2 and
           all(json.loads(l)["crc"] == "ok" for l in lines),
           "--host/--port: two telegrams with a good CRC")
    finally:
        p.kill()
        p.wait()
    p, text = start_sim("--pty", link, "--generate", "smarty", "--rate", "20", "--count", "200")
    try:
        rc, out, err = run("--summary", "--device", link, "--count", "3", "--key", KEY)
        ok(rc == 0 and out.startswith("telegrams 3, ok 3,"), "--key on --device: " + out + err.strip())
    finally:
        p.kill()
        p.wait()
    rc, out, err = run("--device", os.path.join(tmp, "absent"))
    ok(rc == 2 and "absent" in err, "missing device: exit 2 naming it: " + err.strip())
finally:
    shutil.rmtree(tmp)
    shutil.rmtree(stmp)

# --- binary HAN frames (DLMS/COSEM over HDLC or M-Bus), no format flag -----
from decimal import Decimal  # noqa: E402

han = json.load(open(os.path.join(corpus, "han", "public.json"),
                     encoding="utf-8"))
for v in han:
    if not v["transport"].startswith(("HDLC", "M-Bus")):
        continue  # APDU dumps without their wire frame: tests/test_han.c
    frame = bytes.fromhex(v["frame_hex"])
    keys = ["--key", v["key_hex"]] if v.get("key_hex") else []
    if v.get("auth_key_hex"):
        keys += ["--auth-key", v["auth_key_hex"]]
    elif keys:  # no authentication key published: the explicit choice
        keys.append("--no-auth-check")
    rc, out, err = run("--json", *keys, stdin=frame)
    lines = out.splitlines()
    if not ok(rc == 0 and len(lines) == 1, "HAN %s: exit 0, one JSON line "
              "(rc %d, %s)" % (v["id"], rc, err.strip())):
        continue
    j = json.loads(lines[0], parse_float=Decimal)
    objs = {}
    for o in j["objects"]:
        objs.setdefault(o["obis"], []).append(o["values"][0])
    bad = []
    for e in v["expected"]:
        if not e.get("obis"):
            continue
        obis = e["obis"][:-4] if e["obis"].endswith(".255") else e["obis"]
        got = objs.get(obis, [])
        if e.get("unit"):
            if not any("number" in g and Decimal(str(g["number"])) ==
                       Decimal(str(e["value"])) and g.get("unit") == e["unit"]
                       for g in got):
                bad.append((obis, e["value"], e["unit"], got))
        elif isinstance(e["value"], str) and e.get("time") is None and \
                "T" not in e["value"]:
            if not any(g.get("raw") == e["value"] for g in got):
                bad.append((obis, e["value"], got))
    ok(j["crc"] == "ok" and not bad,
       "HAN %s: verdict ok, every expected value and unit exact (header "
       "%s)%s" % (v["id"], j["header"], "" if not bad else ": " + repr(bad)))
    # one byte changed (inside the information field / M-Bus data)
    b = bytearray(frame)
    b[len(b) // 2] ^= 0x04
    rc, out, err = run("--json", *keys, stdin=bytes(b))
    ok(rc != 0 and '"crc":"ok"' not in out,
       "HAN %s: one byte changed: refused (exit %d, %s)" %
       (v["id"], rc, (out.strip() or err.strip())[:80]))

# HAN over TCP: the simulator's Kamstrup, values as in its manifest
with tempfile.TemporaryDirectory() as htmp:
    hman = os.path.join(htmp, "m.jsonl")
    p, text = start_sim("--tcp", "127.0.0.1:0", "--generate", "han-kamstrup",
                        "--han-list", "2", "--rate", "20", "--count", "50",
                        "--manifest", hman)
    try:
        port = text.split("listening on 127.0.0.1:")[1].split()[0] \
            if "listening on 127.0.0.1:" in text else "1"
        rc, out, err = run("--json", "--host", "127.0.0.1", "--port", port,
                           "--count", "2")
        lines = [json.loads(l) for l in out.splitlines()]
        ok(rc == 0 and len(lines) == 2 and
           all(l["crc"] == "ok" and l["header"] == "Kamstrup_V0001"
               for l in lines),
           "HAN over TCP: two Kamstrup messages, verdict ok (%s; "
           "simulator: %s)" % (err.strip()[:80], text.strip()[:80]))
    finally:
        p.kill()
        p.wait()
rc, out, err = run("--summary", stdin=b"\x7e\xa0\x10garbage" * 3)
ok(rc != 0, "HAN-looking garbage only: non-zero exit (%d)" % rc)

# --baudrate auto on a HAN meter: the DSMR settings, then the HAN ones (as
# the plugin's Protocol "auto" + Baudrate "auto", one input chain). The
# test is the meter on a pty: while the pty's speed (dsmr-cat really sets
# it) is not 2400 it writes Aidon frames as an 8N1 UART reads an 8E1 line
# (a character with even parity bit 0 is a framing error, read as NUL), so
# they fail their FCS; at 2400 it writes them as sent. A pty cannot
# mis-frame bytes, so this shows the probe order and the FCS settling the
# line, not a real UART's framing (tests/integration/test_autobaud_han.py
# does the same for the plugin).
import termios  # noqa: E402
import threading  # noqa: E402
import tty  # noqa: E402


def hdlc_frames(data):
    out, i = [], 0
    while i + 3 <= len(data):
        if data[i] != 0x7E or data[i + 1] & 0xF0 != 0xA0:
            i += 1
            continue
        k = ((data[i + 1] & 0x07) << 8 | data[i + 2]) + 2
        out.append(data[i:i + k])
        i += k
    return out


htmp = tempfile.mkdtemp()
cap, hman = os.path.join(htmp, "aidon.bin"), os.path.join(htmp, "aidon.jsonl")
subprocess.run([sys.executable, sim, "--file", cap, "--manifest", hman,
                "--rate", "0", "--quiet", "--linger", "0", "--generate",
                "han-aidon", "--han-list", "2", "--count", "24", "--unique",
                "--seed", "73"], check=True)
recs = [json.loads(x) for x in open(hman)]
frames = hdlc_frames(open(cap, "rb").read())
master, slave = os.openpty()
tty.setraw(slave)
plink = os.path.join(htmp, "hanpty")
os.symlink(os.ttyname(slave), plink)
proc = subprocess.Popen([cat, "--json", "--device", plink, "--baudrate", "auto",
                         "--count", "3"], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
speeds, sent = [], []


def speed():
    try:
        return termios.tcgetattr(slave)[5]
    except termios.error:
        return None


def meter():
    k = 0
    deadline = time.monotonic() + 90
    while proc.poll() is None and time.monotonic() < deadline:
        sp = speed()
        if not speeds or speeds[-1] != sp:
            speeds.append(sp)
        if sp == termios.B2400 and 10 + len(sent) < len(frames):
            sent.append(10 + len(sent))
            f = frames[sent[-1]]
        else:
            f = bytes(0 if bin(b).count("1") % 2 == 0 else b
                      for b in frames[k % 10])
        try:
            os.write(master, f)
        except OSError:
            break
        k += 1
        time.sleep(1.0)


th = threading.Thread(target=meter, daemon=True)
th.start()
try:
    hout, herr = proc.communicate(timeout=120)
except subprocess.TimeoutExpired:
    proc.kill()
    hout, herr = proc.communicate()
th.join(5)
hout, herr = hout.decode("latin-1"), herr.decode()
docs = [json.loads(x) for x in hout.splitlines() if x.startswith("{")]
want = [recs[i]["registers"]["1-0:1.7.0"] for i in sent[:3]]
got = [o["values"][0]["number"] for dd in docs for o in dd["objects"]
       if o["obis"] == "1-0:1.7.0"]
ok("probing 115200 8N1, 115200 7E1, 9600 7E1, 2400 8E1 or 2400 8N1" in herr,
   "--baudrate auto, HAN: the DSMR and the HAN settings are probed: " +
   herr.strip().replace("\n", "; "))
ok(proc.returncode == 0 and "line detected: 2400 8E1" in herr and
   len(docs) == 3 and all(dd["crc"] == "ok" for dd in docs) and
   [float(x) for x in got] == [float(x) for x in want] and
   termios.B115200 in speeds and termios.B9600 in speeds,
   "--baudrate auto, HAN Aidon 8E1: through 115200 and 9600, detected at "
   "2400 8E1 by an HDLC frame whose FCS passes, 3 frames read exactly "
   "(power-import %s, sent %s; rc %d)" % (got, want, proc.returncode))
ok("failed its check" not in herr and "frame check" not in herr,
   "--baudrate auto, HAN: the frames that failed their FCS while probing "
   "are not reported")
os.close(master)
os.close(slave)
shutil.rmtree(htmp, ignore_errors=True)

# --energy-scaler: a Swedish Kamstrup (energy registers in Wh, no scaler in
# the frame) read exactly with 0; without it, 10 times too high
stmp = tempfile.mkdtemp()  # (the first one is gone)
se, sent = sim_file("kamstrup-se.hdlc", "--generate", "han-kamstrup", "--han-list", "2",
                    "--han-energy-scaler", "0", "--count", "3")
want = [[int(e["registers"]["1-1:%s.8.0" % c]) for c in (1, 2)] for e in sent]
rc, out, err = run("--json", "--energy-scaler", "0", se)
docs = [json.loads(x) for x in out.splitlines()]
got = [[c["value"] for c in d["collectd"] if c["type"] == "dsmr_energy"] for d in docs]
nums = [[o["values"][0]["number"] for o in d["objects"] if o["obis"] in ("1-1:1.8.0", "1-1:2.8.0")]
        for d in docs]
ok(rc == 0 and len(docs) == 3 and got == want and nums == want and
   any(x % 10 for w in want for x in w),
   "--energy-scaler 0, Swedish Kamstrup: dsmr_energy values and numbers exact in Wh "
   "(got %s, sent %s)" % (got, want))
rc, out, err = run("--json", se)
got = [[c["value"] for c in json.loads(x)["collectd"] if c["type"] == "dsmr_energy"]
       for x in out.splitlines()]
ok(rc == 0 and got == [[10 * x for x in w] for w in want],
   "without --energy-scaler: the document's 10 Wh (10x what the meter counts): %s" % got[:1])
no, nsent = sim_file("kamstrup-no.hdlc", "--generate", "han-kamstrup", "--han-list", "2", "--count", "2")
rc, out, err = run("--json", no)
got = [[c["value"] for c in json.loads(x)["collectd"] if c["type"] == "dsmr_energy"]
       for x in out.splitlines()]
ok(rc == 0 and got == [[int(e["registers"]["1-1:%s.8.0" % c]) for c in (1, 2)] for e in nsent],
   "Norwegian Kamstrup (10 Wh, the default): exact without the flag")
for bad in ("-1", "4", "x", "1.5", ""):
    rc, out, err = run("--energy-scaler", bad, se)
    ok(rc == 2 and "--energy-scaler" in err and "0..3" in err,
       "--energy-scaler %r: usage error naming the flag and 0..3: %s" % (bad, err.strip()))
shutil.rmtree(stmp, ignore_errors=True)

print("1..%d" % n)
sys.exit(1 if failed else 0)
