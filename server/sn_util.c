#include "sn_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "sn_log.h"

uint64_t sn_now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static int sn__valid_name(const char *s, int allow_colon) {
  size_t n = 0;
  if (s == NULL)
    return 0;
  for (; s[n]; n++) {
    char c = s[n];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || (allow_colon && c == ':');
    if (!ok || n >= 128)
      return 0;
  }
  return n > 0;
}

int sn_valid_task_id(const char *s) { return sn__valid_name(s, 1); }
int sn_valid_kind(const char *s) { return sn__valid_name(s, 0); }

/* Random bytes come from getrandom 1 KiB at a time, each handed out once: a
 * job id each was one system call per job. Only the loop's thread calls this. */
static unsigned char sn__pool[1024];
static size_t sn__pool_used = sizeof(sn__pool);

int sn_random_hex(char *out, size_t nbytes) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *buf;
  if (nbytes > 64)
    return -1;
  if (sn__pool_used + nbytes > sizeof(sn__pool)) {
    if (getrandom(sn__pool, sizeof(sn__pool), 0) != (ssize_t)sizeof(sn__pool))
      return -1;
    sn__pool_used = 0;
  }
  buf = sn__pool + sn__pool_used;
  sn__pool_used += nbytes;
  for (size_t i = 0; i < nbytes; i++) {
    out[2 * i] = hex[buf[i] >> 4];
    out[2 * i + 1] = hex[buf[i] & 15];
  }
  out[2 * nbytes] = '\0';
  return 0;
}

int sn_secret_eq(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = (unsigned char)(la != lb);
  for (size_t i = 0; i < la && i < lb; i++)
    diff |= (unsigned char)(a[i] ^ b[i]);
  return diff == 0;
}

static void *sn__oom(size_t n) {
  sn_log(SN_LOG_ERROR, NULL, "out of memory allocating %zu bytes", n);
  abort();
}

void *sn_malloc(size_t n) {
  void *p = malloc(n ? n : 1);
  return p ? p : sn__oom(n);
}

void *sn_calloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  return p ? p : sn__oom(n * size);
}

void *sn_realloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  return q ? q : sn__oom(n);
}

char *sn_strdup(const char *s) { return sn_strndup(s, strlen(s)); }

char *sn_strndup(const char *s, size_t n) {
  char *p = sn_malloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

int sn_parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (s == NULL || *s == '\0')
    return -1;
  for (; *s; s++) {
    unsigned d = (unsigned)(*s - '0');
    if (d > 9 || v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int sn_mkdir_p(const char *path, unsigned mode) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(buf)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
    return -1;
  return 0;
}
