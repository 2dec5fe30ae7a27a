/* Intrusive doubly linked list, in the manner of libuv's queue.h. */
#ifndef SN_LIST_H
#define SN_LIST_H

#include <stddef.h>

typedef struct sn_list {
  struct sn_list *prev, *next;
} sn_list;

static inline void sn_list_init(sn_list *l) { l->prev = l->next = l; }
static inline int sn_list_empty(const sn_list *l) { return l->next == l; }
/* An element not in any list points at itself (after init or remove). */
static inline int sn_list_linked(const sn_list *e) { return e->next != e && e->next != NULL; }

static inline void sn_list_push(sn_list *head, sn_list *e) {
  e->prev = head->prev;
  e->next = head;
  head->prev->next = e;
  head->prev = e;
}

static inline void sn_list_push_front(sn_list *head, sn_list *e) {
  e->next = head->next;
  e->prev = head;
  head->next->prev = e;
  head->next = e;
}

static inline void sn_list_remove(sn_list *e) {
  if (e->next == NULL || e->next == e)
    return;
  e->prev->next = e->next;
  e->next->prev = e->prev;
  e->prev = e->next = e;
}

static inline size_t sn_list_count(const sn_list *head) {
  size_t n = 0;
  for (const sn_list *e = head->next; e != head; e = e->next)
    n++;
  return n;
}

#define sn_list_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Safe against removal of the current element. */
#define sn_list_foreach(pos, tmp, head) \
  for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
