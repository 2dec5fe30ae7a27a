/* zinit's one-line text protocol (zinit 0.2.14 and earlier): one command per
 * connection ("status NAME\n"), a reply {"state":"ok"|"error","body":...},
 * then the connection closes. It has no create or delete: service files are
 * written into the config dir (on the threadpool) and then monitored; logs
 * come from "log snapshot". Answers are shaped like JSON-RPC's for the caller. */
#ifndef SN_ZINIT_TEXT_H
#define SN_ZINIT_TEXT_H

#include <stdint.h>

#include "sn_list.h"
#include "sn_zinit.h"

int sn_ztext_call(sn_zinit *z, const char *method, json_t *params, sn_zinit_cb cb, void *ud);
void sn_ztext_tick(sn_zinit *z, uint64_t now);
void sn_ztext_forget(sn_zinit *z, void *ud);
void sn_ztext_close_all(sn_zinit *z);

/* From sn_zinit.c. */
sn_list *sn_zinit_text_list(sn_zinit *z);
const char *sn_zinit_config_dir(const sn_zinit *z);
int sn_zinit_closing(const sn_zinit *z);
void sn_zinit_text_state(sn_zinit *z, int up);
uint64_t sn_zinit_retry_at(const sn_zinit *z);
void sn_zinit_maybe_free(sn_zinit *z);
struct sn_node *sn_zinit_node(sn_zinit *z);

#endif
