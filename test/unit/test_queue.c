#include <stdio.h>
#include <stdlib.h>
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
    ck_assert_uint_eq(sn_item_seq(it), (uint64_t)i);
    ck_assert_uint_eq(g.from, g.to);
    cur = sn_item_seq(it) + 1;
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
  ck_assert_uint_eq(sn_item_seq(it), 8);
  ck_assert(item_is(it, "8"));
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
  ck_assert_uint_eq(sn_item_seq(it), 2);
  cur = 3;
  it = sn_queue_peek(&q, &cur, &g);
  ck_assert_uint_eq(sn_item_seq(it), 4);
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
  ck_assert(item_is(sn_queue_peek(&q, &cur, &g), "8"));
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
  ck_assert_int_eq(sn_item_bin(it), 1);
  ck_assert_uint_eq(it->len, 256);
  ck_assert_int_eq(memcmp(it->data, b, 256), 0);
  sn_queue_free(&q);
}
END_TEST

/* Items are packed in chunks; seq, ts and gseq are offsets from a chunk's
 * bases. Values that do not fit as offsets (a clock that jumped, a clock
 * that went back) start a new chunk and read back exactly. */
START_TEST(chunk_offsets_read_back_exactly) {
  sn_queue q;
  sn_gap g;
  uint64_t ts[] = {1000, 1001, 1000 + ((uint64_t)1 << 33), 5, 6, UINT64_MAX - 1};
  uint64_t gs[] = {1, (uint64_t)1 << 40, 3, 4, ((uint64_t)1 << 40) + 5, 7};
  sn_queue_init(&q, 100, 0);
  for (int i = 0; i < 6; i++)
    ck_assert_ptr_nonnull(sn_queue_push(&q, "ab", 2, i & 1, ts[i], gs[i]));
  for (uint64_t cur = 1; cur <= 6; cur++) {
    sn_item *it = sn_queue_peek(&q, &cur, &g);
    ck_assert_uint_eq(sn_item_seq(it), cur);
    ck_assert_uint_eq(sn_item_ts(it), ts[cur - 1]);
    ck_assert_uint_eq(sn_item_gseq(it), gs[cur - 1]);
    ck_assert_int_eq(sn_item_bin(it), (int)((cur - 1) & 1));
    ck_assert(item_is(it, "ab"));
  }
  sn_queue_free(&q);
}
END_TEST

static size_t chunk_bytes(sn_queue *q, size_t *n) {
  size_t total = 0;
  *n = 0;
  for (sn_list *l = q->chunks.next; l != &q->chunks; l = l->next, (*n)++)
    total += sizeof(sn_qchunk) + sn_list_entry(l, sn_qchunk, link)->size;
  return total;
}

/* The measure: a million 100-byte items cost at most 32 bytes each
 * beyond their data, slot pointer and chunk headers included (malloc's own
 * 16 bytes per 64 KiB chunk aside). */
START_TEST(a_million_items_cost_32_bytes_each_at_most) {
  sn_queue q;
  char item[100];
  size_t n, bytes;
  memset(item, 'x', sizeof(item));
  sn_queue_init(&q, 1000000, 0);
  for (int i = 0; i < 1000000; i++)
    sn_queue_push(&q, item, sizeof(item), 0, 1000 + (uint64_t)i / 10, (uint64_t)i);
  bytes = chunk_bytes(&q, &n) + q.cap * sizeof(*q.slots);
  ck_assert_uint_le((bytes - 100u * 1000000u) / 1000000u, 32);
  /* taken or dropped, their chunks go back */
  for (uint64_t seq = 1; seq <= 1000000; seq++)
    sn_queue_take(&q, seq);
  chunk_bytes(&q, &n);
  ck_assert_uint_eq(n, 0);
  sn_queue_free(&q);
}
END_TEST

START_TEST(a_big_item_gets_a_chunk_of_its_own) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 2;
  size_t n;
  char *big = malloc(200000);
  memset(big, 'b', 200000);
  sn_queue_init(&q, 10, 0);
  sn_queue_push(&q, "a", 1, 0, 1, 1);
  sn_queue_push(&q, big, 200000, 1, 2, 2);
  sn_queue_push(&q, "c", 1, 0, 3, 3);
  chunk_bytes(&q, &n);
  ck_assert_uint_eq(n, 3);
  sn_item *it = sn_queue_peek(&q, &cur, &g);
  ck_assert_uint_eq(it->len, 200000);
  ck_assert_int_eq(memcmp(it->data, big, 200000), 0);
  sn_queue_take(&q, 2);
  chunk_bytes(&q, &n);
  ck_assert_uint_eq(n, 2);
  sn_queue_free(&q);
  free(big);
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
  tcase_add_test(tc, chunk_offsets_read_back_exactly);
  tcase_add_test(tc, a_million_items_cost_32_bytes_each_at_most);
  tcase_add_test(tc, a_big_item_gets_a_chunk_of_its_own);
  suite_add_tcase(s, tc);
  return s;
}
