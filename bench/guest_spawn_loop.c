/* Runs PROGRAM ARGS... N times the way the guest agent does (vfork + execve,
 * wait), and prints the mean milliseconds per run. bench/system_mode.sh runs
 * it inside the VM to split a test's cost into the guest kernel's process
 * creation (this) and xrun's own overhead (the rest). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: guest_spawn_loop N PROGRAM [ARGS...]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int i = 0; i < n; i++) {
    pid_t pid = vfork();
    if (pid == 0) {
      execve(argv[2], argv + 2, environ);
      _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ms = ((end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6) / n;
  printf("%.3f\n", ms);
  return 0;
}
