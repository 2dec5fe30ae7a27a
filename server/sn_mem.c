/* The heap's free memory: kept while the node is busy, given back when idle.
 *
 * glibc gives the free top of the heap back to the kernel as soon as it is
 * over 128 KiB. A queue taking in a burst writes its items into fresh 64 KiB
 * chunks, so with the memory of the last burst already given back every page
 * of them was a page fault, the kernel zeroing and charging it: 12 % of the
 * node's time on the batched data path. Now up to SN_MEM_KEEP of freed memory
 * stays for reuse while items or jobs flow, and goes back (malloc_trim) once
 * SN_MEM_IDLE_MS passed without either: an idle node is as small as before. */
#include "sn_node.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define SN_MEM_KEEP (64 << 20)
#define SN_MEM_MMAP (4 << 20) /* larger blocks are mapped and unmapped on their own */
#define SN_MEM_IDLE_MS 1000

void sn_mem_init(void) {
#ifdef __GLIBC__
  /* Setting one threshold turns off glibc's own adjusting of both: the
   * mmap threshold is set here to what that adjusting allowed for. */
  mallopt(M_TRIM_THRESHOLD, SN_MEM_KEEP);
  mallopt(M_MMAP_THRESHOLD, SN_MEM_MMAP);
#endif
}

void sn_mem_tick(sn_node *n, uint64_t now) {
  uint64_t mark = n->gseq + n->jobs_done_total;
  if (mark != n->mem_mark) { /* busy since the last tick */
    n->mem_mark = mark;
    n->mem_busy_ms = now;
    n->mem_trimmed = 0;
    return;
  }
  if (n->mem_trimmed || now - n->mem_busy_ms < SN_MEM_IDLE_MS)
    return;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  n->mem_trimmed = 1;
}
