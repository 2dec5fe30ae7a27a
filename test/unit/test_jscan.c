#include <stdio.h>
#include <string.h>

#include "sn_jscan.h"
#include "suites.h"

static int valid(const char *s) { return sn_jscan_value(s, strlen(s), NULL) == 0; }

START_TEST(accepts_valid_json) {
  const char *ok[] = {"0", "-1.5e+10", "\"a\\u00e9\\n\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "[]", "{}",
                      " [1, {\"a\": [null, true, false]}] ", "\"\\ud83d\\ude00\"", "1E5", "[\"x\",2]"};
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    ck_assert_msg(valid(ok[i]), "should accept %s", ok[i]);
}
END_TEST

START_TEST(rejects_invalid_json) {
  const char *bad[] = {"", "01", "1.", "-", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "\"\\x\"", "\"\x01\"",
                       "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\\ud800\"", "\"\\udc00\"", "tru",
                       "[1 2]", "{\"a\" 1}", "1 2", "nul", "[", "\"abc", "\xff"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(!valid(bad[i]), "should reject %s", bad[i]);
}
END_TEST

/* Digits are taken eight at a time: a byte that is not one, at every offset
 * of a long number, and the bytes next to '0' and '9', still end it. */
START_TEST(long_numbers_checked_at_every_offset) {
  const char stops[] = {'/', ':', 'a', ' ', '.', 'e', '\x80', '\xb9', 'x', '-'};
  char buf[64];
  for (int n = 1; n <= 40; n++) {
    memset(buf, '7', (size_t)n);
    buf[n] = '\0';
    ck_assert_msg(valid(buf), "%d digits", n);
    for (int at = 1; at < n; at++)
      for (size_t k = 0; k < sizeof(stops); k++) {
        char c = stops[k];
        int ok;
        memset(buf, '7', (size_t)n);
        buf[at] = c;
        buf[n] = '\0';
        /* a fraction or exponent with digits after it, or trailing space */
        ok = ((c == '.' || c == 'e') && at < n - 1) || (c == ' ' && at == n - 1);
        ck_assert_msg(valid(buf) == ok, "%d digits, %#x at %d", n, (unsigned char)c, at);
      }
  }
}
END_TEST

START_TEST(depth_is_limited) {
  char buf[2 * SN_JSCAN_MAX_DEPTH + 10];
  size_t n = SN_JSCAN_MAX_DEPTH + 1;
  memset(buf, '[', n);
  memset(buf + n, ']', n);
  ck_assert(sn_jscan_value(buf, 2 * n, NULL) != 0);
  ck_assert(sn_jscan_value(buf + 1, 2 * n - 2, NULL) == 0);
}
END_TEST

START_TEST(finds_member_spans_byte_exact) {
  static const char *const keys[] = {"type", "data", "items"};
  const char *msg = "{ \"type\" : \"put\", \"data\" : {\"b\": [1, 2.50, \"x\"]} }";
  sn_span v[3];
  sn_jscan_error e;
  ck_assert_int_eq(sn_jscan_object(msg, strlen(msg), keys, 3, v, &e), 0);
  ck_assert(sn_jscan_is_string(msg, v[0], "put"));
  ck_assert_int_eq((int)v[1].len, (int)strlen("{\"b\": [1, 2.50, \"x\"]}"));
  ck_assert_int_eq(memcmp(msg + v[1].off, "{\"b\": [1, 2.50, \"x\"]}", v[1].len), 0);
  ck_assert_uint_eq(v[2].len, 0);
}
END_TEST

START_TEST(iterates_array_elements) {
  static const char *const keys[] = {"items"};
  const char *msg = "{\"items\":[ 1 ,\"two\", {\"t\":[3]} ,null]}";
  const char *want[] = {"1", "\"two\"", "{\"t\":[3]}", "null"};
  sn_span v[1], e;
  size_t pos = 0;
  int n = 0;
  ck_assert_int_eq(sn_jscan_object(msg, strlen(msg), keys, 1, v, NULL), 0);
  while (sn_jscan_array_next(msg, v[0], &pos, &e)) {
    ck_assert_int_lt(n, 4);
    ck_assert_uint_eq(e.len, strlen(want[n]));
    ck_assert_int_eq(memcmp(msg + e.off, want[n], e.len), 0);
    n++;
  }
  ck_assert_int_eq(n, 4);
  {
    const char *tricky = "{\"items\":[\"a\\\"b]\" , [1,[2]],-1.5e3,true,{\"k\":\"}\"}]}";
    const char *want2[] = {"\"a\\\"b]\"", "[1,[2]]", "-1.5e3", "true", "{\"k\":\"}\"}"};
    pos = 0;
    n = 0;
    ck_assert_int_eq(sn_jscan_object(tricky, strlen(tricky), keys, 1, v, NULL), 0);
    while (sn_jscan_array_next(tricky, v[0], &pos, &e)) {
      ck_assert_int_lt(n, 5);
      ck_assert_uint_eq(e.len, strlen(want2[n]));
      ck_assert_int_eq(memcmp(tricky + e.off, want2[n], e.len), 0);
      n++;
    }
    ck_assert_int_eq(n, 5);
  }
  msg = "{\"items\":[]}";
  pos = 0;
  ck_assert_int_eq(sn_jscan_object(msg, strlen(msg), keys, 1, v, NULL), 0);
  ck_assert_int_eq(sn_jscan_array_next(msg, v[0], &pos, &e), 0);
}
END_TEST

/* Strings are checked eight bytes at a time: a bad byte must be found at every
 * offset within a word, and every good one kept, whatever the alignment. */
START_TEST(long_strings_checked_at_every_offset) {
  char buf[64];
  const char bad[] = {'\x01', '\x1f', '\x80', '\xff', '\xc0'};
  for (int at = 0; at < 40; at++) {
    for (size_t b = 0; b < sizeof(bad); b++) {
      memset(buf, 'a', sizeof(buf));
      buf[0] = '"';
      buf[1 + at] = bad[b];
      buf[48] = '"';
      ck_assert_msg(sn_jscan_value(buf, 49, NULL) != 0, "byte %02x at %d", (unsigned char)bad[b], at);
    }
    memset(buf, 'a', sizeof(buf));
    buf[0] = '"';
    buf[1 + at] = '"'; /* the string ends early: what follows is not JSON */
    buf[48] = '"';
    ck_assert_int_ne(sn_jscan_value(buf, 49, NULL), 0);
    memset(buf, 'a', sizeof(buf));
    buf[0] = '"';
    memcpy(buf + 1 + at, "\\\"\xc3\xa9 ~\x7f", 7); /* escapes, UTF-8, the top of ASCII */
    buf[48] = '"';
    ck_assert_msg(sn_jscan_value(buf, 49, NULL) == 0, "good bytes at %d", at);
  }
  ck_assert_int_ne(sn_jscan_value("\"aaaaaaaaaaaaaaaaaaaa", 21, NULL), 0); /* unterminated */
  /* Short strings: under sixteen bytes the eight-byte path does the work. */
  for (int len = 3; len < 26; len++) {
    for (int at = 1; at < len - 1; at++) {
      for (size_t b = 0; b < sizeof(bad); b++) {
        memset(buf, 'a', sizeof(buf));
        buf[0] = buf[len - 1] = '"';
        buf[at] = bad[b];
        ck_assert_msg(sn_jscan_value(buf, (size_t)len, NULL) != 0, "len %d byte %02x at %d", len,
                      (unsigned char)bad[b], at);
      }
      buf[at] = '"'; /* ends the string early */
      ck_assert_int_ne(sn_jscan_value(buf, (size_t)len, NULL), 0);
      buf[at] = '~';
      ck_assert_int_eq(sn_jscan_value(buf, (size_t)len, NULL), 0);
    }
  }
}
END_TEST

/* A put's items are listed while the frame is validated: the last "items"
 * member counts, arrays inside items are not listed, and a long list moves
 * from the caller's fixed room to the heap. */
START_TEST(lists_the_elements_of_one_member) {
  static const char *const keys[] = {"type", "items"};
  sn_span v[2], fixed[2];
  sn_jscan_list l;
  char big[4096];
  size_t n = 0;
  const char *msg = "{\"items\":[9],\"type\":\"put\",\"items\":[ 1 ,[2,3], {\"items\":[4]} ,\"x\"]}";
  const char *want[] = {"1", "[2,3]", "{\"items\":[4]}", "\"x\""};
  sn_jscan_list_init(&l, 1, fixed, 2);
  ck_assert_int_eq(sn_jscan_object_list(msg, strlen(msg), keys, 2, v, &l, NULL), 0);
  ck_assert_uint_eq(l.n, 4);
  ck_assert(l.owned);
  for (size_t i = 0; i < 4; i++) {
    ck_assert_uint_eq(l.v[i].len, strlen(want[i]));
    ck_assert_int_eq(memcmp(msg + l.v[i].off, want[i], l.v[i].len), 0);
  }
  msg = "{\"items\":[1,2],\"items\":5}"; /* the last member is not an array */
  ck_assert_int_eq(sn_jscan_object_list(msg, strlen(msg), keys, 2, v, &l, NULL), 0);
  ck_assert_uint_eq(l.n, 0);
  n += (size_t)sprintf(big, "{\"items\":[");
  for (int i = 0; i < 1000; i++)
    n += (size_t)sprintf(big + n, "%s%d", i ? "," : "", i);
  n += (size_t)sprintf(big + n, "]}");
  ck_assert_int_eq(sn_jscan_object_list(big, n, keys, 2, v, &l, NULL), 0);
  ck_assert_uint_eq(l.n, 1000);
  ck_assert_int_eq(memcmp(big + l.v[999].off, "999", 3), 0);
  ck_assert_int_ne(sn_jscan_object_list("{\"items\":[1,]}", 14, keys, 2, v, &l, NULL), 0);
  sn_jscan_list_free(&l);
  ck_assert_ptr_null(l.v);
}
END_TEST

START_TEST(object_required_and_errors_located) {
  sn_jscan_error e;
  ck_assert_int_ne(sn_jscan_object("[1]", 3, NULL, 0, NULL, &e), 0);
  ck_assert_int_ne(sn_jscan_object("{\"a\":1} x", 9, NULL, 0, NULL, &e), 0);
  ck_assert_uint_eq(e.pos, 8);
  ck_assert_int_ne(sn_jscan_object("{\"a\":1", 6, NULL, 0, NULL, &e), 0);
}
END_TEST

Suite *sn_jscan_suite(void) {
  Suite *s = suite_create("jscan");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, accepts_valid_json);
  tcase_add_test(tc, rejects_invalid_json);
  tcase_add_test(tc, depth_is_limited);
  tcase_add_test(tc, long_numbers_checked_at_every_offset);
  tcase_add_test(tc, finds_member_spans_byte_exact);
  tcase_add_test(tc, iterates_array_elements);
  tcase_add_test(tc, object_required_and_errors_located);
  tcase_add_test(tc, long_strings_checked_at_every_offset);
  tcase_add_test(tc, lists_the_elements_of_one_member);
  suite_add_tcase(s, tc);
  return s;
}
