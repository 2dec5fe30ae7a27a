/* The parsers of outside bytes split out of their I/O for fuzzing: URL
 * arguments, worker frames, zinit replies, Redis replies, the SDK's frames.
 * Each case that once misbehaved is kept here (see test/fuzz). */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sn_hero.h"
#include "sn_resp.h"
#include "sn_rurl.h"
#include "sn_node.h"
#include "sn_url.h"
#include "sn_wframe.h"
#include "sn_win.h"
#include "sn_wmsg.h"
#include "sn_wsout.h"
#include "sn_zparse.h"
#include "suites.h"

START_TEST(url_args_and_numbers) {
  char v[8];
  uint64_t n;
  ck_assert_int_eq(sn_url_ws_route("/m/fetch/x"), SN_ROLE_WS_FETCH);
  ck_assert_int_eq(sn_url_ws_route("/m/fetch/"), SN_ROLE_WS_FETCH_ALL);
  ck_assert_int_eq(sn_url_ws_route("/m/cmdx"), SN_ROLE_NONE);
  ck_assert_int_eq(sn_url_arg("from=12", 7, "from", v, sizeof(v)), 1);
  ck_assert_str_eq(v, "12");
  ck_assert_int_eq(sn_url_arg("fromage=1", 9, "from", v, sizeof(v)), 0);
  ck_assert_int_eq(sn_url_arg("consume", 7, "consume", v, sizeof(v)), 1);
  ck_assert_str_eq(v, "");
  /* A value too long for the buffer is not cut into another valid number. */
  ck_assert_int_eq(sn_url_arg("from=123456789", 14, "from", v, sizeof(v)), 1);
  ck_assert_str_eq(v, "");
  ck_assert_int_eq(sn_url_parse_from("oldest", 0, &n), 0);
  ck_assert_int_eq(sn_url_parse_from("0", 0, &n), -1);
  ck_assert_int_eq(sn_url_parse_from("18446744073709551616", 0, &n), -1); /* over 2^64 */
  ck_assert_int_eq(sn_url_parse_from("18446744073709551615", 0, &n), -1); /* UINT64_MAX means "new" */
  ck_assert_int_eq(sn_url_parse_from("5", 1, &n), -1);                    /* the all-tasks stream */
  ck_assert_int_eq(sn_url_parse_range("9223372036854776", 100, 3600000, &n), -1);
  ck_assert_int_eq(sn_url_parse_range("-5", 0, 10, &n), -1);
  ck_assert_int_eq(sn_url_parse_range("5abc", 0, 10, &n), -1);
  ck_assert_int_eq(sn_url_parse_range(" 5", 0, 10, &n), -1);
  ck_assert_int_eq(sn_url_parse_range("10", 0, 10, &n), 0);
  ck_assert_uint_eq(n, 10);
}
END_TEST

static int wmsg_type(const char *s, int *code) {
  sn_wmsg m;
  sn_error err = {0};
  int rc = sn_wmsg_parse(s, strlen(s), &m, &err), type = m.type;
  *code = rc ? err.code : 0;
  sn_wmsg_free(&m);
  return type;
}

START_TEST(worker_frames) {
  int code;
  ck_assert_int_eq(wmsg_type("{\"type\":\"put\",\"data\":1}", &code), SN_WM_PUT);
  ck_assert_int_eq(code, 0);
  wmsg_type("{\"type\":\"put\",\"items\":{}}", &code);
  ck_assert_int_eq(code, SN_EBADREQ);
  wmsg_type("{\"type\":\"put\"}", &code);
  ck_assert_int_eq(code, SN_EBADREQ);
  wmsg_type("", &code); /* the empty frame that once crashed the node */
  ck_assert_int_eq(code, SN_EBADJSON);
  ck_assert_int_eq(wmsg_type("{\"type\":\"nope\"}", &code), SN_WM_UNKNOWN);
  ck_assert_int_eq(code, SN_EBADREQ);
  ck_assert_int_eq(wmsg_type("{\"data\":1}", &code), SN_WM_NOTYPE);
  sn_wmsg m;
  sn_error err = {0};
  const char *r = "{\"type\":\"result\",\"job_id\":\"j-1\",\"ok\":false,\"error\":\"b\\u0000oom\"}";
  ck_assert_int_eq(sn_wmsg_parse(r, strlen(r), &m, &err), 0);
  ck_assert_str_eq(m.job_id, "j-1");
  ck_assert_int_eq(m.ok, 0);
  ck_assert_str_eq(m.error, "b"); /* a NUL in the text ends it */
  sn_wmsg_free(&m);
  sn_hello h;
  const char *bad[] = {"", "[]", "{\"type\":\"hello\"}", "{\"type\":\"hello\",\"task_id\":\"a b\"}",
                       "{\"type\":\"hello\",\"task_id\":7}",
                       "{\"type\":\"hello\",\"task_id\":\"a\",\"max_jobs\":0}",
                       "{\"type\":\"hello\",\"task_id\":\"a\",\"max_jobs\":1025}",
                       "{\"type\":\"hello\",\"task_id\":\"a\",\"max_jobs\":\"2\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    sn_error e2 = {0};
    ck_assert_int_ne(sn_hello_parse(bad[i], strlen(bad[i]), &h, &e2), 0);
    ck_assert_int_eq(e2.code, SN_EBADREQ);
    sn_hello_free(&h);
  }
  const char *mj = "{\"type\":\"hello\",\"task_id\":\"a\",\"max_jobs\":1024}";
  sn_error e3 = {0};
  ck_assert_int_eq(sn_hello_parse(mj, strlen(mj), &h, &e3), 0);
  ck_assert_uint_eq(h.max_jobs, 1024);
  sn_hello_free(&h);
  ck_assert_int_eq(sn_hello_parse("{\"type\":\"hello\",\"task_id\":\"a\"}", 30, &h, &e3), 0);
  ck_assert_uint_eq(h.max_jobs, 1); /* absent: one job at a time */
  sn_hello_free(&h);
}
END_TEST

/* The node frames coalesced replies itself (sn_wsout.c): each length form,
 * decoded back by the SDK's own parser. */
START_TEST(ws_frames_written_by_the_node) {
  size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
  for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
    sn_buf b;
    char *payload = malloc(lens[i] + 1);
    sn_wframe f;
    memset(payload, 'a' + (int)i, lens[i]);
    sn_buf_init(&b, 0);
    sn_wsout_append(&b, payload, lens[i], (int)(i & 1));
    sn_wsout_append(&b, "x", 1, 0); /* a second frame right behind it */
    ck_assert_int_eq(sn_wframe_parse((unsigned char *)sn_buf_data(&b), b.len, &f), 1);
    ck_assert_uint_eq(f.payload_len, lens[i]);
    ck_assert_int_eq(f.opcode, (i & 1) ? 2 : 1);
    ck_assert(f.fin); /* and unmasked: the parser refuses masked frames from a server */
    ck_assert(lens[i] == 0 || memcmp(sn_buf_data(&b) + f.header_len, payload, lens[i]) == 0);
    ck_assert_uint_eq(b.len, f.header_len + lens[i] + 3);
    sn_buf_free(&b);
    free(payload);
  }
}
END_TEST

START_TEST(zinit_replies_and_states) {
  sn_zreply r;
  int code, sig;
  json_t *root, *result;
  const char *etext;
  const char *both = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":1,\"error\":{}}";
  const char *text_err = "{\"state\":\"error\",\"body\":7}";
  const char *snap = "[+] sn-t: a\xff\n[+] sn-tx: b\n[-] sn-t: c\nshort\n";
  ck_assert_int_eq(sn_zreply_parse(both, strlen(both), &r), 0);
  ck_assert_ptr_null(r.result); /* an error wins */
  ck_assert_int_eq(r.has_id, 1);
  sn_zreply_free(&r);
  ck_assert_int_eq(sn_zreply_parse("nope", 4, &r), -1);
  sn_zreply_free(&r);
  ck_assert_int_eq(sn_ztext_parse_reply(text_err, strlen(text_err), &root, &result, &etext, &code), -1);
  ck_assert_str_eq(etext, "bad reply");
  json_decref(root);
  ck_assert(sn_zstate_ended("Error(Exited(Pid(812), 3))", &code, &sig) && code == 3 && sig == 0);
  ck_assert(sn_zstate_ended("Error(Exited(Pid(1), 99999999999999999999))", &code, &sig) && code > 0);
  ck_assert(sn_zstate_ended("Error(Signaled(Pid(1), SIGTERM, false))", &code, &sig) && sig == SIGTERM);
  ck_assert(sn_zstate_ended("Error(Signaled(Pid(1), SIGNOPE, false))", &code, &sig) && sig == SIGKILL);
  ck_assert(!sn_zstate_ended("Running", &code, &sig));
  json_t *lines = sn_ztext_log_lines("sn-t", snap, strlen(snap));
  ck_assert_uint_eq(json_array_size(lines), 2); /* "sn-tx" is another service; bad bytes repaired */
  json_decref(lines);
}
END_TEST

static redisReply *read_reply(const char *resp, size_t n) {
  redisReader *rd = redisReaderCreate();
  void *rep = NULL;
  redisReaderFeed(rd, resp, n);
  ck_assert_int_eq(redisReaderGetReply(rd, &rep), REDIS_OK);
  redisReaderFree(rd);
  return rep;
}

START_TEST(redis_replies) {
  /* BRPOP answered with a nil id: once a NULL dereference. */
  static const char nil_id[] = "*2\r\n$4\r\nq:ab\r\n$-1\r\n";
  redisReply *rep = read_reply(nil_id, sizeof(nil_id) - 1);
  ck_assert_ptr_null(sn_hero_popped(rep));
  freeReplyObject(rep);
  /* An id that would break the JSON frames it is pasted into. */
  static const char quote_id[] = "*2\r\n$4\r\nq:ab\r\n$4\r\nj\"}x\r\n";
  rep = read_reply(quote_id, sizeof(quote_id) - 1);
  ck_assert_ptr_null(sn_hero_popped(rep));
  freeReplyObject(rep);
  /* A hash with non-string fields and a timeout that overflowed atoll * 1000. */
  static const char hash[] = "*8\r\n$2\r\nid\r\n$3\r\nj-1\r\n:5\r\n$1\r\nx\r\n$11\r\nscript_type\r\n$4\r\necho\r\n"
                             "$7\r\ntimeout\r\n$20\r\n99999999999999999999\r\n";
  rep = read_reply(hash, sizeof(hash) - 1);
  json_t *h = sn_hero_hash(rep);
  sn_error err = {0};
  json_t *req = sn_hero_job_req(h, &err);
  ck_assert_ptr_nonnull(req);
  ck_assert_ptr_null(json_object_get(req, "timeout_ms")); /* unreadable: the default applies */
  ck_assert_str_eq(json_string_value(json_object_get(req, "kind")), "echo");
  json_decref(req);
  json_decref(h);
  freeReplyObject(rep);
  h = json_pack("{s:s, s:s}", "id", "j-1", "script_type", "bad kind!");
  ck_assert_ptr_null(sn_hero_job_req(h, &err));
  json_decref(h);
}
END_TEST

START_TEST(redis_huge_array) {
  /* fuzz_redis: an array length read before any element made hiredis 0.14
   * allocate 2.3 GB at once. A bounded reader fails the reply instead. */
  static const char huge[] = "*288888888\r\n$7\r\nmessage\r\n";
  redisReader *rd = redisReaderCreate();
  void *rep = NULL;
  sn_hero_bound_reader(rd);
  redisReaderFeed(rd, huge, sizeof(huge) - 1);
  ck_assert_int_eq(redisReaderGetReply(rd, &rep), REDIS_ERR);
  ck_assert_ptr_null(rep);
  redisReaderFree(rd);
  /* The bound itself is allowed. */
  char at[32];
  int n = snprintf(at, sizeof(at), "*%d\r\n", SN_REDIS_MAX_ELEMENTS);
  rd = redisReaderCreate();
  sn_hero_bound_reader(rd);
  redisReaderFeed(rd, at, (size_t)n);
  ck_assert_int_eq(redisReaderGetReply(rd, &rep), REDIS_OK);
  ck_assert_ptr_null(rep); /* waiting for its elements */
  redisReaderFree(rd);
}
END_TEST

START_TEST(redis_urls) {
  sn_rurl u;
  sn_error err = {0};
  ck_assert_int_eq(sn_rurl_parse("redis://127.0.0.1:6380", &u, &err), 0);
  ck_assert_str_eq(u.host, "127.0.0.1");
  ck_assert_int_eq(u.port, 6380);
  ck_assert_int_eq(u.db, 0);
  ck_assert_str_eq(u.pass, "");
  ck_assert_int_eq(sn_rurl_parse("redis://alice:p%40ss%3Aw@redis.lan/3", &u, &err), 0);
  ck_assert_str_eq(u.user, "alice");
  ck_assert_str_eq(u.pass, "p@ss:w");
  ck_assert_str_eq(u.host, "redis.lan");
  ck_assert_int_eq(u.port, 6379);
  ck_assert_int_eq(u.db, 3);
  ck_assert_int_eq(sn_rurl_parse("redis://:secret@[::1]:7000/0", &u, &err), 0);
  ck_assert_str_eq(u.user, "");
  ck_assert_str_eq(u.pass, "secret");
  ck_assert_str_eq(u.host, "::1");
  ck_assert_int_eq(u.port, 7000);
  ck_assert_int_eq(sn_rurl_parse("redis://secret@h:1", &u, &err), 0); /* as redis-cli reads it */
  ck_assert_str_eq(u.pass, "secret");
  ck_assert_int_eq(sn_rurl_parse("rediss://h:6379", &u, &err), -1);
  ck_assert_ptr_nonnull(strstr(err.msg, "TLS"));
  ck_assert_int_eq(sn_rurl_parse("redis://h:0", &u, &err), -1);
  ck_assert_int_eq(sn_rurl_parse("redis://h:99999", &u, &err), -1);
  ck_assert_int_eq(sn_rurl_parse("redis://h:6379/x", &u, &err), -1);
  ck_assert_int_eq(sn_rurl_parse("redis://:p%4@h", &u, &err), -1);  /* cut escape */
  ck_assert_int_eq(sn_rurl_parse("redis://:p%00@h", &u, &err), -1); /* NUL in a password */
  ck_assert_int_eq(sn_rurl_parse("redis://@:1", &u, &err), -1);
  ck_assert_int_eq(sn_rurl_parse("http://h:1", &u, &err), -1);
  ck_assert_int_eq(sn_rurl_parse("redis://[::1", &u, &err), -1);
}
END_TEST

START_TEST(sdk_frames) {
  sn_wframe f;
  sn_wasm a;
  const unsigned char *msg;
  size_t len;
  int op;
  unsigned char big[10] = {0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  ck_assert_int_eq(sn_wframe_parse(big, sizeof(big), &f), -1);                        /* 2^63 bytes */
  ck_assert_int_eq(sn_wframe_parse((const unsigned char *)"\xc1\x00", 2, &f), -1);    /* RSV1 */
  ck_assert_int_eq(sn_wframe_parse((const unsigned char *)"\x09\x00", 2, &f), -1);    /* fragmented ping */
  ck_assert_int_eq(sn_wframe_parse((const unsigned char *)"\x83\x00", 2, &f), -1);    /* opcode 3 */
  sn_wasm_init(&a);
  f.opcode = SN_WS_CONT, f.fin = 1, f.payload_len = 1;
  ck_assert_int_eq(sn_wasm_feed(&a, &f, (const unsigned char *)"x", &msg, &len, &op), -1);
  f.opcode = SN_WS_TEXT, f.fin = 0, f.payload_len = 2;
  ck_assert_int_eq(sn_wasm_feed(&a, &f, (const unsigned char *)"ab", &msg, &len, &op), 0);
  f.opcode = SN_WS_TEXT; /* a new message inside one */
  ck_assert_int_eq(sn_wasm_feed(&a, &f, (const unsigned char *)"ab", &msg, &len, &op), -1);
  f.opcode = SN_WS_CONT, f.fin = 1, f.payload_len = 0;
  ck_assert_int_eq(sn_wasm_feed(&a, &f, (const unsigned char *)"", &msg, &len, &op), 1);
  ck_assert_uint_eq(len, 2);
  sn_wasm_free(&a);
  sn_win m;
  const char *err = "{\"type\":\"error\",\"error\":{\"code\":5}}";
  ck_assert_int_eq(sn_win_parse(err, strlen(err), &m), 0);
  ck_assert_str_eq(m.error, "error: "); /* no "(null)" from missing fields */
  sn_win_free(&m);
  const char *job = "{\"type\":\"job\",\"payload\":1}";
  ck_assert_int_eq(sn_win_parse(job, strlen(job), &m), -1); /* a job without an id is ignored */
  sn_win_free(&m);
}
END_TEST

/* Numbers in frames: every digit count, and runs that repeat or count up
 * across a carry, against printf. */
START_TEST(numbers_written_as_printf_would) {
  const uint64_t starts[] = {0, 7, 95, 999, 12345678, 1700000000000ull, 18446744073709551600ull};
  for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
    sn_buf b, want;
    sn_buf_num seq = {0}, ts = {0};
    sn_buf_init(&b, 0);
    sn_buf_init(&want, 0);
    for (uint64_t k = 0; k < 15; k++) {
      uint64_t v = starts[i] + k;
      sn_buf_u64(&b, v);
      sn_buf_puts(&b, " ");
      sn_buf_u64_near(&b, &seq, v);
      sn_buf_puts(&b, " ");
      sn_buf_u64_near(&b, &ts, starts[i] + k / 4); /* repeats, then moves on */
      sn_buf_puts(&b, ";");
      sn_buf_printf(&want, "%llu %llu %llu;", (unsigned long long)v, (unsigned long long)v,
                    (unsigned long long)(starts[i] + k / 4));
    }
    ck_assert_str_eq(sn_buf_cstr(&b), sn_buf_cstr(&want));
    sn_buf_free(&b);
    sn_buf_free(&want);
  }
}
END_TEST

/* Our RESP commands are byte for byte what hiredis would have sent: empty
 * and binary arguments, and a command large enough to grow the buffer. */
START_TEST(resp_commands_as_hiredis_formats_them) {
  static char big[70000];
  const char *argv[] = {"HSET", "hero:job:j-1", "payload", "", "bin", big};
  size_t lens[] = {4, 12, 7, 0, 3, sizeof(big)};
  sn_buf b;
  memset(big, '\r', sizeof(big));
  big[7] = '\0';
  memcpy(big + 100, "\xff\n$3\r\n", 7);
  sn_buf_init(&b, 0);
  for (int argc = 1; argc <= 6; argc++) {
    char *want = NULL;
    long long n = redisFormatCommandArgv(&want, argc, argv, lens);
    sn_resp_command(&b, argc, argv, lens);
    ck_assert_int_eq((long long)b.len, n);
    ck_assert_int_eq(memcmp(sn_buf_data(&b), want, b.len), 0);
    redisFreeCommand(want);
  }
  sn_buf_free(&b);
}
END_TEST

Suite *sn_parsers_suite(void) {
  Suite *s = suite_create("parsers");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, url_args_and_numbers);
  tcase_add_test(tc, worker_frames);
  tcase_add_test(tc, ws_frames_written_by_the_node);
  tcase_add_test(tc, zinit_replies_and_states);
  tcase_add_test(tc, redis_replies);
  tcase_add_test(tc, redis_huge_array);
  tcase_add_test(tc, redis_urls);
  tcase_add_test(tc, sdk_frames);
  tcase_add_test(tc, numbers_written_as_printf_would);
  tcase_add_test(tc, resp_commands_as_hiredis_formats_them);
  suite_add_tcase(s, tc);
  return s;
}
