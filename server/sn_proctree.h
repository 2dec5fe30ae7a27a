/* Process trees from /proc: descendants of a pid, parents, resident memory.
 * Shared by the node (memory rule, stop escalation, orphans) and the shim. */
#ifndef SN_PROCTREE_H
#define SN_PROCTREE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct sn_pstat {
  pid_t pid, ppid, pgid;
  char state;
  unsigned long rss_kb;         /* resident memory */
  unsigned long long cpu_ticks; /* utime + stime, clock ticks */
  unsigned long long start_time; /* clock ticks since boot (sn_pstart_time) */
  unsigned long long vsize;      /* virtual memory, bytes */
} sn_pstat;

/* Parses a /proc/<pid>/stat line (NUL-terminated; no I/O): 0, or -1 when it
 * is not one. The command name may hold anything, ')' and spaces too. */
int sn_pstat_parse(const char *line, pid_t pid, sn_pstat *out);
/* Reads /proc/<pid>/stat; 0 or -1 when the process is gone. */
int sn_pstat_read(pid_t pid, sn_pstat *out);
/* The process table, sorted by ppid; grows to hold every process. */
typedef struct sn_ptab {
  sn_pstat *v; /* owned */
  size_t n, cap;
} sn_ptab;

/* Reads every process of the system into tab (however many there are).
 * 0, or -1 when /proc cannot be read or memory runs out (tab then holds
 * what was read). */
int sn_ptab_read(sn_ptab *tab);
void sn_ptab_free(sn_ptab *tab);
/* Descendants of root (not root itself) found in a table, as positions in it;
 * returns the count. */
size_t sn_pdescendants(const sn_pstat *tab, size_t n, pid_t root, size_t *out, size_t max);
/* When the process started (clock ticks since boot, /proc/PID/stat field 22):
 * with the pid, it names one process, even after the pid is reused. 0 when gone. */
unsigned long long sn_pstart_time(pid_t pid);
/* VmRSS of a process in kB, 0 when gone. */
unsigned long sn_prss_kb(pid_t pid);
/* Sends sig to every descendant of root (not root), repeatedly until none is
 * found or rounds run out; returns how many signals were sent. */
size_t sn_pkill_tree(pid_t root, int sig, int rounds);

#endif
