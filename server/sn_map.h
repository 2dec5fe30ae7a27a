/* A string-keyed hash map of borrowed pointers (open addressing). It grows
 * and shrinks with what it holds, and reuses the slots of deleted keys, so a
 * map that sees millions of keys come and go stays small. */
#ifndef SN_MAP_H
#define SN_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sn_map_entry {
  char *key;     /* owned copy; NULL = empty; (char *)1 = deleted */
  void *value;
  uint64_t hash; /* of key: probes compare it before the strings */
} sn_map_entry;

typedef struct sn_map {
  sn_map_entry *slots;
  size_t cap, used, live;
} sn_map;

void sn_map_init(sn_map *m);
void sn_map_free(sn_map *m);
void *sn_map_get(const sn_map *m, const char *key);
void sn_map_put(sn_map *m, const char *key, void *value);
void sn_map_del(sn_map *m, const char *key);

#endif
