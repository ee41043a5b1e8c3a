// `xrun --backend system PROGRAM ARGS`: the single-run contract, inside a VM.
// The program's stdout and stderr arrive separately and go to ours, our stdin
// is forwarded, Ctrl-C is passed on to the program, and at the end xrun exits
// with the program's status or dies of the program's signal, as with
// qemu-user (where xrun simply execs qemu).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <thread>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "system/system_runner.h"
#include "xrun_main.h"

namespace xrun {

namespace {

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed stdout: the program's output has nowhere to go
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

int run_in_vm(const RunRequest& request, const Config& config, bool cold_boot) {
  namespace asio = boost::asio;
  std::string program = request.program;
  if (program.find('/') == std::string::npos) {
    auto found = find_program(program);
    if (!found) {
      print_error(program + ": not found");
      return to_int(ExitCode::NotFound);
    }
    program = *found;
  }
  asio::io_context io;
  // Installed before anything is started: a Ctrl-C that comes while the VM's
  // settings are made (its work directory, the one-time device-tree dump)
  // waits here and reaches the program once it runs, and xrun still cleans
  // up, instead of dying with the work directory left in /tmp.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  SystemRunnerOptions options;
  options.cold_boot = cold_boot;
  options.fork_server = false;  // one program, one process: nothing to share
  SystemRunner runner(io, config, options);
  ::signal(SIGPIPE, SIG_IGN);

  std::optional<JobExit> result;
  JobRequest job;
  job.program = program;
  job.args = request.args;
  auto started = runner.start_interactive(
      job,
      {[](std::string_view bytes) { write_all(STDOUT_FILENO, bytes); },
       [&](const JobExit& exit) {
         result = exit;
         io.stop();
       }},
      [](std::string_view bytes) { write_all(STDERR_FILENO, bytes); });
  if (!started) {
    print_error(started.error().message);
    return to_int(started.error().code);
  }
  const JobId id = started->id;

  // Ctrl-C and friends go to the program, as a terminal would send them.
  std::function<void(const boost::system::error_code&, int)> forward = [&](const auto& error, int sig) {
    if (error) return;
    runner.signal(id, sig);
    signals.async_wait(forward);
  };
  signals.async_wait(forward);

  // stdin: a blocking reader thread, since stdin may be a file, a pipe or a
  // terminal (epoll takes only the latter two). It is left blocked in read()
  // when the program ends first; exiting the process ends it.
  std::thread([&io, &runner, id] {
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      std::string bytes(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
      asio::post(io, [&runner, id, bytes] { runner.send_stdin(id, bytes); });
      if (n <= 0) return;
    }
  }).detach();

  io.run();
  signals.cancel();
  runner.shutdown();
  if (!result) {
    print_error("the VM run ended without a result");
    return to_int(ExitCode::CannotExecute);
  }
  if (result->infra_error) {
    print_error(*result->infra_error);
    return result->code == 127 ? to_int(ExitCode::NotFound) : to_int(ExitCode::CannotExecute);
  }
  if (!result->signaled) {
    std::fflush(stdout);
    ::_exit(result->code);  // the stdin thread may still be blocked in read()
  }
  // Die of the same signal, without a core file of xrun itself.
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::signal(result->signal, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, result->signal);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(result->signal);
  ::_exit(128 + result->signal);
}

}  // namespace xrun
