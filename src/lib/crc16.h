/* CRC-16/ARC (poly 0x8005 reflected = 0xA001, init 0, no final xor), the
 * checksum DSMR 4+ meters append after '!'. Incremental: pass the previous
 * return value as `crc` to continue a running checksum (start with 0). */
#ifndef DSMR_CRC16_H
#define DSMR_CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t dsmr_crc16(uint16_t crc, const void *data, size_t len);

#endif
