"""AES-128-GCM encryption (NIST SP 800-38D), standard library only, and the
Luxembourg Smarty P1 envelope built on it.

Only encryption is needed: the simulator plays the meter.  Speed is modest
(pure Python, ~ms per telegram), which is plenty for one telegram every 10 s
and acceptable for floods.
"""

from .crc import crc16_x25

_SBOX = []


def _init_sbox():
    # Build the AES S-box from its definition (inverse in GF(2^8) followed by
    # the affine map) rather than typing 256 constants.
    p = q = 1
    sbox = [0] * 256
    while True:
        # p := p * 3
        p ^= ((p << 1) ^ (0x1B if p & 0x80 else 0)) & 0xFF
        # q := q / 3
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        rot = lambda x, s: ((x << s) | (x >> (8 - s))) & 0xFF  # noqa: E731
        sbox[p] = q ^ rot(q, 1) ^ rot(q, 2) ^ rot(q, 3) ^ rot(q, 4) ^ 0x63
        if p == 1:
            break
    sbox[0] = 0x63
    _SBOX.extend(sbox)


_init_sbox()


def _xtime(b):
    return ((b << 1) ^ 0x1B) & 0xFF if b & 0x80 else b << 1


def _expand_key(key):
    if len(key) != 16:
        raise ValueError("AES-128 needs a 16-byte key")
    words = [list(key[i : i + 4]) for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = list(words[i - 1])
        if i % 4 == 0:
            t = t[1:] + t[:1]
            t = [_SBOX[b] for b in t]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        words.append([a ^ b for a, b in zip(words[i - 4], t)])
    return [sum(words[4 * r : 4 * r + 4], []) for r in range(11)]


def _encrypt_block(round_keys, block):
    s = [a ^ b for a, b in zip(block, round_keys[0])]
    sbox = _SBOX
    for rnd in range(1, 11):
        s = [sbox[b] for b in s]
        # ShiftRows: state is column-major (s[4*c + r]).
        s = [s[(4 * (c + r)) % 16 + r] for c in range(4) for r in range(4)]
        if rnd != 10:
            out = []
            for c in range(4):
                a0, a1, a2, a3 = s[4 * c : 4 * c + 4]
                t = a0 ^ a1 ^ a2 ^ a3
                out += [
                    a0 ^ t ^ _xtime(a0 ^ a1),
                    a1 ^ t ^ _xtime(a1 ^ a2),
                    a2 ^ t ^ _xtime(a2 ^ a3),
                    a3 ^ t ^ _xtime(a3 ^ a0),
                ]
            s = out
        s = [a ^ b for a, b in zip(s, round_keys[rnd])]
    return bytes(s)


def _gf_mult(x, y):
    """Multiply in GF(2^128) with GCM's bit order (x, y as 128-bit ints)."""
    r = 0xE1 << 120
    z = 0
    v = y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def _ghash(h, data):
    y = 0
    for i in range(0, len(data), 16):
        block = data[i : i + 16]
        block = block + b"\0" * (16 - len(block))
        y = _gf_mult(y ^ int.from_bytes(block, "big"), h)
    return y


def gcm_encrypt(key, iv, plaintext, aad=b"", tag_len=16):
    """Return (ciphertext, tag) for AES-128-GCM with a 96-bit IV."""
    if len(iv) != 12:
        raise ValueError("only 96-bit IVs are supported")
    rk = _expand_key(key)
    h = int.from_bytes(_encrypt_block(rk, b"\0" * 16), "big")
    j0 = iv + b"\0\0\0\1"
    out = bytearray()
    for n, i in enumerate(range(0, len(plaintext), 16)):
        counter = iv + ((2 + n) & 0xFFFFFFFF).to_bytes(4, "big")
        ks = _encrypt_block(rk, counter)
        chunk = plaintext[i : i + 16]
        out += bytes(a ^ b for a, b in zip(chunk, ks))
    ct = bytes(out)

    def pad(b):
        return b + b"\0" * (-len(b) % 16)

    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ct) * 8).to_bytes(8, "big")
    s = _ghash(h, pad(aad) + pad(ct) + lengths)
    tag = (s ^ int.from_bytes(_encrypt_block(rk, j0), "big")).to_bytes(16, "big")
    return ct, tag[:tag_len]


# Luxembourg Smarty: AAD = 0x30 || fixed authentication key (spec 3.2.5).
SMARTY_AUTH_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def smarty_frame(key, system_title, frame_counter, telegram, length_form="82",
                 auth_key=SMARTY_AUTH_KEY):
    """Wrap a plain telegram in the general-glo-ciphering frame:
    DB 08 <system title> <length> 30 <frame counter> <ciphertext> <12-byte tag>,
    where length = 17 + len(telegram), written as length_form says: "82"
    (82 + 2 bytes, what the meter sends), "81" (81 + 1 byte) or "short"
    (one byte below 0x80)."""
    if len(system_title) != 8:
        raise ValueError("system title must be 8 bytes")
    fc = frame_counter.to_bytes(4, "big")
    ct, tag = gcm_encrypt(key, system_title + fc, telegram, b"\x30" + auth_key, 12)
    length = 17 + len(telegram)
    limit, prefix = {"82": (0xFFFF, b"\x82"), "81": (0xFF, b"\x81"), "short": (0x7F, b"")}[length_form]
    if length > limit:
        raise ValueError("telegram of %d bytes too long for the %s length form (at most %d)"
                         % (len(telegram), length_form, limit - 17))
    size = 2 if length_form == "82" else 1
    return b"\xdb\x08" + system_title + prefix + length.to_bytes(size, "big") + b"\x30" + fc + ct + tag


def hdlc_wrap(frame, segment=0):
    """What some Smarty adapters deliver: the frame inside HDLC (IEC 62056-46
    frame format type 3): 7E A0|S|len dst(41) src(03) control(13) HCS
    E6 E7 00 <frame> FCS 7E, HCS and FCS CRC-16/X.25 low byte first.  With
    segment > 0, at most that many information bytes per HDLC frame (the S
    bit marks all but the last)."""
    info = b"\xe6\xe7\x00" + frame
    step = segment or len(info)
    out = bytearray()
    for pos in range(0, len(info), step):
        part = info[pos : pos + step]
        more = pos + step < len(info)
        flen = 2 + 1 + 1 + 1 + 2 + len(part) + 2
        if flen > 0x7FF:
            raise ValueError("HDLC frame of %d bytes: use a segment size" % flen)
        head = bytes([0xA0 | (0x08 if more else 0) | flen >> 8, flen & 0xFF, 0x41, 0x03, 0x13])
        hcs = crc16_x25(head)
        body = head + bytes([hcs & 0xFF, hcs >> 8]) + part
        fcs = crc16_x25(body)
        out += b"\x7e" + body + bytes([fcs & 0xFF, fcs >> 8]) + b"\x7e"
    return bytes(out)
