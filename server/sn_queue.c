#include "sn_queue.h"

#include <stdlib.h>
#include <string.h>

#include "sn_util.h"

/* Callers ask only for seqs in the window (seq - first_seq < cap) and head <
 * cap, so one subtraction wraps: no division per item. */
static size_t sn__slot(const sn_queue *q, uint64_t seq) {
  size_t i = q->head + (size_t)(seq - q->first_seq);
  return i >= q->cap ? i - q->cap : i;
}

int sn_queue_init(sn_queue *q, size_t cap, size_t max_bytes) {
  if (cap == 0)
    return -1;
  memset(q, 0, sizeof(*q));
  q->slots = sn_calloc(cap, sizeof(*q->slots));
  sn_list_init(&q->chunks);
  q->cap = cap;
  q->max_bytes = max_bytes;
  q->first_seq = q->next_seq = 1;
  return 0;
}

void sn_queue_free(sn_queue *q) {
  sn_list *pos, *tmp;
  if (q->slots == NULL)
    return;
  sn_list_foreach(pos, tmp, &q->chunks) {
    sn_list_remove(pos);
    free(sn_list_entry(pos, sn_qchunk, link));
  }
  free(q->slots);
  q->slots = NULL;
}

/* ---- chunks ---- */

#define SN_QCHUNK_MIN 1024u         /* a small queue's chunks stay small */
#define SN_QCHUNK_MAX (64u << 10)

static size_t sn__item_size(size_t len) { return (sizeof(sn_item) + len + 3) & ~(size_t)3; }

/* A chunk about an eighth of what the queue holds, so a small or idle queue
 * costs a kilobyte and a big one allocates rarely. */
static sn_qchunk *sn__chunk_new(sn_queue *q, size_t need) {
  size_t size = q->bytes / 8;
  sn_qchunk *ch;
  if (size < SN_QCHUNK_MIN)
    size = SN_QCHUNK_MIN;
  if (size > SN_QCHUNK_MAX)
    size = SN_QCHUNK_MAX;
  if (size < need)
    size = need;
  ch = sn_malloc(sizeof(*ch) + size);
  ch->size = (uint32_t)size;
  ch->used = ch->live = ch->pad = 0;
  sn_list_push(&q->chunks, &ch->link);
  return ch;
}

/* Room for an item of `need` bytes whose offsets from the chunk's bases fit. */
static int sn__fits(const sn_qchunk *ch, size_t need, uint64_t seq, uint64_t ts, uint64_t gseq) {
  return ch->used + need <= ch->size && seq - ch->seq0 <= UINT32_MAX && ts >= ch->ts0 &&
         ts - ch->ts0 <= UINT32_MAX && gseq >= ch->gseq0 && gseq - ch->gseq0 <= UINT32_MAX;
}

static sn_item *sn__alloc(sn_queue *q, size_t len, uint64_t seq, uint64_t ts, uint64_t gseq) {
  size_t need = sn__item_size(len);
  sn_qchunk *ch = sn_list_empty(&q->chunks) ? NULL : sn_list_entry(q->chunks.prev, sn_qchunk, link);
  sn_item *it;
  if (ch == NULL || !sn__fits(ch, need, seq, ts, gseq))
    ch = sn__chunk_new(q, need);
  if (ch->used == 0) { /* a new chunk: its bases are this item's values */
    ch->seq0 = seq;
    ch->ts0 = ts;
    ch->gseq0 = gseq;
  }
  it = (sn_item *)(void *)(ch->items + ch->used);
  it->len = (uint32_t)len;
  it->off = (uint32_t)((unsigned char *)it - (unsigned char *)ch);
  it->dseq = (uint32_t)(seq - ch->seq0);
  it->dts = (uint32_t)(ts - ch->ts0);
  it->dgseq = (uint32_t)(gseq - ch->gseq0);
  ch->used += (uint32_t)need;
  ch->live++;
  return it;
}

/* The item left the queue: its chunk goes when nothing in it is left. */
static void sn__release(sn_item *it) {
  sn_qchunk *ch = (sn_qchunk *)sn_item_chunk(it);
  if (--ch->live > 0)
    return;
  sn_list_remove(&ch->link);
  free(ch);
}

/* Advances head past holes left by consumers, so the oldest slot is live. */
static void sn__trim(sn_queue *q) {
  while (q->span > 0 && q->slots[q->head] == NULL) {
    q->head = q->head + 1 == q->cap ? 0 : q->head + 1;
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
  q->last_drop_seq = sn_item_seq(it);
  sn__release(it);
  sn__trim(q);
}

sn_item *sn_queue_push(sn_queue *q, const void *data, size_t len, int bin, uint64_t ts_ms,
                       uint64_t gseq) {
  sn_item *it;
  uint64_t seq;

  if ((q->max_bytes && len > q->max_bytes) || len > SN_QITEM_MAX)
    return NULL;
  while (q->span == q->cap || (q->max_bytes && q->bytes + len > q->max_bytes))
    sn__drop_oldest(q);
  seq = q->next_seq++;
  it = sn__alloc(q, len, seq, ts_ms, gseq);
  if (bin)
    it->off |= SN_ITEM_BIN;
  if (len)
    memcpy(it->data, data, len);
  if (q->span == 0)
    q->first_seq = seq;
  q->slots[sn__slot(q, seq)] = it;
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
    if (it && !(skip_leased && sn_item_leased(it)))
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
  if (leased)
    it->off |= SN_ITEM_LEASED;
  else
    it->off &= ~SN_ITEM_LEASED;
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
  sn__release(it);
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
