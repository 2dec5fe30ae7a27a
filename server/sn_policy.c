#include "sn_policy.h"

#include <stdlib.h>
#include <string.h>

#include "sn_util.h"

void sn_policy_init(sn_policy *p) { memset(p, 0, sizeof(*p)); }

void sn_policy_free(sn_policy *p) {
  free(p->times);
  memset(p, 0, sizeof(*p));
}

void sn_policy_reset(sn_policy *p) {
  p->backoff_ms = 0;
  p->ntimes = p->head = 0;
}

/* Records a restart at now and returns how many fall inside the window. */
static uint64_t sn__record(sn_policy *p, uint64_t cap, uint64_t now, uint64_t window) {
  if (p->ntimes_cap != cap) {
    free(p->times);
    p->times = sn_calloc(cap, sizeof(*p->times));
    p->ntimes_cap = cap;
    p->ntimes = p->head = 0;
  }
  p->times[(p->head + p->ntimes) % cap] = now;
  if (p->ntimes < cap)
    p->ntimes++;
  else
    p->head = (p->head + 1) % cap;
  uint64_t inside = 0;
  for (uint64_t i = 0; i < p->ntimes; i++)
    if (now - p->times[(p->head + i) % cap] < window)
      inside++;
  return inside;
}

int sn_policy_on_exit(sn_policy *p, const sn_taskconf *c, int clean, uint64_t now_ms,
                      uint64_t ran_ms, uint64_t *delay_ms) {
  if (c->exec_interval_ms > 0 && clean) {
    *delay_ms = c->exec_interval_ms;
    return SN_NEXT_PERIODIC;
  }
  if (c->restart == SN_RESTART_NEVER || (c->restart == SN_RESTART_ON_FAILURE && clean))
    return SN_NEXT_STOP;
  if (ran_ms >= SN_HEALTHY_RESET_MS || p->backoff_ms == 0)
    p->backoff_ms = c->backoff_ms;
  /* Keep max_restarts + 1 timestamps: one more than allowed marks a storm. */
  if (sn__record(p, c->max_restarts + 1, now_ms, c->restart_window_ms) > c->max_restarts)
    return SN_NEXT_FAIL;
  *delay_ms = p->backoff_ms;
  if (c->exec_interval_ms > *delay_ms)
    *delay_ms = c->exec_interval_ms; /* a failed periodic run still waits its interval */
  p->backoff_ms = p->backoff_ms * 2 > c->backoff_max_ms ? c->backoff_max_ms : p->backoff_ms * 2; /* 64-bit */
  return c->exec_interval_ms > 0 ? SN_NEXT_PERIODIC : SN_NEXT_RESTART;
}
