#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sn_config.h"
#include "suites.h"

static int load(sn_config *cfg, const char *js, sn_error *err) {
  json_t *o = json_loads(js, 0, NULL);
  int rc;
  memset(err, 0, sizeof(*err));
  ck_assert_ptr_nonnull(o);
  rc = sn_config_load_json(cfg, o, err);
  json_decref(o);
  return rc;
}

START_TEST(defaults) {
  sn_config cfg;
  sn_config_init(&cfg);
  ck_assert_str_eq(cfg.listen_host, "127.0.0.1");
  ck_assert_int_eq(cfg.listen_port, 7700);
  ck_assert_uint_eq(cfg.max_message_bytes, 1024 * 1024);
  ck_assert_int_eq(cfg.allow_remote, 0);
  ck_assert_ptr_null(cfg.operator_token);
  sn_config_free(&cfg);
}
END_TEST

START_TEST(listen_forms) {
  sn_config cfg;
  sn_error err = {0};
  sn_config_init(&cfg);
  ck_assert_int_eq(sn_config_set_listen(&cfg, "0.0.0.0:0", &err), 0);
  ck_assert_int_eq(cfg.listen_port, 0);
  ck_assert_int_eq(sn_config_set_listen(&cfg, "[::1]:8080", &err), 0);
  ck_assert_str_eq(cfg.listen_host, "::1");
  ck_assert_int_eq(cfg.listen_port, 8080);
  ck_assert_int_eq(sn_config_set_listen(&cfg, ":9", &err), 0);
  ck_assert_str_eq(cfg.listen_host, "0.0.0.0");
  ck_assert_int_ne(sn_config_set_listen(&cfg, "host", &err), 0);
  memset(&err, 0, sizeof(err));
  ck_assert_int_ne(sn_config_set_listen(&cfg, "h:70000", &err), 0);
  sn_config_free(&cfg);
}
END_TEST

START_TEST(keys_validated) {
  sn_config cfg;
  sn_error err;
  sn_config_init(&cfg);
  ck_assert_int_eq(load(&cfg, "{\"listen\":\"127.0.0.1:1234\",\"operator_token\":\"t\",\"max_tasks\":5,"
                              "\"_comment\":\"ignored\",\"exec_allow\":[\"/usr/bin/*\"],\"log_level\":\"debug\"}", &err), 0);
  ck_assert_int_eq(cfg.listen_port, 1234);
  ck_assert_str_eq(cfg.operator_token, "t");
  ck_assert_uint_eq(cfg.max_tasks, 5);
  ck_assert_int_eq(load(&cfg, "{\"max_tasks\":0}", &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "max_tasks"));
  ck_assert_int_eq(load(&cfg, "{\"nope\":1}", &err), SN_EBADREQ);
  ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
  ck_assert_int_eq(load(&cfg, "{\"exec_allow\":[\"relative\"]}", &err), SN_EBADREQ);
  ck_assert_int_eq(load(&cfg, "{\"tasks\":[{\"mode\":\"net\"}]}", &err), SN_EBADREQ);
  ck_assert_int_eq(load(&cfg, "{\"log_level\":\"loud\"}", &err), SN_EBADREQ);
  sn_config_free(&cfg);
}
END_TEST

static void touch(const char *dir, const char *name) {
  char p[600];
  FILE *f;
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
}

START_TEST(exec_allow_globs) {
  sn_config cfg;
  sn_error err;
  char d[] = "/tmp/sn-allow.XXXXXX", js[1200], p[600], q[600];
  ck_assert_ptr_nonnull(mkdtemp(d));
  snprintf(p, sizeof(p), "%s/w", d);
  mkdir(p, 0700);
  snprintf(p, sizeof(p), "%s/w/sub", d);
  mkdir(p, 0700);
  touch(d, "w/worker");
  touch(d, "w/sub/x");
  touch(d, "evil");
  snprintf(p, sizeof(p), "%s/evil", d);
  snprintf(q, sizeof(q), "%s/w/link", d);
  ck_assert_int_eq(symlink(p, q), 0);

  sn_config_init(&cfg);
  ck_assert(sn_config_exec_allowed(&cfg, "anything"));
  snprintf(js, sizeof(js), "{\"exec_allow\":[\"/usr/bin/*\", \"%s/w/*/*\", \"%s/w/worker\", \"%s/w/l*\"]}", d, d, d);
  ck_assert_int_eq(load(&cfg, js, &err), 0);
  ck_assert(sn_config_exec_allowed(&cfg, "/usr/bin/python3"));
  ck_assert(sn_config_exec_allowed(&cfg, "/bin/sh")); /* /bin may be a link to /usr/bin */
  snprintf(p, sizeof(p), "%s/w/worker", d);
  ck_assert(sn_config_exec_allowed(&cfg, p));
  snprintf(p, sizeof(p), "%s/w/sub/x", d);
  ck_assert(sn_config_exec_allowed(&cfg, p));
  /* The glob matches these spellings, but the files they name are elsewhere. */
  snprintf(p, sizeof(p), "%s/w/../evil", d);
  ck_assert(!sn_config_exec_allowed(&cfg, p));
  snprintf(p, sizeof(p), "%s/w/link", d);
  ck_assert(!sn_config_exec_allowed(&cfg, p));
  snprintf(p, sizeof(p), "%s/w/worker2", d); /* no such file */
  ck_assert(!sn_config_exec_allowed(&cfg, p));
  ck_assert(!sn_config_exec_allowed(&cfg, "/usr/bin/sub/x"));
  ck_assert(!sn_config_exec_allowed(&cfg, "python3"));
  sn_config_free(&cfg);
  snprintf(js, sizeof(js), "rm -rf '%s'", d);
  ck_assert_int_eq(system(js), 0);
}
END_TEST

START_TEST(example_config_loads) {
  sn_config cfg;
  sn_error err = {0};
  char path[512];
  snprintf(path, sizeof(path), "%s/conf/supernode.json", SN_SOURCE_DIR);
  sn_config_init(&cfg);
  ck_assert_msg(sn_config_load_file(&cfg, path, &err) == 0, "%s", err.msg);
  sn_config_free(&cfg);
}
END_TEST

Suite *sn_config_suite(void) {
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, defaults);
  tcase_add_test(tc, listen_forms);
  tcase_add_test(tc, keys_validated);
  tcase_add_test(tc, exec_allow_globs);
  tcase_add_test(tc, example_config_loads);
  suite_add_tcase(s, tc);
  return s;
}
