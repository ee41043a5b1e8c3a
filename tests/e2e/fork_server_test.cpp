// Process isolation under qemu-user with fork servers (engine/fork_server.h):
// the statuses of fresh processes, each test a fresh process, and a server
// that dies mid-run. Real cross-built GoogleTest suites under real qemu-user.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/xrun_runner.h"
#include "engine/job_init.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

using nlohmann::json;

std::string copy_of(const std::string& binary, const TempDir& dir) {
  const std::string copy = dir.path() + "/" + std::filesystem::path(binary).filename().string();
  std::filesystem::copy_file(binary, copy);
  return copy;
}

// What still mentions `needle` once the kernel has taken down the
// namespaces of processes that just ended (each watched through a pidfd, for
// up to 10 s; those left then are killed).
std::string left_behind(const std::string& needle) {
  std::string text;
  for (const auto& line : processes_outliving(needle, 10)) text += line + "\n";
  return text;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string isolation_tests() { return std::string(XRUN_GTEST_SUITE_BUILD) + "/isolation_tests"; }

// name -> (status, signal, exit code)
std::map<std::string, std::string> outcomes(const json& report) {
  std::map<std::string, std::string> out;
  for (const auto& t : report["tests"])
    out[t["name"]] = t["status"].get<std::string>() + " " + t["signal"].dump() + " " + t["exit_code"].dump();
  return out;
}

TEST(ForkServer, TheHostileSuiteEndsExactlyAsInFreshProcesses) {
  TempDir dir;
  const std::string suite = copy_of(XRUN_GTEST_SUITE, dir);
  std::map<std::string, std::string> seen[2];
  for (int forked = 0; forked < 2; ++forked) {
    std::vector<std::string> args = {"-v",        "test", suite,       "--isolation",
                                     "process",   "-j2",  "--timeout", "3",
                                     "--retries", "1",    "--json",    dir.path() + "/r.json"};
    if (!forked) args.push_back("--no-fork-server");
    std::filesystem::remove_all(dir.path() + "/flaky");
    std::filesystem::create_directories(dir.path() + "/flaky");
    auto r = run_xrun(args, {.env = environment_with({"FLAKY_DIR=" + dir.path() + "/flaky"}), .timeout_seconds = 240});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    // The debug trace says whether the tests were forked from a server.
    EXPECT_EQ(r.err.find("fork server") != std::string::npos, forked == 1) << r.err;
    seen[forked] = outcomes(read_json(dir.path() + "/r.json"));
  }
  EXPECT_EQ(seen[1], seen[0]);
  EXPECT_EQ(seen[1]["Crash.Segfault"], "crashed 11 null");
  EXPECT_EQ(seen[1]["Hang.Forever"], "timed-out 15 null");
  EXPECT_EQ(seen[1]["Flaky.PassesOnRetry"], "flaky null null");
  EXPECT_EQ(left_behind(suite), "");
}

// A global changed by one test is pristine in the next; the library leaves
// no trace in the test's environment, descriptors or /proc/self/exe; a test
// that exits ends only its own process. Batch isolation (one process) shows
// the same suite can tell.
TEST(ForkServer, EveryTestIsAFreshProcess) {
  TempDir dir;
  const std::string binary = copy_of(isolation_tests(), dir);
  const std::map<std::string, std::string> expected = {{"Global.AModifies", "passed"},
                                                       {"Global.IsPristine", "passed"},
                                                       {"Start.LooksFresh", "passed"},
                                                       {"Exit.FromInsideTheTest", "failed"},
                                                       {"Exit.TheNextTestRuns", "passed"}};
  for (const char* fork_server : {"", "--no-fork-server"}) {
    std::vector<std::string> args = {"test", binary, "--isolation", "process", "--json", dir.path() + "/r.json"};
    if (*fork_server) args.push_back(fork_server);
    auto r = run_xrun(args, {.timeout_seconds = 120});
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    const json report = read_json(dir.path() + "/r.json");
    EXPECT_EQ(statuses(report), expected) << fork_server << "\n" << r.out;
    for (const auto& t : report["tests"]) {
      if (t["name"] == "Exit.FromInsideTheTest") {
        EXPECT_EQ(t["exit_code"], 3);
      }
    }
  }
  auto batch = run_xrun({"test", binary, "-j1", "--json", dir.path() + "/b.json"}, {.timeout_seconds = 120});
  EXPECT_EQ(statuses(read_json(dir.path() + "/b.json"))["Global.IsPristine"], "failed") << batch.out;

  // Tests that fork and exec a foreign program (fork+exec, posix_spawn,
  // system(), a threadsafe death test re-running /proc/self/exe), and
  // private TMPDIRs: all 7 pass, forked or not.
  for (const char* fork_server : {"", "--no-fork-server"}) {
    std::vector<std::string> args = {"test",   XRUN_GTEST_ENV, "--isolation", "process", "--filter",
                                     "Exec.*", "--filter",     "Tmp.*",       "--json",  dir.path() + "/e.json"};
    if (*fork_server) args.push_back(fork_server);
    auto env = run_xrun(args, {.env = environment_with({"XRUN_FIXTURE_HELPER=" + helper("aarch64", "dynamic")}),
                               .timeout_seconds = 120});
    EXPECT_EQ(env.exit_code, 0) << fork_server << "\n" << describe(env);
    const auto s = statuses(read_json(dir.path() + "/e.json"));
    EXPECT_EQ(s.size(), 7u) << fork_server;
    for (const auto& [name, status] : s) EXPECT_EQ(status, "passed") << fork_server << " " << name;
  }
}

// A static initialiser started a worker thread the tests need: a fork
// server's child would not have it (fork copies only the calling thread), so
// the server says it will not serve and the binary is exec'd for every test,
// with a line in the trace saying why.
TEST(ForkServer, AProgramWhoseStaticInitialisersStartThreadsIsExecdInstead) {
  TempDir dir;
  const std::string binary = copy_of(std::string(XRUN_GTEST_SUITE_BUILD) + "/worker_tests", dir);
  const std::map<std::string, std::string> expected = {{"Worker.Answers", "passed"}, {"Worker.AnswersAgain", "passed"}};
  for (const std::string isolation : {"process", "batch"}) {
    auto r =
        run_xrun({"-v", "test", binary, "--isolation", isolation, "--timeout", "30", "--json", dir.path() + "/r.json"},
                 {.timeout_seconds = 120});
    EXPECT_EQ(r.exit_code, 0) << isolation << ": " << describe(r);
    EXPECT_EQ(statuses(read_json(dir.path() + "/r.json")), expected) << isolation << "\n" << r.out;
    EXPECT_EQ(r.err.find("static initialisers started threads") != std::string::npos, isolation == "process") << r.err;
  }
}

// pid -> parent pid of the qemus started with the fork-server library's
// variable for `binary`: servers and the tests they forked (which have the
// same command line).
std::map<pid_t, pid_t> server_processes(const std::string& binary) {
  std::map<pid_t, pid_t> parent_of;
  for (const auto& line : processes_mentioning(binary)) {
    if (line.find(" XRUN_ZYGOTE_FD=3 ") == std::string::npos) continue;
    // Not the job init (and its fork) that wait for the server: their
    // arguments name it too.
    if (line.find(std::string(": ") + xrun::kJobInitName + " ") != std::string::npos) continue;
    const pid_t pid = std::stoi(line);
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const auto after_name = text.rfind(')');
    if (after_name == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    std::sscanf(text.c_str() + after_name + 1, " %c %d", &state, &ppid);
    parent_of[pid] = ppid;
  }
  return parent_of;
}

// The fork server of `binary`: the one of them whose parent is not one of them.
pid_t fork_server_of(const std::string& binary) {
  const auto parent_of = server_processes(binary);
  for (const auto& [pid, ppid] : parent_of)
    if (!parent_of.count(ppid)) return pid;
  return -1;
}

// Whether the server is running a test it forked.
bool server_runs_a_test(const std::string& binary, pid_t server) {
  for (const auto& [pid, ppid] : server_processes(binary))
    if (ppid == server) return true;
  return false;
}

// The server killed while its test runs: that test is an infra error (not a
// failure), the server is started again for the next, and nothing is left.
TEST(ForkServer, AServerKilledMidRunFailsOnlyItsTestAsAnInfraError) {
  TempDir dir;
  const std::string suite = copy_of(XRUN_GTEST_SUITE, dir);
  const std::string json_path = dir.path() + "/r.json";
  const pid_t pid = start_xrun({"test", suite, "--isolation", "process", "-j1", "--filter", "Hang.*", "--filter",
                                "Hostile.*", "--timeout", "60", "--json", json_path},
                               environment_with({}), dir.path() + "/out.txt");
  ASSERT_GT(pid, 0);
  // Killed once Hang.Forever runs in a child it forked (nothing announces
  // a fork of another process's: its process list is looked at).
  pid_t server = -1;
  wait_until(
      [&] {
        server = fork_server_of(suite);
        return server > 0 && server_runs_a_test(suite, server);
      },
      60, std::chrono::milliseconds(50));
  ASSERT_GT(server, 0) << "no fork server appeared";
  ASSERT_TRUE(server_runs_a_test(suite, server)) << "the fork server never ran Hang.Forever";
  ::kill(server, SIGKILL);
  const int status = wait_bounded(pid, 120);
  ASSERT_NE(status, -1) << "xrun did not end after its fork server was killed";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "status " << status;  // infra errors only
  const json report = read_json(json_path);
  EXPECT_EQ(statuses(report),
            (std::map<std::string, std::string>{{"Hang.Forever", "infra-error"}, {"Hostile.Output", "passed"}}));
  for (const auto& t : report["tests"]) {
    if (t["name"] == "Hang.Forever") {
      EXPECT_NE(t["message"].get<std::string>().find("fork server"), std::string::npos) << t["message"];
    }
  }
  EXPECT_EQ(left_behind(suite), "");
}

// Ctrl-C while the tests wait for a fork server whose static initialisers
// take 30 s: xrun stops at once (the waiting tests end unstarted), not when
// the server is ready, and leaves nothing behind.
TEST(ForkServer, CtrlCWhileTheServerStartsStopsAtOnce) {
  TempDir dir;
  const std::string binary = copy_of(XRUN_GTEST_ENV, dir);
  const std::string json_path = dir.path() + "/r.json";
  ASSERT_EQ(run_xrun({"test", binary, "--list"}, {.timeout_seconds = 120}).exit_code, 0);  // the listing, cached
  // xrun's trace says when it has started a server.
  const std::string trace = dir.path() + "/trace.txt";
  const pid_t pid =
      start_xrun({"test", binary, "--isolation", "process", "-j2", "--filter", "Tmp.*", "--json", json_path},
                 environment_with({"XRUN_FIXTURE_SLOW_INIT=30", "XRUN_LOG=debug"}), dir.path() + "/out.txt", "", trace);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_text(trace, "] fork server ", 60, pid)) << "no fork server started:\n" << read_text(trace);
  ::kill(pid, SIGINT);
  // Bounded: the server would be ready after 30 s.
  const auto status = wait_for_exit(pid, 10);
  if (!status) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    FAIL() << "xrun waited for the fork server after Ctrl-C";
  }
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 130) << "status " << *status;
  for (const auto& [name, test_status] : statuses(read_json(json_path))) EXPECT_EQ(test_status, "not-run") << name;
  EXPECT_EQ(left_behind(binary), "");
}

}  // namespace
}  // namespace xrun::testing
