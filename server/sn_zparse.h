/* What zinit says, decoded without I/O: JSON-RPC reply lines, the text
 * protocol's replies and log snapshots, and service states. Fed bytes by the
 * unit tests and the fuzzer; the clients in sn_zinit*.c only move bytes. */
#ifndef SN_ZPARSE_H
#define SN_ZPARSE_H

#include <jansson.h>
#include <stddef.h>

typedef struct sn_zreply {
  json_t *root;    /* owned; NULL when the line is not JSON */
  int jsonrpc;     /* has a "jsonrpc" member (protocol detection) */
  int has_id;
  long long id;
  json_t *result;  /* borrowed from root; NULL on error */
  json_t *error;   /* borrowed from root; NULL on success */
} sn_zreply;

/* Decodes one JSON-RPC reply line (without its newline). 0, or -1 when it is
 * not a JSON object. Free with sn_zreply_free either way. */
int sn_zreply_parse(const char *line, size_t len, sn_zreply *r);
void sn_zreply_free(sn_zreply *r);

/* Decodes a text-protocol reply {"state":"ok"|"error","body":...}: on ok,
 * *result is the body (new reference, json null when absent) and 0 is
 * returned; otherwise *error_text (in *root, or a literal) and *code (a
 * JSON-RPC-like code for the messages the backend relies on), and -1.
 * *root is owned by the caller. */
int sn_ztext_parse_reply(const char *buf, size_t len, json_t **root, json_t **result, const char **error_text,
                         int *code);
/* The lines of service name in a "log snapshot" ("[+] name: text"), as a
 * JSON array of strings (new reference; lines that are not UTF-8 are repaired). */
json_t *sn_ztext_log_lines(const char *name, const char *buf, size_t len);

/* True when a zinit service state is an ended run ("Success", "Failure...",
 * "Error(...Exited(...), N)" or "Signaled(..., SIG)"), with its exit code or
 * signal number. */
int sn_zstate_ended(const char *st, int *code, int *sig);

#endif
