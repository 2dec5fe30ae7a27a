/* Error codes of the node: one table, the protocol name and HTTP status of each.
 * Functions return 0 or a negative SN_E* code; where a human message helps, they
 * also fill a caller-supplied sn_error (first error set wins, like json_error_t). */
#ifndef SN_ERR_H
#define SN_ERR_H

#include <jansson.h>
#include <stddef.h>

#define SN_ERR_MAP(XX)                                   \
  XX(BADJSON, "bad_json", 400)                           \
  XX(BADREQ, "bad_request", 400)                         \
  XX(UNKNOWNCMD, "unknown_cmd", 400)                     \
  XX(UNAUTH, "unauthorized", 401)                        \
  XX(NOTFOUND, "not_found", 404)                         \
  XX(CONFLICT, "conflict", 409)                          \
  XX(TOOLARGE, "too_large", 413)                         \
  XX(UNAVAIL, "unavailable", 503)                        \
  XX(INTERNAL, "internal", 500)

enum {
  SN_OK = 0,
#define XX(name, str, http) SN_E##name,
  SN_ERR_FIRST_ = -100,
  SN_ERR_MAP(XX)
#undef XX
};

typedef struct sn_error {
  int code;
  char msg[240];
} sn_error;

const char *sn_err_name(int code);
int sn_err_http(int code);
/* Records code and message in err (if err and no error yet) and returns code. */
int sn_seterr(sn_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The error object of a reply, {"ok":false,"error":{code,message}}, or of an
 * event frame, {"type":"error","error":{...}}. The message is repaired to
 * valid UTF-8 first; never NULL (a reply we cannot build is still a reply). */
json_t *sn_err_json(int code, const char *msg, int event);
/* json_dumps(o, JSON_COMPACT) that never returns NULL: a NULL o (a json_pack
 * that failed) or a failed dump gives an "internal" error body. Free it. */
char *sn_json_dumps_safe(const json_t *o);

#endif
