/* Configuration text to an oconfig_item_t tree (see oconfig_text.h).
 *
 * Items are collected per block in growable arrays; a block's array is only
 * final when the block closes, so the children's `parent` pointers are set
 * then (collectd's tree has them, and a realloc would move their target). */
#include "oconfig_text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 8

struct level {
  oconfig_item_t item; /* the block being read (the root at level 0) */
  oconfig_item_t *kids;
  int nkids, cap;
};

static void free_item(oconfig_item_t *it) {
  free(it->key);
  for (int i = 0; i < it->values_num; i++)
    if (it->values[i].type == OCONFIG_TYPE_STRING)
      free(it->values[i].value.string);
  free(it->values);
  for (int i = 0; i < it->children_num; i++)
    free_item(&it->children[i]);
  free(it->children);
}

void fz_oconfig_free(oconfig_item_t *root) {
  if (!root)
    return;
  free_item(root);
  free(root);
}

static int add_kid(struct level *l, const oconfig_item_t *it) {
  if (l->nkids == l->cap) {
    int cap = l->cap ? 2 * l->cap : 4;
    oconfig_item_t *k = realloc(l->kids, (size_t)cap * sizeof(*k));
    if (!k)
      return -1;
    l->kids = k;
    l->cap = cap;
  }
  l->kids[l->nkids++] = *it;
  return 0;
}

/* The block's children are final: hand them over, point them home. */
static void close_level(struct level *l) {
  l->item.children = l->kids;
  l->item.children_num = l->nkids;
  for (int i = 0; i < l->nkids; i++) {
    l->kids[i].parent = NULL; /* set by the caller once l->item has moved */
    for (int j = 0; j < l->kids[i].children_num; j++)
      l->kids[i].children[j].parent = &l->kids[i];
  }
  l->kids = NULL;
  l->nkids = l->cap = 0;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

static int is_key_char(char c, int first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && ((c >= '0' && c <= '9') || c == '-'));
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_hex(char c) {
  return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* collectd's number tokens: [+-] then 0x hex, or decimal with optional
 * fraction and exponent. */
static int looks_numeric(const char *t, size_t n) {
  size_t i = 0, d = 0;
  if (i < n && (t[i] == '+' || t[i] == '-'))
    i++;
  if (n - i > 2 && t[i] == '0' && (t[i + 1] | 0x20) == 'x') {
    for (i += 2; i < n; i++)
      if (!is_hex(t[i]))
        return 0;
    return 1;
  }
  for (; i < n && is_digit(t[i]); i++)
    d++;
  if (i < n && t[i] == '.')
    for (i++; i < n && is_digit(t[i]); i++)
      d++;
  if (d == 0)
    return 0;
  if (i < n && (t[i] | 0x20) == 'e') {
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      i++;
    if (i == n || !is_digit(t[i]))
      return 0;
    while (i < n && is_digit(t[i]))
      i++;
  }
  return i == n;
}

static int add_value(oconfig_item_t *it, oconfig_value_t v) {
  oconfig_value_t *vs =
      realloc(it->values, (size_t)(it->values_num + 1) * sizeof(*vs));
  if (!vs)
    return -1;
  it->values = vs;
  it->values[it->values_num++] = v;
  return 0;
}

/* Values from p up to e (or up to an unquoted '>' when in_tag; *p then
 * points at it). Returns 0, or -1 on a syntax error. */
static int read_values(oconfig_item_t *it, const char **pp, const char *e,
                       int in_tag) {
  const char *p = *pp;
  for (;;) {
    while (p < e && is_space(*p))
      p++;
    if (p >= e || *p == '#' || (in_tag && *p == '>'))
      break;
    oconfig_value_t v;
    memset(&v, 0, sizeof(v));
    if (*p == '"') {
      char *s = malloc((size_t)(e - p)), *o = s;
      if (!s)
        return -1;
      for (p++; p < e && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < e)
          p++;
        *o++ = *p;
      }
      if (p >= e) { /* no closing quote */
        free(s);
        return -1;
      }
      p++;
      *o = '\0';
      v.type = OCONFIG_TYPE_STRING;
      v.value.string = s;
    } else {
      const char *t = p;
      while (p < e && !is_space(*p) && *p != '"' && *p != '#' &&
             !(in_tag && *p == '>'))
        p++;
      size_t n = (size_t)(p - t);
      char *s = dup_n(t, n);
      if (!s)
        return -1;
      if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
          strcasecmp(s, "on") == 0 || strcasecmp(s, "false") == 0 ||
          strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0) {
        v.type = OCONFIG_TYPE_BOOLEAN;
        v.value.boolean = (s[0] | 0x20) == 't' || (s[0] | 0x20) == 'y' ||
                          strcasecmp(s, "on") == 0;
        free(s);
      } else if (looks_numeric(t, n)) {
        v.type = OCONFIG_TYPE_NUMBER;
        v.value.number = strtod(s, NULL);
        free(s);
      } else {
        v.type = OCONFIG_TYPE_STRING;
        v.value.string = s;
      }
    }
    if (add_value(it, v) != 0) {
      if (v.type == OCONFIG_TYPE_STRING)
        free(v.value.string);
      return -1;
    }
  }
  *pp = p;
  return 0;
}

/* A key at p; returns its end, or NULL. */
static const char *read_key(const char *p, const char *e) {
  if (p >= e || !is_key_char(*p, 1))
    return NULL;
  while (p < e && is_key_char(*p, 0))
    p++;
  return p;
}

static int only_space_or_comment(const char *p, const char *e) {
  while (p < e && is_space(*p))
    p++;
  return p >= e || *p == '#';
}

oconfig_item_t *fz_oconfig_parse(const char *text, size_t len) {
  struct level st[MAX_DEPTH + 1];
  int top = 0;
  const char *p = text, *end = text + len;
  oconfig_item_t *root = NULL;

  if (memchr(text, '\0', len))
    return NULL;
  memset(st, 0, sizeof(st));
  st[0].item.key = dup_n("Plugin", 6);
  oconfig_value_t name = {.type = OCONFIG_TYPE_STRING};
  name.value.string = dup_n("dsmr", 4);
  if (!st[0].item.key || !name.value.string ||
      add_value(&st[0].item, name) != 0) {
    free(name.value.string);
    goto fail;
  }

  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *e = eol ? eol : end, *k;
    while (p < e && is_space(*p))
      p++;
    if (only_space_or_comment(p, e)) {
      /* an empty line or a comment */
    } else if (e - p >= 2 && p[0] == '<' && p[1] == '/') {
      if (top == 0 || !(k = read_key(p + 2, e)) || k >= e || *k != '>' ||
          !only_space_or_comment(k + 1, e) ||
          strlen(st[top].item.key) != (size_t)(k - p - 2) ||
          strncasecmp(st[top].item.key, p + 2, (size_t)(k - p - 2)) != 0)
        goto fail;
      close_level(&st[top]);
      if (add_kid(&st[top - 1], &st[top].item) != 0)
        goto fail;
      memset(&st[top], 0, sizeof(st[top]));
      top--;
    } else if (*p == '<') {
      if (top == MAX_DEPTH || !(k = read_key(p + 1, e)))
        goto fail;
      top++;
      memset(&st[top], 0, sizeof(st[top]));
      if (!(st[top].item.key = dup_n(p + 1, (size_t)(k - p - 1))))
        goto fail;
      p = k;
      if (read_values(&st[top].item, &p, e, 1) != 0 || p >= e || *p != '>' ||
          !only_space_or_comment(p + 1, e))
        goto fail;
    } else {
      oconfig_item_t it;
      memset(&it, 0, sizeof(it));
      if (!(k = read_key(p, e)) || (k < e && !is_space(*k) && *k != '#'))
        goto fail;
      if (!(it.key = dup_n(p, (size_t)(k - p)))) {
        goto fail;
      }
      p = k;
      if (read_values(&it, &p, e, 0) != 0 || add_kid(&st[top], &it) != 0) {
        free_item(&it);
        goto fail;
      }
    }
    p = eol ? eol + 1 : end;
  }
  if (top != 0)
    goto fail;

  root = malloc(sizeof(*root));
  if (!root)
    goto fail;
  close_level(&st[0]);
  *root = st[0].item;
  for (int i = 0; i < root->children_num; i++)
    root->children[i].parent = root;
  return root;

fail:
  for (; top >= 0; top--) {
    for (int i = 0; i < st[top].nkids; i++)
      free_item(&st[top].kids[i]);
    free(st[top].kids);
    free_item(&st[top].item);
  }
  return NULL;
}
