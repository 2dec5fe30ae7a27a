/* /w/ch, the worker channel: hello and welcome, then puts, heartbeats and
 * logs up, commands down. A put is the hot path: the frame is validated by the
 * scanner and each item's bytes go into the queue as sent, never re-encoded. */
#include <stdio.h>
#include <string.h>

#include "sn_jscan.h"
#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

static const char *sn__tid(sn_conn *c) { return c->task ? c->task->conf.task_id : NULL; }

void sn_wch_established(sn_conn *c) {
  lws_set_timer_usecs(c->wsi, (lws_usec_t)c->node->cfg->hello_timeout_ms * 1000);
}

void sn_wch_hello_timeout(sn_conn *c) {
  if (c->hello_done)
    return;
  sn_log(SN_LOG_WARN, NULL, "worker channel: no hello within %llu ms, closing",
         (unsigned long long)c->node->cfg->hello_timeout_ms);
  sn_conn_send_error(c, SN_EBADREQ, "expected a hello frame", LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

static void sn__refuse(sn_conn *c, int code, const char *msg) {
  sn_log(SN_LOG_WARN, NULL, "worker channel: hello refused: %s", msg);
  sn_conn_send_error(c, code, msg, LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

/* Creates a net task for a worker that names an unknown one (net_autocreate). */
static sn_task *sn__autocreate(sn_conn *c, const char *task_id, json_t *hello, sn_error *err) {
  json_t *req = json_pack("{s:s, s:s}", "task_id", task_id, "mode", "net");
  json_t *kind = json_object_get(hello, "kind");
  sn_taskconf conf;
  sn_task *t = NULL;
  if (json_is_string(kind))
    json_object_set(req, "kind", kind);
  if (json_is_true(json_object_get(hello, "accept_tasks")))
    json_object_set_new(req, "accept_tasks", json_true());
  if (sn_node_build_conf(c->node, req, &conf, err) == 0)
    sn_node_add_task(c->node, &conf, &t, err);
  json_decref(req);
  return t;
}

static void sn__hello(sn_conn *c, const char *msg, size_t len) {
  sn_node *n = c->node;
  json_t *h = json_loadb(msg, len, 0, NULL), *jt;
  const char *task_id, *token = c->upgrade_token;
  sn_task *t;
  sn_error err = {0};
  char text[300];

  if (h == NULL || !json_is_object(h) || !json_is_string(json_object_get(h, "type")) ||
      strcmp(json_string_value(json_object_get(h, "type")), "hello") != 0) {
    json_decref(h);
    return sn__refuse(c, SN_EBADREQ, "the first frame must be {\"type\":\"hello\",\"task_id\":...}");
  }
  if (!json_is_string(jt = json_object_get(h, "task_id")) || !sn_valid_task_id(json_string_value(jt))) {
    json_decref(h);
    return sn__refuse(c, SN_EBADREQ, "hello: field 'task_id' must be a valid task id");
  }
  task_id = json_string_value(jt);
  if (json_is_string(json_object_get(h, "token")))
    token = json_string_value(json_object_get(h, "token"));
  t = sn_node_find(n, task_id);
  if (t == NULL || t->removing) {
    if (!n->cfg->net_autocreate) {
      snprintf(text, sizeof(text), "no task '%s'", task_id);
      json_decref(h);
      return sn__refuse(c, SN_ENOTFOUND, text);
    }
    if (n->cfg->worker_token && (token == NULL || !sn_secret_eq(token, n->cfg->worker_token))) {
      json_decref(h);
      return sn__refuse(c, SN_EUNAUTH, "wrong or missing worker token");
    }
    if ((t = sn__autocreate(c, task_id, h, &err)) == NULL) {
      json_decref(h);
      return sn__refuse(c, err.code, err.msg);
    }
  } else if (t->conf.mode == SN_MODE_EXEC) {
    /* Only the process spawned for this run knows its secret. */
    if (!sn_task_has_run(t) || token == NULL || !sn_secret_eq(token, t->secret)) {
      json_decref(h);
      return sn__refuse(c, SN_EUNAUTH, "wrong or missing token for this exec task");
    }
  } else if (n->cfg->worker_token && (token == NULL || !sn_secret_eq(token, n->cfg->worker_token))) {
    json_decref(h);
    return sn__refuse(c, SN_EUNAUTH, "wrong or missing worker token");
  }
  if (json_is_true(json_object_get(h, "probe"))) {
    /* A health check asking whether the task's worker is connected: answer,
     * close, never claim the task. */
    json_decref(h);
    sn_conn_send_json(c, json_pack("{s:s, s:s, s:b, s:s}", "type", "probe", "task_id", t->conf.task_id,
                                   "connected", t->worker != NULL && t->worker->hello_done, "state",
                                   sn_state_name(t->state)));
    sn_conn_close(c, LWS_CLOSE_STATUS_NORMAL);
    return;
  }
  if (t->worker) {
    json_decref(h);
    return sn__refuse(c, SN_ECONFLICT, "the task already has a worker");
  }
  if (t->state == SN_ST_STOPPED || t->state == SN_ST_FAILED || t->state == SN_ST_STOPPING) {
    json_decref(h);
    return sn__refuse(c, SN_ECONFLICT, "the task is stopped");
  }
  c->hello_done = 1;
  c->task = t;
  t->worker = c;
  c->last_rx_ms = t->last_activity_ms = sn_now_ms();
  t->ping_id[0] = '\0';
  t->ping_failures = 0;
  lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
  jt = json_object_get(h, "pid");
  sn_log(SN_LOG_INFO, t->conf.task_id, "worker connected (pid %lld)",
         json_is_integer(jt) ? (long long)json_integer_value(jt) : -1LL);
  json_decref(h);
  sn_conn_send_json(c, json_pack("{s:s, s:s, s:s, s:I}", "type", "welcome", "task_id", t->conf.task_id,
                                 "start_params", t->conf.start_params, "heartbeat_interval_ms",
                                 (json_int_t)t->conf.heartbeat_interval_ms));
  if (t->conf.mode == SN_MODE_NET)
    sn_task_set_state(t, SN_ST_RUNNING);
  sn_jobs_pump(c->node);
}

/* Puts: one item in "data", or a batch in "items". */
static void sn__put(sn_conn *c, const char *msg, sn_span data, sn_span items) {
  sn_task *t = c->task;
  uint64_t ts = sn_now_ms();
  int too_large = 0;
  if (data.len) {
    too_large = sn_task_push(t, msg + data.off, data.len, 0, ts) != 0;
  } else if (items.len && msg[items.off] == '[') {
    size_t pos = 0;
    sn_span e;
    while (sn_jscan_array_next(msg, items, &pos, &e))
      too_large |= sn_task_push(t, msg + e.off, e.len, 0, ts) != 0;
  } else {
    sn_conn_send_error(c, SN_EBADREQ, items.len ? "put: field 'items' must be an array"
                                                : "put: field 'data' or 'items' is required", 0);
    return;
  }
  if (too_large)
    sn_conn_send_error(c, SN_ETOOLARGE, "an item exceeds the task's queue_bytes and was not queued", 0);
  sn_task_wake_fetchers(t);
}

static void sn__other(sn_conn *c, const char *msg, size_t len, sn_span type) {
  json_t *f;
  const char *lvl, *text;
  int level;
  if (sn_jscan_is_string(msg, type, "hb"))
    return;
  if (sn_jscan_is_string(msg, type, "log")) {
    f = json_loadb(msg, len, 0, NULL);
    lvl = json_string_value(json_object_get(f, "level"));
    text = json_string_value(json_object_get(f, "msg"));
    level = lvl ? sn_log_parse_level(lvl) : SN_LOG_INFO;
    sn_log(level < 0 ? SN_LOG_INFO : level, sn__tid(c), "worker: %s", text ? text : "");
    json_decref(f);
    return;
  }
  if (sn_jscan_is_string(msg, type, "pong")) {
    f = json_loadb(msg, len, 0, NULL);
    if (c->task)
      sn_task_pong(c->task, json_string_value(json_object_get(f, "job_id")));
    json_decref(f);
    return;
  }
  if (sn_jscan_is_string(msg, type, "result") || sn_jscan_is_string(msg, type, "partial")) {
    if (c->task)
      sn_jobs_frame(c->task, msg, len, sn_jscan_is_string(msg, type, "result"));
    return;
  }
  sn_conn_send_error(c, SN_EBADREQ, type.len ? "unknown frame type" : "field 'type' is required", 0);
}

void sn_wch_receive(sn_conn *c, const char *msg, size_t len, int binary) {
  static const char *const keys[] = {"type", "data", "items"};
  sn_span v[3];
  sn_jscan_error jerr;
  char text[200];

  if (!c->hello_done) {
    if (binary)
      return sn__refuse(c, SN_EBADREQ, "the first frame must be a hello");
    return sn__hello(c, msg, len);
  }
  if (c->task == NULL)
    return; /* the task is being removed; the channel closes */
  if (binary) {
    if (sn_task_push(c->task, msg, len, 1, sn_now_ms()) != 0)
      sn_conn_send_error(c, SN_ETOOLARGE, "the item exceeds the task's queue_bytes and was not queued", 0);
    sn_task_wake_fetchers(c->task);
    return;
  }
  if (sn_jscan_object(msg, len, keys, 3, v, &jerr) != 0) {
    snprintf(text, sizeof(text), "invalid JSON at position %zu: %s", jerr.pos, jerr.text);
    return sn_conn_send_error(c, SN_EBADJSON, text, 0);
  }
  if (sn_jscan_is_string(msg, v[0], "put"))
    return sn__put(c, msg, v[1], v[2]);
  sn__other(c, msg, len, v[0]);
}

void sn_wch_closed(sn_conn *c) {
  sn_task *t = c->task;
  if (t == NULL || t->worker != c)
    return;
  t->worker = NULL;
  c->task = NULL;
  sn_log(SN_LOG_INFO, t->conf.task_id, "worker disconnected");
  sn_jobs_worker_gone(t);
  if (t->conf.mode == SN_MODE_NET && t->state == SN_ST_RUNNING)
    sn_task_set_state(t, SN_ST_WAITING);
}
