#include "sn_url.h"

#include <string.h>

#include "sn_node.h"
#include "sn_util.h"

int sn_url_ws_route(const char *path) {
  if (strcmp(path, "/m/cmd") == 0)
    return SN_ROLE_WS_CMD;
  if (strcmp(path, "/m/stat") == 0)
    return SN_ROLE_WS_STAT;
  if (strcmp(path, "/m/fetch") == 0 || strcmp(path, "/m/fetch/") == 0)
    return SN_ROLE_WS_FETCH_ALL;
  if (strncmp(path, "/m/fetch/", 9) == 0)
    return SN_ROLE_WS_FETCH;
  if (strcmp(path, "/w/ch") == 0)
    return SN_ROLE_WS_WCH;
  return SN_ROLE_NONE;
}

int sn_url_arg(const char *frag, size_t n, const char *name, char *buf, size_t len) {
  size_t nl = strlen(name);
  if (len == 0 || n < nl || memcmp(frag, name, nl) != 0 || (n > nl && frag[nl] != '='))
    return 0;
  if (n == nl || n - nl - 1 >= len) { /* bare name, or a value too long to be valid */
    buf[0] = '\0';
    return 1;
  }
  memcpy(buf, frag + nl + 1, n - nl - 1);
  buf[n - nl - 1] = '\0';
  return 1;
}

int sn_url_parse_from(const char *v, int all_tasks, uint64_t *seq) {
  if (strcmp(v, "oldest") == 0) {
    *seq = 0;
    return 0;
  }
  if (strcmp(v, "new") == 0) {
    *seq = UINT64_MAX;
    return 0;
  }
  if (all_tasks || sn_parse_u64(v, seq) != 0 || *seq == 0 || *seq == UINT64_MAX)
    return -1;
  return 0;
}

int sn_url_parse_range(const char *v, uint64_t min, uint64_t max, uint64_t *out) {
  uint64_t n;
  if (sn_parse_u64(v, &n) != 0 || n < min || n > max)
    return -1;
  *out = n;
  return 0;
}
