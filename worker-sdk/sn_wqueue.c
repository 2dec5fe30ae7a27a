#include "sn_wqueue.h"

#include <stdlib.h>
#include <string.h>

int sn_wqueue_init(sn_wqueue *q, size_t cap) {
  memset(q, 0, sizeof(*q));
  q->slots = calloc(cap, sizeof(*q->slots));
  if (q->slots == NULL)
    return -1;
  q->cap = cap;
  return 0;
}

void sn_wqueue_free(sn_wqueue *q) {
  if (q->slots)
    sn_wqueue_pop(q, q->n);
  free(q->slots);
  q->slots = NULL;
}

int sn_wqueue_push(sn_wqueue *q, const void *p, size_t len, int bin) {
  sn_witem *it;
  if (len > UINT32_MAX || (it = malloc(sizeof(*it) + len)) == NULL)
    return -1;
  it->len = (uint32_t)len;
  it->bin = (uint8_t)(bin != 0);
  memcpy(it->data, p, len);
  if (q->n == q->cap) {
    sn_wqueue_pop(q, 1);
    q->dropped++;
  }
  q->slots[(q->head + q->n) % q->cap] = it;
  q->n++;
  q->bytes += len;
  return 0;
}

sn_witem *sn_wqueue_at(const sn_wqueue *q, size_t i) {
  return i < q->n ? q->slots[(q->head + i) % q->cap] : NULL;
}

void sn_wqueue_pop(sn_wqueue *q, size_t k) {
  while (k-- > 0 && q->n > 0) {
    sn_witem *it = q->slots[q->head];
    q->bytes -= it->len;
    free(it);
    q->slots[q->head] = NULL;
    q->head = (q->head + 1) % q->cap;
    q->n--;
  }
}
