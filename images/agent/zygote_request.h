/* One request to a fork server (zygote.c): the child's argv as NUL-terminated
 * strings back to back, and its stdin, stdout and stderr as SCM_RIGHTS. The
 * zygote answers with the child's pid, then its wait status (two ints).
 * Shared by the agent and bench/guest_fork_server_loop.c, which plays the
 * agent's part to time the fork server alone. */
#ifndef XRUN_ZYGOTE_REQUEST_H
#define XRUN_ZYGOTE_REQUEST_H

#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Returns what sendmsg returns. */
static inline ssize_t xrun_zygote_send_request(int sock, const char *argv_blob, size_t len, const int fds[3]) {
  char control[CMSG_SPACE(3 * sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void *)argv_blob, len};
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
