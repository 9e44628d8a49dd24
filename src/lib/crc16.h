/* CRC-16/ARC (poly 0x8005 reflected = 0xA001, init 0, no final xor), the
 * checksum DSMR 4+ meters append after '!'. Incremental: pass the previous
 * return value as `crc` to continue a running checksum (start with 0). */
#ifndef DSMR_CRC16_H
#define DSMR_CRC16_H

#include <stddef.h>
#include <stdint.h>

uint16_t dsmr_crc16(uint16_t crc, const void *data, size_t len);

/* The two implementations dsmr_crc16 chooses between, for the tests and
 * benchmarks: the portable one (slice-by-16 tables), and one by
 * carry-less multiplication (x86-64 PCLMULQDQ), which dsmr_crc16 uses when
 * dsmr_crc16_have_clmul() says the CPU has it. dsmr_crc16_clmul must only
 * be called then (elsewhere it is the portable code). */
uint16_t dsmr_crc16_portable(uint16_t crc, const void *data, size_t len);
uint16_t dsmr_crc16_clmul(uint16_t crc, const void *data, size_t len);
int dsmr_crc16_have_clmul(void);

#endif
