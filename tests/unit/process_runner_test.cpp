// The real JobRunner against the helper program: output, exit statuses,
// signals to the process group, cwd and environment, nothing inherited that
// should not be, and launch failures reported as errors.
#include "engine/process_runner.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>

#include "engine/job_init.h"
#include "probe/elf_probe.h"
#include "support/paths.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::helper;
using xrun::testing::host_helper;
using xrun::testing::TempDir;

namespace {

struct Finished {
  std::string output;
  std::optional<JobExit> exit;
  bool starts_later = false;  // JobStarted said so...
  bool told_started = false;  // ...and Callbacks::started came
};

// Runs one job on `runner` to its end (or 60 s: a job that never ends fails
// the test instead of hanging it).
Finished run_job_on(boost::asio::io_context& io, ProcessRunner& runner, const JobRequest& request,
                    std::function<void(JobId)> after_start = {}) {
  Finished finished;
  auto started =
      runner.start(request, {[&](std::string_view b) { finished.output.append(b); },
                             [&](const JobExit& e) { finished.exit = e; }, [&] { finished.told_started = true; }});
  EXPECT_TRUE(started) << started.error().message;
  if (!started) return finished;
  finished.starts_later = started->starts_later;
  if (after_start) after_start(started->id);
  io.restart();  // the previous job may have run the context out of work
  boost::asio::steady_timer give_up(io, std::chrono::seconds(60));
  bool gave_up = false;
  give_up.async_wait([&](const auto& error) { gave_up = !error; });
  while (!finished.exit && !gave_up && io.run_one() > 0) {
  }
  give_up.cancel();
  io.poll();
  if (!finished.exit) runner.signal(started->id, SIGKILL);
  return finished;
}

// The processes (not zombies) whose arguments are exactly `argv`.
std::vector<pid_t> pids_running(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& a : argv) wanted += a + '\0';
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    if (std::string((std::istreambuf_iterator<char>(cmdline)), {}) == wanted) found.push_back(std::stoi(name));
  }
  return found;
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  Finished run_job(const JobRequest& request, std::function<void(JobId)> after_start = {}) {
    return run_job_on(io_, runner_, request, std::move(after_start));
  }
  boost::asio::io_context io_;
  Config config_;
  ProcessRunner runner_{io_, config_, OverlayStore::from_environment()};
};

TEST_F(ProcessRunnerTest, OutputAndExitStatus) {
  auto f = run_job({helper("aarch64", "dynamic"), {"exit", "5"}, "", {}});
  ASSERT_TRUE(f.exit);
  EXPECT_FALSE(f.exit->signaled);
  EXPECT_EQ(f.exit->code, 5);
  auto out = run_job({host_helper(), {"stderr", "to stderr"}, "", {}});
  EXPECT_EQ(out.output, "to stderr\n") << "stderr shares the output pipe";
}

TEST_F(ProcessRunnerTest, DeathBySignalUnderQemu) {
  auto f = run_job({helper("riscv64", "static"), {"signal", "ABRT"}, "", {}});
  ASSERT_TRUE(f.exit);
  EXPECT_TRUE(f.exit->signaled);
  EXPECT_EQ(f.exit->signal, SIGABRT);
}

TEST_F(ProcessRunnerTest, ChildrenInheritOnlyStandardDescriptors) {
  for (const std::string target : {"x86_64", "aarch64"}) {
    auto f = run_job({helper(target, "static"), {"fds"}, "", {}});
    EXPECT_EQ(f.output, "none\n") << target;
  }
}

TEST_F(ProcessRunnerTest, CwdAndExtraEnvironment) {
  auto cwd = run_job({host_helper(), {"cwd"}, "/tmp", {}});
  EXPECT_EQ(cwd.output, "/tmp\n");
  auto env = run_job({helper("aarch64", "static"), {"env", "XRUN_JOB_VALUE"}, "", {"XRUN_JOB_VALUE=42"}});
  EXPECT_EQ(env.output, "XRUN_JOB_VALUE=42\n");
  auto missing = runner_.start({host_helper(), {"cwd"}, "/nonexistent/dir", {}}, {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot enter /nonexistent/dir"), std::string::npos)
      << missing.error().message;
}

TEST_F(ProcessRunnerTest, SignalReachesTheWholeGroup) {
  // The job's own child, detached from its output (so that nothing but the
  // signal to the process group can end it), must die with the job. The
  // signal goes once the child said it runs -- after a fixed delay, it could
  // come before sh had started it, and then nothing was tested. The child is
  // found by its command line (its pid may be one of a PID namespace's) and
  // its end is watched through a pidfd.
  const std::vector<std::string> child_argv = {host_helper(), "detach", std::to_string(600000 + ::getpid())};
  JobRequest request{"/bin/sh", {"-c", child_argv[0] + " " + child_argv[1] + " " + child_argv[2] + " & wait"}, "", {}};
  std::string output;
  std::optional<JobExit> exit;
  std::vector<pid_t> children;
  int child_fd = -1;
  JobId id = 0;
  JobRunner::Callbacks callbacks;
  callbacks.output = [&](std::string_view bytes) {
    output.append(bytes);
    if (output != "ready\n" || !children.empty()) return;
    children = pids_running(child_argv);
    if (children.size() == 1) child_fd = static_cast<int>(::syscall(SYS_pidfd_open, children[0], 0));
    runner_.signal(id, SIGTERM);
  };
  callbacks.exited = [&](const JobExit& e) { exit = e; };
  auto started = runner_.start(request, callbacks);
  ASSERT_TRUE(started) << started.error().message;
  id = started->id;
  boost::asio::steady_timer give_up(io_, std::chrono::seconds(60));  // a failure's bound, not a wait
  give_up.async_wait([&](const auto& error) {
    if (!error) runner_.signal(id, SIGKILL);
  });
  while (!exit && io_.run_one() > 0) {
  }
  give_up.cancel();
  io_.poll();
  ASSERT_EQ(children.size(), 1u) << "the job's child never said it runs: " << output;
  ASSERT_GE(child_fd, 0) << "the job's child was gone before the signal";
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->signaled);
  EXPECT_EQ(exit->signal, SIGTERM);
  // Dead (a zombie waiting for whoever reaps orphans here is dead too): its
  // pidfd says so as it ends; 10 s bound a failure, they are not waited.
  pollfd ended{child_fd, POLLIN, 0};
  const bool gone = ::poll(&ended, 1, 10000) == 1;
  if (!gone) ::kill(children[0], SIGKILL);
  ::close(child_fd);
  EXPECT_TRUE(gone) << "the job's child outlived the signal to the job";
}

// What a single run needs from any runner: stdin forwarded, stderr apart.
TEST_F(ProcessRunnerTest, StdinIsForwardedAndStderrCanComeApart) {
  std::string out, err;
  std::optional<JobExit> exit;
  JobRequest request{helper("aarch64", "dynamic"), {"cat"}, "", {}};
  request.forward_stdin = true;
  JobRunner::Callbacks callbacks;
  callbacks.output = [&](std::string_view b) { out.append(b); };
  callbacks.error_output = [&](std::string_view b) { err.append(b); };
  callbacks.exited = [&](const JobExit& e) { exit = e; };
  auto started = runner_.start(request, callbacks);
  ASSERT_TRUE(started) << started.error().message;
  runner_.send_stdin(started->id, "line one\n");
  runner_.send_stdin(started->id, std::string(200000, 'z'));
  runner_.send_stdin(started->id, {});
  while (!exit && io_.run_one() > 0) {
  }
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
  EXPECT_EQ(out, "line one\n" + std::string(200000, 'z'));
  exit.reset();
  out.clear();
  auto apart = runner_.start({host_helper(), {"stderr", "only here"}, "", {}}, callbacks);
  ASSERT_TRUE(apart);
  io_.restart();
  while (!exit && io_.run_one() > 0) {
  }
  ASSERT_TRUE(exit);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "only here\n");
}

// A private TMPDIR exists while the job runs, and is gone with what the job
// left in it once the job has ended.
TEST_F(ProcessRunnerTest, APrivateTmpdirLivesAsLongAsTheJob) {
  JobRequest request{
      "/bin/sh", {"-c", "echo \"$TMPDIR\"; ls -A \"$TMPDIR\"; echo x > \"$TMPDIR/left-behind\""}, "", {}};
  request.private_tmpdir = true;
  auto f = run_job(request);
  ASSERT_TRUE(f.exit);
  EXPECT_EQ(f.exit->code, 0) << f.output;
  const std::string dir = f.output.substr(0, f.output.find('\n'));
  EXPECT_NE(dir, "/tmp");
  EXPECT_EQ(f.output, dir + "\n") << "it starts empty";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " outlived its job";
  auto plain = run_job({"/bin/sh", {"-c", "echo \"${TMPDIR-unset}\""}, "", {}});
  EXPECT_EQ(plain.output, (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "unset") + "\n")
      << "without private_tmpdir a job keeps xrun's own";
}

// qemu-user failing is an infrastructure error, said by the runner that
// knows qemu; the same bytes from a program that is not emulated are its own.
TEST_F(ProcessRunnerTest, QemuFailingIsAnInfraErrorOfTheJob) {
  TempDir dir;
  const std::string fake_qemu =
      dir.write("qemu-aarch64",
                "#!/bin/sh\necho \"qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1'\" >&2\nexit 255\n", true);
  Config config;
  config.targets["aarch64"].qemu = fake_qemu;
  ProcessRunner runner(io_, config, OverlayStore::from_environment());
  std::optional<JobExit> exit;
  auto started = runner.start({helper("aarch64", "static"), {"exit", "0"}, "", {}},
                              {[](std::string_view) {}, [&](const JobExit& e) { exit = e; }});
  ASSERT_TRUE(started) << started.error().message;
  while (!exit && io_.run_one() > 0) {
  }
  ASSERT_TRUE(exit);
  ASSERT_TRUE(exit->infra_error);
  EXPECT_EQ(*exit->infra_error,
            "the emulator failed: qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1' (exit status 255)");
  auto own = run_job({"/bin/sh", {"-c", "echo 'qemu: fatal: printed by a test'; exit 1"}, "", {}});
  ASSERT_TRUE(own.exit);
  EXPECT_FALSE(own.exit->infra_error) << "a native program's output is its own";
}

TEST_F(ProcessRunnerTest, LaunchFailuresAreErrors) {
  auto missing = runner_.start({"/nonexistent/test", {}, "", {}}, {});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/test: no such file"), std::string::npos);
  Config broken;
  broken.targets["aarch64"].sysroot = "/nonexistent/sysroot";
  ProcessRunner runner(io_, broken, OverlayStore::from_environment());
  auto no_sysroot = runner.start({helper("aarch64", "dynamic"), {}, "", {}}, {});
  ASSERT_FALSE(no_sysroot);
  EXPECT_NE(no_sysroot.error().message.find("/nonexistent/sysroot"), std::string::npos);
}

}  // namespace

// The qemus started with the fork-server library's variable for `program`.
static std::size_t fork_servers_of(const std::string& program) {
  const auto found = xrun::testing::processes_mentioning(program);
  // The server's own process, not the job init that waits for it (and the
  // init's fork, pid 1 of its namespace), whose arguments name it too.
  return std::count_if(found.begin(), found.end(), [](const std::string& line) {
    return line.find(" XRUN_ZYGOTE_FD=3 ") != std::string::npos &&
           line.find(std::string(": ") + xrun::kJobInitName + " ") == std::string::npos;
  });
}

// Jobs that may fork from a fork server (JobRequest::fork_server) do, for a
// dynamically linked program under qemu-user: each is a fresh child with its
// own argv, exit status or death by signal, stdio only, and a start the
// scheduler is told of; the server stays for the next job and goes with the
// runner. (tests/e2e/fork_server_test.cpp runs GoogleTest suites this way.)
TEST(ProcessRunnerForkServer, ChildrenEndAsExecdProcessesDo) {
  boost::asio::io_context io;
  Config config;
  ProcessRunnerOptions options;
  options.fork_server_library = [](const std::string& target) -> std::optional<std::string> {
    if (target != "aarch64") return std::nullopt;
    return std::string(XRUN_ZYGOTE_AARCH64);
  };
  const std::string program = helper("aarch64", "dynamic");
  auto elf = probe_elf(program);
  ASSERT_TRUE(elf);
  {
    ProcessRunner runner(io, config, OverlayStore::from_environment(), options);
    // The server starts with arguments of the requests' shape with room
    // (as the scheduler does), so that a program that takes its arguments
    // before main sees each child's own.
    const auto run = [&](std::vector<std::string> args) {
      JobRequest request{program, std::move(args), "", {}};
      request.fork_server = true;
      request.fork_server_args = {"init-argv-room", "room for an argument"};
      request.elf = &*elf;
      return run_job_on(io, runner, request);
    };
    auto exited = run({"exit", "5"});
    ASSERT_TRUE(exited.exit);
    EXPECT_TRUE(exited.starts_later && exited.told_started);
    EXPECT_FALSE(exited.exit->signaled);
    EXPECT_EQ(exited.exit->code, 5);
    EXPECT_FALSE(exited.exit->infra_error) << *exited.exit->infra_error;
    EXPECT_EQ(fork_servers_of(program), 1u) << "one server, waiting for the next job";

    auto killed = run({"signal", "ABRT"});
    ASSERT_TRUE(killed.exit);
    EXPECT_TRUE(killed.exit->signaled);
    EXPECT_EQ(killed.exit->signal, SIGABRT);

    EXPECT_EQ(run({"fds"}).output, "none\n");
    EXPECT_EQ(run({"argv", "a b", ""}).output,
              "0:" + std::to_string(program.size()) + ":" + program + "\n1:4:argv\n2:3:a b\n3:0:\n");
    EXPECT_EQ(run({"env", "LD_PRELOAD", "XRUN_ZYGOTE_FD"}).output, "LD_PRELOAD unset\nXRUN_ZYGOTE_FD unset\n");
    EXPECT_EQ(run({"init-argv", "x y"}).output,
              "0:" + std::to_string(program.size()) + ":" + program + "\n1:9:init-argv\n2:3:x y\n")
        << "a constructor's arguments are the child's";
    EXPECT_EQ(fork_servers_of(program), 1u) << "the same server";
  }
  EXPECT_TRUE(fork_servers_of(program) == 0) << "it went with the runner";
}
