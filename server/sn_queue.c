#include "sn_queue.h"

#include <stdlib.h>
#include <string.h>

#include "sn_util.h"

static size_t sn__slot(const sn_queue *q, uint64_t seq) {
  return (q->head + (size_t)(seq - q->first_seq)) % q->cap;
}

int sn_queue_init(sn_queue *q, size_t cap, size_t max_bytes) {
  if (cap == 0)
    return -1;
  memset(q, 0, sizeof(*q));
  q->slots = sn_calloc(cap, sizeof(*q->slots));
  q->cap = cap;
  q->max_bytes = max_bytes;
  q->first_seq = q->next_seq = 1;
  return 0;
}

void sn_queue_free(sn_queue *q) {
  if (q->slots == NULL)
    return;
  for (size_t i = 0; i < q->span; i++)
    free(q->slots[(q->head + i) % q->cap]);
  free(q->slots);
  q->slots = NULL;
}

/* Advances head past holes left by consumers, so the oldest slot is live. */
static void sn__trim(sn_queue *q) {
  while (q->span > 0 && q->slots[q->head] == NULL) {
    q->head = (q->head + 1) % q->cap;
    q->span--;
    q->first_seq++;
  }
}

static void sn__drop_oldest(sn_queue *q) {
  sn_item *it = q->slots[q->head];
  q->slots[q->head] = NULL;
  q->len--;
  q->bytes -= it->len;
  q->dropped++;
  q->last_drop_seq = it->seq;
  free(it);
  sn__trim(q);
}

sn_item *sn_queue_push(sn_queue *q, const void *data, size_t len, int bin, uint64_t ts_ms,
                       uint64_t gseq) {
  sn_item *it;

  if ((q->max_bytes && len > q->max_bytes) || len > UINT32_MAX)
    return NULL;
  while (q->span == q->cap || (q->max_bytes && q->bytes + len > q->max_bytes))
    sn__drop_oldest(q);
  it = sn_malloc(sizeof(*it) + len + 1);
  it->seq = q->next_seq++;
  it->ts_ms = ts_ms;
  it->gseq = gseq;
  it->len = (uint32_t)len;
  it->bin = (uint8_t)(bin != 0);
  it->leased = 0;
  memcpy(it->data, data, len);
  it->data[len] = '\0';
  if (q->span == 0)
    q->first_seq = it->seq;
  q->slots[sn__slot(q, it->seq)] = it;
  q->span++;
  q->len++;
  q->bytes += len;
  return it;
}

static sn_item *sn__peek(sn_queue *q, uint64_t *cursor, sn_gap *gap, int skip_leased) {
  gap->from = gap->to = 0;
  if (*cursor < q->first_seq) {
    if (q->last_drop_seq >= *cursor) {
      gap->from = *cursor;
      gap->to = q->first_seq;
    }
    *cursor = q->first_seq;
  }
  while (*cursor < q->next_seq) {
    sn_item *it = q->slots[sn__slot(q, *cursor)];
    if (it && !(skip_leased && it->leased))
      return it;
    (*cursor)++; /* a hole left by a consumer (or its lease): skipped silently */
  }
  return NULL;
}

sn_item *sn_queue_peek(sn_queue *q, uint64_t *cursor, sn_gap *gap) { return sn__peek(q, cursor, gap, 0); }

sn_item *sn_queue_peek_free(sn_queue *q, uint64_t *cursor, sn_gap *gap) { return sn__peek(q, cursor, gap, 1); }

int sn_queue_lease(sn_queue *q, uint64_t seq, int leased) {
  sn_item *it;
  if (seq < q->first_seq || seq >= q->next_seq || (it = q->slots[sn__slot(q, seq)]) == NULL)
    return 0;
  it->leased = (uint8_t)(leased != 0);
  return 1;
}

void sn_queue_take(sn_queue *q, uint64_t seq) {
  size_t slot;
  sn_item *it;
  if (seq < q->first_seq || seq >= q->next_seq)
    return;
  slot = sn__slot(q, seq);
  it = q->slots[slot];
  if (it == NULL)
    return;
  q->slots[slot] = NULL;
  q->len--;
  q->bytes -= it->len;
  q->consumed++;
  free(it);
  sn__trim(q);
}

int sn_queue_resize(sn_queue *q, size_t cap, size_t max_bytes) {
  sn_item **slots;
  if (cap == 0)
    return -1;
  q->max_bytes = max_bytes;
  while (q->span > cap || (max_bytes && q->bytes > max_bytes))
    sn__drop_oldest(q);
  if (cap == q->cap)
    return 0;
  slots = sn_calloc(cap, sizeof(*slots));
  for (size_t i = 0; i < q->span; i++)
    slots[i] = q->slots[(q->head + i) % q->cap];
  free(q->slots);
  q->slots = slots;
  q->cap = cap;
  q->head = 0;
  return 0;
}

void sn_queue_skip_to(sn_queue *q, uint64_t seq) {
  while (q->next_seq < seq) {
    if (q->span == 0) { /* nothing kept: the window starts there */
      q->first_seq = q->next_seq = seq;
      return;
    }
    if (q->span == q->cap)
      sn__drop_oldest(q);
    else { /* a hole, as a consumer leaves it */
      q->slots[sn__slot(q, q->next_seq)] = NULL;
      q->span++;
      q->next_seq++;
    }
  }
}

sn_item *sn_queue_push_at(sn_queue *q, uint64_t seq, const void *data, size_t len, int bin, uint64_t ts_ms) {
  if (seq < q->next_seq)
    return NULL; /* already there */
  sn_queue_skip_to(q, seq);
  return sn_queue_push(q, data, len, bin, ts_ms, 0);
}

void sn_queue_restore_counters(sn_queue *q, uint64_t first_seq, uint64_t dropped, uint64_t consumed,
                               uint64_t last_drop_seq) {
  if (q->span == 0 && first_seq > q->next_seq)
    q->first_seq = q->next_seq = first_seq; /* the window's items, if any, follow */
  q->dropped = dropped;
  q->consumed = consumed;
  q->last_drop_seq = last_drop_seq;
}
