/* UTF-8 checks for text that leaves the node in JSON. jansson refuses to
 * build a string that is not valid UTF-8 (json_pack returns NULL), so any text
 * we cut to a length, or read from a worker's output, is repaired first. */
#ifndef SN_UTF8_H
#define SN_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at p (at most n bytes long),
 * or 0 when the bytes there are not one (overlong, surrogate, > U+10FFFF,
 * stray continuation, or cut short). */
size_t sn_utf8_seq(const unsigned char *p, size_t n);
/* True when p[0..n) is all valid UTF-8 (RFC 3629: no overlongs, surrogates
 * or code points above U+10FFFF). */
int sn_utf8_valid(const void *p, size_t n);
/* Repairs the NUL-terminated s in place: a sequence cut short at the end is
 * removed (the usual result of truncating to a byte length), every other
 * invalid byte becomes '?'. Returns the new length. */
size_t sn_utf8_fix(char *s);
/* Copies at most cap-1 bytes of s into out, never cutting a character, and
 * repairs what it copied. Returns out. */
char *sn_utf8_copy(char *out, size_t cap, const char *s);

#endif
