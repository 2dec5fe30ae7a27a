/* The worker's put buffer: a bounded ring of items waiting to be sent,
 * drop-oldest when full. Pure data structure. */
#ifndef SN_WQUEUE_H
#define SN_WQUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sn_witem {
  uint32_t len;
  uint8_t bin;
  char data[];
} sn_witem;

typedef struct sn_wqueue {
  sn_witem **slots;
  size_t cap, head, n;
  size_t bytes;
  uint64_t dropped;
} sn_wqueue;

int sn_wqueue_init(sn_wqueue *q, size_t cap);
void sn_wqueue_free(sn_wqueue *q);
/* Copies the item in; drops (and counts) the oldest when full. 0 or -1 (no memory). */
int sn_wqueue_push(sn_wqueue *q, const void *p, size_t len, int bin);
/* The i-th oldest item, or NULL. */
sn_witem *sn_wqueue_at(const sn_wqueue *q, size_t i);
/* Frees the k oldest items. */
void sn_wqueue_pop(sn_wqueue *q, size_t k);

#endif
