#include <signal.h>
#include <string.h>

#include "sn_taskconf.h"
#include "suites.h"

static int parse(const char *js, sn_taskconf *c, sn_error *err) {
  json_t *o = json_loads(js, 0, NULL);
  int rc;
  memset(err, 0, sizeof(*err));
  ck_assert_ptr_nonnull(o);
  rc = sn_taskconf_parse(o, c, err);
  json_decref(o);
  return rc;
}

START_TEST(defaults_apply) {
  sn_taskconf c;
  sn_error err;
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"exec\":[\"/bin/true\"]}", &c, &err), 0);
  ck_assert_int_eq(c.mode, SN_MODE_EXEC);
  ck_assert_uint_eq(c.queue_len, 1000);
  ck_assert_uint_eq(c.backoff_ms, 100);
  ck_assert_uint_eq(c.backoff_max_ms, 30000);
  ck_assert_uint_eq(c.max_restarts, 10);
  ck_assert_uint_eq(c.restart_window_ms, 60000);
  ck_assert_uint_eq(c.second_sig_duration_ms, 3000);
  ck_assert_int_eq(c.first_sig, SIGTERM);
  ck_assert_int_eq(c.restart, SN_RESTART_ALWAYS);
  ck_assert_str_eq(c.start_params, "");
  sn_taskconf_free(&c);
}
END_TEST

START_TEST(errors_name_the_field) {
  sn_taskconf c;
  sn_error err;
  ck_assert_int_eq(parse("{\"exec\":[\"/x\"]}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "task_id"));
  ck_assert_int_eq(parse("{\"task_id\":\"a b\",\"mode\":\"net\"}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "task_id"));
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"queue_len\":-1}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "queue_len"));
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"queue_len\":0}", &c, &err), SN_EBADREQ);
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"exec\":[]}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "exec"));
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"first_sig\":\"SIGNOPE\"}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "first_sig"));
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"restart\":\"sometimes\"}", &c, &err), SN_EBADREQ);
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"bogus\":1}", &c, &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "bogus"));
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"net\",\"env\":{\"A\":1}}", &c, &err), SN_EBADREQ);
  ck_assert_int_eq(parse("{\"task_id\":\"a\",\"mode\":\"exec\"}", &c, &err), SN_EBADREQ);
}
END_TEST

START_TEST(round_trips_through_json) {
  sn_taskconf c, d;
  sn_error err;
  json_t *j;
  ck_assert_int_eq(parse("{\"task_id\":\"cam:1\",\"kind\":\"cam\",\"exec\":[\"/bin/x\",\"-v\"],\"env\":{\"A\":\"b\"},"
                         "\"first_sig\":\"INT\",\"restart\":\"on-failure\",\"queue_len\":5,\"cwd\":\"/tmp\"}",
                         &c, &err), 0);
  ck_assert_int_eq(c.first_sig, SIGINT);
  j = sn_taskconf_to_json(&c);
  ck_assert_str_eq(json_string_value(json_object_get(j, "first_sig")), "SIGINT");
  ck_assert_int_eq(sn_taskconf_parse(j, &d, &err), 0);
  ck_assert_str_eq(d.task_id, "cam:1");
  ck_assert_str_eq(d.kind, "cam");
  ck_assert_uint_eq(d.queue_len, 5);
  ck_assert_int_eq(d.restart, SN_RESTART_ON_FAILURE);
  ck_assert_str_eq(d.cwd, "/tmp");
  ck_assert(json_equal(d.exec, c.exec));
  json_decref(j);
  sn_taskconf_free(&c);
  sn_taskconf_free(&d);
}
END_TEST

START_TEST(signal_names) {
  ck_assert_int_eq(sn_sigparse("SIGKILL"), SIGKILL);
  ck_assert_int_eq(sn_sigparse("hup"), SIGHUP);
  ck_assert_int_eq(sn_sigparse("SIGFOO"), -1);
  ck_assert_str_eq(sn_signame(SIGTERM), "SIGTERM");
}
END_TEST

Suite *sn_taskconf_suite(void) {
  Suite *s = suite_create("taskconf");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, defaults_apply);
  tcase_add_test(tc, errors_name_the_field);
  tcase_add_test(tc, round_trips_through_json);
  tcase_add_test(tc, signal_names);
  suite_add_tcase(s, tc);
  return s;
}
