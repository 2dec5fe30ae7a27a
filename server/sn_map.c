#include "sn_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sn_util.h"

#define SN_MAP_DELETED ((char *)1)

static uint64_t sn__hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

void sn_map_init(sn_map *m) { memset(m, 0, sizeof(*m)); }

void sn_map_free(sn_map *m) {
  for (size_t i = 0; i < m->cap; i++)
    if (m->slots[i].key && m->slots[i].key != SN_MAP_DELETED)
      free(m->slots[i].key);
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

static sn_map_entry *sn__find(const sn_map *m, const char *key, uint64_t h) {
  if (m->cap == 0)
    return NULL;
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    sn_map_entry *e = &m->slots[i];
    if (e->key == NULL)
      return NULL;
    if (e->hash == h && e->key != SN_MAP_DELETED && strcmp(e->key, key) == 0)
      return e;
  }
}

void *sn_map_get(const sn_map *m, const char *key) {
  sn_map_entry *e = sn__find(m, key, sn__hash(key));
  return e ? e->value : NULL;
}

/* Puts a key known to be absent, taking ownership of the copy given. */
static void sn__insert(sn_map *m, char *key, uint64_t h, void *value) {
  for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    sn_map_entry *e = &m->slots[i];
    if (e->key == NULL || e->key == SN_MAP_DELETED) {
      if (e->key == NULL)
        m->used++;
      e->key = key;
      e->value = value;
      e->hash = h;
      m->live++;
      return;
    }
  }
}

/* Rehashes into cap slots, dropping the tombstones of deleted keys (the
 * keys' copies move over as they are). */
static void sn__rehash(sn_map *m, size_t cap) {
  sn_map old = *m;
  m->cap = cap;
  m->slots = sn_calloc(m->cap, sizeof(*m->slots));
  m->used = m->live = 0;
  for (size_t i = 0; i < old.cap; i++)
    if (old.slots[i].key && old.slots[i].key != SN_MAP_DELETED)
      sn__insert(m, old.slots[i].key, old.slots[i].hash, old.slots[i].value);
  free(old.slots);
}

/* The size for live (+1) keys at most half full: a map that lives through
 * millions of short-lived keys (jobs) stays as large as what it holds now. */
static size_t sn__fit(size_t live) {
  size_t cap = 64;
  while ((live + 1) * 2 > cap)
    cap *= 2;
  return cap;
}

void sn_map_put(sn_map *m, const char *key, void *value) {
  uint64_t h = sn__hash(key);
  sn_map_entry *e = sn__find(m, key, h);
  if (e) {
    e->value = value;
    return;
  }
  /* Tombstones count as used (probes walk over them): when live and dead
   * slots fill two thirds, rehash to fit what is live. */
  if ((m->used + 1) * 3 > m->cap * 2)
    sn__rehash(m, sn__fit(m->live));
  sn__insert(m, sn_strdup(key), h, value);
}

void sn_map_del(sn_map *m, const char *key) {
  sn_map_entry *e = sn__find(m, key, sn__hash(key));
  if (e == NULL)
    return;
  free(e->key);
  e->key = SN_MAP_DELETED;
  e->value = NULL;
  m->live--;
  if (m->cap > 64 && m->live * 8 < m->cap) /* mostly empty: shrink */
    sn__rehash(m, sn__fit(m->live));
}
