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

  out->han = 0;    /* a Smarty envelope, not a DLMS frame */
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

/* ---- HAN: HDLC / M-Bus frames in; mapped lists (or DSMR bytes) out ------ */

static void han_queue(struct dsmr_input *in, const struct dsmr_input_out *o) {
  if (in->hq_n < sizeof(in->hq) / sizeof(in->hq[0]))
    in->hq[in->hq_n++] = *o;
}

static void han_envelope(struct dsmr_input_out *o,
                         const struct dsmr_dlms_ciphered *env,
                         const struct dsmr_dlms_plain *pl) {
  o->han = 1;
  if (env->system_title)
    memcpy(o->envelope.system_title, env->system_title, 8);
  o->envelope.frame_counter = env->invocation_counter;
  o->envelope.last_counter = pl ? pl->last_counter : 0;
}

/* The DSMR framer forgets what it collected (AUTO decided HAN). */
static void framer_forget(struct dsmr_input *in) {
  dsmr_framer_reset(&in->framer);
  in->framer_held = 0;
  in->framer_cuts = 0;
  in->framer_pending = 0;
  in->framer_busy = 0;
}

int dsmr_han_clock_is_local(const struct dsmr_han_list *l,
                            const struct dsmr_cosem_datetime *dt) {
  return dt->deviation == DSMR_COSEM_DEVIATION_UNSPECIFIED ||
         (dt->deviation == 0 && l->vendor == DSMR_HAN_VENDOR_AIDON);
}

/* A clock sent as local time without its offset (dsmr_han_clock_is_local:
 * Aidon SE, Kaifa NO, Kamstrup, L&G CH; Aidon Norway's deviation 0): read
 * in the TimeZone. dsmr_han_map took Aidon Norway's deviation 0 at its
 * word (UTC), an hour or two ahead of the arrival: that reading is
 * dropped first. In the hour skipped
 * in spring (no such local time) and the hour repeated in autumn (two
 * instants) the local time does not say when the list was made: the clock
 * is then not used for that telegram, whose values are judged by their
 * arrival as for a meter without a clock. That is safe: the meter clock
 * only ever widens the time a register step is judged over (a burst of
 * buffered lists), and a wrong guess of an hour either way would let a
 * jump through or hold a good step back. */
static void han_local_clock(struct dsmr_input *in) {
  int64_t local, utc;
  if (!in->list->has_clock ||
      !dsmr_han_clock_is_local(in->list, &in->list->clock))
    return;
  in->tel->info.has_meter_time = 0;
  if (in->tz && dsmr_cosem_datetime_utc(&in->list->clock, &local) >= 0 &&
      dsmr_tz_local_to_utc(in->tz, local, &utc) == DSMR_TZ_OK) {
    in->tel->info.has_meter_time = 1;
    in->tel->info.meter_time = utc;
  }
}

/* One complete APDU from the framing: queued outputs (at least one, or
 * none for an APDU that is not ours to read). */
static void han_apdu(struct dsmr_input *in, uint8_t *a, size_t alen) {
  struct dsmr_input_out o;
  const uint8_t *title = NULL;
  struct dsmr_dlms_plain pl = {0};
  struct dsmr_dlms_ciphered env = {0};
  enum dsmr_han_status st;
  int ciphered = alen > 0 && (a[0] == DSMR_DLMS_GLO_CIPHERING ||
                              a[0] == DSMR_DLMS_DED_CIPHERING);

  memset(&o, 0, sizeof(o));
  o.han = 1;
  if (ciphered) {
    if (dsmr_dlms_parse_ciphered(a, alen, &env) != 0) {
      o.ev = DSMR_INPUT_ENVELOPE_MALFORMED;
      o.detail = "malformed ciphered APDU";
      han_queue(in, &o);
      return;
    }
    if (!in->have_cipher) {
      han_envelope(&o, &env, NULL);
      o.ev = DSMR_INPUT_HAN_NO_KEY;
      o.detail = "encrypted frame, but no DecryptionKey";
      han_queue(in, &o);
      return;
    }
    switch (dsmr_dlms_decrypt(&in->cipher, &env, &pl)) {
    case DSMR_DLMS_PLAINTEXT_UNCHECKED:
      if (pl.first_unchecked) {
        han_envelope(&o, &env, &pl);
        o.ev = DSMR_INPUT_HAN_UNCHECKED;
        han_queue(in, &o);
      }
      break;
    case DSMR_DLMS_PLAINTEXT:
      break;
    case DSMR_DLMS_REPLAY:
      han_envelope(&o, &env, &pl);
      o.ev = DSMR_INPUT_REPLAY;
      han_queue(in, &o);
      return;
    case DSMR_DLMS_NEED_AUTH_KEY:
      han_envelope(&o, &env, &pl);
      o.ev = DSMR_INPUT_HAN_NO_KEY;
      o.detail = "the frame carries a GCM tag: AuthenticationKey needed "
                 "(or CheckAuthenticationTag false)";
      han_queue(in, &o);
      return;
    default: /* AUTH_FAILED, CIPHER_ERROR */
      han_envelope(&o, &env, &pl);
      o.ev = DSMR_INPUT_DECRYPT_FAILED;
      o.decrypted = in->stats.decrypted;
      han_queue(in, &o);
      return;
    }
    a = pl.data;
    alen = pl.len;
    title = env.system_title;
    if (dsmr_han_is_dsmr_telegram(a, alen)) {
      /* a DSMR telegram inside (Steiermark T210-D): the DSMR framer
       * judges it by its CRC, and only a telegram whose CRC passes commits
       * an unchecked frame's counter (next_stages): one that decrypts but
       * fails its inner check must not move the replay guard */
      in->commit_pending = !pl.tag_checked;
      in->pending_plain = pl;
      in->stats.decrypted++;
      if (!in->decrypted_once) {
        in->decrypted_once = 1;
        han_envelope(&o, &env, &pl);
        o.ev = DSMR_INPUT_DECRYPT_OK;
        han_queue(in, &o);
      }
      memset(&o, 0, sizeof(o));
      o.ev = DSMR_INPUT_BYTES;
      o.data = (const char *)a;
      o.len = alen;
      han_queue(in, &o);
      return;
    }
  }
  st = dsmr_han_decode(a, alen, title, &in->han_opt, in->list);
  if (st != DSMR_HAN_OK) {
    if (!ciphered && st == DSMR_HAN_NOT_NOTIFICATION)
      return; /* another APDU the meter sends: not ours */
    if (ciphered && !pl.tag_checked) {
      /* encryption only (0x20 / 0x21): garbage is a wrong key */
      han_envelope(&o, &env, &pl);
      o.ev = DSMR_INPUT_DECRYPT_FAILED;
      o.decrypted = in->stats.decrypted;
    } else {
      o.ev = DSMR_INPUT_HAN_PARSE_ERROR;
      o.detail = dsmr_han_status_name(st);
    }
    han_queue(in, &o);
    return;
  }
  if (ciphered) {
    dsmr_dlms_cipher_commit(&in->cipher, &pl);
    in->stats.decrypted++;
    if (!in->decrypted_once) {
      in->decrypted_once = 1;
      han_envelope(&o, &env, &pl);
      o.ev = DSMR_INPUT_DECRYPT_OK;
      han_queue(in, &o);
      memset(&o, 0, sizeof(o));
      o.han = 1;
    }
  }
  o.ev = DSMR_INPUT_HAN_TELEGRAM;
  o.han_errors = dsmr_han_map(in->list, in->tel);
  han_local_clock(in);
  o.telegram = in->tel;
  o.list = in->list;
  o.check = DSMR_INPUT_CHECK_OK;
  han_queue(in, &o);
}

/* Bytes through the HAN framing until one output (1) or used up (0). */
static size_t han_frame(struct dsmr_input *in, const uint8_t *p, size_t len,
                        struct dsmr_input_out *out, int *got) {
  size_t used = 0;

  *got = 0;
  for (;;) {
    enum dsmr_han_event ev;
    struct dsmr_han_out ho;
    used += dsmr_han_framing_feed(&in->hf, p + used, len - used, &ev, &ho);
    memset(out, 0, sizeof(*out));
    out->han = 1;
    out->detail = ho.detail;
    switch (ev) {
    case DSMR_HAN_EV_NONE:
      if (used < len)
        continue;
      return used;
    case DSMR_HAN_EV_APDU:
      if (in->probing && !in->line.settled) {
        /* a frame whose check passed: the line setting is right */
        if (dsmr_line_probe_frame(&in->line, 0, 1, in->now_ms) !=
            DSMR_LINE_FOUND)
          continue;
        memset(out, 0, sizeof(*out));
        out->ev = DSMR_INPUT_LINE_FOUND;
        han_queue(in, out); /* before what the frame says */
      } else if (in->probing) {
        dsmr_line_probe_frame(&in->line, 0, 1, in->now_ms);
      }
      /* the APDU is in the framing's buffer, decrypted in place */
      han_apdu(in, (uint8_t *)ho.apdu, ho.len);
      if (in->hq_i < in->hq_n) {
        *out = in->hq[in->hq_i++];
        *got = 1;
        return used;
      }
      continue;
    case DSMR_HAN_EV_FRAME_CHECK:
      if (in->probing) {
        /* garbage at a wrong setting is not the meter's fault; a settled
         * line that keeps failing is lost (next_stages) */
        if (!in->line.settled)
          continue;
        if (dsmr_line_probe_frame(&in->line, 0, 0, in->now_ms) ==
            DSMR_LINE_LOST)
          in->han_line_lost = 1;
      }
      out->ev = DSMR_INPUT_HAN_FRAME_CHECK;
      break;
    case DSMR_HAN_EV_MISSING_SEGMENT:
      out->ev = DSMR_INPUT_HAN_MISSING_SEGMENT;
      break;
    case DSMR_HAN_EV_BLOCK_REFUSED:
      out->ev = DSMR_INPUT_HAN_BLOCK_REFUSED;
      break;
    case DSMR_HAN_EV_TOO_LARGE:
      out->ev = DSMR_INPUT_HAN_TOO_LARGE;
      break;
    case DSMR_HAN_EV_TRANSPORT:
      out->ev = DSMR_INPUT_HAN_TRANSPORT;
      out->detail = ho.transport == DSMR_HAN_MBUS ? "M-Bus" : "HDLC";
      break;
    }
    *got = 1;
    return used;
  }
}

/* AUTO: where a stream's first message starts, in the last n bytes seen
 * (w); the signature's length, 0 if none ends here. */
enum { DECIDED_NOT = 0, DECIDED_DSMR, DECIDED_HAN, DECIDED_BARE };

static size_t sniff_match(const uint8_t *w, size_t n, int *proto) {
  /* "/XXXd": IEC 62056-21 identification (manufacturer, baud digit) */
  if (n >= 5 && w[n - 5] == '/') {
    int ok = 1;
    for (size_t k = n - 4; k < n - 1; k++)
      if (!((w[k] >= 'A' && w[k] <= 'Z') || (w[k] >= 'a' && w[k] <= 'z')))
        ok = 0;
    if (ok && w[n - 1] >= '0' && w[n - 1] <= '9') {
      *proto = DECIDED_DSMR;
      return 5;
    }
  }
  if (n >= 2 && w[n - 2] == 0x7E && (w[n - 1] & 0xF0) == 0xA0) {
    *proto = DECIDED_HAN;
    return 2;
  }
  if (n >= 4 && w[n - 4] == 0x68 && w[n - 1] == 0x68 && w[n - 3] == w[n - 2] &&
      w[n - 3] >= 3) {
    *proto = DECIDED_HAN;
    return 4;
  }
  /* a bare general-glo-ciphering envelope, no HDLC or M-Bus around it
   * (Luxembourg Smarty, Steiermark T210-D, IR heads): DB, then the system
   * title's length 8 */
  if (n >= 2 && w[n - 2] == DSMR_DLMS_GLO_CIPHERING && w[n - 1] == 8) {
    *proto = DECIDED_BARE;
    return 2;
  }
  return 0;
}

/* AUTO or HAN with a key, bare envelopes (DB 08 title LEN ...): p[0..len)
 * collected into
 * env_buf until an envelope is complete, which goes to han_apdu like one
 * from the HDLC or M-Bus framing (its plaintext decides: a DSMR telegram
 * to the DSMR framer, a data-notification decoded). Between envelopes the
 * next DB 08 is looked for; a 7E A? or 68 L L 68 there means the
 * envelopes came inside HDLC or M-Bus frames after all (AUTO joined the
 * stream in the middle of one): the framing takes over (in->pend). Returns
 * the bytes consumed; *got 1 with one output in *out. */
static size_t bare_feed(struct dsmr_input *in, const uint8_t *p, size_t len,
                        struct dsmr_input_out *out, int *got) {
  size_t used = 0;

  *got = 0;
  while (used < len) {
    uint8_t b = p[used++];
    if (in->env_len == 0) { /* between envelopes */
      int proto = 0;
      size_t sig;
      if (in->nsniff == sizeof(in->sniff)) {
        memmove(in->sniff, in->sniff + 1, sizeof(in->sniff) - 1);
        in->nsniff--;
      }
      in->sniff[in->nsniff++] = b;
      sig = sniff_match(in->sniff, in->nsniff, &proto);
      if (sig && proto == DECIDED_BARE) {
        in->env_buf[0] = DSMR_DLMS_GLO_CIPHERING;
        in->env_buf[1] = 8;
        in->env_len = 2;
        in->env_need = 0;
        in->nsniff = 0;
      } else if (sig && proto == DECIDED_HAN) {
        memcpy(in->sig, in->sniff + in->nsniff - sig, sig);
        in->pend = in->sig;
        in->pend_len = sig;
        in->bare = 0;
        in->nsniff = 0;
        return used;
      }
      continue;
    }
    in->env_buf[in->env_len++] = b;
    if (in->env_need == 0) { /* the A-XDR length after the title */
      uint8_t l = in->env_buf[10];
      if (in->env_len < 11 || (l == 0x81 && in->env_len < 12) ||
          (l == 0x82 && in->env_len < 13))
        continue;
      if (l < 0x80)
        in->env_need = 11u + l;
      else if (l == 0x81)
        in->env_need = 12u + in->env_buf[11];
      else if (l == 0x82)
        in->env_need = 13u + ((size_t)in->env_buf[11] << 8 | in->env_buf[12]);
      else { /* no envelope: look for the next one */
        in->env_len = 0;
        continue;
      }
      if (in->env_need > DSMR_HAN_MESSAGE_MAX) {
        in->env_len = 0;
        memset(out, 0, sizeof(*out));
        out->han = 1;
        out->ev = DSMR_INPUT_HAN_TOO_LARGE;
        *got = 1;
        return used;
      }
    }
    if (in->env_len < in->env_need)
      continue;
    in->env_len = 0;
    in->hq_i = in->hq_n = 0;
    han_apdu(in, in->env_buf, in->env_need);
    if (in->hq_i < in->hq_n) {
      *out = in->hq[in->hq_i++];
      *got = 1;
      return used;
    }
  }
  return used;
}

static size_t han_push(struct dsmr_input *in, const char *p, size_t len,
                       struct dsmr_input_out *out) {
  const uint8_t *u = (const uint8_t *)p;
  int got;

  if (in->hq_i < in->hq_n) { /* what the last APDU left to say */
    *out = in->hq[in->hq_i++];
    return 0;
  }
  in->hq_i = in->hq_n = 0;
  if (in->say_protocol) {
    in->say_protocol = 0;
    memset(out, 0, sizeof(*out));
    out->ev = DSMR_INPUT_PROTOCOL;
    out->detail = in->decided == DECIDED_DSMR ? "DSMR" : "HAN";
    if (in->decided == DECIDED_BARE) {
      /* what the framer had of it was not DSMR; the envelope has begun */
      framer_forget(in);
      in->decided = DECIDED_HAN;
      in->bare = 1;
      in->env_buf[0] = DSMR_DLMS_GLO_CIPHERING;
      in->env_buf[1] = 8;
      in->env_len = 2;
      in->env_need = 0;
    } else if (in->decided == DECIDED_HAN) {
      /* what the framer had of it was not DSMR; the signature's bytes go
       * to the HAN framing */
      size_t sig = sniff_match(in->sniff, in->nsniff, &(int){0});
      framer_forget(in);
      in->pend = in->sniff + in->nsniff - sig;
      in->pend_len = sig;
    }
    in->nsniff = 0;
    return 0;
  }
  if (in->decided == 0 && in->protocol == DSMR_INPUT_PROTO_HAN) {
    /* HAN with a DecryptionKey, undecided: the first signature says
     * whether the envelopes come in HDLC or M-Bus frames or bare (DB 08,
     * no framing around them); nothing goes to the DSMR framer, and the
     * bytes before it belong to no frame either way. */
    size_t i = 0;
    while (i < len && in->decided == 0) {
      int proto = 0;
      size_t sig;
      if (in->nsniff == sizeof(in->sniff)) {
        memmove(in->sniff, in->sniff + 1, sizeof(in->sniff) - 1);
        in->nsniff--;
      }
      in->sniff[in->nsniff++] = u[i++];
      sig = sniff_match(in->sniff, in->nsniff, &proto);
      if (!sig || proto == DECIDED_DSMR)
        continue;
      in->decided = DECIDED_HAN;
      if (proto == DECIDED_BARE) {
        in->bare = 1;
        in->env_buf[0] = DSMR_DLMS_GLO_CIPHERING;
        in->env_buf[1] = 8;
        in->env_len = 2;
        in->env_need = 0;
      } else {
        memcpy(in->sig, in->sniff + in->nsniff - sig, sig);
        in->pend = in->sig;
        in->pend_len = sig;
      }
      in->nsniff = 0;
    }
    if (in->decided == 0) {
      out->ev = DSMR_INPUT_NONE;
      return len;
    }
    return i + han_push(in, p + i, len - i, out);
  }
  if (in->decided == 0) {
    /* AUTO, undecided: every byte also goes to the DSMR framer (a DSMR
     * stream is read exactly as with Protocol "dsmr"), while a HAN
     * signature is looked for; a DSMR identification line decides DSMR. */
    for (size_t i = 0; i < len; i++) {
      size_t sig;
      int proto = 0;
      if (in->nsniff == sizeof(in->sniff)) {
        memmove(in->sniff, in->sniff + 1, sizeof(in->sniff) - 1);
        in->nsniff--;
      }
      in->sniff[in->nsniff++] = u[i];
      sig = sniff_match(in->sniff, in->nsniff, &proto);
      if (!sig)
        continue;
      /* The bytes up to here reach the framer first (as they would one
       * by one), then the decision is said (next push). */
      in->decided = proto;
      in->say_protocol = 1;
      out->ev = DSMR_INPUT_BYTES;
      out->data = p;
      out->len = i + 1;
      return i + 1;
    }
    if (len == 0) {
      out->ev = DSMR_INPUT_NONE;
      return 0;
    }
    out->ev = DSMR_INPUT_BYTES;
    out->data = p;
    out->len = len;
    return len;
  }
  if (in->pend_len) { /* the signature's bytes first */
    const uint8_t *q = in->pend;
    size_t n = in->pend_len;
    if (in->decided == DECIDED_DSMR) {
      in->pend_len = 0;
      out->ev = DSMR_INPUT_BYTES;
      out->data = (const char *)q;
      out->len = n;
      return 0;
    }
    n = han_frame(in, q, n, out, &got);
    in->pend += n;
    in->pend_len -= n;
    if (got)
      return 0;
  }
  if (in->decided == DECIDED_DSMR) {
    if (len == 0) {
      out->ev = DSMR_INPUT_NONE;
      return 0;
    }
    out->ev = DSMR_INPUT_BYTES;
    out->data = p;
    out->len = len;
    return len;
  }
  if (in->bare) {
    size_t n = bare_feed(in, u, len, out, &got), k;
    if (got || in->bare) {
      if (!got)
        out->ev = DSMR_INPUT_NONE;
      return n;
    }
    /* The framing took over: its signature (in->pend) first, then the
     * rest of the input (a push that says nothing must use it all up). */
    k = han_frame(in, in->pend, in->pend_len, out, &got);
    in->pend += k;
    in->pend_len -= k;
    if (got)
      return n;
    k = han_frame(in, u + n, len - n, out, &got);
    if (!got)
      out->ev = DSMR_INPUT_NONE;
    return n + k;
  }
  {
    size_t n = han_frame(in, u, len, out, &got);
    if (!got)
      out->ev = DSMR_INPUT_NONE;
    return n;
  }
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

/* Whether the first bytes decide the framing: AUTO (DSMR, HDLC, M-Bus or
 * bare envelopes), HAN with a DecryptionKey (HDLC, M-Bus or bare). */
static int sniffs(const struct dsmr_input *in) {
  return in->protocol == DSMR_INPUT_PROTO_AUTO ||
         (in->protocol == DSMR_INPUT_PROTO_HAN && in->have_cipher);
}

/* Everything not yet consumed is dropped, and so is every partial frame
 * (the line probe switched or lost the line). */
static void drop_input(struct dsmr_input *in) {
  /* The probe passes bytes on one for one: what the stage after it (the
   * framer, or the HAN stage) did not read was never taken in. */
  if (in->probing && in->nstages > 1)
    in->stats.bytes -= in->stage[1].len;
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
  in->hq_n = in->hq_i = 0;
  in->pend_len = 0;
  in->commit_pending = 0;
  in->env_len = 0;
  in->han_line_lost = 0;
  if (in->probing && sniffs(in)) {
    /* a new line setting: what AUTO decided came from the old one */
    in->decided = 0;
    in->say_protocol = 0;
    in->nsniff = 0;
    in->bare = 0;
  }
  if (in->han_buf)
    dsmr_han_framing_reset(&in->hf);
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
  case DSMR_INPUT_HAN_TELEGRAM:
    in->stats.han_telegrams++;
    break;
  case DSMR_INPUT_HAN_FRAME_CHECK:
    in->stats.han_frame_check++;
    break;
  case DSMR_INPUT_HAN_MISSING_SEGMENT:
    in->stats.han_missing_segment++;
    break;
  case DSMR_INPUT_HAN_BLOCK_REFUSED:
    in->stats.han_block_refused++;
    break;
  case DSMR_INPUT_HAN_TOO_LARGE:
    in->stats.han_too_large++;
    break;
  case DSMR_INPUT_HAN_PARSE_ERROR:
    in->stats.han_parse_error++;
    break;
  case DSMR_INPUT_HAN_NO_KEY:
    in->stats.han_no_key++;
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
    if (in->han_line_lost) {
      /* this frame first, then the loss; the rest is read with a setting
       * that no longer works */
      struct dsmr_input_out lost = {.ev = DSMR_INPUT_LINE_LOST};
      in->han_line_lost = 0;
      hold(in, &lost);
      drop_input(in);
      return finish(in, out);
    }
    switch (out->ev) {
    case DSMR_INPUT_NONE: /* stage i is done; the ones after it were */
      continue;
    case DSMR_INPUT_BYTES:
      in->stage[i + 1].p = out->data;
      in->stage[i + 1].len = out->len;
      i += 2; /* look at stage i + 1 first */
      continue;
    case DSMR_INPUT_FRAME:
      if (in->commit_pending && i == in->nstages - 1) {
        /* the telegram of a DLMS envelope whose tag was not checked */
        in->commit_pending = 0;
        if (out->frame.crc == DSMR_CRC_OK)
          dsmr_dlms_cipher_commit(&in->cipher, &in->pending_plain);
      }
      if (in->probing && i == in->nstages - 1 && !judge(in, out)) {
        i++;
        continue;
      }
      break;
    case DSMR_INPUT_TOO_LARGE:
    case DSMR_INPUT_CUT:
    case DSMR_INPUT_HAN_MISSING_SEGMENT:
    case DSMR_INPUT_HAN_BLOCK_REFUSED:
    case DSMR_INPUT_HAN_TOO_LARGE:
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
  if (sniffs(in)) {                 /* look at the bytes again */
    in->decided = 0;
    in->say_protocol = 0;
    in->nsniff = 0;
    in->bare = 0;
  }
}

const struct dsmr_line_setting *dsmr_input_line(const struct dsmr_input *in) {
  return in->probing ? dsmr_line_probe_setting(&in->line) : NULL;
}

static void add_stage(struct dsmr_input *in, dsmr_input_push push) {
  in->stage[in->nstages++].push = push;
}

/* An init that cannot go on: why in err, what it has so far freed. */
static int init_failed(struct dsmr_input *in, const char *why, char *err,
                       size_t errlen) {
  snprintf(err, errlen, "%s", why);
  dsmr_input_free(in);
  return -1;
}

/* Protocol HAN or AUTO: [HAN stage] -> DSMR framer (for DSMR telegrams:
 * AUTO's plain ones, and those inside DLMS envelopes). */
/* The HAN stage, after the DSMR framer's buffer (dsmr_input_init, which
 * adds the framer's stage after it). */
static int han_init(struct dsmr_input *in, const struct dsmr_input_config *cfg,
                    char *err, size_t errlen) {
  /* HAN without a key: HDLC or M-Bus frames (a bare envelope could not
   * be opened); with one the first signature decides (han_push) */
  in->decided = cfg->protocol == DSMR_INPUT_PROTO_HAN && !cfg->decryption_key
                    ? DECIDED_HAN
                    : 0;
  in->han_buf = malloc(DSMR_HAN_FRAMING_BUF_SIZE);
  in->env_buf = malloc(DSMR_HAN_MESSAGE_MAX);
  in->list = malloc(sizeof(*in->list));
  in->tel = cfg->han_telegram;
  in->tz = cfg->timezone;
  in->han_opt.has_energy_scaler = cfg->han_energy_scaler_set;
  in->han_opt.energy_scaler = cfg->han_energy_scaler;
  if (!in->tel) {
    in->tel = malloc(sizeof(*in->tel));
    in->own_tel = 1;
  }
  if (!in->han_buf || !in->env_buf || !in->list || !in->tel)
    return init_failed(in, "out of memory", err, errlen);
  if (dsmr_han_framing_init(&in->hf, DSMR_HAN_AUTO, in->han_buf,
                            DSMR_HAN_FRAMING_BUF_SIZE) != 0)
    return init_failed(in, "HAN framing buffer refused", err, errlen);
  if (cfg->decryption_key) {
    if (dsmr_dlms_cipher_init(&in->cipher, cfg->decryption_key, cfg->auth_key,
                              cfg->han_allow_unchecked, err, errlen) != 0) {
      dsmr_input_free(in);
      return -1;
    }
    in->have_cipher = 1;
  }
  add_stage(in, han_push);
  return 0;
}

int dsmr_input_init(struct dsmr_input *in, const struct dsmr_input_config *cfg,
                    long long now_ms, char *err, size_t errlen) {
  size_t cap = cfg->max_telegram;
  char *buf;

  memset(in, 0, sizeof(*in));
  in->check_crc = cfg->check_crc;
  in->protocol = cfg->protocol;
  if (cfg->protocol != DSMR_INPUT_PROTO_DSMR) {
    if (cfg->protocol != DSMR_INPUT_PROTO_HAN &&
        cfg->protocol != DSMR_INPUT_PROTO_AUTO) {
      snprintf(err, errlen, "unknown protocol %d", cfg->protocol);
      return -1;
    }
  } else if (cfg->line_probe && cfg->decryption_key) {
    snprintf(err, errlen, "line probing cannot judge encrypted frames");
    return -1;
  }
  /* Every path ends in the DSMR framer (HAN: a DSMR telegram inside a
   * DLMS envelope, or AUTO before it has decided). */
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
    dsmr_line_probe_init_family(
        &in->line, now_ms,
        cfg->protocol == DSMR_INPUT_PROTO_HAN    ? DSMR_LINE_FAMILY_HAN
        : cfg->protocol == DSMR_INPUT_PROTO_AUTO ? DSMR_LINE_FAMILY_ANY
                                                 : DSMR_LINE_FAMILY_DSMR);
    add_stage(in, probe_push);
  }
  if (cfg->protocol != DSMR_INPUT_PROTO_DSMR) {
    if (han_init(in, cfg, err, errlen) != 0)
      return -1;
  } else if (cfg->decryption_key) {
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
  return init_failed(in, "out of memory", err, errlen);
}

void dsmr_input_free(struct dsmr_input *in) {
  if (in->decrypt) {
    char *buf = in->smarty.buf;
    dsmr_smarty_free(&in->smarty); /* wipes the keys and the buffer */
    free(buf);
    in->decrypt = 0;
  }
  if (in->have_cipher) {
    dsmr_dlms_cipher_free(&in->cipher); /* wipes the keys */
    in->have_cipher = 0;
  }
  free(in->han_buf);
  free(in->env_buf);
  in->env_buf = NULL;
  free(in->list);
  if (in->own_tel)
    free(in->tel);
  in->han_buf = NULL;
  in->list = NULL;
  in->tel = NULL;
  in->own_tel = 0;
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
  case DSMR_INPUT_HAN_TELEGRAM:
    return "HAN telegram";
  case DSMR_INPUT_HAN_FRAME_CHECK:
    return "frame check failed";
  case DSMR_INPUT_HAN_MISSING_SEGMENT:
    return "missing segment";
  case DSMR_INPUT_HAN_BLOCK_REFUSED:
    return "block refused";
  case DSMR_INPUT_HAN_TOO_LARGE:
    return "message too large";
  case DSMR_INPUT_HAN_PARSE_ERROR:
    return "APDU not decoded";
  case DSMR_INPUT_HAN_NO_KEY:
    return "no key for encrypted frame";
  case DSMR_INPUT_HAN_UNCHECKED:
    return "GCM tag not checked";
  case DSMR_INPUT_HAN_TRANSPORT:
    return "HAN transport";
  case DSMR_INPUT_PROTOCOL:
    return "protocol";
  case DSMR_INPUT_BYTES:
    return "bytes";
  }
  return "?";
}
