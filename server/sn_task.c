/* One task: its state machine, its runs, and the restart policy applied to them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_utf8.h"
#include "sn_util.h"

static const char *const sn__state_names[] = {"blocked", "starting", "running", "waiting",
                                              "stopping", "stopped", "backoff", "failed"};
static const char *const sn__reason_names[] = {"exit", "signal", "memory", "timeout", "heartbeat",
                                               "health", "ping", "errors", "command"};

const char *sn_state_name(int state) { return sn__state_names[state]; }
const char *sn_reason_name(int reason) { return sn__reason_names[reason]; }

/* One restart, counted under the reason it happened for. */
static void sn__count_restart(sn_task *t, int reason) {
  t->restarts++;
  t->restarts_by[reason]++;
}

static void sn__timer_closed(uv_handle_t *h) {
  sn_task *t = h->data;
  if (--t->open_handles > 0)
    return;
  /* A removed task's queue goes with it; at shutdown it stays for the next start. */
  sn_qlog_close(&t->qlog, t->removing && !t->node->shutting_down);
  sn_taskconf_free(&t->conf);
  sn_queue_free(&t->queue);
  sn_policy_free(&t->policy);
  for (size_t i = 0; i < SN_LOG_KEEP; i++)
    free(t->logs[i].line);
  free(t);
}

sn_task *sn_task_new(sn_node *n, sn_taskconf *conf) {
  sn_task *t = sn_calloc(1, sizeof(*t));
  t->node = n;
  t->conf = *conf;
  memset(conf, 0, sizeof(*conf));
  t->state = SN_ST_STOPPED;
  t->zinit = n->zinit != NULL && t->conf.mode == SN_MODE_EXEC;
  sn_queue_init(&t->queue, t->conf.queue_len, t->conf.queue_bytes);
  t->qlog.fd = -1;
  if (n->cfg->state_dir)
    sn_qlog_open(&t->qlog, n->cfg->state_dir, t->conf.task_id, &t->queue); /* logs why if it cannot */
  sn_policy_init(&t->policy);
  sn_list_init(&t->fetchers);
  sn_list_init(&t->waiters);
  sn_list_init(&t->running);
  t->max_jobs = 1;
  uv_timer_init(n->loop, &t->timer);
  uv_timer_init(n->loop, &t->kill_timer);
  uv_timer_init(n->loop, &t->health_timer);
  t->timer.data = t->kill_timer.data = t->health_timer.data = t;
  t->open_handles = 3;
  return t;
}

void sn_task_set_state(sn_task *t, int state) {
  if (t->state == state)
    return;
  sn_log(SN_LOG_INFO, t->conf.task_id, "state %s -> %s", sn__state_names[t->state],
         sn__state_names[state]);
  t->state = state;
  sn_mirror_task(t->node->mirror, t);
  sn_state_changed(t->node); /* coalesced: at most one write in flight */
  if (state == SN_ST_RUNNING && t->conf.accept_tasks)
    sn_jobs_pump(t->node); /* a worker may have become free for queued jobs */
  if (state == SN_ST_RUNNING)
    sn_deps_unblock(t->node);
  if (t->node->shutting_down && (state == SN_ST_STOPPED || state == SN_ST_FAILED))
    sn_deps_shutdown_step(t->node); /* what it depended on may go now */
}

static void sn__run(sn_task *t);

static void sn__timer_fired(uv_timer_t *h) { sn__run(h->data); }

void sn_task_began(sn_task *t) {
  t->runs++;
  t->started_at_ms = sn_now_ms();
  t->last_activity_ms = t->started_at_ms;
  t->stopping_reason = -1;
  t->mem_kb = 0;
  t->cpu_ticks = t->cpu_at_ms = 0;
  t->cpu_pct = 0;
}

void sn_task_ran(sn_task *t) {
  sn_task_began(t);
  if (t->zinit)
    sn_log(SN_LOG_INFO, t->conf.task_id, "starting as zinit service %s%s", t->node->cfg->zinit_prefix, t->conf.task_id);
  else
    sn_log(SN_LOG_INFO, t->conf.task_id, "spawned pid %d: %s", t->pid, json_string_value(json_array_get(t->conf.exec, 0)));
  if (t->zinit) {
    sn_task_set_state(t, SN_ST_STARTING);
    if (t->conf.health_check)
      sn_health_start(t);
  } else if (t->conf.health_check) {
    sn_task_set_state(t, SN_ST_STARTING);
    sn_health_start(t);
  } else {
    sn_task_set_state(t, SN_ST_RUNNING);
  }
}

/* One run, spawned by us (under the shim) or by zinit. */
static int sn__spawn(sn_task *t, int from_command, sn_error *err) {
  if (t->zinit) {
    if (sn_zsvc_run(t, from_command, err) != 0)
      return err->code;
    if (!t->zpending)
      sn_task_ran(t);
    return 0;
  }
  if (sn_proc_spawn(t, err) != 0)
    return err->code;
  sn_task_ran(t);
  return 0;
}

static int sn__kill(sn_task *t, int sig) {
  return t->zinit ? sn_zsvc_kill(t, sig) : sn_proc_kill(t->proc, sig);
}

int sn_task_has_run(const sn_task *t) { return t->proc != NULL || t->zrun; }

/* Starts one run of an exec task. A spawn failure counts as a run that exited
 * with 127, like a shell would report, so the restart policy applies. */
static void sn__run(sn_task *t) {
  sn_error err = {0};
  if (t->node->shutting_down)
    return;
  if (sn__spawn(t, 0, &err) != 0) {
    sn_log(SN_LOG_ERROR, t->conf.task_id, "%s", err.msg);
    t->started_at_ms = sn_now_ms();
    t->stopping_reason = -1;
    sn_task_set_state(t, SN_ST_STARTING);
    sn_task_on_exit(t, 127, 0);
    return;
  }
}

int sn_task_start(sn_task *t, sn_error *err) {
  if (!sn_deps_ready(t)) {
    sn_task_set_state(t, SN_ST_BLOCKED);
    return 0;
  }
  if (t->conf.mode == SN_MODE_NET) {
    sn_task_set_state(t, t->worker ? SN_ST_RUNNING : SN_ST_WAITING);
    return 0;
  }
  return sn__spawn(t, 1, err);
}

static void sn__kill_timer(uv_timer_t *h) {
  sn_task *t = h->data;
  if (sn_task_has_run(t) && sn__kill(t, SIGKILL) == 0)
    sn_log(SN_LOG_WARN, t->conf.task_id, "pid %d ignored %s for %llu ms: sent SIGKILL to its group",
           t->pid, sn_signame(t->conf.first_sig), (unsigned long long)t->conf.second_sig_duration_ms);
}

/* Sends first_sig to the group and arms the SIGKILL escalation. */
static void sn__escalate(sn_task *t, int reason) {
  t->stopping_reason = reason;
  sn_task_set_state(t, SN_ST_STOPPING);
  sn_health_stop(t);
  if (sn__kill(t, t->conf.first_sig) != 0)
    return;
  sn_log(SN_LOG_INFO, t->conf.task_id, "sent %s to group %d", sn_signame(t->conf.first_sig), t->pid);
  uv_timer_start(&t->kill_timer, sn__kill_timer, t->conf.second_sig_duration_ms, 0);
}

/* A restart asked for (command or claim_recycle): start again now that the
 * worker is gone, unless something else already did or the task goes. */
static void sn__restart_now(sn_task *t) {
  sn_error err = {0};
  t->restart_asked = 0;
  if (t->state == SN_ST_RUNNING || t->removing || t->node->shutting_down)
    return;
  sn_policy_reset(&t->policy);
  sn__count_restart(t, SN_RS_COMMAND);
  if (sn_task_start(t, &err) != 0) { /* only an exec task's spawn can fail */
    sn_log(SN_LOG_ERROR, t->conf.task_id, "%s", err.msg);
    sn_task_on_exit(t, 127, 0);
  }
}

/* Answers the requests that waited for the worker to be gone. */
static void sn__finish_waiters(sn_task *t) {
  sn_list *pos, *tmp;
  int remove = 0;
  if (t->restart_asked)
    sn__restart_now(t);
  sn_list_foreach(pos, tmp, &t->waiters) {
    sn_req *r = sn_list_entry(pos, sn_req, link);
    sn_list_remove(&r->link);
    if (r->action == SN_REQ_REMOVE) {
      remove = 1;
      sn_req_ok(r, NULL);
    } else if (r->action == SN_REQ_RESTART) {
      sn__restart_now(t);
      sn_req_ok_with(r, "task", sn_task_to_json(t));
    } else {
      sn_req_ok_with(r, "task", sn_task_to_json(t));
    }
  }
  if (remove || t->removing)
    sn_task_destroy(t);
}

void sn_task_stop(sn_task *t, sn_req *req, int action) {
  if (req) {
    req->action = action;
    sn_list_push(&t->waiters, &req->link);
  } else if (action == SN_REQ_RESTART) {
    t->restart_asked = 1; /* nobody waits, but the restart must still happen */
  }
  if (action == SN_REQ_REMOVE)
    t->removing = 1;
  uv_timer_stop(&t->timer);
  if (t->conf.mode == SN_MODE_NET && t->worker) {
    sn_conn *w = t->worker;
    t->worker = NULL;
    w->task = NULL;
    sn_jobs_worker_gone(t);
    sn_conn_send(w, "{\"type\":\"stop\"}", 15, 0);
    sn_conn_close(w, 1000);
  }
  if (sn_task_has_run(t)) {
    if (t->state != SN_ST_STOPPING)
      sn__escalate(t, SN_RS_COMMAND);
    return; /* waiters are answered when the process exits */
  }
  t->zpending = 0;
  sn_task_set_state(t, SN_ST_STOPPED);
  sn__finish_waiters(t);
}

void sn_task_on_exit(sn_task *t, int64_t status, int term_signal) {
  uint64_t now = sn_now_ms(), ran = now - t->started_at_ms, delay = 0;
  int clean = status == 0 && term_signal == 0;
  int was_stopping = t->state == SN_ST_STOPPING;

  uv_timer_stop(&t->kill_timer);
  sn_health_stop(t);
  t->proc = NULL;
  t->pid = 0;
  t->mem_kb = 0;
  t->cpu_ticks = t->cpu_at_ms = 0;
  t->cpu_pct = 0;
  if (t->zinit)
    sn_zsvc_stopped(t); /* zinit's target down, so the next run starts clean */
  t->last_exit.valid = 1;
  t->last_exit.code = term_signal ? -1 : (int)status;
  t->last_exit.signal = term_signal;
  t->last_exit.at_ms = now;
  t->last_exit.reason = t->stopping_reason >= 0 ? t->stopping_reason
                                                : (term_signal ? SN_RS_SIGNAL : SN_RS_EXIT);
  t->last_run_ms = t->started_at_ms;
  t->last_duration_ms = ran;
  if (term_signal)
    sn_log(SN_LOG_WARN, t->conf.task_id, "worker killed by %s after %llu ms",
           sn_signame(term_signal) ? sn_signame(term_signal) : "a signal", (unsigned long long)ran);
  else
    sn_log(clean ? SN_LOG_INFO : SN_LOG_WARN, t->conf.task_id, "worker exited with code %lld after %llu ms",
           (long long)status, (unsigned long long)ran);

  if (was_stopping && t->stopping_reason == SN_RS_COMMAND) {
    sn_task_set_state(t, SN_ST_STOPPED);
    sn__finish_waiters(t);
    sn_node_poke(t->node); /* a zinit-run exit during shutdown: the node may finish now */
    return;
  }
  if (t->node->shutting_down || t->removing) {
    sn_task_set_state(t, SN_ST_STOPPED);
    sn__finish_waiters(t);
    sn_node_poke(t->node); /* a zinit-run exit: the node may finish now */
    return;
  }
  /* A periodic run cut short by timeout_ms still ends normally: the next
   * run comes after its interval. */
  if (t->last_exit.reason == SN_RS_TIMEOUT && t->conf.exec_interval_ms > 0)
    clean = 1;
  switch (sn_policy_on_exit(&t->policy, &t->conf, clean, now, ran, &delay)) {
  case SN_NEXT_STOP:
    sn_task_set_state(t, SN_ST_STOPPED);
    break;
  case SN_NEXT_FAIL:
    snprintf(t->failed_why, sizeof(t->failed_why), "more than %llu restarts within %llu ms (last: %s)",
             (unsigned long long)t->conf.max_restarts, (unsigned long long)t->conf.restart_window_ms,
             sn__reason_names[t->last_exit.reason]);
    sn_log(SN_LOG_ERROR, t->conf.task_id, "%s: failed", t->failed_why);
    sn_task_set_state(t, SN_ST_FAILED);
    break;
  case SN_NEXT_PERIODIC:
    sn_task_set_state(t, SN_ST_WAITING);
    uv_timer_start(&t->timer, sn__timer_fired, delay, 0);
    break;
  default:
    sn__count_restart(t, t->last_exit.valid ? t->last_exit.reason : SN_RS_EXIT);
    sn_log(SN_LOG_INFO, t->conf.task_id, "restarting in %llu ms", (unsigned long long)delay);
    sn_task_set_state(t, SN_ST_BACKOFF);
    uv_timer_start(&t->timer, sn__timer_fired, delay, 0);
  }
}

int sn_task_update(sn_task *t, sn_taskconf *conf, sn_error *err) {
  if (sn_queue_resize(&t->queue, conf->queue_len, conf->queue_bytes) != 0) {
    sn_taskconf_free(conf);
    return sn_seterr(err, SN_EBADREQ, "field 'queue_len' must be at least 1");
  }
  sn_qlog_rewrite(&t->qlog, &t->queue); /* the log must not bring back what the resize dropped */
  sn_taskconf_free(&t->conf);
  t->conf = *conf;
  memset(conf, 0, sizeof(*conf));
  sn_policy_reset(&t->policy);
  if (t->state == SN_ST_FAILED && t->conf.mode == SN_MODE_EXEC) {
    /* update revives a failed task, like restart does */
    sn__count_restart(t, SN_RS_COMMAND);
    sn__run(t);
  }
  sn_task_wake_fetchers(t); /* a smaller queue may have dropped what they wait for */
  return 0;
}

void sn_task_wake_fetchers(sn_task *t) {
  sn_list *pos, *tmp;
  /* Called once per worker frame, after its items went in: one write of
   * their log records (and an fsync with queue_fsync "always"). */
  sn_qlog_flush(&t->qlog, &t->queue, t->node->cfg->queue_fsync_always);
  sn_list_foreach(pos, tmp, &t->fetchers) {
    sn_conn *c = sn_list_entry(pos, sn_conn, fetch_link);
    if (c->role == SN_ROLE_HTTP)
      sn_fetch_http_wake(c);
    else if (c->wsi)
      sn_conn_want_write(c);
  }
  sn_list_foreach(pos, tmp, &t->node->all_fetchers) {
    sn_conn *c = sn_list_entry(pos, sn_conn, fetch_link);
    if (c->wsi)
      sn_conn_want_write(c);
  }
}

int sn_task_push(sn_task *t, const void *data, size_t len, int bin, uint64_t ts_ms) {
  sn_item *it = sn_queue_push(&t->queue, data, len, bin, ts_ms, ++t->node->gseq);
  if (it == NULL)
    return SN_ETOOLARGE;
  t->msgs_in++;
  sn_qlog_put(&t->qlog, it);
  if (t->node->mirror)
    sn_mirror_item(t->node->mirror, t, data, len, bin, sn_item_seq(it), ts_ms);
  return 0;
}

static json_t *sn__last_exit(const sn_task *t) {
  if (!t->last_exit.valid)
    return json_null();
  return json_pack("{s:o, s:o, s:s, s:I}", "code",
                   t->last_exit.code >= 0 ? json_integer(t->last_exit.code) : json_null(), "signal",
                   t->last_exit.signal ? json_string(sn_signame(t->last_exit.signal)) : json_null(),
                   "reason", sn__reason_names[t->last_exit.reason], "at_ms",
                   (json_int_t)t->last_exit.at_ms);
}

json_t *sn_task_to_json(const sn_task *t) {
  const sn_queue *q = &t->queue;
  json_t *o = sn_taskconf_to_json(&t->conf);
  int live = t->state == SN_ST_RUNNING || t->state == SN_ST_STARTING || t->state == SN_ST_STOPPING;
  uint64_t now = sn_now_ms();

  json_object_set_new(o, "state", json_string(sn__state_names[t->state]));
  json_object_set_new(o, "failed_why", t->state == SN_ST_FAILED ? json_string(t->failed_why) : json_null());
  json_object_set_new(o, "pid", t->pid ? json_integer(t->pid) : json_null());
  json_object_set_new(o, "restarts", json_integer((json_int_t)t->restarts));
  json_object_set_new(o, "runs", json_integer((json_int_t)t->runs));
  json_object_set_new(o, "started_at_ms",
                      t->started_at_ms ? json_integer((json_int_t)t->started_at_ms) : json_null());
  json_object_set_new(o, "uptime_ms",
                      live && t->started_at_ms ? json_integer((json_int_t)(now - t->started_at_ms)) : json_null());
  json_object_set_new(o, "last_run_ms", t->last_run_ms ? json_integer((json_int_t)t->last_run_ms) : json_null());
  json_object_set_new(o, "last_duration_ms",
                      t->last_exit.valid ? json_integer((json_int_t)t->last_duration_ms) : json_null());
  json_object_set_new(o, "mem_kb", sn_task_has_run(t) ? json_integer((json_int_t)t->mem_kb) : json_null());
  json_object_set_new(o, "cpu_pct", sn_task_has_run(t) ? json_real((double)(int)(t->cpu_pct * 10 + 0.5) / 10) : json_null());
  json_object_set_new(o, "health_failures_now", json_integer(t->health_fails));
  json_object_set_new(o, "ping_failures", json_integer(t->ping_failures));
  json_object_set_new(o, "last_exit", sn__last_exit(t));
  json_object_set_new(o, "connected", json_boolean(t->worker != NULL));
  json_object_set_new(o, "busy", json_boolean(t->nrunning > 0));
  json_object_set_new(o, "jobs_running", json_integer((json_int_t)t->nrunning));
  json_object_set_new(o, "max_jobs", json_integer((json_int_t)t->max_jobs));
  json_object_set_new(o, "jobs_done", json_integer((json_int_t)t->jobs_done));
  json_object_set_new(o, "backend", json_string(t->zinit ? "zinit" : "native"));
  json_object_set_new(o, "zinit_state", t->zinit && t->zinit_state[0] ? json_string(t->zinit_state) : json_null());
  json_object_set_new(o, "queue",
                      json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "len", (json_int_t)q->len, "cap",
                                (json_int_t)q->cap, "bytes", (json_int_t)q->bytes, "first_seq",
                                (json_int_t)q->first_seq, "next_seq", (json_int_t)q->next_seq,
                                "dropped", (json_int_t)q->dropped));
  json_object_set_new(o, "msgs_in", json_integer((json_int_t)t->msgs_in));
  json_object_set_new(o, "msgs_out", json_integer((json_int_t)t->msgs_out));
  return o;
}

void sn_task_destroy(sn_task *t) {
  sn_list *pos, *tmp;
  sn_fetch_end_task(t, "removed");
  if (t->worker) {
    sn_conn *w = t->worker;
    t->worker = NULL;
    w->task = NULL;
    sn_conn_close(w, 1000);
  }
  sn_jobs_task_gone(t);
  sn_list_foreach(pos, tmp, &t->waiters) {
    sn_req *r = sn_list_entry(pos, sn_req, link);
    sn_req_fail(r, SN_ENOTFOUND, "task removed");
  }
  if (t->proc)
    t->proc->task = NULL;
  if (t->zinit && !t->node->shutting_down)
    sn_zsvc_remove(t); /* at node shutdown the stopped service stays in zinit */
  else if (t->zinit)
    sn_zinit_forget(t->node->zinit, t);
  sn_health_stop(t);
  sn_node_task_gone(t->node, t);
  uv_close((uv_handle_t *)&t->timer, sn__timer_closed);
  uv_close((uv_handle_t *)&t->kill_timer, sn__timer_closed);
  uv_close((uv_handle_t *)&t->health_timer, sn__timer_closed);
}

void sn_task_fault(sn_task *t, int reason) {
  if (t->conf.mode == SN_MODE_EXEC) {
    if (sn_task_has_run(t) && t->state != SN_ST_STOPPING) {
      sn_log(SN_LOG_WARN, t->conf.task_id, "%s rule fired: stopping the worker", sn__reason_names[reason]);
      sn__escalate(t, reason);
    }
    return;
  }
  /* A net worker cannot be restarted by us: drop it and wait for a new one. */
  if (t->worker) {
    sn_conn *w = t->worker;
    sn_log(SN_LOG_WARN, t->conf.task_id, "%s rule fired: dropping the worker's connection", sn__reason_names[reason]);
    t->worker = NULL;
    w->task = NULL;
    sn_jobs_worker_gone(t);
    sn_conn_send_error(w, SN_EUNAVAIL, reason == SN_RS_HEARTBEAT ? "no heartbeat" : "supervision rule fired",
                       LWS_CLOSE_STATUS_POLICY_VIOLATION);
    t->last_exit.valid = 1;
    t->last_exit.code = -1;
    t->last_exit.signal = 0;
    t->last_exit.reason = reason;
    t->last_exit.at_ms = sn_now_ms();
    if (t->state == SN_ST_RUNNING)
      sn_task_set_state(t, SN_ST_WAITING);
  }
}

void sn_task_keep_line(sn_task *t, int stream, const char *line, size_t len) {
  sn_logline *l = &t->logs[(t->logs_head + t->logs_n) % SN_LOG_KEEP];
  if (t->logs_n == SN_LOG_KEEP) {
    l = &t->logs[t->logs_head];
    t->logs_head = (t->logs_head + 1) % SN_LOG_KEEP;
  } else {
    t->logs_n++;
  }
  free(l->line);
  l->line = sn_strndup(line, len);
  sn_utf8_fix(l->line); /* replies are JSON: invalid bytes become '?' */
  l->stream = stream;
  l->ts_ms = sn_now_ms();
}

void sn_task_pong(sn_task *t, const char *job_id) {
  if (t->ping_id[0] == '\0' || job_id == NULL || strcmp(job_id, t->ping_id) != 0)
    return;
  t->ping_id[0] = '\0';
  t->ping_failures = 0;
  t->last_activity_ms = sn_now_ms();
}

void sn_task_health_result(sn_task *t, int ok) {
  if (ok) {
    t->health_fails = 0;
    if (t->state == SN_ST_STARTING) {
      sn_log(SN_LOG_INFO, t->conf.task_id, "health check passed");
      sn_task_set_state(t, SN_ST_RUNNING);
    }
    return;
  }
  if (t->state != SN_ST_RUNNING)
    return; /* while starting, the check is simply retried */
  t->health_fails++;
  sn_log(SN_LOG_WARN, t->conf.task_id, "health check failed (%d in a row)", t->health_fails);
  if ((uint64_t)t->health_fails >= t->conf.health_failures) {
    t->health_fails = 0;
    sn_task_fault(t, SN_RS_HEALTH);
  }
}
