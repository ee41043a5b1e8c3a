/* The test helper: one small program with modes, built for the host and
 * cross-built for every target, that the process and runner tests drive
 * (Boost.Process's target.cpp habit). Plain C with pthreads so every cross
 * toolchain builds it, static and dynamic.
 *
 *   exit N            exit with status N
 *   signal NAME       die of SEGV (a real null write), ABRT (abort), or raise
 *                     ILL, BUS, KILL, TERM, FPE, INT
 *   threads N         start N threads, join them, print "threads ok N"
 *   cat               copy stdin to stdout
 *   env [NAME...]     print NAME=value (or NAME unset) per name; all if none
 *   argv              print "index:length:bytes" per argument, argv[0] included
 *   init-argv         the same, of the arguments a constructor got before main
 *                     (as Rust's std on glibc takes them)
 *   panic             (system mode, as root in the guest) crash the kernel: sysrq c
 *   hog               (system mode) take the only CPU for good: real-time priority,
 *                     RT throttling off, busy loop -- the guest stops answering
 *   cwd               print the working directory
 *   read FILE         print FILE's contents
 *   write FILE TEXT   write TEXT to FILE
 *   exe               print the target of /proc/self/exe
 *   sleep MS          sleep MS milliseconds, then print "slept"
 *   mark FILE MS      create FILE (proof that it runs), then sleep MS milliseconds
 *   ready MS          print "ready" (proof that it runs: a test waits for the
 *                     line), then sleep MS milliseconds
 *   detach MS         print "ready" (proof that it runs), point its stdio at /dev/null
 *                     (so that only a signal ends it), then sleep MS milliseconds
 *   orphan FILE       start a child that leaves the process group (setsid) and
 *                     closes its stdio, write its pid to FILE, and exit 0;
 *                     the child sleeps for ten minutes
 *   spew BYTES        write BYTES bytes of 'x' lines to stdout
 *   stderr TEXT       write TEXT and a newline to stderr
 *   exec PROG ARGS    replace itself with PROG (argv[0] = PROG)
 *   fds               print the open file descriptors above 2, or "none"
 *   time              print the wall clock: time(NULL)
 *   append FILE N TEXT  append N lines "TEXT i" to FILE, one write(2) each with
 *                     O_APPEND, 5 ms apart (so that two programs overlap);
 *                     a link named mode-append-T appends 200 "T i" to ./appended.txt
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void *thread_main(void *arg) {
  volatile long sum = 0;
  for (long i = 0; i < 100000; ++i) sum += i;
  return arg;
}

static int die_of(const char *name) {
  if (strcmp(name, "SEGV") == 0) {
    volatile int *null_pointer = NULL;
    *null_pointer = 1;
  }
  if (strcmp(name, "ABRT") == 0) abort();
  static const struct {
    const char *name;
    int number;
  } table[] = {{"ILL", SIGILL}, {"BUS", SIGBUS}, {"KILL", SIGKILL}, {"TERM", SIGTERM},
               {"FPE", SIGFPE}, {"INT", SIGINT}, {"SEGV", SIGSEGV}, {"ABRT", SIGABRT}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i) {
    if (strcmp(name, table[i].name) == 0) {
      raise(table[i].number);
      break;
    }
  }
  fprintf(stderr, "helper: unknown or survived signal %s\n", name);
  return 99;
}

/* glibc passes argc, argv and envp to ELF constructors too. */
static int init_argc;
static char **init_argv;
__attribute__((constructor)) static void take_arguments(int argc, char **argv, char **envp) {
  (void)envp;
  init_argc = argc;
  init_argv = argv;
}

int main(int argc, char **argv) {
  /* Started without arguments through a link named "mode-M" (a plain test
   * binary for `xrun test`, which passes none): mode M. */
  const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  if (argc < 2 && strncmp(base, "mode-", 5) == 0) {
    if (strncmp(base + 5, "ok", 2) == 0) return 0; /* mode-ok, mode-ok2 ... */
    if (strncmp(base + 5, "append-", 7) == 0) {    /* mode-append-T: 200 lines "T i" onto ./appended.txt */
      char *args[] = {argv[0], "append", "appended.txt", "200", (char *)base + 12, NULL};
      return main(5, args);
    }
    if (strcmp(base + 5, "orphan") == 0) { /* mode-orphan: its pid into <link>.pid */
      static char file[4096];
      snprintf(file, sizeof file, "%s.pid", argv[0]);
      char *args[] = {argv[0], "orphan", file, NULL};
      return main(3, args);
    }
    if (strcmp(base + 5, "orphan-sleep") == 0) { /* mode-orphan-sleep: as orphan, then sleeps a minute itself */
      static char file[4096];
      snprintf(file, sizeof file, "%s.pid", argv[0]);
      char *args[] = {argv[0], "orphan", file, NULL};
      if (main(3, args) != 0) return 73;
      struct timespec ts = {60, 0};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
      return 0;
    }
    if (strcmp(base + 5, "orphan-named") == 0) { /* mode-orphan-named: as orphan, named xrun-orphan, no file */
      pid_t child = fork();
      if (child == 0) {
        setsid();
        prctl(PR_SET_NAME, "xrun-orphan");
        close(0), close(1), close(2);
        struct timespec ts = {600, 0};
        nanosleep(&ts, NULL);
        _exit(0);
      }
      return child > 0 ? 0 : 71;
    }
    if (strcmp(base + 5, "proc-self") == 0) { /* mode-proc-self: /proc/self is getpid()'s entry */
      char link[64] = "", mine[32];
      ssize_t n = readlink("/proc/self", link, sizeof link - 1);
      if (n > 0) link[n] = 0;
      snprintf(mine, sizeof mine, "%d", (int)getpid());
      if (strcmp(link, mine) == 0) return 0;
      printf("/proc/self is %s, getpid() is %s\n", link, mine);
      return 1;
    }
    if (strcmp(base + 5, "no-orphan") == 0) { /* mode-no-orphan: fails while an xrun-orphan lives */
      DIR *proc = opendir("/proc");
      if (!proc) return 72;
      int found = 0;
      for (struct dirent *e; (e = readdir(proc)) != NULL;) {
        char path[300], stat[256] = "";
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        /* "pid (comm) state ...": a zombie is dead, only not reaped yet */
        const char *name = fgets(stat, sizeof stat, f) ? strstr(stat, " (xrun-orphan) ") : NULL;
        if (name && name[15] != 'Z') {
          printf("left behind: pid %s\n", e->d_name);
          found = 1;
        }
        fclose(f);
      }
      closedir(proc);
      return found;
    }
    if (strncmp(base + 5, "sleep-", 6) == 0) { /* mode-sleep-700: sleep 700 ms */
      char *args[] = {argv[0], "sleep", (char *)base + 11, NULL};
      return main(3, args);
    }
    char *args[] = {argv[0], (char *)base + 5, NULL};
    return main(2, args);
  }
  if (argc < 2) {
    fprintf(stderr, "usage: xrun_helper MODE [ARGS...]\n");
    return 64;
  }
  const char *mode = argv[1];
  if (strcmp(mode, "exit") == 0 && argc > 2) return atoi(argv[2]);
  if (strcmp(mode, "signal") == 0 && argc > 2) return die_of(argv[2]);
  if (strcmp(mode, "threads") == 0 && argc > 2) {
    int n = atoi(argv[2]);
    pthread_t threads[256];
    if (n > 256) n = 256;
    for (int i = 0; i < n; ++i)
      if (pthread_create(&threads[i], NULL, thread_main, NULL) != 0) return 70;
    for (int i = 0; i < n; ++i) pthread_join(threads[i], NULL);
    printf("threads ok %d\n", n);
    return 0;
  }
  if (strcmp(mode, "cat") == 0) {
    char buffer[65536];
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0)
      if (write(1, buffer, (size_t)n) != n) return 71;
    return 0;
  }
  if (strcmp(mode, "env") == 0) {
    if (argc == 2) {
      for (char **e = environ; *e; ++e) printf("%s\n", *e);
    }
    for (int i = 2; i < argc; ++i) {
      const char *value = getenv(argv[i]);
      if (value)
        printf("%s=%s\n", argv[i], value);
      else
        printf("%s unset\n", argv[i]);
    }
    return 0;
  }
  if (strcmp(mode, "argv") == 0) {
    for (int i = 0; i < argc; ++i) printf("%d:%zu:%s\n", i, strlen(argv[i]), argv[i]);
    return 0;
  }
  if (strcmp(mode, "init-argv") == 0) {
    for (int i = 0; i < init_argc; ++i) printf("%d:%zu:%s\n", i, strlen(init_argv[i]), init_argv[i]);
    return 0;
  }
  if (strcmp(mode, "cwd") == 0) {
    char buffer[4096];
    if (!getcwd(buffer, sizeof buffer)) return 72;
    printf("%s\n", buffer);
    return 0;
  }
  if (strcmp(mode, "read") == 0 && argc > 2) {
    FILE *f = fopen(argv[2], "r");
    if (!f) {
      fprintf(stderr, "helper: %s: %s\n", argv[2], strerror(errno));
      return 73;
    }
    int c;
    while ((c = fgetc(f)) != EOF) putchar(c);
    fclose(f);
    return 0;
  }
  if (strcmp(mode, "time") == 0) {
    printf("%lld\n", (long long)time(NULL));
    return 0;
  }
  if (strcmp(mode, "append") == 0 && argc > 4) {
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return 74;
    for (int i = 0, n = atoi(argv[3]); i < n; i++) {
      char line[256];
      int len = snprintf(line, sizeof line, "%s %d\n", argv[4], i);
      if (write(fd, line, (size_t)len) != len) return 75;
      usleep(5000);
    }
    return close(fd) == 0 ? 0 : 75;
  }
  if (strcmp(mode, "write") == 0 && argc > 3) {
    FILE *f = fopen(argv[2], "w");
    if (!f) return 74;
    fputs(argv[3], f);
    return fclose(f) == 0 ? 0 : 75;
  }
  if (strcmp(mode, "exe") == 0) {
    char buffer[4096];
    ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (n < 0) return 76;
    buffer[n] = 0;
    printf("%s\n", buffer);
    return 0;
  }
  if (strcmp(mode, "sleep") == 0 && argc > 2) {
    long ms = atol(argv[2]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    printf("slept\n");
    return 0;
  }
  if (strcmp(mode, "orphan") == 0 && argc > 2) {
    pid_t child = fork();
    if (child == 0) {
      setsid();
      close(0), close(1), close(2);
      struct timespec ts = {600, 0};
      nanosleep(&ts, NULL);
      _exit(0);
    }
    FILE *f = fopen(argv[2], "w");
    if (!f) return 73;
    fprintf(f, "%d\n", (int)child);
    fclose(f);
    return 0;
  }
  if (strcmp(mode, "mark") == 0 && argc > 3) {
    FILE *f = fopen(argv[2], "w");
    if (!f) return 73;
    fclose(f);
    long ms = atol(argv[3]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
  }
  if (strcmp(mode, "ready") == 0 && argc > 2) {
    printf("ready\n");
    fflush(stdout);
    long ms = atol(argv[2]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
  }
  if (strcmp(mode, "detach") == 0 && argc > 2) {
    printf("ready\n");
    fflush(stdout);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull < 0) return 73;
    dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
    close(devnull);
    long ms = atol(argv[2]);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return 0;
  }
  if (strcmp(mode, "spew") == 0 && argc > 2) {
    long long remaining = atoll(argv[2]);
    char line[64];
    memset(line, 'x', sizeof line);
    line[63] = '\n';
    while (remaining > 0) {
      size_t chunk = remaining < 64 ? (size_t)remaining : 64;
      if (fwrite(line, 1, chunk, stdout) != chunk) return 77;
      remaining -= (long long)chunk;
    }
    return 0;
  }
  if (strcmp(mode, "fds") == 0) {
    int any = 0;
    for (int fd = 3; fd < 1024; ++fd) {
      if (fcntl(fd, F_GETFD) != -1) {
        printf("%s%d", any ? " " : "", fd);
        any = 1;
      }
    }
    printf("%s\n", any ? "" : "none");
    return 0;
  }
  if (strcmp(mode, "exec") == 0 && argc > 2) {
    execv(argv[2], argv + 2);
    fprintf(stderr, "helper: exec %s: %s\n", argv[2], strerror(errno));
    return 78;
  }
  if (strcmp(mode, "stderr") == 0 && argc > 2) {
    fprintf(stderr, "%s\n", argv[2]);
    return 0;
  }
  if (strcmp(mode, "panic") == 0) {
    int fd = open("/proc/sysrq-trigger", O_WRONLY);
    if (fd < 0 || write(fd, "c", 1) != 1) {
      fprintf(stderr, "helper: sysrq: %s\n", strerror(errno));
      return 70;
    }
    return 0; /* not reached: the kernel is gone */
  }
  if (strcmp(mode, "hog") == 0) {
    int fd = open("/proc/sys/kernel/sched_rt_runtime_us", O_WRONLY);
    if (fd >= 0) {
      (void)!write(fd, "-1", 2);
      close(fd);
    }
    struct sched_param param = {.sched_priority = 99};
    if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
      fprintf(stderr, "helper: sched_setscheduler: %s\n", strerror(errno));
      return 71;
    }
    for (volatile unsigned long i = 0;; i++) {
    }
  }
  fprintf(stderr, "helper: unknown mode %s\n", mode);
  return 64;
}
