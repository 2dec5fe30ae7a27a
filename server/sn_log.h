/* Leveled one-line logs on stderr: "2026-11-23T01:02:03.456Z info [task] message". */
#ifndef SN_LOG_H
#define SN_LOG_H

enum sn_log_level { SN_LOG_ERROR, SN_LOG_WARN, SN_LOG_INFO, SN_LOG_DEBUG };

void sn_log_set_level(int level);
int sn_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int sn_log_parse_level(const char *name);
/* task_id may be NULL for node-wide events. */
void sn_log(int level, const char *task_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sn_log_enabled(level) ((level) <= sn_log_get_level())

#endif
