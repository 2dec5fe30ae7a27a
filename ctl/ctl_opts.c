#include "ctl_opts.h"

#include <stdio.h>
#include <string.h>

/* "--name" or "--name=value": 1 when arg names this flag (value set for the second form). */
static int flag_is(const char *arg, const char *name, const char **value) {
  size_t n = strlen(name);
  *value = NULL;
  if (strncmp(arg, name, n) != 0)
    return 0;
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return 1;
  }
  return arg[n] == '\0';
}

/* The value of a flag that takes one: after '=' or the next argument. */
static const char *take_value(int argc, char **argv, int *i, const char *inline_value, const char *name) {
  if (inline_value)
    return inline_value;
  if (*i + 1 >= argc) {
    fprintf(stderr, "supernode-ctl: %s needs a value\n", name);
    return NULL;
  }
  return argv[++*i];
}

int ctl_take_globals(int argc, char **argv, ctl_globals *g, char **rest, int *nrest) {
  int i, k = 0;
  const char *v;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break; /* what follows belongs to the command (a worker's argv) */
    if (flag_is(argv[i], "--json", &v) && v == NULL)
      g->json = 1;
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      g->help = 1;
    else if (flag_is(argv[i], "--url", &v)) {
      if ((g->url = take_value(argc, argv, &i, v, "--url")) == NULL)
        return 2;
    } else if (flag_is(argv[i], "--token", &v)) {
      if ((g->token = take_value(argc, argv, &i, v, "--token")) == NULL)
        return 2;
    } else if (flag_is(argv[i], "--cacert", &v)) {
      if ((g->cacert = take_value(argc, argv, &i, v, "--cacert")) == NULL)
        return 2;
    } else
      rest[k++] = argv[i];
  }
  for (; i < argc; i++)
    rest[k++] = argv[i];
  *nrest = k;
  return 0;
}

int ctl_parse(const char *cmd, int argc, char **argv, ctl_opt *opts, size_t nopts, const char **pos, size_t maxpos,
              size_t *npos) {
  *npos = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v;
    size_t j;
    if (strncmp(a, "--", 2) == 0 && a[2]) {
      for (j = 0; j < nopts && !flag_is(a, opts[j].name, &v); j++)
        ;
      if (j == nopts) {
        fprintf(stderr, "supernode-ctl: unknown flag '%s' for '%s' (see supernode-ctl %s --help)\n", a, cmd, cmd);
        return 2;
      }
      if (!opts[j].takes_value && v) {
        fprintf(stderr, "supernode-ctl: %s takes no value\n", opts[j].name);
        return 2;
      }
      if (opts[j].takes_value && (opts[j].value = take_value(argc, argv, &i, v, opts[j].name)) == NULL)
        return 2;
      opts[j].set = 1;
      continue;
    }
    if (*npos == maxpos) {
      fprintf(stderr, "supernode-ctl: unexpected argument '%s' for '%s'\n", a, cmd);
      return 2;
    }
    pos[(*npos)++] = a;
  }
  return 0;
}
