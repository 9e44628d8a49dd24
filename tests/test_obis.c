/* The OBIS table's two indexes (obis.c): by key (the mapper) and by text
 * (the parser's fast path), and the parser's use of the second one. The
 * indexes are built by the compiler from the table's rows; these tests
 * check that they agree with the table, that what the parser recognises by
 * text it reads exactly as it reads ids digit by digit, and that the row
 * it passes to the mapper (dsmr_parser.known_row) is the row of the id.
 * Unit keys (made by the number parser, compared by the mapper) too. */
#include "obis_table.h"
#include "number.h"
#include "parser.h"

#include "tap.h"

#include <stdlib.h>

/* "a-b:c.d.e" of an id. */
static void id_text(char *buf, size_t size, const struct dsmr_obis *o) {
  snprintf(buf, size, "%u-%u:%u.%u.%u", o->a, o->b, o->c, o->d, o->e);
}

/* lo and hi of a text as the parser builds them. */
static void text_words(const char *text, uint64_t *lo, uint64_t *hi) {
  unsigned char raw[16] = {0};
  size_t n = strlen(text);
  memcpy(raw, text, n < 16 ? n : 16);
  *lo = *hi = 0;
  for (int i = 7; i >= 0; i--) {
    *lo = *lo << 8 | raw[i];
    *hi = *hi << 8 | raw[8 + i];
  }
}

/* Every entry of the text index is the canonical text of its fields, is
 * found by its text, and names the row that the key index finds. */
static void test_text_entries(void) {
  unsigned bad_text = 0, not_found = 0, wrong_row = 0;
  ok(dsmr_obis_texts_len > dsmr_obis_table_len,
     "%u texts for %u rows (M-Bus rows on four channels)",
     dsmr_obis_texts_len - 1, dsmr_obis_table_len);
  for (unsigned i = 1; i < dsmr_obis_texts_len; i++) {
    const struct obis_text *t = &dsmr_obis_texts[i];
    char want[32];
    uint64_t lo, hi;
    id_text(want, sizeof want, &t->obis);
    text_words(want, &lo, &hi);
    if (lo != t->lo || hi != t->hi || t->obis.f != 255) {
      printf("# text %u is not \"%s\"\n", i, want);
      bad_text++;
    }
    if (dsmr_obis_find_text(lo, hi) != t) {
      printf("# \"%s\" not found by text\n", want);
      not_found++;
    }
    if (t->row == 0 || t->row > dsmr_obis_table_len ||
        dsmr_obis_lookup(&t->obis) != &dsmr_obis_table[t->row - 1]) {
      printf("# \"%s\" names the wrong row\n", want);
      wrong_row++;
    }
  }
  is_int(bad_text, 0, "every text is the canonical text of its fields");
  is_int(not_found, 0, "every text is found by its text");
  is_int(wrong_row, 0, "every text names the row the key lookup finds");
}

/* Every row, on every M-Bus channel, has a text. */
static void test_every_row_has_text(void) {
  unsigned missing = 0, texts = 0;
  for (unsigned i = 0; i < dsmr_obis_table_len; i++) {
    uint64_t k = dsmr_obis_table[i].key;
    struct dsmr_obis o = {(uint8_t)(k >> 32), (uint8_t)(k >> 24),
                          (uint8_t)(k >> 16), (uint8_t)(k >> 8),
                          (uint8_t)k,         255};
    int mbus = o.a == 0 && o.b == 1;
    for (unsigned b = mbus ? 1 : o.b; b <= (mbus ? 4u : o.b); b++) {
      char text[32];
      uint64_t lo, hi;
      o.b = (uint8_t)b;
      id_text(text, sizeof text, &o);
      text_words(text, &lo, &hi);
      const struct obis_text *t = dsmr_obis_find_text(lo, hi);
      texts++;
      if (!t || t->row != i + 1 || memcmp(&t->obis, &o, sizeof o) != 0) {
        printf("# no text for \"%s\"\n", text);
        missing++;
      }
    }
  }
  is_int(missing, 0, "every row has its text (%u texts)", texts);
  is_int(texts, dsmr_obis_texts_len - 1, "and no other texts");
}

/* Texts that are not in the table, or not canonical, are not found. */
static void test_unknown_texts(void) {
  static const char *const unknown[] = {
      "1-0:1.8.9",
      "0-5:24.2.1",
      "0-0:24.2.1",
      "1-0:01.8.1",
      "1-0:1.8.1*2",
      "1-0:1.8.1 ",
      "1-0:1.8.10",
      "2-0:1.8.1",
      "1-0:1.8",
      "1-0:32.7.0.0",
      "",
      "0-1:24.2.1(",
      "01-0:1.8.1",
      "1-0:001.008.1",
      "1-0:99.97.1",
      "1-0:1.8.1\t",
  };
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    uint64_t lo, hi;
    text_words(unknown[i], &lo, &hi);
    ok(dsmr_obis_find_text(lo, hi) == NULL, "\"%s\" is not a known text",
       unknown[i]);
  }
  /* The sentinel at index 0 matches nothing, not even zeros. */
  ok(dsmr_obis_find_text(0, 0) == NULL, "no text of all zeros");
}

/* One line through the parser: the object, and the row it passes on. */
static int parse_line(const char *line, struct dsmr_object *o, unsigned *row) {
  /* After the line, enough bytes that the fast path takes it. */
  char buf[256];
  struct dsmr_parser p;
  snprintf(buf, sizeof buf, "%s\r\n0-0:96.13.0()\r\n0-0:96.13.0()\r\n", line);
  dsmr_parser_init(&p, buf, strlen(buf));
  int st = dsmr_parser_next(&p, o);
  *row = p.known_row;
  return st;
}

/* The parser reads every known id by its text, to the same fields as the
 * digit parser gives, and passes the row on. */
static void test_parser_text_path(void) {
  unsigned wrong = 0, checked = 0;
  for (unsigned i = 1; i < dsmr_obis_texts_len; i++) {
    const struct obis_text *t = &dsmr_obis_texts[i];
    char text[32], line[64];
    struct dsmr_object o;
    unsigned row;
    id_text(text, sizeof text, &t->obis);
    snprintf(line, sizeof line, "%s(1)", text);
    int st = parse_line(line, &o, &row);
    checked++;
    if (st != DSMR_PARSE_OBJECT || row != t->row ||
        memcmp(&o.obis, &t->obis, sizeof o.obis) != 0 ||
        o.id.len != strlen(text) || o.ngroups != 1 || o.groups[0].len != 1) {
      printf("# \"%s\" read wrongly\n", line);
      wrong++;
    }
  }
  is_int(wrong, 0, "%u known ids read by text, with their rows", checked);

  /* Not by text: the same object, but the mapper must look it up. */
  static const struct {
    const char *line;
    struct dsmr_obis obis;
  } other[] = {
      {"01-0:1.8.1(1)", {1, 0, 1, 8, 1, 255}},
      {"1-0:1.8.1*255(1)", {1, 0, 1, 8, 1, 255}},
      {"1-0:1.8.1*7(1)", {1, 0, 1, 8, 1, 7}},
      {"1-0:1.8.1.255(1)", {1, 0, 1, 8, 1, 255}},
      {"1-0:31.7.0.255(1)", {1, 0, 31, 7, 0, 255}},
      {"1-0:1.8.1.7(1)", {1, 0, 1, 8, 1, 7}},
      {"1-0:1.8.9(1)", {1, 0, 1, 8, 9, 255}},
      {"0-5:24.2.1(1)", {0, 5, 24, 2, 1, 255}},
      {"255-255:255.255.255(1)", {255, 255, 255, 255, 255, 255}},
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    struct dsmr_object o;
    unsigned row;
    int st = parse_line(other[i].line, &o, &row);
    ok(st == DSMR_PARSE_OBJECT && row == 0 &&
           memcmp(&o.obis, &other[i].obis, sizeof o.obis) == 0,
       "\"%s\" read digit by digit", other[i].line);
  }
}

/* Units as keys: the number parser's keys equal the mapper's constants,
 * whatever the case, and only for the same characters. */
static void test_unit_keys(void) {
  static const struct {
    const char *text;
    uint64_t key;
  } units[] = {
      {"1*kWh", DSMR_UNIT_KEY(3, 'k', 'w', 'h', 0, 0)},
      {"1*KWH", DSMR_UNIT_KEY(3, 'k', 'w', 'h', 0, 0)},
      {"1*kVArh", DSMR_UNIT_KEY(5, 'k', 'v', 'a', 'r', 'h')},
      {"1*m3", DSMR_UNIT_KEY(2, 'm', '3', 0, 0, 0)},
      {"1*M3", DSMR_UNIT_KEY(2, 'm', '3', 0, 0, 0)},
      {"1*V", DSMR_UNIT_KEY(1, 'v', 0, 0, 0, 0)},
      {"1", DSMR_UNIT_NONE},
      {"1*abcdefg", DSMR_UNIT_LEN(7) | 0x67666564636261ULL},
      {"1*abcdefgh", DSMR_UNIT_LONG},
      {"1*abcdefghijklmnop", DSMR_UNIT_LONG},
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    struct dsmr_number n;
    uint64_t key = 0;
    struct dsmr_span s = {units[i].text, strlen(units[i].text)};
    ok(dsmr_parse_number_key(s, &n, &key) == 0 && key == units[i].key,
       "\"%s\" has the unit key %#llx", units[i].text,
       (unsigned long long)units[i].key);
  }
  struct dsmr_number n = {77, 7, {"x", 1}};
  uint64_t key = 42;
  struct dsmr_span bad = {"1*m\x13", 4};
  ok(dsmr_parse_number_key(bad, &n, &key) == -1 && key == 42 &&
         n.mantissa == 77,
     "\"1*m\\x13\" is no number, and nothing is written");
}

int main(void) {
  test_text_entries();
  test_every_row_has_text();
  test_unknown_texts();
  test_parser_text_path();
  test_unit_keys();
  return tap_done();
}
