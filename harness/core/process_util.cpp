#include "core/process_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <limits>

#include "core/child_process.h"
#include "core/fd.h"

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

using Clock = std::chrono::steady_clock;

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
  CommandOptions options;
  options.cwd = cwd;
  options.stderr_to = show_stderr ? StderrTo::Inherit : StderrTo::Discard;
  return run_helper(argv, options);
}

CommandResult run_helper(const std::vector<std::string>& argv, const CommandOptions& options) {
  CommandResult result;
  if (argv.empty()) return result;
  if (g_interrupted) {
    result.error = "interrupted";
    return result;
  }
  const bool registered = g_own_groups;  // stop_running_helper() signals it
  // Every descriptor held by an Fd: whichever step fails, none stays open.
  Fd in_write, out_read, err_read;
  Fd in_read, out_write, err_write;
  const auto fail = [&](const std::string& why) {
    result.error = why;
    return result;
  };
  if (!options.input.empty()) {
    auto in = make_pipe();
    if (!in) return fail(in.error().message);
    in_read = std::move(in->read);
    in_write = std::move(in->write);
  }
  auto out = make_pipe();
  if (!out) return fail(out.error().message);
  out_read = std::move(out->read);
  out_write = std::move(out->write);
  if (options.stderr_to == StderrTo::Capture) {
    auto err = make_pipe();
    if (!err) return fail(err.error().message);
    err_read = std::move(err->read);
    err_write = std::move(err->write);
  }
  ChildSpec spec;
  spec.argv = argv;
  spec.cwd = options.cwd;
  spec.stdin_fd = in_read.get();
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = options.stderr_to == StderrTo::Capture   ? err_write.get()
                   : options.stderr_to == StderrTo::Inherit ? STDERR_FILENO
                                                            : -1;
  spec.own_group = options.own_group || registered;
  auto spawned = spawn_process(spec);
  in_read.reset();
  out_write.reset();
  err_write.reset();
  if (!spawned) return fail(spawned.error().message);
  ChildProcess child = std::move(*spawned);
  if (registered) {
    g_running_helper = child.pid();
    if (g_interrupted) child.signal(SIGTERM);  // the signal came between spawn and here
  }
  result.started = true;
  if (in_write) ::fcntl(in_write.get(), F_SETFL, O_NONBLOCK);

  const std::size_t max_output = options.max_output ? options.max_output : std::numeric_limits<std::size_t>::max();
  const bool bounded = options.timeout_seconds > 0;
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
  std::size_t written = 0;
  while ((out_read || err_read) && !result.too_much) {
    pollfd fds[3];
    int n = 0;
    int out_at = -1, err_at = -1, in_at = -1;
    if (out_read) out_at = n, fds[n++] = {out_read.get(), POLLIN, 0};
    if (err_read) err_at = n, fds[n++] = {err_read.get(), POLLIN, 0};
    if (in_write) in_at = n, fds[n++] = {in_write.get(), POLLOUT, 0};
    int wait_ms = -1;
    if (bounded) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, std::numeric_limits<int>::max()));
    }
    if (::poll(fds, static_cast<nfds_t>(n), wait_ms) < 0 && errno != EINTR) break;
    char buffer[65536];
    for (auto [at, fd, text] :
         {std::tuple{out_at, &out_read, &result.out}, std::tuple{err_at, &err_read, &result.err}}) {
      if (at < 0 || !(fds[at].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t r = ::read(fd->get(), buffer, sizeof buffer);
      if (r > 0) {
        text->append(buffer, std::min(static_cast<std::size_t>(r), max_output - std::min(max_output, text->size())));
        result.too_much |= text->size() >= max_output;
      } else if (r == 0 || errno != EINTR) {
        fd->reset();
      }
    }
    if (in_at >= 0 && (fds[in_at].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(in_write.get(), options.input.data() + written, options.input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == options.input.size()) in_write.reset();
    }
  }
  in_write.reset();
  out_read.reset();
  err_read.reset();
  const int status = result.timed_out || result.too_much ? child.kill_and_reap() : child.wait();
  if (registered) g_running_helper = 0;
  result.status = status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace xrun
