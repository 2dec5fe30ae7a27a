#include "sn_err.h"

#include <stdarg.h>
#include <stdio.h>

#include "sn_utf8.h"
#include "sn_util.h"

const char *sn_err_name(int code) {
  switch (code) {
#define XX(name, str, http) \
  case SN_E##name:          \
    return str;
    SN_ERR_MAP(XX)
#undef XX
  }
  return "internal";
}

int sn_err_http(int code) {
  switch (code) {
#define XX(name, str, http) \
  case SN_E##name:          \
    return http;
    SN_ERR_MAP(XX)
#undef XX
  }
  return 500;
}

int sn_seterr(sn_error *err, int code, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || err->code != 0)
    return code;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  /* The message may quote what a client sent and be cut to fit: keep it
   * valid UTF-8, or the JSON reply could not be built. */
  sn_utf8_fix(err->msg);
  return code;
}

#define SN__INTERNAL_BODY "{\"ok\":false,\"error\":{\"code\":\"internal\",\"message\":\"the reply could not be built\"}}"

json_t *sn_err_json(int code, const char *msg, int event) {
  char text[sizeof(((sn_error *)0)->msg)];
  json_t *o;
  sn_utf8_copy(text, sizeof(text), msg ? msg : "");
  if (event)
    o = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "code", sn_err_name(code), "message", text);
  else
    o = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", sn_err_name(code), "message", text);
  if (o == NULL) /* only out of memory is left: still answer something */
    o = json_object();
  return o;
}

char *sn_json_dumps_safe(const json_t *o) {
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  return s ? s : sn_strdup(SN__INTERNAL_BODY);
}
