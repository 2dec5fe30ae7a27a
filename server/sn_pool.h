/* Worker pools per kind (config `kinds`): keep `min` instances, grow to `max`
 * while jobs wait, keep `warm` idle ones, retire idle surplus after
 * idle_retire_ms; `scale` sets the count; `claim` gives a websocket client a
 * worker of its own. Instances are ordinary tasks named <kind>_<n>. */
#ifndef SN_POOL_H
#define SN_POOL_H

#include <jansson.h>
#include <stdint.h>

#include "sn_err.h"
#include "sn_list.h"

typedef struct sn_node sn_node;
typedef struct sn_task sn_task;
typedef struct sn_conn sn_conn;
typedef struct sn_req sn_req;

typedef struct sn_pool {
  sn_list link;           /* node->pools */
  char kind[129];
  json_t *tmpl;           /* task fields of an instance, owned */
  uint64_t min, max, warm, idle_retire_ms, max_claims;
  int claim_recycle;
  sn_list claims;         /* pending claims (sn_req) waiting for an instance */
  uint64_t remote_demand; /* LLEN hero:work_queue:{kind}, from the last mirror tick */
} sn_pool;

/* Reads the config's kinds; 0 or an error naming the kind. */
int sn_pools_load(sn_node *n, const json_t *kinds, sn_error *err);
void sn_pools_free(sn_node *n);
sn_pool *sn_pool_find(sn_node *n, const char *kind);
/* Grows or shrinks every pool towards its demand (called on the watch tick
 * and when jobs queue). */
void sn_pools_adjust(sn_node *n);
void sn_pool_cmd_scale(sn_node *n, json_t *req, sn_req *r);
void sn_pool_cmd_claim(sn_node *n, json_t *req, sn_req *r);
void sn_pool_cmd_release(sn_node *n, json_t *req, sn_req *r);
/* Hands free instances to pending claims. */
void sn_pools_grant(sn_node *n);
/* A client went away: its claims return to the pool. */
void sn_pools_conn_closed(sn_conn *c);
/* The task claimed by this connection for kind, or NULL. */
sn_task *sn_pool_claimed(sn_node *n, sn_conn *c, const char *kind);

#endif
