/* Before serving the host (init.h). */
#define _GNU_SOURCE
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "main.h"
#include "protocol.h"

/* A VM restored from saved state wakes up with the clock it was saved with
 * (hours behind, on every run): the host's HELLO carries its own, which is
 * set before any job starts. A board's clock is the board's own business. */
void set_clock_from_host(int64_t host_ns) {
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
void become_init(void) {
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
void serve_stdio(int exclusive) {
  if (store_dir) {
    /* Objects are the content of the host's files (secrets too): 0600 in a
     * 0700 directory. Earlier agents made it 0755 with 0644 files;
     * closing the directory closes those. */
    char objects[4200];
    snprintf(objects, sizeof objects, "%s/objects", store_dir);
    chmod(objects, 0700);
    files_session_begins();
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
