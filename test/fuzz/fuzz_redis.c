/* Replies from Redis, as bytes on the wire: hiredis's reader turns them into
 * replies (as in the node), then the node's handling of job hashes, popped
 * ids and the job command built from a hash. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "sn_hero.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  redisReader *r = redisReaderCreate();
  void *reply;
  sn_hero_bound_reader(r);
  redisReaderFeed(r, (const char *)data, size);
  while (redisReaderGetReply(r, &reply) == REDIS_OK && reply) {
    json_t *h = sn_hero_hash(reply);
    const char *id = sn_hero_popped(reply);
    if (id && !sn_hero_valid_id(id))
      __builtin_trap();
    if (h) {
      sn_error err = {0};
      json_t *req = sn_hero_job_req(h, &err);
      if (req && !json_is_string(json_object_get(req, "kind")))
        __builtin_trap();
      json_decref(req);
      json_decref(h);
    }
    freeReplyObject(reply);
  }
  redisReaderFree(r);
  return 0;
}
