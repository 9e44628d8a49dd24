/* The parser and the number reader on hand-made telegrams: one test per
 * rule of parser.h and number.h and per quirk real meters have shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"
#include "parser.h"
#include "tap.h"

/* ---- helpers ---------------------------------------------------------- */

static void append(char *out, size_t cap, const char *s, size_t n) {
  size_t o = strlen(out);
  for (size_t i = 0; i < n && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r')
      o += (size_t)snprintf(out + o, cap - o, "\\r");
    else if (c == '\n')
      o += (size_t)snprintf(out + o, cap - o, "\\n");
    else if (c < 0x20 || c >= 0x7f)
      o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    else
      out[o++] = (char)c;
  }
  out[o] = '\0';
}

/* Also print the OBIS fields as "[a,b,c,d,e,f]" after each id. */
static int show_obis;

/* Parses text[0..len) (an exactly sized heap copy, so that sanitizers see
 * any overread) and describes what came out, e.g.
 *   "3:1-0:1.8.1(00001.001*kWh);4:ERR;5:0-1:24.3.0(a)(b){C}"
 * flags: C continuation, M multiline, T trailing, N nested. */
static const char *parse_n(const char *text, size_t len) {
  static char out[8192];
  static struct dsmr_object obj;
  struct dsmr_parser p;
  enum dsmr_parse_status st;
  char *copy = malloc(len ? len : 1);
  memcpy(copy, text, len);

  out[0] = '\0';
  dsmr_parser_init(&p, copy, len);
  for (int guard = 0; guard < 1000; guard++) {
    st = dsmr_parser_next(&p, &obj);
    if (st == DSMR_PARSE_END)
      break;
    char tmp[64];
    if (out[0])
      append(out, sizeof out, ";", 1);
    if (st == DSMR_PARSE_ERROR) {
      snprintf(tmp, sizeof tmp, "%u:ERR", p.error_line);
      append(out, sizeof out, tmp, strlen(tmp));
      if (!p.error || !*p.error)
        append(out, sizeof out, "(no reason)", 11);
      continue;
    }
    snprintf(tmp, sizeof tmp, "%u:", obj.line);
    append(out, sizeof out, tmp, strlen(tmp));
    append(out, sizeof out, obj.id.ptr, obj.id.len);
    if (show_obis) {
      snprintf(tmp, sizeof tmp, "[%u,%u,%u,%u,%u,%u]", obj.obis.a, obj.obis.b,
               obj.obis.c, obj.obis.d, obj.obis.e, obj.obis.f);
      append(out, sizeof out, tmp, strlen(tmp));
    }
    for (unsigned g = 0; g < obj.ngroups && g < DSMR_MAX_GROUPS; g++) {
      append(out, sizeof out, "(", 1);
      append(out, sizeof out, obj.groups[g].ptr, obj.groups[g].len);
      append(out, sizeof out, ")", 1);
    }
    if (obj.flags) {
      snprintf(tmp, sizeof tmp, "{%s%s%s%s}",
               obj.flags & DSMR_OBJ_CONTINUATION ? "C" : "",
               obj.flags & DSMR_OBJ_MULTILINE ? "M" : "",
               obj.flags & DSMR_OBJ_TRAILING ? "T" : "",
               obj.flags & DSMR_OBJ_NESTED ? "N" : "");
      append(out, sizeof out, tmp, strlen(tmp));
    }
  }
  /* END is sticky. */
  if (dsmr_parser_next(&p, &obj) != DSMR_PARSE_END)
    append(out, sizeof out, ";NOT-STICKY", 11);
  free(copy);
  return out;
}

static const char *parse(const char *text) {
  return parse_n(text, strlen(text));
}

#define HDR "/ISK5\\2M550T-1012\r\n\r\n"

/* ---- the grammar ------------------------------------------------------ */

static void test_basic(void) {
  is_str(parse(HDR "1-3:0.2.8(50)\r\n0-0:1.0.0(101209113020W)\r\n!"),
         "3:1-3:0.2.8(50);4:0-0:1.0.0(101209113020W)", "CR LF telegram");
  is_str(parse(HDR "1-0:1.8.1(1)\r\n1-0:1.8.2(2)\r\n"),
         "3:1-0:1.8.1(1);4:1-0:1.8.2(2)", "no '!' at the end");
  is_str(parse(HDR "1-0:1.8.1(1)\r\n!\r\n1-0:1.8.2(2)\r\n"), "3:1-0:1.8.1(1)",
         "nothing after the '!' line");
  is_str(parse(HDR "0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230201000000W)\r\n!"),
         "3:0-0:98.1.0(1)(1-0:1.6.0)(1-0:1.6.0)(230201000000W)",
         "several groups");
  is_str(parse(HDR "0-0:96.13.0()\r\n1-0:99.97.0()\r\n0-2:96.1.0()()\r\n!"),
         "3:0-0:96.13.0();4:1-0:99.97.0();5:0-2:96.1.0()()", "empty groups");
  is_str(parse(HDR "\r\n\r\n1-0:1.8.1(1)\r\n\r\n1-0:1.8.2(2)\r\n!"),
         "5:1-0:1.8.1(1);7:1-0:1.8.2(2)", "empty lines skipped and counted");
  is_str(parse("/X\r\n1-0:1.8.1(1)\r\n!"), "2:1-0:1.8.1(1)",
         "no blank line after the header");
  is_str(parse("1-0:1.8.1(1)\r\n!"), "1:1-0:1.8.1(1)",
         "no '/': first line is line 1, not swallowed as a header");
  is_str(parse(""), "", "empty input");
  is_str(parse("/X"), "", "header only");
  is_str(parse("/X!"), "", "header and '!'");
  is_str(parse("/X\r\n!"), "", "no objects");
  is_str(parse(HDR "1-0:1.8.1(1)!"), "3:1-0:1.8.1(1){T}",
         "'!' right after the last group is trailing text");
  is_str(parse(HDR "1-0:1.8.1(a\tb\x01"
                   "c\x7f\xff)\r\n!"),
         "3:1-0:1.8.1(a\\x09b\\x01c\\x7f\\xff)",
         "control and high bytes inside a group");
  is_str(parse_n(HDR "1-0:1.8.1(a\0b)\r\n!", sizeof(HDR) - 1 + 17),
         "3:1-0:1.8.1(a\\x00b)", "NUL inside a group");

  struct dsmr_parser p;
  struct dsmr_object obj;
  dsmr_parser_init(&p, NULL, 0);
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_END, "NULL, 0 is empty");
  is_int(p.header.len, 0, "NULL, 0: empty header");
}

static void test_line_ends(void) {
  is_str(parse("/X\n\n1-0:1.8.1(1)\n0-0:96.1.1(2)\n!"),
         "3:1-0:1.8.1(1);4:0-0:96.1.1(2)", "LF only");
  is_str(parse("/X\r\r1-0:1.8.1(1)\r0-0:96.1.1(2)\r!"),
         "3:1-0:1.8.1(1);4:0-0:96.1.1(2)", "CR only");
  is_str(parse("/X\r\n\n1-0:1.8.1(1)\r0-0:96.1.1(2)\r\n!"),
         "3:1-0:1.8.1(1);4:0-0:96.1.1(2)", "mixed");
  is_str(parse("/X\n\r1-0:1.8.1(1)\n!"), "3:1-0:1.8.1(1)",
         "LF CR is two line ends");
}

static void test_header(void) {
  static const struct {
    const char *text, *header;
  } cases[] = {
      {"/Ene5\\T211 ESMR 5.0\r\n\r\n1-0:1.8.1(1)\r\n!", "Ene5\\T211 ESMR 5.0"},
      {"/KAM5\r\n!", "KAM5"},
      {"/KMP5 ZABF000000000000\n0-1:24.1.0(3)\n!", "KMP5 ZABF000000000000"},
      {"/ISk5\x02MT382-1000\r\n\r\n!", "ISk5\x02MT382-1000"},
      {"/XMX5LGBBFFB\r!", "XMX5LGBBFFB"},
      {"/ABC5!", "ABC5"},
      {"/\r\n!", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct dsmr_parser p;
    struct dsmr_object obj;
    dsmr_parser_init(&p, cases[i].text, strlen(cases[i].text));
    /* (the names are printed escaped: one header holds byte 0x02) */
    char name[64] = "";
    append(name, sizeof name, cases[i].header, strlen(cases[i].header));
    ok(p.header.ptr == cases[i].text + 1 &&
           dsmr_span_eq(p.header, cases[i].header),
       "header \"%s\"", name);
    while (dsmr_parser_next(&p, &obj) == DSMR_PARSE_OBJECT)
      ;
  }
  struct dsmr_parser p;
  struct dsmr_object obj;
  const char *t = "/Ene5\\T211 ESMR 5.0\r\n\r\n1-0:1.8.1(1)\r\n!";
  dsmr_parser_init(&p, t, strlen(t));
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT, "object after header");
  is_int(obj.line, 3, "header is line 1");
}

static void test_obis(void) {
  struct dsmr_parser p;
  struct dsmr_object obj;
  const char *t = "/X\r\n1-0:1.8.0*255(00052185.7825309*kWh)\r\n"
                  "0-0:96.1.255*255(1ESY1313002565)\r\n"
                  "0-1:24.2.1(150117180000W)(00473.789*m3)\r\n"
                  "255-255:255.255.255*7(x)\r\n!";
  dsmr_parser_init(&p, t, strlen(t));
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT, "*255 object");
  ok(dsmr_span_eq(obj.id, "1-0:1.8.0*255"), "id text keeps *255");
  ok(obj.obis.a == 1 && obj.obis.b == 0 && obj.obis.c == 1 && obj.obis.d == 8 &&
         obj.obis.e == 0 && obj.obis.f == 255,
     "1-0:1.8.0*255 fields");
  ok(obj.ngroups == 1 && dsmr_span_eq(obj.groups[0], "00052185.7825309*kWh"),
     "*255 group");
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT, "96.1.255*255");
  ok(obj.obis.c == 96 && obj.obis.d == 1 && obj.obis.e == 255 &&
         obj.obis.f == 255,
     "0-0:96.1.255*255 fields");
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT, "plain id");
  ok(dsmr_span_eq(obj.id, "0-1:24.2.1"), "plain id text");
  ok(obj.obis.a == 0 && obj.obis.b == 1 && obj.obis.c == 24 &&
         obj.obis.d == 2 && obj.obis.e == 1 && obj.obis.f == 255,
     "0-1:24.2.1 fields, f defaults to 255");
  ok(obj.ngroups == 2 && dsmr_span_eq(obj.groups[0], "150117180000W") &&
         dsmr_span_eq(obj.groups[1], "00473.789*m3"),
     "two groups");
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT, "max fields");
  ok(obj.obis.a == 255 && obj.obis.b == 255 && obj.obis.e == 255 &&
         obj.obis.f == 7,
     "255-255:255.255.255*7 fields");
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_END, "end");

  show_obis = 1;
  is_str(parse("/X\r\n1-0:1.8.0*7(1)\r\n001-000:001.008.000(2)\r\n"
               "0-0:96.1.1(x)\r\n1-0:99.97.0(x)\r\n0-0:96.7.21(x)\r\n!"),
         "2:1-0:1.8.0*7[1,0,1,8,0,7](1);"
         "3:001-000:001.008.000[1,0,1,8,0,255](2);"
         "4:0-0:96.1.1[0,0,96,1,1,255](x);5:1-0:99.97.0[1,0,99,97,0,255](x);"
         "6:0-0:96.7.21[0,0,96,7,21,255](x)",
         "OBIS fields");
  is_str(parse("/X\r\n1-0:1.8.0*7(1)\r\n0-0:96.7.21(x)"),
         "2:1-0:1.8.0*7[1,0,1,8,0,7](1);3:0-0:96.7.21[0,0,96,7,21,255](x)",
         "OBIS fields near the end of the buffer");
  /* F written after a '.' (the DSMR 4.2.2 standard's example telegram):
   * .255 is F = 255, any other F keeps its value; both on the fast path and
   * near the end of the buffer. */
  is_str(parse("/X\r\n1-0:31.7.0.255(001*A)\r\n1-0:1.8.1.7(2)\r\n"
               "0-0:96.1.255.255(3)\r\n1-0:1.8.1.256(4)\r\n"
               "1-0:21.7.0.255(01.111*kW)"),
         "2:1-0:31.7.0.255[1,0,31,7,0,255](001*A);"
         "3:1-0:1.8.1.7[1,0,1,8,1,7](2);"
         "4:0-0:96.1.255.255[0,0,96,1,255,255](3);5:ERR;"
         "6:1-0:21.7.0.255[1,0,21,7,0,255](01.111*kW)",
         "OBIS with F after a '.'");
  show_obis = 0;
  is_str(parse("/X\r\n1-0:1.8.0*7(1)\r\n001-000:001.008.000(2)\r\n!"),
         "2:1-0:1.8.0*7(1);3:001-000:001.008.000(2)", "odd but valid ids");
}

/* Lines that are not objects: reported with their number, then skipped. */
static void test_bad_lines(void) {
  static const char *const bad[] = {
      "hello world",      "1-0:1.8.1",     "1-0:1.8.1 (1)",   " 1-0:1.8.1(1)",
      "1.8.1(1)",         "1-0:1.8(1)",    "1-0:1.8.1.(1)",   "1-0:256.8.0(1)",
      "1-0:1.8.0*256(1)", "1-0:1.8.0*(1)", "1-0:1.8.1000(1)", "1-0:1..1(1)",
      "-0:1.8.1(1)",      "1-0;1.8.1(1)",  "1-0:1.8.1)",
  };
  char buf[256], want[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(buf, sizeof buf,
             "/X\r\n\r\n1-0:1.8.1(1)\r\n%s\r\n0-0:96.1.1(2)\r\n!", bad[i]);
    snprintf(want, sizeof want, "3:1-0:1.8.1(1);4:ERR;5:0-0:96.1.1(2)");
    is_str(parse(buf), want, "bad line \"%s\" reported, parsing goes on",
           bad[i]);
  }
  /* The same lines last in the telegram, where the id reader must check
   * every read against the end (a different code path). */
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(buf, sizeof buf, "/X\r\n\r\n1-0:1.8.1(1)\r\n%s", bad[i]);
    is_str(parse(buf), "3:1-0:1.8.1(1);4:ERR", "bad last line \"%s\"", bad[i]);
  }
  is_str(parse("/X\r\n(1)\r\n1-0:1.8.1(1)\r\n!"), "2:ERR;3:1-0:1.8.1(1)",
         "continuation line without an object");
  is_str(parse("/X\r\nfoo\r\n(1)\r\n1-0:1.8.1(1)\r\n!"),
         "2:ERR;3:ERR;4:1-0:1.8.1(1)",
         "continuation line after a rejected line is rejected too");
  is_str(parse("/X\r\ngarbage"), "2:ERR", "bad last line without line end");
  is_str(parse("/X\r\n1-0:1.8.1"), "2:ERR", "id at end of input");

  struct dsmr_parser p;
  struct dsmr_object obj;
  const char *t = "/X\r\n\r\nhello\r\n!";
  dsmr_parser_init(&p, t, strlen(t));
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_ERROR, "error status");
  is_int(p.error_line, 3, "error line");
  ok(p.error != NULL && strlen(p.error) > 5, "error reason: %s",
     p.error ? p.error : "(null)");
  is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_END, "then the end");
}

static void test_continuation(void) {
  is_str(parse("/X\r\n\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)"
               "\r\n(00001.001)\r\n0-1:24.4.0(1)\r\n!"),
         "3:0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)(00001.001){C};"
         "5:0-1:24.4.0(1)",
         "DSMR 3 gas value on the next line");
  is_str(parse("/X\n0-1:24.3.0(a)\n(b)(c)\n(d)\n!"),
         "2:0-1:24.3.0(a)(b)(c)(d){C}", "several continuation lines");
  is_str(parse("/X\r\n0-1:24.3.0(a)\r\n(b)"), "2:0-1:24.3.0(a)(b){C}",
         "continuation at the end of input");
  is_str(parse("/X\r\n0-1:24.3.0(a) x\r\n(b) y\r\n!"), "2:0-1:24.3.0(a)(b){CT}",
         "trailing text on either line");
  is_str(parse("/X\r\n0-1:24.3.0(a)\r\n\r\n(b)\r\n!"), "2:0-1:24.3.0(a);4:ERR",
         "an empty line ends the object: no continuation after it");
}

static void test_multiline(void) {
  is_str(parse("/KMP5 ZABF000000000000\r\n"
               "0-0:96.13.0(303132333435363738393A3B3C3D3E3F\r\n"
               "303132333435363738393A3B3C3D3E3F\r\n"
               "303132333435363738393A3B3C3D3E3F)\r\n"
               "1-0:1.8.1(1)\r\n!"),
         "2:0-0:96.13.0(303132333435363738393A3B3C3D3E3F\\r\\n"
         "303132333435363738393A3B3C3D3E3F\\r\\n"
         "303132333435363738393A3B3C3D3E3F){M};5:1-0:1.8.1(1)",
         "hex text message wrapped over 3 lines, CR LF kept");
  is_str(parse("/X\n0-0:96.13.0(3031\n3233)\n1-0:1.8.1(1)\n!"),
         "2:0-0:96.13.0(3031\\n3233){M};4:1-0:1.8.1(1)", "wrapped, LF");
  is_str(parse("/X\r0-0:96.13.0(3031\r3233)\r1-0:1.8.1(1)\r!"),
         "2:0-0:96.13.0(3031\\r3233){M};4:1-0:1.8.1(1)", "wrapped, CR");
  is_str(parse("/X\r\n0-0:96.13.0(\r\nab)(c\r\nd)\r\n!"),
         "2:0-0:96.13.0(\\r\\nab)(c\\r\\nd){M}", "two wrapped groups");
  is_str(parse("/X\r\n0-0:96.13.0(ab\r\n\r\ncd)\r\n1-0:1.8.1(1)\r\n!"),
         "2:0-0:96.13.0(ab\\r\\n\\r\\ncd){M};5:1-0:1.8.1(1)",
         "an empty line inside wrapped text is text");

  /* A group cut off by a new object or the end: that line is an error,
   * the next object is still read. */
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031\r\n1-0:1.8.1(1)\r\n!"),
         "3:ERR;4:1-0:1.8.1(1)", "open group, then an OBIS line");
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031\r\n3233\r\n1-0:1.8.1(1)\r\n!"),
         "3:ERR;5:1-0:1.8.1(1)", "open group over 2 lines, then an OBIS line");
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031\r\n1-0:1.8.0*255(1)\r\n!"),
         "3:ERR;4:1-0:1.8.0*255(1)", "open group, then an OBIS*F line");
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031\r\n!"), "3:ERR",
         "open group, then '!'");
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031\r\n"), "3:ERR",
         "open group, then the end");
  is_str(parse("/X\r\n\r\n0-0:96.13.0(3031"), "3:ERR",
         "open group at the end of input");
  is_str(parse("/X\r\n0-1:24.3.0(a)\r\n(b\r\n1-0:1.8.1(1)\r\n!"),
         "2:ERR;4:1-0:1.8.1(1)", "open group on a continuation line");
}

static void test_nested(void) {
  is_str(parse("/X\r\n1-0:0.2.0((ER11))\r\n1-0:0.2.8(1.0.smth smth-123)\r\n!"),
         "2:1-0:0.2.0((ER11){TN};3:1-0:0.2.8(1.0.smth smth-123)",
         "((ER11)): group \"(ER11\", nested and trailing");
  is_str(parse("/X\r\n1-1:0.2.0((ER12)\r\n1-1:0.2.8(ER13))\r\n0-1:24.4.0(1)"
               "\r\n!"),
         "2:1-1:0.2.0((ER12){N};3:1-1:0.2.8(ER13){T};4:0-1:24.4.0(1)",
         "((ER12) then (ER13)): two objects");
  is_str(parse("/X\r\n1-0:1.8.1(1)x(2)\r\n!"), "2:1-0:1.8.1(1){T}",
         "text between groups ends the groups");
  is_str(parse("/X\r\n1-1:31.4.0(100.0*A,-100.0*A)\r\n!"),
         "2:1-1:31.4.0(100.0*A,-100.0*A)", "comma value is one group");
}

static void test_max_groups(void) {
  char buf[1024], want[1024];
  size_t n;

  for (unsigned count = DSMR_MAX_GROUPS - 1; count <= DSMR_MAX_GROUPS + 1;
       count++) {
    n = (size_t)snprintf(buf, sizeof buf, "/X\r\n0-0:98.1.0");
    for (unsigned i = 0; i < count; i++)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "(%u)", i);
    snprintf(buf + n, sizeof buf - n, "\r\n1-0:1.8.1(1)\r\n!");

    struct dsmr_parser p;
    static struct dsmr_object obj;
    dsmr_parser_init(&p, buf, strlen(buf));
    int st = dsmr_parser_next(&p, &obj);
    if (count <= DSMR_MAX_GROUPS) {
      is_int(st, DSMR_PARSE_OBJECT, "%u groups accepted", count);
      is_int(obj.ngroups, count, "%u groups counted", count);
      snprintf(want, sizeof want, "%u", count - 1);
      ok(dsmr_span_eq(obj.groups[count - 1], want), "last of %u groups", count);
    } else {
      is_int(st, DSMR_PARSE_ERROR, "%u groups rejected", count);
      is_int(p.error_line, 2, "error on the object's line");
    }
    is_int(dsmr_parser_next(&p, &obj), DSMR_PARSE_OBJECT,
           "next object read after %u groups", count);
    ok(dsmr_span_eq(obj.id, "1-0:1.8.1") && obj.line == 3,
       "it is the next line's object");
  }

  /* Over the limit through continuation lines. */
  n = (size_t)snprintf(buf, sizeof buf, "/X\r\n0-1:24.3.0");
  for (unsigned i = 0; i < 40; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "(%u)", i);
  n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
  for (unsigned i = 0; i < 30; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "(%u)", i);
  snprintf(buf + n, sizeof buf - n, "\r\n1-0:1.8.1(1)\r\n!");
  is_str(parse(buf), "2:ERR;4:1-0:1.8.1(1)",
         "too many groups over a continuation line");
}

/* The group scanner reads 8 bytes at a time: put ')' , '(' and line ends
 * at every offset, and end the input at every offset. */
static void test_scanner_offsets(void) {
  char buf[128], want[256];
  unsigned bad = 0;

  for (unsigned len = 0; len < 40; len++) {
    for (unsigned nest = 0; nest <= len; nest++) {
      int n = snprintf(buf, sizeof buf, "/X\r\n1-0:1.8.1(");
      for (unsigned i = 0; i < len; i++)
        buf[n++] = i == nest ? '(' : (char)('a' + i % 26);
      buf[n++] = ')';
      buf[n] = '\0';
      int w = snprintf(want, sizeof want, "2:1-0:1.8.1(%.*s)%s", (int)len,
                       buf + n - 1 - len, nest < len ? "{N}" : "");
      (void)w;
      if (strcmp(parse_n(buf, (size_t)n), want) != 0) {
        bad++;
        printf("#   %s -> %s\n", buf, parse_n(buf, (size_t)n));
      }
      /* The same, cut before the ')': never reads past the end. */
      if (strcmp(parse_n(buf, (size_t)n - 1), "2:ERR") != 0)
        bad++;
    }
    /* Wrapped at every offset. */
    int n = snprintf(buf, sizeof buf, "/X\r\n0-0:96.13.0(");
    for (unsigned i = 0; i < len; i++)
      buf[n++] = 'A';
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\nBB)\r\n!");
    snprintf(want, sizeof want, "2:0-0:96.13.0(%.*s\\r\\nBB){M}", (int)len,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    if (strcmp(parse_n(buf, (size_t)n), want) != 0) {
      bad++;
      printf("#   wrapped %u -> %s\n", len, parse_n(buf, (size_t)n));
    }
    /* Trailing text of every length. */
    n = snprintf(buf, sizeof buf, "/X\r\n1-0:1.8.1(1)");
    for (unsigned i = 0; i < len; i++)
      buf[n++] = 'z';
    n += snprintf(buf + n, sizeof buf - (size_t)n, "\r\n1-0:1.8.2(2)");
    snprintf(want, sizeof want, "2:1-0:1.8.1(1)%s;3:1-0:1.8.2(2)",
             len ? "{T}" : "");
    if (strcmp(parse_n(buf, (size_t)n), want) != 0) {
      bad++;
      printf("#   trailing %u -> %s\n", len, parse_n(buf, (size_t)n));
    }
  }
  is_int(bad, 0, "scanner right at every offset and length");
}

/* Random lines parse the same whether they end the buffer (every read
 * checked) or are followed by padding (the unchecked fast paths). */
static void test_fast_vs_checked(void) {
  static const char alphabet[] = "0123456789012345678901234567890123456789"
                                 "--::..**(()) x\r\n";
  char line[64], text[256], want[8192];
  unsigned bad = 0, objects = 0;
  uint32_t r = 12345;

  show_obis = 1;

  for (int i = 0; i < 20000; i++) {
    size_t n;
    r = r * 1103515245u + 12345u;
    if (i % 2) {
      /* A well-formed id with fields of 1..4 digits, maybe "*F", a
       * group, and one byte changed at random. */
      unsigned v[6];
      for (int k = 0; k < 6; k++) {
        r = r * 1103515245u + 12345u;
        v[k] = (r >> 16) % ((r >> 8) % 4 == 0 ? 1200 : 120);
      }
      n = (size_t)snprintf(line, sizeof line, "%u-%u:%u.%u.%u%s%u(1)", v[0],
                           v[1], v[2], v[3], v[4], v[5] % 2 ? "*" : "", v[5]);
      if (v[5] % 2 == 0) /* no F: drop its digits */
        n = (size_t)snprintf(line, sizeof line, "%u-%u:%u.%u.%u(1)", v[0], v[1],
                             v[2], v[3], v[4]);
      r = r * 1103515245u + 12345u;
      if ((r >> 16) % 3)
        line[(r >> 8) % n] = alphabet[(r >> 20) % (sizeof alphabet - 1)];
    } else {
      n = 1 + (r >> 16) % 30;
      for (size_t k = 0; k < n; k++) {
        r = r * 1103515245u + 12345u;
        line[k] = alphabet[(r >> 16) % (sizeof alphabet - 1)];
      }
    }
    int len = snprintf(text, sizeof text, "/X\r\n%.*s", (int)n, line);
    strcpy(want, parse_n(text, (size_t)len));
    /* Padding: empty lines, which change nothing. */
    len += snprintf(text + len, sizeof text - (size_t)len,
                    "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n");
    const char *got = parse_n(text, (size_t)len);
    objects += strstr(got, "ERR") == NULL && *got;
    if (strcmp(got, want) != 0 && bad++ < 5)
      printf("#   \"%.*s\": %s vs %s\n", (int)n, line, want, got);
  }
  show_obis = 0;
  is_int(bad, 0, "20000 random lines: fast and checked paths agree");
  ok(objects > 1500, "%u of them were objects", objects);
}

/* Any prefix of a telegram parses without reading past its end (ASan and
 * valgrind check the reads; here we check it terminates sanely). */
static void test_prefixes(void) {
  const char *t = "/KMP5 ZABF000000000000\r\n"
                  "0-1:24.3.0(120517020000)(08)(60)(1)(0-1:24.2.1)(m3)\r\n"
                  "(00124.477)\r\n"
                  "0-0:96.13.0(303132333435363738393A3B3C3D3E3F\r\n"
                  "303132333435363738393A3B3C3D3E3F)\r\n"
                  "1-0:0.2.0((ER11))\r\n"
                  "!";
  size_t len = strlen(t);
  unsigned bad = 0;
  for (size_t n = 0; n <= len; n++) {
    const char *r = parse_n(t, n);
    if (strstr(r, "NOT-STICKY"))
      bad++;
  }
  is_int(bad, 0, "every prefix parses and ends");
  is_str(parse_n(t, len),
         "2:0-1:24.3.0(120517020000)(08)(60)(1)(0-1:24.2.1)(m3)(00124.477){C};"
         "4:0-0:96.13.0(303132333435363738393A3B3C3D3E3F\\r\\n"
         "303132333435363738393A3B3C3D3E3F){M};"
         "6:1-0:0.2.0((ER11){TN}",
         "the whole of it");
}

/* ---- numbers ---------------------------------------------------------- */

static struct dsmr_span S(const char *s) {
  struct dsmr_span sp = {s, strlen(s)};
  return sp;
}

static void
check_number(const char *s, long long mant, unsigned dec, const char *unit) {
  struct dsmr_number n;
  int rc = dsmr_parse_number(S(s), &n);
  is_int(rc, 0, "\"%s\" is a number", s);
  if (rc == 0) {
    is_int(n.mantissa, mant, "\"%s\" mantissa", s);
    is_int(n.decimals, dec, "\"%s\" decimals", s);
    ok(dsmr_span_eq(n.unit, unit), "\"%s\" unit \"%s\"", s, unit);
  }
}

static void test_numbers(void) {
  check_number("000687.138*kWh", 687138, 3, "kWh");
  check_number("00052185.7825309*kWh", 521857825309LL, 7, "kWh");
  check_number("-03.618*kW", -3618, 3, "kW");
  check_number("00000000", 0, 0, "");
  check_number("00000000.0000", 0, 4, "");
  check_number("2147483647*s", 2147483647LL, 0, "s");
  check_number("0.998", 998, 3, "");
  check_number("-0", 0, 0, "");
  check_number("1", 1, 0, "");
  check_number("04529*W", 4529, 0, "W");
  check_number("123456789012345678", 123456789012345678LL, 0, "");
  check_number("-999999999999999999", -999999999999999999LL, 0, "");
  check_number("0000000000123456789012345678", 123456789012345678LL, 0, "");
  check_number("12345678901234567.8", 123456789012345678LL, 1, "");
  check_number("0.000000000000000001", 1, 18, "");
  check_number("0.100000000000000000", 100000000000000000LL, 18, "");
  check_number("1*abcdefghijklmnop", 1, 0, "abcdefghijklmnop");

  static const char *const units[] = {
      "kWh", "kW", "kvarh", "kvar", "kVArh", "kVAr", "kVA",  "V",   "A",
      "m3",  "GJ", "s",     "Hz",   "W",     "Wh",   "varh", "var",
  };
  char buf[64];
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    snprintf(buf, sizeof buf, "0012.50*%s", units[i]);
    check_number(buf, 1250, 2, units[i]);
  }

  static const char *const bad[] = {
      "100.0*A,-100.0*A",
      "",
      "-",
      ".",
      "+1",
      "1.",
      ".5",
      "-.5",
      "1.2.3",
      "1*",
      "1*k W",
      "1*kWh ",
      " 1",
      "1 ",
      "1*\xb0\x43", /* degree sign + C in latin-1 */
      "1*m\xb3",
      "1e5",
      "0x10",
      "--1",
      "1-",
      "1*abcdefghijklmnopq",
      "1234567890123456789",
      "1234567890.123456789",
      "-1234567890123456789",
      "0.0000000000000000001",
      "1**kWh",
      "1*kWh*",
      "1.5*k.Wh",
      "150117180000W",
      "0-0:96.7.19",
      "(1)",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct dsmr_number n = {77, 7, {"x", 1}};
    is_int(dsmr_parse_number(S(bad[i]), &n), -1, "\"%s\" is not a number",
           bad[i]);
    ok(n.mantissa == 77 && n.decimals == 7 && n.unit.len == 1,
       "\"%s\" leaves *out alone", bad[i]);
  }
  /* The span's length is the end, not a NUL. */
  struct dsmr_number n;
  struct dsmr_span part = {"12.5*kWhXYZ", 8};
  is_int(dsmr_parse_number(part, &n), 0, "span ends before the NUL");
  ok(n.mantissa == 125 && dsmr_span_eq(n.unit, "kWh"), "span-bounded unit");
}

static long long scaled(const char *s, unsigned want, int *rc) {
  struct dsmr_number n;
  int64_t out = -424242;
  if (dsmr_parse_number(S(s), &n) != 0) {
    *rc = -99;
    return 0;
  }
  *rc = dsmr_number_scaled(&n, want, &out);
  return (long long)out;
}

static void check_scaled(const char *s, unsigned want, long long expect) {
  int rc;
  long long got = scaled(s, want, &rc);
  is_int(rc, 0, "\"%s\" scaled to %u decimals", s, want);
  is_int(got, expect, "\"%s\" scaled to %u decimals = %lld", s, want, expect);
}

static void test_scaled(void) {
  check_scaled("000687.138*kWh", 3, 687138);
  check_scaled("000687.138*kWh", 6, 687138000LL);
  check_scaled("000687.138*kWh", 0, 687);
  check_scaled("00052185.7825309*kWh", 3, 52185782LL);
  check_scaled("1.5", 0, 1);
  check_scaled("-1.5", 0, -2);
  check_scaled("-1.0", 0, -1);
  check_scaled("-0.001", 0, -1);
  check_scaled("0.001", 0, 0);
  check_scaled("-03.618*kW", 3, -3618);
  check_scaled("-03.618*kW", 2, -362);
  check_scaled("00124.477", 3, 124477);
  check_scaled("9", 18, 9000000000000000000LL);
  check_scaled("-9", 18, -9000000000000000000LL);
  check_scaled("0", 60, 0);
  check_scaled("999999999999999999", 0, 999999999999999999LL);
  check_scaled("0.000000000000000001", 0, 0);
  check_scaled("-0.000000000000000001", 0, -1);

  int rc;
  scaled("10", 18, &rc);
  is_int(rc, -1, "10 * 10^18 overflows");
  scaled("-10", 18, &rc);
  is_int(rc, -1, "-10 * 10^18 overflows");
  scaled("999999999999999999", 2, &rc);
  is_int(rc, -1, "18 digits * 100 overflows");
  scaled("1", 19, &rc);
  is_int(rc, -1, "10^19 overflows");
  scaled("1", 4000000000u, &rc);
  is_int(rc, -1, "huge scale overflows");

  /* Hand-built numbers beyond what the parser yields. */
  struct dsmr_number n = {-5, 30, {NULL, 0}};
  int64_t out = 0;
  is_int(dsmr_number_scaled(&n, 0, &out), 0, "-5e-30 to 0 decimals");
  is_int(out, -1, "-5e-30 floors to -1");
  n.mantissa = 5;
  is_int(dsmr_number_scaled(&n, 0, &out), 0, "5e-30 to 0 decimals");
  is_int(out, 0, "5e-30 floors to 0");
  n.mantissa = INT64_MIN;
  n.decimals = 1;
  is_int(dsmr_number_scaled(&n, 0, &out), 0, "INT64_MIN / 10");
  is_int(out, INT64_MIN / 10 - 1, "INT64_MIN / 10, floored");
}

static void test_double(void) {
  static const char *const cases[] = {
      "000687.138",
      "-03.618",
      "0.1",
      "0.998",
      "00124.477",
      "1",
      "-0",
      "2147483647",
      "00052185.7825309",
      "0.3",
      "123.456",
      "9007199254740991",
      "0.000000000000000001",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct dsmr_number n;
    dsmr_parse_number(S(cases[i]), &n);
    /* glibc's strtod is correctly rounded: an independent reference. */
    ok(dsmr_number_double(&n) == strtod(cases[i], NULL), "%s as double",
       cases[i]);
  }

  /* Random mantissas below 2^53 with 0..18 decimals. */
  unsigned bad = 0;
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    long long m = (long long)(x >> 11); /* < 2^53 */
    unsigned dec = (unsigned)(x % 19);
    int digits = (int)(x >> 3) % 16 + 1;
    long long mod = 1;
    for (int k = 0; k < digits; k++)
      mod *= 10;
    m %= mod;
    char buf[64];
    char digitsbuf[40];
    snprintf(digitsbuf, sizeof digitsbuf, "%0*lld", (int)dec + 1, m);
    size_t dl = strlen(digitsbuf);
    snprintf(buf, sizeof buf, "%s%.*s.%s", (x & 1) ? "-" : "", (int)(dl - dec),
             digitsbuf, digitsbuf + dl - dec);
    if (dec == 0)
      buf[strlen(buf) - 1] = '\0'; /* no "5." */
    struct dsmr_number n;
    if (dsmr_parse_number(S(buf), &n) != 0 ||
        dsmr_number_double(&n) != strtod(buf, NULL)) {
      if (bad++ < 5)
        printf("#   %s\n", buf);
    }
  }
  is_int(bad, 0, "20000 random numbers correctly rounded");
}

int main(void) {
  test_basic();
  test_line_ends();
  test_header();
  test_obis();
  test_bad_lines();
  test_continuation();
  test_multiline();
  test_nested();
  test_max_groups();
  test_scanner_offsets();
  test_prefixes();
  test_fast_vs_checked();
  test_numbers();
  test_scaled();
  test_double();
  return tap_done();
}
