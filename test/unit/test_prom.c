/* The Prometheus text format pieces: escaping, numbers, histograms. */
#include <check.h>
#include <string.h>

#include "sn_prom.h"
#include "suites.h"

static const char *text(sn_buf *b) { return sn_buf_cstr(b); }

START_TEST(label_values_are_escaped) {
  sn_buf b;
  sn_buf_init(&b, 0);
  sn_prom_label_value(&b, "a\"b\\c\nd");
  ck_assert_str_eq(text(&b), "a\\\"b\\\\c\\nd");
  sn_buf_reset(&b);
  sn_prom_label_value(&b, "plain-id_1.2");
  ck_assert_str_eq(text(&b), "plain-id_1.2");
  sn_buf_free(&b);
}
END_TEST

START_TEST(numbers) {
  sn_buf b;
  sn_buf_init(&b, 0);
  sn_prom_double(&b, 42);
  sn_buf_puts(&b, " ");
  sn_prom_double(&b, 1795504433.18);
  sn_buf_puts(&b, " ");
  sn_prom_double(&b, 0.25);
  sn_buf_puts(&b, " ");
  sn_prom_double(&b, 1.0 / 0.0);
  ck_assert_str_eq(text(&b), "42 1795504433.18 0.25 +Inf");
  sn_buf_free(&b);
}
END_TEST

START_TEST(histogram_is_cumulative) {
  sn_histo h = {0};
  sn_buf b;
  sn_histo_observe(&h, 0.0002); /* first bucket */
  sn_histo_observe(&h, 0.001);  /* le is inclusive */
  sn_histo_observe(&h, 0.7);
  sn_histo_observe(&h, 1000);   /* only +Inf */
  sn_buf_init(&b, 0);
  sn_prom_histo(&b, "x_seconds", "", &h);
  const char *s = text(&b);
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"0.0005\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"0.001\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"0.5\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"1\"} 3\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"300\"} 3\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_bucket{le=\"+Inf\"} 4\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_count 4\n"));
  ck_assert_ptr_nonnull(strstr(s, "x_seconds_sum 1000.7012\n"));
  sn_buf_reset(&b);
  sn_prom_histo(&b, "y", "kind=\"a\"", &h);
  ck_assert_ptr_nonnull(strstr(text(&b), "y_bucket{kind=\"a\",le=\"+Inf\"} 4\ny_sum{kind=\"a\"} "));
  sn_buf_free(&b);
}
END_TEST

Suite *sn_prom_suite(void) {
  Suite *s = suite_create("prom");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, label_values_are_escaped);
  tcase_add_test(tc, numbers);
  tcase_add_test(tc, histogram_is_cumulative);
  suite_add_tcase(s, tc);
  return s;
}
