#include "sn_jscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef struct sn__scanner {
  const unsigned char *p;
  size_t len;
  size_t pos;
  int depth;
  sn_jscan_error *err;
  sn_jscan_list *list; /* where the listed array's elements go, or NULL */
  int list_next;       /* the value about to be scanned is the listed member's */
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

/* Eight bytes at a time (SWAR, portable C: the same on the ARM boxes we run
 * on as on x86). Each test is exact: nonzero if and only if some byte of v
 * matches, so a clean word can be skipped whole. */
#define SN__ONES 0x0101010101010101ull
#define SN__HIGH 0x8080808080808080ull

static inline uint64_t sn__has_byte(uint64_t v, unsigned char c) {
  uint64_t x = v ^ (SN__ONES * c);
  return (x - SN__ONES) & ~x & SN__HIGH;
}

static inline uint64_t sn__load8(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof(v)); /* one unaligned load; no aliasing questions */
  return v;
}

/* Length of the run of bytes from p that a string holds as they are: not a
 * quote, backslash, control character or non-ASCII byte. With SSE2 (every
 * x86-64) sixteen bytes at a time and exact; otherwise a multiple of 8 (the
 * caller looks at the bytes after it one by one). */
static size_t sn__plain_run(const unsigned char *p, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), below = _mm_set1_epi8(0x1f);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    /* signed: bytes 0x20..0x7f are greater than 0x1f; controls and bytes
     * from 0x80 (negative) are not */
    __m128i plain = _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                     _mm_cmpgt_epi8(v, below));
    unsigned mask = (unsigned)_mm_movemask_epi8(plain);
    if (mask != 0xFFFFu)
      return i + (size_t)__builtin_ctz(~mask);
  }
#endif
  for (; i + 8 <= n; i += 8) {
    uint64_t v = sn__load8(p + i);
    /* below 0x20: (v - 0x20..) & ~v & 0x80.., exact for bytes < 0x80, and
     * bytes >= 0x80 are caught by v & 0x80.. */
    uint64_t special = ((v - SN__ONES * 0x20) & ~v) | v;
    if ((special & SN__HIGH) | sn__has_byte(v, '"') | sn__has_byte(v, '\\'))
      break;
  }
  return i;
}

/* The same for a string already validated: only quotes and backslashes. */
static size_t sn__quote_free_run(const unsigned char *p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = sn__load8(p + i);
    if (sn__has_byte(v, '"') | sn__has_byte(v, '\\'))
      break;
  }
  return i;
}

static int sn__string(sn__scanner *s) {
  s->pos++; /* opening quote */
  while (s->pos < s->len) {
    s->pos += sn__plain_run(s->p + s->pos, s->len - s->pos);
    if (s->pos >= s->len)
      break;
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

/* Nonzero when all eight bytes of v are ASCII digits: each byte's high
 * nibble is 3, and adding 6 to it does not carry into that nibble. */
static inline int sn__all_digits(uint64_t v) {
  return (v & 0xF0F0F0F0F0F0F0F0ull) == 0x3030303030303030ull &&
         ((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) == 0x3030303030303030ull;
}

/* Eight digits at a time: timestamps (13 to 19 digits) are in most items. */
static int sn__digits(sn__scanner *s) {
  size_t start = s->pos;
  while (s->len - s->pos >= 8 && sn__all_digits(sn__load8(s->p + s->pos)))
    s->pos += 8;
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

/* Records the element that started at vstart and ended at s->pos. */
static int sn__list_add(sn__scanner *s, size_t vstart) {
  sn_jscan_list *l = s->list;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    sn_span *v = realloc(l->owned ? l->v : NULL, cap * sizeof(*v));
    if (v == NULL)
      return sn__fail(s, "out of memory");
    if (!l->owned && l->n)
      memcpy(v, l->v, l->n * sizeof(*v));
    l->v = v;
    l->cap = cap;
    l->owned = 1;
  }
  l->v[l->n].off = vstart;
  l->v[l->n].len = s->pos - vstart;
  l->n++;
  return 0;
}

/* Scans an object or array body after its opening bracket. For objects, calls
 * back with each key span and value span when keys is not NULL. */
static int sn__container(sn__scanner *s, char close, const char *const *keys, int nkeys,
                         sn_span *vals) {
  int first = 1;
  int listing = s->list_next && close == ']'; /* only the member's own array, not those inside */
  s->list_next = 0;
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
      int match = -1;
      for (int i = 0; i < nkeys; i++)
        if (strlen(keys[i]) == klen && memcmp(s->p + kstart + 1, keys[i], klen) == 0)
          match = i;
      if (match >= 0 && s->list && match == s->list->key) {
        s->list->n = 0; /* the last member of that name is the one that counts */
        s->list_next = 1;
      }
      if (sn__value(s))
        return -1;
      s->list_next = 0;
      if (match >= 0) {
        vals[match].off = vstart;
        vals[match].len = s->pos - vstart;
      }
    } else {
      size_t vstart = s->pos;
      if (sn__value(s))
        return -1;
      if (listing && sn__list_add(s, vstart))
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

int sn_jscan_object_list(const char *buf, size_t len, const char *const *keys, int nkeys,
                         sn_span *vals, sn_jscan_list *list, sn_jscan_error *err) {
  sn__scanner s = {(const unsigned char *)buf, len, 0, 0, err, list, 0};
  for (int i = 0; i < nkeys; i++)
    vals[i].off = vals[i].len = 0;
  if (list)
    list->n = 0;
  sn__ws(&s);
  if (s.pos >= len || s.p[s.pos] != '{')
    return sn__fail(&s, "expected a JSON object");
  if (sn__container(&s, '}', keys, nkeys, vals))
    return -1;
  return sn__end(&s);
}

int sn_jscan_object(const char *buf, size_t len, const char *const *keys, int nkeys,
                    sn_span *vals, sn_jscan_error *err) {
  return sn_jscan_object_list(buf, len, keys, nkeys, vals, NULL, err);
}

void sn_jscan_list_init(sn_jscan_list *l, int key, sn_span *fixed, size_t cap) {
  l->v = fixed;
  l->n = 0;
  l->cap = fixed ? cap : 0;
  l->owned = 0;
  l->key = key;
}

void sn_jscan_list_free(sn_jscan_list *l) {
  if (l->owned)
    free(l->v);
  l->v = NULL;
  l->n = l->cap = 0;
  l->owned = 0;
}

int sn_jscan_value(const char *buf, size_t len, sn_jscan_error *err) {
  sn__scanner s = {(const unsigned char *)buf, len, 0, 0, err, NULL, 0};
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
      for (;;) {
        pos += sn__quote_free_run(p + pos, end - pos);
        if (pos >= end || p[pos] == '"')
          break;
        pos += p[pos] == '\\' ? 2 : 1;
      }
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
  sn__scanner s = {(const unsigned char *)buf, array.off + array.len, 0, 0, NULL, NULL, 0};
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
