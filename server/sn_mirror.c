#include "sn_mirror_int.h"
#include "sn_resp.h"
#include "sn_ruv.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_hero.h"
#include "sn_log.h"
#include "sn_node.h"
#include "sn_util.h"

static const char *sn__status_hero(int st) {
  switch (st) {
  case SN_J_STARTED:
    return "started";
  case SN_J_FINISHED:
    return "finished";
  case SN_J_ERROR:
  case SN_J_TIMEOUT:
    return "error";
  default:
    return "dispatched";
  }
}

static const char *const sn__jstatus[] = {"created", "queued", "dispatched", "started", "finished", "error", "timeout"};

/* ---- sending ---- */

void sn_mirror_got_reply(sn_mirror *m) {
  if (m->inflight > 0)
    m->inflight--;
  m->last_reply_ms = sn_now_ms();
}

/* priv: the bytes the write held, so that the pipeline is bounded in bytes. */
void sn_mirror_done_cb(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  size_t bytes = (size_t)(uintptr_t)priv;
  (void)r;
  sn_mirror_got_reply(m);
  m->pending_bytes = m->pending_bytes > bytes ? m->pending_bytes - bytes : 0;
}

int sn_mirror_saturated(const sn_mirror *m) { return m && m->pending_bytes > SN_MIRROR_INTAKE_BYTES; }

int sn_mirror_send(sn_mirror *m, redisAsyncContext *ac, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                   const size_t *lens) {
  int rc;
  sn_resp_command(&m->fmt, argc, argv, lens);
  /* NUL-terminated, as hiredis's own commands are: it looks one byte past a
   * one-word command for another argument. */
  rc = redisAsyncFormattedCommand(ac, cb, priv, sn_buf_cstr(&m->fmt), m->fmt.len);
  sn_buf_reset(&m->fmt);
  sn_buf_shrink(&m->fmt, 65536); /* a job's large payload does not stay allocated */
  return rc;
}

/* One command on the command connection. droppable: a task-state or data
 * write that may be skipped when the pipeline is full (job writes never
 * are: past SN_MIRROR_INTAKE_BYTES new jobs are refused instead). */
int sn_mirror_cmd(sn_mirror *m, int droppable, int argc, const char **argv, const size_t *lens) {
  redisAsyncContext *ac = m->rc[SN_RC_CMD].ac;
  size_t bytes = 16 * (size_t)argc;
  if (ac == NULL || !m->rc[SN_RC_CMD].up)
    return -1;
  for (int i = 0; i < argc; i++)
    bytes += lens[i];
  if (droppable && (m->inflight >= SN_MIRROR_MAX_INFLIGHT || m->pending_bytes + bytes > SN_MIRROR_DROP_BYTES)) {
    m->dropped++;
    return -1;
  }
  if (m->inflight == 0)
    m->last_reply_ms = sn_now_ms(); /* the reply deadline runs from the first write waiting */
  if (sn_mirror_send(m, ac, sn_mirror_done_cb, (void *)(uintptr_t)bytes, argc, argv, lens) != REDIS_OK)
    return -1;
  m->inflight++;
  m->pending_bytes += bytes;
  return 0;
}

/* Builds argv from a NULL-terminated list of strings. */
int sn_mirror_cmdv(sn_mirror *m, int droppable, const char *first, ...) {
  const char *argv[64];
  size_t lens[64];
  int argc = 0;
  va_list ap;
  va_start(ap, first);
  for (const char *s = first; s && argc < 64; s = va_arg(ap, const char *)) {
    argv[argc] = s;
    lens[argc++] = strlen(s);
  }
  va_end(ap);
  return sn_mirror_cmd(m, droppable, argc, argv, lens);
}

/* ---- task state ---- */

void sn_mirror_task(sn_mirror *m, sn_task *t) {
  char key[400], set[300], pid[24], restarts[24], runs[24], qlen[24], dropped[24], in[24], out[24];
  if (m == NULL || !sn_mirror_up(m))
    return;
  snprintf(key, sizeof(key), "supernode:%s:task:%s", m->n->node_id, t->conf.task_id);
  snprintf(set, sizeof(set), "supernode:%s:tasks", m->n->node_id);
  snprintf(pid, sizeof(pid), "%d", t->pid);
  snprintf(restarts, sizeof(restarts), "%llu", (unsigned long long)t->restarts);
  snprintf(runs, sizeof(runs), "%llu", (unsigned long long)t->runs);
  snprintf(qlen, sizeof(qlen), "%zu", t->queue.len);
  snprintf(dropped, sizeof(dropped), "%llu", (unsigned long long)t->queue.dropped);
  snprintf(in, sizeof(in), "%llu", (unsigned long long)t->msgs_in);
  snprintf(out, sizeof(out), "%llu", (unsigned long long)t->msgs_out);
  sn_mirror_cmdv(m, 1, "HSET", key, "task_id", t->conf.task_id, "mode", t->conf.mode == SN_MODE_NET ? "net" : "exec", "kind",
           t->conf.kind, "state", sn_state_name(t->state), "pid", t->pid ? pid : "", "restarts", restarts, "runs", runs,
           "connected", t->worker ? "1" : "0", "busy", t->nrunning ? "1" : "0", "queue_len", qlen, "dropped", dropped,
           "msgs_in", in, "msgs_out", out, NULL);
  sn_mirror_cmdv(m, 1, "SADD", set, t->conf.task_id, NULL);
}

void sn_mirror_task_gone(sn_mirror *m, sn_task *t) {
  char key[400], set[300];
  if (m == NULL || !sn_mirror_up(m))
    return;
  snprintf(key, sizeof(key), "supernode:%s:task:%s", m->n->node_id, t->conf.task_id);
  snprintf(set, sizeof(set), "supernode:%s:tasks", m->n->node_id);
  sn_mirror_cmdv(m, 0, "DEL", key, NULL);
  sn_mirror_cmdv(m, 0, "SREM", set, t->conf.task_id, NULL);
}

/* ---- data mirror (mirror_data) ---- */

void sn_mirror_item(sn_mirror *m, sn_task *t, const void *data, size_t len, int bin, uint64_t seq, uint64_t ts_ms) {
  char key[400], maxlen[24], seqs[24], ts[24], size[24];
  const char *argv[16];
  size_t lens[16];
  sn_buf b64;
  int argc = 0;
  if (m == NULL || !m->n->cfg->mirror_data || !sn_mirror_up(m))
    return;
  snprintf(key, sizeof(key), "supernode:%s:data:%s", m->n->node_id, t->conf.task_id);
  snprintf(maxlen, sizeof(maxlen), "%llu", (unsigned long long)t->conf.queue_len);
  snprintf(seqs, sizeof(seqs), "%llu", (unsigned long long)seq);
  snprintf(ts, sizeof(ts), "%llu", (unsigned long long)ts_ms);
  snprintf(size, sizeof(size), "%zu", len);
  sn_buf_init(&b64, 0);
  if (bin) /* Redis is a JSON-only place for us: binary items travel as base64 */
    sn_buf_base64(&b64, data, len);
#define SN__ARG(s, l) (argv[argc] = (s), lens[argc++] = (l))
  SN__ARG("XADD", 4);
  SN__ARG(key, strlen(key));
  SN__ARG("MAXLEN", 6);
  SN__ARG("~", 1);
  SN__ARG(maxlen, strlen(maxlen));
  SN__ARG("*", 1);
  SN__ARG("seq", 3);
  SN__ARG(seqs, strlen(seqs));
  SN__ARG("ts_ms", 5);
  SN__ARG(ts, strlen(ts));
  SN__ARG("data", 4);
  if (bin) {
    SN__ARG(sn_buf_data(&b64), b64.len);
    SN__ARG("bin", 3);
    SN__ARG("1", 1);
    SN__ARG("size", 4);
    SN__ARG(size, strlen(size));
  } else {
    SN__ARG(data, len);
  }
#undef SN__ARG
  sn_mirror_cmd(m, 1, argc, argv, lens); /* droppable: the queue keeps the data anyway */
  sn_buf_free(&b64);
}

/* ---- jobs ---- */

#define SN_WORKER_QUEUE_KEEP "99" /* LTRIM 0 99: the last 100 ids dispatched to a worker */
#define SN_WORKER_QUEUE_TRIM_EVERY 16 /* so a worker's list holds at most 100 + 15 ids */

static char *sn__script(const sn_job *j) {
  /* A JSON string payload stays a string; anything else is its JSON text. */
  if (json_is_string(j->payload))
    return sn_strdup(json_string_value(j->payload));
  return json_dumps(j->payload, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* The end of a job that ran here, however it came. The first end written
 * wins and the later ones stay silent, so that the submitter hears of it once:
 * a node cut off long enough to be declared dead comes back with an end for a
 * job that went back to the queue and may be running elsewhere; a node that
 * ended a job while Redis was away writes it after Redis came back empty and
 * the submitter queued the job again; a node whose end went unanswered (Redis
 * stalled past the reply deadline) writes it again on the new connection,
 * while Redis may still run the first copy from the old one. (An id still
 * queued for a job that has ended is dropped by the node that takes it: LREM
 * on a long queue here would cost Redis O(queue) per job.) KEYS: hash, our processing list, reply list.
 * ARGV: id, publish (0/1), reply, reply TTL, job TTL (0 = none), then the
 * hash's field/value pairs. */
static const char sn__lua_end[] =
    "redis.call('LREM', KEYS[2], 0, ARGV[1])\n"
    "local st = redis.call('HGET', KEYS[1], 'sn_status')\n"
    "if st == 'finished' or st == 'error' or st == 'timeout' then return 0 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 6))\n"
    "if ARGV[2] == '1' then\n"
    "  redis.call('LPUSH', KEYS[3], ARGV[3])\n"
    "  redis.call('EXPIRE', KEYS[3], ARGV[4])\n"
    "  redis.call('PUBLISH', 'supernode:job_done', ARGV[1])\n"
    "end\n"
    "if ARGV[5] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[5]) end\n"
    "return 1\n";

#define SN_JOB_FIELDS 32 /* field/value strings of a job hash, at most */

/* The hash's numbers of j: retries left, timeout, created, updated (s). */
static void sn__job_nums(const sn_job *j, char num[4][24]) {
  snprintf(num[0], 24, "%d", j->retries_left);
  snprintf(num[1], 24, "%llu", (unsigned long long)((j->timeout_ms + 999) / 1000));
  snprintf(num[2], 24, "%llu", (unsigned long long)(j->created_ms / 1000));
  snprintf(num[3], 24, "%llu", (unsigned long long)(j->updated_ms / 1000));
}

/* The hash's fields of j as strings (borrowed from the buffers given). */
static int sn__job_fields(const sn_job *j, const char **f, char num[4][24], const char *script, const char *output,
                          const char *worker) {
  int n = 0;
  sn__job_nums(j, num);
#define SN__F(k, v) (f[n++] = (k), f[n++] = (v))
  SN__F("sn_retries", num[0]);
  SN__F("id", j->id);
  SN__F("caller_id", j->caller_id ? j->caller_id : "");
  SN__F("context_id", j->context_id ? j->context_id : "");
  SN__F("script", script ? script : "");
  SN__F("script_type", j->kind);
  SN__F("status", sn__status_hero(j->status));
  SN__F("sn_status", sn__jstatus[j->status]);
  SN__F("timeout", num[1]);
  SN__F("created_at", num[2]);
  SN__F("updated_at", num[3]);
  SN__F("output", output ? output : "");
  SN__F("error", j->error ? j->error : "");
  if (worker[0])
    SN__F("worker_id", worker);
#undef SN__F
  return n;
}

static void sn__cmd_list(sn_mirror *m, const char **argv, int argc) {
  size_t lens[SN_JOB_FIELDS + 16];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  sn_mirror_cmd(m, 0, argc, argv, lens);
}

static void sn__job_end(sn_mirror *m, sn_job *j, const char *key, const char **f, int nf, const char *output,
                        const char *jttl) {
  char reply[200], ttl[24];
  const char *argv[SN_JOB_FIELDS + 16];
  int argc = 0;
  snprintf(reply, sizeof(reply), "hero:reply:%s", j->id);
  snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)m->n->cfg->reply_ttl_s);
  argv[argc++] = "EVAL";
  argv[argc++] = sn__lua_end;
  argv[argc++] = "3";
  argv[argc++] = key;
  argv[argc++] = m->processing;
  argv[argc++] = reply;
  argv[argc++] = j->id;
  argv[argc++] = j->ran_on[0] ? "1" : "0";
  argv[argc++] = output ? output : "null";
  argv[argc++] = ttl;
  argv[argc++] = jttl[0] ? jttl : "0";
  for (int i = 0; i < nf; i++)
    argv[argc++] = f[i];
  sn__cmd_list(m, argv, argc);
  j->from_queue = 0;
}

/* Dispatched or started, taken from a shared queue whose hash was just read:
 * only what changed (its end writes the whole hash again), without encoding
 * the payload once more. */
static void sn__job_progress(sn_mirror *m, const sn_job *j, const char *key, const char *worker) {
  char num[4][24];
  sn__job_nums(j, num);
  sn_mirror_cmdv(m, 0, "HSET", key, "status", sn__status_hero(j->status), "sn_status", sn__jstatus[j->status],
                 "updated_at", num[3], "sn_retries", num[0], "worker_id", worker, NULL);
}

/* The whole hash; at an end, with the reply, by the script above. */
static void sn__job_write(sn_mirror *m, sn_job *j, const char *key, const char *worker, const char *jttl) {
  char num[4][24], *script = sn__script(j), *output = NULL;
  const char *f[SN_JOB_FIELDS], *argv[SN_JOB_FIELDS + 2];
  int nf;
  if (j->output)
    output = json_dumps(j->output, JSON_COMPACT | JSON_ENCODE_ANY);
  nf = sn__job_fields(j, f, num, script, output, worker);
  if (j->status >= SN_J_FINISHED) {
    sn__job_end(m, j, key, f, nf, output, jttl);
  } else {
    argv[0] = "HSET";
    argv[1] = key;
    memcpy(argv + 2, f, (size_t)nf * sizeof(*f));
    sn__cmd_list(m, argv, nf + 2);
  }
  free(script);
  free(output);
}

void sn_mirror_job(sn_mirror *m, sn_job *j) {
  char key[200], worker[400] = "", jttl[24] = "";
  if (m == NULL || !sn_mirror_up(m))
    return;
  snprintf(key, sizeof(key), "hero:job:%s", j->id);
  if (j->ran_on[0])
    snprintf(worker, sizeof(worker), "%s:%s", m->n->node_id, j->ran_on);
  if (m->n->cfg->job_ttl_s)
    snprintf(jttl, sizeof(jttl), "%llu", (unsigned long long)m->n->cfg->job_ttl_s);
  if (j->status < SN_J_FINISHED && j->from_queue && j->ran_on[0])
    sn__job_progress(m, j, key, worker);
  else
    sn__job_write(m, j, key, worker, jttl);
  if (j->status == SN_J_DISPATCHED && j->ran_on[0]) {
    /* The worker's queue (contract) is a record nobody pops: keep its last
     * SN_WORKER_QUEUE_KEEP ids, and let an idle one expire. */
    char wq[500];
    snprintf(wq, sizeof(wq), "hero:work_queue:%s", worker);
    sn_mirror_cmdv(m, 0, "LPUSH", wq, j->id, NULL);
    if (j->task == NULL || j->task->wq_pushes++ % SN_WORKER_QUEUE_TRIM_EVERY == 0) {
      sn_mirror_cmdv(m, 0, "LTRIM", wq, "0", SN_WORKER_QUEUE_KEEP, NULL);
      if (jttl[0])
        sn_mirror_cmdv(m, 0, "EXPIRE", wq, jttl, NULL);
    }
  }
}

int sn_mirror_enqueue(sn_mirror *m, sn_job *j) {
  char wq[200];
  if (m == NULL || !sn_mirror_up(m))
    return -1;
  sn_mirror_job(m, j);
  snprintf(wq, sizeof(wq), "hero:work_queue:%s", j->kind);
  return sn_mirror_cmdv(m, 0, "LPUSH", wq, j->id, NULL);
}

void sn_mirror_withdraw(sn_mirror *m, sn_job *j) {
  char wq[200];
  if (m == NULL || !sn_mirror_up(m))
    return;
  snprintf(wq, sizeof(wq), "hero:work_queue:%s", j->kind);
  sn_mirror_cmdv(m, 0, "LREM", wq, "0", j->id, NULL);
}

/* ---- reading jobs back ---- */

/* A job hash read back: adopt it (moved to our processing list) or learn its
 * end (we wait for it). priv: the id being adopted (owned), or NULL. */
static void sn__hash(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  char *adopt_id = priv;
  json_t *h = sn_hero_hash(r);
  sn_mirror_got_reply(m);
  if (adopt_id) {
    /* No reply: the connection went; the id stays in our processing list
     * and the resync on reconnect recovers it (it is not being adopted any
     * more: left in `adopting`, it would hold a worker's place for ever). */
    if (r == NULL)
      json_object_del(m->adopting, adopt_id);
    int rc = r && json_object_size(h) > 0 ? sn_jobs_from_redis(m->n, h, 1) : -1;
    if (r && rc == 1)
      sn_rqueue_give_back_id(m, adopt_id);
    else if (r)
      sn_rqueue_adopted(m, adopt_id, rc == 0);
    free(adopt_id);
  } else if (json_object_size(h) > 0) {
    sn_jobs_from_redis(m->n, h, 0);
  }
  json_decref(h);
}

void sn_mirror_read_job(sn_mirror *m, const char *id, int adopt) {
  redisAsyncContext *ac = m->rc[SN_RC_CMD].ac;
  char *priv = adopt ? sn_strdup(id) : NULL, key[200];
  const char *argv[2] = {"HGETALL", key};
  size_t lens[2] = {7, (size_t)snprintf(key, sizeof(key), "hero:job:%s", id)};
  if (lens[1] >= sizeof(key))
    lens[1] = sizeof(key) - 1;
  if (ac && m->rc[SN_RC_CMD].up && sn_mirror_send(m, ac, sn__hash, priv, 2, argv, lens) == REDIS_OK) {
    m->inflight++;
    return;
  }
  free(priv);
  if (adopt) /* the resync after reconnecting finds it in our processing list */
    json_object_del(m->adopting, id);
}

void sn_mirror_poke(sn_mirror *m) {
  if (m)
    sn_rqueue_arm_all(m);
}

static void sn__message(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *rep = r;
  sn_mirror *m = priv;
  (void)ac;
  if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && rep->element[0]->type == REDIS_REPLY_STRING &&
      rep->element[2]->type == REDIS_REPLY_STRING && strcmp(rep->element[0]->str, "message") == 0 &&
      sn_hero_valid_id(rep->element[2]->str) && sn_jobs_waits_remote(m->n, rep->element[2]->str))
    sn_mirror_read_job(m, rep->element[2]->str, 0);
}

/* ---- connections ---- */

static void sn__maybe_free(sn_mirror *m);

static void sn__retry(uv_timer_t *t);

/* Tries this connection again after its backoff, which then doubles. */
static void sn__retry_later(sn_rconn *rc) {
  uv_timer_start(&rc->retry, sn__retry, rc->backoff_ms, 0);
  rc->backoff_ms = sn_backoff_next(rc->backoff_ms, SN_MIRROR_BACKOFF_MAX);
}

static void sn__retry(uv_timer_t *t) {
  sn_rconn *rc = t->data;
  sn_log(SN_LOG_DEBUG, NULL, "redis: reconnecting (connection %d)", rc->role);
  sn_mirror_connect(rc);
}

static void sn__lost(sn_rconn *rc, const redisAsyncContext *ac) {
  sn_mirror *m = rc->m;
  if (rc->ac != ac)
    return;
  if (m->closing) {
    rc->ac = NULL;
    rc->up = 0;
    if (rc->role == SN_RC_CMD)
      m->cmd_draining = 0;
    sn__maybe_free(m);
    return;
  }
  rc->ac = NULL;
  rc->up = 0;
  rc->popping = 0;
  if (rc->role == SN_RC_CMD) {
    m->inflight = 0;
    m->pending_bytes = 0;
    if (m->was_up && !m->closing)
      sn_log(SN_LOG_WARN, NULL, "redis %s:%d down: retrying", m->host, m->port);
    m->was_up = 0;
  }
  sn__retry_later(rc);
}

static sn_rconn *sn__find_rc(const redisAsyncContext *ac) {
  sn_mirror *m = ac->data;
  for (int i = 0; m && i < m->nrc; i++)
    if (m->rc[i].ac == ac)
      return &m->rc[i];
  return NULL;
}

static void sn__disconnected(const redisAsyncContext *ac, int status) {
  sn_rconn *rc = sn__find_rc(ac);
  (void)status;
  if (rc)
    sn__lost(rc, ac);
}

static void sn__resync(sn_mirror *m);
static void sn__heartbeat(sn_mirror *m);

static void sn__login_reply(redisAsyncContext *ac, void *r, void *privdata) {
  redisReply *reply = r;
  sn_rconn *rc = sn__find_rc(ac);
  const char *what = privdata;
  if (rc == NULL || reply == NULL || reply->type != REDIS_REPLY_ERROR)
    return;
  /* Everything pipelined behind it fails too: drop the connection and try
   * again with backoff (a password may be changed on the server meanwhile). */
  sn_log(SN_LOG_ERROR, NULL, "redis %s:%d: %s refused: %.200s", rc->m->host, rc->m->port, what, reply->str);
  redisAsyncDisconnect(rc->ac);
}

/* AUTH and SELECT come first on every connection, every time it is made:
 * hiredis pipelines what follows behind them. */
static void sn__login(sn_rconn *rc) {
  const sn_rurl *u = &rc->m->url;
  char db[16];
  if (u->pass[0]) {
    const char *argv[3] = {"AUTH", u->user[0] ? u->user : u->pass, u->pass};
    redisAsyncCommandArgv(rc->ac, sn__login_reply, (void *)"AUTH", u->user[0] ? 3 : 2, argv, NULL);
  }
  if (u->db > 0) {
    snprintf(db, sizeof(db), "%d", u->db);
    const char *argv[2] = {"SELECT", db};
    redisAsyncCommandArgv(rc->ac, sn__login_reply, (void *)"SELECT", 2, argv, NULL);
  }
}

static void sn__connected(const redisAsyncContext *ac, int status) {
  sn_rconn *rc = sn__find_rc(ac);
  if (rc == NULL)
    return;
  if (status != REDIS_OK) {
    sn_log(SN_LOG_DEBUG, NULL, "redis: connection %d failed: %s", rc->role, ac->errstr);
    sn__lost(rc, ac);
    return;
  }
  rc->up = 1;
  rc->backoff_ms = 100;
  uv_timer_stop(&rc->retry);
  sn__login(rc);
  if (rc->role == SN_RC_SUB)
    redisAsyncCommand(rc->ac, sn__message, rc->m, "SUBSCRIBE supernode:job_done");
  else if (rc->role == SN_RC_POP)
    sn_rqueue_arm(rc);
  else
    sn__resync(rc->m);
}

static void sn__connect_timeout(uv_timer_t *t) {
  sn_rconn *rc = t->data;
  redisAsyncContext *ac = rc->ac;
  if (rc->up || ac == NULL)
    return;
  sn_log(SN_LOG_DEBUG, NULL, "redis: connection %d timed out connecting", rc->role);
  rc->ac = NULL;
  redisAsyncFree(ac); /* never connected: no callback runs */
  sn__retry_later(rc);
}

static void sn__resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  sn_rconn *rc = req->data;
  sn_mirror *m = rc->m;
  char ip[64] = "";
  rc->resolving = 0;
  if (status == 0 && res)
    uv_ip_name(res->ai_addr, ip, sizeof(ip));
  uv_freeaddrinfo(res);
  if (m->closing) {
    sn__maybe_free(m);
    return;
  }
  /* hiredis 0.14 resolves with a blocking getaddrinfo: it gets an address. */
  rc->ac = ip[0] ? redisAsyncConnect(ip, m->port) : NULL;
  if (rc->ac && !rc->ac->err) /* hiredis 0.14 opens it without close-on-exec */
    fcntl(rc->ac->c.fd, F_SETFD, FD_CLOEXEC);
  if (rc->ac == NULL || rc->ac->err) {
    if (rc->ac)
      redisAsyncFree(rc->ac);
    rc->ac = NULL;
    sn__retry_later(rc);
    return;
  }
  rc->ac->data = m;
  sn_hero_bound_reader(rc->ac->c.reader);
  if (sn_ruv_attach(rc->ac, m->n->loop) != REDIS_OK) {
    redisAsyncFree(rc->ac);
    rc->ac = NULL;
    sn__retry_later(rc);
    return;
  }
  redisAsyncSetConnectCallback(rc->ac, sn__connected);
  redisEnableKeepAlive(&rc->ac->c); /* a peer that vanished is noticed by TCP */
  redisAsyncSetDisconnectCallback(rc->ac, sn__disconnected);
  /* hiredis 0.14's libuv adapter drops poll errors, so a refused connect
   * never calls back: give up on it ourselves. */
  uv_timer_start(&rc->retry, sn__connect_timeout, SN_MIRROR_CONNECT_TIMEOUT, 0);
}

void sn_mirror_connect(sn_rconn *rc) {
  char port[16];
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_socktype = SOCK_STREAM;
  snprintf(port, sizeof(port), "%d", rc->m->port);
  rc->gai.data = rc;
  if (uv_getaddrinfo(rc->m->n->loop, &rc->gai, sn__resolved, rc->m->host, port, &hints) == 0)
    rc->resolving = 1;
  else
    sn__retry_later(rc);
}

/* Redis is back: rewrite the state of every task; the jobs are the reliable
 * queue's (sn_rqueue_resync). */
static void sn__resync(sn_mirror *m) {
  sn_list *pos, *tmp;
  sn_log(SN_LOG_INFO, NULL, "redis %s:%d connected: writing current state", m->host, m->port);
  m->was_up = 1;
  sn__heartbeat(m);
  sn_list_foreach(pos, tmp, &m->n->tasks) sn_mirror_task(m, sn_list_entry(pos, sn_task, link));
  sn_rqueue_resync(m);
}

static void sn__llen(redisAsyncContext *ac, void *r, void *priv) {
  redisReply *rep = r;
  sn_pool *p = priv;
  sn_mirror_got_reply(ac->data);
  if (rep && rep->type == REDIS_REPLY_INTEGER)
    p->remote_demand = (uint64_t)rep->integer;
}

static void sn__heartbeat(sn_mirror *m) {
  char now[24];
  snprintf(now, sizeof(now), "%llu", (unsigned long long)sn_now_ms());
  sn_mirror_cmdv(m, 1, "HSET", "supernode:nodes", m->n->node_id, now, NULL);
}

/* TCP stays up when Redis is stopped (SIGSTOP) or wedged: writes would wait
 * for replies forever. No reply within the deadline drops the connection;
 * its writes are dropped with it and the resync rewrites what matters. */
static int sn__stalled(sn_mirror *m) {
  sn_rconn *rc = &m->rc[SN_RC_CMD];
  redisAsyncContext *ac = rc->ac;
  if (m->inflight == 0 || sn_now_ms() - m->last_reply_ms < SN_MIRROR_REPLY_DEADLINE)
    return 0;
  sn_log(SN_LOG_WARN, NULL, "redis %s:%d has not answered for %d ms (%ld writes, %zu bytes waiting): reconnecting",
         m->host, m->port, SN_MIRROR_REPLY_DEADLINE, m->inflight, m->pending_bytes);
  redisAsyncFree(ac); /* callbacks get NULL replies; the disconnect callback retries */
  if (rc->ac == ac) /* hiredis calls onDisconnect only for a connected context */
    sn__lost(rc, ac);
  return 1;
}

static void sn__tick(uv_timer_t *t) {
  sn_mirror *m = t->data;
  sn_list *pos, *tmp;
  if (!sn_mirror_up(m) || sn__stalled(m))
    return;
  sn__heartbeat(m);
  sn_list_foreach(pos, tmp, &m->n->tasks) sn_mirror_task(m, sn_list_entry(pos, sn_task, link));
  /* The shared queues' lengths feed the pools' demand. */
  sn_list_foreach(pos, tmp, &m->n->pools) {
    sn_pool *p = sn_list_entry(pos, sn_pool, link);
    if (redisAsyncCommand(m->rc[SN_RC_CMD].ac, sn__llen, p, "LLEN hero:work_queue:%s", p->kind) == REDIS_OK)
      m->inflight++;
  }
  /* A job_done message may be missed: re-read the jobs we wait for. */
  sn_list_foreach(pos, tmp, &m->n->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (j->remote && j->status < SN_J_FINISHED)
      sn_mirror_read_job(m, j->id, 0);
  }
  sn_rqueue_sweep(m);
  sn_rqueue_arm_all(m);
}

sn_mirror *sn_mirror_new(sn_node *n, const char *url, sn_error *err) {
  sn_mirror *m = sn_calloc(1, sizeof(*m));
  m->n = n;
  if (sn_rurl_parse(url, &m->url, err) != 0) {
    free(m);
    return NULL;
  }
  snprintf(m->host, sizeof(m->host), "%s", m->url.host);
  m->port = m->url.port;
  snprintf(m->processing, sizeof(m->processing), "hero:processing:%s", n->node_id);
  m->adopting = json_object();
  sn_buf_init(&m->fmt, 0);
  uv_timer_init(n->loop, &m->tick);
  m->tick.data = m;
  m->handles = 1;
  uv_timer_start(&m->tick, sn__tick, 1000, 1000);
  sn_mirror_add_rc(m, SN_RC_CMD, NULL);
  sn_mirror_add_rc(m, SN_RC_SUB, NULL);
  return m;
}

sn_rconn *sn_mirror_add_rc(sn_mirror *m, int role, const char *kind) {
  sn_rconn *rc;
  if (m->nrc >= SN_RC_MAX || m->closing)
    return NULL;
  rc = &m->rc[m->nrc++];
  rc->m = m;
  rc->role = role;
  rc->backoff_ms = 100;
  snprintf(rc->kind, sizeof(rc->kind), "%s", kind ? kind : "");
  uv_timer_init(m->n->loop, &rc->retry);
  rc->retry.data = rc;
  m->handles++;
  sn_mirror_connect(rc);
  return rc;
}

static void sn__maybe_free(sn_mirror *m) {
  for (int i = 0; i < m->nrc; i++)
    if (m->rc[i].resolving)
      return;
  if (m->closing && m->handles == 0 && !m->cmd_draining) {
    json_decref(m->adopting);
    sn_buf_free(&m->fmt);
    free(m);
  }
}

static void sn__tick_closed(uv_handle_t *h) {
  sn_mirror *m = h->data;
  m->handles--;
  sn__maybe_free(m);
}

static void sn__retry_closed(uv_handle_t *h) {
  sn_mirror *m = ((sn_rconn *)h->data)->m;
  m->handles--;
  sn__maybe_free(m);
}

void sn_mirror_close(sn_mirror *m) {
  if (m == NULL)
    return;
  if (!m->closing) {
    m->closing = 1;
    uv_close((uv_handle_t *)&m->tick, sn__tick_closed);
    for (int i = 0; i < m->nrc; i++) {
      sn_rconn *rc = &m->rc[i];
      redisAsyncContext *ac = rc->ac;
      uv_timer_stop(&rc->retry);
      uv_close((uv_handle_t *)&rc->retry, sn__retry_closed);
      if (rc->resolving)
        uv_cancel((uv_req_t *)&rc->gai);
      rc->ac = NULL;
      if (ac == NULL)
        continue;
      if (i == SN_RC_CMD && rc->up) {
        /* Let the last writes go out; the disconnect callback ends it. */
        m->cmd_draining = 1;
        m->rc[SN_RC_CMD].ac = ac;
        redisAsyncDisconnect(ac);
      } else {
        redisAsyncFree(ac); /* a blocked BLMOVE or a subscription: nothing to wait for */
      }
    }
  }
  sn__maybe_free(m);
}

int sn_mirror_up(const sn_mirror *m) { return m && m->rc[SN_RC_CMD].up && !m->closing; }

const char *sn_mirror_state(const sn_mirror *m) {
  if (m == NULL)
    return "off";
  return sn_mirror_up(m) ? "connected" : "down";
}

long sn_mirror_lag(const sn_mirror *m) { return m ? m->inflight : 0; }
