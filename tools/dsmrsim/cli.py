"""dsmr-sim command line: options, pacing, manifest, signals."""

import argparse
import json
import math
import os
import random
import signal
import sys
import time

from . import clock, faults as faultmod, han
from .aesgcm import SMARTY_AUTH_KEY, hdlc_wrap, smarty_frame
from .model import MeterModel
from .player import Player
from .sinks import (
    ConsumerGone,
    IoLoop,
    PtySink,
    StreamSink,
    TcpSink,
    log,
    parse_hostport,
    signals_deferred,
)
from .telegram import PROFILES

HIGH_WATER = 64 * 1024  # flood/--rate: wait while a TCP client has this much queued

DESCRIPTION = """\
A simulated DSMR P1 smart meter.  Generates realistic, exact telegrams (or
replays recorded .p1 files) and sends them to a pseudo-terminal, TCP clients,
stdout or a file, optionally with line faults, and writes a JSON-lines
manifest of what it sent (ground truth for tests)."""

EPILOG = """\
pacing:
  By default a telegram every --interval seconds of real time, and the meter
  clock advances by --interval per telegram.  If sending falls behind by more
  than one interval (e.g. during a --pty disconnect), the missed telegrams are
  skipped and the meter clock jumps, as a real meter's would.  --rate N sends
  N telegrams per real second (the meter clock still advances --interval per
  telegram, and nothing is skipped: meter time = start + (seq-1) * interval);
  --rate 0 sends as fast as the reader takes them.

outputs:
  --pty PATH   PATH becomes a symlink to a new pseudo-terminal's slave (raw
               mode).  While nobody has it open, telegrams are not written
               (manifest "delivered": false) and stale unread bytes are
               flushed, so a reader that opens it later starts with fresh
               telegrams (tests: use --wait so none is lost before the
               reader comes).  Writes are non-blocking: a reader that has
               the pty open but stops reading costs one 5 s wait, then
               telegrams that do not fit are dropped until it reads again
               ("delivered": false, "partial": N if cut).  A disconnect
               gives the reader up to 1 s to take the last telegram, removes
               the link, closes the pty (reader: EIO/hang-up), waits
               --disconnect-pause s and makes a new pty behind the same link.
  --tcp [HOST:]PORT  (default host 127.0.0.1; port 0 = any free port) every
               client gets the stream from the next telegram on.  A
               disconnect closes all clients; the server keeps listening.
  --stdout / --file OUT  the byte stream (default: --stdout).
  Once ready, --pty prints "pty PATH -> /dev/pts/N" (again after each
  disconnect) and --tcp prints "listening on HOST:PORT" (one line per meter)
  on stdout.  --baud-bits 7e1 works with every output.

generated meters (--generate):
  dsmr5   Iskra AM550 style, DSMR 5.0, gas every 5 min (capture time on the
          5-minute boundary), CRC.
  dsmr4   Landis+Gyr E350 style, DSMR 4.2 (no voltages), hourly gas, CRC.
  dsmr22  Iskra MT382 style, DSMR 2.2: no CRC, no clock line, 10 W power
          resolution, hourly gas as 0-1:24.3.0 + value on the next line.
  smarty  Luxembourg: totals 1.8.0/2.8.0, reactive energy, AES-128-GCM frame
          (DB 08 title 82 len 30 counter ciphertext tag12) unless
          --smarty-plain; --smarty-length 81/short for the other length
          forms (short telegrams only: use --play --smarty-encrypt),
          --smarty-hdlc to wrap each frame in HDLC as some adapters do.
  The household: base load, a fridge, appliances by time of day (kettle,
  oven, washer, EV charger...), solar on L1 by season and clouds; 230 V with
  load-dependent drift.  Tariff 1 (low) 23:00-07:00 local and weekends.
  Times are Europe/Amsterdam W/S computed from the EU rule (host TZ
  irrelevant).  Power shown = average over the interval ending at the
  telegram; registers integrate it exactly (integers), so consecutive
  register deltas equal power x interval to within 1 Wh.

binary HAN meters (--generate han-*, DLMS/COSEM push messages, 2400 baud):
  han-aidon     Aidon Norway (AIDON_V0001): array of {OBIS, value,
                scaler_unit}; HDLC 41/08 83/13; 2400 8E1.
  han-kaifa     Kaifa Norway (KFM_001): bare values by position, no OBIS,
                header date-time 09 0C; HDLC 01/02 01/control 10; 2400 8E1.
  han-kamstrup  Kamstrup HAN-NVE (Kamstrup_V0001): OBIS/value pairs, no
                scalers (I 0.01 A, U 1 V, energy 10 Wh); HDLC 2B/21/13;
                2400 8N1.  Lists 1 and 2 only.
  han-austria   Kaifa MA309 Netz NOe / EVN list (35 elements with
                scaler_unit), always encrypted (general-glo-ciphering SC 0x20
                = AES-CTR, or 0x30 = GCM when --han-auth-key is given), in
                M-Bus long frames of <= 245 data bytes (two segments, CI 00
                then 11), every 5 s; 2400 8E1.
  --han-list auto|1|2|3  auto (default): the longest list (with energies
                and the meter clock) on the first message of every hour,
                the middle one otherwise, as the meters do; 1/2/3 always
                that list (Kamstrup: 1 or 2; 3 = 2).  han-austria has one.
  --han-energy-scaler 0|1  han-kamstrup: energy in 10 Wh (1, the default,
                as the Kamstrup document) or in Wh (0, as Swedish Kamstrup
                firmware sends, with no scaler in the frame either way: the
                reader needs EnergyScaler 0 / dsmr-cat --energy-scaler 0).
  --han-clock local|zero|unspecified  han-aidon: the list-3 clock (local
                time) with its real offset, deviation 0 (the default, as
                Aidon Norway sends it) or 0x8000 "unspecified" (Aidon SE).
  --han-key HEX encrypt (general-glo-ciphering, system title from the
                vendor id + meter id, frame counter from --han-counter);
                han-austria default key 000102...0F.  --han-auth-key HEX
                makes it GCM (SC 0x30, AAD = 30 || AK, 12-byte tag).
  --han-mbus / --han-hdlc  M-Bus long frames (segments of --han-segment
                data bytes, default 245) or HDLC for any profile.
  --han-gbt N   HDLC: general-block-transfer, N APDU bytes per block/frame.
  The meter clock is Central European time (CET/CEST, EU rule): Kaifa and
  Kamstrup send deviation "unspecified" (0x8000), Austria the real one
  (-60/-120, status 0x80 in summer), Aidon local time with deviation 0
  and Sunday = 0 as the real meters do.  Currents are exact mA from the
  model, truncated to each vendor's resolution; energies are the sum of
  the tariff registers (1.8.0 = 1.8.1 + 1.8.2), truncated to 10 Wh where
  the vendor counts in 10 Wh.  A --pty is set to 2400 baud with the
  vendor's parity (Linux ptys keep the speed, not the parity).  Faults on binary frames: flip = one bit in an HDLC
  information field or M-Bus data (bad FCS / checksum), badcrc = wrong FCS
  or M-Bus checksum, cut = a prefix of the message (at least its last 2
  bytes missing), dropseg = one frame of a multi-frame message left out
  (M-Bus segment, GBT block; never the first one right after a message
  that was not delivered whole, which no reader could tell from the rest
  of that message), noise = junk between messages without 7E 68 DB '/'
  '!'.  A reader that drops a partial message when a frame fails its
  check gets exactly the clean messages.
  Manifest: registers = OBIS (A-B:C.D.E) -> exact decimal after the
  scaler, units = OBIS -> W/Wh/var/varh/V/A, strings (ids), list, clock
  (the 12 date-time bytes sent, hex), frames (how many), frame_counter,
  security_control and system_title when encrypted.

faults (--faults flip=P,cut=P,badcrc=P,dropseg=P,noise=P,disconnect=P,
        back1wh=P,future_gas=P, probabilities):
  flip    one bit of one byte between '/' and '!' (CRC error).  DSMR 2.2
          has no CRC: there a digit of an energy register changes instead,
          which a reader cannot detect, so use dsmr4/dsmr5 for reject tests.
  cut     only a prefix (ending before '!') is sent; the next telegram follows.
  badcrc  a wrong CRC (ignored for DSMR 2.2, which has none).
  noise   1..64 junk bytes (never '/' or '!') before the telegram; the
          telegram after noise is still clean.
  disconnect  after the telegram (pty and tcp only).
  back1wh     (data fault: CRC right) 1-0:1.8.1 written 1 Wh below the last
              value sent without a fault, as a meter rounding does.
  future_gas  (data fault: CRC right) the gas capture time a year ahead.

manifest (--manifest FILE, '-' = stdout): one JSON object per telegram,
  written and flushed after the telegram was handed to the output:
  seq (1-based, per meter), meter (index), port (tcp) or null, clean, fault,
  noise_before, disconnect_after, meter_time (ISO UTC), unix, registers
  (OBIS -> value text without unit, as in the telegram, before any damage),
  gas {time, m3} or null, delivered (a reader/client received it whole),
  clients (tcp: how many), bytes (sent, noise included), crc; with faults
  "detail" (flip offset/bit, cut length, bad crc); "lost_in_hangup" when a
  disconnect right after it destroyed the telegram before the reader had
  read it all ("delivered" is then false); with --play "file" (and
  "clean" is false for a file whose own CRC is wrong); smarty
  "frame_counter"; pty "partial".
  With --unique all energy registers grow by >= 0.001 kWh per telegram (which
  bends the power x time identity that otherwise holds to within 1 Wh).
"""


class Stop(Exception):
    """Raised from the signal handler to unwind to the clean-up code."""


def _positive_float(text):
    v = float(text)
    if not v > 0 or math.isinf(v) or math.isnan(v):
        raise argparse.ArgumentTypeError("must be a positive number")
    return v


def _nonneg_float(text):
    v = float(text)
    if not v >= 0 or math.isinf(v):
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def _nonneg_int(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def build_parser():
    ap = argparse.ArgumentParser(
        prog="dsmr-sim",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--pty", metavar="PATH", help="serve on a pseudo-terminal behind symlink PATH")
    out.add_argument("--tcp", metavar="[HOST:]PORT", help="serve TCP clients")
    out.add_argument("--stdout", action="store_true", help="write the stream to stdout (default)")
    out.add_argument("--file", metavar="OUT", help="write the stream to a file")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--play", nargs="+", metavar="FILE", help="replay .p1 files byte for byte, cycling")
    src.add_argument("--generate", choices=sorted(PROFILES) + sorted(han.PROFILES),
                     help="generate telegrams (default dsmr5), or binary HAN messages (han-*)")
    ap.add_argument("--interval", type=_positive_float, metavar="SECONDS",
                    help="meter period (default 1 for dsmr5 and --play, 10 for dsmr4/dsmr22/smarty)")
    ap.add_argument("--rate", type=_nonneg_float, metavar="N",
                    help="send N telegrams per real second; 0 = as fast as possible")
    ap.add_argument("--count", type=_nonneg_int, metavar="N", help="stop after N telegrams (per meter)")
    ap.add_argument("--start", metavar="ISO8601",
                    help="meter time of the first telegram (no offset = UTC; default now)")
    ap.add_argument("--faults", metavar="SPEC", default="", help="e.g. flip=0.05,cut=0.05,noise=0.1")
    ap.add_argument("--seed", type=int, help="random seed (default: random, logged)")
    ap.add_argument("--manifest", metavar="FILE", help="JSON lines, one per telegram sent")
    ap.add_argument("--meters", type=int, default=1, metavar="N",
                    help="with --tcp: N meters on ports PORT..PORT+N-1 (port 0: N free ports)")
    ap.add_argument("--no-solar", action="store_true",
                    help="no solar panels: the house imports all day (tests that need import at any hour)")
    ap.add_argument("--unique", action="store_true", help="every telegram's energy registers strictly increase")
    ap.add_argument("--baud-bits", choices=("8n1", "7e1"), default="8n1",
                    help="7e1: bit 7 carries even parity (a 7E1 line read as 8N1)")
    ap.add_argument("--disconnect-pause", type=_nonneg_float, default=2.0, metavar="SECONDS",
                    help="pty: how long the device is gone on a disconnect (default 2)")
    ap.add_argument("--wait", action="store_true",
                    help="start only once a reader has the pty open / a TCP client connected (+0.25 s)")
    ap.add_argument("--linger", type=_nonneg_float, default=2.0, metavar="SECONDS",
                    help="after --count, time given to readers to take queued data (default 2)")
    ap.add_argument("--text", default="", metavar="MSG",
                    help="text message 0-0:96.13.0 (hex-encoded in the telegram; long ones make big telegrams)")
    ap.add_argument("--smarty-key", default="000102030405060708090A0B0C0D0E0F", metavar="HEX",
                    help="smarty: AES-128 encryption key (32 hex digits)")
    ap.add_argument("--smarty-plain", action="store_true", help="smarty: send the telegram unencrypted")
    ap.add_argument("--smarty-title", metavar="HEX", help="smarty: 8-byte system title (default: from the serial)")
    ap.add_argument("--smarty-counter", type=_nonneg_int, default=1, metavar="N",
                    help="smarty: first frame counter (default 1)")
    ap.add_argument("--smarty-auth-key", metavar="HEX",
                    help="smarty: authentication key (default the Luxembourg one, 0011..EEFF)")
    ap.add_argument("--smarty-length", choices=("82", "81", "short"), default="82",
                    help="smarty: length form of the frame header (default 82, as the meter)")
    ap.add_argument("--smarty-hdlc", type=_nonneg_int, nargs="?", const=0, metavar="SEGMENT",
                    help="smarty: wrap every frame in HDLC; SEGMENT > 0: at most that many "
                    "information bytes per HDLC frame (segmented)")
    ap.add_argument("--smarty-encrypt", action="store_true",
                    help="with --play: encrypt the replayed telegrams as a Smarty meter does")
    ap.add_argument("--han-list", choices=("auto", "1", "2", "3"), default="auto",
                    help="han-*: which list (default auto: the full list hourly)")
    ap.add_argument("--han-clock", choices=("local", "zero", "unspecified"),
                    help="han-aidon: the list-3 clock's deviation: the real offset, 0 (the default, as"
                         " Aidon Norway sends), or 0x8000 unspecified (as Aidon Sweden sends)")
    ap.add_argument("--han-energy-scaler", type=int, choices=(0, 1), metavar="0|1",
                    help="han-kamstrup: energy registers count 10^N Wh: 1 (the default, 10 Wh as the"
                         " Kamstrup document) or 0 (Wh, as Swedish Kamstrup firmware sends)")
    ap.add_argument("--han-key", metavar="HEX", help="han-*: encrypt with this AES-128 key (32 hex digits)")
    ap.add_argument("--han-auth-key", metavar="HEX",
                    help="han-*: authentication key: GCM with tag (security control 0x30)")
    ap.add_argument("--han-counter", type=_nonneg_int, default=1, metavar="N",
                    help="han-*: first frame (invocation) counter when encrypted (default 1)")
    ap.add_argument("--han-title", metavar="HEX", help="han-*: 8-byte system title (default from the meter id)")
    tr = ap.add_mutually_exclusive_group()
    tr.add_argument("--han-mbus", action="store_true", help="han-*: M-Bus long frames (han-austria's default)")
    tr.add_argument("--han-hdlc", action="store_true", help="han-*: HDLC frames (default except han-austria)")
    ap.add_argument("--han-segment", type=int, default=han.MBUS_MAX_DATA, metavar="N",
                    help="han-* over M-Bus: data bytes per segment, 1..245 (default 245)")
    ap.add_argument("--han-gbt", type=int, metavar="N",
                    help="han-* over HDLC: general-block-transfer with N bytes per block")
    ap.add_argument("--quiet", action="store_true", help="no informational messages on stderr")
    return ap


class Manifest:
    def __init__(self, path):
        if path is None:
            self.f = None
        elif path == "-":
            self.f = sys.stdout
        else:
            self.f = open(path, "w", encoding="utf-8")

    def write(self, record):
        if self.f is not None:
            line = json.dumps(record, separators=(",", ":")) + "\n"
            if self.f is sys.stdout:  # a pipe may block: stay interruptible
                self.f.write(line)
                self.f.flush()
                return
            with signals_deferred():  # never leave half a line behind
                self.f.write(line)
                self.f.flush()

    def close(self):
        if self.f is not None and self.f is not sys.stdout:
            self.f.close()
        self.f = None


class SimMeter:
    """One meter: a telegram source (model+profile or player), its fault
    random stream and its sink."""

    def __init__(self, index, sink, args, seed, start_ms):
        self.index = index
        self.sink = sink
        self.seq = 0
        self.last_t1 = None  # 1-0:1.8.1 last sent without a fault (back1wh)
        self.rng = random.Random("%d/%d/faults" % (seed, index))
        self.player = None
        self.profile = None
        self.smarty = None
        self.han = None
        self.han_prev_whole = True  # the message before was delivered whole
        if args.play:
            self.player = Player(args.play)
            if args.smarty_encrypt:
                self._smarty(args, b"SAG" + (index + 1).to_bytes(5, "big"))
            return
        if args.generate in han.PROFILES:
            self.profile = han.PROFILES[args.generate](random.Random("%d/%d/identity" % (seed, index)), index)
            self.model = MeterModel(random.Random("%d/%d/model" % (seed, index)), start_ms,
                                    gas_period_s=3600, solar=not args.no_solar)
            self.profile.clock_deviation = args.han_clock
            if args.han_energy_scaler is not None:
                self.profile.energy_scaler = args.han_energy_scaler
            key = bytes.fromhex(args.han_key) if args.han_key else None
            if key is None and self.profile.always_encrypted:
                key = bytes(range(16))  # Austrian meters always encrypt
            transport = "mbus" if args.han_mbus else "hdlc" if args.han_hdlc else None
            self.han = han.HanSource(
                self.profile, args.han_list, key,
                bytes.fromhex(args.han_auth_key) if args.han_auth_key else None,
                args.han_counter, transport, args.han_segment, args.han_gbt, args.interval,
                bytes.fromhex(args.han_title) if args.han_title else None)
            return
        self.profile = PROFILES[args.generate](random.Random("%d/%d/identity" % (seed, index)), index)
        self.profile.text_message = args.text
        self.model = MeterModel(
            random.Random("%d/%d/model" % (seed, index)),
            start_ms,
            power_step_w=self.profile.power_step_w,
            gas_period_s=self.profile.gas_period_s,
            solar=not args.no_solar,
        )
        if args.generate == "smarty" and not args.smarty_plain:
            self._smarty(args, b"SAG" + int(self.profile.serial[-10:]).to_bytes(5, "big"))

    def _smarty(self, args, default_title):
        title = bytes.fromhex(args.smarty_title) if args.smarty_title else default_title
        auth = bytes.fromhex(args.smarty_auth_key) if args.smarty_auth_key else SMARTY_AUTH_KEY
        self.smarty = {"key": bytes.fromhex(args.smarty_key), "title": title, "fc": args.smarty_counter,
                       "auth": auth, "form": args.smarty_length, "hdlc": args.smarty_hdlc}

    def emit(self, t_ms, opts, manifest):
        if self.han is not None:
            return self._emit_han(t_ms, opts, manifest)
        self.seq += 1
        if self.player is not None:
            tel = self.player.next()
        else:
            tel = self.profile.render(self.model.step(t_ms, opts.unique))
        rng = self.rng
        damage, noisy, disc = opts.faults.roll(rng)
        data_faults = opts.faults.roll_data(rng)
        if damage == "dropseg":  # binary HAN messages only
            damage = None
        data = tel.data
        detail = None
        if damage == "flip":
            data, detail = faultmod.flip(tel, rng)
        elif damage == "badcrc":
            data, detail = faultmod.badcrc(tel, rng)
        if data is None:  # the fault does not apply to this telegram
            damage, data = None, tel.data
        registers, gas = tel.registers, tel.gas
        if damage is None and data_faults:  # values a meter got wrong
            data, registers, gas, detail, applied = faultmod.apply_data(tel, data_faults, self.last_t1)
            damage = ",".join(applied) or None
        if damage is None:  # back1wh: below the last value sent unfaulted
            self.last_t1 = registers.get("1-0:1.8.1", self.last_t1)
        if opts.parity:
            data = faultmod.even_parity_7e1(data)
        frame_counter = None
        if self.smarty is not None:
            frame_counter = self.smarty["fc"]
            sm = self.smarty
            data = smarty_frame(sm["key"], sm["title"], frame_counter, data, sm["form"], sm["auth"])
            if sm["hdlc"] is not None:
                data = hdlc_wrap(data, sm["hdlc"])
            self.smarty["fc"] = (frame_counter + 1) & 0xFFFFFFFF
        if damage == "cut":
            limit = len(data) - 1 if self.smarty is not None else tel.bang
            data, detail = faultmod.cut(data, limit, rng)
        prefix = faultmod.noise(rng) if noisy else b""

        result, disconnect_after, lost_in_hangup = self._send(prefix + data, disc)
        record = {
            "seq": self.seq,
            "meter": self.index,
            "port": self.sink.port,
            "clean": damage not in faultmod.DAMAGES and tel.crc_ok,
            "fault": damage,
            "noise_before": bool(prefix),
            "disconnect_after": disconnect_after,
            "meter_time": clock.iso_utc(tel.unix) if tel.unix is not None else None,
            "unix": tel.unix,
            "registers": registers,
            "gas": {"time": gas["time"], "m3": gas["m3"]} if gas else None,
            "delivered": result["delivered"],
            "bytes": len(prefix) + len(data),
            "crc": tel.crc_text,
        }
        self._note_send(record, result, lost_in_hangup, detail)
        if tel.source:
            record["file"] = tel.source
        if frame_counter is not None:
            record["frame_counter"] = frame_counter
        manifest.write(record)
        if disconnect_after:
            self.sink.come_back()
        return disconnect_after


    def _send(self, data, disc):
        """Send one message; with disc (and a sink that can), hang up after
        it. Returns (the sink's result, disconnect_after, lost_in_hangup)."""
        result = self.sink.send(data)
        disconnect_after = bool(disc and self.sink.can_disconnect)
        lost_in_hangup = False
        if disconnect_after:
            # Hang up before the manifest line is written: if the reader had
            # not read the message by then, the hang-up destroyed it, and
            # the manifest must not call it delivered.
            lost_in_hangup = not self.sink.hang_up() and result["delivered"]
            if lost_in_hangup:
                result["delivered"] = False
        return result, disconnect_after, lost_in_hangup

    @staticmethod
    def _note_send(record, result, lost_in_hangup, detail):
        """What the sending did, into a manifest record."""
        for k in ("clients", "partial"):
            if k in result:
                record[k] = result[k]
        if lost_in_hangup:
            record["lost_in_hangup"] = True
        if detail:
            record["detail"] = detail

    def _emit_han(self, t_ms, opts, manifest):
        """One binary HAN push message (see han.py); the manifest says what a
        reader must decode from it."""
        self.seq += 1
        s = self.model.step(t_ms, opts.unique)
        frames, msg, info = self.han.next(s)
        rng = self.rng
        damage, noisy, disc = opts.faults.roll(rng)
        detail = None
        if damage is not None:
            if damage == "dropseg":
                damaged, detail = han.dropseg(frames, rng, first=self.han_prev_whole)
            else:
                damaged, detail = {"flip": han.flip, "cut": han.cut, "badcrc": han.badcrc}[damage](frames, rng)
            if damaged is None:  # e.g. dropseg on a one-frame message
                damage = None
            else:
                frames = damaged
        data = b"".join(frames)
        prefix = han.noise(rng) if noisy else b""
        result, disconnect_after, lost_in_hangup = self._send(prefix + data, disc)
        record = {
            "seq": self.seq,
            "meter": self.index,
            "port": self.sink.port,
            "clean": damage is None,
            "fault": damage,
            "noise_before": bool(prefix),
            "disconnect_after": disconnect_after,
            "meter_time": clock.iso_utc(s["unix"]),
            "unix": s["unix"],
            "registers": msg.registers,
            "units": msg.units,
            "strings": msg.strings,
            "list": msg.list,
            "clock": msg.clock,
            "frames": len(frames),
            "gas": None,
            "delivered": result["delivered"],
            "bytes": len(prefix) + len(data),
            "crc": None,
        }
        record.update(info)
        self._note_send(record, result, lost_in_hangup, detail)
        self.han_prev_whole = damage is None and result["delivered"] and "partial" not in result
        manifest.write(record)
        if disconnect_after:
            self.han_prev_whole = False
            self.sink.come_back()
        return disconnect_after


class Options:
    pass


def _validate(ap, args):
    if not args.play and not args.generate:
        args.generate = "dsmr5"
    if args.manifest == "-" and not (args.pty or args.tcp or args.file):
        ap.error("--manifest - needs an output other than stdout")
    if args.meters < 1:
        ap.error("--meters must be >= 1")
    if args.meters > 1 and not args.tcp:
        ap.error("--meters needs --tcp")
    if args.unique and args.play:
        ap.error("--unique applies to generated telegrams, not --play")
    if args.baud_bits == "7e1" and args.generate == "smarty" and not args.smarty_plain:
        ap.error("--baud-bits 7e1 makes no sense for an encrypted (binary) smarty stream")
    if args.generate == "smarty" and args.smarty_length != "82" and not args.smarty_plain:
        ap.error("--smarty-length %s: generated Smarty telegrams are too long for it; use --play "
                 "with a short telegram and --smarty-encrypt" % args.smarty_length)
    if args.smarty_encrypt and not args.play:
        ap.error("--smarty-encrypt applies to --play (--generate smarty encrypts anyway)")
    if args.baud_bits == "7e1" and args.smarty_encrypt:
        ap.error("--baud-bits 7e1 makes no sense for an encrypted (binary) smarty stream")
    is_han = args.generate in han.PROFILES
    if is_han:
        if args.baud_bits == "7e1":
            ap.error("--baud-bits 7e1 makes no sense for a binary HAN stream")
        for opt, val in (("--han-key", args.han_key), ("--han-auth-key", args.han_auth_key)):
            try:
                if val is not None and len(bytes.fromhex(val)) != 16:
                    raise ValueError
            except ValueError:
                ap.error("%s must be 32 hex digits" % opt)
        if args.han_title is not None:
            try:
                if len(bytes.fromhex(args.han_title)) != 8:
                    raise ValueError
            except ValueError:
                ap.error("--han-title must be 16 hex digits")
        if not 1 <= args.han_segment <= han.MBUS_MAX_DATA:
            ap.error("--han-segment must be 1..%d" % han.MBUS_MAX_DATA)
        if args.han_gbt is not None and args.han_gbt < 1:
            ap.error("--han-gbt must be >= 1")
        mbus = args.han_mbus or (han.PROFILES[args.generate].transport == "mbus" and not args.han_hdlc)
        if args.han_gbt and mbus:
            ap.error("--han-gbt applies to HDLC (not M-Bus) streams")
        if args.han_auth_key and not args.han_key and not han.PROFILES[args.generate].always_encrypted:
            ap.error("--han-auth-key needs --han-key")
        if args.han_energy_scaler is not None and args.generate != "han-kamstrup":
            ap.error("--han-energy-scaler applies to --generate han-kamstrup")
    else:
        used = [o for o, v in (("--han-key", args.han_key), ("--han-auth-key", args.han_auth_key),
                               ("--han-title", args.han_title), ("--han-gbt", args.han_gbt),
                               ("--han-energy-scaler", args.han_energy_scaler))
                if v is not None] + [o for o, v in (("--han-mbus", args.han_mbus), ("--han-hdlc", args.han_hdlc))
                                     if v]
        if used:
            ap.error("%s applies to --generate han-*" % used[0])
    if args.interval is None:
        if is_han:
            args.interval = han.PROFILES[args.generate].default_interval
        else:
            args.interval = PROFILES[args.generate].default_interval if args.generate else 1.0
    if args.generate == "smarty" or args.smarty_encrypt:
        for opt, val in (("--smarty-key", args.smarty_key), ("--smarty-auth-key", args.smarty_auth_key)):
            try:
                if val is not None and len(bytes.fromhex(val)) != 16:
                    raise ValueError
            except ValueError:
                ap.error("%s must be 32 hex digits" % opt)
        if args.smarty_title is not None:
            try:
                if len(bytes.fromhex(args.smarty_title)) != 8:
                    raise ValueError
            except ValueError:
                ap.error("--smarty-title must be 16 hex digits")
    try:
        args.fault_spec = faultmod.FaultSpec(args.faults)
    except ValueError as e:
        ap.error("--faults: %s" % e)
    if args.start is not None:
        try:
            args.start_unix = clock.parse_iso(args.start)
        except ValueError:
            ap.error("--start: %r is not an ISO 8601 date-time" % args.start)
    if args.tcp:
        try:
            args.tcp_host, args.tcp_port = parse_hostport(args.tcp)
        except ValueError as e:
            ap.error("--tcp: %s" % e)
        if args.tcp_port and args.tcp_port + args.meters - 1 > 65535:
            ap.error("--tcp: ports run past 65535")
    if args.play:
        for p in args.play:
            if not os.path.isfile(p):
                ap.error("--play: %s: no such file" % p)


def _make_sinks(args):
    if args.pty:
        line = None
        if args.generate in han.PROFILES:
            line = (2400, han.PROFILES[args.generate].line + "1")
        return [PtySink(args.pty, pause=args.disconnect_pause, line=line)]
    if args.tcp:
        sinks = []
        for i in range(args.meters):
            port = args.tcp_port + i if args.tcp_port else 0
            sinks.append(TcpSink(args.tcp_host, port))
        return sinks
    if args.file:
        return [StreamSink(args.file)]
    return [StreamSink(None)]


def main(argv=None):
    ap = build_parser()
    args = ap.parse_args(argv)
    _validate(ap, args)

    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    if not args.quiet:
        log("seed %d" % seed)

    def on_signal(signum, frame):
        raise Stop(signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    sinks = []
    manifest = None
    finished = False
    failed = False
    try:
        try:
            with signals_deferred():  # so that `sinks` is known to the clean-up
                sinks = _make_sinks(args)
        except (OSError, ValueError) as e:
            log("cannot open the output: %s" % e)
            return 1
        try:
            manifest = Manifest(args.manifest)
        except OSError as e:
            log("cannot open the manifest: %s" % e)
            return 1
        loop = IoLoop(sinks)
        if args.wait:
            loop.run_until(None, lambda: any(s.has_reader() for s in sinks))
            # Readers often flush their input right after opening the port
            # (tcsetattr TCSAFLUSH, tcflush): give them a moment to do so
            # before the first telegram.
            loop.run_until(time.monotonic() + 0.25)

        opts = Options()
        opts.unique = args.unique
        opts.faults = args.fault_spec
        opts.parity = args.baud_bits == "7e1"
        interval_ms = max(1, int(round(args.interval * 1000)))
        realtime = args.rate is None
        if realtime:
            period = args.interval
        elif args.rate == 0:
            period = None
        else:
            period = 1.0 / args.rate

        if args.start is not None:
            start_ms = int(round(args.start_unix * 1000))
        elif realtime:
            # A real-time meter ticks on whole wall-clock seconds, so its clock
            # and the reader's agree.
            now = time.time()
            time.sleep(math.ceil(now) - now)
            start_ms = int(round(time.time())) * 1000
        else:
            start_ms = int(time.time()) * 1000

        meters = [SimMeter(i, s, args, seed, start_ms) for i, s in enumerate(sinks)]

        t0 = time.monotonic()
        slot = 0
        sent = 0
        while args.count is None or sent < args.count:
            if period is not None:
                due = t0 + slot * period
                loop.run_until(due)
                if realtime:
                    behind = time.monotonic() - due
                    if behind >= period:
                        slot += int(behind // period)  # the meter kept time; we lost those
            else:
                loop.poll_once(0)
            if not realtime:
                # Faster than real time: let TCP readers set the pace rather
                # than dropping them for being slow.
                loop.run_until(None, lambda: max(s.backlog() for s in sinks) < HIGH_WATER)
            t_ms = start_ms + slot * interval_ms
            disconnected = False
            for m in meters:
                disconnected |= m.emit(t_ms, opts, manifest)
            sent += 1
            slot += 1
            if disconnected and period is not None and not realtime:
                t0 = time.monotonic() - slot * period  # no catch-up burst after a pause
        finished = True
    except Stop:
        pass
    except ConsumerGone:
        pass
    except ValueError as e:  # a --play telegram too long for --smarty-length
        log("cannot send: %s" % e)
        failed = True
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for s in sinks:
            try:
                if not s.close(args.linger if finished else 0.0) and finished:
                    log("closing: the reader did not take everything within --linger %g s; the last "
                        "telegram(s) may not have arrived" % args.linger)
            except OSError as e:
                log("closing: %s" % e)
        if manifest is not None:
            manifest.close()
    return 1 if failed else 0
