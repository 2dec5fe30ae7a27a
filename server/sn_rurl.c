#include "sn_rurl.h"

#include <stdlib.h>
#include <string.h>

static int sn__hex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..n) into out (cap bytes, NUL-terminated). 0 or -1. */
static int sn__decode(const char *s, size_t n, char *out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= n || (hi = sn__hex(s[i + 1])) < 0 || (lo = sn__hex(s[i + 2])) < 0)
        return -1;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || k + 1 >= cap)
      return -1;
    out[k++] = c;
  }
  out[k] = '\0';
  return 0;
}

/* A decimal in [lo, hi] made of s[0..n). */
static int sn__number(const char *s, size_t n, long lo, long hi, int *out) {
  long v = 0;
  if (n == 0 || n > 9)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi)
    return -1;
  *out = (int)v;
  return 0;
}

static int sn__userinfo(const char *s, size_t n, sn_rurl *u, sn_error *err) {
  const char *colon = memchr(s, ':', n);
  if (colon == NULL) /* "redis://pass@host" is read as a password, as redis-cli does */
    return sn__decode(s, n, u->pass, sizeof(u->pass)) ? (sn_seterr(err, SN_EBADREQ, "redis_url: bad password"), -1) : 0;
  if (sn__decode(s, (size_t)(colon - s), u->user, sizeof(u->user)))
    return sn_seterr(err, SN_EBADREQ, "redis_url: bad user name"), -1;
  if (sn__decode(colon + 1, n - (size_t)(colon - s) - 1, u->pass, sizeof(u->pass)))
    return sn_seterr(err, SN_EBADREQ, "redis_url: bad password"), -1;
  return 0;
}

int sn_rurl_parse(const char *url, sn_rurl *u, sn_error *err) {
  const char *p, *end, *at, *hostend, *portp = NULL;
  memset(u, 0, sizeof(*u));
  u->port = 6379;
  if (strncmp(url, "rediss://", 9) == 0)
    return sn_seterr(err, SN_EBADREQ, "redis_url: rediss:// (TLS) is not available: Debian's hiredis 0.14 has no TLS; "
                                      "use redis:// on a private network or through a TLS tunnel"), -1;
  if (strncmp(url, "redis://", 8) != 0)
    return sn_seterr(err, SN_EBADREQ, "redis_url must be redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"), -1;
  p = url + 8;
  end = p + strcspn(p, "/?#");
  /* The last '@' before the path ends the user info (an unencoded '@' in a password still works). */
  at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@')
      at = q;
  if (at && sn__userinfo(p, (size_t)(at - p), u, err))
    return -1;
  p = at ? at + 1 : p;
  if (*p == '[') { /* [v6]:port */
    hostend = memchr(p, ']', (size_t)(end - p));
    if (hostend == NULL || hostend == p + 1)
      return sn_seterr(err, SN_EBADREQ, "redis_url: bad [IPv6] host"), -1;
    if (hostend + 1 < end && hostend[1] != ':')
      return sn_seterr(err, SN_EBADREQ, "redis_url: bad [IPv6] host"), -1;
    portp = hostend + 1 < end ? hostend + 2 : NULL;
    p++;
  } else {
    hostend = memchr(p, ':', (size_t)(end - p));
    portp = hostend ? hostend + 1 : NULL;
    hostend = hostend ? hostend : end;
  }
  if (hostend == p || (size_t)(hostend - p) >= sizeof(u->host))
    return sn_seterr(err, SN_EBADREQ, "redis_url: the host is missing or too long"), -1;
  memcpy(u->host, p, (size_t)(hostend - p));
  if (portp && sn__number(portp, (size_t)(end - portp), 1, 65535, &u->port))
    return sn_seterr(err, SN_EBADREQ, "redis_url: the port must be 1..65535"), -1;
  if (*end == '/' && end[1] && sn__number(end + 1, strcspn(end + 1, "?#"), 0, 1000000, &u->db))
    return sn_seterr(err, SN_EBADREQ, "redis_url: the database must be a number"), -1;
  if (*end == '?' || (*end == '/' && strpbrk(end, "?#")))
    return sn_seterr(err, SN_EBADREQ, "redis_url: options after '?' are not supported"), -1;
  return 0;
}
