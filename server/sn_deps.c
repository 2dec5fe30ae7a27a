/* Task dependencies (`after`): a task starts only once every task it names is
 * running (state `blocked` until then); the node stops dependents before what
 * they depend on; a cycle is refused. */
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"

/* Depth-first from `from` along `after` links: does it reach target? */
static int sn__reaches(sn_node *n, const json_t *after, const char *target, int depth) {
  /* zinit: names are outside services: they cannot close a cycle through our tasks. */
  size_t i;
  json_t *e;
  if (after == NULL || depth > 1000)
    return 0;
  json_array_foreach(after, i, e) {
    const char *id = json_string_value(e);
    sn_task *t;
    if (strcmp(id, target) == 0)
      return 1;
    if ((t = sn_node_find(n, id)) != NULL && sn__reaches(n, t->conf.after, target, depth + 1))
      return 1;
  }
  return 0;
}

int sn_deps_check(sn_node *n, const sn_taskconf *conf, sn_error *err) {
  size_t i;
  json_t *e;
  json_array_foreach(conf->after, i, e) {
    if (strncmp(json_string_value(e), "zinit:", 6) == 0 && n->zinit == NULL)
      return sn_seterr(err, SN_EBADREQ, "field 'after': %s needs the zinit backend", json_string_value(e));
  }
  if (sn__reaches(n, conf->after, conf->task_id, 0))
    return sn_seterr(err, SN_EBADREQ, "field 'after': dependency cycle through %s", conf->task_id);
  return 0;
}

int sn_deps_ready(const sn_task *t) {
  size_t i;
  json_t *e;
  json_array_foreach(t->conf.after, i, e) {
    const char *id = json_string_value(e);
    if (strncmp(id, "zinit:", 6) == 0) {
      /* An outside service: running (or a oneshot that succeeded), as zinit itself requires. */
      const char *st = json_string_value(json_object_get(t->node->zext, id + 6));
      if (st == NULL || (strcmp(st, "Running") != 0 && strcmp(st, "Success") != 0))
        return 0;
      continue;
    }
    sn_task *d = sn_node_find(t->node, id);
    if (d == NULL || d->state != SN_ST_RUNNING || d->removing)
      return 0;
  }
  return 1;
}

void sn_deps_unblock(sn_node *n) {
  sn_list *pos, *tmp;
  if (n->shutting_down)
    return;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    sn_error err = {0};
    if (t->state != SN_ST_BLOCKED || !sn_deps_ready(t))
      continue;
    sn_log(SN_LOG_INFO, t->conf.task_id, "dependencies running: starting");
    if (sn_task_start(t, &err) != 0) {
      sn_log(SN_LOG_ERROR, t->conf.task_id, "%s", err.msg);
      sn_task_on_exit(t, 127, 0);
    }
  }
}

/* True when a task still up depends on t. */
static int sn__needed(sn_node *n, const sn_task *t) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *d = sn_list_entry(pos, sn_task, link);
    size_t i;
    json_t *e;
    if (d == t || d->state == SN_ST_STOPPED || d->state == SN_ST_FAILED || d->state == SN_ST_BLOCKED)
      continue;
    json_array_foreach(d->conf.after, i, e) {
      if (strcmp(json_string_value(e), t->conf.task_id) == 0)
        return 1;
    }
  }
  return 0;
}

void sn_deps_shutdown_step(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->shutdown_asked || sn__needed(n, t))
      continue;
    t->shutdown_asked = 1;
    sn_task_stop(t, NULL, SN_REQ_STOP);
  }
}
