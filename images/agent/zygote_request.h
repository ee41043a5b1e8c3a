/* One request to a fork server (zygote.c): the child's argc (a u32), its
 * argv as NUL-terminated strings back to back, then NAME=value strings the
 * child sets in its environment before main (its private TMPDIR), and its
 * stdin, stdout and stderr as SCM_RIGHTS. One set_env entry is not for
 * the environment: XRUN_ZYGOTE_CGROUP_PROCS=<the job's cgroup.procs>. The zygote answers with the
 * child's pid, then its wait status (two ints). Shared by the agent and
 * bench/guest_fork_server_loop.c, which plays the agent's part to time the
 * fork server alone. */
#ifndef XRUN_ZYGOTE_REQUEST_H
#define XRUN_ZYGOTE_REQUEST_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define XRUN_ZYGOTE_REQUEST_MAX (1u << 20)

/* The first byte a server sends: it serves (READY), or it will not because
 * the program's static initialisers started threads, which a forked child
 * would not have (THREADED: the host starts the program afresh for every
 * test instead). */
#define XRUN_ZYGOTE_READY 'R'
#define XRUN_ZYGOTE_THREADED 'T'

/* Not an environment variable: a set_env entry naming the job's
 * cgroup.procs, which the child writes itself into before main. */
#define XRUN_ZYGOTE_CGROUP_PROCS "XRUN_ZYGOTE_CGROUP_PROCS"

/* Returns what sendmsg returns; -1 when the request does not fit. */
static inline ssize_t xrun_zygote_send_request(int sock, char *const *argv, char *const *set_env, const int fds[3]) {
  static char blob[XRUN_ZYGOTE_REQUEST_MAX];
  uint32_t argc = 0;
  size_t len = sizeof argc;
  for (int pass = 0; pass < 2; pass++) {
    for (char *const *s = pass == 0 ? argv : set_env; s && *s; s++) {
      size_t n = strlen(*s) + 1;
      if (len + n > sizeof blob) return -1;
      memcpy(blob + len, *s, n);
      len += n;
      if (pass == 0) argc++;
    }
  }
  memcpy(blob, &argc, sizeof argc);
  char control[CMSG_SPACE(3 * sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {blob, len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  memcpy(CMSG_DATA(c), fds, 3 * sizeof(int));
  return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

#endif
