#include "sn_jscan.h"

#include <string.h>

typedef struct sn__scanner {
  const unsigned char *p;
  size_t len;
  size_t pos;
  int depth;
  sn_jscan_error *err;
} sn__scanner;

static int sn__fail(sn__scanner *s, const char *text) {
  if (s->err) {
    s->err->pos = s->pos;
    s->err->text = text;
  }
  return -1;
}

static void sn__ws(sn__scanner *s) {
  while (s->pos < s->len) {
    unsigned char c = s->p[s->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    s->pos++;
  }
}

static int sn__hex4(sn__scanner *s, unsigned *out) {
  unsigned v = 0;
  if (s->len - s->pos < 4)
    return sn__fail(s, "truncated \\u escape");
  for (int i = 0; i < 4; i++) {
    unsigned char c = s->p[s->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return sn__fail(s, "invalid \\u escape");
  }
  *out = v;
  return 0;
}

static int sn__escape(sn__scanner *s) {
  unsigned cp, lo;
  if (s->pos >= s->len)
    return sn__fail(s, "truncated escape");
  switch (s->p[s->pos++]) {
  case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
    return 0;
  case 'u':
    break;
  default:
    return sn__fail(s, "invalid escape");
  }
  if (sn__hex4(s, &cp))
    return -1;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return sn__fail(s, "lone low surrogate");
  if (cp < 0xD800 || cp > 0xDBFF)
    return 0;
  /* A high surrogate must be followed by \u and a low surrogate. */
  if (s->len - s->pos < 2 || s->p[s->pos] != '\\' || s->p[s->pos + 1] != 'u')
    return sn__fail(s, "lone high surrogate");
  s->pos += 2;
  if (sn__hex4(s, &lo))
    return -1;
  if (lo < 0xDC00 || lo > 0xDFFF)
    return sn__fail(s, "invalid surrogate pair");
  return 0;
}

/* Validates one UTF-8 sequence starting with lead byte c (already consumed). */
static int sn__utf8(sn__scanner *s, unsigned char c) {
  unsigned cp;
  int n;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 1; cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 2; cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3; cp = c & 0x07;
  } else {
    return sn__fail(s, "invalid UTF-8");
  }
  if (s->len - s->pos < (size_t)n)
    return sn__fail(s, "truncated UTF-8");
  for (int i = 0; i < n; i++) {
    unsigned char cc = s->p[s->pos++];
    if ((cc & 0xC0) != 0x80)
      return sn__fail(s, "invalid UTF-8");
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return sn__fail(s, "invalid UTF-8");
  return 0;
}

static int sn__string(sn__scanner *s) {
  s->pos++; /* opening quote */
  /* The common case, plain ASCII, stays in this tight loop. */
  while (s->pos < s->len) {
    unsigned char c = s->p[s->pos++];
    if (c == '"')
      return 0;
    if (c == '\\') {
      if (sn__escape(s))
        return -1;
    } else if (c < 0x20) {
      s->pos--;
      return sn__fail(s, "control character in string");
    } else if (c >= 0x80 && sn__utf8(s, c)) {
      return -1;
    }
  }
  return sn__fail(s, "unterminated string");
}

static int sn__digits(sn__scanner *s) {
  size_t start = s->pos;
  while (s->pos < s->len && s->p[s->pos] >= '0' && s->p[s->pos] <= '9')
    s->pos++;
  return s->pos > start ? 0 : sn__fail(s, "invalid number");
}

static int sn__number(sn__scanner *s) {
  if (s->p[s->pos] == '-')
    s->pos++;
  if (s->pos < s->len && s->p[s->pos] == '0')
    s->pos++;
  else if (sn__digits(s))
    return -1;
  if (s->pos < s->len && s->p[s->pos] == '.') {
    s->pos++;
    if (sn__digits(s))
      return -1;
  }
  if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
    s->pos++;
    if (s->pos < s->len && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
      s->pos++;
    if (sn__digits(s))
      return -1;
  }
  return 0;
}

static int sn__literal(sn__scanner *s, const char *lit) {
  size_t n = strlen(lit);
  if (s->len - s->pos < n || memcmp(s->p + s->pos, lit, n) != 0)
    return sn__fail(s, "invalid literal");
  s->pos += n;
  return 0;
}

static int sn__value(sn__scanner *s);

/* Scans an object or array body after its opening bracket. For objects, calls
 * back with each key span and value span when keys is not NULL. */
static int sn__container(sn__scanner *s, char close, const char *const *keys, int nkeys,
                         sn_span *vals) {
  int first = 1;
  if (++s->depth > SN_JSCAN_MAX_DEPTH)
    return sn__fail(s, "nesting too deep");
  s->pos++;
  for (;;) {
    sn__ws(s);
    if (s->pos >= s->len)
      return sn__fail(s, "unterminated container");
    if (s->p[s->pos] == close && first) {
      s->pos++;
      break;
    }
    if (close == '}') {
      size_t kstart = s->pos;
      if (s->p[s->pos] != '"')
        return sn__fail(s, "expected a key string");
      if (sn__string(s))
        return -1;
      size_t klen = s->pos - kstart - 2;
      sn__ws(s);
      if (s->pos >= s->len || s->p[s->pos] != ':')
        return sn__fail(s, "expected ':'");
      s->pos++;
      sn__ws(s);
      size_t vstart = s->pos;
      if (sn__value(s))
        return -1;
      for (int i = 0; i < nkeys; i++) {
        if (strlen(keys[i]) == klen && memcmp(s->p + kstart + 1, keys[i], klen) == 0) {
          vals[i].off = vstart;
          vals[i].len = s->pos - vstart;
        }
      }
    } else if (sn__value(s)) {
      return -1;
    }
    first = 0;
    sn__ws(s);
    if (s->pos >= s->len)
      return sn__fail(s, "unterminated container");
    if (s->p[s->pos] == ',') {
      s->pos++;
      sn__ws(s);
      if (s->pos < s->len && s->p[s->pos] == close)
        return sn__fail(s, "trailing comma");
      continue;
    }
    if (s->p[s->pos] != close)
      return sn__fail(s, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    s->pos++;
    break;
  }
  s->depth--;
  return 0;
}

static int sn__value(sn__scanner *s) {
  if (s->pos >= s->len)
    return sn__fail(s, "expected a value");
  switch (s->p[s->pos]) {
  case '{':
    return sn__container(s, '}', NULL, 0, NULL);
  case '[':
    return sn__container(s, ']', NULL, 0, NULL);
  case '"':
    return sn__string(s);
  case 't':
    return sn__literal(s, "true");
  case 'f':
    return sn__literal(s, "false");
  case 'n':
    return sn__literal(s, "null");
  default:
    if (s->p[s->pos] == '-' || (s->p[s->pos] >= '0' && s->p[s->pos] <= '9'))
      return sn__number(s);
    return sn__fail(s, "unexpected character");
  }
}

static int sn__end(sn__scanner *s) {
  sn__ws(s);
  return s->pos == s->len ? 0 : sn__fail(s, "trailing data after the value");
}

int sn_jscan_object(const char *buf, size_t len, const char *const *keys, int nkeys,
                    sn_span *vals, sn_jscan_error *err) {
  sn__scanner s = {(const unsigned char *)buf, len, 0, 0, err};
  for (int i = 0; i < nkeys; i++)
    vals[i].off = vals[i].len = 0;
  sn__ws(&s);
  if (s.pos >= len || s.p[s.pos] != '{')
    return sn__fail(&s, "expected a JSON object");
  if (sn__container(&s, '}', keys, nkeys, vals))
    return -1;
  return sn__end(&s);
}

int sn_jscan_value(const char *buf, size_t len, sn_jscan_error *err) {
  sn__scanner s = {(const unsigned char *)buf, len, 0, 0, err};
  sn__ws(&s);
  if (sn__value(&s))
    return -1;
  return sn__end(&s);
}

/* Skips one value that is known to be valid JSON: only strings and brackets
 * matter, so this is much cheaper than validating it again. */
static size_t sn__skip_valid(const unsigned char *p, size_t pos, size_t end) {
  int depth = 0;
  do {
    unsigned char c = p[pos++];
    if (c == '"') {
      while (pos < end && p[pos] != '"')
        pos += p[pos] == '\\' ? 2 : 1;
      pos++;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      depth--;
    } else if (depth == 0) {
      /* a number or literal: runs to the next delimiter */
      while (pos < end && p[pos] != ',' && p[pos] != ']' && p[pos] != '}' && p[pos] != ' ' &&
             p[pos] != '\n' && p[pos] != '\t' && p[pos] != '\r')
        pos++;
    }
  } while (depth > 0 && pos < end);
  return pos;
}

int sn_jscan_array_next(const char *buf, sn_span array, size_t *pos, sn_span *elem) {
  /* The array was validated already (sn_jscan_object), so elements are skipped, not re-checked. */
  sn__scanner s = {(const unsigned char *)buf, array.off + array.len, 0, 0, NULL};
  if (array.len == 0 || buf[array.off] != '[')
    return 0;
  s.pos = *pos == 0 ? array.off + 1 : *pos;
  sn__ws(&s);
  if (s.pos < s.len && s.p[s.pos] == ',') {
    s.pos++;
    sn__ws(&s);
  }
  if (s.pos >= s.len || s.p[s.pos] == ']')
    return 0;
  elem->off = s.pos;
  s.pos = sn__skip_valid(s.p, s.pos, s.len);
  elem->len = s.pos - elem->off;
  *pos = s.pos;
  return 1;
}

int sn_jscan_is_string(const char *buf, sn_span s, const char *lit) {
  size_t n = strlen(lit);
  return s.len == n + 2 && buf[s.off] == '"' && memcmp(buf + s.off + 1, lit, n) == 0;
}
