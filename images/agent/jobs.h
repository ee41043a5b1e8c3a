/* Jobs: a RUN's program started (vfork + execve, from a zygote, or on a
 * board under an init in a PID namespace of its own), its stdin fed, its
 * output sent, its deadline kept, its end reaped and reported, and what it
 * left behind killed (a cgroup per job in a VM). */
#ifndef XRUN_AGENT_JOBS_H
#define XRUN_AGENT_JOBS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec.h"

#define MAX_JOBS 64

struct zygote;

/* Every slot free (its descriptors -1): once, before anything else. */
void reset_jobs(void);

void handle_run(struct in *in);
void handle_stdin(struct in *in);
void handle_signal(struct in *in);

/* The host left: every job is killed and ends silently. */
void abandon_jobs(void);
/* A board's agent before it exits: waits for the jobs it killed, and kills
 * what they left behind. */
void end_abandoned_jobs(void);

/* Adds what the main loop polls for the jobs (from fds[n]) and lowers *wait
 * to their next deadline; returns the new n. */
int poll_jobs(struct pollfd *fds, int n, int64_t now, int64_t *wait);
/* After the poll: output, stdin, deadlines, and the ends of the jobs that ended. */
void serve_jobs(int64_t now);
/* Children that ended (SIGCHLD); jobs forked by a zygote whose status came. */
void reap(void);
void reap_forked(void);

/* The jobs waiting for `z` (it became ready, finished a child, or failed). */
void start_jobs_waiting_for(struct zygote *z);

/* vfork + execve into the given stdio (and fd 3), optionally into a cgroup
 * (cgroup_procs: its open cgroup.procs) and a process group of its own.
 * Returns 0 or an errno. */
int spawn_process(pid_t *pid_out, const char *path, char **argv, char **env, const char *cwd, int fd0, int fd1, int fd2,
                  int fd3, int cgroup_procs, int own_group);

#endif
