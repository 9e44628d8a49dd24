/* What the config fuzz target can ask of the collectd stand-ins in
 * collectd_stubs.c: how many messages of each severity the code under test
 * logged since the last reset. */
#ifndef DSMR_FUZZ_COLLECTD_STUBS_H
#define DSMR_FUZZ_COLLECTD_STUBS_H

struct stub_log_counts {
  unsigned errors;   /* LOG_ERR and worse */
  unsigned warnings; /* LOG_WARNING */
  unsigned others;   /* NOTICE, INFO, DEBUG */
  unsigned foreign;  /* messages from neither "dsmr plugin: " nor cf_util */
};

void stub_log_reset(void);
struct stub_log_counts stub_log_get(void);

#endif
