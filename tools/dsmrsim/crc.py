"""CRC-16/ARC as used by DSMR 4+ (poly 0x8005 reflected = 0xA001, init 0,
no final xor), computed over every byte from '/' through '!'."""

def _reflected_table(poly):
    """The byte table of a reflected CRC-16 with polynomial poly."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _reflected_table(0xA001)


def crc16_arc(data, crc=0):
    """Return the CRC-16/ARC of `data` (bytes-like)."""
    table = _TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


# CRC-16/X.25 (RFC 1662 FCS-16, the HDLC frame check of HAN meters):
# reflected poly 0x8408, init and xorout 0xFFFF
_X25 = _reflected_table(0x8408)


def crc16_x25(data):
    """Return the CRC-16/X.25 of `data` (bytes-like)."""
    crc = 0xFFFF
    for b in data:
        crc = (crc >> 8) ^ _X25[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF
