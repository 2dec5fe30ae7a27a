#include <stdio.h>
#include <string.h>

#include "sn_queue.h"
#include "suites.h"

static void push_n(sn_queue *q, int from, int n) {
  char buf[32];
  for (int i = from; i < from + n; i++) {
    int len = snprintf(buf, sizeof(buf), "%d", i);
    ck_assert_ptr_nonnull(sn_queue_push(q, buf, (size_t)len, 0, 1000 + (uint64_t)i, (uint64_t)i));
  }
}

START_TEST(seq_starts_at_one_and_orders) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 1;
  sn_queue_init(&q, 10, 0);
  push_n(&q, 1, 3);
  for (int i = 1; i <= 3; i++) {
    sn_item *it = sn_queue_peek(&q, &cur, &g);
    ck_assert_ptr_nonnull(it);
    ck_assert_uint_eq(it->seq, (uint64_t)i);
    ck_assert_uint_eq(g.from, g.to);
    cur = it->seq + 1;
  }
  ck_assert_ptr_null(sn_queue_peek(&q, &cur, &g));
  ck_assert_uint_eq(q.next_seq, 4);
  sn_queue_free(&q);
}
END_TEST

START_TEST(drop_oldest_counts_exactly) {
  sn_queue q;
  sn_queue_init(&q, 1000, 0);
  push_n(&q, 1, 10000);
  ck_assert_uint_eq(q.len, 1000);
  ck_assert_uint_eq(q.dropped, 9000);
  ck_assert_uint_eq(q.first_seq, 9001);
  ck_assert_uint_eq(q.next_seq, 10001);
  sn_queue_free(&q);
}
END_TEST

START_TEST(cursor_behind_gets_gap) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 1;
  sn_queue_init(&q, 5, 0);
  push_n(&q, 1, 12);
  sn_item *it = sn_queue_peek(&q, &cur, &g);
  ck_assert_uint_eq(g.from, 1);
  ck_assert_uint_eq(g.to, 8);
  ck_assert_uint_eq(it->seq, 8);
  ck_assert_str_eq(it->data, "8");
  sn_queue_free(&q);
}
END_TEST

START_TEST(byte_limit_drops_oldest) {
  sn_queue q;
  sn_queue_init(&q, 100, 10);
  ck_assert_ptr_nonnull(sn_queue_push(&q, "12345", 5, 0, 0, 0));
  ck_assert_ptr_nonnull(sn_queue_push(&q, "12345", 5, 0, 0, 0));
  ck_assert_ptr_nonnull(sn_queue_push(&q, "123", 3, 0, 0, 0));
  ck_assert_uint_eq(q.len, 2);
  ck_assert_uint_eq(q.bytes, 8);
  ck_assert_uint_eq(q.dropped, 1);
  ck_assert_ptr_null(sn_queue_push(&q, "12345678901", 11, 0, 0, 0)); /* larger than the limit */
  ck_assert_uint_eq(q.len, 2);
  sn_queue_free(&q);
}
END_TEST

START_TEST(consumed_items_leave_holes_without_gaps) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 1;
  sn_queue_init(&q, 10, 0);
  push_n(&q, 1, 5);
  sn_queue_take(&q, 1);
  sn_queue_take(&q, 3);
  ck_assert_uint_eq(q.len, 3);
  ck_assert_uint_eq(q.first_seq, 2);
  ck_assert_uint_eq(q.consumed, 2);
  ck_assert_uint_eq(q.dropped, 0);
  sn_item *it = sn_queue_peek(&q, &cur, &g);
  ck_assert_uint_eq(g.from, g.to); /* consumption is not a gap */
  ck_assert_uint_eq(it->seq, 2);
  cur = 3;
  it = sn_queue_peek(&q, &cur, &g);
  ck_assert_uint_eq(it->seq, 4);
  sn_queue_take(&q, 99); /* unknown seq: ignored */
  sn_queue_free(&q);
}
END_TEST

START_TEST(resize_keeps_newest) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 0;
  sn_queue_init(&q, 10, 0);
  push_n(&q, 1, 8);
  ck_assert_int_eq(sn_queue_resize(&q, 3, 0), 0);
  ck_assert_uint_eq(q.len, 3);
  ck_assert_uint_eq(q.dropped, 5);
  ck_assert_uint_eq(q.first_seq, 6);
  push_n(&q, 9, 2);
  ck_assert_uint_eq(q.first_seq, 8);
  cur = 8;
  ck_assert_str_eq(sn_queue_peek(&q, &cur, &g)->data, "8");
  ck_assert_int_eq(sn_queue_resize(&q, 20, 0), 0);
  push_n(&q, 11, 5);
  ck_assert_uint_eq(q.len, 8);
  ck_assert_int_eq(sn_queue_resize(&q, 0, 0), -1);
  sn_queue_free(&q);
}
END_TEST

START_TEST(future_cursor_waits) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 50;
  sn_queue_init(&q, 10, 0);
  push_n(&q, 1, 3);
  ck_assert_ptr_null(sn_queue_peek(&q, &cur, &g));
  ck_assert_uint_eq(cur, 50);
  sn_queue_free(&q);
}
END_TEST

START_TEST(binary_bytes_kept_exactly) {
  sn_queue q;
  unsigned char b[256];
  for (int i = 0; i < 256; i++)
    b[i] = (unsigned char)i;
  sn_queue_init(&q, 2, 0);
  sn_item *it = sn_queue_push(&q, b, sizeof(b), 1, 5, 6);
  ck_assert_int_eq(it->bin, 1);
  ck_assert_uint_eq(it->len, 256);
  ck_assert_int_eq(memcmp(it->data, b, 256), 0);
  sn_queue_free(&q);
}
END_TEST

Suite *sn_queue_suite(void) {
  Suite *s = suite_create("queue");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, seq_starts_at_one_and_orders);
  tcase_add_test(tc, drop_oldest_counts_exactly);
  tcase_add_test(tc, cursor_behind_gets_gap);
  tcase_add_test(tc, byte_limit_drops_oldest);
  tcase_add_test(tc, consumed_items_leave_holes_without_gaps);
  tcase_add_test(tc, resize_keeps_newest);
  tcase_add_test(tc, future_cursor_waits);
  tcase_add_test(tc, binary_bytes_kept_exactly);
  suite_add_tcase(s, tc);
  return s;
}
