#include "sn_err.h"

#include <stdarg.h>
#include <stdio.h>

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
  return code;
}
