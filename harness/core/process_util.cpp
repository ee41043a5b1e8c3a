#include "core/process_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>

extern char** environ;

namespace xrun {

namespace {

std::atomic<bool> g_own_groups{false};
std::atomic<pid_t> g_running_helper{0};
volatile std::sig_atomic_t g_interrupted = 0;

void stop_running_helper(int) {
  g_interrupted = 1;
  const pid_t helper = g_running_helper.load();
  if (helper > 0) ::kill(-helper, SIGTERM);
}

}  // namespace

void stop_helpers_on_signals() {
  g_own_groups = true;
  struct sigaction action {};
  action.sa_handler = stop_running_helper;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
}

bool helper_interrupted() { return g_interrupted != 0; }

std::optional<std::string> capture_stdout(const std::vector<std::string>& argv) {
  auto result = run_capturing(argv, "", false);
  if (!result.started || result.status != 0) return std::nullopt;
  return result.out;
}

CaptureResult run_capturing(const std::vector<std::string>& argv, const std::string& cwd, bool show_stderr) {
  CaptureResult result;
  if (argv.empty()) return result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  if (!show_stderr) posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  if (g_own_groups) {
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  }
  pid_t pid = -1;
  const int rc = g_interrupted ? ECANCELED : ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc == 0 && g_own_groups) {
    g_running_helper = pid;
    if (g_interrupted) ::kill(-pid, SIGTERM);  // the signal came between spawn and here
  }
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return result;
  }
  result.started = true;
  std::string& output = result.out;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_running_helper = 0;
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace xrun
