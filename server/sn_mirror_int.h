/* The Redis mirror's internals, shared by its parts: sn_mirror.c (the
 * connections and the writes) and sn_rqueue.c (the reliable work queue). */
#ifndef SN_MIRROR_INT_H
#define SN_MIRROR_INT_H

#include <hiredis/async.h>
#include <uv.h>

#include "sn_buf.h"
#include "sn_mirror.h"
#include "sn_rurl.h"

#define SN_MIRROR_MAX_INFLIGHT 10000 /* task-state and data writes beyond this are dropped */
#define SN_MIRROR_DROP_BYTES (8u << 20) /* ... and beyond these bytes waiting */
#define SN_MIRROR_INTAKE_BYTES (32u << 20) /* beyond this, new jobs are refused */
#define SN_MIRROR_REPLY_DEADLINE 5000 /* ms without a reply while writes wait: reconnect */
#define SN_MIRROR_BACKOFF_MAX 5000
#define SN_MIRROR_CONNECT_TIMEOUT 1000

#define SN_MIRROR_MAX_KINDS 32 /* kinds with a blocking pop of their own */

/* Connections: commands, the job_done subscription, then one per kind this
 * node takes jobs of (a blocking BLMOVE holds its connection). */
enum { SN_RC_CMD, SN_RC_SUB, SN_RC_POP };
#define SN_RC_MAX (SN_RC_POP + SN_MIRROR_MAX_KINDS)

typedef struct sn_rconn {
  sn_mirror *m;
  int role;
  redisAsyncContext *ac; /* NULL while down */
  int up;
  unsigned backoff_ms;
  uv_timer_t retry;
  uv_getaddrinfo_t gai;
  int resolving;
  int popping; /* a BLMOVE is in flight */
  char kind[129]; /* pop connections: the kind whose queue it waits on */
} sn_rconn;

struct sn_mirror {
  sn_node *n;
  sn_rurl url;      /* host, port, user, password, db */
  char host[256];
  int port;
  sn_rconn rc[SN_RC_MAX];
  int nrc;          /* connections in use: SN_RC_POP + kinds seen */
  char processing[200]; /* hero:processing:{node_id}: ids this node took, until they end */
  json_t *adopting; /* ids moved to processing whose hash is being read, owned */
  uv_timer_t tick; /* node heartbeat, task-state refresh, re-reads of remote jobs */
  long inflight;
  char scan_cursor[24]; /* SCAN over hero:processing:* (lists of nodes with no heartbeat) */
  size_t pending_bytes; /* bytes of the writes waiting for a reply (command connection) */
  uint64_t last_reply_ms; /* when the command connection last answered */
  unsigned long dropped;
  int closing, handles;
  int cmd_draining; /* the command connection sends its last writes before it goes */
  int was_up; /* resync once per reconnect */
  sn_buf fmt;  /* scratch: each command in RESP before hiredis copies it (sn_resp.h) */
};

/* A reply came on the command connection. */
void sn_mirror_got_reply(sn_mirror *m);
/* A command on connection ac with its own callback, formatted by us
 * (sn_resp.h); REDIS_OK or REDIS_ERR as from hiredis. */
int sn_mirror_send(sn_mirror *m, redisAsyncContext *ac, redisCallbackFn *cb, void *priv, int argc, const char **argv,
                   const size_t *lens);
/* One command on the command connection (see sn_mirror.c). */
int sn_mirror_cmd(sn_mirror *m, int droppable, int argc, const char **argv, const size_t *lens);
int sn_mirror_cmdv(sn_mirror *m, int droppable, const char *first, ...);
/* A new connection (role SN_RC_*, kind for pops), connecting; NULL when
 * there is no room or the mirror closes. */
sn_rconn *sn_mirror_add_rc(sn_mirror *m, int role, const char *kind);
/* Starts (or restarts) connection rc. */
void sn_mirror_connect(sn_rconn *rc);
/* Reads hero:job:{id}: adopt it (taken from a queue), or learn its end. */
void sn_mirror_read_job(sn_mirror *m, const char *id, int adopt);
void sn_mirror_done_cb(redisAsyncContext *ac, void *r, void *priv);

/* sn_rqueue.c */
void sn_rqueue_arm_all(sn_mirror *m);
void sn_rqueue_arm(sn_rconn *rc);
/* The command connection is (back) up: recover this node's processing list
 * and make sure the jobs it owns exist in Redis (it may have restarted empty). */
void sn_rqueue_resync(sn_mirror *m);
/* Every tick: give the processing lists of dead nodes back to the queues. */
void sn_rqueue_sweep(sn_mirror *m);
/* A hash read back for a job moved to processing: adopted, or dropped from the list. */
void sn_rqueue_adopted(sn_mirror *m, const char *id, int ok);
/* An id taken that no worker here can run: back to the front of its queue, no retry counted. */
void sn_rqueue_give_back_id(sn_mirror *m, const char *id);

#endif
