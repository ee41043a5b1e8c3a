/* Zygotes (zygotes.h). */
#define _GNU_SOURCE
#include "zygotes.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jobs.h"
#include "main.h"
#include "protocol.h"
#include "zygote_request.h"

static struct zygote zygotes[MAX_ZYGOTES];
const char *zygote_library = XRUN_AGENT_ZYGOTE_LIBRARY;

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
 * later, see watch_starting_zygotes); NULL when the program cannot be forked that
 * way (the caller starts it normally). */
struct zygote *zygote_for(const char *path, const char *cwd, char **argv, char **server_args, char **env) {
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

void zygote_give_up(struct zygote *z, const char *why) {
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
pid_t zygote_fork(struct zygote *z, char **argv, char **set_env, int fd0, int fd1, int fd2) {
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

int is_zygote(pid_t pid) {
  for (int i = 0; i < MAX_ZYGOTES; i++)
    if (zygotes[i].key && zygotes[i].pid == pid) return 1;
  return 0;
}

void stop_zygotes(void) {
  for (int i = 0; i < MAX_ZYGOTES; i++) {
    if (!zygotes[i].key) continue;
    if (zygotes[i].pid > 0) kill(zygotes[i].pid, SIGKILL);
    if (zygotes[i].sock >= 0) close(zygotes[i].sock);
    free(zygotes[i].key);
    memset(&zygotes[i], 0, sizeof zygotes[i]);
  }
}

int poll_starting_zygotes(struct pollfd *fds, int n, int64_t now, int64_t *wait) {
  for (int i = 0; i < MAX_ZYGOTES; i++) {
    struct zygote *z = &zygotes[i];
    if (!z->key || z->sock < 0 || z->ready) continue;
    fds[n++] = (struct pollfd){z->sock, POLLIN, 0};
    int64_t due = z->ready_by_ms;
    if (*wait < 0 || due - now < *wait) *wait = due > now ? due - now : 0;
  }
  return n;
}

/* Zygotes still starting: ready ('R'), dead, or given up after ZYGOTE_START_MS. */
void watch_starting_zygotes(int64_t now) {
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
