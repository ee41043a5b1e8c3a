/* xrun-agent: the host's hands on a target machine, over one byte stream.
 *
 * Two transports, one service:
 *  - in an xrun VM it is the init (PID 1): it mounts /proc, /sys, /dev and
 *    /tmp, loads the kernel modules the image builder listed in
 *    /etc/xrun/modules (already in dependency order), finds its
 *    virtio-serial port by name and serves the host there (become_init,
 *    open_port);
 *  - on a board it is started over SSH as `xrun-agent --stdio --store DIR`
 *    (harness/board): it serves the host on its stdin/stdout, and when that
 *    channel closes for any reason (xrun killed, network lost) it kills every
 *    job and exits -- OpenSSH alone would leave them running.
 * Either way it serves the protocol in protocol.h: run a program with argv,
 * env and cwd, stream its stdout/stderr, forward stdin, enforce a deadline,
 * signal its process group, report how it ended, and (boards) put files in
 * place by content hash. It reaps every orphan, as an init (or, on a board,
 * a child subreaper) must. What a job starts ends with it: in a VM through a
 * cgroup per job, on a board through a PID namespace per job where the
 * board allows one, else through the agent's subreaping.
 *
 * One thread, one poll() loop: the port, each job's pipes, a signalfd for
 * SIGCHLD. Programs start with vfork + execve (see spawn_process: what keeps
 * a run at a few milliseconds under TCG: no page-table copy of the agent).
 *
 * The host may go away and come back (xrun exits; a VM restored from saved
 * state gets a new host): reading the port then returns EOF or POLLHUP. The
 * agent kills the jobs of the host that left and waits for the next HELLO.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "zygote_request.h"

#define MAX_JOBS 64
#define MAX_ZYGOTES 16
#define MAX_BINDS 64
#define PIPE_CHUNK 65536
#define OUTPUT_BATCH_MS 20

extern char **environ;

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
  int64_t pipes_quiet_until_ms; /* output is read in batches, see the main loop */
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
static struct zygote zygotes[MAX_ZYGOTES];

static struct job jobs[MAX_JOBS];
static int in_fd = -1, out_fd = -1; /* the host: one virtio-serial port (both), or stdin and stdout */
static int stdio_mode = 0;          /* a board: the channel's end is the agent's end */
static int is_init = 0;             /* PID 1 of an xrun VM: cgroups, 9p binds and mounts are ours */
static const char *store_dir;       /* --store: objects sent by content hash, and the mirror prefix */
static int exclusive = 0;           /* --lock: one xrun run at a time on this board */
static const char *zygote_library = XRUN_AGENT_ZYGOTE_LIBRARY; /* --zygote: where a board keeps it */
static int host_connected = 0;
static unsigned char *rx;
static size_t rx_len, rx_cap;
static char *bound[MAX_BINDS];
static int bound_writable[MAX_BINDS]; /* from the uncached share (ensure_bound) */
static int bound_count;
static int host_root_fd = -1;     /* the cached 9p mount, for syncfs() */
static int host_writable_fd = -1; /* the uncached one */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void console(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("xrun-agent: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ------------------------------------------------------------ sending --- */

struct out {
  unsigned char *data;
  size_t len, cap;
};

static void out_bytes(struct out *o, const void *p, size_t n) {
  if (o->len + n > o->cap) {
    o->cap = (o->len + n) * 2 + 64;
    o->data = realloc(o->data, o->cap);
    if (!o->data) abort();
  }
  memcpy(o->data + o->len, p, n);
  o->len += n;
}
static void out_u32(struct out *o, uint32_t v) {
  unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
  out_bytes(o, b, 4);
}
static void out_str(struct out *o, const char *s, size_t n) {
  out_u32(o, (uint32_t)n);
  out_bytes(o, s, n);
}
static void out_begin(struct out *o, unsigned type) {
  o->len = 0;
  out_u32(o, 0);
  unsigned char t = (unsigned char)type;
  out_bytes(o, &t, 1);
}

static void go_disconnected(void);
static int kill_adopted(void);

/* Frames are queued and written together once per turn of the main loop
 * (flush_frames): a test's last output and its EXIT then cross virtio-serial
 * in one transfer, and the host wakes once. */
static struct out queued;

static void send_frame(struct out *o) {
  uint32_t n = (uint32_t)(o->len - 4);
  o->data[0] = n & 0xff;
  o->data[1] = (n >> 8) & 0xff;
  o->data[2] = (n >> 16) & 0xff;
  o->data[3] = (n >> 24) & 0xff;
  if (!host_connected) return;
  out_bytes(&queued, o->data, o->len);
}

/* The port is non-blocking: while the host is away a write would otherwise
 * block forever, so what the host cannot take within a few seconds is dropped
 * and the host counted as gone. */
static void flush_frames(void) {
  size_t done = 0;
  while (host_connected && done < queued.len) {
    ssize_t w = write(out_fd, queued.data + done, queued.len - done);
    if (w > 0) {
      done += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      /* Over SSH a congested network stalls the channel for longer than virtio-serial ever does. */
      struct pollfd p = {out_fd, POLLOUT, 0};
      if (poll(&p, 1, stdio_mode ? 60000 : 5000) > 0 && (p.revents & POLLOUT)) continue;
    }
    go_disconnected();
  }
  queued.len = 0;
}

static struct out tx;

static void send_log(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  console("%s", buf);
  out_begin(&tx, XRUN_LOG);
  out_str(&tx, buf, (size_t)n);
  send_frame(&tx);
}

static void send_exit(uint32_t id, uint32_t how, int32_t value, const char *message) {
  out_begin(&tx, XRUN_EXIT);
  out_u32(&tx, id);
  out_u32(&tx, how);
  out_u32(&tx, (uint32_t)value);
  out_str(&tx, message, strlen(message));
  send_frame(&tx);
}

/* --------------------------------------------------------------- jobs --- */

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void free_strv(char **v);

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
  /* The share is mounted cache=loose (executables stay in the page cache
   * across runs, which halves the cost of a test): what the job wrote is
   * written back to the host before the host hears that it ended. */
  if (host_root_fd >= 0) syncfs(host_root_fd);
  if (j->timed_out)
    send_exit(j->id, XRUN_EXIT_TIMEOUT, SIGKILL, "killed by the agent's deadline");
  else if (WIFSIGNALED(j->status))
    send_exit(j->id, XRUN_EXIT_SIGNAL, WTERMSIG(j->status), "");
  else
    send_exit(j->id, XRUN_EXIT_CODE, WEXITSTATUS(j->status), "");
  release(j);
}

static void go_disconnected(void) {
  if (!host_connected) return;
  host_connected = 0;
  rx_len = 0;
  /* Nobody is left to hear about these jobs. */
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
  for (int i = 0; i < MAX_ZYGOTES; i++) {
    if (!zygotes[i].key) continue;
    if (zygotes[i].pid > 0) kill(zygotes[i].pid, SIGKILL);
    if (zygotes[i].sock >= 0) close(zygotes[i].sock);
    free(zygotes[i].key);
    memset(&zygotes[i], 0, sizeof zygotes[i]);
  }
  if (stdio_mode) {
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
    exit(0); /* on a board the host does not come back on this channel: the next run starts another agent */
  }
}

/* Whether a child of the agent is one it started itself (a job's leader, a
 * job's namespace init, a zygote) rather than one it adopted. */
static int started_by_us(pid_t pid) {
  for (int i = 0; i < MAX_JOBS; i++)
    if (jobs[i].used && jobs[i].pid == pid && !jobs[i].zygote) return 1;
  for (int i = 0; i < MAX_ZYGOTES; i++)
    if (zygotes[i].key && zygotes[i].pid == pid) return 1;
  return 0;
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

static int mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) return -1;
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0755);
    *p = '/';
  }
  return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Mounts the host's / (9p `tag`) at `at`, on first use, never before, so a
 * VM can be saved and restored: a mounted 9p share blocks migration.
 * Returns the directory's fd, or -errno. */
static int mount_host_share(const char *tag, const char *at, const char *cache) {
  char options[128];
  snprintf(options, sizeof options, "trans=virtio,version=9p2000.L,msize=262144,cache=%s", cache);
  mkdir_p(at);
  if (mount(tag, at, "9p", 0, options) != 0) {
    int error = errno;
    send_log("cannot mount the host's files (9p tag %s): %s", tag, strerror(error));
    return -error;
  }
  return open(at, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Shows host directory `path` at the same path in the guest, each path a
 * bind mount of the host's / shared over 9p. Read-only directories (the
 * program's, its libraries') come from a share mounted cache=loose:
 * executables stay in the page cache across tests, which halves the cost of
 * a test. Writable ones (the cwd, the shares, a TMPDIR) come from a second
 * share of the same tree mounted cache=mmap (uncached reads and writes,
 * mmap still allowed): with loose, each VM appended at its own idea of a
 * file's size and two VMs appending to one file lost half the lines, and
 * one VM did not see what another had just written. A directory shown
 * read-only and later needed writable gets the writable mount on top.
 * Returns 0, or the errno of what failed. */
static int ensure_bound(const char *path, int writable) {
  if (!is_init) return ENOTSUP; /* a board has no host share: its files come in FILES/OBJECT frames */
  if (strcmp(path, "/") == 0 || strncmp(path, "/proc", 5) == 0 || strncmp(path, "/sys", 4) == 0 ||
      strncmp(path, "/dev", 4) == 0)
    return 0;
  for (int i = 0; i < bound_count; i++)
    if (strcmp(bound[i], path) == 0 && (bound_writable[i] || !writable)) return 0;
  int *root_fd = writable ? &host_writable_fd : &host_root_fd;
  const char *root = writable ? XRUN_AGENT_HOST_WRITABLE_ROOT : XRUN_AGENT_HOST_ROOT;
  if (*root_fd < 0) {
    int fd = writable ? mount_host_share(XRUN_AGENT_9P_WRITABLE_TAG, root, "mmap")
                      : mount_host_share(XRUN_AGENT_9P_TAG, root, "loose");
    if (fd < 0) return -fd;
    *root_fd = fd;
  }
  char source[4096];
  snprintf(source, sizeof source, "%s%s", root, path);
  if (mkdir_p(path) != 0 || mount(source, path, NULL, MS_BIND | MS_REC, NULL) != 0) {
    int error = errno ? errno : EIO;
    send_log("cannot show host directory %s in the guest: %s", path, strerror(error));
    return error;
  }
  for (int i = 0; i < bound_count; i++)
    if (strcmp(bound[i], path) == 0) {
      bound_writable[i] = 1;
      return 0;
    }
  if (bound_count < MAX_BINDS) {
    bound_writable[bound_count] = writable;
    bound[bound_count++] = strdup(path);
  }
  return 0;
}

/* ------------------------------------------------------------ parsing --- */

struct in {
  const unsigned char *p, *end;
  int bad;
};

static uint32_t in_u32(struct in *in) {
  if (in->end - in->p < 4) {
    in->bad = 1;
    return 0;
  }
  uint32_t v = in->p[0] | (in->p[1] << 8) | (in->p[2] << 16) | ((uint32_t)in->p[3] << 24);
  in->p += 4;
  return v;
}

/* A NUL-terminated copy (freed by the caller). */
static char *in_str(struct in *in) {
  uint32_t n = in_u32(in);
  if (in->bad || (size_t)(in->end - in->p) < n) {
    in->bad = 1;
    return strdup("");
  }
  char *s = malloc(n + 1);
  memcpy(s, in->p, n);
  s[n] = 0;
  in->p += n;
  return s;
}

static char **in_strv(struct in *in, uint32_t *count) {
  uint32_t n = in_u32(in);
  if (in->bad || n > 1u << 20) {
    in->bad = 1;
    n = 0;
  }
  char **v = calloc(n + 1, sizeof *v);
  for (uint32_t i = 0; i < n; i++) v[i] = in_str(in);
  *count = n;
  return v;
}

static void free_strv(char **v) {
  for (char **p = v; p && *p; p++) free(*p);
  free(v);
}

/* vfork + execve, by hand: glibc's posix_spawn resets every signal's
 * disposition in the child (a sigaction call for each of 64 signals), which
 * costs milliseconds of TCG time per test; this does only what is needed.
 * The child shares our memory until execve, so it reports failure through
 * `child_errno`. Returns 0 or an errno. */
static int spawn_process(pid_t *pid_out, const char *path, char **argv, char **env, const char *cwd, int fd0, int fd1,
                         int fd2, int fd3, int cgroup_procs, int own_group) {
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

/* What makes two jobs' copies the same process: the program, its argv[0],
 * cwd, the arguments it starts with and its environment. */
static char *zygote_key(const char *path, const char *cwd, char **zargv, char **env) {
  size_t n = strlen(path) + strlen(cwd) + 4;
  for (char **a = zargv; *a; a++) n += strlen(*a) + 1;
  for (char **e = env; *e; e++) n += strlen(*e) + 1;
  char *key = malloc(n), *p = key;
  p += sprintf(p, "%s\n%s\n", path, cwd);
  for (char **a = zargv; *a; a++) p += sprintf(p, "%s%c", *a, 0x1f);
  *p++ = '\n';
  for (char **e = env; *e; e++) p += sprintf(p, "%s\n", *e);
  *p = 0;
  return key;
}

/* The zygote for this program: found, or started now (it becomes ready
 * later, see the main loop); NULL when the program cannot be forked that
 * way (the caller starts it normally). */
static struct zygote *zygote_for(const char *path, const char *cwd, char **argv, char **server_args, char **env) {
  for (char **e = env; *e; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) == 0) return NULL; /* the user's preload wins */
  if (access(zygote_library, R_OK) != 0) return NULL;
  /* Started with argv[0] and the host's server arguments (a test of no name
   * with room for any): zygote.c writes each child's arguments over them,
   * for programs that keep the ones they started with (Rust's std). */
  size_t nserver = 0;
  while (server_args[nserver]) nserver++;
  char **zargv = calloc(nserver + 2, sizeof *zargv);
  zargv[0] = argv[0];
  memcpy(zargv + 1, server_args, nserver * sizeof *zargv);
  char *key = zygote_key(path, cwd, zargv, env);
  struct zygote *slot = NULL;
  for (int i = 0; i < MAX_ZYGOTES; i++) {
    if (zygotes[i].key && strcmp(zygotes[i].key, key) == 0) {
      free(key);
      free(zargv);
      return zygotes[i].sock >= 0 ? &zygotes[i] : NULL;
    }
    if (!zygotes[i].key && !slot) slot = &zygotes[i];
  }
  if (!slot) {
    free(key);
    free(zargv);
    return NULL;
  }
  slot->key = key;
  slot->sock = -1;
  slot->ready = 0;
  slot->busy = 0;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    free(zargv);
    return NULL;
  }
  size_t envc = 0;
  while (env[envc]) envc++;
  char **zenv = calloc(envc + 3, sizeof *zenv);
  memcpy(zenv, env, envc * sizeof *zenv);
  static char preload[4200];
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", zygote_library);
  zenv[envc] = preload;
  zenv[envc + 1] = "XRUN_ZYGOTE_FD=3";
  pid_t pid;
  int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC), null_out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  int error = spawn_process(&pid, path, zargv, zenv, cwd, null_in, null_out, null_out, sv[1], -1, 1);
  close(null_in);
  close(null_out);
  free(zenv);
  free(zargv);
  close(sv[1]);
  if (error) {
    close(sv[0]);
    return NULL;
  }
  slot->pid = pid;
  slot->sock = sv[0];
  slot->ready_by_ms = now_ms() + ZYGOTE_START_MS;
  return slot;
}

static void zygote_give_up(struct zygote *z, const char *why) {
  if (z->sock < 0) return;
  kill(-z->pid, SIGKILL);
  kill(z->pid, SIGKILL);
  close(z->sock);
  z->sock = -1; /* key kept: not tried again */
  z->ready = z->busy = 0;
  if (why) send_log("%s", why);
}

/* Asks the zygote for a child running argv with these stdio fds, and the
 * environment changes `set_env` (its private TMPDIR). */
static pid_t zygote_fork(struct zygote *z, char **argv, char **set_env, int fd0, int fd1, int fd2) {
  const int fds[3] = {fd0, fd1, fd2};
  int pid = -1;
  struct pollfd p = {z->sock, POLLIN, 0};
  if (xrun_zygote_send_request(z->sock, argv, set_env, fds) < 0 || poll(&p, 1, 5000) != 1 ||
      read(z->sock, &pid, sizeof pid) != sizeof pid || pid <= 0) {
    zygote_give_up(z, NULL);
    return -1;
  }
  z->busy = 1;
  return pid;
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
static void start_jobs_waiting_for(struct zygote *z) {
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

static char **copy_strv(char **v) {
  size_t n = 0;
  while (v && v[n]) n++;
  char **out = calloc(n + 1, sizeof *out);
  for (size_t i = 0; i < n; i++) out[i] = strdup(v[i]);
  return out;
}

static void handle_run(struct in *in) {
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

/* -------------------------------------------------------------- files --- */

/* A board has a filesystem of its own: before a job runs, the host names
 * every file it needs (FILES: path, mode, size, mtime, content hash). A file
 * already there with that size and modification time is left alone; one
 * whose content is in the store (DIR/objects/<hash>, sent by an earlier run
 * for any path) is copied into place; the rest are asked for, and come as
 * OBJECT frames. Files are written beside their place and renamed onto it,
 * so a program is never exec'd while it is open for writing (ETXTBSY) and a
 * running one keeps its old inode. The copy is a copy, not a hard link: a
 * test that rewrites a fixture in place must not change the stored object.
 *
 * Paths are mirrored at the same absolute place when the board's user can
 * create it (absolute paths compiled into tests keep working), else under
 * DIR/mirror; FILES_ACK says which, and the host runs jobs there. */
static char mirror_prefix[4096];
static int mirror_decided = 0;
static char object_error[4400]; /* the first OBJECT that could not be stored, told in the next FILES_ACK */

static uint64_t in_u64(struct in *in) {
  uint64_t lo = in_u32(in), hi = in_u32(in);
  return lo | (hi << 32);
}

static int hash_is_safe(const char *hash) {
  if (!hash[0] || strlen(hash) > 128) return 0;
  for (const char *c = hash; *c; c++)
    if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return 0;
  return 1;
}

static void object_path(char *out, size_t n, const char *hash, const char *suffix) {
  snprintf(out, n, "%s/objects/%s%s", store_dir, hash, suffix);
}

/* All of `n` bytes, or -1 with errno set: a write that stops short (a full
 * file system) is written again, so the error said is the real one (ENOSPC),
 * not whatever errno held before. */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    if (w == 0) {
      errno = ENOSPC;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int copy_file_to(const char *from, const char *to, mode_t mode) {
  /* `mode` is the host file's: a 0600 secret stays 0600 where it is mirrored. */
  int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
  if (in < 0) return -1;
  out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  if (out >= 0) {
    static char buf[PIPE_CHUNK];
    ssize_t r;
    rc = 0;
    while ((r = read(in, buf, sizeof buf)) != 0) {
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || write_all(out, buf, (size_t)r) != 0) {
        rc = -1;
        break;
      }
    }
    fchmod(out, mode & 07777); /* not narrowed by the umask */
    if (close(out) != 0) rc = -1;
  }
  int saved = errno;
  close(in);
  errno = saved;
  return rc;
}

static void decide_mirror(const char *first_path) {
  mirror_decided = 1;
  mirror_prefix[0] = 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", first_path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = 0;
  if (mkdir_p(dir) == 0 && access(dir, W_OK) == 0) return;
  snprintf(mirror_prefix, sizeof mirror_prefix, "%s/mirror", store_dir);
  send_log("cannot create %s on this board (%s): files are mirrored under %s", dir, strerror(errno), mirror_prefix);
}

/* 1: in place now; 0: its object is missing; -1: failed (message set). */
static int place_file(const char *path, uint32_t mode, uint64_t size, uint64_t mtime_ns, const char *hash,
                      char *message, size_t message_size) {
  char at[4200];
  snprintf(at, sizeof at, "%s%s", mirror_prefix, path);
  struct stat st;
  if (S_ISDIR(mode)) {
    /* Never more open than on the host (a 0700 directory of 0600 secrets
     * stays closed to the board's other users), and never opened further
     * if it was there before; the owner keeps rwx to place what comes next. */
    if (mkdir_p(at) == 0 && stat(at, &st) == 0) {
      const mode_t narrowed = (st.st_mode & 07000) | (st.st_mode & mode & 0777) | 0700;
      if ((st.st_mode & 07777) == narrowed || chmod(at, narrowed) == 0) return 1;
    }
    snprintf(message, message_size, "cannot create directory %s on the board: %s", at, strerror(errno));
    return -1;
  }
  if (lstat(at, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
      (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec == mtime_ns &&
      (st.st_mode & 07777) == (mode & 07777))
    return 1;
  char object[4200], tmp[4300];
  object_path(object, sizeof object, hash, "");
  if (access(object, R_OK) != 0) return 0;
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", at);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = 0;
  snprintf(tmp, sizeof tmp, "%s.xrun-%d", at, (int)getpid());
  if (mkdir_p(dir) != 0 || copy_file_to(object, tmp, mode) != 0) {
    snprintf(message, message_size, "cannot write %s on the board: %s", at, strerror(errno));
    unlink(tmp);
    return -1;
  }
  struct timespec times[2] = {{0, UTIME_OMIT}, {(time_t)(mtime_ns / 1000000000u), (long)(mtime_ns % 1000000000u)}};
  utimensat(AT_FDCWD, tmp, times, 0);
  if (rename(tmp, at) != 0) {
    snprintf(message, message_size, "cannot put %s in place on the board: %s", at, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 1;
}

static void handle_files(struct in *in) {
  uint32_t req = in_u32(in), count = in_u32(in);
  struct out ack = {0};
  uint32_t *missing = calloc(count ? count : 1, sizeof *missing), nmissing = 0;
  char message[4600] = "";
  if (!store_dir) snprintf(message, sizeof message, "this agent has no file store (started without --store)");
  for (uint32_t i = 0; i < count && !message[0] && !in->bad; i++) {
    char *path = in_str(in);
    uint32_t mode = in_u32(in);
    uint64_t size = in_u64(in), mtime_ns = in_u64(in);
    char *hash = in_str(in);
    if (in->bad || path[0] != '/' || strstr(path, "/../") || (!S_ISDIR(mode) && !hash_is_safe(hash))) {
      snprintf(message, sizeof message, "malformed FILES request");
    } else {
      if (!mirror_decided) decide_mirror(path);
      int placed = place_file(path, mode, size, mtime_ns, hash, message, sizeof message);
      if (placed == 0) missing[nmissing++] = i;
    }
    free(path);
    free(hash);
  }
  if (in->bad && !message[0]) snprintf(message, sizeof message, "malformed FILES request");
  if (!message[0] && object_error[0]) snprintf(message, sizeof message, "%s", object_error);
  object_error[0] = 0;
  out_begin(&ack, XRUN_FILES_ACK);
  out_u32(&ack, req);
  out_str(&ack, mirror_prefix, strlen(mirror_prefix));
  out_u32(&ack, message[0] ? 0 : nmissing);
  for (uint32_t i = 0; i < nmissing && !message[0]; i++) out_u32(&ack, missing[i]);
  out_str(&ack, message, strlen(message));
  send_frame(&ack);
  free(ack.data);
  free(missing);
}

static void handle_object(struct in *in) {
  in_u32(in); /* the request it belongs to */
  char *hash = in_str(in);
  uint32_t last = in_u32(in);
  char part[4200], done[4200], dir[4200];
  if (in->bad || !store_dir || !hash_is_safe(hash)) {
    snprintf(object_error, sizeof object_error, "malformed OBJECT frame");
    free(hash);
    return;
  }
  object_path(part, sizeof part, hash, ".part");
  object_path(done, sizeof done, hash, "");
  snprintf(dir, sizeof dir, "%s/objects", store_dir);
  mkdir(dir, 0700); /* the store itself (the host made it 0700) is there */
  int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  size_t n = (size_t)(in->end - in->p);
  if (fd < 0 || write_all(fd, (const char *)in->p, n) != 0) {
    if (!object_error[0])
      snprintf(object_error, sizeof object_error, "cannot store a file on the board in %s: %s", dir, strerror(errno));
    unlink(part);
  }
  if (fd >= 0) close(fd);
  if (last && !object_error[0] && rename(part, done) != 0)
    snprintf(object_error, sizeof object_error, "cannot store a file on the board in %s: %s", dir, strerror(errno));
  free(hash);
}

/* PULL: what a job wrote under its directories goes back to the host (a
 * board's sync_back). Regular files changed since the job began, each in
 * pieces, named as the host names them (the mirror prefix taken off). */
static uint32_t pull_request;
static int64_t pull_since_ns;
static size_t pull_prefix_len;

static int pull_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
  const int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  if (mtime < pull_since_ns || strstr(path, ".xrun-")) return 0; /* not new, or one of ours being placed */
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  static unsigned char buf[1 << 20];
  const char *name = path + pull_prefix_len;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) n = 0;
    struct out o = {0};
    out_begin(&o, XRUN_PULLED);
    out_u32(&o, pull_request);
    out_str(&o, name, strlen(name));
    out_u32(&o, st->st_mode & 07777);
    out_u32(&o, (uint32_t)((uint64_t)mtime & 0xffffffffu));
    out_u32(&o, (uint32_t)((uint64_t)mtime >> 32));
    const int last = (size_t)n < sizeof buf;
    out_u32(&o, (uint32_t)last);
    out_bytes(&o, buf, (size_t)n);
    send_frame(&o);
    free(o.data);
    flush_frames(); /* a large output does not pile up in memory */
    if (last) break;
  }
  close(fd);
  return 0;
}

static void handle_pull(struct in *in) {
  uint32_t req = in_u32(in), ago_ms = in_u32(in), count;
  char **dirs = in_strv(in, &count);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  pull_request = req;
  pull_since_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - (int64_t)ago_ms * 1000000;
  pull_prefix_len = strlen(mirror_prefix);
  for (uint32_t i = 0; i < count && !in->bad; i++) {
    char at[4200];
    snprintf(at, sizeof at, "%s%s", mirror_prefix, dirs[i]);
    nftw(at, pull_one, 16, FTW_PHYS);
  }
  const char *error = in->bad ? "malformed PULL request" : "";
  out_begin(&tx, XRUN_PULL_DONE);
  out_u32(&tx, req);
  out_str(&tx, error, strlen(error));
  send_frame(&tx);
  free_strv(dirs);
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

/* A VM restored from saved state wakes up with the clock it was saved with
 * (hours behind, on every run): the host's HELLO carries its own, which is
 * set before any job starts. A board's clock is the board's own business. */
static void set_clock_from_host(int64_t host_ns) {
  if (!is_init) return;
  struct timespec now, host = {(time_t)(host_ns / 1000000000), (long)(host_ns % 1000000000)};
  clock_gettime(CLOCK_REALTIME, &now);
  const double off = (double)(now.tv_sec - host.tv_sec) + (double)(now.tv_nsec - host.tv_nsec) / 1e9;
  if (clock_settime(CLOCK_REALTIME, &host) != 0) {
    send_log("cannot set the clock from the host's (%.3f s off): %s", off, strerror(errno));
    return;
  }
  send_log("the guest's clock was %.3f s %s the host's: set from it", off < 0 ? -off : off,
           off < 0 ? "behind" : "ahead of");
}

static void handle_frame(unsigned type, struct in *in) {
  switch (type) {
    case XRUN_HELLO: {
      uint32_t nonce = in_u32(in);
      if (in->end - in->p >= 8) set_clock_from_host((int64_t)in_u64(in));
      struct utsname u;
      uname(&u);
      out_begin(&tx, XRUN_HELLO_ACK);
      out_u32(&tx, nonce);
      out_str(&tx, u.release, strlen(u.release));
      send_frame(&tx);
      break;
    }
    case XRUN_RUN:
      handle_run(in);
      break;
    case XRUN_FILES:
      handle_files(in);
      break;
    case XRUN_OBJECT:
      handle_object(in);
      break;
    case XRUN_PULL:
      handle_pull(in);
      break;
    case XRUN_STDIN: {
      struct job *j = find_job(in_u32(in));
      size_t n = (size_t)(in->end - in->p);
      if (!j || j->in_fd < 0) break;
      if (n == 0) {
        j->in_eof_pending = 1;
      } else {
        j->in_buf = realloc(j->in_buf, j->in_len + n);
        memcpy(j->in_buf + j->in_len, in->p, n);
        j->in_len += n;
        fcntl(j->in_fd, F_SETFL, O_NONBLOCK);
      }
      flush_stdin(j);
      break;
    }
    case XRUN_SIGNAL: {
      struct job *j = find_job(in_u32(in));
      uint32_t sig = in_u32(in);
      if (j && !in->bad && j->pid > 0) kill(-j->pid, (int)sig);
      /* A job still waiting for its zygote never started: it ends as if the signal had killed it. */
      if (j && !in->bad && j->pid <= 0) {
        send_exit(j->id, XRUN_EXIT_SIGNAL, (int32_t)sig, "");
        release(j);
      }
      break;
    }
    default:
      send_log("unknown frame type %u", type);
  }
}

static void read_port(void) {
  if (rx_cap - rx_len < PIPE_CHUNK) {
    rx_cap = rx_cap * 2 + PIPE_CHUNK;
    rx = realloc(rx, rx_cap);
  }
  ssize_t n = read(in_fd, rx + rx_len, rx_cap - rx_len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    go_disconnected();
    return;
  }
  rx_len += (size_t)n;
  size_t at = 0;
  while (rx_len - at >= 5) {
    uint32_t len = rx[at] | (rx[at + 1] << 8) | (rx[at + 2] << 16) | ((uint32_t)rx[at + 3] << 24);
    if (len == 0 || len > XRUN_AGENT_MAX_FRAME) {
      send_log("bad frame length %u: dropping the input", len);
      rx_len = at = 0;
      break;
    }
    if (rx_len - at - 4 < len) break;
    struct in in = {rx + at + 5, rx + at + 4 + len, 0};
    unsigned type = rx[at + 4];
    at += 4 + len;
    /* A HELLO starts over: whatever came before it belonged to a host that left. */
    handle_frame(type, &in);
  }
  memmove(rx, rx + at, rx_len - at);
  rx_len -= at;
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

static void reap(void) {
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
static void reap_forked(void) {
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

/* Zygotes still starting: ready ('R'), dead, or given up after ZYGOTE_START_MS. */
static void watch_starting_zygotes(int64_t now) {
  for (int i = 0; i < MAX_ZYGOTES; i++) {
    struct zygote *z = &zygotes[i];
    if (!z->key || z->sock < 0 || z->ready) continue;
    struct pollfd p = {z->sock, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
      char ready = 0;
      const ssize_t got = read(z->sock, &ready, 1);
      if (got == 1 && ready == XRUN_ZYGOTE_READY) {
        z->ready = 1;
      } else if (got == 1 && ready == XRUN_ZYGOTE_THREADED) {
        zygote_give_up(z,
                       "a test binary's static initialisers started threads, which a forked test would not have: "
                       "starting it for every test");
      } else {
        zygote_give_up(z, "a test binary's started copy died before it was ready: starting it for every test");
      }
    } else if (now >= z->ready_by_ms) {
      zygote_give_up(z, "a test binary's started copy was not ready in 20 s: starting it for every test");
    } else {
      continue;
    }
    start_jobs_waiting_for(z);
  }
}

/* ---------------------------------------------------------------- boot --- */

static void load_modules(void) {
  FILE *list = fopen("/etc/xrun/modules", "r");
  if (!list) return;
  char line[1024];
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    int fd = open(line, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
      if (errno != EEXIST) console("cannot load module %s: %s", line, strerror(errno));
    }
    if (fd >= 0) close(fd);
  }
  fclose(list);
}

static void mount_basics(void) {
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/dev", 0755);
  mkdir("/tmp", 01777);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", 0, NULL);
  mkdir("/dev/shm", 01777);
  mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777");
  /* Loopback up: tests talk to themselves over 127.0.0.1 and ::1. */
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ioctl(sock, SIOCSIFFLAGS, &ifr);
  }
  if (sock >= 0) close(sock);
  sethostname("xrun", 4);
}

/* The port's /dev name depends on probe order; its name attribute does not. */
static int open_port(void) {
  for (int attempt = 0; attempt < 1000; attempt++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char path[512], name[128] = "";
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      FILE *f = fopen(path, "r");
      if (!f) continue;
      if (fgets(name, sizeof name, f)) name[strcspn(name, "\n")] = 0;
      fclose(f);
      if (strcmp(name, XRUN_AGENT_PORT_NAME) != 0) continue;
      snprintf(path, sizeof path, "/dev/%s", e->d_name);
      int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
      closedir(d);
      if (fd >= 0) return fd;
      console("cannot open %s: %s", path, strerror(errno));
      d = NULL;
      break;
    }
    if (d) closedir(d);
    usleep(5000);
  }
  return -1;
}

/* PID 1 of an xrun VM: what an init does before serving anyone. */
static void become_init(void) {
  is_init = 1;
  mount_basics();
  load_modules();
  setenv("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", 1);
  in_fd = out_fd = open_port();
  if (in_fd < 0) {
    console("no virtio-serial port named %s: is virtio_console loaded?", XRUN_AGENT_PORT_NAME);
    for (;;) pause(); /* an init must not exit; the host reports the timeout */
  }
}

/* --lock: the board serves one run at a time. The lock is an flock() on a
 * file of the store, held by this process: the kernel releases it when the
 * agent ends, however it ends, so a cancelled CI job never leaves a stale
 * lock. While another run holds it, the host hears so (LOG "xrun-lock-wait")
 * and this agent waits; the host's HELLO is answered once it has the lock. */
static void take_board_lock(void) {
  char path[4200];
  snprintf(path, sizeof path, "%s/lock", store_dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    send_log("cannot open the board's lock %s: %s", path, strerror(errno));
    return;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return;
  send_log("xrun-lock-wait: another xrun run holds %s", path);
  flush_frames();
  while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  send_log("xrun-lock-taken");
}

/* Started over SSH on a board: the channel is stdin and stdout, and the host
 * is there from the first byte (no HELLO handshake after reconnects). */
static void serve_stdio(void) {
  if (store_dir) {
    /* Objects are the content of the host's files (secrets too): 0600 in a
     * 0700 directory. Earlier agents made it 0755 with 0644 files;
     * closing the directory closes those. */
    char objects[4200];
    snprintf(objects, sizeof objects, "%s/objects", store_dir);
    chmod(objects, 0700);
  }
  stdio_mode = 1;
  host_connected = 1;
  in_fd = STDIN_FILENO;
  out_fd = STDOUT_FILENO;
  fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK);
  /* What a job leaves behind when its parent dies comes to the agent, which kills it with the session. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  /* The SSH server's child: when sshd goes (the connection dropped), so do
   * we -- but not at once: SIGTERM (like SIGHUP, which a server may send),
   * read from the signalfd, ends the session as the channel's EOF does, so
   * the jobs and what they left are killed first. A SIGKILL here would leave
   * what the agent adopted under the board's init. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  /* stderr is the channel's, and the host shows it only if the agent dies: the console of a board. */
  if (exclusive && store_dir) take_board_lock();
}

int main(int argc, char **argv) {
  setvbuf(stderr, NULL, _IONBF, 0);
  /* As a VM's init, the arguments are the kernel command line's leftovers: not ours. */
  for (int i = 1; i < argc && getpid() != 1; i++) {
    if (strcmp(argv[i], "--stdio") == 0)
      stdio_mode = 1;
    else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
      store_dir = argv[++i];
    else if (strcmp(argv[i], "--lock") == 0)
      exclusive = 1;
    else if (strcmp(argv[i], "--zygote") == 0 && i + 1 < argc)
      zygote_library = argv[++i];
    else if (strcmp(argv[i], "--version") == 0) {
      printf("xrun-agent protocol %d\n", XRUN_AGENT_PROTOCOL_VERSION);
      return 0;
    } else {
      console("unknown argument %s (usage: xrun-agent [--stdio [--store DIR]])", argv[i]);
      return 2;
    }
  }
  for (int i = 0; i < MAX_JOBS; i++) {
    jobs[i].out_fd = jobs[i].err_fd = jobs[i].in_fd = jobs[i].ns_status_fd = -1;
    jobs[i].w_fds[0] = jobs[i].w_fds[1] = jobs[i].w_fds[2] = -1;
  }
  if (stdio_mode)
    serve_stdio();
  else if (getpid() == 1)
    become_init();
  else {
    console("not PID 1: run me as a VM's init, or with --stdio");
    return 2;
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (stdio_mode) { /* the end of the channel's server, see serve_stdio */
    sigaddset(&chld, SIGTERM);
    sigaddset(&chld, SIGHUP);
  }
  sigprocmask(SIG_BLOCK, &chld, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  console("ready");

  struct pollfd fds[2 + 4 * MAX_JOBS + MAX_ZYGOTES]; /* a job's out, err, in and zygote; starting zygotes */
  for (;;) {
    int n = 0;
    fds[n++] = (struct pollfd){sfd, POLLIN, 0};
    fds[n++] = (struct pollfd){in_fd, POLLIN, 0};
    int64_t now = now_ms(), wait = -1;
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
      if (quiet && (wait < 0 || j->pipes_quiet_until_ms - now < wait)) wait = j->pipes_quiet_until_ms - now;
      if (j->in_fd >= 0 && j->in_len > 0) fds[n++] = (struct pollfd){j->in_fd, POLLOUT, 0};
      if (j->zygote && !j->reaped && j->zygote->sock >= 0) fds[n++] = (struct pollfd){j->zygote->sock, POLLIN, 0};
      int64_t due = j->reaped ? j->reaped_at_ms + 2000 : j->deadline_ms;
      if (due && (wait < 0 || due - now < wait)) wait = due > now ? due - now : 0;
    }
    for (int i = 0; i < MAX_ZYGOTES; i++) {
      struct zygote *z = &zygotes[i];
      if (!z->key || z->sock < 0 || z->ready) continue;
      fds[n++] = (struct pollfd){z->sock, POLLIN, 0};
      int64_t due = z->ready_by_ms;
      if (wait < 0 || due - now < wait) wait = due > now ? due - now : 0;
    }
    /* Disconnected, the port reports POLLHUP at once: look again every 10 ms. */
    if (!host_connected && (wait < 0 || wait > 10)) wait = 10;
    if (poll(fds, (nfds_t)n, (int)wait) < 0 && errno != EINTR) continue;

    struct signalfd_siginfo si;
    int hung_up = 0;
    while (read(sfd, &si, sizeof si) == sizeof si) hung_up |= si.ssi_signo != SIGCHLD;
    if (hung_up) go_disconnected(); /* a board's: kills everything, exits */
    reap();
    reap_forked();
    watch_starting_zygotes(now_ms());
    if (fds[1].revents & POLLIN) {
      host_connected = 1;
      read_port();
    } else if (fds[1].revents & (POLLHUP | POLLERR)) {
      go_disconnected();
    }
    now = now_ms();
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
    flush_frames();
  }
}
