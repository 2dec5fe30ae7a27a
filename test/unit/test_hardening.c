/* The pure parts of the hardening work: UTF-8 repair of quoted text, the
 * Origin/Host policy, consumer leases in the queue, the process table. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sn_config.h"
#include "sn_err.h"
#include "sn_map.h"
#include "sn_origin.h"
#include "sn_proctree.h"
#include "sn_qlog.h"
#include "sn_queue.h"
#include "sn_utf8.h"
#include "suites.h"

static int valid_json_text(const char *s) {
  json_t *j = json_string(s);
  int ok = j != NULL;
  json_decref(j);
  return ok;
}

START_TEST(utf8_cut_inside_a_character_is_removed) {
  const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
  for (int c = 0; c < 3; c++) {
    size_t cl = strlen(chars[c]);
    for (size_t cut = 0; cut <= cl; cut++) {
      char buf[16];
      snprintf(buf, sizeof(buf), "ab%.*s", (int)cut, chars[c]);
      size_t n = sn_utf8_fix(buf);
      ck_assert(valid_json_text(buf));
      ck_assert_uint_eq(n, cut == cl ? 2 + cl : 2); /* whole, or cut back to "ab" */
    }
  }
}
END_TEST

START_TEST(utf8_invalid_bytes_become_question_marks) {
  char a[] = "x\xff y\xc0\xaf z\xed\xa0\x80 w\xf4\x90\x80\x80 \x80";
  sn_utf8_fix(a);
  ck_assert(valid_json_text(a));
  ck_assert_ptr_null(strchr(a, '\xff'));
  ck_assert_int_eq(a[0], 'x');
  ck_assert_int_eq(a[1], '?');
}
END_TEST

/* The check behind close 1007: whole messages, ASCII eight bytes at a time,
 * so every bad sequence is tried at every offset within a word. */
START_TEST(utf8_valid_finds_bad_bytes_at_every_offset) {
  const char *bad[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xc3", "\xe2\x82"};
  const char *good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x7f", ""};
  char buf[64];
  for (int at = 0; at < 24; at++) {
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
      memset(buf, 'a', sizeof(buf));
      memcpy(buf + at, bad[b], strlen(bad[b]));
      ck_assert_msg(!sn_utf8_valid(buf, 40), "bad %zu at %d", b, at);
      ck_assert(!sn_utf8_valid(buf, (size_t)at + strlen(bad[b]))); /* ending with it */
    }
    for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
      memset(buf, 'a', sizeof(buf));
      memcpy(buf + at, good[g], strlen(good[g]));
      ck_assert_msg(sn_utf8_valid(buf, 40), "good %zu at %d", g, at);
    }
  }
  ck_assert(sn_utf8_valid("", 0));
}
END_TEST

START_TEST(seterr_keeps_messages_valid) {
  char name[400];
  /* Every cut of a long name of 2-, 3- and 4-byte characters. */
  for (int pad = 0; pad < 8; pad++) {
    sn_error err = {0};
    memset(name, 'a', (size_t)pad);
    name[pad] = '\0';
    for (int i = 0; i < 90; i++)
      strcat(name, i % 3 == 0 ? "\xc3\xa9" : i % 3 == 1 ? "\xe2\x82\xac" : "\xf0\x9f\x98\x80");
    sn_seterr(&err, SN_EBADREQ, "no task '%.128s'", name);
    ck_assert(valid_json_text(err.msg));
    json_t *o = sn_err_json(SN_EBADREQ, name + pad % 3, 0); /* also when msg starts mid-character */
    ck_assert_ptr_nonnull(json_object_get(json_object_get(o, "error"), "message"));
    json_decref(o);
  }
  char *s = sn_json_dumps_safe(NULL);
  ck_assert_ptr_nonnull(strstr(s, "\"internal\""));
  free(s);
}
END_TEST

static void policy_cfg(sn_config *cfg, const char *token) {
  sn_config_init(cfg);
  cfg->allowed_origins = json_pack("[s]", "https://dash.example");
  cfg->allowed_hosts = json_pack("[s]", "edge1.lan");
  cfg->operator_token = token ? strdup(token) : NULL;
}

static int allowed(const sn_config *cfg, const char *host, const char *origin, int token_ok) {
  sn_error err = {0};
  return sn_origin_check(cfg, host, origin, token_ok, &err) == 0;
}

START_TEST(origin_policy_without_token) {
  sn_config cfg;
  policy_cfg(&cfg, NULL);
  ck_assert(allowed(&cfg, NULL, NULL, 0));
  ck_assert(allowed(&cfg, "127.0.0.1:7700", NULL, 0));
  ck_assert(allowed(&cfg, "127.0.0.1:7700", "http://127.0.0.1:7700", 0));
  ck_assert(allowed(&cfg, "localhost:7700", "http://localhost:7700", 0));
  ck_assert(allowed(&cfg, "[::1]:7700", NULL, 0));
  ck_assert(allowed(&cfg, "edge1.lan:7700", "http://edge1.lan:7700", 0));
  ck_assert(allowed(&cfg, "127.0.0.1:7700", "https://dash.example", 0));
  ck_assert(!allowed(&cfg, "127.0.0.1:7700", "http://evil.example", 0));
  ck_assert(!allowed(&cfg, "127.0.0.1:7700", "http://127.0.0.1:7701", 0)); /* another port is another origin */
  ck_assert(!allowed(&cfg, "127.0.0.1:7700", "null", 0));
  ck_assert(!allowed(&cfg, "evil.example:7700", NULL, 0)); /* DNS rebinding */
  ck_assert(!allowed(&cfg, "evil.example:7700", "http://evil.example:7700", 0));
  ck_assert(!allowed(&cfg, "10.0.0.5:7700", NULL, 0)); /* not the listen address */
  ck_assert(!allowed(&cfg, "127.0.0.1:77x", NULL, 0));
  ck_assert(!allowed(&cfg, "[::1", NULL, 0));
  ck_assert(!allowed(&cfg, "::1", NULL, 0));
  ck_assert(!allowed(&cfg, "", NULL, 0));
  strcpy(cfg.listen_host, "0.0.0.0");
  ck_assert(allowed(&cfg, "10.0.0.5:7700", NULL, 0)); /* any address when listening on all */
  ck_assert(!allowed(&cfg, "evil.example", NULL, 0));
  sn_config_free(&cfg);
}
END_TEST

START_TEST(origin_policy_with_token) {
  sn_config cfg;
  policy_cfg(&cfg, "t");
  ck_assert(allowed(&cfg, "any.name:1", NULL, 0)); /* the token guards the m paths, not the Host */
  ck_assert(!allowed(&cfg, "127.0.0.1:7700", "https://app.example", 0));
  ck_assert(allowed(&cfg, "127.0.0.1:7700", "https://app.example", 1));
  ck_assert(allowed(&cfg, "127.0.0.1:7700", "https://dash.example", 0));
  sn_config_free(&cfg);
}
END_TEST

START_TEST(queue_leases_hide_items_from_other_consumers) {
  sn_queue q;
  sn_gap g;
  uint64_t cur = 1;
  sn_queue_init(&q, 10, 0);
  for (int i = 0; i < 3; i++)
    sn_queue_push(&q, "1", 1, 0, 0, 0);
  ck_assert_int_eq(sn_queue_lease(&q, 1, 1), 1);
  ck_assert_uint_eq(sn_item_seq(sn_queue_peek_free(&q, &cur, &g)), 2); /* consumers skip it */
  cur = 1;
  ck_assert_uint_eq(sn_item_seq(sn_queue_peek(&q, &cur, &g)), 1); /* cursor readers still see it */
  ck_assert_uint_eq(q.len, 3);
  ck_assert_int_eq(sn_queue_lease(&q, 1, 0), 1); /* returned */
  cur = 1;
  ck_assert_uint_eq(sn_item_seq(sn_queue_peek_free(&q, &cur, &g)), 1);
  sn_queue_lease(&q, 1, 1);
  sn_queue_take(&q, 1);
  ck_assert_uint_eq(q.len, 2);
  ck_assert_uint_eq(q.consumed, 1);
  ck_assert_int_eq(sn_queue_lease(&q, 1, 0), 0); /* gone */
  for (int i = 0; i < 20; i++) /* a leased item can still be dropped when the queue is full */
    sn_queue_push(&q, "2", 1, 0, 0, 0);
  ck_assert_int_eq(sn_queue_lease(&q, 2, 0), 0);
  sn_queue_free(&q);
}
END_TEST

/* A stat line is parsed after the last ')': a worker names itself (comm) as
 * it likes. The figures are those of proc(5): ppid 4, pgrp 5, utime 14,
 * stime 15, rss 24 (pages). */
START_TEST(stat_lines_parse_whatever_the_command_name) {
  const long kb = sysconf(_SC_PAGESIZE) / 1024;
  /* fields 6 (session) to 25 (rsslim, not read: it may be 2^64 - 1) */
  const char *tail = " 1 2 -1 4 5 6 7 8 10 11 0 0 20 0 1 0 4242 123456 77 18446744073709551615";
  const char *names[] = {"(sleep)", "(a) b)", "() R 9 9)", "((()", "( )", "(x) S 1 2 3 4 5 6 7 8 9 10 11 12 13)"};
  char line[512];
  sn_pstat st;
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(line, sizeof(line), "321 %s S 99 98%s\n", names[i], tail);
    memset(&st, 0, sizeof(st));
    ck_assert_int_eq(sn_pstat_parse(line, 321, &st), 0);
    ck_assert_int_eq(st.pid, 321);
    ck_assert_int_eq(st.state, 'S');
    ck_assert_int_eq(st.ppid, 99);
    ck_assert_int_eq(st.pgid, 98);
    ck_assert_uint_eq(st.cpu_ticks, 10 + 11);
    ck_assert_uint_eq(st.rss_kb, 77 * (unsigned long)kb);
    ck_assert_uint_eq(st.start_time, 4242);
    ck_assert_uint_eq(st.vsize, 123456);
  }
  /* not a stat line: refused, whatever is missing */
  const char *bad[] = {"", "321 (x)", "321 (x) ", "321 (x)  S 1 2", "321 (x) S 99 98 1 2", "321 (x) S a 98",
                       "321 (x) S 99 98 1 2 -1 4 5 6 7 8 10 11 0 0 20 0 1 0 4242 123456", /* no rss */
                       "321 (x) S 99 98 1 2 3 4 5 6 7 8 9 99999999999999999999 11 -1 -2 20 0 1 0 4242 123456 77"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_int_eq(sn_pstat_parse(bad[i], 321, &st), -1);
  /* and the node's own line, read from /proc, agrees with the kernel's parent */
  ck_assert_int_eq(sn_pstat_read(getpid(), &st), 0);
  ck_assert_int_eq(st.ppid, getppid());
  ck_assert_int_eq(st.state, 'R');
  ck_assert_uint_gt(st.rss_kb, 0);
}
END_TEST

/* The process table is not capped: more processes than its first size. */
START_TEST(process_table_has_no_cap) {
  enum { N = 1500 };
  static pid_t kids[N];
  sn_ptab tab = {0};
  pid_t me = getpid();
  size_t mine = 0;
  for (int i = 0; i < N; i++) {
    kids[i] = fork();
    ck_assert_int_ge(kids[i], 0);
    if (kids[i] == 0) {
      pause();
      _exit(0);
    }
  }
  ck_assert_int_eq(sn_ptab_read(&tab), 0);
  for (size_t i = 0; i < tab.n; i++)
    mine += tab.v[i].ppid == me;
  ck_assert_uint_ge(tab.n, N);
  ck_assert_uint_ge(mine, N);
  size_t *out = malloc(sizeof(size_t) * tab.n), k = sn_pdescendants(tab.v, tab.n, me, out, tab.n);
  ck_assert_uint_ge(k, N);
  for (size_t i = 0; i < k; i++)
    ck_assert_int_eq(tab.v[out[i]].ppid, me); /* the forks have no children */
  free(out);
  sn_ptab_free(&tab);
  for (int i = 0; i < N; i++)
    kill(kids[i], SIGKILL);
  for (int i = 0; i < N; i++)
    waitpid(kids[i], NULL, 0);
}
END_TEST

/* A pid names one process only with its start time: zinit's pids are not ours to reap. */
START_TEST(process_start_time_tells_reused_pids_apart) {
  pid_t kid;
  unsigned long long mine = sn_pstart_time(getpid());
  ck_assert_uint_ne(mine, 0);
  ck_assert_uint_eq(sn_pstart_time(getpid()), mine);
  if ((kid = fork()) == 0) {
    pause();
    _exit(0);
  }
  ck_assert_uint_ne(sn_pstart_time(kid), 0);
  kill(kid, SIGKILL);
  waitpid(kid, NULL, 0);
  ck_assert_uint_eq(sn_pstart_time(kid), 0); /* gone */
}
END_TEST

/* The job table sees every job ever made come and go: it must stay as small
 * as what it holds (it once counted deleted slots as used and only doubled). */
START_TEST(map_stays_small_over_a_million_keys) {
  sn_map m;
  char key[32];
  size_t most = 0;
  sn_map_init(&m);
  for (int i = 0; i < 1000000; i++) {
    snprintf(key, sizeof(key), "j-%d", i);
    sn_map_put(&m, key, &m);
    if (i >= 100) { /* a window of 100 live keys */
      snprintf(key, sizeof(key), "j-%d", i - 100);
      sn_map_del(&m, key);
    }
    if (m.cap > most)
      most = m.cap;
  }
  ck_assert_uint_eq(m.live, 100);
  ck_assert_uint_le(most, 512);
  snprintf(key, sizeof(key), "j-%d", 999999);
  ck_assert_ptr_eq(sn_map_get(&m, key), &m);
  snprintf(key, sizeof(key), "j-%d", 5);
  ck_assert_ptr_null(sn_map_get(&m, key));
  for (int i = 999900; i < 1000000; i++) {
    snprintf(key, sizeof(key), "j-%d", i);
    sn_map_del(&m, key);
  }
  ck_assert_uint_eq(m.live, 0);
  ck_assert_uint_eq(m.cap, 64); /* shrunk back */
  sn_map_free(&m);
}
END_TEST

/* A queue log replays into the same queue; a record a crash cut is dropped. */
START_TEST(queue_log_replays_and_survives_a_cut_record) {
  char dir[] = "/tmp/sn-qlog.XXXXXX", path[600], cmd[700];
  sn_queue q, r;
  sn_qlog l;
  sn_gap g;
  uint64_t cur = 1;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  sn_queue_init(&q, 5, 0);
  ck_assert_int_eq(sn_qlog_open(&l, dir, "t", &q), 0);
  for (int i = 0; i < 8; i++) { /* 3 dropped */
    char v[8];
    int n = snprintf(v, sizeof(v), "%d", i);
    sn_qlog_put(&l, sn_queue_push(&q, v, (size_t)n, i == 7, 100 + (uint64_t)i, 0));
  }
  sn_queue_take(&q, 5);
  sn_qlog_take(&l, 5);
  sn_qlog_flush(&l, &q, 1);
  sn_qlog_close(&l, 0);
  snprintf(path, sizeof(path), "%s/queues/t.qlog", dir);
  FILE *f = fopen(path, "ab");
  fwrite("I\x09\x00", 1, 3, f); /* half a record */
  fclose(f);
  sn_queue_init(&r, 5, 0);
  ck_assert_int_eq(sn_qlog_open(&l, dir, "t", &r), 0);
  ck_assert_uint_eq(r.len, q.len);
  ck_assert_uint_eq(r.first_seq, q.first_seq);
  ck_assert_uint_eq(r.next_seq, q.next_seq);
  ck_assert_uint_eq(r.dropped, 3);
  ck_assert_uint_eq(r.consumed, 1);
  sn_item *it = sn_queue_peek(&r, &cur, &g);
  ck_assert_uint_eq(sn_item_seq(it), 4);
  ck_assert_uint_eq(sn_item_ts(it), 103);
  ck_assert(item_is(it, "3"));
  cur = 5;
  ck_assert_uint_eq(sn_item_seq(sn_queue_peek(&r, &cur, &g)), 6); /* the taken one stays a hole */
  cur = 8;
  ck_assert_int_eq(sn_item_bin(sn_queue_peek(&r, &cur, &g)), 1);
  /* A rewrite keeps the window and the counters. */
  sn_qlog_rewrite(&l, &r);
  sn_qlog_close(&l, 0);
  sn_queue_free(&r);
  sn_queue_init(&r, 5, 0);
  ck_assert_int_eq(sn_qlog_open(&l, dir, "t", &r), 0);
  ck_assert_uint_eq(r.len, q.len);
  ck_assert_uint_eq(r.next_seq, q.next_seq);
  ck_assert_uint_eq(r.dropped, 3);
  sn_qlog_close(&l, 1);
  ck_assert_int_ne(access(path, F_OK), 0);
  sn_queue_free(&r);
  sn_queue_free(&q);
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *sn_hardening_suite(void) {
  Suite *s = suite_create("hardening");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, utf8_cut_inside_a_character_is_removed);
  tcase_add_test(tc, utf8_invalid_bytes_become_question_marks);
  tcase_add_test(tc, utf8_valid_finds_bad_bytes_at_every_offset);
  tcase_add_test(tc, seterr_keeps_messages_valid);
  tcase_add_test(tc, origin_policy_without_token);
  tcase_add_test(tc, origin_policy_with_token);
  tcase_add_test(tc, queue_leases_hide_items_from_other_consumers);
  tcase_add_test(tc, process_table_has_no_cap);
  tcase_add_test(tc, stat_lines_parse_whatever_the_command_name);
  tcase_add_test(tc, process_start_time_tells_reused_pids_apart);
  tcase_add_test(tc, map_stays_small_over_a_million_keys);
  tcase_add_test(tc, queue_log_replays_and_survives_a_cut_record);
  suite_add_tcase(s, tc);
  return s;
}
