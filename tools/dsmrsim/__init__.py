"""dsmrsim: a simulated DSMR P1 smart meter (see ../dsmr-sim --help).

Standard library only, so that it runs anywhere collectd does.  One module per
responsibility:

  crc       CRC-16/ARC, the P1 telegram checksum
  clock     meter clock: Europe/Amsterdam W/S flag without the host's TZ
  model     the physics: household load, solar, tariffs, integrated registers, gas
  telegram  rendering a model state as DSMR 5 / 4 / 2.2 / Smarty text
  aesgcm    AES-128-GCM, for the Luxembourg Smarty envelope
  han       binary HAN meters: A-XDR, DLMS APDUs, HDLC / M-Bus, vendor lists
  faults    line faults (bit flips, cuts, bad CRC, noise, disconnects)
  player    replaying recorded .p1 files byte for byte
  sinks     where the bytes go: pty, TCP server, stdout/file
  cli       argument parsing, pacing, manifest, signals
"""
