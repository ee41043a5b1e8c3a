/* The host's files where a job runs (files.h). */
#define _GNU_SOURCE
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "main.h"
#include "protocol.h"

#define MAX_BINDS 64

static char *bound[MAX_BINDS];
static int bound_writable[MAX_BINDS]; /* from the uncached share (ensure_bound) */
static int bound_count;
static int host_root_fd = -1;     /* the cached 9p mount, for syncfs() */
static int host_writable_fd = -1; /* the uncached one */

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
int ensure_bound(const char *path, int writable) {
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

void write_back_host_files(void) {
  /* The share is mounted cache=loose (executables stay in the page cache
   * across runs, which halves the cost of a test): what the job wrote is
   * written back to the host before the host hears that it ended. */
  if (host_root_fd >= 0) syncfs(host_root_fd);
}

/* ------------------------------------------------------ a board's files --- */

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
 * The store is a cache on a board that may have little room (a root file
 * system in RAM), so a large file must not be kept twice, as an object and
 * as its placed copy: an object of kKeepObjectBytes or more is moved into
 * place by its last use in a FILES request instead of copied, and is then
 * no longer in the store (the placed file, unchanged, is reused by its size
 * and time; changed or at another path, it is sent again). Smaller objects
 * stay, for other paths with the same content. An object that does not fit
 * makes room: the objects of earlier sessions go (never this session's: a
 * FILES request may still need them), and its piece is written once more.
 *
 * Paths are mirrored at the same absolute place when the board's user can
 * create it (absolute paths compiled into tests keep working), else under
 * DIR/mirror; FILES_ACK says which, and the host runs jobs there. */
static char mirror_prefix[4096];
static int mirror_decided = 0;
static char object_error[4400]; /* the first OBJECT that could not be stored, told in the next FILES_ACK */
#define KEEP_OBJECT_BYTES (1u << 20)
static time_t session_started; /* objects older than this are earlier sessions' */
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

void files_session_begins(void) { session_started = time(NULL); }

/* Removes the objects that earlier sessions stored; returns how many. */
static int evict_earlier_objects(void) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/objects", store_dir);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    struct stat st;
    if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && st.st_mtime < session_started && unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
  }
  closedir(d);
  return removed;
}

/* A file's content into `tmp`: the object itself when `take` (its last use
 * here, and large: the store then no longer has it), else a copy of it. */
static int content_to(const char *object, const char *tmp, mode_t mode, int take) {
  if (take) {
    if (rename(object, tmp) == 0) return chmod(tmp, mode & 07777);
    if (errno != EXDEV) return -1;
  }
  if (copy_file_to(object, tmp, mode) != 0) return -1;
  if (take) unlink(object); /* across file systems: copied, and then not kept twice */
  return 0;
}

/* 1: in place now; 0: its object is missing; -1: failed (message set).
 * `last_use`: no later entry of this request has the same content. */
static int place_file(const char *path, uint32_t mode, uint64_t size, uint64_t mtime_ns, const char *hash, int last_use,
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
  if (stat(object, &st) != 0) return 0;
  const int take = last_use && (uint64_t)st.st_size >= KEEP_OBJECT_BYTES;
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", at);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) *slash = 0;
  snprintf(tmp, sizeof tmp, "%s.xrun-%d", at, (int)getpid());
  if (mkdir_p(dir) != 0 || content_to(object, tmp, mode, take) != 0) {
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

/* One entry of a FILES request. */
struct wanted_file {
  char *path, *hash;
  uint32_t mode;
  uint64_t size, mtime_ns;
  int last_use; /* no later entry has the same hash */
};

static const struct wanted_file *sorted_files;
static int by_hash_then_index(const void *a, const void *b) {
  const uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
  const int c = strcmp(sorted_files[i].hash, sorted_files[j].hash);
  return c ? c : (i > j) - (i < j);
}

/* Marks each entry whose content no later entry shares. */
static void mark_last_uses(struct wanted_file *files, uint32_t count) {
  uint32_t *order = malloc((count ? count : 1) * sizeof *order);
  if (!order) return; /* none marked: every object is copied and kept */
  for (uint32_t i = 0; i < count; i++) order[i] = i;
  sorted_files = files;
  qsort(order, count, sizeof *order, by_hash_then_index);
  for (uint32_t k = 0; k < count; k++)
    files[order[k]].last_use = k + 1 == count || strcmp(files[order[k]].hash, files[order[k + 1]].hash) != 0;
  free(order);
}

void handle_files(struct in *in) {
  uint32_t req = in_u32(in), count = in_u32(in);
  struct out ack = {0};
  char message[4600] = "";
  if (!store_dir) snprintf(message, sizeof message, "this agent has no file store (started without --store)");
  /* A count the frame cannot hold is malformed, not an allocation. */
  if (count > (uint32_t)(in->end - in->p)) in->bad = 1;
  const uint32_t n = in->bad ? 0 : count;
  struct wanted_file *files = calloc(n ? n : 1, sizeof *files);
  uint32_t *missing = calloc(n ? n : 1, sizeof *missing), nmissing = 0, parsed = 0;
  for (; parsed < n && !in->bad; parsed++) {
    struct wanted_file *f = &files[parsed];
    f->path = in_str(in);
    f->mode = in_u32(in);
    f->size = in_u64(in);
    f->mtime_ns = in_u64(in);
    f->hash = in_str(in);
  }
  if (!in->bad) mark_last_uses(files, n);
  for (uint32_t i = 0; i < parsed && !message[0] && !in->bad; i++) {
    const struct wanted_file *f = &files[i];
    if (f->path[0] != '/' || strstr(f->path, "/../") || (!S_ISDIR(f->mode) && !hash_is_safe(f->hash))) {
      snprintf(message, sizeof message, "malformed FILES request");
    } else {
      if (!mirror_decided) decide_mirror(f->path);
      int placed = place_file(f->path, f->mode, f->size, f->mtime_ns, f->hash, f->last_use, message, sizeof message);
      if (placed == 0) missing[nmissing++] = i;
    }
  }
  for (uint32_t i = 0; i < parsed; i++) {
    free(files[i].path);
    free(files[i].hash);
  }
  free(files);
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

void handle_object(struct in *in) {
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
  struct stat before;
  int stored = fd >= 0 && fstat(fd, &before) == 0 && write_all(fd, (const char *)in->p, n) == 0;
  if (!stored && fd >= 0 && errno == ENOSPC && evict_earlier_objects() > 0) {
    /* Room made: the piece again, from where it began (a short write may
     * have appended part of it). */
    stored = ftruncate(fd, before.st_size) == 0 && write_all(fd, (const char *)in->p, n) == 0;
  }
  if (!stored) {
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

void handle_pull(struct in *in) {
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
