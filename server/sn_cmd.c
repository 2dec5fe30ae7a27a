/* /m/cmd: parse one JSON command, validate it, act on the node, reply.
 * The same code serves HTTP POST and websocket; the reply goes through an
 * sn_req so that commands finishing later (stop, restart, remove) answer the
 * same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

typedef void (*sn__cmd_fn)(sn_node *n, json_t *req, sn_req *r);

static void sn__fail(sn_req *r, sn_error *err) { sn_req_fail(r, err->code, err->msg); }

/* Finds the task named by the request's task_id, or answers the error. */
static sn_task *sn__task(sn_node *n, json_t *req, sn_req *r) {
  json_t *id = json_object_get(req, "task_id");
  sn_task *t;
  char msg[200];
  if (!json_is_string(id)) {
    sn_req_fail(r, SN_EBADREQ, "field 'task_id' is required and must be a string");
    return NULL;
  }
  if ((t = sn_node_find(n, json_string_value(id))) == NULL || t->removing) {
    snprintf(msg, sizeof(msg), "no task '%.128s'", json_string_value(id));
    sn_req_fail(r, SN_ENOTFOUND, msg);
  }
  return t && !t->removing ? t : NULL;
}

static void sn__start(sn_node *n, json_t *req, sn_req *r) {
  sn_taskconf conf;
  sn_error err = {0};
  sn_task *t;
  if (sn_node_build_conf(n, req, &conf, &err) || sn_node_add_task(n, &conf, &t, &err))
    return sn__fail(r, &err);
  sn_req_ok_with(r, "task", sn_task_to_json(t));
}

static void sn__stop(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  if (t)
    sn_task_stop(t, r, SN_REQ_STOP);
}

static void sn__restart(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  if (t)
    sn_task_stop(t, r, SN_REQ_RESTART);
}

static void sn__remove(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  if (t)
    sn_task_stop(t, r, SN_REQ_REMOVE);
}

static void sn__status(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  if (t)
    sn_req_ok_with(r, "task", sn_task_to_json(t));
}

static void sn__list(sn_node *n, json_t *req, sn_req *r) {
  json_t *tasks = json_array();
  sn_list *pos, *tmp;
  (void)req;
  sn_list_foreach(pos, tmp, &n->tasks) {
    json_array_append_new(tasks, sn_task_to_json(sn_list_entry(pos, sn_task, link)));
  }
  sn_req_ok_with(r, "tasks", tasks);
}

static void sn__update(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  sn_taskconf conf;
  sn_error err = {0};
  json_t *merged, *mode;
  if (t == NULL)
    return;
  mode = json_object_get(req, "mode");
  if (mode && !(json_is_string(mode) &&
                strcmp(json_string_value(mode), t->conf.mode == SN_MODE_NET ? "net" : "exec") == 0))
    return sn_req_fail(r, SN_EBADREQ, "field 'mode' cannot be changed: remove and start the task");
  merged = sn_taskconf_to_json(&t->conf);
  json_object_update(merged, req);
  json_object_del(merged, "template");
  if (sn_taskconf_parse(merged, &conf, &err)) {
    json_decref(merged);
    return sn__fail(r, &err);
  }
  json_decref(merged);
  if (sn_deps_check(n, &conf, &err)) {
    sn_taskconf_free(&conf);
    return sn__fail(r, &err);
  }
  if (sn_config_task_allowed(n->cfg, &conf, &err)) {
    sn_taskconf_free(&conf);
    return sn__fail(r, &err);
  }
  if (sn_task_update(t, &conf, &err))
    return sn__fail(r, &err);
  sn_log(SN_LOG_INFO, t->conf.task_id, "settings updated");
  sn_state_changed(n);
  sn_req_ok_with(r, "task", sn_task_to_json(t));
}

static void sn__send(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  json_t *data;
  if (t == NULL)
    return;
  if ((data = json_object_get(req, "data")) == NULL)
    return sn_req_fail(r, SN_EBADREQ, "field 'data' is required");
  if (t->worker == NULL || !t->worker->hello_done)
    return sn_req_fail(r, SN_EUNAVAIL, "no worker is connected to this task");
  if (t->claimed_by && t->claimed_by != r->conn)
    return sn_req_fail(r, SN_ECONFLICT, "the task is claimed by another client");
  if (t->worker->rx_paused)
    return sn_req_fail(r, SN_EUNAVAIL, "the worker is not reading its channel");
  sn_conn_send_json(t->worker, json_pack("{s:s, s:O}", "type", "cmd", "data", data));
  sn_req_ok(r, NULL);
}

static void sn__logs(sn_node *n, json_t *req, sn_req *r) {
  sn_task *t = sn__task(n, req, r);
  json_t *jl = json_object_get(req, "lines"), *out;
  json_int_t want = 100;
  if (t == NULL)
    return;
  if (jl && (!json_is_integer(jl) || (want = json_integer_value(jl)) < 1))
    return sn_req_fail(r, SN_EBADREQ, "field 'lines' must be a positive integer");
  if (t->zinit) /* the worker's output is in zinit's log buffer */
    return sn_zsvc_logs(t, (size_t)want, r);
  if ((size_t)want > t->logs_n)
    want = (json_int_t)t->logs_n;
  out = json_array();
  for (size_t i = t->logs_n - (size_t)want; i < t->logs_n; i++) {
    const sn_logline *l = &t->logs[(t->logs_head + i) % SN_LOG_KEEP];
    json_array_append_new(out, json_pack("{s:I, s:s, s:s}", "ts_ms", (json_int_t)l->ts_ms, "stream",
                                         l->stream ? "stderr" : "stdout", "line", l->line));
  }
  sn_req_ok_with(r, "lines", out);
}

static void sn__ping(sn_node *n, json_t *req, sn_req *r) {
  (void)n;
  (void)req;
  sn_req_ok(r, json_pack("{s:b}", "pong", 1));
}

static const struct {
  const char *name;
  sn__cmd_fn fn;
} sn__cmds[] = {
    {"start", sn__start},   {"stop", sn__stop},     {"restart", sn__restart}, {"remove", sn__remove},
    {"update", sn__update}, {"list", sn__list},     {"status", sn__status},   {"send", sn__send},
    {"ping", sn__ping},     {"logs", sn__logs},     {"job", sn_jobs_cmd_job}, {"job_start", sn_jobs_cmd_start},
    {"job_status", sn_jobs_cmd_status}, {"scale", sn_pool_cmd_scale}, {"claim", sn_pool_cmd_claim},
    {"release", sn_pool_cmd_release},
};

/* Commands of the protocol that later parts of the node add. */
static const char *const sn__later[] = {NULL};

void sn_cmd_handle(sn_conn *c, const char *body, size_t len) {
  json_error_t jerr;
  json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *cmd;
  sn_req *r;
  char msg[300];

  if (req == NULL) {
    r = sn_req_new(c, NULL);
    snprintf(msg, sizeof(msg), "invalid JSON at position %d: %s", jerr.position, jerr.text);
    return sn_req_fail(r, SN_EBADJSON, msg);
  }
  r = sn_req_new(c, json_is_object(req) ? json_object_get(req, "id") : NULL);
  if (!json_is_object(req)) {
    sn_req_fail(r, SN_EBADREQ, "a command must be a JSON object");
  } else if (!json_is_string(cmd = json_object_get(req, "cmd"))) {
    sn_req_fail(r, SN_EBADREQ, "field 'cmd' is required and must be a string");
  } else {
    const char *name = json_string_value(cmd);
    size_t i;
    for (i = 0; i < sizeof(sn__cmds) / sizeof(sn__cmds[0]); i++)
      if (strcmp(name, sn__cmds[i].name) == 0)
        break;
    if (i < sizeof(sn__cmds) / sizeof(sn__cmds[0])) {
      sn_log(SN_LOG_DEBUG, NULL, "cmd %s", name);
      sn__cmds[i].fn(c->node, req, r);
    } else {
      int later = 0;
      for (int k = 0; sn__later[k]; k++)
        later |= strcmp(name, sn__later[k]) == 0;
      snprintf(msg, sizeof(msg), later ? "command '%.64s' is not supported by this node yet" : "unknown command '%.64s'", name);
      sn_req_fail(r, SN_EUNKNOWNCMD, msg);
    }
  }
  json_decref(req);
}
