#include "engine/job_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace xrun {

namespace {

// The signals A must survive while it waits: its process group gets them
// (they reach the program, which is what they are for); A's own end comes
// from the program's.
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE};

void nothing(int) {}

// A and B do not exec, so close-on-exec does not close the descriptors they
// inherited: they would hold the job's pipes open (the program would never
// see the end of its stdin, xrun never the end of its output).
void close_all_but(int keep) {
  if (keep > 3)
    ::syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u);
  else
    for (int fd = 0; fd < keep; ++fd) ::close(fd);
  ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
}

[[noreturn]] void end_like(int status) {
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);  // the program's core file, if any, was its own
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::kill(::getpid(), sig);
  ::_exit(128 + sig);
}

// In B, before the program starts: a mount namespace of the job's own with a
// /proc of the PID namespace, so that /proc/self, /proc/<getpid()> and
// getpid() agree (with the host's /proc the program's own pid, 2, names
// another process's entry). The new mounts stay in the job's namespace
// (everything is made a slave first). binfmt_misc is mounted again over the
// new /proc where it was mounted (the same registrations: an instance belongs
// to the user namespace, not to the mount). Anything refused leaves the
// host's /proc, as before.
void mount_own_proc() {
  constexpr long kBinfmtMagic = 0x42494e4d;
  struct statfs binfmt {};
  const bool had_binfmt = ::statfs("/proc/sys/fs/binfmt_misc", &binfmt) == 0 && binfmt.f_type == kBinfmtMagic;
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) return;
  constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (::mount("proc", "/proc", "proc", kFlags, nullptr) == 0 && had_binfmt)
    ::mount("binfmt_misc", "/proc/sys/fs/binfmt_misc", "binfmt_misc", kFlags, nullptr);
}

}  // namespace

void enter_job_pid_namespace(int exec_error_fd) {
  if (::unshare(CLONE_NEWPID) != 0) return;  // not allowed here: run as before
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return;  // children would land in the namespace anyway; C is A itself
  const pid_t b = ::fork();
  if (b < 0) {
    // No init for the namespace: the program runs in A, outside it.
    ::close(status_pipe[0]);
    ::close(status_pipe[1]);
    return;
  }
  if (b == 0) {
    // B: pid 1 of the namespace. (Its parent is outside it: getppid() says
    // 0 here, so there is no checking that A is still there -- A cannot end
    // before B but by SIGKILL, which the death signal covers from now on.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(status_pipe[0]);
    mount_own_proc();
    const pid_t c = ::fork();
    if (c < 0) ::_exit(127);
    if (c == 0) {
      ::close(status_pipe[1]);
      return;  // C: goes on to exec the program
    }
    (void)exec_error_fd;
    close_all_but(status_pipe[1]);  // the job's output ends when its programs close theirs
    for (;;) {
      int status = 0;
      const pid_t reaped = ::waitpid(-1, &status, 0);
      if (reaped < 0 && errno == EINTR) continue;
      if (reaped < 0) ::_exit(127);  // no children left without word of C: A reports SIGKILL
      if (reaped != c) continue;     // an orphan of the program's
      while (::write(status_pipe[1], &status, sizeof status) < 0 && errno == EINTR) {
      }
      ::_exit(0);  // and the kernel kills the rest of the namespace
    }
  }
  // A: survives the signals meant for the program, waits for its word.
  close_all_but(status_pipe[0]);  // exec_error_fd included: only C's exec may end it
  struct sigaction keep {};
  keep.sa_handler = nothing;
  sigemptyset(&keep.sa_mask);
  for (int sig : kForwarded) ::sigaction(sig, &keep, nullptr);
  int status = 0;
  ssize_t n;
  while ((n = ::read(status_pipe[0], &status, sizeof status)) < 0 && errno == EINTR) {
  }
  while (::waitpid(b, nullptr, 0) < 0 && errno == EINTR) {
  }
  end_like(n == sizeof status ? status : (SIGKILL & 0x7f));  // B died without a word: as if killed
}

}  // namespace xrun
