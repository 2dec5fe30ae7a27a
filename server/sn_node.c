/* The node: the registry of tasks and connections, start-up and shutdown. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

static void sn__on_signal(uv_signal_t *h, int signum) {
  sn_node *n = h->data;
  sn_log(SN_LOG_INFO, NULL, "received %s: shutting down", sn_signame(signum));
  sn_node_shutdown(n);
}

/* SIGHUP: read the TLS certificate and key again (a renewed certificate is
 * served to new connections; open ones keep theirs). */
static void sn__on_hup(uv_signal_t *h, int signum) {
  sn_node *n = h->data;
  sn_error err = {0};
  (void)signum;
  if (sn_http_reload_tls(n, &err) != 0)
    sn_log(SN_LOG_ERROR, NULL, "SIGHUP: %s (the certificate in use stays)", err.msg);
  else
    sn_log(SN_LOG_INFO, NULL, "SIGHUP: TLS certificate %s reloaded", n->cfg->tls_cert);
}

/* The shim lives beside the supernode binary unless the config names it. */
static int sn__find_shim(sn_node *n, sn_error *err) {
  char self[4096];
  ssize_t len;
  if (n->cfg->shim_path) {
    snprintf(n->shim_path, sizeof(n->shim_path), "%s", n->cfg->shim_path);
  } else {
    if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
      return sn_seterr(err, SN_EINTERNAL, "cannot find my own binary to locate supernode-shim");
    self[len] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(n->shim_path, sizeof(n->shim_path), "%.4000s/supernode-shim", self);
  }
  if (access(n->shim_path, X_OK) != 0)
    return sn_seterr(err, SN_EINTERNAL, "cannot run %s (set shim_path in the config)", n->shim_path);
  return 0;
}

/* A new loop turn: websocket connections may be asked for a writable
 * callback again (sn_conn_want_write asks once per turn). */
static void sn__turn(uv_prepare_t *h) { ((sn_node *)h->data)->turn++; }
static void sn__flush(uv_check_t *h) { sn_conn_flush(h->data); }

int sn_node_init(sn_node *n, uv_loop_t *loop, sn_config *cfg, sn_error *err) {
  memset(n, 0, sizeof(*n));
  n->loop = loop;
  n->cfg = cfg;
  n->started_ms = sn_now_ms();
  sn_list_init(&n->tasks);
  sn_list_init(&n->conns);
  sn_list_init(&n->all_fetchers);
  sn_list_init(&n->procs);
  sn_list_init(&n->checks);
  sn_buf_init(&n->wout, LWS_PRE);
  sn_jobs_init(n);
  if (cfg->node_id) {
    snprintf(n->node_id, sizeof(n->node_id), "%s", cfg->node_id);
  } else if (gethostname(n->node_id, sizeof(n->node_id) - 1) != 0 || n->node_id[0] == '\0') {
    strcpy(n->node_id, "supernode");
  }
  uv_signal_init(loop, &n->sigint);
  uv_signal_init(loop, &n->sigterm);
  uv_signal_init(loop, &n->sighup);
  uv_timer_init(loop, &n->shutdown_timer);
  uv_timer_init(loop, &n->poke_timer);
  uv_timer_init(loop, &n->watch_timer);
  uv_timer_init(loop, &n->qsync_timer);
  sn_mem_init();
  uv_prepare_init(loop, &n->turn_prep);
  n->turn_prep.data = n;
  n->turn = 1;
  uv_prepare_start(&n->turn_prep, sn__turn);
  sn_list_init(&n->flushq);
  uv_check_init(loop, &n->flush_check);
  n->flush_check.data = n;
  uv_check_start(&n->flush_check, sn__flush);
  n->sighup.data = n;
  n->sigint.data = n->sigterm.data = n->shutdown_timer.data = n->poke_timer.data = n->watch_timer.data = n;
  n->qsync_timer.data = n;
  /* Orphaned descendants of workers are re-parented to the node rather than
   * to init, so the watch can find, kill and reap them. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    sn_log(SN_LOG_WARN, NULL, "cannot become child subreaper: orphans of workers escape supervision");
  uv_signal_start(&n->sigint, sn__on_signal, SIGINT);
  uv_signal_start(&n->sigterm, sn__on_signal, SIGTERM);
  uv_signal_start(&n->sighup, sn__on_hup, SIGHUP);
  /* A client that goes away mid-write must not kill the node. */
  signal(SIGPIPE, SIG_IGN);
  if (sn_pools_load(n, cfg->kinds, err) != 0 || sn_state_prepare(n, err) != 0)
    return err->code;
  n->zext = json_object();
  if (cfg->zinit_backend)
    n->zinit = sn_zinit_new(n, cfg->zinit_socket, cfg->zinit_protocol, cfg->zinit_config_dir);
  if (cfg->redis_url && (n->mirror = sn_mirror_new(n, cfg->redis_url, err)) == NULL)
    return err->code;
  return sn__find_shim(n, err);
}

/* queue_fsync "every_ms": what the queue logs wrote goes to disk on the threadpool. */
static void sn__qsync(uv_timer_t *h) {
  sn_node *n = h->data;
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) sn_qlog_sync(&sn_list_entry(pos, sn_task, link)->qlog, n->loop);
}

int sn_node_listen(sn_node *n, sn_error *err) {
  const char *host = n->cfg->listen_host;
  int rc = sn_http_start(n, err);
  if (rc)
    return rc;
  if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
    host = "127.0.0.1";
  snprintf(n->worker_url, sizeof(n->worker_url), strchr(host, ':') ? "%s://[%s]:%d/w/ch" : "%s://%s:%d/w/ch",
           n->cfg->tls_cert ? "wss" : "ws", host, n->port);
  printf(strchr(n->cfg->listen_host, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n",
         n->cfg->listen_host, n->port);
  fflush(stdout);
  sn_log(SN_LOG_INFO, NULL, "supernode %s node_id %s listening on port %d", SN_VERSION, n->node_id, n->port);
  sn_watch_start(n);
  if (n->cfg->state_dir && !n->cfg->queue_fsync_always)
    uv_timer_start(&n->qsync_timer, sn__qsync, n->cfg->queue_fsync_ms, n->cfg->queue_fsync_ms);
  return 0;
}

sn_task *sn_node_find(sn_node *n, const char *task_id) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (strcmp(t->conf.task_id, task_id) == 0)
      return t;
  }
  return NULL;
}

int sn_node_build_conf(sn_node *n, const json_t *req, sn_taskconf *conf, sn_error *err) {
  json_t *merged = json_deep_copy(n->cfg->task_defaults);
  json_t *tpl = json_object_get(req, "template");
  int rc;

  if (tpl) {
    json_t *t = json_is_string(tpl) ? json_object_get(n->cfg->templates, json_string_value(tpl)) : NULL;
    if (t == NULL) {
      json_decref(merged);
      return sn_seterr(err, SN_EBADREQ, "field 'template': no template named %s",
                       json_is_string(tpl) ? json_string_value(tpl) : "(not a string)");
    }
    json_object_update(merged, t);
  }
  json_object_update(merged, (json_t *)req);
  rc = sn_taskconf_parse(merged, conf, err);
  json_decref(merged);
  if (rc)
    return rc;
  if ((rc = sn_config_task_allowed(n->cfg, conf, err)) != 0) {
    sn_taskconf_free(conf);
    return rc;
  }
  return rc;
}

int sn_node_add_task(sn_node *n, sn_taskconf *conf, sn_task **out, sn_error *err) {
  sn_task *t;
  int rc;
  if (n->shutting_down) {
    sn_taskconf_free(conf);
    return sn_seterr(err, SN_EUNAVAIL, "the node is shutting down");
  }
  if (sn_node_find(n, conf->task_id)) {
    rc = sn_seterr(err, SN_ECONFLICT, "task %s exists", conf->task_id);
    sn_taskconf_free(conf);
    return rc;
  }
  if ((rc = sn_deps_check(n, conf, err)) != 0) {
    sn_taskconf_free(conf);
    return rc;
  }
  if (n->ntasks >= n->cfg->max_tasks) {
    sn_taskconf_free(conf);
    return sn_seterr(err, SN_EUNAVAIL, "max_tasks (%llu) reached", (unsigned long long)n->cfg->max_tasks);
  }
  t = sn_task_new(n, conf);
  sn_list_push(&n->tasks, &t->link);
  n->ntasks++;
  if ((rc = sn_task_start(t, err)) != 0) {
    sn_task_destroy(t);
    return rc;
  }
  sn_log(SN_LOG_INFO, t->conf.task_id, "task created (%s)", t->conf.mode == SN_MODE_NET ? "net" : "exec");
  sn_state_changed(n);
  if (out)
    *out = t;
  return 0;
}

void sn_node_task_gone(sn_node *n, sn_task *t) {
  if (!sn_list_linked(&t->link))
    return;
  sn_list_remove(&t->link);
  n->ntasks--;
  sn_mirror_task_gone(n->mirror, t);
  sn_state_changed(n);
  sn_log(SN_LOG_INFO, t->conf.task_id, "task removed");
}

int sn_node_boot_tasks(sn_node *n, sn_error *err) {
  size_t i;
  json_t *tj, *restored;
  sn_state_restore(n, &restored);
  sn_pools_adjust(n); /* every pool's min */
  json_array_foreach(n->cfg->tasks, i, tj) {
    sn_taskconf conf;
    sn_error e = {0};
    const char *id = json_string_value(json_object_get(tj, "task_id"));
    if (id && json_object_get(restored, id))
      continue; /* the state file is newer than the config */
    if (sn_node_build_conf(n, tj, &conf, &e) != 0 || sn_node_add_task(n, &conf, NULL, &e) != 0) {
      json_decref(restored);
      return sn_seterr(err, e.code, "config tasks[%zu]: %s", i, e.msg);
    }
  }
  json_decref(restored);
  sn_state_changed(n);
  return 0;
}

size_t sn_node_count_role(sn_node *n, int role) {
  sn_list *pos, *tmp;
  size_t k = 0;
  sn_list_foreach(pos, tmp, &n->conns) {
    if (sn_list_entry(pos, sn_conn, link)->role == role)
      k++;
  }
  return k;
}

json_t *sn_node_stat_json(sn_node *n) {
  json_t *tasks = json_array();
  sn_list *pos, *tmp;
  size_t workers = 0;
  char listen[300];

  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    workers += t->worker != NULL;
    json_array_append_new(tasks, sn_task_to_json(t));
  }
  snprintf(listen, sizeof(listen), strchr(n->cfg->listen_host, ':') ? "[%s]:%d" : "%s:%d",
           n->cfg->listen_host, n->port);
  json_t *node = json_pack(
      "{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:i, s:s, s:{s:I, s:I, s:I, s:I}}",
      "version", SN_VERSION, "node_id", n->node_id, "uptime_ms", (json_int_t)(sn_now_ms() - n->started_ms),
      "listen", listen, "tasks", (json_int_t)n->ntasks, "workers_connected", (json_int_t)workers,
      "fetchers", (json_int_t)(sn_node_count_role(n, SN_ROLE_WS_FETCH) + sn_node_count_role(n, SN_ROLE_WS_FETCH_ALL)),
      "redis", sn_mirror_state(n->mirror), "mirror_lag", (int)sn_mirror_lag(n->mirror), "zinit",
      n->zinit ? (sn_zinit_up(n->zinit) ? "connected" : "down") : "off",
      "limits", "max_message_bytes", (json_int_t)n->cfg->max_message_bytes, "max_tasks",
      (json_int_t)n->cfg->max_tasks, "max_connections", (json_int_t)n->cfg->max_connections,
      "connections", (json_int_t)n->nconns);
  json_object_set_new(node, "jobs", n->jobs_done_by_kind ? sn_jobs_stat(n) : json_object());
  return json_pack("{s:b, s:o, s:o}", "ok", 1, "node", node, "tasks", tasks);
}

/* ---- shutdown ---- */

static void sn__shutdown_timeout(uv_timer_t *h) {
  sn_node *n = h->data;
  sn_list *pos, *tmp;
  sn_log(SN_LOG_ERROR, NULL, "shutdown: worker processes still there after the deadline: giving up on them");
  sn_list_foreach(pos, tmp, &n->procs) {
    sn_proc *p = sn_list_entry(pos, sn_proc, link);
    if (!p->exited)
      sn_proc_abandon(p);
  }
  n->exit_code = 1;
  n->grace_over = 1;
  sn_node_maybe_finish(n);
}

static void sn__finish(sn_node *n) {
  sn_list *pos, *tmp;
  n->finished = 1;
  sn_jobs_close(n);
  sn_mirror_close(n->mirror); /* after the jobs' last writes */
  n->mirror = NULL;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    t->removing = 1;
    sn_task_destroy(t);
  }
  /* Pipes held open by leftovers that escaped the group are closed now. */
  sn_list_foreach(pos, tmp, &n->procs) sn_proc_close_pipes(sn_list_entry(pos, sn_proc, link));
  uv_close((uv_handle_t *)&n->sigint, NULL);
  uv_close((uv_handle_t *)&n->sigterm, NULL);
  uv_close((uv_handle_t *)&n->sighup, NULL);
  uv_close((uv_handle_t *)&n->shutdown_timer, NULL);
  uv_close((uv_handle_t *)&n->poke_timer, NULL);
  uv_close((uv_handle_t *)&n->watch_timer, NULL);
  uv_close((uv_handle_t *)&n->qsync_timer, NULL);
  uv_close((uv_handle_t *)&n->turn_prep, NULL);
  sn_conn_flush(n); /* what the tasks' end queued (a worker's last frames); later asks go to lws */
  uv_close((uv_handle_t *)&n->flush_check, NULL);
  n->scan_soon = 1;
  sn_watch_tick(n); /* a last sweep for orphans */
  sn_zinit_close(n->zinit); /* after the tasks' last requests (remove) are written */
  n->zinit = NULL;
  /* First phase of the lws teardown: it closes its handles on our loop, and
   * uv_run returns once they are gone. The second phase is in sn_node_free. */
  if (n->lws)
    lws_context_destroy(n->lws);
  sn_log(SN_LOG_INFO, NULL, "shutdown complete");
}

static void sn__grace_over(uv_timer_t *h) {
  sn_node *n = h->data;
  n->grace_over = 1;
  sn_node_maybe_finish(n);
}

/* Finishes once every worker is gone and websocket clients had their "end"
 * frames and close (or a short grace for clients that do not answer). */
void sn_node_maybe_finish(sn_node *n) {
  sn_list *pos, *tmp;
  if (!n->shutting_down || n->finished)
    return;
  sn_list_foreach(pos, tmp, &n->procs) {
    if (!sn_list_entry(pos, sn_proc, link)->exited)
      return;
  }
  sn_list_foreach(pos, tmp, &n->tasks) {
    if (sn_list_entry(pos, sn_task, link)->zrun && !n->grace_over)
      return; /* a zinit-run worker still exits (its end comes by polling) */
  }
  if (!n->grace_over) {
    size_t ws = n->nconns - sn_node_count_role(n, SN_ROLE_HTTP) - sn_node_count_role(n, SN_ROLE_NONE);
    if (ws > 0) {
      if (!uv_is_active((uv_handle_t *)&n->poke_timer))
        uv_timer_start(&n->poke_timer, sn__grace_over, 1000, 0);
      return;
    }
  }
  sn__finish(n);
}

static void sn__poked(uv_timer_t *h) { sn_node_maybe_finish(h->data); }

void sn_node_poke(sn_node *n) {
  if (n->shutting_down && !n->finished && !n->grace_over && !uv_is_active((uv_handle_t *)&n->poke_timer))
    uv_timer_start(&n->poke_timer, sn__poked, 0, 0);
}

void sn_node_shutdown(sn_node *n) {
  sn_list *pos, *tmp;
  uint64_t longest = 0;
  if (n->shutting_down)
    return;
  sn_state_final(n);
  n->shutting_down = 1;
  sn_list_foreach(pos, tmp, &n->conns) {
    sn_conn *c = sn_list_entry(pos, sn_conn, link);
    if (c->role == SN_ROLE_WS_FETCH || c->role == SN_ROLE_WS_FETCH_ALL) {
      const char *tid = c->task ? c->task->conf.task_id : NULL;
      json_t *end = json_pack("{s:s, s:s}", "type", "end", "reason", "shutdown");
      if (tid)
        json_object_set_new(end, "task_id", json_string(tid));
      sn_conn_send_json(c, end);
    }
    if (c->role != SN_ROLE_HTTP && c->role != SN_ROLE_NONE)
      sn_conn_close(c, 1001);
  }
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    longest += t->conf.second_sig_duration_ms; /* dependency order may chain the stops */
  }
  /* Dependents first: a task stops once nothing still running needs it. */
  sn_deps_shutdown_step(n);
  uv_timer_start(&n->shutdown_timer, sn__shutdown_timeout,
                 n->cfg->shutdown_timeout_ms ? n->cfg->shutdown_timeout_ms : longest + 5000, 0);
  sn_node_maybe_finish(n);
}

void sn_node_free(sn_node *n) {
  if (n->lws)
    lws_context_destroy(n->lws);
  n->lws = NULL;
  sn_ptab_free(&n->ptab);
  sn_buf_free(&n->wout);
  free(n->state_final);
  n->state_final = NULL;
  sn_pools_free(n); /* after the loop: tasks kept pointers to their pools until the end */
  json_decref(n->zext);
  n->zext = NULL;
}
