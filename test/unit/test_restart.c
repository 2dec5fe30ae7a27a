#include <string.h>

#include "sn_policy.h"
#include "suites.h"

static sn_taskconf conf(void) {
  sn_taskconf c;
  memset(&c, 0, sizeof(c));
  c.restart = SN_RESTART_ALWAYS;
  c.backoff_ms = 100;
  c.backoff_max_ms = 1000;
  c.max_restarts = 10;
  c.restart_window_ms = 60000;
  return c;
}

START_TEST(backoff_doubles_to_max) {
  sn_taskconf c = conf();
  sn_policy p;
  uint64_t d, want[] = {100, 200, 400, 800, 1000, 1000};
  sn_policy_init(&p);
  for (int i = 0; i < 6; i++) {
    ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 1000 + (uint64_t)i * 10, 5, &d), SN_NEXT_RESTART);
    ck_assert_uint_eq(d, want[i]);
  }
  sn_policy_free(&p);
}
END_TEST

START_TEST(healthy_run_resets_backoff) {
  sn_taskconf c = conf();
  sn_policy p;
  uint64_t d;
  sn_policy_init(&p);
  sn_policy_on_exit(&p, &c, 0, 1000, 5, &d);
  sn_policy_on_exit(&p, &c, 0, 2000, 5, &d);
  ck_assert_uint_eq(d, 200);
  sn_policy_on_exit(&p, &c, 0, 100000, SN_HEALTHY_RESET_MS, &d);
  ck_assert_uint_eq(d, 100);
  sn_policy_free(&p);
}
END_TEST

START_TEST(storm_fails_after_max_restarts_in_window) {
  sn_taskconf c = conf();
  sn_policy p;
  uint64_t d;
  c.max_restarts = 3;
  c.restart_window_ms = 1000;
  sn_policy_init(&p);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 100 + (uint64_t)i, 1, &d), SN_NEXT_RESTART);
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 104, 1, &d), SN_NEXT_FAIL);
  sn_policy_reset(&p);
  /* Restarts spread wider than the window never fail. */
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 10000 + (uint64_t)i * 600, 1, &d), SN_NEXT_RESTART);
  sn_policy_free(&p);
}
END_TEST

START_TEST(policies) {
  sn_taskconf c = conf();
  sn_policy p;
  uint64_t d;
  sn_policy_init(&p);
  c.restart = SN_RESTART_NEVER;
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 1, 1, &d), SN_NEXT_STOP);
  c.restart = SN_RESTART_ON_FAILURE;
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 1, 1, 1, &d), SN_NEXT_STOP);
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 1, 1, &d), SN_NEXT_RESTART);
  c.restart = SN_RESTART_ALWAYS;
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 1, 1, 1, &d), SN_NEXT_RESTART);
  c.exec_interval_ms = 5000;
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 1, 1, 1, &d), SN_NEXT_PERIODIC);
  ck_assert_uint_eq(d, 5000);
  ck_assert_int_eq(sn_policy_on_exit(&p, &c, 0, 2, 1, &d), SN_NEXT_PERIODIC);
  ck_assert_uint_eq(d, 5000);
  sn_policy_free(&p);
}
END_TEST

Suite *sn_restart_suite(void) {
  Suite *s = suite_create("restart");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, backoff_doubles_to_max);
  tcase_add_test(tc, healthy_run_resets_backoff);
  tcase_add_test(tc, storm_fails_after_max_restarts_in_window);
  tcase_add_test(tc, policies);
  suite_add_tcase(s, tc);
  return s;
}
