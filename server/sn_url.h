/* The parts of a request URL the node interprets: the route of a path and
 * the values of query arguments. lws splits the query into "name=value"
 * fragments (already URL-decoded); everything after that is here, pure, so
 * it can be unit-tested and fuzzed. */
#ifndef SN_URL_H
#define SN_URL_H

#include <stddef.h>
#include <stdint.h>

/* The websocket role of a path (SN_ROLE_*), SN_ROLE_NONE when unknown. */
int sn_url_ws_route(const char *path);
/* Matches one query fragment against name: 1 and the value copied into buf
 * when it is "name=value" or bare "name" (value ""), 0 otherwise. A value
 * that does not fit buf is given as "" (invalid for every number). */
int sn_url_arg(const char *frag, size_t n, const char *name, char *buf, size_t len);
/* The `from` of a fetch: "oldest" (0), "new" (UINT64_MAX) or a seq >= 1
 * (not for the all-tasks stream). 0, or -1 when invalid. */
int sn_url_parse_from(const char *v, int all_tasks, uint64_t *seq);
/* A decimal number within [min, max]. 0, or -1 when invalid or out of range. */
int sn_url_parse_range(const char *v, uint64_t min, uint64_t max, uint64_t *out);

#endif
