#include "sn_origin.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

/* Splits "name", "name:port", "[v6]" or "[v6]:port" into its name part
 * (without brackets). Returns 0, or -1 when the value is malformed. */
static int sn__host_name(const char *host, char *out, size_t cap) {
  const char *end;
  size_t n;
  if (host[0] == '[') {
    if ((end = strchr(host, ']')) == NULL || (end[1] != '\0' && end[1] != ':'))
      return -1;
    host++;
  } else {
    end = strchr(host, ':');
    if (end == NULL)
      end = host + strlen(host);
    else if (strchr(end + 1, ':'))
      return -1; /* a bare IPv6 address is not a valid Host */
  }
  n = (size_t)(end - host);
  if (n == 0 || n >= cap)
    return -1;
  memcpy(out, host, n);
  out[n] = '\0';
  if (*end == ']')
    end++;
  if (*end == ':') /* the port: digits only */
    for (end++; *end; end++)
      if (*end < '0' || *end > '9')
        return -1;
  return 0;
}

static int sn__is_loopback(const char *name) {
  unsigned char a[16];
  size_t n = strlen(name);
  if (strcasecmp(name, "localhost") == 0 || (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0))
    return 1;
  if (inet_pton(AF_INET, name, a) == 1)
    return a[0] == 127;
  if (inet_pton(AF_INET6, name, a) == 1) {
    static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, lo6, 16) == 0 || (memcmp(a, v4mapped, 12) == 0 && a[12] == 127);
  }
  return 0;
}

static int sn__is_ip(const char *name) {
  unsigned char a[16];
  return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

static int sn__listed(const json_t *list, const char *s) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (json_is_string(e) && strcasecmp(json_string_value(e), s) == 0)
      return 1;
  }
  return 0;
}

int sn_origin_host_ok(const sn_config *cfg, const char *host) {
  char name[256];
  const char *listen = cfg->listen_host;
  if (sn__host_name(host, name, sizeof(name)) != 0)
    return 0;
  if (sn__is_loopback(name) || strcasecmp(name, listen) == 0 || sn__listed(cfg->allowed_hosts, name))
    return 1;
  /* Listening on every address: any address of the machine may be used, and
   * an address literal cannot be rebound (rebinding needs a DNS name). */
  return (strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0) && sn__is_ip(name);
}

/* The node's own origin as the browser sees it: scheme and the Host it used. */
static int sn__same_origin(const char *host, const char *origin) {
  static const char scheme[] = "http://";
  if (host == NULL || strncasecmp(origin, scheme, sizeof(scheme) - 1) != 0)
    return 0;
  return strcasecmp(origin + sizeof(scheme) - 1, host) == 0;
}

int sn_origin_check(const sn_config *cfg, const char *host, const char *origin, int token_ok, sn_error *err) {
  if (token_ok)
    return 0; /* a client that knows the token may come from any page or name */
  if (cfg->operator_token == NULL && host && !sn_origin_host_ok(cfg, host))
    return sn_seterr(err, SN_EUNAUTH, "Host '%.100s' does not name this node: add it to allowed_hosts", host);
  if (origin == NULL || sn__same_origin(host, origin) || sn__listed(cfg->allowed_origins, origin))
    return 0;
  if (cfg->operator_token)
    return sn_seterr(err, SN_EUNAUTH, "cross-origin requests must present the operator token");
  return sn_seterr(err, SN_EUNAUTH, "Origin '%.100s' is not allowed: add it to allowed_origins or set operator_token",
                   origin);
}
