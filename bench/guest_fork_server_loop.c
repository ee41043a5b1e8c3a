/* Runs one GoogleTest case per forked child N times, the way the guest agent
 * does in process isolation (images/agent/zygote.c: the test binary started
 * once with the fork-server library preloaded, then a fork per test), and
 * prints the mean milliseconds per child. bench/system_mode.sh runs it inside
 * the VM to split a test of the 1,000-case run into the guest's own work
 * (fork, the test binary's main, its exit: this) and xrun's (the rest).
 *
 *   guest_fork_server_loop N ZYGOTE_LIBRARY TEST_BINARY FILTER_PREFIX
 *   (child i runs --gtest_filter=FILTER_PREFIX<i>, its output to /dev/null) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../images/agent/zygote_request.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int read_int(int fd) {
  int value = 0;
  if (read(fd, &value, sizeof value) != sizeof value) {
    fprintf(stderr, "guest_fork_server_loop: the fork server went away\n");
    exit(1);
  }
  return value;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: guest_fork_server_loop N ZYGOTE_LIBRARY TEST_BINARY FILTER_PREFIX\n");
    return 2;
  }
  const int n = atoi(argv[1]);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 1;
  if (fork() == 0) {
    dup2(sv[1], 3);
    char preload[4096];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", argv[2]);
    char *env[] = {preload, "XRUN_ZYGOTE_FD=3", NULL};
    char *args[] = {argv[3], NULL};
    execve(argv[3], args, env);
    _exit(127);
  }
  close(sv[1]);
  char ready;
  if (read(sv[0], &ready, 1) != 1) {
    fprintf(stderr, "guest_fork_server_loop: %s did not start under %s\n", argv[3], argv[2]);
    return 1;
  }
  const int devnull = open("/dev/null", O_RDWR);
  const double start = now_ms();
  for (int i = 0; i < n; i++) {
    char filter[4096];
    snprintf(filter, sizeof filter, "--gtest_filter=%s%d", argv[4], i);
    char *child_argv[] = {argv[3], filter, NULL};
    const int fds[3] = {devnull, devnull, devnull};
    if (xrun_zygote_send_request(sv[0], child_argv, NULL, fds) < 0) return 1;
    read_int(sv[0]); /* the child's pid */
    read_int(sv[0]); /* its wait status */
  }
  printf("%.2f\n", (now_ms() - start) / n);
  return 0;
}
