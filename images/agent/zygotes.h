/* Zygotes: started copies of a dynamic test program (zygote.c preloaded)
 * that fork a job's process instead of an execve, for RUN_FORK_SERVER jobs;
 * one per program, cwd, arguments and environment, one child at a time. */
#ifndef XRUN_AGENT_ZYGOTES_H
#define XRUN_AGENT_ZYGOTES_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_ZYGOTES 16

/* A started copy of a dynamic program, waiting in main() to fork (zygote.c).
 * It starts in the background: its static initialisers may take seconds
 * under TCG, and the agent keeps serving the host (pings included) until it
 * says 'R'. */
struct zygote {
  char *key; /* path, cwd and environment: what the copy was started with */
  pid_t pid;
  int sock;            /* -1: starting it failed, do not try again */
  int ready;           /* it said 'R' */
  int64_t ready_by_ms; /* a copy that has not said so by then is given up */
  int busy;
};
#define ZYGOTE_START_MS 20000

extern const char *zygote_library; /* --zygote: where a board keeps it */

/* The zygote for this program: found, or started now (it becomes ready
 * later, see watch_starting_zygotes); NULL when the program cannot be forked that
 * way (the caller starts it normally). */
struct zygote *zygote_for(const char *path, const char *cwd, char **argv, char **server_args, char **env);
/* Asks the zygote for a child running argv with these stdio fds, and the
 * environment changes `set_env` (its private TMPDIR); -1 when it cannot. */
pid_t zygote_fork(struct zygote *z, char **argv, char **set_env, int fd0, int fd1, int fd2);
/* Kills it and never tries it again; `why`, when given, is LOGged. */
void zygote_give_up(struct zygote *z, const char *why);

/* Whether `pid` is a zygote the agent started. */
int is_zygote(pid_t pid);
/* The host left: every zygote killed and forgotten. */
void stop_zygotes(void);

/* Adds the sockets of the zygotes still starting to the main loop's poll
 * (from fds[n]) and lowers *wait to their deadline; returns the new n. */
int poll_starting_zygotes(struct pollfd *fds, int n, int64_t now, int64_t *wait);
/* Zygotes still starting: ready ('R'), dead, or given up after ZYGOTE_START_MS. */
void watch_starting_zygotes(int64_t now);

#endif
