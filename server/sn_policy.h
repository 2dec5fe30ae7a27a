/* The restart policy: what to do when a worker's run ends. Pure logic over
 * timestamps, so it is unit-tested without processes or a loop. */
#ifndef SN_POLICY_H
#define SN_POLICY_H

#include <stdint.h>

#include "sn_taskconf.h"

#define SN_HEALTHY_RESET_MS 60000 /* a run this long resets the backoff */

enum sn_next {
  SN_NEXT_STOP,     /* stay stopped (policy says so) */
  SN_NEXT_RESTART,  /* respawn after delay_ms (backoff) */
  SN_NEXT_PERIODIC, /* next periodic run after delay_ms */
  SN_NEXT_FAIL      /* restart storm: state failed until an operator acts */
};

typedef struct sn_policy {
  uint64_t backoff_ms;   /* the next backoff to apply; 0 before the first */
  uint64_t *times;       /* ring of recent restart times, owned */
  uint64_t ntimes_cap;
  uint64_t ntimes;
  uint64_t head;
} sn_policy;

void sn_policy_init(sn_policy *p);
void sn_policy_free(sn_policy *p);
/* Forgets the history (operator restart or update). */
void sn_policy_reset(sn_policy *p);
/* Decides after a run of ran_ms ended at now_ms; clean is exit code 0 without
 * a signal. Fills *delay_ms for RESTART and PERIODIC. */
int sn_policy_on_exit(sn_policy *p, const sn_taskconf *c, int clean, uint64_t now_ms,
                      uint64_t ran_ms, uint64_t *delay_ms);

#endif
