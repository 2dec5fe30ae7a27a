/* supernode-ctl top: a refreshing table of the node's tasks. */
#ifndef CTL_TOP_H
#define CTL_TOP_H

#include "ctl_net.h"

enum ctl_sort { CTL_SORT_CPU, CTL_SORT_QUEUE, CTL_SORT_MEM, CTL_SORT_RESTARTS };

/* Parses "cpu", "queue", "mem" or "restarts"; -1 when none. */
int ctl_top_sort(const char *s);
/* Shows the table every interval_ms, frames times (0: until interrupted).
 * On a terminal each frame replaces the last. Returns an exit code. */
int ctl_top(const ctl_url *u, int sort, long interval_ms, long frames);

#endif
