#include <string.h>

#include "sn_wframe.h"
#include "sn_wqueue.h"
#include "suites.h"

START_TEST(wqueue_drops_oldest_and_counts) {
  sn_wqueue q;
  ck_assert_int_eq(sn_wqueue_init(&q, 3), 0);
  for (int i = 0; i < 5; i++) {
    char c = (char)('a' + i);
    ck_assert_int_eq(sn_wqueue_push(&q, &c, 1, 0), 0);
  }
  ck_assert_uint_eq(q.n, 3);
  ck_assert_uint_eq(q.dropped, 2);
  ck_assert_int_eq(sn_wqueue_at(&q, 0)->data[0], 'c');
  ck_assert_int_eq(sn_wqueue_at(&q, 2)->data[0], 'e');
  ck_assert_ptr_null(sn_wqueue_at(&q, 3));
  sn_wqueue_pop(&q, 2);
  ck_assert_uint_eq(q.n, 1);
  ck_assert_uint_eq(q.bytes, 1);
  sn_wqueue_free(&q);
}
END_TEST

START_TEST(wframe_round_trip) {
  unsigned char mask[4] = {1, 2, 3, 4}, hdr[SN_WFRAME_HDR_MAX], buf[70000];
  size_t sizes[] = {0, 5, 125, 126, 65535, 65536};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    size_t n = sizes[k], hl = sn_wframe_header(hdr, SN_WS_TEXT, n, mask);
    ck_assert_int_eq(hdr[0], 0x81);
    ck_assert_int_eq(hdr[1] & 0x80, 0x80);
    /* A server frame is the same without the mask bit and key. */
    memcpy(buf, hdr, hl - 4);
    buf[1] &= 0x7f;
    sn_wframe f;
    ck_assert_int_eq(sn_wframe_parse(buf, hl - 4 + n, &f), 1);
    ck_assert_uint_eq(f.payload_len, n);
    ck_assert_uint_eq(f.header_len, hl - 4);
    ck_assert_int_eq(f.fin, 1);
    if (n > 0)
      ck_assert_int_eq(sn_wframe_parse(buf, hl - 4 + n - 1, &f), 0);
  }
  buf[0] = 0x81;
  buf[1] = 0x85; /* masked frame from a server: refused */
  sn_wframe f;
  ck_assert_int_eq(sn_wframe_parse(buf, 20, &f), -1);
}
END_TEST

START_TEST(wframe_mask_is_an_involution) {
  unsigned char mask[4] = {0xde, 0xad, 0xbe, 0xef}, p[37], orig[37];
  for (int i = 0; i < 37; i++)
    p[i] = orig[i] = (unsigned char)(i * 7);
  sn_wframe_mask(p, 37, mask);
  ck_assert_int_eq(p[0], orig[0] ^ 0xde);
  ck_assert_int_eq(p[5], orig[5] ^ 0xad);
  sn_wframe_mask(p, 37, mask);
  ck_assert_int_eq(memcmp(p, orig, 37), 0);
}
END_TEST

Suite *sn_sdk_suite(void) {
  Suite *s = suite_create("sdk");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, wqueue_drops_oldest_and_counts);
  tcase_add_test(tc, wframe_round_trip);
  tcase_add_test(tc, wframe_mask_is_an_involution);
  suite_add_tcase(s, tc);
  return s;
}
