/* /w/ch, the worker channel: hello and welcome, then puts, heartbeats and
 * logs up, commands down. A put is the hot path: the frame is validated by the
 * scanner and each item's bytes go into the queue as sent, never re-encoded. */
#include <stdio.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_utf8.h"
#include "sn_util.h"
#include "sn_wmsg.h"

static const char *sn__tid(sn_conn *c) { return c->task ? c->task->conf.task_id : NULL; }

void sn_wch_established(sn_conn *c) {
  lws_set_timer_usecs(c->wsi, (lws_usec_t)c->node->cfg->hello_timeout_ms * 1000);
}

void sn_wch_hello_timeout(sn_conn *c) {
  if (c->hello_done) {
    if (c->fair_paused)
      sn_log(SN_LOG_DEBUG, sn__tid(c), "fairness: the worker waited the longest pause for its fetchers");
    sn_fair_resume(c); /* the only other timer of a worker channel */
    return;
  }
  sn_log(SN_LOG_WARN, NULL, "worker channel: no hello within %llu ms, closing",
         (unsigned long long)c->node->cfg->hello_timeout_ms);
  sn_conn_send_error(c, SN_EBADREQ, "expected a hello frame", LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

static void sn__refuse(sn_conn *c, int code, const char *msg) {
  sn_log(SN_LOG_WARN, NULL, "worker channel: hello refused: %s", msg);
  sn_conn_send_error(c, code, msg, LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

/* Creates a net task for a worker that names an unknown one (net_autocreate). */
static sn_task *sn__autocreate(sn_conn *c, const sn_hello *h, sn_error *err) {
  json_t *req = json_pack("{s:s, s:s}", "task_id", h->task_id, "mode", "net");
  sn_taskconf conf;
  sn_task *t = NULL;
  if (h->kind)
    json_object_set_new(req, "kind", json_string(h->kind));
  if (h->accept_tasks)
    json_object_set_new(req, "accept_tasks", json_true());
  if (sn_node_build_conf(c->node, req, &conf, err) == 0)
    sn_node_add_task(c->node, &conf, &t, err);
  json_decref(req);
  return t;
}

/* The task a hello may claim, or NULL with err filled. */
static sn_task *sn__admit(sn_conn *c, const sn_hello *h, sn_error *err) {
  sn_node *n = c->node;
  const char *token = h->token ? h->token : c->upgrade_token;
  sn_task *t = sn_node_find(n, h->task_id);
  int worker_ok = n->cfg->worker_token == NULL || (token && sn_secret_eq(token, n->cfg->worker_token));
  if (t == NULL || t->removing) {
    if (!n->cfg->net_autocreate)
      return sn_seterr(err, SN_ENOTFOUND, "no task '%s'", h->task_id), NULL;
    if (!worker_ok)
      return sn_seterr(err, SN_EUNAUTH, "wrong or missing worker token"), NULL;
    return sn__autocreate(c, h, err);
  }
  if (t->conf.mode == SN_MODE_EXEC) {
    /* Only the process spawned for this run knows its secret. */
    if (!sn_task_has_run(t) || token == NULL || !sn_secret_eq(token, t->secret))
      return sn_seterr(err, SN_EUNAUTH, "wrong or missing token for this exec task"), NULL;
  } else if (!worker_ok) {
    return sn_seterr(err, SN_EUNAUTH, "wrong or missing worker token"), NULL;
  }
  return t;
}

static void sn__hello(sn_conn *c, const char *msg, size_t len) {
  sn_hello h;
  sn_task *t;
  sn_error err = {0};

  if (sn_hello_parse(msg, len, &h, &err) != 0 || (t = sn__admit(c, &h, &err)) == NULL) {
    sn_hello_free(&h);
    return sn__refuse(c, err.code, err.msg);
  }
  if (h.probe) {
    /* A health check asking whether the task's worker is connected: answer,
     * close, never claim the task. */
    sn_hello_free(&h);
    sn_conn_send_json(c, json_pack("{s:s, s:s, s:b, s:s}", "type", "probe", "task_id", t->conf.task_id,
                                   "connected", t->worker != NULL && t->worker->hello_done, "state",
                                   sn_state_name(t->state)));
    sn_conn_close(c, LWS_CLOSE_STATUS_NORMAL);
    return;
  }
  if (t->worker || t->state == SN_ST_STOPPED || t->state == SN_ST_FAILED || t->state == SN_ST_STOPPING) {
    sn_hello_free(&h);
    return sn__refuse(c, SN_ECONFLICT, t->worker ? "the task already has a worker" : "the task is stopped");
  }
  c->hello_done = 1;
  c->task = t;
  t->worker = c;
  c->last_rx_ms = t->last_activity_ms = sn_now_ms();
  t->ping_id[0] = '\0';
  t->ping_failures = 0;
  t->max_jobs = h.max_jobs;
  lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
  sn_log(SN_LOG_INFO, t->conf.task_id, "worker connected (pid %lld)", h.pid);
  sn_hello_free(&h);
  sn_conn_send_json(c, json_pack("{s:s, s:s, s:s, s:I}", "type", "welcome", "task_id", t->conf.task_id,
                                 "start_params", t->conf.start_params, "heartbeat_interval_ms",
                                 (json_int_t)t->conf.heartbeat_interval_ms));
  if (t->conf.mode == SN_MODE_NET)
    sn_task_set_state(t, SN_ST_RUNNING);
  sn_jobs_pump(c->node);
}

/* Puts: one item in "data", or a batch in "items". */
static void sn__put(sn_conn *c, const char *msg, const sn_wmsg *m) {
  sn_task *t = c->task;
  uint64_t ts = sn_now_ms();
  int too_large = 0;
  if (m->data.len) {
    too_large = sn_task_push(t, msg + m->data.off, m->data.len, 0, ts) != 0;
  } else {
    size_t pos = 0;
    sn_span e;
    while (sn_wmsg_next_item(msg, m, &pos, &e))
      too_large |= sn_task_push(t, msg + e.off, e.len, 0, ts) != 0;
  }
  if (too_large)
    sn_conn_send_error(c, SN_ETOOLARGE, "an item exceeds the task's queue_bytes and was not queued", 0);
  sn_task_wake_fetchers(t);
  sn_fair_after_put(t);
}

static void sn__act(sn_conn *c, const char *msg, size_t len, const sn_wmsg *m) {
  switch (m->type) {
  case SN_WM_PUT:
    return sn__put(c, msg, m);
  case SN_WM_LOG:
    return sn_log(m->level, sn__tid(c), "worker: %s", m->text);
  case SN_WM_PONG:
    return sn_task_pong(c->task, m->job_id);
  case SN_WM_RESULT:
  case SN_WM_PARTIAL:
    return sn_jobs_frame(c->task, msg, len, m);
  default:
    return; /* hb: any frame counts as life, nothing else to do */
  }
}

void sn_wch_receive(sn_conn *c, const char *msg, size_t len, int binary) {
  sn_wmsg m;
  sn_error err = {0};

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
    sn_fair_after_put(c->task);
    return;
  }
  if (sn_wmsg_parse(msg, len, &m, &err) == 0)
    sn__act(c, msg, len, &m);
  else if (!sn_utf8_valid(msg, len)) /* not checked before the parser (sn_http.c) */
    sn_conn_close_not_utf8(c);
  else
    sn_conn_send_error(c, err.code, err.msg, 0);
  sn_wmsg_free(&m);
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
