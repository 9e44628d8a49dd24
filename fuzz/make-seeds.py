#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

Run by hand when the telegram corpus or the targets' input formats change;
the output is committed. It (over)writes its own seeds only: the rest of
each corpus is what the fuzz campaigns added (fuzz/README.md, "Campaign"). fuzz_telegram seeds are the real telegrams of
tests/corpus/telegrams (with the 3-byte header fuzz_telegram.c expects:
mode, buffer size), plus concatenations, cut ones, noise, tiny buffers and
odd CRC lines. fuzz_values and fuzz_config seeds are written out below, and
fuzz_smarty recipes that seal real telegrams in every wrapping.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TELEGRAMS = os.path.join(HERE, "..", "tests", "corpus", "telegrams")
OUT = os.path.join(HERE, "corpus")


def header(mode, size):
    """fuzz_telegram's 3 bytes: chunking mode and framer buffer size."""
    return bytes([mode & 0xFF, (size >> 8) & 0xFF, size & 0xFF])


ONE_PIECE, DEFAULT = 3, 8192


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def telegram_seeds():
    names = sorted(n for n in os.listdir(TELEGRAMS) if n.endswith(".p1"))
    tel = {}
    for n in names:
        with open(os.path.join(TELEGRAMS, n), "rb") as f:
            tel[n[:-3]] = f.read()
        # One piece at the default size; a few in small fixed chunks or
        # random chunks, so that every chunking mode starts with real data.
        write("fuzz_telegram", n[:-3], header(ONE_PIECE, DEFAULT) + tel[n[:-3]])
    keys = list(tel)
    t0, t1, t2 = tel[keys[0]], tel[keys[3]], tel[keys[16]]
    write("fuzz_telegram", "chunks7", header((6 << 2) | 0, DEFAULT) + t1)
    write("fuzz_telegram", "chunks_rand64", header(0x55, DEFAULT) + t1)
    write("fuzz_telegram", "chunks_rand4096", header(0x56, DEFAULT) + t0)
    # Back to back, as one read delivers them ("...!73A4/ISK5...").
    write("fuzz_telegram", "concat3", header(0x55, DEFAULT) + t0 + t1 + t2)
    write("fuzz_telegram", "concat_nocrlf",
          header(ONE_PIECE, DEFAULT) + t1.rstrip(b"\r\n") + t2)
    # Noise between telegrams, and a telegram cut short by the next one.
    write("fuzz_telegram", "noise_between",
          header(0x21, DEFAULT) + b"\x00\xff garbage\r\n" + t0 + b"!!//" + t1)
    write("fuzz_telegram", "cut_then_whole",
          header(0x55, DEFAULT) + t1[: len(t1) // 2] + t2)
    write("fuzz_telegram", "cut_at_crc",
          header(ONE_PIECE, DEFAULT) + t1[: t1.rindex(b"!") + 2])
    # A buffer just big enough, one byte too small, and tiny.
    frame_len = t1.rindex(b"!") + 1
    write("fuzz_telegram", "size_exact", header(ONE_PIECE, frame_len) + t1)
    write("fuzz_telegram", "size_short", header(ONE_PIECE, frame_len - 1) + t1)
    write("fuzz_telegram", "size_64", header(0x55, 64) + t0 + t1)
    write("fuzz_telegram", "size_0", header(ONE_PIECE, 0) + t0)
    # CRC lines: lower case, short, malformed, missing.
    body = t1[: t1.rindex(b"!") + 1]
    for name, tail in [("crc_lower", b"ab12\r\n"), ("crc_short", b"1\r\n"),
                       ("crc_bad_char", b"12G4\r\n"), ("crc_none", b"\r\n"),
                       ("crc_lf_only", b"12\n")]:
        write("fuzz_telegram", name, header(ONE_PIECE, DEFAULT) + body + tail)
    # DSMR 3 continuation line and a wrapped text message.
    write("fuzz_telegram", "dsmr3_gas",
          header(ONE_PIECE, DEFAULT) +
          b"/ISk5\\2MT382-1004\r\n\r\n0-1:24.3.0(090212160000)(00)(60)(1)"
          b"(0-1:24.2.1)(m3)\r\n(00124.477)\r\n0-0:96.13.0(303132\r\n"
          b"3334)\r\n!\r\n")


VALUES = [
    # numbers
    "000687.138*kWh", "0", "-0", "-0.5", "00.000", "0.0", "5.", ".5", "-",
    "123456789012345678", "1234567890123456789", "0.000000000000000001",
    "0.0000000000000000001", "999999999999999999*Wh", "00124.477",
    "2147483647*s", "100.0*A,-100.0*A", "001.23*m3", "01.193*kW",
    "0230.0*V", "1.5*kvarh", "12*ABCDEFGHIJKLMNOP", "12*ABCDEFGHIJKLMNOPQ",
    "1*", "1*k W", "+5", "00000000000000000000000000001.5",
    "4530303034303031353934373534343134", "-922337203685477580",
    # timestamps
    "230101120000W", "700101010000W", "000101010000W", "231029025959S",
    "231029025959W", "231029023000", "240331023000", "240331013000",
    "240229235959W", "230229000000W", "991231235959S", "000000000000W",
    "230101120000X", "230101120000", "2301011200", "241027020000",
    "241027030000", "210101000000s",
    # COSEM clocks
    "07E8061C050A2B2B00FF8880", "07E8061C050A2B2B00800000",
    "07e8061c050a2b2b00ff8880", "FFFF061C050A2B2B00FF8880",
    "07E8021D050A2B2B00FF8880", "07E7021D050A2B2B00FF8880",
    "07E80A1B0502300000800000", "0000010101000000000000FF",
    "FFFE0C1F0717383B00FCC400", "07E8061C050A2B2B00FF880",
    # a whole line: pieces are tried one by one
    "0-1:24.2.1(230101120000W)(00012.345*m3)",
    "1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)",
]


def values_seeds():
    for i, v in enumerate(VALUES):
        write("fuzz_values", "v%02d" % i, v.encode("latin-1"))
    # The first 8 bytes also feed the UTC formatter.
    write("fuzz_values", "raw_min", b"\x00" * 7 + b"\x80")
    write("fuzz_values", "raw_max", b"\xff" * 7 + b"\x7f")
    write("fuzz_values", "raw_neg1", b"\xff" * 8)


CONFIGS = {
    "device": '<Meter "home">\n  Device "/dev/ttyUSB0"\n</Meter>\n',
    "tcp": '<Meter "net">\n  Host "192.168.1.50"\n  Port 23\n</Meter>\n',
    "all_options": '<Meter "all">\n  Device "/dev/serial/by-id/usb-x"\n'
                   '  Baudrate 9600\n  DataBits 7\n  Parity "even"\n'
                   '  StopBits 1\n  DataRequest "rts"\n  CheckCRC false\n'
                   '  MaxTelegramSize 16384\n  SilenceTimeout 60\n</Meter>\n',
    "two_meters": '<Meter "a">\n Device "/dev/ttyUSB0"\n</Meter>\n'
                  '<Meter "b">\n Host "meter.local"\n Port "2323"\n'
                  ' CheckCRC "yes"\n</Meter>\n',
    "string_numbers": '<Meter "s">\n Device "/dev/ttyS0"\n Baudrate "115200"'
                      '\n StopBits "2"\n MaxTelegramSize "1e4"\n</Meter>\n',
    "no_source": '<Meter "x">\n Baudrate 115200\n</Meter>\n',
    "both_sources": '<Meter "x">\n Device "/dev/ttyUSB0"\n Host "h"\n'
                    ' Port 1\n</Meter>\n',
    "bad_values": '<Meter "x">\n Device "ttyUSB0"\n Baudrate "auto"\n'
                  ' Parity "maybe"\n DataBits 9\n StopBits 1.5\n'
                  ' MaxTelegramSize 100\n SilenceTimeout -1\n'
                  ' CheckCRC "perhaps"\n DataRequest 1\n</Meter>\n',
    "repeated": '<Meter "x">\n Device "/dev/a"\n device "/dev/b"\n</Meter>\n',
    "nested": '<Meter "x">\n Device "/dev/a"\n <Inner 1>\n  K v\n </Inner>\n'
              '</Meter>\n',
    "bad_name": '<Meter "a b/c">\n Device "/dev/a"\n</Meter>\n'
                '<Meter>\n Device "/dev/a"\n</Meter>\n'
                '<Meter 12>\n Device "/dev/a"\n</Meter>\n',
    "port_without_host": '<Meter "x">\n Device "/dev/a"\n Port 99999\n'
                         '</Meter>\n',
    "host_no_port": '<Meter "x">\n Host "h"\n Baudrate 9600\n</Meter>\n',
    "silence_frac": '<Meter "x">\n Device "/dev/a"\n SilenceTimeout 0.5\n'
                    '</Meter>\n<Meter "y">\n Device "/dev/a"\n'
                    ' SilenceTimeout 0\n</Meter>\n',
    "unknown_option": '<Meter "x">\n Device "/dev/a"\n Colour "blue"\n'
                      '</Meter>\nLogLevel "info"\n',
    "long_device": '<Meter "x">\n Device "/' + "d" * 300 + '"\n</Meter>\n',
    "huge_numbers": '<Meter "x">\n Device "/dev/a"\n Baudrate 1e300\n'
                    ' MaxTelegramSize -1e300\n SilenceTimeout 1e400\n'
                    ' Port 0x10000\n</Meter>\n',
    "escapes": '<Meter "x\\"y">\n Device "/dev/\\\\a" # comment\n</Meter>\n',
}


def config_seeds():
    for name, text in CONFIGS.items():
        write("fuzz_config", name, text.encode())


def smarty_seeds():
    """fuzz_smarty recipes (see fuzz_smarty.c): records [op][len16][text]."""
    names = sorted(n for n in os.listdir(TELEGRAMS) if n.endswith(".p1"))
    with open(os.path.join(TELEGRAMS, "dsmrreader_smarty.p1"), "rb") as f:
        lux = f.read()
    with open(os.path.join(TELEGRAMS, names[0]), "rb") as f:
        other = f.read()
    cap = 2048 + 30 + 2064 - 64  # DSMR_SMARTY_BUF_SIZE(2048), as encoded
    head = bytes([ONE_PIECE, cap >> 8, cap & 0xFF])

    def rec(op, data):
        return bytes([op | 8, len(data) >> 8, len(data) & 0xFF]) + data

    short = b"/XMX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!\r\n"
    seeds = {
        "bare_82": rec(0x21, lux),
        "bare_short": rec(0x01, short),
        "bare_81": rec(0x11, short * 3),
        "title_b": rec(0x81, lux),
        "hdlc_llc": rec(0x02, lux),
        "hdlc_no_llc_long_addr": rec(0xC2, lux),
        "hdlc_segments_64": rec(0x33, lux),
        "hdlc_segments_8_shared": rec(0x43, short),
        "mixed": (rec(0, b"\x00\x7e\xdb\x08 noise") + rec(0x21, lux) +
                  rec(0x24, b"\x00\x40\x10" + lux) + rec(0x21, other) +
                  rec(0x25, b"\x33" + lux) + rec(0x22, lux) +
                  rec(0x27, lux) + rec(0x33, other) + rec(0x61, lux) +
                  rec(0x06, b"") + rec(0x21, short)),
        "noise_only": rec(0, bytes(range(256))),
        # Damage inside the wrapping: a changed byte and a cut, in one HDLC
        # frame and in segmented HDLC, each followed by a good frame.
        "hdlc_flipped": rec(0x84, b"\x00\x30\x55" + lux) + rec(0x02, lux),
        "segments_flipped": (rec(0xF4, b"\x01\x10\x01" + lux) +
                             rec(0x33, lux)),
        "hdlc_cut": rec(0x85, b"\x01\x00" + lux) + rec(0x02, lux),
        "segments_cut_then_bare": (rec(0xE5, b"\x00\x90" + lux) +
                                   rec(0x21, lux)),
    }
    for name, body in seeds.items():
        write("fuzz_smarty", name, head + body)
    # A small buffer: frames that do not fit.
    write("fuzz_smarty", "small_cap", bytes([0x55, 0, 200]) +
          rec(0x21, lux) + rec(0x01, short))


def main():
    # No clean slate: corpus/<target>/ also holds what the fuzz campaigns
    # added (files named by their SHA-1, README.md "Campaign"), and the
    # corpora of fuzz_han, fuzz_input_chain and fuzz_rules are not written
    # here at all. The seeds below are a subset of the corpus; rewriting
    # them leaves the rest alone.
    telegram_seeds()
    values_seeds()
    config_seeds()
    smarty_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
