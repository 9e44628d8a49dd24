/* One hex digit's value: 0..15 for 0-9, a-f, A-F; -1 for any other byte.
 * For the CRC line (framer), keys (smarty), text messages (the plugin) and
 * COSEM octet strings (timestamp). */
#ifndef DSMR_HEX_H
#define DSMR_HEX_H

static inline int dsmr_hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20; /* folds 'A'..'F' onto 'a'..'f'; no other byte lands there */
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

#endif
