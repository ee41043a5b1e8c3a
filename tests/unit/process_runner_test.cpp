// The real JobRunner against the helper program: output, exit statuses,
// signals to the process group, cwd and environment, nothing inherited that
// should not be, and launch failures reported as errors.
#include "engine/process_runner.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/steady_timer.hpp>

#include "support/paths.h"

using namespace xrun;
using xrun::testing::helper;
using xrun::testing::host_helper;

namespace {

struct Finished {
  std::string output;
  std::optional<JobExit> exit;
};

class ProcessRunnerTest : public ::testing::Test {
 protected:
  Finished run_job(const JobRequest& request, std::function<void(JobId)> after_start = {}) {
    Finished finished;
    auto started = runner_.start(request, {[&](std::string_view b) { finished.output.append(b); },
                                           [&](const JobExit& e) { finished.exit = e; }});
    EXPECT_TRUE(started) << started.error().message;
    if (!started) return finished;
    if (after_start) after_start(started->id);
    io_.restart();  // the previous job may have run the context out of work
    while (!finished.exit && io_.run_one() > 0) {
    }
    return finished;
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
  EXPECT_NE(missing.error().message.find("cannot enter /nonexistent/dir"), std::string::npos) << missing.error().message;
}

TEST_F(ProcessRunnerTest, SignalReachesTheWholeGroup) {
  boost::asio::steady_timer later(io_);
  auto f = run_job({helper("aarch64", "dynamic"), {"sleep", "60000"}, "", {}}, [&](JobId id) {
    later.expires_after(std::chrono::milliseconds(200));
    later.async_wait([&, id](const auto&) { runner_.signal(id, SIGTERM); });
  });
  ASSERT_TRUE(f.exit);
  EXPECT_TRUE(f.exit->signaled);
  EXPECT_EQ(f.exit->signal, SIGTERM);
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

TEST_F(ProcessRunnerTest, BackendNameSaysHowItRuns) {
  std::string emulated, native;
  auto a = runner_.start({helper("aarch64", "static"), {"exit", "0"}, "", {}}, {[](auto) {}, [](auto&) {}});
  auto b = runner_.start({host_helper(), {"exit", "0"}, "", {}}, {[](auto) {}, [](auto&) {}});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->backend, "qemu-user");
  EXPECT_EQ(b->backend, "native");
  io_.run();
}

}  // namespace
