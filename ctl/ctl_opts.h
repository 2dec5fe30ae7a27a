/* Command-line conventions for supernode-ctl: global flags anywhere on the
 * line (before a "--"), strict per-command options, usage errors that name
 * what was wrong. No I/O beyond the error message. */
#ifndef CTL_OPTS_H
#define CTL_OPTS_H

#include <stddef.h>

typedef struct ctl_globals {
  int json, help;
  const char *url, *token, *cacert;
} ctl_globals;

/* Takes --json, --url U, --token T, --cacert F (also --url=U ...) and -h/--help
 * out of argv[1..] wherever they are, up to a "--"; the rest, in order, goes
 * to rest (room for argc entries) and *nrest. 0, or 2 after printing a usage
 * error (a flag missing its value). */
int ctl_take_globals(int argc, char **argv, ctl_globals *g, char **rest, int *nrest);

/* One option of a subcommand: "--name" alone, or "--name VALUE" / "--name=VALUE"
 * when takes_value. Filled in by ctl_parse. */
typedef struct ctl_opt {
  const char *name;
  int takes_value;
  int set;
  const char *value;
} ctl_opt;

/* Parses a subcommand's arguments: known options into opts, the others into
 * pos (at most maxpos). 0, or 2 after printing which flag or argument is wrong. */
int ctl_parse(const char *cmd, int argc, char **argv, ctl_opt *opts, size_t nopts, const char **pos, size_t maxpos,
              size_t *npos);

#endif
