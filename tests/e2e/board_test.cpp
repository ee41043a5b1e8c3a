// The board backend end to end, against stand-in boards (tests/board/): two
// emulated aarch64 machines with root file systems of their own and
// Dropbear behind qemu's user-mode network, reached only over SSH on a
// forwarded loopback port. CTest's `boards` fixture starts them before these
// tests and stops them after (tests/board/boards.sh); they share nothing
// with the host.
#include <glob.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>

#include "core/fs_util.h"
#include "e2e/rust_statuses.h"
#include "e2e/xrun_runner.h"
#include "machine/agent_protocol.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

extern char** environ;

namespace xrun::testing {
namespace {

namespace fs = std::filesystem;

const std::string kBoards = XRUN_BOARDS_DIR;
const std::string kDynamic = helper("aarch64", "dynamic");
const std::string kStatic = helper("aarch64", "static");

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string port_of(const std::string& board) {
  std::string port = slurp(kBoards + "/" + board + ".port");
  while (!port.empty() && port.back() == '\n') port.pop_back();
  return port;
}

// A project directory whose xrun.toml sends aarch64 programs to `boards`.
struct BoardProject {
  TempDir dir;
  // `base`: where the project lives on the host (default: the system's temporary directory).
  explicit BoardProject(const std::string& boards = "\"pi-a\"", const std::string& extra = "",
                        const std::string& base = "")
      : dir(base) {
    std::string config = slurp(kBoards + "/xrun.toml");
    config = std::regex_replace(config, std::regex("identity = \"id_ed25519\""),
                                "identity = \"" + kBoards + "/id_ed25519\"");
    config = std::regex_replace(config, std::regex("boards = \\[\"pi-a\"\\]"), "boards = [" + boards + "]");
    dir.write("xrun.toml", config + extra);
  }
  const std::string& path() const { return dir.path(); }
  RunResult xrun(std::vector<std::string> args, RunOptions options = {}) const {
    options.cwd = dir.path();
    if (options.timeout_seconds == 60) options.timeout_seconds = 120;
    return run_xrun(std::move(args), options);
  }
};

// The tests' own look at a board (never xrun's way in: this one trusts the
// known_hosts file the boards' setup wrote).
RunResult on_board(const std::string& board, const std::string& command) {
  return run({"ssh", "-i", kBoards + "/id_ed25519", "-p", port_of(board), "-o", "BatchMode=yes", "-o",
              "UserKnownHostsFile=" + kBoards + "/known_hosts", "-o", "StrictHostKeyChecking=yes", "-o",
              "LogLevel=ERROR", "root@127.0.0.1", command},
             {.timeout_seconds = 30});
}

// Whether a process whose command line matches `pattern` (grep) shows up
// in the board's ps within `seconds`. Nothing on the board tells the host
// when a process starts there: its process list is looked at.
bool shows_up_on(const std::string& board, const std::string& pattern, double seconds = 60) {
  return wait_until([&] { return on_board(board, "ps | grep -v grep | grep -q '" + pattern + "'").exit_code == 0; },
                    seconds, std::chrono::milliseconds(200));
}

std::vector<std::string> current_env(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// `xrun test` with its debug trace in `trace` (its stdout in `out`): the
// scheduler's line "job N of PROGRAM began on BOARD" comes once the board's
// agent said STARTED, that is once the program runs there.
pid_t start_traced_test(std::vector<std::string> args, const BoardProject& project, const std::string& out,
                        const std::string& trace) {
  return start_xrun(std::move(args), current_env({"XRUN_LOG=debug"}), out, project.path(), trace);
}

// Whether `program` began on `board` within `seconds`, by the trace of a
// start_traced_test() run (`xrun` its pid: its end ends the wait).
bool began_on(const std::string& trace, const std::string& program, const std::string& board, pid_t xrun,
              double seconds = 120) {
  const std::string name = fs::path(program).filename().string();
  return wait_for_text(trace, "/" + name + " began on " + board + "\n", seconds, xrun);
}

TEST(Board, TheSingleRunContractHolds) {
  BoardProject project;
  for (int code : {0, 1, 42, 255}) {
    auto r = project.xrun({kDynamic, "exit", std::to_string(code)});
    EXPECT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, code) << describe(r);
  }
  auto segv = project.xrun({kStatic, "signal", "SEGV"});
  EXPECT_FALSE(segv.exited) << describe(segv);
  EXPECT_EQ(segv.signal, SIGSEGV) << describe(segv);

  std::string bytes = "line one\n";
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  auto cat = project.xrun({kDynamic, "cat"}, {.stdin_data = bytes});
  EXPECT_EQ(cat.out, bytes) << describe(cat);

  auto err = project.xrun({kDynamic, "stderr", "to stderr only"});
  EXPECT_EQ(err.out, "");
  EXPECT_NE(err.err.find("to stderr only"), std::string::npos) << describe(err);

  // Never through a shell: spaces, quotes and $(...) arrive as they are.
  auto argv = project.xrun({kDynamic, "argv", "a b", "", "$(touch /tmp/pwned)", "it's"});
  EXPECT_EQ(argv.out, "0:" + std::to_string(kDynamic.size()) + ":" + kDynamic +
                          "\n1:4:argv\n2:3:a b\n3:0:\n4:19:$(touch /tmp/pwned)\n5:4:it's\n")
      << describe(argv);
  EXPECT_NE(on_board("pi-a", "test -e /tmp/pwned").exit_code, 0);

  // What build tools set for tests goes; the host's own PATH and HOME do not.
  // XRUN_PASS_* is the user's own (xrun never reads it, so it is no
  // unknown setting); XRUN_TEST_* is xrun's configuration, not the test's.
  auto env = project.xrun({kDynamic, "env", "CARGO_PKG_NAME", "GTEST_COLOR", "UNRELATED", "PATH", "HOME",
                           "XRUN_PASS_SEED", "XRUN_TEST_RETRIES"},
                          {.env = environment_with({"CARGO_PKG_NAME=crate", "GTEST_COLOR=no", "UNRELATED=x",
                                                    "PATH=/host/only:/usr/bin:/bin", "HOME=/host/home",
                                                    "XRUN_PASS_SEED=42", "XRUN_TEST_RETRIES=0"})});
  EXPECT_EQ(env.exit_code, 0) << describe(env);
  EXPECT_NE(env.out.find("XRUN_PASS_SEED=42\n"), std::string::npos) << describe(env);
  EXPECT_NE(env.out.find("XRUN_TEST_RETRIES unset\n"), std::string::npos) << describe(env);
  EXPECT_NE(env.out.find("CARGO_PKG_NAME=crate\n"), std::string::npos) << describe(env);
  EXPECT_NE(env.out.find("GTEST_COLOR=no\n"), std::string::npos) << describe(env);
  EXPECT_NE(env.out.find("UNRELATED unset\n"), std::string::npos) << describe(env);
  EXPECT_EQ(env.out.find("/host/only"), std::string::npos) << describe(env);
  EXPECT_NE(env.out.find("HOME=/root\n"), std::string::npos) << describe(env);

  // A fixture read relative to the cwd, which is mirrored at the same path.
  project.dir.write("data/fixture.txt", "fixture on the host\n");
  auto read = project.xrun({kDynamic, "read", "data/fixture.txt"});
  EXPECT_EQ(read.out, "fixture on the host\n") << describe(read);
  auto cwd = project.xrun({kDynamic, "cwd"});
  EXPECT_EQ(cwd.out, fs::canonical(project.path()).string() + "\n") << describe(cwd);
}

TEST(Board, CtrlCReachesTheProgramOnTheBoard) {
  BoardProject project;
  // The program says it runs on its stdout, which xrun passes on: the line
  // comes once it runs on the board.
  const std::string out = project.path() + "/out";
  const pid_t pid = start_xrun({kDynamic, "ready", "60000"}, current_env(), out, project.path());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_text(out, "ready\n", 120, pid)) << "the program never ran on the board";
  ASSERT_EQ(on_board("pi-a", "ps | grep -v grep | grep -q 'xrun_helper-aarch64-dynamic ready'").exit_code, 0);
  const int status = interrupt_xrun(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
  EXPECT_NE(on_board("pi-a", "ps | grep -v grep | grep -q 'xrun_helper-aarch64-dynamic ready'").exit_code, 0);
}

TEST(Board, KillNineOfXrunLeavesNoTestProcessOnTheBoard) {
  BoardProject project;
  // A test that sleeps a minute (the helper reads its mode from its name).
  const std::string sleeper = project.path() + "/mode-sleep-60000";
  fs::copy_file(kDynamic, sleeper);
  const std::string trace = project.path() + "/trace";
  const pid_t pid = start_traced_test({"test", sleeper}, project, "/dev/null", trace);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(began_on(trace, sleeper, "pi-a", pid)) << "the test never ran on the board:\n" << slurp(trace);
  const std::string probe = "ps | grep -v grep | grep -q mode-sleep-60000";
  ASSERT_EQ(on_board("pi-a", probe).exit_code, 0) << on_board("pi-a", "ps").out;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  // OpenSSH alone would leave it running: the agent kills it when the channel closes.
  const bool gone =
      wait_until([&] { return on_board("pi-a", probe).exit_code != 0; }, 30, std::chrono::milliseconds(200));
  EXPECT_TRUE(gone) << on_board("pi-a", "ps").out;
  EXPECT_NE(on_board("pi-a", "ps | grep -v grep | grep -q 'agent-.*--stdio'").exit_code, 0)
      << on_board("pi-a", "ps").out;
}

TEST(Board, TheGoogleTestSuiteGetsTheSameStatusesAsUnderQemuUser) {
  BoardProject project;
  const std::map<std::string, std::string> expected = {{"Pass.Simple", "passed"},    {"Pass.Threads", "passed"},
                                                       {"Fail.Assertion", "failed"}, {"Crash.Segfault", "crashed"},
                                                       {"Crash.Abort", "crashed"},   {"Hang.Forever", "timed-out"}};
  std::map<std::string, std::map<std::string, std::string>> by_run;
  for (const std::string backend : {"qemu-user", "board"}) {
    for (const std::string isolation : {"batch", "process"}) {
      const std::string json_path = project.path() + "/" + backend + "-" + isolation + ".json";
      const std::string junit_path = project.path() + "/" + backend + "-" + isolation + ".xml";
      auto r = project.xrun({"test", XRUN_GTEST_SUITE, "--backend", backend, "--isolation", isolation, "-j4",
                             "--timeout", "4", "--json", json_path, "--junit", junit_path},
                            {.timeout_seconds = 240});
      EXPECT_EQ(r.exit_code, 1) << backend << " " << isolation << ": " << describe(r);
      auto report = read_json(json_path);
      auto s = statuses(report);
      for (const auto& [name, status] : expected)
        EXPECT_EQ(s[name], status) << backend << " " << isolation << " " << name;
      by_run[backend + " " + isolation] = s;
      if (backend == "board") {
        for (const auto& t : report["tests"]) {
          if (t["status"] == "skipped") continue;
          EXPECT_EQ(t["backend"], "board") << t.dump();
          EXPECT_EQ(t["machine"], "pi-a") << t.dump();
        }
        EXPECT_NE(slurp(junit_path).find("[xrun] ran on pi-a"), std::string::npos);
      }
    }
  }
  EXPECT_EQ(by_run["board batch"], by_run["qemu-user batch"]);
  EXPECT_EQ(by_run["board process"], by_run["qemu-user process"]);
  // The hanging test was killed on the board, which is still usable.
  EXPECT_NE(on_board("pi-a", "ps | grep -v grep | grep -q suite_tests").exit_code, 0) << on_board("pi-a", "ps").out;
  EXPECT_EQ(project.xrun({kDynamic, "exit", "7"}).exit_code, 7);
}

TEST(Board, TheRustCrateGetsTheSameStatusesAsUnderQemuUser) {
  BoardProject project;
  TempDir dir;
  fs::copy(std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/rust_sample", dir.path() + "/crate",
           fs::copy_options::recursive);
  fs::copy(project.path() + "/xrun.toml", dir.path() + "/crate/xrun.toml");
  const auto env =
      environment_with({"CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir.path() + "/home",
                        "CARGO_TARGET_DIR=" + dir.path() + "/target",
                        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc", "RUSTUP_TOOLCHAIN"});
  std::map<std::string, std::map<std::string, std::string>> by_backend;
  for (const std::string backend : {"qemu-user", "board"}) {
    auto r = run_xrun({"test", "--cargo", "--backend", backend, "-j2", "--json", dir.path() + "/r.json", "--",
                       "--offline", "--target", "aarch64-unknown-linux-gnu"},
                      {.cwd = dir.path() + "/crate", .env = env, .timeout_seconds = 600});
    EXPECT_EQ(r.exit_code, 0) << backend << ": " << describe(r);
    by_backend[backend] = statuses(read_json(dir.path() + "/r.json"));
  }
  // env!("CARGO_MANIFEST_DIR") compiled in: the crate is mirrored at the same path.
  EXPECT_EQ(by_backend["board"]["tests::fixture_relative_to_package_root"], "passed");
  EXPECT_EQ(by_backend["board"]["tests::ignored_test"], "skipped");
  EXPECT_EQ(by_backend["board"], by_backend["qemu-user"]);
}

// The seven-test crate gets its native statuses on a board in process
// isolation, forked from the agent's fork server or not: the agent started
// its server with argv[0] only (each test ran the whole binary and died in
// the abort), and --no-fork-server did not reach boards.
TEST(Board, TheSevenTestRustCrateGetsItsNativeStatusesForkedOrNot) {
  BoardProject project;
  TempDir dir;
  const RustStatusesCrate crate(dir);
  fs::copy(project.path() + "/xrun.toml", crate.crate + "/xrun.toml");
  for (const std::string isolation : {"process", "batch"}) {
    for (const bool fork_server : {true, false}) {
      std::vector<std::string> options = {"--backend", "board", "--isolation", isolation, "-j2"};
      if (!fork_server) options.push_back("--no-fork-server");
      const std::string label = isolation + (fork_server ? "" : " --no-fork-server");
      const auto run = crate.test(options, dir.path() + "/r.json");
      EXPECT_EQ(run.result.exit_code, 1) << label << ": " << describe(run.result);
      EXPECT_EQ(run.statuses, kRustNativeStatuses) << label << "\n" << run.result.out;
    }
  }
}

TEST(Board, AnUnchangedSecondRunTransfersZeroBytes) {
  BoardProject project;
  // Content no earlier run sent, so the first run has to send it.
  project.dir.write("data/unique.txt", "made at " + std::to_string(::getpid()) + "-" +
                                           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  TempDir elsewhere;  // not under the cwd, which is mirrored
  const std::string counter = elsewhere.path() + "/sent";
  const auto env = environment_with({"XRUN_BOARD_TRANSFER_FILE=" + counter});
  auto first = project.xrun({"test", XRUN_GTEST_SUITE, "--filter", "Pass.*"}, {.env = env});
  EXPECT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_GT(std::stoll(slurp(counter)), 0);
  auto second = project.xrun({"test", XRUN_GTEST_SUITE, "--filter", "Pass.*"}, {.env = env});
  EXPECT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_EQ(slurp(counter), "0\n") << "an unchanged suite was sent again";
  // A changed file is sent again, and only it.
  project.dir.write("data/unique.txt", "changed");
  auto third = project.xrun({"test", XRUN_GTEST_SUITE, "--filter", "Pass.*"}, {.env = env});
  EXPECT_EQ(third.exit_code, 0) << describe(third);
  EXPECT_EQ(slurp(counter), "7\n");
}

TEST(Board, AWrongOrUnknownHostKeyOrAClosedPortIsAnInfraErrorWithinTheTimeout) {
  // A pin that is not the board's key.
  BoardProject wrong;
  std::string config = slurp(wrong.path() + "/xrun.toml");
  config = std::regex_replace(config, std::regex("host_key = \"SHA256:[^\"]*\""),
                              "host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"");
  wrong.dir.write("xrun.toml", config);
  const auto started = std::chrono::steady_clock::now();
  const std::string ok = wrong.path() + "/mode-ok";
  fs::copy_file(kDynamic, ok);
  auto r = wrong.xrun({"test", ok});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_NE(r.err.find("not the pinned one"), std::string::npos) << describe(r);
  const std::string real_key = slurp(kBoards + "/image/host_key.fingerprint");
  EXPECT_NE(r.err.find(real_key.substr(0, real_key.size() - 1)), std::string::npos) << describe(r);
  EXPECT_EQ(r.err.find("resetting it"), std::string::npos) << "a power cycle does not change a host key\n" << r.err;

  // No pin, and a known_hosts that does not know the board: ssh refuses,
  // and the message names the fingerprint to pin. (The user's own ssh
  // configuration, given as ssh_config, says which known_hosts.)
  BoardProject unknown;
  config = std::regex_replace(slurp(unknown.path() + "/xrun.toml"), std::regex("host_key = \"SHA256:[^\"]*\"\n"), "");
  config =
      std::regex_replace(config, std::regex("\\[boards.pi-a\\]\n"), "[boards.pi-a]\nssh_config = \"ssh_config\"\n");
  unknown.dir.write("xrun.toml", config);
  unknown.dir.write("ssh_config",
                    "UserKnownHostsFile " + unknown.path() + "/known_hosts\nGlobalKnownHostsFile /dev/null\n");
  unknown.dir.write("known_hosts", "");
  auto u = unknown.xrun({kDynamic, "exit", "0"});
  EXPECT_EQ(u.exit_code, 126) << describe(u);
  EXPECT_NE(u.err.find("host key is unknown"), std::string::npos) << describe(u);
  EXPECT_NE(u.err.find(real_key.substr(0, real_key.size() - 1)), std::string::npos) << describe(u);
  // ... and with the key in that known_hosts, the same board works unpinned.
  unknown.dir.write("known_hosts", slurp(kBoards + "/known_hosts"));
  auto k = unknown.xrun({kDynamic, "exit", "5"});
  EXPECT_EQ(k.exit_code, 5) << describe(k);

  // A port nobody listens on.
  BoardProject closed;
  config = std::regex_replace(slurp(closed.path() + "/xrun.toml"), std::regex("port = " + port_of("pi-a")), "port = 9");
  closed.dir.write("xrun.toml", config);
  fs::copy_file(kDynamic, closed.path() + "/mode-ok");
  auto c = closed.xrun({"test", closed.path() + "/mode-ok"});
  EXPECT_EQ(c.exit_code, 3) << describe(c);
  EXPECT_NE(c.err.find("pi-a"), std::string::npos) << describe(c);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 60);
}

// Whether no process whose command line holds `text` is left on the board
// within `seconds`; the ones still there then are killed (so that they do
// not haunt the tests after this one) and named in `left`.
bool none_left_on(const std::string& board, const std::string& text, double seconds, std::string& left) {
  const std::string list = "ps | grep -v grep | grep -F '" + text + "'";
  if (wait_until([&] { return on_board(board, list).out.empty(); }, seconds, std::chrono::milliseconds(200)))
    return true;
  left = on_board(board, list).out;
  on_board(board, list + " | awk '{print $1}' | xargs -r kill -9");
  return left.empty();
}

// What a test starts ends with it on a board too, as under qemu-user: a
// child that called setsid() and closed its stdio is gone (a) when its test
// ends and (b) when xrun is SIGKILLed while the test runs. (OpenSSH leaves a
// remote command's processes running, and a setsid() child leaves its
// test's process group: the agent's PID namespace per job, or its
// subreaping, is what ends it.)
TEST(Board, ASetsidChildOfATestEndsWithTheTestAndWithTheRun) {
  {
    // Its test ends while the run goes on (the next test sleeps): the
    // orphan must be gone then, not only when the run's channel closes.
    BoardProject project;
    const std::string orphan = project.path() + "/mode-orphan", sleeper = project.path() + "/mode-sleep-8000";
    fs::copy_file(kStatic, orphan);
    fs::copy_file(kStatic, sleeper);
    const std::string trace = project.path() + "/trace";
    const pid_t pid = start_traced_test({"test", "-j1", orphan, sleeper}, project, project.path() + "/out", trace);
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(began_on(trace, sleeper, "pi-a", pid)) << "the second test never ran on the board:\n" << slurp(trace);
    ASSERT_EQ(on_board("pi-a", "test -s '" + orphan + ".pid'").exit_code, 0) << "the first test did not run first";
    std::string left;
    EXPECT_TRUE(none_left_on("pi-a", orphan, 5, left)) << "after the test's end, left on the board:\n" << left;
    const int status = wait_bounded(pid, 60);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << slurp(project.path() + "/out");
  }
  {
    BoardProject project;
    const std::string sleeper = project.path() + "/mode-orphan-sleep";
    fs::copy_file(kStatic, sleeper);
    const pid_t pid = start_xrun({"test", sleeper}, current_env(), "/dev/null", project.path());
    ASSERT_GT(pid, 0);
    // Running, and its orphan started, once the orphan's pid file is there
    // (on the board: looked at over SSH).
    const bool started = wait_until([&] { return on_board("pi-a", "test -s '" + sleeper + ".pid'").exit_code == 0; },
                                    60, std::chrono::milliseconds(200));
    ASSERT_TRUE(started) << "the test never started its orphan on the board";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::string left;
    EXPECT_TRUE(none_left_on("pi-a", sleeper, 10, left)) << "after kill -9 of xrun, left on the board:\n" << left;
  }
  // Each job has a PID namespace of its own, with its own /proc (the program
  // is 2, after the job's init): as root, and as another user inside a user
  // namespace of its own where it keeps its ids.
  for (const std::string user : {"root", "tester"}) {
    BoardProject project("\"pi-a\"", "", XRUN_TEST_WORK_DIR);
    project.dir.write("xrun.toml", std::regex_replace(slurp(project.path() + "/xrun.toml"),
                                                      std::regex("user = \"root\""), "user = \"" + user + "\""));
    auto r = project.xrun({kStatic, "exec", "/bin/sh", "-c", "echo $$ $(id -un) $(readlink /proc/self)"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_EQ(r.out.substr(0, r.out.rfind(' ')), "2 " + user) << describe(r);
  }
}

// A directory holding `ssh`: a script that runs the real one (its path
// found before PATH changes), after `script` (bash, with the remote command
// in $last and all arguments in args[]) had its say. PATH=<dir>:... puts it
// in xrun's way, as a user's own wrapper would be.
struct FakeSsh {
  TempDir dir;
  explicit FakeSsh(const std::string& script) {
    const std::string real = find_program("ssh").value_or("/usr/bin/ssh");
    dir.write("ssh", "#!/bin/bash\nargs=(\"$@\")\nlast=${args[-1]}\n" + script + "\nexec " + real + " \"${args[@]}\"\n",
              true);
  }
  std::string path_variable() const { return "PATH=" + dir.path() + ":" + get_env("PATH").value_or("/usr/bin:/bin"); }
};

// The only board fails (a port nobody listens on; a host key nobody knows)
// while more tests wait than -j runs at once: every test is an infra error
// and the run ends with exit 3 and a complete report. It waited forever
// (the machine pool ended the jobs inside start(), and the scheduler never
// retired them), deaf to Ctrl-C and SIGTERM.
TEST(Board, WhenTheOnlyBoardFailsWithMoreTestsThanJobsTheRunEnds) {
  for (const std::string how : {"closed port", "unknown host key"}) {
    BoardProject project;
    // No reset command: a power cycle would not open the port, and would take a boot.
    std::string config =
        std::regex_replace(slurp(project.path() + "/xrun.toml"), std::regex("reset = \"[^\"]*\"\n"), "");
    if (how == "closed port") {
      config = std::regex_replace(config, std::regex("port = " + port_of("pi-a")), "port = 9");
    } else {
      config = std::regex_replace(config, std::regex("host_key = \"SHA256:[^\"]*\"\n"), "");
      config =
          std::regex_replace(config, std::regex("\\[boards.pi-a\\]\n"), "[boards.pi-a]\nssh_config = \"ssh_config\"\n");
      project.dir.write("ssh_config",
                        "UserKnownHostsFile " + project.path() + "/known_hosts\nGlobalKnownHostsFile /dev/null\n");
      project.dir.write("known_hosts", "");
    }
    project.dir.write("xrun.toml", config);
    std::vector<std::string> args{"test", "-j2", "--json", project.path() + "/r.json"};
    for (int i = 0; i < 6; ++i) {
      args.push_back(project.path() + "/mode-ok" + std::to_string(i));
      fs::copy_file(kDynamic, args.back());
    }
    const pid_t pid = start_xrun(args, current_env(), project.path() + "/out", project.path());
    ASSERT_GT(pid, 0);
    const int status = wait_bounded(pid, 90);
    ASSERT_NE(status, -1) << how << ": xrun did not end within 90 s\n" << slurp(project.path() + "/out");
    ASSERT_TRUE(WIFEXITED(status)) << how << ": status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 3) << how << "\n" << slurp(project.path() + "/out");
    auto report = read_json(project.path() + "/r.json");
    EXPECT_EQ(report["complete"], true) << how;
    ASSERT_EQ(report["tests"].size(), 6u) << how;
    for (const auto& t : report["tests"]) EXPECT_EQ(t["status"], "infra-error") << how << ": " << t.dump();
  }
}

// Ctrl-C while a board runs a binary's listing (its static initialisers
// take two minutes) ends the run: Ctrl-C then only signals the runners'
// jobs, and boards were not among them.
TEST(Board, CtrlCWhileABoardListsABinaryEndsTheRun) {
  BoardProject project("\"pi-a\"", "\n[targets.aarch64.env]\nXRUN_FIXTURE_SLOW_INIT = \"120\"\n");
  const pid_t pid =
      start_xrun({"test", "--no-cache", XRUN_GTEST_ENV}, current_env(), project.path() + "/out", project.path());
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(shows_up_on("pi-a", "env_tests --gtest_list_tests", 150)) << "the listing never showed up on the board\n"
                                                                        << on_board("pi-a", "ps").out;
  ::kill(pid, SIGINT);
  const int status = wait_bounded(pid, 30);
  ASSERT_NE(status, -1) << "Ctrl-C did not end the run within 30 s";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NE(on_board("pi-a", "ps | grep -v grep | grep -q 'env_tests --gtest_list_tests'").exit_code, 0)
      << on_board("pi-a", "ps").out;
}

// A board user's login that prints endlessly (a startup file gone wrong):
// the probe's answer is read up to a bound and the board fails at once,
// saying why. xrun read it all (8.4 GB in 20 s).
TEST(Board, ALoginThatPrintsEndlesslyFailsTheProbeSayingWhy) {
  BoardProject project;
  FakeSsh ssh("case \"$last\" in *'machine=$(uname -m)'*) while :; do echo 'Welcome to the board!'; done ;; esac");
  fs::copy_file(kDynamic, project.path() + "/mode-ok");
  const auto started = std::chrono::steady_clock::now();
  auto r = project.xrun({"test", project.path() + "/mode-ok"}, {.env = environment_with({ssh.path_variable()})});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_NE(r.err.find("KiB or more in answer to the probe"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("Welcome to the board!"), std::string::npos) << describe(r);
  // Not the probe's timeout (connect_timeout + 5 s): at once.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), 12);
}

// `xrun board check` runs the agent's HELLO: a program there that prints
// the right --version but does not speak the protocol fails the check.
// It passed (only --version's exit status was looked at).
TEST(Board, BoardCheckFailsAnAgentThatDoesNotSpeakTheProtocol) {
  BoardProject project;
  FakeSsh ssh(
      "case \"$last\" in\n"
      "  *--version*) args[-1]='echo \"xrun-agent protocol " +
      std::to_string(XRUN_AGENT_PROTOCOL_VERSION) +
      "\"' ;;\n"
      "  *--stdio*) args[-1]='echo I am not an agent' ;;\n"
      "esac");
  auto r = project.xrun({"board", "check", "pi-a"}, {.env = environment_with({ssh.path_variable()})});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_NE(r.err.find("does not speak xrun's protocol"), std::string::npos) << describe(r);
  // A version that is not this xrun's is refused before.
  FakeSsh old("case \"$last\" in *--version*) args[-1]='echo xrun-agent protocol 1' ;; esac");
  auto v = project.xrun({"board", "check", "pi-a"}, {.env = environment_with({old.path_variable()})});
  EXPECT_EQ(v.exit_code, 3) << describe(v);
  EXPECT_NE(v.err.find("says \"xrun-agent protocol 1\""), std::string::npos) << describe(v);
}

std::vector<std::string> glob_paths(const std::string& pattern) {
  glob_t found{};
  std::vector<std::string> out;
  if (::glob(pattern.c_str(), 0, nullptr, &found) == 0)
    for (std::size_t i = 0; i < found.gl_pathc; ++i) out.emplace_back(found.gl_pathv[i]);
  ::globfree(&found);
  return out;
}

// A SIGKILLed run leaves its /tmp/xrun-b-<pid>-* directory (the master's
// socket, ssh's log); the next run removes it, and not one of a live run.
TEST(Board, TheNextRunRemovesTheWorkDirectoryOfAKilledRun) {
  BoardProject project;
  const std::string sleeper = project.path() + "/mode-sleep-60000";
  fs::copy_file(kDynamic, sleeper);
  const std::string trace = project.path() + "/trace";
  const pid_t pid = start_traced_test({"test", sleeper}, project, "/dev/null", trace);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(began_on(trace, sleeper, "pi-a", pid)) << "the test never ran on the board:\n" << slurp(trace);
  const auto left = glob_paths("/tmp/xrun-b-" + std::to_string(pid) + "-*");
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_EQ(left.size(), 1u) << "no work directory of xrun " << pid << " in /tmp";
  ASSERT_TRUE(fs::exists(left[0]));
  // One that a live xrun (this test, as far as its pid says) holds stays.
  const std::string live = "/tmp/xrun-b-" + std::to_string(::getpid()) + "-live00";
  fs::create_directories(live + "/.xrun-boards");
  auto r = project.xrun({kDynamic, "exit", "0"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(fs::exists(left[0])) << left[0] << " is still there";
  EXPECT_TRUE(fs::exists(live));
  fs::remove_all(live);
}

// The only board goes away while its test runs (no reset command): the test
// runs once more, finds no board, and is an infra error that says how long
// it ran (it said 0.000 s); the verdict counts it apart from failures (it
// said "0 passed, 1 failed").
TEST(Board, ATestLostWithTheOnlyBoardIsAnInfraErrorWithTheTimeItRan) {
  BoardProject project("\"pi-b\"");
  std::string config = slurp(project.path() + "/xrun.toml");
  config = std::regex_replace(config, std::regex("reset = \"[^\"]*restart [^\"]* pi-b\"\n"), "");
  project.dir.write("xrun.toml", config);
  const std::string sleeper = project.path() + "/mode-sleep-60000";
  fs::copy_file(kDynamic, sleeper);
  const std::string trace = project.path() + "/trace";
  const pid_t pid = start_traced_test({"test", sleeper, "--json", project.path() + "/r.json"}, project,
                                      project.path() + "/out", trace);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(began_on(trace, sleeper, "pi-b", pid)) << "the test never ran on pi-b:\n" << slurp(trace);
  // It has run at least from here until its board is pulled: a minute's
  // sleep, still running a second later. Measured before the plug is pulled:
  // xrun may see the board gone before `boards.sh stop` returns (it waits for
  // qemu's end; CI saw 0.052 s reported against 0.057 s measured after it).
  const auto seen_running = std::chrono::steady_clock::now();
  ASSERT_FALSE(wait_for_exit(pid, 1.0)) << "xrun ended while its test slept\n" << slurp(project.path() + "/out");
  const double ran_at_least = std::chrono::duration<double>(std::chrono::steady_clock::now() - seen_running).count();
  run({std::string(XRUN_SOURCE_DIR) + "/tests/board/boards.sh", "stop", kBoards, "pi-b"});
  const int status = wait_bounded(pid, 90);
  // pi-b back for the tests after this one.
  run({std::string(XRUN_SOURCE_DIR) + "/tests/board/boards.sh", "restart", kBoards, "pi-b"}, {.timeout_seconds = 240});
  ASSERT_NE(status, -1) << "xrun did not end within 90 s\n" << slurp(project.path() + "/out");
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 3) << slurp(project.path() + "/out");
  auto report = read_json(project.path() + "/r.json");
  ASSERT_EQ(report["tests"].size(), 1u);
  const auto& test = report["tests"][0];
  EXPECT_EQ(test["status"], "infra-error") << test.dump();
  EXPECT_GE(test["duration_seconds"].get<double>(), ran_at_least) << test.dump();
  EXPECT_GT(test["duration_seconds"].get<double>(), 0.0) << test.dump();
  EXPECT_NE(slurp(project.path() + "/out").find("\n0 passed, 0 failed, 0 skipped, 1 infra error\n"), std::string::npos)
      << slurp(project.path() + "/out");
}

TEST(Board, AProgramNeedingANewerGlibcThanTheBoardsFailsBeforeItRuns) {
  BoardProject project;
  std::string bytes = slurp(kDynamic);
  for (std::size_t at; (at = bytes.find("GLIBC_2.34")) != std::string::npos;) bytes.replace(at, 10, "GLIBC_2.99");
  const std::string newer = project.dir.write("newer-glibc", bytes, true);
  auto r = project.xrun({newer, "exit", "0"});
  EXPECT_EQ(r.exit_code, 126) << describe(r);
  EXPECT_NE(r.err.find("has glibc 2.36, but " + fs::canonical(newer).string() + " needs GLIBC_2.99"), std::string::npos)
      << describe(r);
}

TEST(Board, WhatATestWritesComesBackWithSyncBack) {
  // Without sync_back, what a test writes stays on the board.
  BoardProject plain;
  plain.dir.write("out/.keep", "");  // the directory the test writes into (mirrored)
  auto r = plain.xrun({kDynamic, "write", "out/written.txt", "from the board"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(fs::exists(plain.path() + "/out/written.txt"));
  EXPECT_EQ(on_board("pi-a", "cat " + fs::canonical(plain.path()).string() + "/out/written.txt").out, "from the board");
  // With it, the file is on the host after the job, and only what the test wrote came back.
  BoardProject synced;
  std::string config = std::regex_replace(slurp(synced.path() + "/xrun.toml"), std::regex("\\[boards.pi-a\\]\n"),
                                          "[boards.pi-a]\nsync_back = true\n");
  synced.dir.write("xrun.toml", config);
  synced.dir.write("fixture.txt", "untouched");
  synced.dir.write("out/.keep", "");
  const auto before = fs::last_write_time(synced.path() + "/fixture.txt");
  auto s = synced.xrun({kDynamic, "write", "out/written.txt", "from the board"});
  EXPECT_EQ(s.exit_code, 0) << describe(s);
  EXPECT_EQ(slurp(synced.path() + "/out/written.txt"), "from the board");
  EXPECT_EQ(fs::last_write_time(synced.path() + "/fixture.txt"), before);
}

// A project whose xrun.toml turns on pi-a's sync_back.
struct SyncedProject : BoardProject {
  explicit SyncedProject(const std::string& base = "") : BoardProject("\"pi-a\"", "", base) {
    dir.write("xrun.toml", std::regex_replace(slurp(path() + "/xrun.toml"), std::regex("\\[boards.pi-a\\]\n"),
                                              "[boards.pi-a]\nsync_back = true\n"));
  }
};

// What a test (or a compromised board) writes comes back only under the
// cwd: a host symlink that leads out of it (the board has a fresh directory
// or a regular file there) is never followed, a link inside is written
// through as a local run would, and no setuid, setgid or sticky bit comes
// back. What is left out is said once, in a warning.
TEST(Board, SyncBackWritesNothingOutsideTheCwdAndNoSpecialModeBits) {
  TempDir around, outside;  // `around` holds the project: `..` from it lands there
  SyncedProject project(around.path());
  outside.write("dir/.keep", "");
  outside.write("file.txt", "outside, untouched");
  project.dir.write("inside.txt", "inside, before");
  project.dir.write("sub/.keep", "");
  fs::create_directory_symlink(outside.path() + "/dir", project.path() + "/lnk");
  fs::create_symlink(outside.path() + "/file.txt", project.path() + "/flink");
  fs::create_symlink("../inside.txt", project.path() + "/sub/ilink");     // a file link that stays inside
  fs::create_directory_symlink("sub/../..", project.path() + "/uplink");  // `..` out of the cwd
  const std::string script =
      "mkdir -p lnk uplink && echo evil > lnk/evil && echo evil > uplink/evil && echo evil > flink && "
      "echo through > sub/ilink && printf x > \"$(printf 'new\\nline')\" && echo s > suid && chmod 7755 suid";
  auto r = project.xrun({kDynamic, "exec", "/bin/sh", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_FALSE(fs::exists(outside.path() + "/dir/evil")) << describe(r);
  EXPECT_FALSE(fs::exists(around.path() + "/evil")) << describe(r);
  EXPECT_EQ(slurp(outside.path() + "/file.txt"), "outside, untouched");
  EXPECT_TRUE(fs::is_symlink(project.path() + "/flink")) << "a host symlink was replaced";
  EXPECT_TRUE(fs::is_symlink(project.path() + "/sub/ilink")) << "a host symlink was replaced";
  EXPECT_EQ(slurp(project.path() + "/inside.txt"), "through\n");
  EXPECT_EQ(slurp(project.path() + "/new\nline"), "x");
  struct stat st {};
  ASSERT_EQ(::stat((project.path() + "/suid").c_str(), &st), 0) << describe(r);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, ::getuid());
  // Said once, with what was left and why.
  EXPECT_NE(r.err.find("sync_back did not copy back 3 file(s)"), std::string::npos) << describe(r);
  for (const char* named : {"/lnk/evil\"", "/uplink/evil\"", "/flink\""})
    EXPECT_NE(r.err.find(named), std::string::npos) << named << "\n" << describe(r);
  EXPECT_NE(r.err.find("outside " + fs::canonical(project.path()).string()), std::string::npos) << describe(r);
}

// In `xrun test` what the board backend warns of reaches the reporters: the
// terminal says it as a run always did ("xrun: warning: ..." on stderr), and
// the JSON report keeps it.
TEST(Board, ATestRunsWarningsAreOnTheTerminalAndInItsJsonReport) {
  BoardProject project;
  TempDir out;  // not under the cwd, which is mirrored
  const std::string json = out.path() + "/r.json";
  auto r = project.xrun({"test", XRUN_GTEST_SUITE, "--filter", "Pass.*", "--json", json},
                        {.env = environment_with({"HOME=" + project.path()})});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  const std::string said = "the tests run from your home directory " + project.path();
  EXPECT_NE(r.err.find("xrun: warning: " + said), std::string::npos) << describe(r);
  const auto report = read_json(json);
  ASSERT_TRUE(report["warnings"].is_array()) << report.dump(2);
  ASSERT_EQ(report["warnings"].size(), 1u) << report["warnings"].dump(2);
  EXPECT_EQ(report["warnings"][0].get<std::string>().rfind(said, 0), 0u) << report["warnings"].dump(2);
}

// Secrets stay on the host: credential directories and files are never
// mirrored, what is (a 0600 file in a 0700 directory) is no more open on
// the board than on the host, nor in the agent's store; a run from $HOME
// is warned about.
TEST(Board, CredentialsAreNotMirroredAndWhatIsStaysPrivateOnTheBoard) {
  BoardProject project;
  const std::string unique = "secret " + std::to_string(::getpid()) + "-" +
                             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  project.dir.write(".ssh/id_ed25519", "private key");
  project.dir.write(".netrc", "machine example.com password hunter2");
  project.dir.write(".docker/config.json", "{\"auths\": {}}");
  project.dir.write("private/secret.txt", unique);
  fs::permissions(project.path() + "/private/secret.txt", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(project.path() + "/private", fs::perms::owner_all);
  TempDir keys;
  keys.write(".aws/credentials", "aws key");
  fs::create_symlink(keys.path() + "/.aws/credentials", project.path() + "/aws-link");
  auto r =
      project.xrun({kDynamic, "read", "private/secret.txt"}, {.env = environment_with({"HOME=" + project.path()})});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, unique);
  EXPECT_NE(r.err.find("the tests run from your home directory"), std::string::npos) << describe(r);
  const std::string at = fs::canonical(project.path()).string();
  for (const char* name : {"/.ssh", "/.netrc", "/.docker", "/aws-link"})
    EXPECT_NE(on_board("pi-a", "test -e " + at + name).exit_code, 0) << name << " was mirrored";
  EXPECT_EQ(on_board("pi-a", "ls -ld " + at + "/private | cut -c1-10").out, "drwx------\n");
  EXPECT_EQ(on_board("pi-a", "ls -l " + at + "/private/secret.txt | cut -c1-10").out, "-rw-------\n");
  // The store: the object of that content, and all others, 0600 in a 0700 directory.
  EXPECT_EQ(on_board("pi-a", "ls -ld /root/.cache/xrun-agent /root/.cache/xrun-agent/objects | cut -c1-10").out,
            "drwx------\ndrwx------\n");
  EXPECT_EQ(on_board("pi-a", "find /root/.cache/xrun-agent/objects -type f ! -perm 600").out, "");
  EXPECT_EQ(on_board("pi-a", "grep -rl '" + unique + "' /root/.cache/xrun-agent/objects | wc -l").out, "1\n");
}

// The agent's fallback directory in /tmp has a predictable name: one made
// by another user is refused (naming it), and an agent build found there
// runs only with this build's content.
TEST(Board, AnAgentPlantedInTheFallbackDirectoryIsNeverRun) {
  BoardProject project("\"pi-a\"", "", XRUN_TEST_WORK_DIR);
  const std::string root_check = project.xrun({"board", "check", "pi-a"}).out;
  std::smatch found;
  ASSERT_TRUE(std::regex_search(root_check, found, std::regex("agent-[0-9a-f]{16}"))) << root_check;
  const std::string agent = found.str();
  // As tester, and without the reset command: a restarted board would forget what a planted agent did.
  std::string config =
      std::regex_replace(slurp(project.path() + "/xrun.toml"), std::regex("user = \"root\""), "user = \"tester\"");
  project.dir.write("xrun.toml", std::regex_replace(config, std::regex("reset = \"[^\"]*\"\n"), ""));
  // tester's cache cannot hold the agent (a file in the way): the fallback it is.
  const std::string tmp_dir = "/tmp/xrun-agent-1000", cache = "/home/tester/.cache/xrun-agent";
  const std::string plant = "rm -rf " + tmp_dir + " /tmp/planted-ran " + cache + " && mkdir -p /home/tester/.cache " +
                            tmp_dir + " && chown tester /home/tester/.cache" + " && chmod 755 " + tmp_dir +
                            " && printf '#!/bin/sh\\ntouch /tmp/planted-ran\\n' > " + tmp_dir + "/" + agent +
                            " && chmod 755 " + tmp_dir + "/" + agent + " && echo > " + cache;
  const std::string restore = "rm -rf " + tmp_dir + " /tmp/planted-ran " + cache;
  // Another user's (root's) directory, 0755.
  ASSERT_EQ(on_board("pi-a", plant).exit_code, 0);
  auto refused = project.xrun({kDynamic, "exit", "0"});
  EXPECT_NE(refused.exit_code, 0) << describe(refused);
  EXPECT_NE(refused.err.find("agent directory " + tmp_dir + " is owned by uid 0"), std::string::npos)
      << describe(refused);
  EXPECT_NE(on_board("pi-a", "test -e /tmp/planted-ran").exit_code, 0) << "the planted agent ran";
  // The user's own directory, 0700, with something else under the agent's name.
  ASSERT_EQ(on_board("pi-a", plant + " && chown -R tester " + tmp_dir + " && chmod 700 " + tmp_dir).exit_code, 0);
  auto replaced = project.xrun({kDynamic, "exit", "7"});
  EXPECT_EQ(replaced.exit_code, 7) << describe(replaced);
  EXPECT_NE(on_board("pi-a", "test -e /tmp/planted-ran").exit_code, 0) << "the planted agent ran";
  EXPECT_EQ(on_board("pi-a", "cmp -s " + tmp_dir + "/" + agent + " /root/.cache/xrun-agent/" + agent).exit_code, 0);
  on_board("pi-a", restore);
}

// A board user who cannot create the host's paths gets them under the
// agent's directory instead, and `xrun board check` says so.
TEST(Board, WhereTheUserCannotCreateTheHostsPathsFilesGoUnderAPrefix) {
  // Under the build tree: /work/... is root's on the board (/tmp would be anyone's).
  BoardProject project("\"pi-a\"", "", XRUN_TEST_WORK_DIR);
  std::string config =
      std::regex_replace(slurp(project.path() + "/xrun.toml"), std::regex("user = \"root\""), "user = \"tester\"");
  project.dir.write("xrun.toml", config);
  project.dir.write("data/fixture.txt", "fixture for tester\n");
  auto read = project.xrun({kDynamic, "read", "data/fixture.txt"});
  EXPECT_EQ(read.exit_code, 0) << describe(read);
  EXPECT_EQ(read.out, "fixture for tester\n");
  auto cwd = project.xrun({kDynamic, "cwd"});
  const std::string expected = "/home/tester/.cache/xrun-agent/mirror" + fs::canonical(project.path()).string() + "\n";
  EXPECT_EQ(cwd.out, expected) << describe(cwd);
  auto check = project.xrun({"board", "check", "pi-a"});
  EXPECT_EQ(check.exit_code, 0) << describe(check);
  EXPECT_NE(check.out.find("mirrored under /home/tester/.cache/xrun-agent/mirror"), std::string::npos) << check.out;
}

TEST(Board, BoardCheckSaysWhatEachBoardIs) {
  BoardProject project("\"pi-a\", \"pi-b\"");
  auto r = project.xrun({"board", "check"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* expected : {"pi-a", "pi-b", "reachable yes", "(pinned, checked)", "aarch64 (runs aarch64 programs)",
                               "xrun-agent protocol", "glibc 2.36", "mirrored at the same paths"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  auto list = project.xrun({"board", "list"});
  EXPECT_NE(list.out.find("targets=aarch64"), std::string::npos) << list.out;
  auto none = project.xrun({"board", "check", "pi-z"});
  EXPECT_EQ(none.exit_code, 2) << describe(none);
}

// Two runs (two CI jobs) on an exclusive board: the second waits, saying
// so; when the first is killed with SIGKILL (a cancelled job), the kernel
// releases its lock and the second goes on.
TEST(Board, AnExclusiveBoardServesOneRunAndACancelledRunLeavesNoStaleLock) {
  BoardProject project("\"pi-a\"", "");
  std::string config = std::regex_replace(slurp(project.path() + "/xrun.toml"), std::regex("\\[boards.pi-a\\]\n"),
                                          "[boards.pi-a]\nexclusive = true\nlock_timeout = 120\n");
  project.dir.write("xrun.toml", config);
  const std::string sleeper = project.path() + "/mode-sleep-60000", quick = project.path() + "/mode-ok";
  fs::copy_file(kDynamic, sleeper);
  fs::copy_file(kDynamic, quick);
  const std::string trace = project.path() + "/trace";
  const pid_t first = start_traced_test({"test", sleeper}, project, "/dev/null", trace);
  ASSERT_GT(first, 0);
  ASSERT_TRUE(began_on(trace, sleeper, "pi-a", first)) << slurp(trace);
  // The second run's stderr, to see it wait.
  const std::string err = project.path() + "/second.err";
  const pid_t second = ::fork();
  if (second == 0) {
    ::freopen(err.c_str(), "w", stderr);
    ::chdir(project.path().c_str());
    ::execl(XRUN_BINARY, XRUN_BINARY, "test", quick.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  EXPECT_TRUE(wait_for_text(err, "in use by another xrun run", 60, second)) << slurp(err);
  int status = 0;
  EXPECT_EQ(::waitpid(second, &status, WNOHANG), 0) << "the second run did not wait";
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  status = wait_bounded(second, 60);
  ASSERT_NE(status, -1) << "the second run did not go on:\n" << slurp(err);
  ASSERT_TRUE(WIFEXITED(status)) << slurp(err);
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(err);
}

// Last: it pulls pi-b's plug mid-run.
TEST(Board, ABoardLostMidRunIsResetAndItsTestsFinishOnTheOther) {
  BoardProject project("\"pi-a\", \"pi-b\"");
  // 16 tests of 3 s each, 8 at once over two boards of max_jobs 4.
  std::vector<std::string> args{"test", "-j8", "--json", project.path() + "/r.json"};
  for (int i = 0; i < 16; ++i) {
    const std::string copy = project.path() + "/mode-sleep-3000-" + std::to_string(i);
    fs::copy_file(kDynamic, copy);
    args.push_back(copy);
  }
  const std::string trace = project.path() + "/trace";
  const pid_t pid = start_traced_test(args, project, project.path() + "/out", trace);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_text(trace, " began on pi-b\n", 120, pid)) << "no test ever ran on pi-b:\n" << slurp(trace);
  // The board goes away mid-test: no answer, no goodbye.
  run({std::string(XRUN_SOURCE_DIR) + "/tests/board/boards.sh", "stop", kBoards, "pi-b"});
  const int status = wait_bounded(pid, 180);
  ASSERT_NE(status, -1) << "xrun did not finish: " << slurp(project.path() + "/out");
  ASSERT_TRUE(WIFEXITED(status)) << "xrun did not finish: " << slurp(project.path() + "/out");
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(project.path() + "/out");
  auto report = read_json(project.path() + "/r.json");
  ASSERT_EQ(report["tests"].size(), 16u);
  std::map<std::string, int> by_machine;
  for (const auto& t : report["tests"]) {
    EXPECT_EQ(t["status"], "passed") << t.dump();
    by_machine[t["machine"].is_string() ? t["machine"].get<std::string>() : "?"]++;
  }
  EXPECT_GT(by_machine["pi-a"], 8) << "the lost board's tests ran on the other";
  // The reset command (boards.sh restart) brought it back.
  EXPECT_EQ(on_board("pi-b", "true").exit_code, 0) << "pi-b was not reset";
}

}  // namespace
}  // namespace xrun::testing
