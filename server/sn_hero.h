/* The Hero schema as it comes back from Redis: job hashes and popped ids,
 * decoded without I/O. A producer anywhere may have written them, so every
 * field is checked before the node acts on it. */
#ifndef SN_HERO_H
#define SN_HERO_H

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "sn_err.h"

/* An HGETALL reply as a JSON object of strings (new reference): fields that
 * are not strings are skipped, bytes that are not UTF-8 repaired. NULL when
 * the reply is not an array. */
json_t *sn_hero_hash(const redisReply *rep);
/* The job id of a BLMOVE reply (a string) or a BRPOP one ([queue, id]), or NULL. */
const char *sn_hero_popped(const redisReply *rep);
/* A job id a producer may choose: 1..39 chars of [A-Za-z0-9_.:-]. */
int sn_hero_valid_id(const char *id);
/* The job command for a hero:job hash: kind, payload (the script, as JSON
 * when it is JSON text), timeout_ms, retries (sn_retries), caller_id, context_id (new reference).
 * NULL with err filled when the hash lacks a valid id or script_type. */
json_t *sn_hero_job_req(json_t *hash, sn_error *err);

/* Largest array reply the node reads (a job hash, a processing list: far
 * fewer). hiredis 0.14 allocates an array's element table as soon as it
 * reads the length, so "*288888888" would cost 2.3 GB before any element
 * arrived (found by fuzz_redis). */
#define SN_REDIS_MAX_ELEMENTS (1 << 20)
/* Makes r refuse longer arrays: hiredis then fails the reply as out of
 * memory and the connection is dropped and made again. */
void sn_hero_bound_reader(redisReader *r);

#endif
