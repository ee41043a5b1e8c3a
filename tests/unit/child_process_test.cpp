#include "core/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "backends/board/ssh.h"
#include "backends/system/vm_command_line.h"
#include "core/process_util.h"
#include "support/descriptors.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

// Whether `pid` is gone: not running and not a zombie (reaped).
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Until `pid` (not necessarily ours) has ended, through a pidfd, bounded
// for failing only.
bool ends_within(pid_t pid, int seconds) {
  const Fd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) return errno == ESRCH;  // gone already
  pollfd ended{fd.get(), POLLIN, 0};
  return ::poll(&ended, 1, seconds * 1000) == 1;
}

// The first line a child prints on `read` (blocking: the event itself).
std::string first_line(const Fd& read) {
  std::string line;
  char c;
  while (::read(read.get(), &c, 1) == 1 && c != '\n') line += c;
  return line;
}

struct Started {
  ChildProcess child;
  Fd out;
};

// `script` under sh, its stdout on a pipe.
Started start_shell(const std::string& script) {
  auto pipe = make_pipe();
  EXPECT_TRUE(pipe);
  ChildSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.stdout_fd = pipe->write.get();
  auto child = spawn_process(spec);
  EXPECT_TRUE(child) << (child ? "" : child.error().message);
  return Started{child ? std::move(*child) : ChildProcess(), std::move(pipe->read)};
}

TEST(ChildProcess, DestroyedWhileItsChildRunsLeavesNeitherAProcessNorAZombie) {
  pid_t pid;
  {
    auto started = start_shell("echo up; exec sleep 1000");
    ASSERT_EQ(first_line(started.out), "up");
    pid = started.child.pid();
    ASSERT_GT(pid, 0);
    ASSERT_FALSE(gone(pid));
  }
  EXPECT_TRUE(gone(pid)) << "pid " << pid << " is still there (running or a zombie)";
}

TEST(ChildProcess, ItsGroupSignalReachesAGrandchild) {
  auto started = start_shell("sleep 1000 & echo $!; wait");
  const pid_t grandchild = std::stoi(first_line(started.out));
  ASSERT_FALSE(gone(grandchild));
  EXPECT_TRUE(started.child.signal(SIGKILL));
  EXPECT_TRUE(ends_within(grandchild, 30)) << "the grandchild outlived its group's SIGKILL";
  const int status = started.child.wait();
  EXPECT_TRUE(WIFSIGNALED(status));
}

TEST(ChildProcess, TryReapNeverBlocksAndAsyncWaitGivesTheStatus) {
  boost::asio::io_context io;  // outlives the child, as a loop outlives what runs on it
  auto in = make_pipe();
  ASSERT_TRUE(in);
  ChildSpec spec;
  spec.argv = {"sh", "-c", "read line; exit 3"};
  spec.stdin_fd = in->read.get();
  auto child = spawn_process(spec);
  ASSERT_TRUE(child);
  Started started{std::move(*child), {}};
  EXPECT_FALSE(started.child.try_reap());  // it waits for its stdin
  EXPECT_FALSE(started.child.has_exited());
  in->write.reset();  // EOF: it ends
  std::optional<int> status;
  started.child.async_wait(io, [&](int s) { status = s; });
  io.run_for(std::chrono::seconds(60));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 3);
  EXPECT_TRUE(started.child.reaped());
}

TEST(ChildProcess, EscalatesToSigkillForAChildThatIgnoresSigterm) {
  boost::asio::io_context io;
  // The ignored SIGTERM is inherited across the exec.
  auto started = start_shell("trap '' TERM; echo up; exec sleep 1000");
  ASSERT_EQ(first_line(started.out), "up");
  const pid_t pid = started.child.pid();
  std::optional<int> status;
  started.child.kill_with_escalation(io, std::chrono::milliseconds(50), [&](int s) { status = s; });
  io.run_for(std::chrono::seconds(60));
  ASSERT_TRUE(status) << "still running after SIGTERM and the grace";
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_TRUE(gone(pid));
}

TEST(ChildProcess, AChildThatHeedsSigtermEndsWithIt) {
  boost::asio::io_context io;
  auto started = start_shell("echo up; exec sleep 1000");
  ASSERT_EQ(first_line(started.out), "up");
  std::optional<int> status;
  started.child.kill_with_escalation(io, std::chrono::hours(1), [&](int s) { status = s; });
  io.run_for(std::chrono::seconds(60));
  ASSERT_TRUE(status);
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGTERM);
}

TEST(ChildProcess, AFailedExecIsAnErrorWithItsErrno) {
  ChildSpec spec;
  spec.argv = {"/nonexistent/program"};
  auto child = spawn_process(spec);
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find(std::strerror(ENOENT)), std::string::npos) << child.error().message;
  EXPECT_NE(child.error().message.find("/nonexistent/program"), std::string::npos) << child.error().message;
  spec.argv = {"true"};
  spec.cwd = "/nonexistent/directory";
  child = spawn_process(spec);
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find("cannot enter /nonexistent/directory"), std::string::npos)
      << child.error().message;
}

TEST(ChildProcess, TheChildGetsItsOwnGroupAndNoneOfOurDescriptors) {
  const Fd stray(::open("/dev/null", O_RDONLY));  // not close-on-exec, as if inherited from a shell
  ASSERT_TRUE(stray);
  // ls straight to our pipe, not through one of the shell's: a pipeline's
  // pipe is open in the shell while ls looks at it.
  auto started = start_shell("echo $(ps -o pgid= -p $$) $$; ls /proc/$$/fd; echo end");
  const std::string ids = first_line(started.out);
  EXPECT_EQ(std::stoi(ids), std::stoi(ids.substr(ids.find(' ') + 1))) << ids;  // pgid == pid
  std::string fds;
  for (std::string line = first_line(started.out); !line.empty() && line != "end"; line = first_line(started.out))
    fds += line + " ";
  EXPECT_EQ(fds, "0 1 2 ");
  started.child.wait();
}

// Every step of a spawn that can fail is made to fail (no descriptor
// left below the limit); what was opened before it is closed again.
TEST(ChildProcess, NoSpawnLeavesADescriptorOpenWhenItFails) {
  testing::TempDir dir;
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  const int highest = testing::highest_descriptor();
  // Every free number up to the highest taken, so that the limit leaves
  // exactly the room asked for.
  const std::vector<Fd> fillers = testing::fill_free_descriptors_up_to(highest);
  const std::size_t before = testing::open_descriptors();
  int failures = 0;
  for (int room = 0; room < 10; ++room) {
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest + 1 + room);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    {
      CommandOptions options;
      options.input = "x";
      options.stderr_to = StderrTo::Capture;
      const CommandResult ran = run_helper({"cat"}, options);
      failures += !ran.started;
      auto piped = spawn_piped({"cat"}, dir.path() + "/log");
      failures += !piped;
      auto qemu = spawn_qemu({"/bin/true"}, dir.path() + "/console", nullptr);
      failures += !qemu;
    }
    ::setrlimit(RLIMIT_NOFILE, &old);
    EXPECT_EQ(testing::open_descriptors(), before) << "with room for " << room << " more descriptors";
  }
  EXPECT_GT(failures, 6);
}

TEST(RunHelper, ATimeoutKillsTheHelpersGroup) {
  CommandOptions options;
  options.timeout_seconds = 0.2;
  options.own_group = true;
  const CommandResult ran = run_helper({"sh", "-c", "sleep 1000 & echo $!; exec sleep 1000"}, options);
  ASSERT_TRUE(ran.started);
  EXPECT_TRUE(ran.timed_out);
  const pid_t grandchild = std::stoi(ran.out);
  EXPECT_TRUE(ends_within(grandchild, 30)) << "the helper's child outlived its timeout";
}

TEST(RunHelper, TooMuchOutputKillsTheHelpersGroup) {
  CommandOptions options;
  options.max_output = 64 * 1024;
  options.stderr_to = StderrTo::Capture;
  options.own_group = true;
  const CommandResult ran = run_helper({"sh", "-c", "sleep 1000 & echo $!; exec yes"}, options);
  ASSERT_TRUE(ran.started);
  EXPECT_TRUE(ran.too_much);
  EXPECT_EQ(ran.out.size(), options.max_output);
  const pid_t grandchild = std::stoi(ran.out);
  EXPECT_TRUE(ends_within(grandchild, 30)) << "the helper's child outlived its output's limit";
}

TEST(RunHelper, InputGoesToStdinAndStderrIsCaptured) {
  CommandOptions options;
  options.input = std::string(200 * 1024, 'x');  // more than a pipe holds
  options.stderr_to = StderrTo::Capture;
  const CommandResult ran = run_helper({"sh", "-c", "wc -c; echo said >&2; exit 4"}, options);
  ASSERT_TRUE(ran.started);
  EXPECT_EQ(std::stoul(ran.out), options.input.size());
  EXPECT_EQ(ran.err, "said\n");
  EXPECT_EQ(ran.status, 4);
  EXPECT_FALSE(run_helper({"/nonexistent/program"}, {}).started);
}

}  // namespace
}  // namespace xrun
