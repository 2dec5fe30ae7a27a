#include "sn_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

static const char *const sn__pool_keys[] = {"min", "max", "warm", "idle_retire_ms", "max_claims_per_client",
                                             "claim_recycle", NULL};

static int sn__is_pool_key(const char *k) {
  for (int i = 0; sn__pool_keys[i]; i++)
    if (strcmp(k, sn__pool_keys[i]) == 0)
      return 1;
  return 0;
}

static uint64_t sn__u(const json_t *o, const char *k, uint64_t def) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : def;
}

int sn_pools_load(sn_node *n, const json_t *kinds, sn_error *err) {
  const char *kind, *k;
  json_t *spec, *v;
  sn_list_init(&n->pools);
  if (kinds == NULL)
    return 0;
  json_object_foreach((json_t *)kinds, kind, spec) {
    sn_pool *p;
    if (!sn_valid_kind(kind) || !json_is_object(spec))
      return sn_seterr(err, SN_EBADREQ, "config kinds.%s must be an object under a valid kind name", kind);
    p = sn_calloc(1, sizeof(*p));
    snprintf(p->kind, sizeof(p->kind), "%s", kind);
    p->min = sn__u(spec, "min", 0);
    p->max = sn__u(spec, "max", p->min > 1 ? p->min : 1);
    p->warm = sn__u(spec, "warm", 0);
    p->idle_retire_ms = sn__u(spec, "idle_retire_ms", 60000);
    p->max_claims = sn__u(spec, "max_claims_per_client", p->max);
    p->claim_recycle = json_is_true(json_object_get(spec, "claim_recycle"));
    p->tmpl = json_object();
    json_object_foreach(spec, k, v) {
      if (!sn__is_pool_key(k))
        json_object_set(p->tmpl, k, v);
    }
    json_object_set_new(p->tmpl, "kind", json_string(kind));
    json_object_set_new(p->tmpl, "accept_tasks", json_true());
    sn_list_init(&p->claims);
    sn_list_push(&n->pools, &p->link);
    if (p->min > p->max || p->warm > p->max)
      return sn_seterr(err, SN_EBADREQ, "config kinds.%s: min and warm must not exceed max", kind);
    if (!json_is_array(json_object_get(p->tmpl, "exec")) && !json_is_string(json_object_get(p->tmpl, "template")))
      return sn_seterr(err, SN_EBADREQ, "config kinds.%s needs exec (or a template)", kind);
  }
  return 0;
}

void sn_pools_free(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    sn_list *c, *ct;
    sn_list_foreach(c, ct, &p->claims) sn_req_fail(sn_list_entry(c, sn_req, link), SN_EUNAVAIL, "the node shut down");
    json_decref(p->tmpl);
    sn_list_remove(&p->link);
    free(p);
  }
}

sn_pool *sn_pool_find(sn_node *n, const char *kind) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    if (strcmp(p->kind, kind) == 0)
      return p;
  }
  return NULL;
}

/* Counts the pool's instances: all, busy or claimed, and the idle ones. */
static size_t sn__count(sn_node *n, sn_pool *p, size_t *busy) {
  sn_list *pos, *tmp;
  size_t all = 0;
  *busy = 0;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->pool != p || t->removing)
      continue;
    all++;
    *busy += t->nrunning >= t->max_jobs || t->claimed_by != NULL; /* no room for another job */
  }
  return all;
}

static size_t sn__demand(sn_node *n, sn_pool *p) {
  sn_list *pos, *tmp;
  size_t k = 0;
  sn_list_foreach(pos, tmp, &n->jobq) {
    sn_job *j = sn_list_entry(pos, sn_job, qlink);
    k += strcmp(j->kind, p->kind) == 0;
  }
  return k + (size_t)p->remote_demand + sn_list_count(&p->claims);
}

static sn_task *sn__spawn(sn_node *n, sn_pool *p) {
  char id[160];
  sn_taskconf conf;
  sn_error err = {0};
  sn_task *t = NULL;
  json_t *req;
  for (int i = 0;; i++) { /* the lowest free n */
    snprintf(id, sizeof(id), "%s_%d", p->kind, i);
    if (sn_node_find(n, id) == NULL)
      break;
  }
  req = json_deep_copy(p->tmpl);
  json_object_set_new(req, "task_id", json_string(id));
  if (sn_node_build_conf(n, req, &conf, &err) == 0 && sn_node_add_task(n, &conf, &t, &err) == 0) {
    t->pool = p;
    sn_log(SN_LOG_INFO, id, "pool %s: instance started", p->kind);
  } else {
    sn_log(SN_LOG_ERROR, NULL, "pool %s: cannot start %s: %s", p->kind, id, err.msg);
  }
  json_decref(req);
  return t;
}

/* Retires one idle instance (highest n first) idle for at least min_idle_ms. */
static int sn__retire(sn_node *n, sn_pool *p, uint64_t min_idle_ms) {
  sn_list *pos, *tmp;
  sn_task *victim = NULL;
  uint64_t now = sn_now_ms();
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->pool == p && !t->removing && t->nrunning == 0 && t->claimed_by == NULL &&
        now - t->last_activity_ms >= min_idle_ms && (victim == NULL || strcmp(t->conf.task_id, victim->conf.task_id) > 0))
      victim = t;
  }
  if (victim == NULL)
    return 0;
  sn_log(SN_LOG_INFO, victim->conf.task_id, "pool %s: retiring an idle instance", p->kind);
  sn_task_stop(victim, NULL, SN_REQ_REMOVE);
  return 1;
}

static void sn__adjust(sn_node *n, sn_pool *p) {
  size_t busy, all = sn__count(n, p, &busy);
  size_t want = busy + (sn__demand(n, p) > p->warm ? sn__demand(n, p) : p->warm);
  if (want < p->min)
    want = p->min;
  if (want > p->max)
    want = p->max;
  while (all < want && sn__spawn(n, p))
    all++;
  while (all > want && sn__retire(n, p, p->idle_retire_ms))
    all--;
}

void sn_pools_adjust(sn_node *n) {
  sn_list *pos, *tmp;
  if (n->shutting_down)
    return;
  sn_list_foreach(pos, tmp, &n->pools) sn__adjust(n, sn_list_entry(pos, sn_pool, link));
}

static json_t *sn__tasks_of(sn_node *n, sn_pool *p) {
  json_t *a = json_array();
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->pool == p && !t->removing)
      json_array_append_new(a, sn_task_to_json(t));
  }
  return a;
}

void sn_pool_cmd_scale(sn_node *n, json_t *req, sn_req *r) {
  const char *kind = json_string_value(json_object_get(req, "kind"));
  json_t *cnt = json_object_get(req, "count");
  sn_pool *p = kind ? sn_pool_find(n, kind) : NULL;
  size_t busy, all;
  json_int_t want;
  if (kind == NULL)
    return sn_req_fail(r, SN_EBADREQ, "field 'kind' is required");
  if (p == NULL)
    return sn_req_fail(r, SN_ENOTFOUND, "no pool for this kind (config kinds)");
  if (!json_is_integer(cnt) || (want = json_integer_value(cnt)) < (json_int_t)p->min || want > (json_int_t)p->max) {
    char msg[160];
    snprintf(msg, sizeof(msg), "field 'count' must be within min %llu and max %llu", (unsigned long long)p->min,
             (unsigned long long)p->max);
    return sn_req_fail(r, SN_EBADREQ, msg);
  }
  all = sn__count(n, p, &busy);
  while (all < (size_t)want && sn__spawn(n, p))
    all++;
  while (all > (size_t)want && sn__retire(n, p, 0))
    all--;
  sn_req_ok_with(r, "tasks", sn__tasks_of(n, p));
}

sn_task *sn_pool_claimed(sn_node *n, sn_conn *c, const char *kind) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->claimed_by == c && strcmp(t->conf.kind, kind) == 0)
      return t;
  }
  return NULL;
}

/* Claims waiting for an instance, all clients together: beyond this the
 * next is refused rather than queued. */
#define SN_POOL_MAX_PENDING 1000

static size_t sn__pending_of(sn_pool *p, sn_conn *c) {
  sn_list *pos, *tmp;
  size_t k = 0;
  sn_list_foreach(pos, tmp, &p->claims) {
    k += sn_list_entry(pos, sn_req, link)->conn == c;
  }
  return k;
}

static size_t sn__claims_of(sn_node *n, sn_conn *c, sn_pool *p) {
  sn_list *pos, *tmp;
  size_t k = 0;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    k += t->claimed_by == c && t->pool == p;
  }
  return k;
}

/* Gives the oldest pending claim of p an idle instance, if one is free. */
static int sn__grant(sn_node *n, sn_pool *p) {
  sn_list *pos, *tmp;
  if (sn_list_empty(&p->claims))
    return 0;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->pool == p && t->claimed_by == NULL && sn_jobs_free_worker(t)) {
      sn_req *r = sn_list_entry(p->claims.next, sn_req, link);
      sn_list_remove(&r->link);
      if (r->conn->wsi == NULL) { /* the client left meanwhile */
        sn_req_fail(r, SN_EUNAVAIL, "gone");
        return 1;
      }
      t->claimed_by = r->conn;
      sn_log(SN_LOG_INFO, t->conf.task_id, "claimed by a client");
      sn_req_ok_with(r, "task", sn_task_to_json(t));
      return 1;
    }
  }
  return 0;
}

void sn_pools_grant(sn_node *n) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    while (sn__grant(n, p))
      ;
  }
}

void sn_pool_cmd_claim(sn_node *n, json_t *req, sn_req *r) {
  const char *kind = json_string_value(json_object_get(req, "kind"));
  sn_pool *p = kind ? sn_pool_find(n, kind) : NULL;
  if (r->conn->role != SN_ROLE_WS_CMD)
    return sn_req_fail(r, SN_EBADREQ, "claim needs a websocket on /m/cmd (the claim lasts as long as it)");
  if (kind == NULL)
    return sn_req_fail(r, SN_EBADREQ, "field 'kind' is required");
  if (p == NULL)
    return sn_req_fail(r, SN_EUNAVAIL, "no pool for this kind (config kinds)");
  if (sn__claims_of(n, r->conn, p) + sn__pending_of(p, r->conn) >= p->max_claims)
    return sn_req_fail(r, SN_EUNAVAIL, "max_claims_per_client reached");
  if (sn_list_count(&p->claims) >= SN_POOL_MAX_PENDING)
    return sn_req_fail(r, SN_EUNAVAIL, "too many claims wait for this kind");
  sn_list_push(&p->claims, &r->link);
  if (!sn__grant(n, p))
    sn__adjust(n, p); /* spawn one if the pool allows; granted when it connects */
}

static void sn__unclaim(sn_task *t) {
  sn_pool *p = t->pool;
  t->claimed_by = NULL;
  sn_log(SN_LOG_INFO, t->conf.task_id, "released");
  if (p && p->claim_recycle)
    sn_task_stop(t, NULL, SN_REQ_RESTART); /* a fresh process for the next client */
  else
    sn_jobs_pump(t->node);
}

void sn_pool_cmd_release(sn_node *n, json_t *req, sn_req *r) {
  const char *id = json_string_value(json_object_get(req, "task_id"));
  sn_task *t = id ? sn_node_find(n, id) : NULL;
  if (t == NULL)
    return sn_req_fail(r, SN_ENOTFOUND, "no such task");
  if (t->claimed_by != r->conn)
    return sn_req_fail(r, SN_ECONFLICT, "this connection does not hold that task");
  sn__unclaim(t);
  sn_req_ok(r, NULL);
}

void sn_pools_conn_closed(sn_conn *c) {
  sn_list *pos, *tmp, *cp, *ct;
  sn_list_foreach(pos, tmp, &c->node->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->claimed_by == c)
      sn__unclaim(t);
  }
  /* Its claims still waiting end with it (they held a reference to it). */
  sn_list_foreach(pos, tmp, &c->node->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    sn_list_foreach(cp, ct, &p->claims) {
      sn_req *r = sn_list_entry(cp, sn_req, link);
      if (r->conn == c)
        sn_req_fail(r, SN_EUNAVAIL, "the client went away");
    }
  }
}
