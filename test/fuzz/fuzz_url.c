/* What the node reads from a request line and its headers: the path's route,
 * query fragments ("name=value", as lws hands them over), fetch/stat numbers,
 * the Host/Origin policy, and the config's redis_url (the path, whole). The
 * input is split on NUL bytes into path, fragment, host and origin. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sn_config.h"
#include "sn_origin.h"
#include "sn_rurl.h"
#include "sn_url.h"
#include "sn_util.h"

static const char *next(const char **p, const char *end) {
  const char *s = *p;
  const char *z = memchr(s, '\0', (size_t)(end - s));
  *p = z ? z + 1 : end;
  return s;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static const char *const names[] = {"from", "batch", "consume", "ack", "window", "limit", "wait_ms",
                                      "interval_ms", "token"};
  char *copy = malloc(size + 1), v[64];
  const char *p = copy, *end = copy + size, *path, *frag, *host, *origin;
  static sn_config cfg;
  static int ready;
  uint64_t n;
  sn_error err = {0};
  if (!ready) {
    sn_config_init(&cfg);
    cfg.allowed_origins = json_pack("[s]", "https://dash.example");
    cfg.allowed_hosts = json_pack("[s]", "edge1.lan");
    ready = 1;
  }
  memcpy(copy, data, size);
  copy[size] = '\0';
  path = next(&p, end);
  frag = next(&p, end);
  host = p < end ? next(&p, end) : NULL;
  origin = p < end ? next(&p, end) : NULL;
  (void)sn_url_ws_route(path);
  sn_rurl ru;
  if (sn_rurl_parse(path, &ru, &err) == 0 &&
      (ru.port < 1 || ru.port > 65535 || ru.db < 0 || !ru.host[0] || strlen(ru.pass) >= sizeof(ru.pass)))
    abort(); /* what it accepts is within bounds */
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (sn_url_arg(frag, strlen(frag), names[i], v, sizeof(v))) {
      if (strlen(v) >= sizeof(v))
        abort();
      (void)sn_url_parse_from(v, (int)(i & 1), &n);
      (void)sn_url_parse_range(v, 1, 1000, &n);
      (void)sn_parse_u64(v, &n);
    }
  }
  (void)sn_origin_check(&cfg, host, origin, 0, &err);
  if (host)
    (void)sn_origin_host_ok(&cfg, host);
  free(copy);
  return 0;
}
