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
 * SIGCHLD. Programs start with vfork + execve (see jobs.c's spawn_process: what keeps
 * a run at a few milliseconds under TCG: no page-table copy of the agent).
 *
 * The host may go away and come back (xrun exits; a VM restored from saved
 * state gets a new host): reading the port then returns EOF or POLLHUP. The
 * agent kills the jobs of the host that left and waits for the next HELLO.
 *
 * The files: main.c (this: the channel, the frames' dispatch, the loop),
 * codec.c (the frames' payloads), jobs.c (starting, watching and ending
 * jobs: vfork, cgroups, PID namespaces, output, deadlines, reaping),
 * zygotes.c (the fork servers jobs are forked from), files.c (the host's
 * files where jobs run: 9p binds in a VM, the content-addressed mirror on a
 * board) and init.c (what comes before serving: a VM's init, a board's
 * session).
 */
#define _GNU_SOURCE
#include "main.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "init.h"
#include "jobs.h"
#include "protocol.h"
#include "zygotes.h"

int in_fd = -1, out_fd = -1;
int stdio_mode = 0;
int is_init = 0;
const char *store_dir;
static int exclusive = 0; /* --lock: one xrun run at a time on this board */
int host_connected = 0;
static unsigned char *rx;
static size_t rx_len, rx_cap;

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void console(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("xrun-agent: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ------------------------------------------------------------ sending --- */

static void go_disconnected(void);

/* Frames are queued and written together once per turn of the main loop
 * (flush_frames): a test's last output and its EXIT then cross virtio-serial
 * in one transfer, and the host wakes once. */
static struct out queued;

void send_frame(struct out *o) {
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
void flush_frames(void) {
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

struct out tx;

void send_log(const char *fmt, ...) {
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

void send_exit(uint32_t id, uint32_t how, int32_t value, const char *message) {
  out_begin(&tx, XRUN_EXIT);
  out_u32(&tx, id);
  out_u32(&tx, how);
  out_u32(&tx, (uint32_t)value);
  out_str(&tx, message, strlen(message));
  send_frame(&tx);
}

/* ------------------------------------------------------------- the host --- */

static void go_disconnected(void) {
  if (!host_connected) return;
  host_connected = 0;
  rx_len = 0;
  /* Nobody is left to hear about these jobs. */
  abandon_jobs();
  stop_zygotes();
  if (stdio_mode) {
    end_abandoned_jobs();
    exit(0); /* on a board the host does not come back on this channel: the next run starts another agent */
  }
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
    case XRUN_STDIN:
      handle_stdin(in);
      break;
    case XRUN_SIGNAL:
      handle_signal(in);
      break;
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
  reset_jobs();
  if (stdio_mode)
    serve_stdio(exclusive);
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
    n = poll_jobs(fds, n, now, &wait);
    n = poll_starting_zygotes(fds, n, now, &wait);
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
    serve_jobs(now_ms());
    flush_frames();
  }
}
