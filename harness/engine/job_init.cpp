#include "engine/job_init.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/private_namespaces.h"
#include "engine/job_namespace.h"

namespace xrun {

namespace {

// argv: kJobInitName, flags ("n": a PID namespace of the job's own, "f":
// enter the private namespaces at kJobInitUserNsFd/kJobInitMountNsFd), the
// working directory ("": keep), the program's path, then its argv. The
// environment is the program's. Only system calls: it runs before main().
[[noreturn]] void run_job_init(int argc, char** argv, char** envp) {
  if (argc < 5) ::_exit(127);
  const char* flags = argv[1];
  const char* cwd = argv[2];
  const char* executable = argv[3];
  ::fcntl(kJobInitErrorFd, F_SETFD, FD_CLOEXEC);  // only the program's exec may close it
  if (std::strchr(flags, 'f')) {
    PrivateNamespaces::enter(kJobInitUserNsFd, kJobInitMountNsFd);  // refused: runs as it would have without
    ::close(kJobInitUserNsFd);
    ::close(kJobInitMountNsFd);
  }
  if (std::strchr(flags, 'n')) enter_job_pid_namespace(kJobInitErrorFd);
  int err = 0;
  if (*cwd && ::chdir(cwd) != 0) err = errno;
  if (err == 0) {
    ::execve(executable, argv + 4, envp);
    err = errno;
  }
  (void)!::write(kJobInitErrorFd, &err, sizeof err);
  ::_exit(127);
}

// glibc calls .init_array functions with main's arguments.
void maybe_run_job_init(int argc, char** argv, char** envp) {
  if (argc > 0 && argv[0] && std::strcmp(argv[0], kJobInitName) == 0) run_job_init(argc, argv, envp);
}

}  // namespace

__attribute__((section(".init_array"), used)) static void (*const job_init_hook)(int, char**,
                                                                                 char**) = &maybe_run_job_init;

const char* job_init_executable() {
  static const bool available = ::access("/proc/self/exe", X_OK) == 0;
  return available ? "/proc/self/exe" : nullptr;
}

}  // namespace xrun
