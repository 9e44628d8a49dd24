/* The input chain: its stages and the driver (see input_chain.h). */
#include "input_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- DSMR framer: bytes in, telegrams out (always the last stage) ------ */

/* Of the telegrams the framer just cut short in p[0..n) (a '/' met while
 * collecting), how many had got past their identification line: only
 * those are telegrams lost; a '/' followed by anything but a line end is
 * noise (ten seconds of '/' bytes are not 115,200 lost telegrams). Every
 * '/' the framer consumed while collecting cut a telegram: a call ends at
 * its first complete or oversized one. Rare: only when the framer cut. */
static uint64_t __attribute__((noinline))
telegrams_cut(const struct dsmr_input *in, const char *p, size_t n) {
  const char *q = p, *end = p + n, *start = p, *slash;
  int collecting = in->framer_busy, nl = in->framer_nl;
  uint64_t lost = 0;

  while ((slash = memchr(q, '/', (size_t)(end - q))) != NULL) {
    if (collecting && (nl || memchr(start, '\n', (size_t)(slash - start))))
      lost++;
    collecting = 1; /* the '/' starts the next one */
    nl = 0;
    start = q = slash + 1;
  }
  return lost;
}

/* After every framer call: whether it is collecting a telegram and whether
 * that telegram has its identification line yet, looked for in the bytes
 * added since (only until found: the first line of each telegram). */
static void __attribute__((noinline))
header_track_slow(struct dsmr_input *in, int cut) {
  if (!dsmr_framer_collecting(&in->framer)) {
    in->framer_busy = 0;
    return;
  }
  if (!in->framer_busy || cut) { /* a telegram begun since */
    in->framer_nl = 0;
    in->framer_nl_checked = 0;
  }
  in->framer_busy = 1;
  if (!in->framer_nl && in->framer.len > in->framer_nl_checked) {
    in->framer_nl = memchr(in->framer.buf + in->framer_nl_checked, '\n',
                           in->framer.len - in->framer_nl_checked) != NULL;
    in->framer_nl_checked = in->framer.len;
  }
}

static inline void header_track(struct dsmr_input *in, int cut,
                                enum dsmr_input_event ev) {
  /* Collecting at the start, neither cut nor ended: the same telegram,
   * and its first line already seen (most calls). */
  if (!(in->framer_busy && in->framer_nl && !cut && ev == DSMR_INPUT_NONE))
    header_track_slow(in, cut);
}

/* What an earlier framer call left to say: CUTs, then its event. */
static size_t __attribute__((noinline))
framer_release(struct dsmr_input *in, struct dsmr_input_out *out) {
  if (in->framer_cuts) { /* one CUT per telegram cut short */
    in->framer_cuts--;
    in->framer_pending = in->framer_cuts || in->framer_held;
    out->ev = DSMR_INPUT_CUT;
    return 0;
  }
  in->framer_held = 0;
  in->framer_pending = 0;
  *out = in->framer_out;
  return 0;
}

/* The framer cut telegrams short in this call (see framer_push). */
static void __attribute__((noinline))
framer_cut(struct dsmr_input *in, const char *p, size_t n,
           struct dsmr_input_out *out) {
  uint64_t cuts;
  in->framer_dropped = in->framer.stats.dropped;
  cuts = telegrams_cut(in, p, n);
  header_track_slow(in, 1);
  if (cuts) {
    if (out->ev != DSMR_INPUT_NONE) {
      in->framer_out = *out;
      in->framer_held = 1;
    }
    in->framer_cuts = cuts - 1;
    in->framer_pending = in->framer_cuts || in->framer_held;
    out->ev = DSMR_INPUT_CUT;
  }
}

/* Inlined into dsmr_input_next's one-stage path. */
static inline __attribute__((always_inline)) size_t
framer_push(struct dsmr_input *in, const char *p, size_t len,
            struct dsmr_input_out *out) {
  enum dsmr_frame_event fev;
  size_t n;

  if (in->framer_pending)
    return framer_release(in, out);
  n = dsmr_framer_feed(&in->framer, p, len, &fev, &out->frame);
  /* NONE, TELEGRAM and TOO_LARGE have the values of NONE, FRAME and
   * TOO_LARGE (input_chain.h) */
  out->ev = (enum dsmr_input_event)fev;
  /* A '/' before the '!' cut the telegram being collected short: the
   * framer counts it and goes on in the same call (maybe cutting more),
   * and a call ends at its first telegram or oversized one. So the cuts
   * (of telegrams, not of noise: telegrams_cut) come first, one CUT each
   * (the same whatever the chunks), and what else that call made is held
   * for after them. */
  if (in->framer.stats.dropped != in->framer_dropped)
    framer_cut(in, p, n, out);
  else
    header_track(in, 0, out->ev);
  return n;
}

/* ---- Smarty: encrypted envelopes in, plaintext telegram bytes out ------ */

static size_t smarty_push(struct dsmr_input *in, const char *p, size_t len,
                          struct dsmr_input_out *out) {
  enum dsmr_smarty_event sev;
  size_t n;

  if (in->plain) { /* after DECRYPT_OK: its plaintext */
    out->ev = DSMR_INPUT_BYTES;
    out->data = in->plain;
    out->len = in->plain_len;
    in->plain = NULL;
    return 0;
  }
  /* Keep pushing until the input is used up and the event is NONE: a
   * failed candidate's bytes are rescanned (smarty.h). */
  n = dsmr_smarty_feed(&in->smarty, p, len, &sev, &out->envelope);
  switch (sev) {
  case DSMR_SMARTY_NONE:
    out->ev = DSMR_INPUT_NONE;
    break;
  case DSMR_SMARTY_PLAINTEXT:
    in->stats.decrypted++;
    out->ev = DSMR_INPUT_BYTES;
    out->data = out->envelope.data;
    out->len = out->envelope.len;
    if (in->smarty.stats.frames_ok == 1) { /* the keys are right: say so */
      in->plain = out->data;
      in->plain_len = out->len;
      out->ev = DSMR_INPUT_DECRYPT_OK;
    }
    break;
  case DSMR_SMARTY_AUTH_FAILED:
    out->ev = DSMR_INPUT_DECRYPT_FAILED;
    out->decrypted = in->smarty.stats.frames_ok;
    break;
  case DSMR_SMARTY_REPLAY:
    out->ev = DSMR_INPUT_REPLAY;
    break;
  case DSMR_SMARTY_TOO_LARGE:
    out->ev = DSMR_INPUT_ENVELOPE_TOO_LARGE;
    break;
  case DSMR_SMARTY_MALFORMED:
    out->ev = DSMR_INPUT_ENVELOPE_MALFORMED;
    break;
  }
  return n;
}

/* ---- line probe (Baudrate "auto"): the first stage ---------------------- */

enum probe_step {
  STEP_FRESH = 0, /* next: a new chunk */
  STEP_ALT,       /* the chunk went downstream as read; now its masked copy */
  STEP_FRAME,     /* the masked copy settled the line: its frame */
  STEP_REST,      /* then the rest of the chunk, masked, downstream */
};

/* The masked copy of the chunk through the alternate framer, judged frame
 * by frame; 1 when a frame settled the line (in->found, in->rest). */
static int probe_alt(struct dsmr_input *in) {
  size_t off = 0;

  dsmr_line_mask(in->chunk, in->chunk_len);
  while (off < in->chunk_len) {
    enum dsmr_frame_event fev;
    struct dsmr_frame f;
    off += dsmr_framer_feed(&in->alt, in->chunk + off, in->chunk_len - off,
                            &fev, &f);
    if (fev == DSMR_FRAME_TELEGRAM &&
        dsmr_line_probe_frame(&in->line, 1,
                              dsmr_line_frame_valid(&f, in->scratch),
                              in->now_ms) == DSMR_LINE_FOUND) {
      in->found = f; /* in alt's buffer: untouched until the next chunk */
      in->rest = off;
      return 1;
    }
  }
  return 0;
}

static size_t probe_push(struct dsmr_input *in, const char *p, size_t len,
                         struct dsmr_input_out *out) {
  /* The first stage's input is the caller's buffer (dsmr_input_feed). */
  char *data = (char *)p;

  out->ev = DSMR_INPUT_NONE;
  switch (in->step) {
  case STEP_FRESH:
    if (len == 0)
      return 0;
    if (dsmr_line_probe_mask(&in->line))
      dsmr_line_mask(data, len);
    /* An 8-bit setting being probed: the chunk as read first (a plain
     * 8N1 stream is also valid masked, and must be reported as 8N1),
     * then masked. */
    if (dsmr_line_probe_dual(&in->line)) {
      in->chunk = data;
      in->chunk_len = len;
      in->step = STEP_ALT;
    }
    out->ev = DSMR_INPUT_BYTES;
    out->data = data;
    out->len = len;
    return len;
  case STEP_ALT:
    in->step = STEP_FRESH;
    /* the chunk as read may have settled it already */
    if (in->line.settled || !probe_alt(in))
      return 0;
    /* The framer read all of the chunk unmasked: it starts over, with the
     * rest of the chunk, masked. */
    dsmr_framer_reset(&in->framer);
    in->framer_held = 0;
    in->framer_cuts = 0;
    in->framer_pending = 0;
    in->framer_busy = 0;
    in->step = STEP_FRAME;
    out->ev = DSMR_INPUT_LINE_FOUND;
    return 0;
  case STEP_FRAME:
    in->step = STEP_REST;
    out->ev = DSMR_INPUT_FRAME;
    out->frame = in->found;
    return 0;
  case STEP_REST:
    in->step = STEP_FRESH;
    if (in->rest < in->chunk_len) {
      out->ev = DSMR_INPUT_BYTES;
      out->data = in->chunk + in->rest;
      out->len = in->chunk_len - in->rest;
    }
    return 0;
  }
  return 0;
}

/* ---- the driver --------------------------------------------------------- */

/* Everything not yet consumed is dropped, and so is every partial frame
 * (the line probe switched or lost the line). */
static void drop_input(struct dsmr_input *in) {
  /* The probe passes bytes on one for one: what the framer did not read
   * was never taken in. */
  if (in->probing && in->nstages > 1)
    in->stats.bytes -= in->stage[in->nstages - 1].len;
  for (unsigned i = 0; i < in->nstages; i++) {
    in->stage[i].len = 0;
    in->stage[i].again = 0;
  }
  in->step = STEP_FRESH;
  in->framer_held = 0;
  in->framer_cuts = 0;
  in->framer_pending = 0;
  in->framer_busy = 0;
  in->plain = NULL;
  dsmr_framer_reset(&in->framer);
  if (in->probing)
    dsmr_framer_reset(&in->alt);
}

static void hold(struct dsmr_input *in, const struct dsmr_input_out *out) {
  in->held_out = *out;
  in->held = 1;
}

/* A frame from the framer while a line probe is configured: 1 to hand it
 * out (*out may become LINE_FOUND with the frame held), 0 to swallow. */
static int judge(struct dsmr_input *in, struct dsmr_input_out *out) {
  int was_settled = in->line.settled;
  int valid = dsmr_line_frame_valid(&out->frame, in->scratch);
  enum dsmr_line_event e =
      dsmr_line_probe_frame(&in->line, 0, valid, in->now_ms);

  if (!was_settled) {
    /* Probing: frames are only judged for the line, except the one that
     * settles it. */
    if (e != DSMR_LINE_FOUND)
      return 0;
    hold(in, out);
    out->ev = DSMR_INPUT_LINE_FOUND;
    return 1;
  }
  if (e == DSMR_LINE_LOST) {
    /* This frame first, then the loss; the rest of the chunk is read with
     * a setting that no longer works. */
    struct dsmr_input_out lost = {.ev = DSMR_INPUT_LINE_LOST};
    hold(in, &lost);
    drop_input(in);
  }
  return 1;
}

/* An output on its way to the caller: counted, and a frame judged. */
static enum dsmr_input_event finish(struct dsmr_input *in,
                                    struct dsmr_input_out *out) {
  switch (out->ev) {
  case DSMR_INPUT_FRAME:
    in->stats.frames++;
    if (out->frame.crc == DSMR_CRC_OK)
      in->seen_crc = 1;
    out->check = DSMR_INPUT_CHECK_OK;
    if (in->check_crc && out->frame.crc == DSMR_CRC_BAD)
      out->check = DSMR_INPUT_CHECK_CRC_BAD;
    /* DSMR 4+ meters always send a CRC: once one has, a telegram without
     * one is a CRC line that got corrupted, not a different meter. */
    else if (in->check_crc && out->frame.crc == DSMR_CRC_NONE && in->seen_crc)
      out->check = DSMR_INPUT_CHECK_CRC_MISSING;
    break;
  case DSMR_INPUT_TOO_LARGE:
    in->stats.too_large++;
    break;
  case DSMR_INPUT_CUT:
    in->stats.cut++;
    break;
  case DSMR_INPUT_LINE_FOUND:
  case DSMR_INPUT_LINE_SWITCH:
  case DSMR_INPUT_LINE_LOST:
    out->line = &in->line;
    break;
  case DSMR_INPUT_DECRYPT_FAILED:
    in->stats.decrypt_failed++;
    break;
  case DSMR_INPUT_REPLAY:
    in->stats.replayed++;
    break;
  case DSMR_INPUT_ENVELOPE_TOO_LARGE:
    in->stats.envelope_too_large++;
    break;
  case DSMR_INPUT_ENVELOPE_MALFORMED:
    in->stats.envelope_malformed++;
    break;
  default:
    break;
  }
  return out->ev;
}

/* The general case: any number of stages. */
static enum dsmr_input_event __attribute__((noinline))
next_stages(struct dsmr_input *in, struct dsmr_input_out *out) {
  unsigned i = in->nstages; /* stages [i, nstages) have no work */

  for (;;) {
    struct dsmr_input_stage *s;
    size_t used;

    /* The deepest stage with work: what a stage handed down is used up
     * before that stage runs again. */
    while (i > 0 && in->stage[i - 1].len == 0 && !in->stage[i - 1].again)
      i--;
    if (i == 0) {
      out->ev = DSMR_INPUT_NONE;
      return DSMR_INPUT_NONE;
    }
    s = &in->stage[--i];
    used = s->push(in, s->p, s->len, out);
    s->p += used;
    s->len -= used;
    if (i == 0)
      in->stats.bytes += used;
    s->again = out->ev != DSMR_INPUT_NONE;
    switch (out->ev) {
    case DSMR_INPUT_NONE: /* stage i is done; the ones after it were */
      continue;
    case DSMR_INPUT_BYTES:
      in->stage[i + 1].p = out->data;
      in->stage[i + 1].len = out->len;
      i += 2; /* look at stage i + 1 first */
      continue;
    case DSMR_INPUT_FRAME:
      if (in->probing && i == in->nstages - 1 && !judge(in, out)) {
        i++;
        continue;
      }
      break;
    case DSMR_INPUT_TOO_LARGE:
    case DSMR_INPUT_CUT:
      /* garbage at a wrong setting is not the meter's fault */
      if (in->probing && !in->line.settled) {
        i++;
        continue;
      }
      break;
    default:
      break;
    }
    return finish(in, out);
  }
}

enum dsmr_input_event dsmr_input_next(struct dsmr_input *in,
                                      struct dsmr_input_out *out) {
  struct dsmr_input_stage *s = &in->stage[0];
  size_t used;

  if (in->nstages != 1) {
    if (in->held) {
      in->held = 0;
      *out = in->held_out;
      return finish(in, out);
    }
    return next_stages(in, out);
  }
  /* One stage: the framer (always the last stage) of a plain meter.
   * next_stages, unrolled, since every chunk read pays for it. The driver
   * holds outputs only for the line probe, which a one-stage chain has
   * not. */
  if (s->len == 0 && !s->again) {
    out->ev = DSMR_INPUT_NONE;
    return DSMR_INPUT_NONE;
  }
  used = framer_push(in, s->p, s->len, out); /* the last stage, always */
  s->p += used;
  s->len -= used;
  in->stats.bytes += used;
  s->again = out->ev != DSMR_INPUT_NONE;
  if (out->ev == DSMR_INPUT_NONE)
    return DSMR_INPUT_NONE;
  return finish(in, out);
}

void dsmr_input_tick_(struct dsmr_input *in) {
  size_t len = in->stage[0].len;
  long long now_ms = in->now_ms;
  /* The probe's windows and the settled line's quiet rule, before the
   * bytes are framed. */
  int busy =
      dsmr_framer_collecting(&in->framer) || dsmr_framer_collecting(&in->alt);
  switch (dsmr_line_probe_tick(&in->line, len, busy, now_ms)) {
  case DSMR_LINE_SWITCH: {
    /* read with the setting just left */
    struct dsmr_input_out sw = {.ev = DSMR_INPUT_LINE_SWITCH};
    drop_input(in);
    hold(in, &sw);
    break;
  }
  case DSMR_LINE_LOST: {
    struct dsmr_input_out lost = {.ev = DSMR_INPUT_LINE_LOST};
    drop_input(in);
    hold(in, &lost);
    break;
  }
  default:
    break;
  }
}

void dsmr_input_end(struct dsmr_input *in) {
  /* as if the line end had come: only the framer (the last stage) needs
   * it, and only when it is in the middle of a telegram */
  if (in->nstages && dsmr_framer_collecting(&in->framer)) {
    struct dsmr_input_stage *s = &in->stage[in->nstages - 1];
    s->p = "\r\n";
    s->len = 2;
    if (in->nstages == 1) /* the first stage counts what it takes in */
      in->stats.bytes -= 2;
  }
}

void dsmr_input_restart(struct dsmr_input *in, long long now_ms) {
  drop_input(in);
  in->held = 0;
  if (in->probing)
    dsmr_line_probe_restart(&in->line, now_ms);
  if (in->decrypt)
    dsmr_smarty_reset(&in->smarty); /* keeps the last frame counter */
}

const struct dsmr_line_setting *dsmr_input_line(const struct dsmr_input *in) {
  return in->probing ? dsmr_line_probe_setting(&in->line) : NULL;
}

static void add_stage(struct dsmr_input *in, dsmr_input_push push) {
  in->stage[in->nstages++].push = push;
}

int dsmr_input_init(struct dsmr_input *in, const struct dsmr_input_config *cfg,
                    long long now_ms, char *err, size_t errlen) {
  size_t cap = cfg->max_telegram;
  char *buf;

  memset(in, 0, sizeof(*in));
  in->check_crc = cfg->check_crc;
  if (cfg->line_probe && cfg->decryption_key) {
    snprintf(err, errlen, "line probing cannot judge encrypted frames");
    return -1;
  }
  buf = malloc(cap ? cap : 1);
  if (!buf)
    goto oom;
  dsmr_framer_init(&in->framer, buf, cap);

  if (cfg->line_probe) {
    in->probing = 1;
    buf = malloc(cap ? cap : 1);
    if (buf)
      dsmr_framer_init(&in->alt, buf, cap);
    in->scratch = malloc(sizeof(*in->scratch));
    if (!buf || !in->scratch)
      goto oom;
    dsmr_line_probe_init(&in->line, now_ms);
    add_stage(in, probe_push);
  }
  if (cfg->decryption_key) {
    size_t scap = DSMR_SMARTY_BUF_SIZE(cap);
    buf = malloc(scap);
    if (!buf)
      goto oom;
    if (dsmr_smarty_init(&in->smarty, cfg->decryption_key, cfg->auth_key, buf,
                         scap, err, errlen) != 0) {
      dsmr_smarty_free(&in->smarty);
      free(buf);
      dsmr_input_free(in);
      return -1;
    }
    in->decrypt = 1;
    add_stage(in, smarty_push);
  }
  add_stage(in, framer_push);
  return 0;

oom:
  snprintf(err, errlen, "out of memory");
  dsmr_input_free(in);
  return -1;
}

void dsmr_input_free(struct dsmr_input *in) {
  if (in->decrypt) {
    char *buf = in->smarty.buf;
    dsmr_smarty_free(&in->smarty); /* wipes the keys and the buffer */
    free(buf);
    in->decrypt = 0;
  }
  free(in->framer.buf);
  free(in->alt.buf);
  free(in->scratch);
  in->framer.buf = in->alt.buf = NULL;
  in->scratch = NULL;
  in->nstages = 0;
}

const char *dsmr_input_event_name(enum dsmr_input_event ev) {
  switch (ev) {
  case DSMR_INPUT_NONE:
    return "none";
  case DSMR_INPUT_FRAME:
    return "frame";
  case DSMR_INPUT_TOO_LARGE:
    return "telegram too large";
  case DSMR_INPUT_CUT:
    return "telegram cut short";
  case DSMR_INPUT_LINE_FOUND:
    return "line found";
  case DSMR_INPUT_LINE_SWITCH:
    return "line switch";
  case DSMR_INPUT_LINE_LOST:
    return "line lost";
  case DSMR_INPUT_DECRYPT_OK:
    return "decryption works";
  case DSMR_INPUT_DECRYPT_FAILED:
    return "decryption failed";
  case DSMR_INPUT_REPLAY:
    return "replayed frame counter";
  case DSMR_INPUT_ENVELOPE_TOO_LARGE:
    return "envelope too large";
  case DSMR_INPUT_ENVELOPE_MALFORMED:
    return "envelope malformed";
  case DSMR_INPUT_BYTES:
    return "bytes";
  }
  return "?";
}
