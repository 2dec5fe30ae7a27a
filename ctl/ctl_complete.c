/* supernode-ctl completion bash: the script, printed for `source <(...)` or
 * /etc/bash_completion.d. Task ids are completed from the node itself. */
#include <stdio.h>
#include <string.h>

#include "ctl_complete.h"

static const char bash_script[] =
    "# bash completion for supernode-ctl: source <(supernode-ctl completion bash)\n"
    "_supernode_ctl_tasks() { # the ids of the node's tasks, asked with the --url/--token on the line\n"
    "  local args=() i\n"
    "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    "    case ${COMP_WORDS[i]} in --url|--token) args+=(\"${COMP_WORDS[i]}\" \"${COMP_WORDS[i+1]}\") ;; esac\n"
    "  done\n"
    "  \"${COMP_WORDS[0]}\" \"${args[@]}\" ls --json 2>/dev/null | grep -o '\"task_id\":\"[^\"]*\"' | cut -d'\"' -f4\n"
    "}\n"
    "_supernode_ctl() {\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i\n"
    "  local cmds='start stop restart rm status update ls send logs job fetch stat top ping cmd metrics completion help'\n"
    "  local globals='--json --url --token --help'\n"
    "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
    "    case ${COMP_WORDS[i]} in\n"
    "      --url|--token) ((i++)) ;;\n"
    "      -*) ;;\n"
    "      *) cmd=${COMP_WORDS[i]}; break ;;\n"
    "    esac\n"
    "  done\n"
    "  case $prev in\n"
    "    --url|--token|--payload|--interval|--lines|--timeout-ms|--count) return ;;\n"
    "    --sort) COMPREPLY=($(compgen -W 'cpu queue mem restarts' -- \"$cur\")); return ;;\n"
    "    --from) COMPREPLY=($(compgen -W 'oldest new' -- \"$cur\")); return ;;\n"
    "  esac\n"
    "  if [[ -z $cmd ]]; then\n"
    "    COMPREPLY=($(compgen -W \"$cmds $globals\" -- \"$cur\")); return\n"
    "  fi\n"
    "  local flags=$globals\n"
    "  case $cmd in\n"
    "    stat) flags+=' --watch --interval' ;;\n"
    "    top) flags+=' --sort --interval --count' ;;\n"
    "    job) flags+=' --kind --task --payload --wait --timeout-ms' ;;\n"
    "    logs) flags+=' --lines' ;;\n"
    "    fetch) flags+=' --from' ;;\n"
    "    start|update) flags+=' --exec --kind --mode --queue-len --mem-limit-kb --timeout-ms --restart --env' ;;\n"
    "    completion) COMPREPLY=($(compgen -W 'bash' -- \"$cur\")); return ;;\n"
    "    help) COMPREPLY=($(compgen -W \"$cmds\" -- \"$cur\")); return ;;\n"
    "  esac\n"
    "  if [[ $cur == -* ]]; then\n"
    "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
    "  elif [[ $prev == \"$cmd\" ]]; then\n"
    "    case $cmd in\n"
    "      stop|restart|rm|status|update|send|logs|fetch) COMPREPLY=($(compgen -W \"$(_supernode_ctl_tasks)\" -- \"$cur\")) ;;\n"
    "    esac\n"
    "  fi\n"
    "}\n"
    "complete -F _supernode_ctl supernode-ctl\n";

int ctl_completion(const char *shell) {
  if (shell == NULL || strcmp(shell, "bash") != 0 || fputs(bash_script, stdout) < 0) {
    fprintf(stderr, "supernode-ctl: completion is written for bash: supernode-ctl completion bash\n");
    return 2;
  }
  return 0;
}
