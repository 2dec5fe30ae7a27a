/* Small helpers shared by several parts: time, ids, allocation. */
#ifndef SN_UTIL_H
#define SN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the epoch (for ts_ms and at_ms fields). */
uint64_t sn_now_ms(void);
/* 1..128 chars of [A-Za-z0-9_:-]. */
int sn_valid_task_id(const char *s);
/* 1..128 chars of [A-Za-z0-9_-]. */
int sn_valid_kind(const char *s);
/* Fills out with 2*nbytes hex chars of randomness plus NUL; 0 or -1. */
int sn_random_hex(char *out, size_t nbytes);
/* The next reconnect delay: doubled, at most max_ms. */
static inline unsigned sn_backoff_next(unsigned cur_ms, unsigned max_ms) {
  return cur_ms * 2 > max_ms ? max_ms : cur_ms * 2;
}
/* Parses a decimal number of digits only (no sign, no spaces) that fits
 * uint64_t. 0, or -1 for anything else. */
int sn_parse_u64(const char *s, uint64_t *out);
/* mkdir -p: makes path and its missing parents with mode. 0, or -1 (errno). */
int sn_mkdir_p(const char *path, unsigned mode);
/* Constant-time comparison of two NUL-terminated secrets. */
int sn_secret_eq(const char *a, const char *b);

/* Allocation that never returns NULL: on out-of-memory the node cannot keep
 * its promises anyway, so it logs and aborts (like libuv on impossible failures). */
void *sn_malloc(size_t n);
void *sn_calloc(size_t n, size_t size);
void *sn_realloc(void *p, size_t n);
char *sn_strdup(const char *s);
char *sn_strndup(const char *s, size_t n);

#define sn_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
