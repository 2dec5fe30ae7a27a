/* A client for zinit's unix socket, JSON-RPC 2.0 (zinit 0.2.15 and later):
 * one connection carries many requests, each with an id and a deadline;
 * replies end with a newline. Non-blocking on the loop; reconnects with
 * backoff. Or zinit 0.2.14 and earlier's one-line text protocol (sn_zinit_text.c),
 * chosen by config or detected (auto: JSON-RPC first). */
#ifndef SN_ZINIT_H
#define SN_ZINIT_H

#include <jansson.h>

typedef struct sn_node sn_node;
typedef struct sn_zinit sn_zinit;

/* result is borrowed and NULL on error; error is {code, message} or NULL. */
typedef void (*sn_zinit_cb)(sn_zinit *z, json_t *result, json_t *error, void *ud);

enum { SN_ZPROTO_AUTO, SN_ZPROTO_JSONRPC, SN_ZPROTO_TEXT };

/* proto: SN_ZPROTO_*; config_dir: where the text protocol's service files go. */
sn_zinit *sn_zinit_new(sn_node *n, const char *socket_path, int proto, const char *config_dir);
void sn_zinit_close(sn_zinit *z);
int sn_zinit_up(const sn_zinit *z);
const char *sn_zinit_socket(const sn_zinit *z);
/* Sends method(params) (params stolen); cb (may be NULL) gets the answer, or
 * an error when the connection drops or the request times out. */
int sn_zinit_call(sn_zinit *z, const char *method, json_t *params, sn_zinit_cb cb, void *ud);
/* Forgets the callbacks that carry ud (its owner is going away). */
void sn_zinit_forget(sn_zinit *z, void *ud);

#endif
