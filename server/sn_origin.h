/* Who may talk to the node from a browser: the Origin and Host policy.
 *
 * A page in a browser on the node's machine can reach 127.0.0.1 too. Without
 * an operator token nothing else stands between it and /m/cmd, so a request
 * that says it comes from a foreign origin is refused, and a Host that names
 * some other site (DNS rebinding: evil.example resolving to 127.0.0.1) too.
 * Pure functions of the header values, no I/O: unit-tested and fuzzed. */
#ifndef SN_ORIGIN_H
#define SN_ORIGIN_H

#include "sn_config.h"
#include "sn_err.h"

/* Decides on one request. host and origin are the header values, NULL when
 * absent; token_ok is true when the request carries the right operator token.
 * Returns 0 to serve it, or SN_EUNAUTH with err filled (answered with 403). */
int sn_origin_check(const sn_config *cfg, const char *host, const char *origin, int token_ok, sn_error *err);
/* True when the Host header value names this node: the listen address, a
 * loopback name or address, or an entry of allowed_hosts. */
int sn_origin_host_ok(const sn_config *cfg, const char *host);

#endif
