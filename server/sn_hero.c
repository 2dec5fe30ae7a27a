#include "sn_hero.h"

#include <stdlib.h>
#include <string.h>

#include "sn_utf8.h"
#include "sn_util.h"

/* True when s[0..n) can be a JSON string as it is: UTF-8 without a NUL. */
static int sn__clean(const char *s, size_t n) { return memchr(s, 0, n) == NULL && sn_utf8_valid(s, n); }

static json_t *sn__text(const char *s, size_t n) {
  char *copy;
  json_t *v;
  if (sn__clean(s, n)) /* nearly always: one copy, not three */
    return json_stringn_nocheck(s, n);
  copy = sn_strndup(s, n); /* a NUL inside ends the text */
  sn_utf8_fix(copy);
  v = json_string(copy);
  free(copy);
  return v;
}

json_t *sn_hero_hash(const redisReply *rep) {
  json_t *h;
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
    return NULL;
  h = json_object();
  for (size_t i = 0; i + 1 < rep->elements; i += 2) {
    const redisReply *k = rep->element[i], *v = rep->element[i + 1];
    json_t *key;
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
      continue;
    if (sn__clean(k->str, k->len)) {
      json_object_setn_new_nocheck(h, k->str, k->len, sn__text(v->str, v->len));
      continue;
    }
    key = sn__text(k->str, k->len);
    json_object_set_new(h, json_string_value(key), sn__text(v->str, v->len));
    json_decref(key);
  }
  return h;
}

const char *sn_hero_popped(const redisReply *rep) {
  if (rep && rep->type == REDIS_REPLY_STRING) /* BLMOVE, LMOVE */
    return sn_hero_valid_id(rep->str) ? rep->str : NULL;
  if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
      rep->element[1]->type != REDIS_REPLY_STRING || !sn_hero_valid_id(rep->element[1]->str))
    return NULL; /* BRPOP: [queue, id] */
  return rep->element[1]->str;
}

int sn_hero_valid_id(const char *id) {
  size_t n = 0;
  if (id == NULL)
    return 0;
  for (; id[n]; n++) {
    char c = id[n];
    if (n >= 39 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                     c == '-' || c == '.' || c == ':'))
      return 0;
  }
  return n > 0;
}

static const char *sn__field(json_t *h, const char *k) {
  const char *s = json_string_value(json_object_get(h, k));
  return s && s[0] ? s : NULL;
}

json_t *sn_hero_job_req(json_t *h, sn_error *err) {
  const char *id = sn__field(h, "id"), *kind = sn__field(h, "script_type"), *script = sn__field(h, "script");
  const char *to = sn__field(h, "timeout");
  json_t *req, *payload;
  uint64_t secs;
  if (!sn_hero_valid_id(id))
    return sn_seterr(err, SN_EBADREQ, "the hash has no valid id"), NULL;
  if (!sn_valid_kind(kind))
    return sn_seterr(err, SN_EBADREQ, "the hash has no valid script_type"), NULL;
  req = json_pack("{s:s}", "kind", kind);
  /* A payload written as JSON text comes back as that value; any other text stays a string. */
  payload = script ? json_loads(script, JSON_DECODE_ANY, NULL) : NULL;
  json_object_set_new(req, "payload", payload ? payload : json_string(script ? script : ""));
  /* Seconds, as Hero writes them; a value we cannot read keeps the default. */
  if (to && sn_parse_u64(to, &secs) == 0 && secs <= 30 * 86400)
    json_object_set_new(req, "timeout_ms", json_integer((json_int_t)secs * 1000));
  /* Our own count of retries left, kept in the hash across nodes. */
  if (sn__field(h, "sn_retries") && sn_parse_u64(sn__field(h, "sn_retries"), &secs) == 0 && secs <= 10)
    json_object_set_new(req, "retries", json_integer((json_int_t)secs));
  if (sn__field(h, "caller_id"))
    json_object_set_new(req, "caller_id", json_string(sn__field(h, "caller_id")));
  if (sn__field(h, "context_id"))
    json_object_set_new(req, "context_id", json_string(sn__field(h, "context_id")));
  return req;
}

/* hiredis's default functions are static; keep its table and wrap one entry. */
static redisReplyObjectFunctions *sn__plain_fns;
static redisReplyObjectFunctions sn__bounded_fns;

static void *sn__create_array(const redisReadTask *task, int elements) {
  if (elements > SN_REDIS_MAX_ELEMENTS)
    return NULL;
  return sn__plain_fns->createArray(task, elements);
}

void sn_hero_bound_reader(redisReader *r) {
  if (sn__plain_fns == NULL) {
    sn__plain_fns = r->fn;
    sn__bounded_fns = *r->fn;
    sn__bounded_fns.createArray = sn__create_array;
  }
  if (r->fn == sn__plain_fns)
    r->fn = &sn__bounded_fns;
}
