/* libxrun-zygote.so: the fork server behind fast process isolation in a VM.
 *
 * Under TCG, starting a dynamically linked test binary costs hundreds of
 * milliseconds (loading and relocating libstdc++, static initialisers that
 * register a thousand tests), paid again for every test in process
 * isolation. The agent instead starts the binary once with this library
 * preloaded and XRUN_ZYGOTE_FD set. The library wraps main(): after every
 * static initialiser has run, it says "R" and waits. For each request (argv,
 * plus stdin/stdout/stderr as SCM_RIGHTS) it forks; the child becomes a
 * process group of its own and calls the real main with that argv, so every
 * test still runs in its own process and a crash takes down only that child.
 * The zygote reports the child's pid, waits for it, and reports its status.
 *
 * A program whose static initialisers started threads (a thread pool, a
 * logger) is not served: fork copies only the calling thread, so its tests
 * would run without them. The library says "T" instead of "R" and exits; the
 * host then starts the program afresh for each test.
 *
 * Without XRUN_ZYGOTE_FD (the test's own subprocesses, or any other program
 * started with this library), main runs untouched.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zygote_request.h"

typedef int (*main_fn)(int, char **, char **);
static main_fn real_main;
static int server_argc;
static char **server_argv; /* what the program started with: the strings are writable */

/* Some programs take their arguments when they start, not from main's:
 * Rust's std on glibc keeps the argc/argv its .init_array function got. A
 * child would see the server's own. So the child's arguments are written
 * over the server's, in place, when they are as many and each fits: xrun
 * starts a server with arguments of the request's shape that have room for
 * a test name (and that run no test, should this library not load). */
static void take_over_server_argv(int argc, char **argv) {
  if (argc != server_argc) return;
  for (int i = 0; i < argc; i++)
    if (strlen(argv[i]) > strlen(server_argv[i])) return;
  for (int i = 0; i < argc; i++) strcpy(server_argv[i], argv[i]);
}

/* The threads of this process: the entries of /proc/self/task. */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* The threads there were before any static initialiser of the program ran:
 * one in a VM; under qemu-user, qemu's own as well (/proc/self/task is the
 * host's view of the qemu process: its RCU thread besides the guest's). */
static int threads_at_start = -1;
__attribute__((constructor(101))) static void count_threads_at_start(void) { threads_at_start = thread_count(); }

static int send_int(int fd, int value) { return send(fd, &value, sizeof value, MSG_NOSIGNAL) == sizeof value ? 0 : -1; }

static int serve(int fd) {
  static char buffer[XRUN_ZYGOTE_REQUEST_MAX + 1];
  for (;;) {
    int fds[3] = {-1, -1, -1};
    char control[CMSG_SPACE(sizeof fds)];
    struct iovec iov = {buffer, sizeof buffer - 1};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0); /* the agent closed: this zygote is done */
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof fds)) _exit(3);
    memcpy(fds, CMSG_DATA(c), sizeof fds);
    /* argc, then argv and the environment changes: NUL-terminated strings back to back. */
    uint32_t argc = 0;
    if ((size_t)n < sizeof argc) _exit(3);
    memcpy(&argc, buffer, sizeof argc);
    buffer[n] = 0;
    int strings = 0;
    for (ssize_t i = sizeof argc; i < n; i++) strings += buffer[i] == 0;
    if ((int)argc > strings) _exit(3);
    char **argv = calloc((size_t)strings + 1, sizeof *argv);
    char *p = buffer + sizeof argc;
    for (int i = 0; i < strings; i++, p += strlen(p) + 1) argv[i] = p;
    char **set_env = argv + argc;

    pid_t pid = fork();
    if (pid == 0) {
      close(fd);
      setpgid(0, 0);
      /* Dies with the zygote, and so with xrun (the zygote dies with xrun):
       * under qemu-user the tests are xrun's grandchildren. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (int i = 0; i < 3; i++) dup2(fds[i], i);
      for (int i = 0; i < 3; i++)
        if (fds[i] > 2) close(fds[i]);
      for (char **e = set_env; *e; e++) {
        const size_t prefix = sizeof XRUN_ZYGOTE_CGROUP_PROCS; /* with its '=' */
        if (strncmp(*e, XRUN_ZYGOTE_CGROUP_PROCS "=", prefix) != 0) {
          putenv(*e);
          continue;
        }
        /* Into the job's cgroup before the test runs: what it starts ends with the job. */
        int procs = open(*e + prefix, O_WRONLY | O_CLOEXEC);
        if (procs >= 0 && write(procs, "0", 1) != 1) {
        } /* then only its process group is killed */
        if (procs >= 0) close(procs);
      }
      argv[argc] = NULL;
      take_over_server_argv((int)argc, argv);
      exit(real_main((int)argc, argv, environ));
    }
    if (pid > 0) setpgid(pid, pid); /* also here: the agent may signal the group at once */
    for (int i = 0; i < 3; i++) close(fds[i]);
    free(argv);
    if (send_int(fd, pid > 0 ? pid : -errno) != 0) _exit(4);
    if (pid < 0) continue;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (send_int(fd, status) != 0) _exit(5);
  }
}

static int zygote_main(int argc, char **argv, char **envp) {
  const char *fd_text = getenv("XRUN_ZYGOTE_FD");
  if (!fd_text) return real_main(argc, argv, envp);
  int fd = atoi(fd_text);
  unsetenv("XRUN_ZYGOTE_FD");
  unsetenv("LD_PRELOAD"); /* the tests' own subprocesses start normally */
  const int threads = thread_count();
  if (threads_at_start > 0 && threads > threads_at_start) {
    /* Threads a static initialiser started: not forkable faithfully. */
    const char threaded = XRUN_ZYGOTE_THREADED;
    send(fd, &threaded, 1, MSG_NOSIGNAL);
    _exit(0);
  }
  const char ready = XRUN_ZYGOTE_READY;
  if (send(fd, &ready, 1, MSG_NOSIGNAL) != 1) _exit(2);
  return serve(fd);
}

int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end) {
  typedef int (*start_fn)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);
  start_fn real_start = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
  real_main = main;
  server_argc = argc;
  server_argv = argv;
  return real_start(zygote_main, argc, argv, init, fini, rtld_fini, stack_end);
}
