/* The reliable work queue (Redis's pattern, contract v1.1): a node takes a job
 * id with BLMOVE from hero:work_queue:{kind} to hero:processing:{node_id}, so
 * that the id is always in some list; it leaves the processing list only once
 * the job has ended (hash written and reply pushed, in one script). Ids in the
 * processing list of a node whose heartbeat is stale go back to the front of
 * their queues, counting a retry (one Lua script, so that two live nodes never
 * both requeue them). A node that reconnects recovers its own list, and
 * rewrites the jobs it owns when Redis came back empty.
 *
 * With room for several jobs of a kind the node takes what is queued in one
 * script (up to SN_RQ_TAKE_MAX ids), and blocks in BLMOVE only when there was
 * nothing.
 *
 * Each kind this node has a free worker for gets a connection of its own,
 * because a blocking BLMOVE holds its connection and names one queue: a job
 * of any kind is taken the moment it arrives, whatever the other kinds do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sn_hero.h"
#include "sn_log.h"
#include "sn_mirror_int.h"
#include "sn_node.h"
#include "sn_util.h"

#define SN_RQ_BLOCK_S "5"      /* a BLMOVE waits this long, then is re-armed if still wanted */
#define SN_RQ_STALE_BEATS 3    /* a node is dead after this many missed heartbeats (1 s each) */

/* requeue(id): the job goes back to the front of its kind's queue with one
 * retry fewer, or, with none left, ends as an error that its waiters see.
 * ARGV[1] is now (unix s) for updated_at, ARGV[2] the reply TTL. Jobs that
 * ended meanwhile, or whose hash is gone, are left alone. */
#define SN_RQ_LUA_REQUEUE                                                                          \
  "local function requeue(id)\n"                                                                   \
  "  local h = 'hero:job:' .. id\n"                                                                \
  "  local kind = redis.call('HGET', h, 'script_type')\n"                                          \
  "  local st = redis.call('HGET', h, 'sn_status')\n"                                              \
  "  if not kind or st == 'finished' or st == 'error' or st == 'timeout' then return 0 end\n"      \
  "  local left = tonumber(redis.call('HGET', h, 'sn_retries') or '1') or 1\n"                     \
  "  if left <= 0 then\n"                                                                          \
  "    redis.call('HSET', h, 'status', 'error', 'sn_status', 'error', 'updated_at', ARGV[1],\n"    \
  "               'error', 'the node running it died and no retries are left')\n"                  \
  "    redis.call('LPUSH', 'hero:reply:' .. id, 'null')\n"                                         \
  "    redis.call('EXPIRE', 'hero:reply:' .. id, ARGV[2])\n"                                       \
  "    redis.call('PUBLISH', 'supernode:job_done', id)\n"                                          \
  "    return 0\n"                                                                                 \
  "  end\n"                                                                                        \
  "  redis.call('HSET', h, 'sn_retries', left - 1, 'status', 'dispatched', 'sn_status', 'queued')\n" \
  "  redis.call('RPUSH', 'hero:work_queue:' .. kind, id)\n"                                        \
  "  return 1\n"                                                                                   \
  "end\n"

/* KEYS[1] supernode:nodes, KEYS[2] the dead node's processing list;
 * ARGV[3] its id, ARGV[4] the heartbeat time before which it is dead. */
static const char sn__lua_sweep[] = SN_RQ_LUA_REQUEUE
    "local hb = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') or 0\n"
    "if hb >= tonumber(ARGV[4]) then return -1 end\n"
    "local n = 0\n"
    "for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do n = n + requeue(id) end\n"
    "redis.call('DEL', KEYS[2])\n"
    "redis.call('HDEL', KEYS[1], ARGV[3])\n"
    "return n\n";

/* KEYS[1] our processing list; ARGV[3] the id, ARGV[4] "1" to count a retry. */
static const char sn__lua_giveback[] = SN_RQ_LUA_REQUEUE
    "if redis.call('LREM', KEYS[1], 0, ARGV[3]) == 0 then return 0 end\n"
    "if ARGV[4] ~= '1' then\n"
    "  local h = 'hero:job:' .. ARGV[3]\n"
    "  redis.call('HINCRBY', h, 'sn_retries', 1)\n"
    "end\n"
    "return requeue(ARGV[3])\n";

/* KEYS[1] our processing list; ARGV[1] an id we run: back in the list if
 * Redis lost it. */
static const char sn__lua_hold[] = "if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('LPUSH', KEYS[1], ARGV[1]) end\n"
                                   "return 1\n";

/* ---- taking jobs ---- */

/* How many more jobs of this kind this node may take from Redis: the free
 * slots of its workers of the kind (max_jobs less what each runs) less the jobs
 * of the kind already on their way to them (ids taken whose hash is being
 * read, jobs queued here). Taking more would leave jobs waiting in this node's
 * processing list that another node could run. */
static long sn__kind_room(sn_mirror *m, const char *kind) {
  sn_node *n = m->n;
  sn_list *pos, *tmp;
  long room = 0;
  const char *id;
  json_t *k;
  sn_list_foreach(pos, tmp, &n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    if (t->claimed_by == NULL && strcmp(t->conf.kind, kind) == 0)
      room += sn_jobs_free_slots(t);
  }
  if (room == 0)
    return 0;
  json_object_foreach(m->adopting, id, k) room -= json_is_string(k) && strcmp(json_string_value(k), kind) == 0;
  sn_list_foreach(pos, tmp, &n->jobq) {
    sn_job *j = sn_list_entry(pos, sn_job, qlink);
    room -= j->want_task[0] == '\0' && strcmp(j->kind, kind) == 0;
  }
  return room > 0 ? room : 0;
}

/* Most ids taken in one round trip: a node with room for many jobs of a kind
 * takes what is queued at once instead of one BLMOVE (one round trip) each. */
#define SN_RQ_TAKE_MAX 64

/* take(n): up to n ids moved from the queue (KEYS[1]) to our processing list
 * (KEYS[2]), oldest first, without blocking. */
static const char sn__lua_take[] = "local out = {}\n"
                                   "for i = 1, tonumber(ARGV[1]) do\n"
                                   "  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')\n"
                                   "  if not id then break end\n"
                                   "  out[i] = id\n"
                                   "end\n"
                                   "return out\n";

static void sn__adopt(sn_rconn *rc, const char *id) {
  sn_mirror *m = rc->m;
  sn_log(SN_LOG_DEBUG, NULL, "took job %s from hero:work_queue:%s", id, rc->kind);
  json_object_set_new(m->adopting, id, json_string(rc->kind));
  sn_mirror_read_job(m, id, 1); /* if the command connection is down, resync finds it */
}

static void sn__moved(redisAsyncContext *ac, void *r, void *priv) {
  sn_rconn *rc = priv;
  const char *id = sn_hero_popped(r);
  (void)ac;
  rc->popping = 0;
  if (r == NULL)
    return; /* the connection went: re-armed when it is back */
  if (id)
    sn__adopt(rc, id);
  sn_rqueue_arm(rc);
}

static void sn__block(sn_rconn *rc) {
  char src[200];
  snprintf(src, sizeof(src), "hero:work_queue:%s", rc->kind);
  /* RIGHT to LEFT: producers LPUSH, so the oldest id is taken first. */
  if (redisAsyncCommand(rc->ac, sn__moved, rc, "BLMOVE %s %s RIGHT LEFT " SN_RQ_BLOCK_S, src, rc->m->processing) ==
      REDIS_OK)
    rc->popping = 1;
}

static void sn__taken(redisAsyncContext *ac, void *r, void *priv) {
  sn_rconn *rc = priv;
  const redisReply *rep = r;
  size_t got = 0;
  (void)ac;
  rc->popping = 0;
  if (rep == NULL)
    return; /* the connection went: re-armed when it is back */
  if (rep->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < rep->elements; i++) {
      const char *id = sn_hero_popped(rep->element[i]);
      got++;
      if (id)
        sn__adopt(rc, id);
    }
  if (got == 0 && !rc->m->closing && sn__kind_room(rc->m, rc->kind) > 0)
    sn__block(rc); /* nothing queued: wait for the next id */
  else
    sn_rqueue_arm(rc);
}

void sn_rqueue_arm(sn_rconn *rc) {
  sn_mirror *m = rc->m;
  char src[200], n[24];
  long room;
  if (!rc->up || rc->popping || m->closing || (room = sn__kind_room(m, rc->kind)) == 0)
    return;
  if (room == 1)
    return sn__block(rc);
  snprintf(src, sizeof(src), "hero:work_queue:%s", rc->kind);
  snprintf(n, sizeof(n), "%ld", room < SN_RQ_TAKE_MAX ? room : SN_RQ_TAKE_MAX);
  const char *argv[] = {"EVAL", sn__lua_take, "2", src, m->processing, n};
  size_t lens[6];
  for (int i = 0; i < 6; i++)
    lens[i] = strlen(argv[i]);
  if (sn_mirror_send(m, rc->ac, sn__taken, rc, 6, argv, lens) == REDIS_OK)
    rc->popping = 1;
}

static sn_rconn *sn__pop_conn(sn_mirror *m, const char *kind) {
  static int warned;
  for (int i = SN_RC_POP; i < m->nrc; i++)
    if (strcmp(m->rc[i].kind, kind) == 0)
      return &m->rc[i];
  if (m->nrc >= SN_RC_MAX) {
    if (!warned++)
      sn_log(SN_LOG_WARN, NULL, "more than %d job kinds: kind %s does not take jobs from redis", SN_MIRROR_MAX_KINDS,
             kind);
    return NULL;
  }
  return sn_mirror_add_rc(m, SN_RC_POP, kind);
}

void sn_rqueue_arm_all(sn_mirror *m) {
  sn_list *pos, *tmp;
  if (m->closing)
    return;
  sn_list_foreach(pos, tmp, &m->n->tasks) {
    sn_task *t = sn_list_entry(pos, sn_task, link);
    sn_rconn *rc;
    if (t->conf.kind[0] == '\0' || !sn_jobs_free_worker(t) || t->claimed_by)
      continue;
    if ((rc = sn__pop_conn(m, t->conf.kind)) != NULL)
      sn_rqueue_arm(rc);
  }
}

void sn_rqueue_adopted(sn_mirror *m, const char *id, int ok) {
  json_object_del(m->adopting, id);
  if (!ok) {
    /* Nothing to run (no valid hash, or it ended meanwhile): out of our list. */
    sn_log(SN_LOG_WARN, NULL, "job %s taken from redis has nothing to run: dropped from %s", id, m->processing);
    sn_mirror_cmdv(m, 0, "LREM", m->processing, "0", id, NULL);
  }
  sn_rqueue_arm_all(m); /* its worker may be free again */
}

/* ---- giving jobs back ---- */

static void sn__eval(sn_mirror *m, const char *script, const char *key1, const char *key2, const char *a3,
                     const char *a4) {
  char now[24], ttl[24];
  const char *argv[9];
  size_t lens[9];
  int argc = 0, nkeys = key2 ? 2 : 1;
  snprintf(now, sizeof(now), "%llu", (unsigned long long)(sn_now_ms() / 1000));
  snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)m->n->cfg->reply_ttl_s);
#define SN__A(s) (argv[argc] = (s), lens[argc] = strlen(s), argc++)
  SN__A("EVAL");
  SN__A(script);
  SN__A(nkeys == 2 ? "2" : "1");
  SN__A(key1);
  if (key2)
    SN__A(key2);
  SN__A(now);
  SN__A(ttl);
  SN__A(a3);
  SN__A(a4);
#undef SN__A
  sn_mirror_cmd(m, 0, argc, argv, lens);
}

void sn_rqueue_give_back_id(sn_mirror *m, const char *id) {
  json_object_del(m->adopting, id);
  sn_log(SN_LOG_INFO, NULL, "job %s goes back to its queue: no worker of its kind here any more", id);
  sn__eval(m, sn__lua_giveback, m->processing, NULL, id, "0");
  sn_rqueue_arm_all(m);
}

void sn_mirror_giveback(sn_mirror *m, sn_job *j, int count_retry) {
  if (m == NULL || !sn_mirror_up(m) || !j->from_queue)
    return;
  sn__eval(m, sn__lua_giveback, m->processing, NULL, j->id, count_retry ? "1" : "0");
  j->from_queue = 0;
}

/* Our own processing list after a reconnect (or a restart with the same
 * node_id): ids we do not hold any more go back to their queues. */
static void sn__own_list(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  redisReply *rep = r;
  (void)priv;
  sn_mirror_got_reply(m);
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
    return;
  for (size_t i = 0; i < rep->elements; i++) {
    const char *id = rep->element[i]->type == REDIS_REPLY_STRING ? rep->element[i]->str : NULL;
    sn_job *j;
    if (!sn_hero_valid_id(id) || json_object_get(m->adopting, id))
      continue;
    if ((j = sn_map_get(&m->n->jobs_by_id, id)) != NULL && j->from_queue && j->status < SN_J_FINISHED)
      continue; /* still ours, running or queued here */
    sn_log(SN_LOG_WARN, NULL, "job %s was taken by this node before and is not held: back to its queue", id);
    sn__eval(m, sn__lua_giveback, m->processing, NULL, id, "1");
  }
}

/* Redis came back: is the job we wait for still there? If Redis restarted
 * empty, the submitting node writes it and queues it again. */
static void sn__exists(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  redisReply *rep = r;
  char *id = priv;
  sn_job *j = sn_map_get(&m->n->jobs_by_id, id);
  sn_mirror_got_reply(m);
  if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0 && j && j->remote && j->status < SN_J_FINISHED &&
      !m->closing) {
    sn_log(SN_LOG_WARN, NULL, "job %s is gone from redis (restarted empty?): queued again", id);
    sn_mirror_enqueue(m, j);
  }
  free(id);
}

void sn_rqueue_resync(sn_mirror *m) {
  redisAsyncContext *ac = m->rc[SN_RC_CMD].ac;
  sn_list *pos, *tmp;
  sn_list_foreach(pos, tmp, &m->n->jobs) {
    sn_job *j = sn_list_entry(pos, sn_job, link);
    if (j->remote && j->status < SN_J_FINISHED) {
      /* Another node may hold it and have written newer state: only a job
       * Redis lost is written again. */
      char *id = sn_strdup(j->id);
      if (redisAsyncCommand(ac, sn__exists, id, "EXISTS hero:job:%s", j->id) == REDIS_OK)
        m->inflight++;
      else
        free(id);
    } else if (j->status < SN_J_FINISHED || j->ran_on[0]) {
      sn_mirror_job(m, j); /* ours: our view is the truth */
      if (j->from_queue && j->status < SN_J_FINISHED) {
        const char *argv[] = {"EVAL", sn__lua_hold, "1", m->processing, j->id};
        size_t lens[] = {4, strlen(sn__lua_hold), 1, strlen(m->processing), strlen(j->id)};
        sn_mirror_cmd(m, 0, 5, argv, lens);
      }
    }
  }
  if (redisAsyncCommand(ac, sn__own_list, NULL, "LRANGE %s 0 -1", m->processing) == REDIS_OK)
    m->inflight++;
}

/* ---- dead nodes ---- */

static void sn__nodes(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  redisReply *rep = r;
  uint64_t now = sn_now_ms(), stale_before = now - SN_RQ_STALE_BEATS * 1000;
  char before[24], list[300];
  (void)priv;
  sn_mirror_got_reply(m);
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || m->closing)
    return;
  snprintf(before, sizeof(before), "%llu", (unsigned long long)stale_before);
  for (size_t i = 0; i + 1 < rep->elements; i += 2) {
    const redisReply *k = rep->element[i], *v = rep->element[i + 1];
    uint64_t hb;
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || strcmp(k->str, m->n->node_id) == 0 ||
        sn_parse_u64(v->str, &hb) != 0 || hb >= stale_before || strlen(k->str) > 128)
      continue;
    sn_log(SN_LOG_WARN, NULL, "node %s missed %d heartbeats: its running jobs go back to the queues", k->str,
           SN_RQ_STALE_BEATS);
    snprintf(list, sizeof(list), "hero:processing:%s", k->str);
    sn__eval(m, sn__lua_sweep, "supernode:nodes", list, k->str, before);
  }
}

/* Processing lists whose node has no heartbeat at all: a node declared dead
 * whose blocked BLMOVE Redis still served (it was cut off, not gone) holds
 * ids nobody would ever requeue. The sweep script decides by the heartbeat,
 * so a live node's list is left alone. One SCAN step per tick. */
static void sn__scanned(redisAsyncContext *ac, void *r, void *priv) {
  sn_mirror *m = ac->data;
  redisReply *rep = r;
  char before[24];
  (void)priv;
  sn_mirror_got_reply(m);
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || m->closing ||
      rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY)
    return;
  snprintf(m->scan_cursor, sizeof(m->scan_cursor), "%.20s", rep->element[0]->str);
  snprintf(before, sizeof(before), "%llu", (unsigned long long)(sn_now_ms() - SN_RQ_STALE_BEATS * 1000));
  for (size_t i = 0; i < rep->element[1]->elements; i++) {
    const redisReply *k = rep->element[1]->element[i];
    const char *node = k->type == REDIS_REPLY_STRING ? k->str + strlen("hero:processing:") : NULL;
    if (node == NULL || k->len <= strlen("hero:processing:") || strcmp(k->str, m->processing) == 0 ||
        strlen(node) > 128)
      continue;
    sn__eval(m, sn__lua_sweep, "supernode:nodes", k->str, node, before);
  }
}

void sn_rqueue_sweep(sn_mirror *m) {
  redisAsyncContext *ac = m->rc[SN_RC_CMD].ac;
  if (ac == NULL || !m->rc[SN_RC_CMD].up)
    return;
  if (redisAsyncCommand(ac, sn__nodes, NULL, "HGETALL supernode:nodes") == REDIS_OK)
    m->inflight++;
  if (redisAsyncCommand(ac, sn__scanned, NULL, "SCAN %s MATCH hero:processing:* COUNT 100",
                        m->scan_cursor[0] ? m->scan_cursor : "0") == REDIS_OK)
    m->inflight++;
}
