#include "sn_proctree.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads /proc/<pid>/<file> into buf as a C string; 0, or -1 when the
 * process is gone. */
static int sn__read_proc(pid_t pid, const char *file, char *buf, size_t cap) {
  char path[64];
  int fd;
  ssize_t n;
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
    return -1;
  n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

/* The next space-separated decimal field (a leading '-' allowed) at *p. */
static int sn__field(const char **p, long long *v) {
  const char *s = *p;
  long long x = 0;
  int neg = 0;
  if (*s++ != ' ')
    return -1;
  if (*s == '-')
    neg = 1, s++;
  if (*s < '0' || *s > '9')
    return -1;
  while (*s >= '0' && *s <= '9') {
    if (x > (LLONG_MAX - 9) / 10)
      return -1;
    x = x * 10 + (*s++ - '0');
  }
  *v = neg ? -x : x;
  *p = s;
  return 0;
}

/* Reads the table's figures from one line by hand: a full table is thousands
 * of lines every few seconds, and sscanf was a tenth of an idle node's time. */
int sn_pstat_parse(const char *line, pid_t pid, sn_pstat *out) {
  /* The command name may hold spaces and parentheses: parse after the last ')'. */
  const char *p = strrchr(line, ')');
  long long f[22]; /* fields 4 (ppid) to 24 (rss) of proc(5) */
  static long page_kb;
  if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[2] == ' ')
    return -1;
  out->state = p[2];
  p += 3;
  for (int i = 4; i <= 24; i++) {
    if (sn__field(&p, &f[i - 4]) != 0)
      return -1;
  }
  if (page_kb == 0)
    page_kb = sysconf(_SC_PAGESIZE) / 1024;
  out->pid = pid;
  out->ppid = (pid_t)f[4 - 4];
  out->pgid = (pid_t)f[5 - 4];
  out->cpu_ticks = (unsigned long long)(f[14 - 4] > 0 ? f[14 - 4] : 0) + (unsigned long long)(f[15 - 4] > 0 ? f[15 - 4] : 0);
  out->start_time = f[22 - 4] > 0 ? (unsigned long long)f[22 - 4] : 0;
  out->vsize = f[23 - 4] > 0 ? (unsigned long long)f[23 - 4] : 0;
  out->rss_kb = f[24 - 4] > 0 ? (unsigned long)f[24 - 4] * (unsigned long)page_kb : 0;
  return 0;
}

int sn_pstat_read(pid_t pid, sn_pstat *out) {
  char buf[1024];
  if (sn__read_proc(pid, "stat", buf, sizeof(buf)) != 0)
    return -1;
  return sn_pstat_parse(buf, pid, out);
}

unsigned long long sn_pstart_time(pid_t pid) {
  sn_pstat st;
  return sn_pstat_read(pid, &st) == 0 ? st.start_time : 0;
}

static int sn__by_ppid(const void *a, const void *b) {
  const sn_pstat *x = a, *y = b;
  return x->ppid < y->ppid ? -1 : x->ppid > y->ppid;
}

int sn_ptab_read(sn_ptab *tab) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int rc = 0;
  tab->n = 0;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0)
      continue;
    if (tab->n == tab->cap) {
      size_t cap = tab->cap ? tab->cap * 2 : 1024;
      sn_pstat *v = realloc(tab->v, cap * sizeof(*v));
      if (v == NULL) {
        rc = -1;
        break;
      }
      tab->v = v;
      tab->cap = cap;
    }
    if (sn_pstat_read((pid_t)pid, &tab->v[tab->n]) == 0)
      tab->n++;
  }
  closedir(d);
  if (tab->n)
    qsort(tab->v, tab->n, sizeof(*tab->v), sn__by_ppid);
  return rc;
}

void sn_ptab_free(sn_ptab *tab) {
  free(tab->v);
  tab->v = NULL;
  tab->n = tab->cap = 0;
}

/* Appends the positions of parent's children (the table is sorted by ppid). */
static size_t sn__children(const sn_pstat *tab, size_t n, pid_t parent, size_t *out, size_t found, size_t max) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tab[mid].ppid < parent)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < n && tab[lo].ppid == parent && found < max; lo++)
    if (tab[lo].pid != parent)
      out[found++] = lo;
  return found;
}

size_t sn_pdescendants(const sn_pstat *tab, size_t n, pid_t root, size_t *out, size_t max) {
  size_t found = sn__children(tab, n, root, out, 0, max), scan = 0;
  /* Breadth-first over the parent links: out[] doubles as the work list. */
  while (scan < found)
    found = sn__children(tab, n, tab[out[scan++]].pid, out, found, max);
  return found;
}

unsigned long sn_prss_kb(pid_t pid) {
  char buf[256];
  unsigned long size, resident;
  /* statm's second field is VmRSS in pages, and is much cheaper to read than status. */
  if (sn__read_proc(pid, "statm", buf, sizeof(buf)) != 0 || sscanf(buf, "%lu %lu", &size, &resident) != 2)
    return 0;
  return resident * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024);
}

size_t sn_pkill_tree(pid_t root, int sig, int rounds) {
  sn_ptab tab = {0};
  size_t *kids = NULL, sent = 0;
  while (rounds-- > 0) {
    size_t k, live = 0;
    sn_ptab_read(&tab); /* what could be read is still worth killing */
    free(kids);
    if ((kids = malloc((tab.n + 1) * sizeof(*kids))) == NULL)
      break;
    k = sn_pdescendants(tab.v, tab.n, root, kids, tab.n);
    for (size_t i = 0; i < k; i++) {
      sn_pstat st;
      pid_t pid = tab.v[kids[i]].pid;
      if (sn_pstat_read(pid, &st) == 0 && st.state != 'Z') {
        kill(pid, sig);
        live++;
      }
    }
    sent += live;
    if (live == 0)
      break;
  }
  sn_ptab_free(&tab);
  free(kids);
  return sent;
}
