/* Jobs (jobs.h). */
#define _GNU_SOURCE
#include "jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files.h"
#include "main.h"
#include "protocol.h"
#include "zygote_request.h"
#include "zygotes.h"

extern char **environ;

#define OUTPUT_BATCH_MS 20

struct job {
  int used;
  uint32_t id;
  pid_t pid;
  int out_fd, err_fd, in_fd; /* -1 once closed */
  unsigned char *in_buf;     /* stdin bytes not yet written */
  size_t in_len;
  int in_eof_pending;
  int reaped, status, timed_out;
  int64_t deadline_ms; /* 0: none */
  int64_t reaped_at_ms;
  struct zygote *zygote;        /* forked by a zygote: its status comes from there */
  int64_t pipes_quiet_until_ms; /* output is read in batches, see poll_jobs */
  char tmpdir[64];              /* its private TMPDIR ("" without RUN_PRIVATE_TMPDIR) */
  char cgroup[64];              /* its cgroup ("" without cgroup2), see job cgroups */
  int ns_status_fd;             /* a board: its PID namespace's init reports here, see job PID namespaces; else -1 */
  /* A job whose zygote is still starting waits here, not yet STARTED: what
   * it needs to start once the zygote is ready (or has failed). */
  struct zygote *waiting;
  char *w_path, *w_cwd;
  char **w_argv, **w_env;
  int w_fds[3];
  uint32_t w_timeout_ms;
};

static struct job jobs[MAX_JOBS];

static int kill_adopted(void);

void reset_jobs(void) {
  for (int i = 0; i < MAX_JOBS; i++) {
    jobs[i].out_fd = jobs[i].err_fd = jobs[i].in_fd = jobs[i].ns_status_fd = -1;
    jobs[i].w_fds[0] = jobs[i].w_fds[1] = jobs[i].w_fds[2] = -1;
  }
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)type, (void)ftw;
  remove(path);
  return 0;
}

static void forget_waiting(struct job *j) {
  for (int i = 0; i < 3; i++) close_fd(&j->w_fds[i]);
  free(j->w_path);
  free(j->w_cwd);
  free_strv(j->w_argv);
  free_strv(j->w_env);
  j->w_path = j->w_cwd = NULL;
  j->w_argv = j->w_env = NULL;
  j->waiting = NULL;
}

/* ------------------------------------------------------- job cgroups --- */

/* Every process a job starts ends with it. Each job runs in a cgroup (v2) of
 * its own; once its leader is reaped the agent writes cgroup.kill, which
 * kills everything left there -- a child that called setsid() or closed its
 * stdio, a daemon -- where the job's process group reaches only the
 * processes that stayed in it. The cgroup is removed once its last process
 * is reaped (the agent is their init). A kernel without cgroup2 leaves only
 * the process group, and the agent says so once. */
#define CGROUP_ROOT "/sys/fs/cgroup"
static int cgroups_mounted = -1; /* -1: not tried yet */
/* Made once and reused (creating and removing a cgroup per job cost more
 * than the job under TCG): a slot is free when no job holds it and its
 * last process is gone. */
static struct { int made, held; } cgroup_slots[MAX_JOBS];

static int write_text(const char *dir, const char *file, const char *text) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int cgroup_empty(const char *dir) {
  char path[160], c;
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, &c, 1);
  close(fd);
  return n == 0;
}

static void cgroup_make(struct job *j) {
  j->cgroup[0] = 0;
  /* On a board the cgroup tree is its init's (systemd's): a job's processes
   * end with its PID namespace, see job PID namespaces. */
  if (!is_init) return;
  if (cgroups_mounted < 0) {
    mkdir(CGROUP_ROOT, 0755);
    /* favordynmods: moving a task into a cgroup then waits for no RCU grace
     * period; fork and exit pay a little instead. Older kernels lack the
     * option: mount without it. */
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    cgroups_mounted = mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, "favordynmods") == 0 ||
                      mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, NULL) == 0 || errno == EBUSY;
    if (!cgroups_mounted)
      send_log("no cgroup2 in this kernel (%s): a job's processes that leave its process group can outlive it",
               strerror(errno));
  }
  if (!cgroups_mounted) return;
  for (int i = 0; i < MAX_JOBS; i++) {
    char dir[64];
    snprintf(dir, sizeof dir, CGROUP_ROOT "/job-%d", i);
    if (cgroup_slots[i].held || (cgroup_slots[i].made && !cgroup_empty(dir))) continue;
    if (!cgroup_slots[i].made && mkdir(dir, 0755) != 0 && errno != EEXIST) return;
    cgroup_slots[i].made = cgroup_slots[i].held = 1;
    memcpy(j->cgroup, dir, sizeof dir);
    return;
  }
}

static void cgroup_kill(struct job *j) {
  if (j->cgroup[0]) write_text(j->cgroup, "cgroup.kill", "1");
}

static void cgroup_release(struct job *j) {
  if (!j->cgroup[0]) return;
  cgroup_kill(j);
  int slot = atoi(j->cgroup + sizeof CGROUP_ROOT "/job-" - 1);
  if (slot >= 0 && slot < MAX_JOBS) cgroup_slots[slot].held = 0;
  j->cgroup[0] = 0;
}

static void release(struct job *j) {
  close_fd(&j->out_fd);
  close_fd(&j->err_fd);
  close_fd(&j->in_fd);
  free(j->in_buf);
  forget_waiting(j);
  cgroup_release(j);
  close_fd(&j->ns_status_fd);
  if (j->tmpdir[0]) nftw(j->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  memset(j, 0, sizeof *j);
  j->out_fd = j->err_fd = j->in_fd = j->ns_status_fd = -1;
  j->w_fds[0] = j->w_fds[1] = j->w_fds[2] = -1;
}

static struct job *find_job(uint32_t id) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && jobs[i].id == id) return &jobs[i];
  return NULL;
}
/* A job is over when its leader is reaped and its output pipes are drained.
 * The rest of its process group is killed when the leader dies, so a
 * forgotten background child cannot keep the pipes (and the host) waiting. */
static void maybe_finish(struct job *j) {
  if (!j->reaped || j->out_fd >= 0 || j->err_fd >= 0) return;
  write_back_host_files(); /* before the host hears that it ended */
  if (j->timed_out)
    send_exit(j->id, XRUN_EXIT_TIMEOUT, SIGKILL, "killed by the agent's deadline");
  else if (WIFSIGNALED(j->status))
    send_exit(j->id, XRUN_EXIT_SIGNAL, WTERMSIG(j->status), "");
  else
    send_exit(j->id, XRUN_EXIT_CODE, WEXITSTATUS(j->status), "");
  release(j);
}

/* The host left: nobody is left to hear about these jobs. */
void abandon_jobs(void) {
  for (int i = 0; i < MAX_JOBS; i++) {
    if (!jobs[i].used) continue;
    if (jobs[i].pid <= 0) { /* still waiting for its zygote: never started */
      release(&jobs[i]);
      continue;
    }
    if (!jobs[i].reaped) kill(-jobs[i].pid, SIGKILL);
    cgroup_kill(&jobs[i]);
    jobs[i].id = 0xffffffffu; /* finishes silently */
  }
}

void end_abandoned_jobs(void) {
  /* Their leaders' deaths (a namespaced job's: its init's) take their PID
   * namespaces down and re-parent what the others left to the agent: wait
   * for those, then kill what came to us, until nothing more comes (an
   * adopted process's own children come next; a fork loop is not
   * outrun forever, hence the bound). */
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && jobs[i].pid > 0 && !jobs[i].reaped) waitpid(jobs[i].pid, NULL, 0);
  for (int round = 0; round < 50 && kill_adopted() > 0; round++) {
    usleep(20000);
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
  }
}

/* Whether a child of the agent is one it started itself (a job's leader, a
 * job's namespace init, a zygote) rather than one it adopted. */
static int started_by_us(pid_t pid) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && jobs[i].pid == pid && !jobs[i].zygote) return 1;
  return is_zygote(pid);
}

/* A board: the processes that left their job (setsid(), a double fork) and
 * whose parent died were re-parented to the agent (PR_SET_CHILD_SUBREAPER).
 * Kills them -- the ones the agent did not start itself -- and returns how
 * many. They are reaped by the caller (the main loop's reap()). The kernel's
 * list of our children (/proc/self/task/TID/children) is one read; kernels

 * without it are scanned through /proc. */
static int kill_adopted(void) {
  const pid_t self = getpid();
  char path[64], line[256];
  int killed = 0;
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", self, self);
  FILE *children = fopen(path, "r");
  if (children) {
    int pid;
    while (fscanf(children, "%d", &pid) == 1)
      if (pid > 0 && !started_by_us(pid) && kill(pid, SIGKILL) == 0) killed++;
    fclose(children);
    return killed;
  }
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    const pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0 || pid == self) continue;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "PPid:", 5) == 0) {
        if ((pid_t)atoi(line + 5) == self && !started_by_us(pid) && kill(pid, SIGKILL) == 0) killed++;
        break;
      }
    fclose(f);
  }
  if (d) closedir(d);
  return killed;
}

/* vfork + execve, by hand: glibc's posix_spawn resets every signal's
 * disposition in the child (a sigaction call for each of 64 signals), which
 * costs milliseconds of TCG time per test; this does only what is needed.
 * The child shares our memory until execve, so it reports failure through
 * `child_errno`. Returns 0 or an errno. */
int spawn_process(pid_t *pid_out, const char *path, char **argv, char **env, const char *cwd, int fd0, int fd1, int fd2,
                  int fd3, int cgroup_procs, int own_group) {
  volatile int child_errno = 0;
  pid_t pid = vfork();
  if (pid < 0) return errno;
  if (pid == 0) {
    /* Into the job's cgroup before anything runs (if that fails, only its
     * process group is killed at the end, as without cgroup2). */
    if (cgroup_procs >= 0 && write(cgroup_procs, "0", 1) != 1) {
    }
    if (own_group) setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    signal(SIGPIPE, SIG_DFL); /* the only disposition the agent changes */
    sigprocmask(SIG_SETMASK, &none, NULL);
    int fds[4] = {fd0, fd1, fd2, fd3};
    /* Move the sources above 3 first, so that no dup2 overwrites a later one. */
    for (int i = 0; i < 4; i++)
      if (fds[i] >= 0 && fds[i] <= 3) fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
    for (int i = 0; i < 4; i++)
      if (fds[i] >= 0) dup2(fds[i], i);
    if (cwd[0] && chdir(cwd) != 0) {
      child_errno = errno;
      _exit(127);
    }
    execve(path, argv, env);
    child_errno = errno;
    _exit(127);
  }
  if (child_errno != 0) {
    waitpid(pid, NULL, 0);
    return child_errno;
  }
  *pid_out = pid;
  return 0;
}

/* ------------------------------------------------ job PID namespaces --- */

/* On a board the cgroup tree is its init's (systemd's, or none at all), so
 * what a job starts ends with it through a PID namespace of the job's own:
 * the agent clones an init for the job (a copy of the agent, PID 1 there),
 * which starts the program and waits. When the program ends, the init
 * reports its wait status on a pipe and exits, and the kernel kills
 * everything else in the namespace -- a setsid() child, a double-forked
 * daemon -- as under qemu-user (harness/engine/job_namespace). The init has
 * PR_SET_PDEATHSIG=SIGKILL, so the namespace also goes when the agent itself
 * is killed. The init is the process group's leader (the host's signals go
 * to the group: the program gets them, the init, as a namespace's init,
 * ignores them), and the job's pid is the init's.
 *
 * As root the agent makes the namespace directly; as another user it makes
 * a user namespace around it, the user's uid and gid mapped onto themselves
 * (the program sees its own ids and files; supplementary groups show as
 * nobody). Where neither is allowed (an old kernel, unprivileged user
 * namespaces switched off), jobs start as before: their process group is
 * killed when they end, and what left it is killed through the agent's
 * subreaping (kill_adopted), as the zygote's children always are. */
static int ns_clone_flags = -1; /* -1: not tried yet; 0: no namespace possible here; else what worked */
#define NS_INIT_UNUSABLE (-1)   /* the init's first word: the namespace cannot be used (no id map) */

/* The init's own /proc: /proc/self and getpid() agree in the namespace.
 * Mounted in a mount namespace of the job's (made a slave first, so that
 * nothing leaks back); refused, the board's /proc stays. */
static void ns_mount_own_proc(void) {
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) return;
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* The init, PID 1 of the job's namespace: reports the program's start (0 or
 * an errno, or NS_INIT_UNUSABLE) then its wait status on `report`, and
 * exits. Only system calls and the agent's own vfork path. */
static void __attribute__((noreturn)) ns_init(int report, uid_t uid, gid_t gid, int user_ns, const char *path,
                                              char **argv, char **env, const char *cwd, int fd0, int fd1, int fd2) {
  /* Dies with the agent, and the namespace with it. (Its parent is outside
   * the namespace: getppid() says 0, so there is no checking that the agent
   * did not die before this line; a window of microseconds.) */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int word = 0;
  if (user_ns) {
    char map[64];
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
    int ok = write_text("/proc/self", "uid_map", map) == 0;
    ok = ok && (write_text("/proc/self", "setgroups", "deny\n") == 0 || errno == ENOENT);
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
    ok = ok && write_text("/proc/self", "gid_map", map) == 0;
    if (!ok) { /* unmapped, the program would be nobody: no namespace then */
      word = NS_INIT_UNUSABLE;
      (void)!write(report, &word, sizeof word);
      _exit(127);
    }
  }
  setpgid(0, 0);
  ns_mount_own_proc();
  pid_t child;
  word = spawn_process(&child, path, argv, env, cwd, fd0, fd1, fd2, -1, -1, 0);
  (void)!write(report, &word, sizeof word);
  if (word != 0) _exit(127);
    /* Holding nothing of the agent's: the channel, other jobs' pipes (their
     * ends would never come), this job's own (the program's end is its). */
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 0U, (unsigned)report - 1, 0U) != 0 ||
      syscall(SYS_close_range, (unsigned)report + 1, ~0U, 0U) != 0)
#endif
    for (int fd = 0; fd < 1024; fd++) /* (before Linux 5.9) */
      if (fd != report) close(fd);
  for (;;) {
    int status = 0;
    const pid_t reaped = waitpid(-1, &status, 0);
    if (reaped < 0 && errno == EINTR) continue;
    if (reaped < 0) _exit(127);    /* no word: the agent counts it as killed */
    if (reaped != child) continue; /* an orphan of the program's */
    (void)!write(report, &status, sizeof status);
    _exit(0); /* and the kernel kills the rest of the namespace */
  }
}

/* Starts a job's program under an init in a PID namespace of its own:
 * returns 0 (pid_out: the init; report_out: where its wait status comes),
 * an errno of the program's start, or -1 when no namespace can be made
 * here (the caller starts it as before). */
static int spawn_in_pid_namespace(pid_t *pid_out, int *report_out, const char *path, char **argv, char **env,
                                  const char *cwd, int fd0, int fd1, int fd2) {
  if (ns_clone_flags == 0) return -1;
  const int tries[2] = {CLONE_NEWPID, CLONE_NEWPID | CLONE_NEWUSER};
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  for (int t = 0; t < 2; t++) {
    const int flags = ns_clone_flags > 0 ? ns_clone_flags : tries[t];
    if (flags == CLONE_NEWPID && uid != 0 && ns_clone_flags < 0) continue; /* only root may, without a user namespace */
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -1;
    /* A raw clone: fork() with new namespaces, which glibc's clone() only
     * offers with a stack of its own. The child only makes system calls. */
    const pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), 0UL, 0UL, 0UL, 0UL);
    if (pid == 0) {
      close(report[0]);
      ns_init(report[1], uid, gid, (flags & CLONE_NEWUSER) != 0, path, argv, env, cwd, fd0, fd1, fd2);
    }
    close(report[1]);
    int word = NS_INIT_UNUSABLE;
    if (pid > 0) {
      ssize_t n;
      while ((n = read(report[0], &word, sizeof word)) < 0 && errno == EINTR) {
      }
      if (n != sizeof word) word = NS_INIT_UNUSABLE;
    }
    if (pid > 0 && word == 0) {
      ns_clone_flags = flags;
      *pid_out = pid;
      *report_out = report[0];
      return 0;
    }
    close(report[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    if (pid > 0 && word != NS_INIT_UNUSABLE) return word; /* the namespace works; the program did not start */
    if (ns_clone_flags > 0) return -1;                    /* worked before: this once, start it as before */
  }
  ns_clone_flags = 0;
  send_log(
      "no PID namespace can be made for a job on this board (%s): what a test starts that leaves its process "
      "group ends once no job runs on the board, or with the run",
      geteuid() == 0 ? "the kernel refused one" : "the kernel refused an unprivileged user namespace");
  return -1;
}

static void send_started(struct job *j) {
  out_begin(&tx, XRUN_STARTED);
  out_u32(&tx, j->id);
  out_u32(&tx, (uint32_t)j->pid);
  send_frame(&tx);
}

/* Starts a job that waited for its zygote: forked from it when it is ready
 * (and free), else started normally. */
static void start_waiting(struct job *j) {
  struct zygote *z = j->waiting;
  pid_t pid = -1;
  char tmp_env[96], cgroup_env[128];
  char *set_env[3] = {NULL, NULL, NULL}, **next = set_env;
  cgroup_make(j);
  if (j->tmpdir[0]) snprintf(*next++ = tmp_env, sizeof tmp_env, "TMPDIR=%s", j->tmpdir);
  if (j->cgroup[0])
    snprintf(*next++ = cgroup_env, sizeof cgroup_env, XRUN_ZYGOTE_CGROUP_PROCS "=%s/cgroup.procs", j->cgroup);
  if (z && z->sock >= 0 && z->ready && !z->busy)
    pid = zygote_fork(z, j->w_argv, set_env, j->w_fds[0], j->w_fds[1], j->w_fds[2]);
  if (pid > 0) {
    j->zygote = z;
  } else {
    j->zygote = NULL;
    char procs[128];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", j->cgroup);
    int procs_fd = j->cgroup[0] ? open(procs, O_WRONLY | O_CLOEXEC) : -1;
    /* On a board, in a PID namespace of the job's where one can be made. */
    int error = stdio_mode ? spawn_in_pid_namespace(&pid, &j->ns_status_fd, j->w_path, j->w_argv, j->w_env, j->w_cwd,
                                                    j->w_fds[0], j->w_fds[1], j->w_fds[2])
                           : -1;
    if (error < 0)
      error = spawn_process(&pid, j->w_path, j->w_argv, j->w_env, j->w_cwd, j->w_fds[0], j->w_fds[1], j->w_fds[2], -1,
                            procs_fd, 1);
    if (procs_fd >= 0) close(procs_fd);
    if (error) {
      char message[4200];
      snprintf(message, sizeof message, "cannot run %s: %s", j->w_path, strerror(error));
      send_exit(j->id, XRUN_EXIT_NOT_STARTED, error, message);
      release(j);
      return;
    }
  }
  j->pid = pid;
  j->deadline_ms = j->w_timeout_ms ? now_ms() + j->w_timeout_ms : 0;
  j->pipes_quiet_until_ms = now_ms() + OUTPUT_BATCH_MS;
  forget_waiting(j); /* closes our copies of the child's ends */
  send_started(j);
}

/* The jobs waiting for `z` (it became ready, finished a child, or failed). */
void start_jobs_waiting_for(struct zygote *z) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used || j->waiting != z) continue;
    if (z->sock >= 0 && (!z->ready || z->busy)) return; /* one child at a time; the next when it is done */
    start_waiting(j);
  }
}

/* The environment with TMPDIR replaced (a new array; strings shared). */
static char **with_tmpdir(char **env, const char *assignment) {
  size_t n = 0;
  while (env[n]) n++;
  char **out = calloc(n + 2, sizeof *out);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(env[i], "TMPDIR=", 7) != 0) out[k++] = env[i];
  out[k++] = (char *)assignment;
  out[k] = NULL;
  return out;
}

/* A board: the host sends only what the test needs (never its own PATH or
 * HOME); the board's own login environment fills in the rest. */
static char **with_board_defaults(char **env) {
  static const char *names[] = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", NULL};
  size_t given_count = 0;
  while (env[given_count]) given_count++;
  size_t n = given_count;
  char **out = calloc(n + 8, sizeof *out);
  memcpy(out, env, n * sizeof *out);
  for (const char **name = names; *name; name++) {
    size_t len = strlen(*name);
    int given = 0;
    for (size_t i = 0; i < given_count && !given; i++) given = strncmp(env[i], *name, len) == 0 && env[i][len] == '=';
    if (given) continue;
    for (char **e = environ; *e; e++)
      if (strncmp(*e, *name, len) == 0 && (*e)[len] == '=') {
        out[n++] = *e;
        break;
      }
  }
  out[n] = NULL;
  return out;
}

void handle_run(struct in *in) {
  uint32_t id = in_u32(in), timeout_ms = in_u32(in), flags = in_u32(in);
  char *path = in_str(in), *cwd = in_str(in);
  uint32_t argc, envc, nbinds;
  uint32_t nwritable, nserver;
  char **argv = in_strv(in, &argc), **env = in_strv(in, &envc), **binds = in_strv(in, &nbinds);
  char **writable = in_strv(in, &nwritable), **server_args = in_strv(in, &nserver);
  int out[2] = {-1, -1}, err[2] = {-1, -1}, inp[2] = {-1, -1}, null_in = -1;
  struct job *j = NULL;
  char message[4200] = "";
  char tmpdir[64] = "", tmp_env[96] = "";
  char **run_env = env; /* env, or a copy with the private TMPDIR */
  int error = 0;

  if (in->bad || argc == 0) {
    snprintf(message, sizeof message, "malformed RUN request");
    error = EINVAL;
    goto fail;
  }
  for (int i = 0; i < MAX_JOBS && !j; i++)
    if (!jobs[i].used) j = &jobs[i];
  if (!j) {
    snprintf(message, sizeof message, "too many jobs at once in one VM");
    error = EBUSY;
    goto fail;
  }
  /* A directory that cannot be shown would leave the program in an empty
   * one: that is the VM's failure, not the test's. */
  for (uint32_t i = 0; i < nbinds; i++) {
    int rw = 0;
    for (uint32_t k = 0; k < nwritable && !rw; k++) rw = strcmp(writable[k], binds[i]) == 0;
    if ((error = ensure_bound(binds[i], rw)) != 0) {
      snprintf(message, sizeof message, "cannot show the host's %s in the VM: %s", binds[i], strerror(error));
      goto fail;
    }
  }
  struct stat st;
  if (cwd[0] && stat(cwd, &st) != 0) {
    error = errno;
    snprintf(message, sizeof message, "working directory %s: %s", cwd, strerror(errno));
    goto fail;
  }
  if (flags & XRUN_RUN_PRIVATE_TMPDIR) {
    strcpy(tmpdir, "/tmp/xrun-job-XXXXXX");
    if (!mkdtemp(tmpdir)) {
      error = errno;
      snprintf(message, sizeof message, "cannot create a TMPDIR for the job: %s", strerror(errno));
      tmpdir[0] = 0;
      goto fail;
    }
    snprintf(tmp_env, sizeof tmp_env, "TMPDIR=%s", tmpdir);
    run_env = with_tmpdir(env, tmp_env);
  }
  if (stdio_mode) {
    char **defaults = with_board_defaults(run_env);
    if (run_env != env) free(run_env);
    run_env = defaults;
  }
  if (pipe2(out, O_CLOEXEC) != 0 || (!(flags & XRUN_RUN_MERGE) && pipe2(err, O_CLOEXEC) != 0) ||
      ((flags & XRUN_RUN_STDIN) && pipe2(inp, O_CLOEXEC) != 0)) {
    error = errno;
    snprintf(message, sizeof message, "pipe: %s", strerror(errno));
    goto fail;
  }
  /* Only the agent's ends are non-blocking: the program's stay blocking, so a
   * program that writes faster than the host reads waits for room (the
   * back-pressure of a pipe), instead of getting EAGAIN and losing bytes. */
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  if (err[0] >= 0) fcntl(err[0], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETPIPE_SZ, 1 << 20); /* room for a batch of output */
  null_in = (flags & XRUN_RUN_STDIN) ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int child_in = (flags & XRUN_RUN_STDIN) ? inp[0] : null_in;
  const int child_err = (flags & XRUN_RUN_MERGE) ? out[1] : err[1];

  memset(j, 0, sizeof *j);
  j->used = 1;
  j->id = id;
  j->out_fd = out[0];
  j->err_fd = err[0];
  j->in_fd = inp[1];
  out[0] = err[0] = inp[1] = -1;
  j->w_fds[0] = j->w_fds[1] = j->w_fds[2] = -1;
  j->ns_status_fd = -1;
  strcpy(j->tmpdir, tmpdir);
  tmpdir[0] = 0; /* the job removes it now */
  j->w_timeout_ms = timeout_ms;
  /* The child's ends, kept until it has started. */
  j->w_fds[0] = child_in >= 0 ? fcntl(child_in, F_DUPFD_CLOEXEC, 3) : -1;
  j->w_fds[1] = fcntl(out[1], F_DUPFD_CLOEXEC, 3);
  j->w_fds[2] = fcntl(child_err, F_DUPFD_CLOEXEC, 3);
  j->w_path = strdup(path);
  j->w_cwd = strdup(cwd);
  j->w_argv = copy_strv(argv);
  j->w_env = copy_strv(run_env);
  /* The zygote's key is the environment without the private TMPDIR: every
   * job of a binary shares one copy, and each child gets its own TMPDIR. */
  /* On a board the copy gets the board's login defaults too, as an exec'd job does. */
  char **zygote_env = stdio_mode ? with_board_defaults(env) : env;
  j->waiting = (flags & XRUN_RUN_FORK_SERVER) ? zygote_for(path, cwd, argv, server_args, zygote_env) : NULL;
  if (zygote_env != env) free(zygote_env);
  if (j->waiting && !(j->waiting->ready && !j->waiting->busy)) goto done; /* it starts when the zygote can fork it */
  start_waiting(j);
  goto done;

fail:
  send_exit(id, XRUN_EXIT_NOT_STARTED, error, message);
  if (tmpdir[0]) rmdir(tmpdir);
done:
  close_fd(&out[0]);
  close_fd(&out[1]);
  close_fd(&err[0]);
  close_fd(&err[1]);
  close_fd(&inp[0]);
  close_fd(&inp[1]);
  close_fd(&null_in);
  if (run_env != env) free(run_env);
  free(path);
  free(cwd);
  free_strv(argv);
  free_strv(env);
  free_strv(binds);
  free_strv(writable);
  free_strv(server_args);
}

static void flush_stdin(struct job *j) {
  while (j->in_fd >= 0 && j->in_len > 0) {
    ssize_t w = write(j->in_fd, j->in_buf, j->in_len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return; /* poll() says when to go on */
    if (w < 0) {                          /* the program closed its stdin */
      close_fd(&j->in_fd);
      j->in_len = 0;
      return;
    }
    memmove(j->in_buf, j->in_buf + w, j->in_len - (size_t)w);
    j->in_len -= (size_t)w;
  }
  if (j->in_fd >= 0 && j->in_len == 0 && j->in_eof_pending) close_fd(&j->in_fd);
}

void handle_stdin(struct in *in) {
  struct job *j = find_job(in_u32(in));
  size_t n = (size_t)(in->end - in->p);
  if (!j || j->in_fd < 0) return;
  if (n == 0) {
    j->in_eof_pending = 1;
  } else {
    j->in_buf = realloc(j->in_buf, j->in_len + n);
    memcpy(j->in_buf + j->in_len, in->p, n);
    j->in_len += n;
    fcntl(j->in_fd, F_SETFL, O_NONBLOCK);
  }
  flush_stdin(j);
}

void handle_signal(struct in *in) {
  struct job *j = find_job(in_u32(in));
  uint32_t sig = in_u32(in);
  if (j && !in->bad && j->pid > 0) kill(-j->pid, (int)sig);
  /* A job still waiting for its zygote never started: it ends as if the signal had killed it. */
  if (j && !in->bad && j->pid <= 0) {
    send_exit(j->id, XRUN_EXIT_SIGNAL, (int32_t)sig, "");
    release(j);
  }
}

/* Returns whether anything was read. */
static int drain_pipe(struct job *j, int *fd, unsigned type) {
  static unsigned char buf[PIPE_CHUNK];
  int got = 0;
  for (;;) {
    ssize_t n = read(*fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return got;
    if (n <= 0) {
      close_fd(fd);
      return got;
    }
    got = 1;
    out_begin(&tx, type);
    out_u32(&tx, j->id);
    out_bytes(&tx, buf, (size_t)n);
    send_frame(&tx);
    if ((size_t)n < sizeof buf) return got;
  }
}

/* Whether a job is running (or waiting to start): what was adopted may be its. */
static int jobs_running(void) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && (jobs[i].waiting || (jobs[i].pid > 0 && !jobs[i].reaped))) return 1;
  return 0;
}

/* A job without a PID namespace ended since the agent last killed what it adopted. */
static int adopted_may_wait = 0;

/* Without a namespace (or forked by a zygote), what a job left when it
 * ended was re-parented to the agent, among what other running jobs left:
 * it goes once no job runs. (Killing it re-parents its own children to us:
 * the SIGCHLD brings us back here for them.) */
static void kill_what_jobs_left(void) {
  if (adopted_may_wait && stdio_mode && !jobs_running()) adopted_may_wait = kill_adopted() > 0;
}

void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_JOBS; i++) {
      struct job *j = &jobs[i];
      if (!j->used || j->pid <= 0 || j->pid != pid) continue;
      j->reaped = 1;
      j->status = status;
      j->reaped_at_ms = now_ms();
      if (j->ns_status_fd >= 0) {
        /* The job's init said how the program ended before it exited (an
         * init killed -- the deadline, the host's SIGKILL -- said nothing,
         * and its own status is the job's). */
        int program = 0;
        if (read(j->ns_status_fd, &program, sizeof program) == sizeof program) j->status = program;
        close_fd(&j->ns_status_fd);
      } else {
        adopted_may_wait = 1;
      }
      kill(-pid, SIGKILL); /* what is left of its process group */
      cgroup_kill(j);      /* and of everything it started */
      close_fd(&j->in_fd);
    }
  }
  kill_what_jobs_left();
}

/* A zygote's child ended: the zygote sends its wait status. */
void reap_forked(void) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used || !j->zygote || j->reaped) continue;
    struct zygote *z = j->zygote;
    struct pollfd p = {z->sock, POLLIN, 0};
    if (z->sock >= 0 && poll(&p, 1, 0) != 1) continue;
    int status = 0;
    if (z->sock < 0 || read(z->sock, &status, sizeof status) != sizeof status) {
      status = SIGKILL; /* the zygote itself died: count its child as killed */
      zygote_give_up(z, NULL);
    }
    z->busy = 0;
    j->zygote = NULL;
    adopted_may_wait = 1;
    j->reaped = 1;
    j->status = status;
    j->reaped_at_ms = now_ms();
    kill(-j->pid, SIGKILL);
    cgroup_kill(j);
    close_fd(&j->in_fd);
    start_jobs_waiting_for(z);
  }
  kill_what_jobs_left();
}

int poll_jobs(struct pollfd *fds, int n, int64_t now, int64_t *wait) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used) continue;
    /* Output is read at most every OUTPUT_BATCH_MS while the program runs:
     * a test printing ten lines then wakes the agent (a guest context switch
     * and a virtio-serial transfer, milliseconds each under TCG) once, not
     * ten times. Its end, or a full pipe buffer (1 MiB), is seen at once. */
    const int quiet = !j->reaped && now < j->pipes_quiet_until_ms;
    if (j->out_fd >= 0 && !quiet) fds[n++] = (struct pollfd){j->out_fd, POLLIN, 0};
    if (j->err_fd >= 0 && !quiet) fds[n++] = (struct pollfd){j->err_fd, POLLIN, 0};
    if (quiet && (*wait < 0 || j->pipes_quiet_until_ms - now < *wait)) *wait = j->pipes_quiet_until_ms - now;
    if (j->in_fd >= 0 && j->in_len > 0) fds[n++] = (struct pollfd){j->in_fd, POLLOUT, 0};
    if (j->zygote && !j->reaped && j->zygote->sock >= 0) fds[n++] = (struct pollfd){j->zygote->sock, POLLIN, 0};
    int64_t due = j->reaped ? j->reaped_at_ms + 2000 : j->deadline_ms;
    if (due && (*wait < 0 || due - now < *wait)) *wait = due > now ? due - now : 0;
  }
  return n;
}

void serve_jobs(int64_t now) {
  for (int i = 0; i < MAX_JOBS; i++) {
    struct job *j = &jobs[i];
    if (!j->used) continue;
    if (j->reaped || now >= j->pipes_quiet_until_ms) {
      int got = 0;
      if (j->out_fd >= 0) got |= drain_pipe(j, &j->out_fd, XRUN_STDOUT);
      if (j->err_fd >= 0) got |= drain_pipe(j, &j->err_fd, XRUN_STDERR);
      if (got) j->pipes_quiet_until_ms = now + OUTPUT_BATCH_MS;
    }
    if (j->in_fd >= 0 && j->in_len > 0) flush_stdin(j);
    if (!j->reaped && j->pid > 0 && j->deadline_ms && now >= j->deadline_ms && !j->timed_out) {
      j->timed_out = 1;
      kill(-j->pid, SIGKILL);
    }
    /* A process that left the group (setsid) may hold the pipes: stop waiting. */
    if (j->reaped && now >= j->reaped_at_ms + 2000) {
      close_fd(&j->out_fd);
      close_fd(&j->err_fd);
    }
    maybe_finish(j);
  }
}
