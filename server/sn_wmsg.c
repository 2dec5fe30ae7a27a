#include "sn_wmsg.h"

#include <stddef.h>
#include <string.h>

#include "sn_log.h"
#include "sn_util.h"

static const struct {
  const char *name;
  int type;
} sn__types[] = {{"put", SN_WM_PUT},       {"hb", SN_WM_HB},         {"log", SN_WM_LOG}, {"pong", SN_WM_PONG},
                 {"result", SN_WM_RESULT}, {"partial", SN_WM_PARTIAL}};

static void sn__decode(const char *msg, size_t len, sn_wmsg *m) {
  json_t *v;
  m->root = json_loadb(msg, len, JSON_ALLOW_NUL, NULL);
  v = json_object_get(m->root, "job_id");
  m->job_id = json_is_string(v) ? json_string_value(v) : NULL;
  if (m->type == SN_WM_LOG) {
    const char *lvl = json_string_value(json_object_get(m->root, "level"));
    m->level = lvl ? sn_log_parse_level(lvl) : SN_LOG_INFO;
    if (m->level < 0)
      m->level = SN_LOG_INFO;
    m->text = json_string_value(json_object_get(m->root, "msg"));
    if (m->text == NULL)
      m->text = "";
  } else if (m->type == SN_WM_RESULT) {
    m->ok = json_is_true(json_object_get(m->root, "ok"));
    m->output = json_object_get(m->root, "output");
    m->error = json_string_value(json_object_get(m->root, "error"));
  }
}

int sn_wmsg_parse(const char *msg, size_t len, sn_wmsg *m, sn_error *err) {
  static const char *const keys[] = {"type", "data", "items"};
  sn_span v[3];
  sn_jscan_error jerr;
  memset(m, 0, offsetof(sn_wmsg, fixed)); /* the fixed room needs no clearing */
  sn_jscan_list_init(&m->list, 2, m->fixed, SN_WMSG_FIXED_ITEMS);
  if (sn_jscan_object_list(msg, len, keys, 3, v, &m->list, &jerr) != 0)
    return sn_seterr(err, SN_EBADJSON, "invalid JSON at position %zu: %s", jerr.pos, jerr.text);
  m->data = v[1];
  m->items = v[2];
  m->type = v[0].len ? SN_WM_UNKNOWN : SN_WM_NOTYPE;
  for (size_t i = 0; i < sizeof(sn__types) / sizeof(sn__types[0]); i++)
    if (sn_jscan_is_string(msg, v[0], sn__types[i].name))
      m->type = sn__types[i].type;
  if (m->type == SN_WM_PUT) {
    if (m->data.len == 0 && (m->items.len == 0 || msg[m->items.off] != '['))
      return sn_seterr(err, SN_EBADREQ, m->items.len ? "put: field 'items' must be an array"
                                                     : "put: field 'data' or 'items' is required");
    return 0;
  }
  if (m->type == SN_WM_UNKNOWN || m->type == SN_WM_NOTYPE)
    return sn_seterr(err, SN_EBADREQ, m->type == SN_WM_UNKNOWN ? "unknown frame type" : "field 'type' is required");
  if (m->type != SN_WM_HB)
    sn__decode(msg, len, m);
  return 0;
}

void sn_wmsg_free(sn_wmsg *m) {
  json_decref(m->root);
  m->root = NULL;
  sn_jscan_list_free(&m->list);
}

int sn_wmsg_next_item(const char *msg, const sn_wmsg *m, size_t *pos, sn_span *item) {
  (void)msg;
  if (*pos >= m->list.n)
    return 0;
  *item = m->list.v[(*pos)++];
  return 1;
}

int sn_hello_parse(const char *msg, size_t len, sn_hello *h, sn_error *err) {
  json_t *v;
  memset(h, 0, sizeof(*h));
  h->pid = -1;
  h->root = json_loadb(msg, len, 0, NULL);
  v = json_object_get(h->root, "type");
  if (!json_is_object(h->root) || !json_is_string(v) || strcmp(json_string_value(v), "hello") != 0)
    return sn_seterr(err, SN_EBADREQ, "the first frame must be {\"type\":\"hello\",\"task_id\":...}");
  v = json_object_get(h->root, "task_id");
  if (!json_is_string(v) || !sn_valid_task_id(json_string_value(v)))
    return sn_seterr(err, SN_EBADREQ, "hello: field 'task_id' must be a valid task id");
  h->task_id = json_string_value(v);
  h->token = json_string_value(json_object_get(h->root, "token"));
  h->kind = json_string_value(json_object_get(h->root, "kind"));
  h->accept_tasks = json_is_true(json_object_get(h->root, "accept_tasks"));
  h->probe = json_is_true(json_object_get(h->root, "probe"));
  v = json_object_get(h->root, "max_jobs");
  if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > SN_MAX_JOBS_PER_WORKER))
    return sn_seterr(err, SN_EBADREQ, "hello: field 'max_jobs' must be an integer from 1 to %d",
                     SN_MAX_JOBS_PER_WORKER);
  h->max_jobs = v ? (unsigned)json_integer_value(v) : 1;
  v = json_object_get(h->root, "pid");
  if (json_is_integer(v))
    h->pid = json_integer_value(v);
  return 0;
}

void sn_hello_free(sn_hello *h) {
  json_decref(h->root);
  h->root = NULL;
}
