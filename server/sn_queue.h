/* The per-task queue: a bounded ring of items ordered by seq.
 *
 * Items are numbered from 1 per task. When the ring is full (queue_len items,
 * or queue_bytes bytes), the oldest item is dropped and counted. Readers keep a
 * cursor (the next seq they want); a cursor that fell behind gets a gap. Items
 * taken by consumers leave holes that cursor readers skip without a gap.
 * Pure data structure: no I/O, no loop, unit-tested alone. */
#ifndef SN_QUEUE_H
#define SN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "sn_list.h"

/* Items live packed in chunks (a FIFO of blocks of up to SN_QCHUNK_MAX bytes),
 * not one allocation each: 20 bytes of header, the data, padding to 4. seq,
 * ts_ms and gseq are kept as 32-bit offsets from their chunk's base (a push
 * whose offsets do not fit starts a new chunk). With the slot pointer that is
 * 28-31 bytes per item beyond its data, where a malloc each cost 52 (its own
 * header and rounding, and a 32-byte item header). */
typedef struct sn_qchunk {
  sn_list link;       /* in the queue's chunks, oldest first */
  uint64_t seq0, ts0, gseq0;
  uint32_t size;      /* bytes for items */
  uint32_t used;      /* bytes taken by items so far */
  uint32_t live;      /* items still in the queue */
  uint32_t pad;
  unsigned char items[]; /* 8-aligned */
} sn_qchunk;

#define SN_ITEM_BIN (1u << 31)    /* in off: raw bytes rather than JSON */
#define SN_ITEM_LEASED (1u << 30) /* in off: sent to a consumer that has not confirmed it yet */
#define SN_ITEM_OFF_MASK (SN_ITEM_LEASED - 1)

typedef struct sn_item {
  uint32_t len;
  uint32_t off;   /* bytes from its chunk's start, plus the flags above */
  uint32_t dseq, dts, dgseq; /* seq, ts_ms and gseq less the chunk's bases */
  char data[];    /* len bytes (no NUL) */
} sn_item;

static inline const sn_qchunk *sn_item_chunk(const sn_item *it) {
  return (const sn_qchunk *)(const void *)((const char *)it - (it->off & SN_ITEM_OFF_MASK));
}
static inline uint64_t sn_item_seq(const sn_item *it) { return sn_item_chunk(it)->seq0 + it->dseq; }
static inline uint64_t sn_item_ts(const sn_item *it) { return sn_item_chunk(it)->ts0 + it->dts; }
static inline uint64_t sn_item_gseq(const sn_item *it) { return sn_item_chunk(it)->gseq0 + it->dgseq; }
static inline int sn_item_bin(const sn_item *it) { return (it->off & SN_ITEM_BIN) != 0; }
static inline int sn_item_leased(const sn_item *it) { return (it->off & SN_ITEM_LEASED) != 0; }

typedef struct sn_queue {
  sn_item **slots;     /* by seq: the item, or NULL for a hole */
  sn_list chunks;      /* sn_qchunk, oldest first; owned */
  size_t cap;          /* queue_len */
  size_t max_bytes;    /* queue_bytes, 0 = unbounded */
  size_t head;         /* slot holding first_seq */
  size_t span;         /* next_seq - first_seq: live items plus holes */
  size_t len;          /* live items */
  size_t bytes;        /* sum of live items' len */
  uint64_t first_seq;  /* oldest seq still in the ring (== next_seq when empty) */
  uint64_t next_seq;
  uint64_t dropped;
  uint64_t consumed;
  uint64_t last_drop_seq; /* highest seq ever dropped, 0 if none */
} sn_queue;

/* Largest item: offsets within a chunk must fit in 30 bits. */
#define SN_QITEM_MAX ((size_t)SN_ITEM_OFF_MASK - 4096)

typedef struct sn_gap {
  uint64_t from, to; /* seqs from..to-1 were dropped; from == to means no gap */
} sn_gap;

int sn_queue_init(sn_queue *q, size_t cap, size_t max_bytes);
void sn_queue_free(sn_queue *q);

/* Copies len bytes into a new item with the next seq. Returns the item (owned by
 * the queue, valid until it is dropped or taken) or NULL if the item alone exceeds
 * max_bytes (or SN_QITEM_MAX). */
sn_item *sn_queue_push(sn_queue *q, const void *data, size_t len, int bin, uint64_t ts_ms,
                       uint64_t gseq);

/* Replay of a queue log: pushes an item with the seq it had (seqs skipped
 * are holes, as consumers leave them), and sets the counters kept at a rewrite. */
sn_item *sn_queue_push_at(sn_queue *q, uint64_t seq, const void *data, size_t len, int bin, uint64_t ts_ms);
/* Moves next_seq up to seq (holes; an empty queue just starts there). */
void sn_queue_skip_to(sn_queue *q, uint64_t seq);
void sn_queue_restore_counters(sn_queue *q, uint64_t first_seq, uint64_t dropped, uint64_t consumed,
                               uint64_t last_drop_seq);

/* The item at or after *cursor, or NULL if none yet. If the cursor points below
 * the oldest item kept and drops happened there, fills gap and moves the cursor
 * to the oldest kept. Never moves the cursor past the item returned. */
sn_item *sn_queue_peek(sn_queue *q, uint64_t *cursor, sn_gap *gap);

/* As sn_queue_peek, but also skips items leased to a consumer: what another
 * consumer may be given. */
sn_item *sn_queue_peek_free(sn_queue *q, uint64_t *cursor, sn_gap *gap);

/* Removes the item with this seq (a consumer took it). */
void sn_queue_take(sn_queue *q, uint64_t seq);
/* Marks the item as sent to a consumer, or returns it to the others. The
 * item stays in the queue (and counts against its limits) until taken.
 * Return 1 when the item is still there, 0 when it was dropped meanwhile. */
int sn_queue_lease(sn_queue *q, uint64_t seq, int leased);

/* Changes the limits, dropping (and counting) the oldest items that no longer fit. */
int sn_queue_resize(sn_queue *q, size_t cap, size_t max_bytes);

#endif
