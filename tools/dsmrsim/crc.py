"""CRC-16/ARC as used by DSMR 4+ (poly 0x8005 reflected = 0xA001, init 0,
no final xor), computed over every byte from '/' through '!'."""

def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_arc(data, crc=0):
    """Return the CRC-16/ARC of `data` (bytes-like)."""
    table = _TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc
