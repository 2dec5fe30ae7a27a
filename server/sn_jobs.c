/* Jobs: submitted by `job`, dispatched to workers that accept them (by kind,
 * free workers first, longest idle first, or to one task), timed out,
 * failed over once when a worker dies mid-job, answered to waiters, streamed
 * to a websocket client with `stream`. The table keeps ended jobs for
 * job_status, up to jobs_keep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_jscan.h"
#include "sn_hero.h"
#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

static int sn__count_cb(const char *buf, size_t size, void *data) {
  (void)buf;
  *(size_t *)data += size;
  return 0;
}

static const char *const sn__jstatus[] = {"created", "queued", "dispatched", "started", "finished", "error", "timeout"};

void sn_jobs_init(sn_node *n) {
  sn_list_init(&n->jobs);
  sn_list_init(&n->jobq);
  sn_map_init(&n->jobs_by_id);
  n->jobs_done_by_kind = json_object();
}

json_t *sn_job_to_json(const sn_job *j) {
  json_t *o = json_pack("{s:s, s:s?, s:s?, s:s, s:O, s:O?, s:s?, s:I, s:I, s:I, s:s?, s:s?}", "job_id", j->id, "kind",
                   j->kind[0] ? j->kind : NULL, "task_id", j->ran_on[0] ? j->ran_on : (j->want_task[0] ? j->want_task : NULL),
                   "status", sn__jstatus[j->status], "payload", j->payload, "output", j->output, "error", j->error,
                   "timeout_ms", (json_int_t)j->timeout_ms, "created_at_ms", (json_int_t)j->created_ms, "updated_at_ms",
                   (json_int_t)j->updated_ms, "caller_id", j->caller_id, "context_id", j->context_id);
  if (o && j->partials_dropped)
    json_object_set_new(o, "partials_dropped", json_integer((json_int_t)j->partials_dropped));
  return o;
}

static int sn__ended(const sn_job *j) { return j->status >= SN_J_FINISHED; }

/* Bytes of a value as compact JSON, without building the text. */
static size_t sn__json_size(const json_t *v) {
  size_t n = 0;
  json_dump_callback(v, sn__count_cb, &n, JSON_COMPACT | JSON_ENCODE_ANY);
  return n;
}

static void sn__timer_closed(uv_handle_t *h) {
  sn_job *j = h->data;
  json_decref(j->payload);
  json_decref(j->output);
  free(j->error);
  free(j->caller_id);
  free(j->context_id);
  free(j);
}

/* Forgets an ended job (retention, or shutdown). */
static void sn__release(sn_job *j) {
  sn_node *n = j->node;
  sn_list_remove(&j->link);
  sn_map_del(&n->jobs_by_id, j->id);
  n->njobs--;
  if (sn__ended(j)) {
    n->njobs_done_kept--;
    n->jobs_done_bytes -= j->bytes;
  }
  uv_close((uv_handle_t *)&j->timer, sn__timer_closed);
}

static void sn__evict(sn_node *n) {
  sn_list *pos, *tmp;
  if (n->jobs_closing)
    return; /* sn_jobs_close releases everything itself */
  sn_list_foreach(pos, tmp, &n->jobs) {
    /* Ended jobs are kept for job_status, oldest first out, by count and by
     * the bytes of their payload and output. */
    if (n->njobs_done_kept <= n->cfg->jobs_keep && n->jobs_done_bytes <= n->cfg->jobs_keep_bytes)
      return;
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (sn__ended(j))
      sn__release(j);
  }
}

static void sn__set(sn_job *j, int status) {
  j->status = status;
  j->updated_ms = sn_now_ms();
  if (status != SN_J_FINISHED && status != SN_J_ERROR && status != SN_J_TIMEOUT)
    sn_mirror_job(j->node->mirror, j); /* ends are written by sn__end, with the output */
}

/* The job is over: answer waiters, free its worker, count it. */
static void sn__end(sn_job *j, int status, json_t *output, const char *error) {
  sn_node *n = j->node;
  sn_task *t = j->task;
  sn_list *pos, *tmp;
  uv_timer_stop(&j->timer);
  sn_list_remove(&j->qlink);
  sn__set(j, status);
  j->output = output;
  j->error = error ? sn_strdup(error) : NULL;
  n->jobs_ended[status == SN_J_FINISHED ? 0 : status == SN_J_ERROR ? 1 : 2]++;
  sn_histo_observe(&n->job_seconds, (double)(j->updated_ms - j->created_ms) / 1000.0);
  if (t) {
    t->nrunning--; /* j->qlink left t->running above */
    t->jobs_done++;
    t->jobs_failed += status != SN_J_FINISHED;
    t->last_activity_ms = sn_now_ms();
  }
  j->task = NULL; /* ended jobs are kept; the task may not be */
  sn_log(status == SN_J_FINISHED ? SN_LOG_DEBUG : SN_LOG_WARN, t ? t->conf.task_id : NULL, "job %s %s%s%s", j->id,
         sn__jstatus[status], error ? ": " : "", error ? error : "");
  sn_list_foreach(pos, tmp, &j->waiters) {
    sn_req *r = sn_list_entry(pos, sn_req, link);
    sn_list_remove(&r->link);
    sn_req_ok_with(r, "job", sn_job_to_json(j));
  }
  if (j->stream) {
    sn_conn_unref(j->stream);
    j->stream = NULL;
  }
  /* An end learnt from the job's hash was written by the node that ran it:
   * writing it again would overwrite its retry count and worker. */
  if (!j->end_from_redis)
    sn_mirror_job(n->mirror, j);
  if (j->remote && status == SN_J_TIMEOUT && n->mirror) {
    /* Nobody took it in time: withdraw it from the shared queue too. */
    sn_mirror_withdraw(n->mirror, j);
    j->remote = 0;
  }
  n->jobs_done_total++;
  n->njobs_done_kept++;
  if (j->output)
    j->bytes += sn__json_size(j->output);
  n->jobs_done_bytes += j->bytes;
  const char *k = j->kind[0] ? j->kind : "-";
  json_t *c = json_object_get(n->jobs_done_by_kind, k);
  json_object_set_new(n->jobs_done_by_kind, k, json_integer(c ? json_integer_value(c) + 1 : 1));
  sn__evict(n);
}

static void sn__timed_out(uv_timer_t *h) {
  sn_job *j = h->data;
  sn_task *t = j->task;
  char frame[96];
  if (t && t->worker) {
    snprintf(frame, sizeof(frame), "{\"type\":\"cancel\",\"job_id\":\"%s\"}", j->id);
    sn_conn_send(t->worker, frame, strlen(frame), 0);
  }
  sn__end(j, SN_J_TIMEOUT, NULL, "timed out");
  sn_jobs_pump(j->node);
}

/* ---- dispatch ---- */

unsigned sn_jobs_free_slots(const sn_task *t) {
  if (!t->conf.accept_tasks || t->worker == NULL || !t->worker->hello_done || t->state != SN_ST_RUNNING ||
      t->removing || t->nrunning >= t->max_jobs)
    return 0;
  return t->max_jobs - t->nrunning;
}

int sn_jobs_free_worker(const sn_task *t) { return sn_jobs_free_slots(t) > 0; }

/* Is a better pick than b (NULL = none yet): fewer jobs running, then idle longer. */
static int sn__better(const sn_task *a, const sn_task *b) {
  if (b == NULL || a->nrunning != b->nrunning)
    return b == NULL || a->nrunning < b->nrunning;
  return a->last_activity_ms < b->last_activity_ms;
}

/* The free worker for job j: its task, or of its kind the least loaded, longest idle. */
static sn_task *sn__pick(sn_node *n, const sn_job *j) {
  sn_list *pos, *tmp;
  sn_task *best = NULL;
  if (j->want_task[0]) {
    sn_task *t = sn_node_find(n, j->want_task);
    return t && sn_jobs_free_worker(t) ? t : NULL;
  }
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (sn_jobs_free_worker(t) && t->claimed_by == NULL && strcmp(t->conf.kind, j->kind) == 0 && sn__better(t, best))
      best = t;
  }
  return best;
}

static void sn__dispatch(sn_job *j, sn_task *t) {
  json_t *f = json_pack("{s:s, s:s, s:O, s:I}", "type", "job", "job_id", j->id, "payload", j->payload, "timeout_ms",
                        (json_int_t)j->timeout_ms);
  sn_list_remove(&j->qlink);
  sn_list_push(&t->running, &j->qlink);
  t->nrunning++;
  j->task = t;
  snprintf(j->ran_on, sizeof(j->ran_on), "%s", t->conf.task_id);
  t->last_activity_ms = sn_now_ms();
  sn__set(j, SN_J_DISPATCHED);
  sn_conn_send_json(t->worker, f);
  sn_log(SN_LOG_DEBUG, t->conf.task_id, "job %s dispatched", j->id);
}

/* Free slots of every worker here, whatever its kind. */
static size_t sn__free_slots_all(sn_node *n) {
  sn_list *pos, *tmp;
  size_t slots = 0;
  sn_list_foreach(pos, tmp, &n->tasks) {
    slots += sn_jobs_free_slots(sn_list_entry(pos, sn_task, link));
  }
  return slots;
}

void sn_jobs_pump(sn_node *n) {
  sn_list *pos, *tmp;
  size_t slots;
  sn_pools_grant(n); /* pending claims come first */
  /* Queued jobs are looked at only while some worker has room: with jobs
   * waiting and all workers busy (the usual state under load) a pump after
   * each job would otherwise cost queued jobs x tasks. */
  slots = sn_list_empty(&n->jobq) ? 0 : sn__free_slots_all(n);
  sn_list_foreach(pos, tmp, &n->jobq) {
    if (slots == 0)
      break;
    sn_job *j = sn_list_entry(pos, sn_job, qlink);
    sn_task *t = sn__pick(n, j);
    if (t) {
      sn__dispatch(j, t);
      slots--;
    }
  }
  sn_mirror_poke(n->mirror); /* free workers take from the shared queues too */
}

/* True when some task (whatever its state) could ever run jobs of this kind. */
static int sn__servable(sn_node *n, const char *kind) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->conf.accept_tasks && strcmp(t->conf.kind, kind) == 0 && !t->removing)
      return 1;
  }
  return sn_pool_find(n, kind) != NULL;
}

/* Starts a created job: its timeout runs from now, then it queues or runs. */
static int sn__start(sn_job *j, sn_error *err) {
  sn_node *n = j->node;
  if (j->want_task[0] == '\0' && sn_mirror_up(n->mirror)) {
    /* Through Redis, so that whichever node has a free worker runs it. */
    j->remote = 1;
    j->status = SN_J_QUEUED;
    j->updated_ms = sn_now_ms();
    if (j->timeout_ms)
      uv_timer_start(&j->timer, sn__timed_out, j->timeout_ms, 0);
    if (sn_mirror_enqueue(n->mirror, j) != 0)
      return sn_seterr(err, SN_EUNAVAIL, "redis is not reachable");
    return 0;
  }
  sn__set(j, SN_J_QUEUED);
  sn_list_push(&n->jobq, &j->qlink);
  if (j->timeout_ms)
    uv_timer_start(&j->timer, sn__timed_out, j->timeout_ms, 0);
  sn_jobs_pump(n);
  return 0;
}

static const char *sn__opt_str(json_t *req, const char *k, sn_error *err) {
  json_t *v = json_object_get(req, k);
  if (v && !json_is_string(v))
    sn_seterr(err, SN_EBADREQ, "field '%s' must be a string", k);
  return json_string_value(v);
}

/* Validates a job command into a new job (not yet started). */
static sn_job *sn__new(sn_node *n, json_t *req, sn_error *err) {
  const char *kind = sn__opt_str(req, "kind", err), *task = sn__opt_str(req, "task_id", err);
  const char *caller = sn__opt_str(req, "caller_id", err), *ctx = sn__opt_str(req, "context_id", err);
  json_t *to = json_object_get(req, "timeout_ms"), *retries = json_object_get(req, "retries");
  sn_task *t = NULL;
  sn_job *j;
  if (err->code)
    return NULL;
  if (!kind && !task)
    return sn_seterr(err, SN_EBADREQ, "field 'kind' or 'task_id' is required"), NULL;
  if (kind && !sn_valid_kind(kind))
    return sn_seterr(err, SN_EBADREQ, "field 'kind' must be 1..128 characters of [A-Za-z0-9_-]"), NULL;
  if (to && (!json_is_integer(to) || json_integer_value(to) < 0))
    return sn_seterr(err, SN_EBADREQ, "field 'timeout_ms' must be a non-negative integer"), NULL;
  if (retries && (!json_is_integer(retries) || json_integer_value(retries) < 0 || json_integer_value(retries) > 10))
    return sn_seterr(err, SN_EBADREQ, "field 'retries' must be 0..10"), NULL;
  if (json_object_get(req, "payload") == NULL)
    return sn_seterr(err, SN_EBADREQ, "field 'payload' is required"), NULL;
  if (task) {
    if ((t = sn_node_find(n, task)) == NULL)
      return sn_seterr(err, SN_ENOTFOUND, "no task '%.128s'", task), NULL;
    if (!t->conf.accept_tasks)
      return sn_seterr(err, SN_EBADREQ, "field 'task_id': task %s does not accept jobs", task), NULL;
  } else if (!sn__servable(n, kind) && !sn_mirror_up(n->mirror)) {
    return sn_seterr(err, SN_EUNAVAIL, n->mirror ? "no worker of kind '%s' here, and redis is down" : "no worker of kind '%s' can take jobs here", kind), NULL;
  }
  j = sn_calloc(1, sizeof(*j));
  j->node = n;
  snprintf(j->id, sizeof(j->id), "j-");
  sn_random_hex(j->id + 2, 12);
  snprintf(j->kind, sizeof(j->kind), "%s", kind ? kind : t->conf.kind);
  if (task)
    snprintf(j->want_task, sizeof(j->want_task), "%s", task);
  j->payload = json_deep_copy(json_object_get(req, "payload"));
  j->bytes = sn__json_size(j->payload);
  j->caller_id = caller ? sn_strdup(caller) : NULL;
  j->context_id = ctx ? sn_strdup(ctx) : NULL;
  j->timeout_ms = to ? (uint64_t)json_integer_value(to) : 30000;
  j->retries_left = retries ? (int)json_integer_value(retries) : 1;
  j->created_ms = j->updated_ms = sn_now_ms();
  j->status = SN_J_CREATED;
  sn_list_init(&j->qlink);
  sn_list_init(&j->waiters);
  uv_timer_init(n->loop, &j->timer);
  j->timer.data = j;
  sn_list_push(&n->jobs, &j->link);
  sn_map_put(&n->jobs_by_id, j->id, j);
  n->njobs++;
  return j;
}

void sn_jobs_cmd_job(sn_node *n, json_t *req, sn_req *r) {
  sn_error err = {0};
  json_t *start = json_object_get(req, "start");
  int wait = json_is_true(json_object_get(req, "wait")), stream = json_is_true(json_object_get(req, "stream"));
  sn_job *j;
  const char *tid = json_string_value(json_object_get(req, "task_id"));
  sn_task *t = tid ? sn_node_find(n, tid) : NULL;
  if (stream && r->conn->role != SN_ROLE_WS_CMD)
    return sn_req_fail(r, SN_EBADREQ, "field 'stream' needs a websocket on /m/cmd");
  if (t && t->claimed_by && t->claimed_by != r->conn) /* claims are exclusive, as for send */
    return sn_req_fail(r, SN_ECONFLICT, "the task is claimed by another client");
  /* Every job a client hands us that has not ended counts, whatever it waits
   * for: created and not started, queued here or in Redis, running. */
  if (n->njobs - n->njobs_done_kept >= n->cfg->max_queued_jobs)
    return sn_req_fail(r, SN_EUNAVAIL, "max_queued_jobs reached: too many jobs have not ended yet");
  if (sn_mirror_saturated(n->mirror))
    return sn_req_fail(r, SN_EUNAVAIL, "redis is not keeping up with the job writes: try again later");
  if ((j = sn__new(n, req, &err)) == NULL)
    return sn_req_fail(r, err.code, err.msg);
  if (stream) {
    j->stream = r->conn;
    sn_conn_ref(r->conn);
  }
  if (j->want_task[0] == '\0') {
    /* A client holding a worker of this kind sends its jobs to it. */
    sn_task *mine = sn_pool_claimed(n, r->conn, j->kind);
    if (mine)
      snprintf(j->want_task, sizeof(j->want_task), "%s", mine->conf.task_id);
  }
  if (!json_is_false(start) && sn__start(j, &err) != 0) {
    sn__end(j, SN_J_ERROR, NULL, err.msg);
    return sn_req_fail(r, err.code, err.msg);
  }
  sn_pools_adjust(n); /* a queued job may need another instance */
  if (wait && !sn__ended(j)) {
    sn_list_push(&j->waiters, &r->link);
    sn_req_hold(r);
    return;
  }
  sn_req_ok_with(r, "job", sn_job_to_json(j));
}

static sn_job *sn__find(sn_node *n, json_t *req, sn_req *r) {
  json_t *id = json_object_get(req, "job_id");
  sn_job *j;
  if (!json_is_string(id)) {
    sn_req_fail(r, SN_EBADREQ, "field 'job_id' is required");
    return NULL;
  }
  if ((j = sn_map_get(&n->jobs_by_id, json_string_value(id))) == NULL)
    sn_req_fail(r, SN_ENOTFOUND, "no such job");
  return j;
}

void sn_jobs_cmd_start(sn_node *n, json_t *req, sn_req *r) {
  sn_job *j = sn__find(n, req, r);
  sn_task *t;
  sn_error err = {0};
  if (j == NULL)
    return;
  if (j->status != SN_J_CREATED)
    return sn_req_fail(r, SN_ECONFLICT, "the job was started already");
  if (j->want_task[0] && (t = sn_node_find(n, j->want_task)) && t->claimed_by && t->claimed_by != r->conn)
    return sn_req_fail(r, SN_ECONFLICT, "the task is claimed by another client");
  if (sn__start(j, &err) != 0)
    return sn_req_fail(r, err.code, err.msg);
  sn_req_ok_with(r, "job", sn_job_to_json(j));
}

void sn_jobs_cmd_status(sn_node *n, json_t *req, sn_req *r) {
  sn_job *j = sn__find(n, req, r);
  if (j)
    sn_req_ok_with(r, "job", sn_job_to_json(j));
}

/* ---- frames from workers ---- */

/* A job error counts against the worker's budget: err_kill errors within
 * err_recent_ms restart it with reason `errors`. */
static void sn__count_error(sn_task *t) {
  uint64_t now = sn_now_ms();
  size_t recent = 0, cap = sizeof(t->err_times) / sizeof(t->err_times[0]);
  t->err_times[t->err_n++ % cap] = now;
  for (size_t i = 0; i < cap && i < t->err_n; i++)
    if (now - t->err_times[i] < t->conf.err_recent_ms)
      recent++;
  if (t->conf.err_kill && recent >= t->conf.err_kill) {
    t->err_n = 0;
    sn_task_fault(t, SN_RS_ERRORS);
  }
}

static void sn__result(sn_task *t, sn_job *j, const sn_wmsg *m) {
  if (m->ok) {
    sn__end(j, SN_J_FINISHED, m->output ? json_incref(m->output) : json_null(), NULL);
  } else {
    sn__end(j, SN_J_ERROR, NULL, m->error ? m->error : "the worker reported an error");
    sn__count_error(t);
  }
  sn_jobs_pump(t->node);
}

/* A client that asked for partials and stops reading must not make the node
 * buffer them without end: past this much queued output they are dropped
 * (and counted in the final reply, which is never dropped). */
#define SN_STREAM_MAX_QUEUED (1u << 20)

static void sn__partial(sn_job *j, const char *msg, size_t len) {
  if (j->status == SN_J_DISPATCHED)
    sn__set(j, SN_J_STARTED);
  if (j->stream == NULL || j->stream->wsi == NULL)
    return;
  if (j->stream->outq_bytes > SN_STREAM_MAX_QUEUED) {
    if (j->partials_dropped++ == 0)
      sn_log(SN_LOG_WARN, j->ran_on, "job %s: the streaming client is not reading: partials dropped", j->id);
    return;
  }
  /* The worker's frame already has the shape the client gets: pass it on as is. */
  sn_conn_send(j->stream, msg, len, 0);
}

void sn_jobs_frame(sn_task *t, const char *msg, size_t len, const sn_wmsg *m) {
  const char *id = m->job_id;
  int is_result = m->type == SN_WM_RESULT;
  sn_job *j = id ? sn_map_get(&t->node->jobs_by_id, id) : NULL;
  if (j == NULL || j->task != t || sn__ended(j)) {
    sn_log(SN_LOG_INFO, t->conf.task_id, "dropped a %s for job %s that is not running here (late or unknown)",
           is_result ? "result" : "partial", id ? id : "?");
  } else if (is_result) {
    sn__result(t, j, m);
  } else {
    sn__partial(j, msg, len);
  }
}

/* Can a worker here ever take a job of this kind (besides `except`, which
 * is going away)? A task that accepts jobs and is not stopped, or a pool. */
static int sn__kind_served(sn_node *n, const char *kind, const sn_task *except) {
  sn_list *pos, *tmp;
  if (sn_pool_find(n, kind))
    return 1;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t != except && !t->removing && t->conf.accept_tasks && strcmp(t->conf.kind, kind) == 0 &&
        t->state != SN_ST_STOPPED && t->state != SN_ST_FAILED && t->state != SN_ST_STOPPING)
      return 1;
  }
  return 0;
}

/* The last worker of a kind went: jobs of that kind taken from a shared
 * queue and waiting here go back to it, for another node to run. */
static void sn__give_back_kind(sn_node *n, const char *kind) {
  sn_list *pos, *tmp;
  if (n->mirror == NULL || !sn_mirror_up(n->mirror))
    return;
  sn_list_foreach(pos, tmp, &n->jobq) {
    sn_job *j = sn_list_entry(pos, sn_job, qlink);
    if (!j->from_queue || j->want_task[0] || strcmp(j->kind, kind) != 0)
      continue;
    sn_log(SN_LOG_INFO, NULL, "job %s goes back to its queue: no worker of kind %s here any more", j->id, kind);
    sn_list_remove(&j->qlink);
    sn_mirror_giveback(n->mirror, j, 0);
    j->remote = 1; /* whoever waits here now waits for the node that takes it */
    if (sn_list_empty(&j->waiters) && j->stream == NULL)
      sn__release(j);
  }
}

void sn_jobs_task_gone(sn_task *t) {
  sn_list *pos, *tmp;
  sn_jobs_worker_gone(t); /* a job it still runs fails over or ends */
  sn_list_foreach(pos, tmp, &t->node->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (j->task == t)
      j->task = NULL;
  }
  if (t->conf.kind[0] && !sn__kind_served(t->node, t->conf.kind, t))
    sn__give_back_kind(t->node, t->conf.kind);
}

/* One job of a worker that went: queued again first in line (it was
 * dispatched before everything still queued), or ended. */
static void sn__orphaned(sn_task *t, sn_job *j) {
  if (j->retries_left > 0) {
    sn_list_remove(&j->qlink);
    t->nrunning--;
    j->task = NULL;
    j->retries_left--;
    sn_log(SN_LOG_WARN, t->conf.task_id, "worker gone mid-job %s: dispatching it again", j->id);
    sn__set(j, SN_J_QUEUED);
    sn_list_push_front(&t->node->jobq, &j->qlink);
    return;
  }
  sn__end(j, SN_J_ERROR, NULL, "the worker went away during the job");
}

void sn_jobs_worker_gone(sn_task *t) {
  if (t->nrunning == 0)
    return;
  /* Newest first, each pushed to the front: the oldest ends up first in line. */
  while (!sn_list_empty(&t->running))
    sn__orphaned(t, sn_list_entry(t->running.prev, sn_job, qlink));
  sn_jobs_pump(t->node);
}

void sn_jobs_conn_closed(sn_conn *c) {
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &c->node->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (j->stream == c) {
      j->stream = NULL;
      sn_conn_unref(c);
    }
  }
}

json_t *sn_jobs_stat(sn_node *n) {
  sn_list *pos, *tmp;
  json_t *kinds = json_object();
  json_int_t queued = 0, running = 0;
  const char *k;
  json_t *v;
  sn_list_foreach(pos, tmp, &n->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    int q = j->status == SN_J_QUEUED, r = j->status == SN_J_DISPATCHED || j->status == SN_J_STARTED;
    if (!q && !r)
      continue;
    const char *kk = j->kind[0] ? j->kind : "-";
    json_t *e = json_object_get(kinds, kk);
    if (e == NULL)
      json_object_set_new(kinds, kk, e = json_pack("{s:i, s:i, s:i}", "queued", 0, "running", 0, "done", 0));
    json_object_set_new(e, q ? "queued" : "running", json_integer(json_integer_value(json_object_get(e, q ? "queued" : "running")) + 1));
    queued += q;
    running += r;
  }
  json_object_foreach(n->jobs_done_by_kind, k, v) {
    json_t *e = json_object_get(kinds, k);
    if (e == NULL)
      json_object_set_new(kinds, k, e = json_pack("{s:i, s:i, s:i}", "queued", 0, "running", 0, "done", 0));
    json_object_set(e, "done", v);
  }
  sn_list_foreach(pos, tmp, &n->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    json_t *e = json_object_get(kinds, p->kind);
    if (e == NULL)
      json_object_set_new(kinds, p->kind, e = json_pack("{s:i, s:i, s:i}", "queued", 0, "running", 0, "done", 0));
    json_object_set_new(e, "claims_waiting", json_integer((json_int_t)sn_list_count(&p->claims)));
  }
  return json_pack("{s:I, s:I, s:I, s:o}", "queued", queued, "running", running, "done", (json_int_t)n->jobs_done_total,
                   "kinds", kinds);
}

void sn_jobs_close(sn_node *n) {
  sn_list *pos, *tmp;
  n->jobs_closing = 1;
  sn_list_foreach(pos, tmp, &n->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (!sn__ended(j) && j->from_queue && sn_list_empty(&j->waiters) && sn_mirror_up(n->mirror)) {
      /* Taken from a shared queue for someone else: another node runs it. */
      sn_log(SN_LOG_INFO, j->ran_on[0] ? j->ran_on : NULL, "job %s goes back to its queue (node shutdown)", j->id);
      sn_mirror_giveback(n->mirror, j, 0);
      continue;
    }
    if (!sn__ended(j))
      sn__end(j, SN_J_ERROR, NULL, "the node shut down");
  }
  sn_list_foreach(pos, tmp, &n->jobs) sn__release(sn_list_entry(pos, sn_job, link));
  sn_map_free(&n->jobs_by_id);
  json_decref(n->jobs_done_by_kind);
  n->jobs_done_by_kind = NULL;
}

/* ---- jobs through Redis ---- */

int sn_jobs_waits_remote(sn_node *n, const char *id) {
  sn_job *j = sn_map_get(&n->jobs_by_id, id);
  return j && j->remote && !sn__ended(j);
}

static const char *sn__h(json_t *h, const char *k) {
  const char *s = json_string_value(json_object_get(h, k));
  return s && s[0] ? s : NULL;
}

static int sn__parse_status(const char *s) {
  for (int i = 0; s && i <= SN_J_TIMEOUT; i++)
    if (strcmp(s, sn__jstatus[i]) == 0)
      return i;
  if (s && strcmp(s, "finished") == 0)
    return SN_J_FINISHED;
  return s && strcmp(s, "error") == 0 ? SN_J_ERROR : -1;
}

/* A job we wait for ended on another node: end our record the same way. */
static void sn__remote_end(sn_job *j, json_t *h) {
  int st = sn__parse_status(sn__h(h, "sn_status"));
  const char *out = sn__h(h, "output");
  if (st < SN_J_FINISHED)
    st = sn__parse_status(sn__h(h, "status"));
  if (st < SN_J_FINISHED)
    return;
  j->remote = 0;
  j->end_from_redis = 1;
  sn__end(j, st, out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL, sn__h(h, "error"));
}

/* Builds a local job from a hash written by any Hero-style producer. */
static sn_job *sn__from_hash(sn_node *n, json_t *h) {
  sn_error err = {0};
  json_t *req = sn_hero_job_req(h, &err);
  sn_job *j;
  if (req == NULL) {
    sn_log(SN_LOG_WARN, NULL, "ignored a job from redis: %s", err.msg);
    return NULL;
  }
  j = sn__new(n, req, &err);
  json_decref(req);
  if (j == NULL) {
    sn_log(SN_LOG_WARN, NULL, "ignored job %s from redis: %s", sn__h(h, "id"), err.msg);
    return NULL;
  }
  sn_map_del(&n->jobs_by_id, j->id);
  snprintf(j->id, sizeof(j->id), "%s", sn__h(h, "id")); /* keep the producer's id */
  sn_map_put(&n->jobs_by_id, j->id, j);
  return j;
}

int sn_jobs_from_redis(sn_node *n, json_t *h, int adopt) {
  const char *id = sn__h(h, "id"), *st = sn__h(h, "sn_status");
  sn_job *j = id ? sn_map_get(&n->jobs_by_id, id) : NULL;
  if (!adopt) {
    if (j && j->remote && !sn__ended(j))
      sn__remote_end(j, h);
    return 0;
  }
  if (j && sn__ended(j)) {
    /* It ended here already, yet its id was queued again: the end we wrote
     * was lost (Redis restarted empty, and the submitter, finding no hash,
     * queued the job again). Write the end again rather than drop the id: the
     * first end written wins, and the script takes the id out of our list.
     * Dropping it left the job "queued" in no list, its waiter waiting. */
    sn_log(SN_LOG_WARN, NULL, "job %s ended here already and was queued again: its end is written again", j->id);
    j->from_queue = 1;
    sn_mirror_job(n->mirror, j);
    return 0;
  }
  if (j && j->from_queue)
    return 0; /* taken twice (requeued while we held it): it runs here once */
  if (st && sn__parse_status(st) >= SN_J_FINISHED)
    return -1; /* it ended elsewhere: a stale id */
  if (!sn__kind_served(n, sn__h(h, "script_type") ? sn__h(h, "script_type") : "", NULL))
    return 1; /* its workers went meanwhile: give it back */
  if (j == NULL && (j = sn__from_hash(n, h)) == NULL)
    return -1;
  if (sn__h(h, "sn_retries")) /* requeued from a dead node: the count lives in the hash */
    j->retries_left = atoi(sn__h(h, "sn_retries")) > 10 ? 10 : atoi(sn__h(h, "sn_retries"));
  /* Ours to run now: into the local queue, first in line. */
  j->remote = 0;
  j->from_queue = 1;
  if (j->status == SN_J_CREATED && j->timeout_ms)
    uv_timer_start(&j->timer, sn__timed_out, j->timeout_ms, 0);
  sn_list_remove(&j->qlink);
  j->status = SN_J_QUEUED;
  sn_list_push_front(&n->jobq, &j->qlink);
  sn_jobs_pump(n);
  return 0;
}
