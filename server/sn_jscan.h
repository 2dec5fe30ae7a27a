/* A validating JSON scanner that finds where values are, without building them.
 *
 * The hot path keeps a worker's `data` as the exact bytes it sent: the scanner
 * checks that a frame is well-formed JSON (RFC 8259, UTF-8, depth-limited) and
 * hands back byte spans of the members asked for, so no item is ever decoded
 * and re-encoded. jansson is used for everything that is not hot. */
#ifndef SN_JSCAN_H
#define SN_JSCAN_H

#include <stddef.h>

#define SN_JSCAN_MAX_DEPTH 512

typedef struct sn_span {
  size_t off; /* offset of the value's first byte */
  size_t len; /* 0 when the member is absent */
} sn_span;

typedef struct sn_jscan_error {
  size_t pos;
  const char *text;
} sn_jscan_error;

/* Validates that buf[0..len) is exactly one JSON object (surrounding whitespace
 * allowed). For each of the nkeys keys, vals[i] receives the span of its value
 * (the last one if repeated). Keys are matched on their raw bytes, so a key
 * written with escapes matches nothing. Returns 0, or -1 with err filled. */
int sn_jscan_object(const char *buf, size_t len, const char *const *keys, int nkeys,
                    sn_span *vals, sn_jscan_error *err);

/* The elements of one member's array, found while validating (so a put's
 * items are not scanned a second time). Starts in a caller's fixed array and
 * moves to the heap when that is full; the caller owns it. */
typedef struct sn_jscan_list {
  sn_span *v;
  size_t n, cap;
  int owned; /* v is on the heap: sn_jscan_list_free frees it */
  int key;   /* index in keys[] of the member whose array is listed */
} sn_jscan_list;

void sn_jscan_list_init(sn_jscan_list *l, int key, sn_span *fixed, size_t cap);
void sn_jscan_list_free(sn_jscan_list *l);

/* sn_jscan_object that also lists the elements of keys[list->key]'s value
 * when it is an array (of the last such member; list->n is 0 otherwise). */
int sn_jscan_object_list(const char *buf, size_t len, const char *const *keys, int nkeys,
                         sn_span *vals, sn_jscan_list *list, sn_jscan_error *err);

/* Validates that buf[0..len) is exactly one JSON value. 0 or -1. */
int sn_jscan_value(const char *buf, size_t len, sn_jscan_error *err);

/* Iterates the elements of a validated array (span from sn_jscan_object).
 * Start with *pos = 0; returns 1 and fills elem (relative to buf) per element,
 * 0 at the end. */
int sn_jscan_array_next(const char *buf, sn_span array, size_t *pos, sn_span *elem);

/* True when span holds exactly the JSON string literal "lit" (no escapes). */
int sn_jscan_is_string(const char *buf, sn_span s, const char *lit);

#endif
