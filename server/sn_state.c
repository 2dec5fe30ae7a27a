/* The state file (<state_dir>/supernode-state.json): task definitions, their
 * desired state and the per-run secrets, so that a restarted node brings its
 * tasks back and, with the zinit backend, adopts the services still running
 * instead of starting duplicates. Written atomically (temp file, fsync,
 * rename) on the threadpool, never on the loop. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

typedef struct sn_statew {
  uv_work_t req;
  sn_node *n;
  char *path;
  char *text; /* the file's content, owned */
  int rc;
} sn_statew;

static void sn__path(sn_node *n, char *out, size_t len) {
  snprintf(out, len, "%s/supernode-state.json", n->cfg->state_dir);
}

static void sn__write(uv_work_t *req) {
  sn_statew *w = req->data;
  char tmp[4200];
  size_t len = strlen(w->text);
  int fd;
  snprintf(tmp, sizeof(tmp), "%s.tmp", w->path);
  w->rc = -1;
  if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
    return;
  if (write(fd, w->text, len) != (ssize_t)len || fsync(fd) != 0) {
    close(fd);
    return;
  }
  if (close(fd) != 0 || rename(tmp, w->path) != 0)
    return;
  /* The rename is durable only once the directory is on disk too. */
  if ((fd = open(w->n->cfg->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    w->rc = fsync(fd);
    close(fd);
  }
}

static void sn__state_flush(sn_node *n);

static void sn__written(uv_work_t *req, int status) {
  sn_statew *w = req->data;
  sn_node *n = w->n;
  if (status != 0 || w->rc != 0)
    sn_log(SN_LOG_ERROR, NULL, "cannot write the state file %s", w->path);
  free(w->path);
  free(w->text);
  free(w);
  n->state_writing = 0;
  if (n->state_dirty)
    sn__state_flush(n);
}

static json_t *sn__snapshot(sn_node *n) {
  json_t *tasks = json_array();
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->removing || t->pool)
      continue; /* pool instances are the pool's to recreate */
    json_array_append_new(tasks, json_pack("{s:o, s:s, s:b}", "conf", sn_taskconf_to_json(&t->conf), "secret", t->secret,
                                           "run", t->state != SN_ST_STOPPED && t->state != SN_ST_FAILED));
  }
  return json_pack("{s:i, s:s, s:o}", "version", 1, "node_id", n->node_id, "tasks", tasks);
}

static void sn__state_flush(sn_node *n) {
  char path[4096];
  sn_statew *w;
  json_t *snap;
  if (n->state_writing)
    return; /* written again when the write in flight is done */
  n->state_dirty = 0;
  n->state_writing = 1;
  w = sn_calloc(1, sizeof(*w));
  if (n->state_final) { /* shutting down: the state taken when it began */
    w->text = n->state_final;
    n->state_final = NULL;
  } else {
    snap = sn__snapshot(n);
    w->text = json_dumps(snap, JSON_INDENT(1));
    json_decref(snap);
  }
  sn__path(n, path, sizeof(path));
  w->n = n;
  w->path = sn_strdup(path);
  w->req.data = w;
  if (uv_queue_work(n->loop, &w->req, sn__write, sn__written) != 0) {
    free(w->path);
    free(w->text);
    free(w);
    n->state_writing = 0;
  }
}

void sn_state_final(sn_node *n) {
  json_t *snap;
  if (n->cfg->state_dir == NULL)
    return;
  /* The tasks as they were when shutdown began (the stops that follow are
   * the shutdown's, not the operator's): written last, after any write in
   * flight, so that a later snapshot of a half-stopped node never wins. */
  snap = sn__snapshot(n);
  free(n->state_final);
  n->state_final = json_dumps(snap, JSON_INDENT(1));
  json_decref(snap);
  n->state_dirty = 1;
  sn__state_flush(n);
}

void sn_state_changed(sn_node *n) {
  if (n->cfg->state_dir == NULL || n->shutting_down)
    return;
  n->state_dirty = 1;
  sn__state_flush(n);
}

int sn_state_prepare(sn_node *n, sn_error *err) {
  /* A state_dir that does not exist yet is made (0700: the file holds the
   * workers' secrets); one that cannot be made stops the node at start-up,
   * since running without it would silently lose adoption after a restart. */
  if (n->cfg->state_dir && sn_mkdir_p(n->cfg->state_dir, 0700) != 0)
    return sn_seterr(err, SN_EINTERNAL, "cannot create state_dir %s: %s", n->cfg->state_dir, strerror(errno));
  return 0;
}

/* At boot, before the loop runs: a plain read is fine here. Returns the
 * number of tasks restored, and the ids it restored in *restored. */
int sn_state_restore(sn_node *n, json_t **restored) {
  char path[4096];
  json_t *root, *tasks, *e;
  size_t i;
  int k = 0;
  *restored = json_object();
  if (n->cfg->state_dir == NULL)
    return 0;
  sn__path(n, path, sizeof(path));
  if ((root = json_load_file(path, 0, NULL)) == NULL)
    return 0;
  tasks = json_object_get(root, "tasks");
  json_array_foreach(tasks, i, e) {
    sn_taskconf conf;
    sn_error terr = {0};
    sn_task *t;
    const char *secret = json_string_value(json_object_get(e, "secret"));
    if (sn_taskconf_parse(json_object_get(e, "conf"), &conf, &terr) != 0) {
      sn_log(SN_LOG_WARN, NULL, "state file: skipped a task: %s", terr.msg);
      continue;
    }
    t = sn_task_new(n, &conf);
    sn_list_push(&n->tasks, &t->link);
    n->ntasks++;
    json_object_set_new(*restored, t->conf.task_id, json_true());
    if (secret)
      snprintf(t->secret, sizeof(t->secret), "%s", secret);
    k++;
    if (!json_is_true(json_object_get(e, "run")))
      continue;
    if (t->zinit) {
      t->zadopt = 1; /* asks zinit first: the service may still run */
      t->zpending = 1;
      sn_task_set_state(t, SN_ST_BACKOFF);
    } else if (sn_task_start(t, &terr) != 0) {
      sn_log(SN_LOG_ERROR, t->conf.task_id, "%s", terr.msg);
    }
  }
  json_decref(root);
  sn_log(SN_LOG_INFO, NULL, "state file: %d tasks restored", k);
  return k;
}
