// Each program's file is read once per run (issue 26, item 3): xrun opens the
// program it runs once -- discovery's one read for `xrun test` (its kind, the
// listing cache's key, its probe), the routing's probe for a single run --
// and everything after (routing, the launcher, a fork server's plan, the
// machine pool) takes what that read found. Before, `xrun test BIN` opened it
// 4 times, 3 of them whole, and a single run of a script 3 times.
//
// strace -f follows xrun and everything it starts. An open counts when the
// process that makes it is xrun: the xrun executable (or its job init, xrun
// exec'd again as /proc/self/exe), or a fork of one that has not exec'd
// anything else. qemu-user opening the program to load it, and qemu-system's
// 9p server reading it for the VM, are the emulators' reads, not xrun's.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "core/fs_util.h"
#include "e2e/xrun_runner.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

struct Opens {
  int by_xrun = 0;
  int by_others = 0;
  std::string trace;  // xrun's opens of the program and what it ran, for messages
};

// One finished system call of a strace -f -o log: the pid, its name, its
// text, and its result.
struct Call {
  int pid;
  std::string name, text;
  long long result;
};

std::vector<Call> calls_of(const std::string& log) {
  static const std::regex line(R"(^(\d+) +(.*)$)");
  static const std::regex call(R"(^([a-z0-9_]+)\((.*)\) += (-?\d+).*$)");
  static const std::regex resumed(R"(^<\.\.\. ([a-z0-9_]+) resumed>(.*)$)");
  std::vector<Call> calls;
  std::map<int, std::string> unfinished;
  std::istringstream in(log);
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (!std::regex_match(text, m, line)) continue;
    const int pid = std::stoi(m[1]);
    std::string rest = m[2];
    const std::string suffix = " <unfinished ...>";
    if (rest.size() > suffix.size() && rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) == 0) {
      unfinished[pid] = rest.substr(0, rest.size() - suffix.size());
      continue;
    }
    if (std::regex_match(rest, m, resumed)) {
      rest = unfinished[pid] + std::string(m[2]);
      unfinished.erase(pid);
    }
    if (std::regex_match(rest, m, call)) calls.push_back({pid, m[1], m[2], std::stoll(m[3])});
  }
  return calls;
}

std::string first_quoted(const std::string& text) {
  const auto open = text.find('"');
  const auto close = open == std::string::npos ? open : text.find('"', open + 1);
  return close == std::string::npos ? "" : text.substr(open + 1, close - open - 1);
}

// Runs `xrun ARGS` under strace and counts the successful opens of `program`.
Opens opens_of(const std::string& program, const std::vector<std::string>& args, RunOptions options = {}) {
  TempDir dir;
  const std::string log = dir.path() + "/strace.log";
  const auto strace = find_program("strace");
  EXPECT_TRUE(strace) << "strace is missing: scripts/install-deps.sh installs it";
  std::vector<std::string> command{strace.value_or("strace"),
                                   "-f",
                                   "-qq",
                                   "--seccomp-bpf",
                                   "-e",
                                   "trace=open,openat,openat2,execve,execveat,clone,clone3,fork,vfork",
                                   "-e",
                                   "signal=none",
                                   "-o",
                                   log,
                                   xrun_binary()};
  command.insert(command.end(), args.begin(), args.end());
  if (options.timeout_seconds == 60) options.timeout_seconds = 300;
  const RunResult r = run(command, options);
  EXPECT_TRUE(r.exited && !r.timed_out) << describe(r);
  std::ifstream in(log);
  const std::vector<Call> calls = calls_of(std::string((std::istreambuf_iterator<char>(in)), {}));
  EXPECT_FALSE(calls.empty()) << "strace wrote nothing: " << describe(r);

  // What each process is, at each of its calls: the last program it
  // exec'd, else what its parent was when it was made.
  struct Process {
    int parent = 0;
    std::size_t made_at = 0;
    std::vector<std::pair<std::size_t, std::string>> execs;  // (call index, program)
  };
  std::map<int, Process> processes;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const Call& c = calls[i];
    if ((c.name == "execve" || c.name == "execveat") && c.result == 0)
      processes[c.pid].execs.emplace_back(i, first_quoted(c.text));
    if ((c.name == "clone" || c.name == "clone3" || c.name == "fork" || c.name == "vfork") && c.result > 0) {
      processes[static_cast<int>(c.result)].parent = c.pid;
      processes[static_cast<int>(c.result)].made_at = i;
    }
  }
  const std::function<std::string(int, std::size_t, int)> exe_at = [&](int pid, std::size_t at,
                                                                       int depth) -> std::string {
    const Process& p = processes[pid];
    std::string exe;
    for (const auto& [index, path] : p.execs)
      if (index <= at) exe = path;
    if (!exe.empty() || p.parent == 0 || depth > 64) return exe;
    return exe_at(p.parent, p.made_at, depth + 1);
  };
  Opens opens;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const Call& c = calls[i];
    if (c.name.rfind("open", 0) != 0 || c.result < 0) continue;
    // open("path", ...); openat(dirfd, "path", ...): the first quoted text either way.
    if (first_quoted(c.text) != program) continue;
    const std::string exe = exe_at(c.pid, i, 0);
    if (exe == xrun_binary() || exe == "/proc/self/exe") {
      ++opens.by_xrun;
      opens.trace += std::to_string(c.pid) + " " + c.name + "(" + c.text + ") = " + std::to_string(c.result) + "\n";
    } else {
      ++opens.by_others;
    }
  }
  return opens;
}

std::vector<std::string> private_cache(const TempDir& dir) {
  return environment_with({"XDG_CACHE_HOME=" + dir.path() + "/cache"});
}

TEST(ReadOnce, AProgramIsReadOnceByATestRunUnderQemuUser) {
  TempDir dir;
  const std::string report = dir.path() + "/r.json";
  // Listed (the cache is empty), then from the listing cache: one read each.
  for (const char* run : {"listed", "cached"}) {
    const Opens opens =
        opens_of(XRUN_GTEST_SAMPLE, {"test", XRUN_GTEST_SAMPLE, "--backend", "qemu-user"}, {.env = private_cache(dir)});
    EXPECT_EQ(opens.by_xrun, 1) << run << ":\n" << opens.trace;
    EXPECT_GT(opens.by_others, 0) << run << ": qemu-user loads it: the trace must see that much";
  }
  // Process isolation: each fork server is planned from the same probe.
  const Opens isolated =
      opens_of(XRUN_GTEST_SAMPLE, {"test", XRUN_GTEST_SAMPLE, "--isolation", "process", "--no-cache"},
               {.env = private_cache(dir)});
  EXPECT_EQ(isolated.by_xrun, 1) << isolated.trace;
  // Catch2: the flavour of its listing comes from the same read.
  const std::string catch2 = std::string(XRUN_CATCH_SUITE_BUILD) + "/catch_tests";
  const Opens listed = opens_of(catch2, {"test", catch2, "--list", "--no-cache"}, {.env = private_cache(dir)});
  EXPECT_EQ(listed.by_xrun, 1) << listed.trace;
}

TEST(ReadOnce, ASingleRunReadsItsProgramOnce) {
  const std::string program = helper("aarch64", "dynamic");
  const Opens foreign = opens_of(program, {program, "exit", "0"});
  EXPECT_EQ(foreign.by_xrun, 1) << foreign.trace;
  EXPECT_EQ(foreign.by_others, 1) << "qemu-user loads it";
  const std::string host = helper("x86_64", "dynamic");
  EXPECT_EQ(opens_of(host, {host, "exit", "0"}).by_xrun, 1);
  TempDir dir;
  const std::string script = dir.write("script.sh", "#!/bin/sh\nexit 0\n", true);
  const Opens scripted = opens_of(script, {script});
  EXPECT_EQ(scripted.by_xrun, 1) << scripted.trace;
}

// System mode (the VM image is a precondition of the end-to-end tests, as in
// system_mode_test.cpp): the machine pool takes the routing's probe and target.
TEST(ReadOnce, AProgramIsReadOnceByATestRunInAVm) {
  for (const char* run : {"first", "second"}) {
    const Opens opens = opens_of(XRUN_GTEST_SAMPLE, {"test", XRUN_GTEST_SAMPLE, "--backend", "system"});
    EXPECT_EQ(opens.by_xrun, 1) << run << ":\n" << opens.trace;
  }
  const std::string program = helper("aarch64", "static");
  const Opens single = opens_of(program, {"--backend", "system", program, "exit", "0"});
  EXPECT_EQ(single.by_xrun, 1) << single.trace;
}

}  // namespace
}  // namespace xrun::testing
