/* The validating JSON scanner of the hot path (worker puts). Oracle: what
 * jansson accepts within our depth limit, the scanner accepts too, what it
 * accepts is UTF-8, and the spans it returns lie inside the input and hold
 * valid JSON values. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sn_jscan.h"
#include "sn_utf8.h"

static int depth_of(const unsigned char *p, size_t n) {
  int d = 0, max = 0, in_str = 0;
  for (size_t i = 0; i < n; i++) {
    if (in_str) {
      if (p[i] == '\\')
        i++;
      else if (p[i] == '"')
        in_str = 0;
    } else if (p[i] == '"') {
      in_str = 1;
    } else if (p[i] == '[' || p[i] == '{') {
      if (++d > max)
        max = d;
    } else if (p[i] == ']' || p[i] == '}') {
      d--;
    }
  }
  return max;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  static const char *const keys[] = {"type", "data", "items"};
  const char *buf = (const char *)data;
  sn_span v[3];
  sn_jscan_error err;
  int obj = sn_jscan_object(buf, size, keys, 3, v, &err);
  int val = sn_jscan_value(buf, size, &err);
  json_t *j = json_loadb(buf, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

  /* jansson stops at a raw NUL byte (C strings); JSON never holds one. */
  if (j && memchr(data, 0, size) == NULL && depth_of(data, size) < SN_JSCAN_MAX_DEPTH && val != 0)
    abort(); /* jansson took it, the scanner did not */
  if ((obj == 0 || val == 0) && !sn_utf8_valid(buf, size))
    abort(); /* what it accepts is UTF-8: the worker channel relies on it (sn_http.c) */
  if (obj == 0) {
    for (int i = 0; i < 3; i++) {
      if (v[i].len == 0)
        continue;
      if (v[i].off + v[i].len > size || sn_jscan_value(buf + v[i].off, v[i].len, &err) != 0)
        abort();
      if (buf[v[i].off] == '[') {
        size_t pos = 0;
        sn_span e;
        while (sn_jscan_array_next(buf, v[i], &pos, &e))
          if (e.off < v[i].off || e.off + e.len > v[i].off + v[i].len || sn_jscan_value(buf + e.off, e.len, &err))
            abort();
      }
      (void)sn_jscan_is_string(buf, v[i], "put");
    }
  }
  json_decref(j);
  return 0;
}
