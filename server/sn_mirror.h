/* The Redis mirror: Hero job keys, task state, the shared work queues through
 * which several nodes take each other's jobs, and job-done notifications.
 * hiredis async on our libuv loop; never blocks; reconnects with backoff and
 * rewrites the current state when Redis is back. Optional: without
 * redis_url the node keeps everything in memory. */
#ifndef SN_MIRROR_H
#define SN_MIRROR_H

#include <jansson.h>

#include "sn_err.h"
#include <stddef.h>
#include <stdint.h>

typedef struct sn_node sn_node;
typedef struct sn_task sn_task;
typedef struct sn_job sn_job;
typedef struct sn_mirror sn_mirror;

/* NULL with err filled when url is not a valid redis_url. */
sn_mirror *sn_mirror_new(sn_node *n, const char *url, sn_error *err);
void sn_mirror_close(sn_mirror *m); /* starts the teardown; handles close on the loop */
int sn_mirror_up(const sn_mirror *m);
/* "off" | "connected" | "down", and the writes waiting for a reply. */
const char *sn_mirror_state(const sn_mirror *m);
long sn_mirror_lag(const sn_mirror *m);

void sn_mirror_task(sn_mirror *m, sn_task *t);
void sn_mirror_task_gone(sn_mirror *m, sn_task *t);
/* One queued item, to the task's stream when mirror_data is on. */
void sn_mirror_item(sn_mirror *m, sn_task *t, const void *data, size_t len, int bin, uint64_t seq, uint64_t ts_ms);
/* A job changed (created, dispatched, ended). */
void sn_mirror_job(sn_mirror *m, sn_job *j);
/* Hands a job to the shared queue of its kind (LPUSH hero:work_queue:{kind}). */
int sn_mirror_enqueue(sn_mirror *m, sn_job *j);
/* Takes a job nobody picked back out of its shared queue (it timed out). */
void sn_mirror_withdraw(sn_mirror *m, sn_job *j);
/* Hands a job taken from a shared queue back to it (node shutdown, or a
 * worker lost with no local retry), first in line; count_retry: it counts. */
void sn_mirror_giveback(sn_mirror *m, sn_job *j, int count_retry);
/* True when so many job writes wait for Redis that new jobs must wait. */
int sn_mirror_saturated(const sn_mirror *m);
/* Free workers may have changed: re-arm the wait on the shared queues. */
void sn_mirror_poke(sn_mirror *m);

#endif
