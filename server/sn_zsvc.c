/* The zinit backend: an exec task's runs are the zinit service
 * <prefix><task_id>, created oneshot so that zinit never restarts it on its
 * own; restarts, backoff, the storm limit and every watch rule stay ours.
 * zinit is the worker's parent, so exits are seen by polling service_status. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_zparse.h"
#include "sn_util.h"

static void sn__name(const sn_task *t, char *out, size_t len) {
  snprintf(out, len, "%s%s", t->node->cfg->zinit_prefix, t->conf.task_id);
}

/* One argv element quoted for zinit's shell-style split (no shell runs it). */
static void sn__quote(sn_buf *b, const char *s) {
  sn_buf_puts(b, "'");
  for (; *s; s++) {
    if (*s == '\'')
      sn_buf_puts(b, "'\"'\"'");
    else
      sn_buf_append(b, s, 1);
  }
  sn_buf_puts(b, "'");
}

static json_t *sn__content(sn_task *t) {
  sn_buf exec;
  json_t *env = json_object(), *after = json_array(), *c;
  char **envp = sn_proc_env(t);
  size_t i;
  json_t *e;
  sn_buf_init(&exec, 0);
  json_array_foreach(t->conf.exec, i, e) {
    if (i)
      sn_buf_puts(&exec, " ");
    sn__quote(&exec, json_string_value(e));
  }
  /* Only the task's own env and ours: zinit gives services its environment. */
  for (char **p = envp; *p; p++) {
    char *eq = strchr(*p, '=');
    if (eq && (strncmp(*p, "SUPERNODE_", 10) == 0 || (t->conf.env && json_object_getn(t->conf.env, *p, (size_t)(eq - *p)))))
      json_object_setn_new(env, *p, (size_t)(eq - *p), json_string(eq + 1));
  }
  sn_proc_free_strv(envp);
  json_array_foreach(t->conf.after, i, e) {
    char name[300];
    const char *id = json_string_value(e);
    if (strncmp(id, "zinit:", 6) == 0)
      snprintf(name, sizeof(name), "%s", id + 6);
    else
      snprintf(name, sizeof(name), "%s%s", t->node->cfg->zinit_prefix, id);
    json_array_append_new(after, json_string(name));
  }
  sn_buf_append(&exec, "", 1);
  c = json_pack("{s:s, s:o, s:{s:s}, s:o, s:b, s:s}", "exec", sn_buf_data(&exec), "env", env, "signal", "stop",
                sn_signame(t->conf.first_sig), "after", after, "oneshot", 1, "log", "ring");
  if (t->conf.cwd)
    json_object_set_new(c, "dir", json_string(t->conf.cwd));
  sn_buf_free(&exec);
  return c;
}

static json_t *sn__p1(const sn_task *t) {
  char name[300];
  sn__name(t, name, sizeof(name));
  return json_pack("[s]", name);
}

static int sn__code(json_t *error) { return (int)json_integer_value(json_object_get(error, "code")); }

static void sn__started(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_task *t = ud;
  (void)z;
  (void)result;
  if (error && sn__code(error) != -32002 /* ServiceIsUp */) {
    sn_log(SN_LOG_ERROR, t->conf.task_id, "zinit could not start the service: %s",
           json_string_value(json_object_get(error, "message")));
    t->zrun = 0;
    sn_task_on_exit(t, 127, 0);
  }
}

static void sn__monitored(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_task *t = ud;
  (void)result;
  if (error && sn__code(error) != -32001 /* ServiceAlreadyMonitored */) {
    sn__started(z, NULL, error, ud);
    return;
  }
  t->zcreated = 1;
  /* monitor starts a service it did not know; one it knew needs a start
   * (starting both ways would run the worker twice). */
  if (error)
    sn_zinit_call(z, "service_start", sn__p1(t), sn__started, t);
}

static void sn__created(sn_zinit *z, json_t *result, json_t *error, void *ud);

/* A service is replaced in steps, each sent once the one before has been
 * answered: over zinit's text protocol every command is a connection of its
 * own and a service file is written or removed on libuv's thread pool, so
 * calls sent together may be carried out in any order (a delete after the
 * create left zinit no file to load: seen in the integration run). A step
 * that could not be sent (zinit went away) fails the run, which then waits
 * for zinit in backoff as any start does; sn_zsvc_run reports its first
 * step's failure to its caller instead (failing the run there would be undone
 * by sn_task_ran when it returns). */
static void sn__unsent(sn_zinit *z, sn_task *t, int rc) {
  if (rc != 0) {
    json_t *e = json_pack("{s:i, s:s}", "code", -1, "message", "zinit is not reachable");
    sn__started(z, NULL, e, t);
    json_decref(e);
  }
}

static int sn__send_create(sn_zinit *z, sn_task *t) {
  char name[300];
  sn__name(t, name, sizeof(name));
  return sn_zinit_call(z, "service_create", json_pack("[s, o]", name, sn__content(t)), sn__created, t);
}

static void sn__create(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  (void)result;
  (void)error; /* nothing to delete is fine */
  sn__unsent(z, ud, sn__send_create(z, ud));
}

static void sn__delete(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  (void)result;
  (void)error; /* nor is a service zinit did not know */
  sn__unsent(z, ud, sn_zinit_call(z, "service_delete", sn__p1(ud), sn__create, ud));
}

static void sn__forget(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  (void)result;
  (void)error; /* nor one that was not running */
  sn__unsent(z, ud, sn_zinit_call(z, "service_forget", sn__p1(ud), sn__delete, ud));
}

static void sn__created(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_task *t = ud;
  (void)result;
  if (error && sn__code(error) == -32007 /* ServiceAlreadyExists */ && !t->zretried) {
    /* Left by an earlier node: its env holds an old secret, so replace it. */
    t->zretried = 1;
    sn__unsent(z, t, sn_zinit_call(z, "service_stop", sn__p1(t), sn__forget, t));
    return;
  }
  if (error) {
    sn__started(z, NULL, error, ud);
    return;
  }
  t->zretried = 0;
  sn__unsent(z, t, sn_zinit_call(z, "service_monitor", sn__p1(t), sn__monitored, t));
}

int sn_zsvc_run(sn_task *t, int from_command, sn_error *err) {
  sn_zinit *z = t->node->zinit;
  int rc;
  if (!sn_zinit_up(z)) {
    if (from_command)
      return sn_seterr(err, SN_EUNAVAIL, "zinit is not reachable at %s", sn_zinit_socket(z));
    t->zpending = 1; /* started when zinit is back */
    sn_task_set_state(t, SN_ST_BACKOFF);
    return 0;
  }
  if (sn_random_hex(t->secret, 32) != 0)
    return sn_seterr(err, SN_EINTERNAL, "cannot read randomness for the worker secret");
  t->zrun = 1;
  t->zsaw_pid = 0;
  t->zpending = 0;
  /* The secret is in the service's env: a new run needs a fresh service file. */
  rc = t->zcreated ? sn_zinit_call(z, "service_forget", sn__p1(t), sn__delete, t) : sn__send_create(z, t);
  t->zcreated = 0;
  if (rc != 0) {
    t->zrun = 0;
    return sn_seterr(err, SN_EUNAVAIL, "zinit is not reachable at %s", sn_zinit_socket(z));
  }
  return 0;
}

/* Parses a zinit state: 1 when it says the run ended, with code or signal. */

static void sn__status(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_task *t = ud;
  const char *st = json_string_value(json_object_get(result, "state"));
  json_int_t pid = json_integer_value(json_object_get(result, "pid"));
  int code, sig;
  (void)z;
  t->zpolling = 0;
  if (error || st == NULL || !t->zrun)
    return;
  snprintf(t->zinit_state, sizeof(t->zinit_state), "%s", st);
  if (pid > 0 && (strcmp(st, "Running") == 0 || strcmp(st, "Spawned") == 0)) {
    if (!t->zsaw_pid) {
      t->zsaw_pid = 1;
      t->pid = (int)pid;
      t->pid_start = sn_pstart_time(t->pid);
      sn_log(SN_LOG_INFO, t->conf.task_id, "zinit runs it as pid %d", t->pid);
      if (t->state == SN_ST_STARTING && !t->conf.health_check)
        sn_task_set_state(t, SN_ST_RUNNING);
    }
    return;
  }
  /* An ended state is this run's only once its pid was seen, or the spawn failed. */
  if (sn_zstate_ended(st, &code, &sig) && (t->zsaw_pid || strncmp(st, "Failure", 7) == 0 ||
                                     sn_now_ms() - t->started_at_ms > 3000)) {
    t->zrun = 0;
    sn_task_on_exit(t, code, sig);
  }
}

static void sn__ext_status(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_node *n = ud;
  (void)z;
  if (error || !json_is_string(json_object_get(result, "name")))
    return;
  const char *st = json_string_value(json_object_get(result, "state"));
  const char *nm = json_string_value(json_object_get(result, "name"));
  json_t *old = json_object_get(n->zext, nm);
  int changed = !old || !st || strcmp(json_string_value(old), st) != 0;
  json_object_set_new(n->zext, nm, json_string(st ? st : "Unknown"));
  if (changed)
    sn_deps_unblock(n);
}

/* Outside services named by blocked tasks' `after`: their states, polled. */
static void sn__poll_ext(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    size_t i;
    json_t *e;
    if (t->state != SN_ST_BLOCKED)
      continue;
    json_array_foreach(t->conf.after, i, e) {
      const char *id = json_string_value(e);
      if (strncmp(id, "zinit:", 6) == 0)
        sn_zinit_call(n->zinit, "service_status", json_pack("[s]", id + 6), sn__ext_status, n);
    }
  }
}

void sn_zinit_poll(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->zrun && t->zcreated && !t->zpolling) {
      t->zpolling = 1;
      sn_zinit_call(n->zinit, "service_status", sn__p1(t), sn__status, t);
    }
  }
  sn__poll_ext(n);
}

/* A task restored from the state file: adopt its service if zinit still
 * runs it (same pid, same secret, rules re-armed), else start it afresh. */
static void sn__adopt(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_task *t = ud;
  const char *st = json_string_value(json_object_get(result, "state"));
  json_int_t pid = json_integer_value(json_object_get(result, "pid"));
  sn_error err = {0};
  (void)z;
  t->zadopt = 0;
  if (!error && st && pid > 0 && (strcmp(st, "Running") == 0 || strcmp(st, "Spawned") == 0)) {
    t->zpending = 0;
    t->zrun = t->zcreated = t->zsaw_pid = 1;
    t->pid = (int)pid;
    t->pid_start = sn_pstart_time(t->pid);
    sn_task_began(t);
    snprintf(t->zinit_state, sizeof(t->zinit_state), "%s", st);
    sn_log(SN_LOG_INFO, t->conf.task_id, "adopted the running zinit service (pid %d)", t->pid);
    sn_task_set_state(t, SN_ST_RUNNING);
    if (t->conf.health_check)
      sn_health_start(t);
    return;
  }
  t->zcreated = !error; /* a stopped service file is replaced by the new run */
  if (sn_zsvc_run(t, 0, &err) == 0 && !t->zpending)
    sn_task_ran(t);
}

void sn_zinit_reconnected(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    sn_error err = {0};
    t->zpolling = 0;
    if (t->zadopt) {
      sn_zinit_call(n->zinit, "service_status", sn__p1(t), sn__adopt, t);
    } else if (t->zpending) {
      if (sn_zsvc_run(t, 0, &err) != 0)
        sn_log(SN_LOG_ERROR, t->conf.task_id, "%s", err.msg);
      else if (!t->zpending)
        sn_task_ran(t); /* the run that waited for zinit begins */
    }
  }
}

int sn_zsvc_kill(sn_task *t, int sig) {
  char name[300];
  if (!t->zrun)
    return -1;
  sn__name(t, name, sizeof(name));
  /* zinit's own stop kills after 500 ms; our grace period is ours to keep. */
  sn_zinit_call(t->node->zinit, "service_kill", json_pack("[s, s]", name, sn_signame(sig)), NULL, NULL);
  /* The same machine: do not wait for a round trip. zinit spawned it, not
   * us, so the pid may have ended and been reused: kill only the process
   * that started when the one we saw did. */
  if (sig == SIGKILL && t->pid > 0 && t->pid_start && sn_pstart_time(t->pid) == t->pid_start)
    kill(-t->pid, SIGKILL);
  return 0;
}

void sn_zsvc_stopped(sn_task *t) {
  if (t->zcreated)
    sn_zinit_call(t->node->zinit, "service_stop", sn__p1(t), NULL, NULL);
}

void sn_zsvc_remove(sn_task *t) {
  sn_zinit *z = t->node->zinit;
  sn_zinit_forget(z, t);
  if (!t->zcreated || !sn_zinit_up(z))
    return;
  sn_zinit_call(z, "service_stop", sn__p1(t), NULL, NULL);
  sn_zinit_call(z, "service_forget", sn__p1(t), NULL, NULL);
  sn_zinit_call(z, "service_delete", sn__p1(t), NULL, NULL);
}

static void sn__logs(sn_zinit *z, json_t *result, json_t *error, void *ud) {
  sn_req *r = ud;
  json_t *out = json_array(), *l;
  size_t i;
  (void)z;
  if (error) {
    json_decref(out);
    sn_req_fail(r, SN_EUNAVAIL, "zinit did not give the logs");
    return;
  }
  json_array_foreach(result, i, l) {
    const char *s = json_string_value(l), *colon = s ? strstr(s, ": ") : NULL;
    if (colon == NULL)
      continue;
    json_array_append_new(out, json_pack("{s:n, s:s, s:s}", "ts_ms", "stream", strncmp(s, "[-]", 3) == 0 ? "stderr" : "stdout",
                                         "line", colon + 2));
  }
  size_t keep = r->action > 0 ? (size_t)r->action : 100, n = json_array_size(out);
  while (n > keep) {
    json_array_remove(out, 0);
    n--;
  }
  sn_req_ok_with(r, "lines", out);
}

void sn_zsvc_logs(sn_task *t, size_t lines, sn_req *r) {
  char name[300];
  sn__name(t, name, sizeof(name));
  r->action = (int)lines;
  if (sn_zinit_call(t->node->zinit, "stream_currentLogs", json_pack("[s]", name), sn__logs, r) != 0)
    sn_req_fail(r, SN_EUNAVAIL, "zinit is not reachable");
}
