/* The storing rules: which readings of a clean telegram are stored, and at
 * which time, for one meter. Collectd-free: no collectd headers, no I/O, no
 * allocation. Times are plain integers in collectd's cdtime_t units (2^-30
 * s since the epoch), so the plugin passes cdtime_t straight through;
 * capture times inside the telegram stay UTC seconds (struct dsmr_reading).
 *
 * Time rules:
 *  - Electricity values carry the arrival of the telegram's last byte and,
 *    as interval, the meter's observed telegram period (10 s until
 *    measured).
 *  - M-Bus values (and the peak demand and its history) carry their
 *    capture time, are stored only when it moves forward, with the
 *    observed period between captures as interval (300 s for DSMR 5,
 *    3600 s before, until measured).
 *  - No identifier ever gets a time at or before its previous one: the
 *    value cache would log "value too old" and rrdtool would drop it.
 *  - A capture time more than DSMR_RULES_FUTURE_S ahead of the telegram's
 *    arrival, or of the meter's own clock (0-0:1.0.0) in the same
 *    telegram, is refused (event DSMR_EV_FUTURE, once per identifier and
 *    capture): the value is not stored and the time never becomes the
 *    identifier's last time, so one wrong time cannot block the readings
 *    after it. A meter clock that far ahead of the arrival is not used to
 *    judge registers either.
 *  - DSMR 2.2/3 (and Belgian) meters write local time without the S/W
 *    flag: at the end of summer time, 02:00-02:59 happens twice and both
 *    read as the first (summer) one. A capture that would go back or stay,
 *    lies in that hour and carries a different value, or a different
 *    capture time than the last one stored, is the second occurrence when
 *    that one has happened by the arrival (DSMR_RULES_DST_SLACK_S): it is
 *    stored an hour later. The same capture with the same value is the
 *    meter repeating its reading.
 *
 * Counters never lie (registers: dsmr_energy, dsmr_reactive_energy,
 * dsmr_volume, dsmr_heat, which only grow):
 *  - A register that goes backwards, or grows by more than the meter could
 *    physically measure since its last accepted value, is implausible.
 *    Physical limits, per register: electricity 100 kW (import and export
 *    separately: more than a direct-connected 3 x 100 A household meter
 *    can carry), reactive 100 kvar, gas 40 m3/h (a G25 meter's maximum
 *    flow), water 25 m3/h, heat and cooling 100 kW (0.36 GJ/h). Allowed
 *    growth = limit x (elapsed + 10 s); the 10 s absorb telegrams that
 *    arrive in a burst (buffered by a dongle, or right after a reconnect)
 *    and coarse register resolutions. Elapsed is the larger of the arrival
 *    times' and the meter clocks' (0-0:1.0.0) difference for electricity,
 *    the capture times' for M-Bus.
 *  - A register a little lower than its stored value (at most
 *    DSMR_RULES_ROUNDING units: 10 Wh, varh, L or MJ; a meter rounding) is
 *    held back: that register alone is not stored (event DSMR_EV_HELD),
 *    the rest of the telegram is, and its stored value stays until the
 *    meter passes it again. Such readings never start a new series.
 *  - Any other implausible register rejects the whole telegram: nothing of
 *    it is stored, and each such register raises DSMR_EV_BACKWARDS or
 *    DSMR_EV_JUMPED. A checksum-valid telegram that lies in one register
 *    cannot be trusted in the others. An M-Bus reading is judged once per
 *    capture time: the telegrams that repeat a rejected (or held) capture
 *    are stored without it, so a bad gas reading costs one telegram, not
 *    the next hour of electricity.
 *  - A replaced meter: when 0-0:96.1.1 (equipment id) changes, every
 *    baseline is forgotten, the new meter's registers are taken as they
 *    are (DSMR_EV_REPLACED).
 *  - A register that restarted without a new equipment id (an M-Bus gas
 *    meter swapped, a wrong value that became the baseline right at
 *    start): after DSMR_RULES_RESYNC_AFTER consecutive rejected readings
 *    that agree with each other (each plausible after the previous one),
 *    the new series becomes the baseline (DSMR_EV_RESTARTED). Without this,
 *    one bad baseline would reject the meter forever. DSMR_EV_REPLACED and
 *    DSMR_EV_RESTARTED are the only ways a register is ever stored lower
 *    than its stored value.
 *  - The first reading after start has nothing to compare with: it is
 *    taken. Capture times before 2000 (dead M-Bus channels) are never
 *    readings here (MIN_CAPTURE_TIME in store_rules.c); the mapper drops
 *    them earlier, with its own cut-off at 2001 (DSMR_EARLIEST_CAPTURE).
 *
 * Events the plugin turns into notifications: a new monthly peak demand
 * (1-0:1.6.0, any change of value or time; the first telegram only sets
 * the baseline) and a voltage sag or swell counter that rose. */
#ifndef DSMR_STORE_RULES_H
#define DSMR_STORE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "mapper.h"

/* One second in cdtime_t units. */
#define DSMR_RULES_SECOND ((uint64_t)1 << 30)
/* Distinct identifiers one meter may produce: a telegram maps to at most
 * DSMR_MAX_READINGS, and M-Bus devices can come and go. */
#define DSMR_IDENT_MAX (2 * DSMR_MAX_READINGS)
#define DSMR_PERIOD_WINDOW 8
/* Consecutive rejected readings that agree before they are a new series. */
#define DSMR_RULES_RESYNC_AFTER 3
/* How far a capture time may lie ahead of the arrival (and of the meter's
 * clock): a quarter of an hour is three DSMR 5 capture periods, far more
 * than the skew between a meter its grid operator keeps on time and a host
 * on NTP; a time accepted up to that early blocks its identifier for at
 * most that long. */
#define DSMR_RULES_FUTURE_S 900
/* The second occurrence of a repeated local hour is taken when it is at
 * most this much ahead of the arrival (clock skew). */
#define DSMR_RULES_DST_SLACK_S 300
/* A step back of at most this many units (Wh, varh, L, MJ) is a meter
 * rounding: only that register is held back. */
#define DSMR_RULES_ROUNDING 10

/* The period of something periodic (telegrams, M-Bus captures), as the
 * smallest of the last few gaps: a lost telegram makes one gap longer,
 * never shorter, so the minimum stays honest. */
struct dsmr_period {
  uint64_t gaps[DSMR_PERIOD_WINDOW];
  unsigned n, next;
};

void dsmr_period_add(struct dsmr_period *p, uint64_t gap);
uint64_t dsmr_period_get(const struct dsmr_period *p); /* 0: unknown */

/* Largest growth per second a register can show, in its collectd unit. */
struct dsmr_counter_limit {
  const char *type;
  const char *instance_prefix; /* NULL: any */
  double per_second;
  const char *unit;
  const char *limit; /* for messages: "100 kW" */
};

/* The limit of a register reading, NULL when r is no register. */
const struct dsmr_counter_limit *
dsmr_rules_counter_limit(const struct dsmr_reading *r);

/* One reading of a register: its value, when (telegram arrival, or the
 * M-Bus capture time, in cdtime_t units) and the meter's own clock then
 * (0-0:1.0.0, UTC seconds; 0 when unknown or for captures). */
struct dsmr_counter_point {
  int64_t value;
  uint64_t at;
  int64_t meter_time;
};

/* What the rules remember per identifier (type, type_instance). */
struct dsmr_ident {
  const char *type; /* the mapper's static strings */
  const char *type_instance;
  uint64_t last_time; /* last time stored: times strictly increase */
  uint64_t seq;       /* telegram that last stored it: drops duplicates */
  struct dsmr_period period;
  /* captures: the capture time (UTC s, as the meter wrote it) and value of
   * the last one stored, to tell a repeat from a repeated local hour */
  int64_t last_raw_capture;
  int64_t last_derive;
  double last_gauge;
  int64_t future_capture; /* last capture refused as in the future */
  /* sags/swells and the peak: the last value (and peak time) seen */
  int has_value;
  double last_value;
  int64_t last_capture;

  uint64_t judged;         /* telegram (rules' `judged`) it was judged in */
  unsigned judged_reading; /* index of the reading judged then */
  int verdict;             /* of that judgement */
  int has_base;
  struct dsmr_counter_point base;    /* last value stored */
  struct dsmr_counter_point suspect; /* last value rejected */
  unsigned suspects; /* rejected values in a row that agree with each other */
  uint64_t rejected_capture; /* an M-Bus capture judged implausible or held */
};

/* One meter's state. Zero it (or dsmr_rules_init) before the first
 * telegram: that is "just started". ~80 KiB: keep it in the meter, not on
 * a stack. */
struct dsmr_rules {
  uint64_t seq;           /* telegrams stored so far */
  uint64_t judged;        /* telegrams judged so far */
  uint64_t last_tel_time; /* time given to the last telegram's values */
  struct dsmr_period tel_period;
  struct dsmr_ident idents[DSMR_IDENT_MAX];
  unsigned short ident_of[DSMR_MAX_READINGS]; /* reading index -> idents */
  unsigned nidents;
  int idents_full_reported;
  int have_baseline; /* first stored telegram seen: events compare to it */
  /* 0-0:96.1.1 of the last telegram that had one (raw, maybe cut), and the
   * one before a change (for DSMR_EV_REPLACED). */
  char equipment_id[128];
  size_t equipment_len;
  char prev_equipment_id[128];
  size_t prev_equipment_len;
};

enum dsmr_rules_event_kind {
  DSMR_EV_BACKWARDS = 1, /* register went backwards: telegram rejected */
  DSMR_EV_JUMPED,        /* register grew beyond its limit: rejected */
  DSMR_EV_HELD,        /* register a rounding lower: that register not stored */
  DSMR_EV_RESTARTED,   /* a confirmed new series, stored as the new baseline */
  DSMR_EV_REPLACED,    /* equipment id changed: every baseline forgotten */
  DSMR_EV_FUTURE,      /* capture time too far ahead: not stored */
  DSMR_EV_DST_REPEAT,  /* second occurrence of a local hour: stored +1 h */
  DSMR_EV_PEAK,        /* new monthly peak demand (value or time changed) */
  DSMR_EV_QUALITY,     /* a voltage sag/swell counter rose */
  DSMR_EV_IDENTS_FULL, /* more than DSMR_IDENT_MAX identifiers (once) */
};

/* An event. Fields not listed for a kind are 0/NULL.
 *  BACKWARDS, JUMPED, HELD: old_value (stored), new_value, limit; JUMPED
 *    also elapsed_s and allowed.
 *  RESTARTED: old_value (the baseline before), new_value.
 *  REPLACED: reading is -1; the ids are in the rules' prev_equipment_id and
 *    equipment_id (raw).
 *  FUTURE: capture (UTC s) and against (the arrival or meter clock, UTC s,
 *    whichever it is furthest ahead of).
 *  DST_REPEAT: capture (as written, UTC s) and against (the time stored).
 *  PEAK: old_gauge/new_gauge (W) and old_time/capture (UTC s).
 *  QUALITY: old_gauge, new_gauge.
 *  IDENTS_FULL: reading is the first reading that found no room. */
struct dsmr_rules_event {
  enum dsmr_rules_event_kind kind;
  int reading; /* index in the telegram, -1 when about none */
  const struct dsmr_reading *r;
  const struct dsmr_counter_limit *limit;
  int64_t old_value, new_value;
  double elapsed_s, allowed;
  double old_gauge, new_gauge;
  int64_t capture, against, old_time;
  unsigned before_store; /* store entries recorded before it was raised */
};

/* Events one telegram can raise. Pass 1 judges each register reading at
 * most once (BACKWARDS, JUMPED or HELD); when one is implausible pass 2
 * never runs. Pass 2 looks at each reading once and raises at most two
 * events for it: FUTURE or DST_REPEAT (its capture time), and PEAK (a peak
 * reading, never a register) or RESTARTED (a register) or QUALITY (a sag
 * or swell counter, never a register) -- a HELD register is skipped in
 * pass 2. Besides: one REPLACED per telegram and one IDENTS_FULL per meter
 * ever. Hence 2 per reading + 2; a push beyond (a future rule that breaks
 * this count) is counted in events_lost, never silent, and the fuzzer
 * (fuzz/fuzz_rules.c) asserts that it stays 0. */
#define DSMR_RULES_MAX_EVENTS (2 * DSMR_MAX_READINGS + 2)

/* What one telegram came to: filled by dsmr_rules_telegram, walked by the
 * caller (the rules never call out). ~40 KiB: keep it beside the rules in
 * the meter, not on a stack.
 *  store: the readings to store, in telegram order: reading index in the
 *    telegram, time and interval (cdtime_t units). At most one per reading,
 *    so DSMR_MAX_READINGS cannot overflow. Empty when rejected.
 *  events: in the order raised. before_store is the number of store
 *    entries recorded when it was raised: a caller that wants the order of
 *    the rules (a RESTARTED event before the value it explains) handles
 *    the events with before_store <= k before store[k]; see
 *    dsmr_rules_result_walk. */
struct dsmr_rules_store {
  int reading;    /* index in the telegram */
  unsigned ident; /* index in the rules' idents: one per identifier, kept
                     for the meter's life (a key for later stages) */
  uint64_t time, interval;
};

struct dsmr_rules_result {
  int rejected;     /* 1: an implausible register, nothing to store */
  int had_baseline; /* events that compare with a previous telegram
                       (power failures...) have a baseline: as it was
                       before this telegram */
  uint64_t time;    /* the time telegram-time values got (when stored) */
  unsigned nstore;
  struct dsmr_rules_store store[DSMR_MAX_READINGS];
  unsigned nevents;
  unsigned events_lost; /* beyond DSMR_RULES_MAX_EVENTS: see there */
  struct dsmr_rules_event events[DSMR_RULES_MAX_EVENTS];
};

/* The walk in the rules' order, for callers that want it: store() for
 * each stored reading and event() for each event, each event before the
 * store entries recorded after it. Either may be NULL. */
void dsmr_rules_result_walk(const struct dsmr_rules_result *res,
                            const struct dsmr_telegram *tg, void *ctx,
                            void (*store)(void *ctx,
                                          const struct dsmr_reading *r,
                                          const struct dsmr_rules_store *st),
                            void (*event)(void *ctx,
                                          const struct dsmr_rules_event *ev));

void dsmr_rules_init(struct dsmr_rules *s);

/* A frame arrived at `arrival` (any verdict); `prev` is the arrival of the
 * one before, 0 after a (re)connect: learn the telegram period. */
void dsmr_rules_note_arrival(struct dsmr_rules *s, uint64_t prev,
                             uint64_t arrival);
/* The interval electricity values carry: observed period (whole seconds,
 * 1 s .. 1 day) or 10 s. */
uint64_t dsmr_rules_interval(const struct dsmr_rules *s);

/* Judge the clean telegram tg that arrived at `arrival`: what the rules
 * let through and the events they raise go into *res (emptied first; its
 * reading pointers point into tg). Returns res->rejected: 0 when stored, 1
 * when rejected (an implausible register: nothing stored). */
int dsmr_rules_telegram(struct dsmr_rules *s, const struct dsmr_telegram *tg,
                        uint64_t arrival, struct dsmr_rules_result *res);

#endif
