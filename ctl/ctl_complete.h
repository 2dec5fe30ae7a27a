#ifndef CTL_COMPLETE_H
#define CTL_COMPLETE_H
/* Prints the completion script for shell ("bash"); an exit code. */
int ctl_completion(const char *shell);
#endif
