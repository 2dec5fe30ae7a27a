#include "sn_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* The one piece of process-wide state besides the node: the log threshold,
 * set once at start-up from the config or the command line. */
static int sn__log_level = SN_LOG_INFO;
static const char *const sn__level_names[] = {"error", "warn", "info", "debug"};

void sn_log_set_level(int level) { sn__log_level = level; }
int sn_log_get_level(void) { return sn__log_level; }

int sn_log_parse_level(const char *name) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, sn__level_names[i]) == 0)
      return i;
  return -1;
}

void sn_log(int level, const char *task_id, const char *fmt, ...) {
  char line[2048];
  struct timeval tv;
  struct tm tm;
  va_list ap;
  int n;

  if (level > sn__log_level)
    return;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
  n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03dZ %s [%s] ", (int)(tv.tv_usec / 1000),
                sn__level_names[level], task_id ? task_id : "-");
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  /* One write per line, so lines from the node and its workers never interleave mid-line. */
  for (char *p = line; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fprintf(stderr, "%s\n", line);
}
