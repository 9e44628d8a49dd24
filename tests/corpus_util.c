/* Reader for tests/corpus/expected.txt and the .p1 telegrams (see
 * corpus_util.h). The line format is parsed strictly: a malformed
 * expected.txt must fail the tests, not silently test less. */
#include "corpus_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    perror("realloc");
    exit(99);
  }
  return p;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = xrealloc(NULL, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

const char *corpus_top_srcdir(void) {
  const char *d = getenv("top_srcdir");
  return d && *d ? d : ".";
}

static int read_file(const char *path, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, n = 0;
  char *buf = xrealloc(NULL, cap);
  for (;;) {
    if (n == cap)
      buf = xrealloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0)
      break;
    n += got;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    fprintf(stderr, "%s: read error\n", path);
    free(buf);
    return -1;
  }
  *data = buf;
  *len = n;
  return 0;
}

/* Undo tools/corpus-expect.py's esc(): \\ \r \n \xHH. */
static int unescape(const char *s, size_t n, struct corpus_group *g) {
  char *out = xrealloc(NULL, n + 1);
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\') {
      out[o++] = s[i];
      continue;
    }
    if (++i >= n)
      goto bad;
    switch (s[i]) {
    case '\\':
      out[o++] = '\\';
      break;
    case 'r':
      out[o++] = '\r';
      break;
    case 'n':
      out[o++] = '\n';
      break;
    case 'x': {
      int hi, lo;
      if (i + 2 >= n || (hi = dsmr_hex_digit((unsigned char)s[i + 1])) < 0 ||
          (lo = dsmr_hex_digit((unsigned char)s[i + 2])) < 0)
        goto bad;
      out[o++] = (char)(hi << 4 | lo);
      i += 2;
      break;
    }
    default:
      goto bad;
    }
  }
  out[o] = '\0';
  g->raw = out;
  g->len = o;
  return 0;
bad:
  free(out);
  return -1;
}

static int load_telegram_bytes(struct corpus_telegram *t) {
  const char *top = corpus_top_srcdir();
  size_t n = strlen(top) + strlen(t->id) + 40;
  char *path = xrealloc(NULL, n);
  snprintf(path, n, "%s/tests/corpus/telegrams/%s.p1", top, t->id);
  int rc = read_file(path, &t->data, &t->len);
  free(path);
  return rc;
}

/* Everything announced for the object before *o has arrived? */
static int complete(const struct corpus_object *o, unsigned filled) {
  return o == NULL || filled == o->ngroups;
}

int corpus_load(struct corpus *c) {
  const char *top = corpus_top_srcdir();
  size_t pn = strlen(top) + 40;
  char *path = xrealloc(NULL, pn);
  snprintf(path, pn, "%s/tests/corpus/expected.txt", top);
  char *text;
  size_t len;
  if (read_file(path, &text, &len) != 0) {
    free(path);
    return -1;
  }

  memset(c, 0, sizeof *c);
  struct corpus_telegram *t = NULL;
  struct corpus_object *o = NULL; /* object receiving "group" lines */
  unsigned filled = 0;            /* groups it has received so far */
  unsigned lineno = 0;
  const char *s = text, *end = text + len;

  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *le = nl ? nl : end;
    size_t ll = (size_t)(le - s);
    char *line = xstrndup(s, ll);
    lineno++;
    s = nl ? nl + 1 : end;

    if (ll == 0 || line[0] == '#') {
      free(line);
      continue;
    }
    if (strncmp(line, "telegram ", 9) == 0) {
      char id[256];
      int cp, co;
      unsigned nobj;
      if (sscanf(line, "telegram %255s %d %d %u", id, &cp, &co, &nobj) != 4 ||
          !complete(o, filled) ||
          (t && (o ? (unsigned)(o - t->objects) + 1 : 0) != t->nobjects))
        goto bad;
      c->t = xrealloc(c->t, (c->n + 1) * sizeof *c->t);
      t = &c->t[c->n++];
      memset(t, 0, sizeof *t);
      t->id = xstrndup(id, strlen(id));
      t->crc_present = cp;
      t->crc_ok = co;
      t->nobjects = nobj;
      t->objects = xrealloc(NULL, nobj * sizeof *t->objects);
      memset(t->objects, 0, nobj * sizeof *t->objects);
      o = NULL;
      if (load_telegram_bytes(t) != 0) {
        free(line);
        goto fail;
      }
    } else if (strncmp(line, "object ", 7) == 0) {
      char obis[64];
      unsigned ng;
      if (sscanf(line, "object %63s %u", obis, &ng) != 2 || !t ||
          !complete(o, filled))
        goto bad;
      o = o ? o + 1 : t->objects;
      if (o >= t->objects + t->nobjects)
        goto bad;
      o->obis = xstrndup(obis, strlen(obis));
      o->ngroups = ng;
      o->groups = xrealloc(NULL, ng * sizeof *o->groups);
      memset(o->groups, 0, ng * sizeof *o->groups);
      filled = 0;
    } else if (strncmp(line, "group", 5) == 0 &&
               (line[5] == '\0' || line[5] == ' ')) {
      const char *raw = line[5] ? line + 6 : line + 5;
      if (!o || filled >= o->ngroups ||
          unescape(raw, strlen(raw), &o->groups[filled]) != 0)
        goto bad;
      filled++;
    } else {
      goto bad;
    }
    free(line);
    continue;
  bad:
    free(line);
    fprintf(stderr, "%s:%u: malformed or out-of-place line\n", path, lineno);
    goto fail;
  }
  if (!complete(o, filled) ||
      (t && (o ? (unsigned)(o - t->objects) + 1 : 0) != t->nobjects)) {
    fprintf(stderr, "%s: ends inside a telegram's list\n", path);
    goto fail;
  }
  free(text);
  free(path);
  return 0;

fail:
  free(text);
  free(path);
  corpus_free(c);
  return -1;
}

void corpus_free(struct corpus *c) {
  for (size_t i = 0; i < c->n; i++) {
    struct corpus_telegram *t = &c->t[i];
    for (unsigned j = 0; j < t->nobjects; j++) {
      struct corpus_object *o = &t->objects[j];
      for (unsigned k = 0; k < o->ngroups; k++)
        free(o->groups[k].raw);
      free(o->groups);
      free(o->obis);
    }
    free(t->objects);
    free(t->data);
    free(t->id);
  }
  free(c->t);
  memset(c, 0, sizeof *c);
}

int corpus_find_frame(const char *data, size_t len, size_t *off,
                      size_t *frame_len) {
  const char *start = memchr(data, '/', len);
  if (!start)
    return -1;
  size_t o = (size_t)(start - data);
  const char *bang = memchr(start, '!', len - o);
  if (!bang)
    return -1;
  *off = o;
  *frame_len = (size_t)(bang - start) + 1;
  return 0;
}
