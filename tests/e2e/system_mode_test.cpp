// System mode end to end: real qemu-system-aarch64 booting the image that
// `xrun image build --arch aarch64` made from Debian packages (scripts/test.sh
// builds it before the tests; a missing image fails these tests, it does not
// skip them), the real guest agent, real cross-compiled programs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/fs_util.h"
#include "e2e/rust_statuses.h"
#include "e2e/xrun_runner.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

extern char** environ;

namespace xrun::testing {
namespace {

namespace fs = std::filesystem;

const std::string kDynamic = helper("aarch64", "dynamic");
const std::string kStatic = helper("aarch64", "static");

RunResult in_vm(std::vector<std::string> args, RunOptions options = {}) {
  args.insert(args.begin(), "--backend=system");
  if (options.timeout_seconds == 60) options.timeout_seconds = 120;
  return run_xrun(args, options);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(SystemMode, TheImageIsBuiltAndListed) {
  auto r = run_xrun({"image", "list"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("aarch64 "), std::string::npos) << "run `xrun image build --arch aarch64` first:\n" << r.out;
  auto again = run_xrun({"image", "build", "--arch", "aarch64"}, {.timeout_seconds = 600});
  EXPECT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_NE(again.out.find("up to date"), std::string::npos) << "nothing changed, nothing rebuilt:\n" << again.out;
}

TEST(SystemMode, ExitCodesComeBackExactly) {
  for (int code : {0, 1, 3, 42, 255}) {
    auto r = in_vm({kDynamic, "exit", std::to_string(code)});
    EXPECT_TRUE(r.exited) << describe(r);
    EXPECT_EQ(r.exit_code, code) << describe(r);
  }
}

TEST(SystemMode, DeathBySignalIsReRaised) {
  for (auto [name, number] : {std::pair{"SEGV", SIGSEGV}, std::pair{"ABRT", SIGABRT}, std::pair{"KILL", SIGKILL}}) {
    auto r = in_vm({kStatic, "signal", name});
    EXPECT_FALSE(r.exited) << name << ": " << describe(r);
    EXPECT_EQ(r.signal, number) << describe(r);
  }
}

TEST(SystemMode, StdinStdoutStderrArgvAndEnvironmentPassThrough) {
  std::string bytes = "line one\n";
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  auto cat = in_vm({kDynamic, "cat"}, {.stdin_data = bytes});
  EXPECT_EQ(cat.exit_code, 0) << describe(cat);
  EXPECT_EQ(cat.out, bytes);

  auto err = in_vm({kDynamic, "stderr", "to stderr only"});
  EXPECT_EQ(err.out, "");
  EXPECT_NE(err.err.find("to stderr only"), std::string::npos) << describe(err);

  auto argv = in_vm({kDynamic, "argv", "a b", "", "--not-an-option", "$HOME"});
  EXPECT_EQ(argv.out, "0:" + std::to_string(kDynamic.size()) + ":" + kDynamic +
                          "\n1:4:argv\n2:3:a b\n3:0:\n4:15:--not-an-option\n5:5:$HOME\n")
      << describe(argv);

  auto env =
      in_vm({kDynamic, "env", "XRUN_SYSTEM_PROBE"}, {.env = environment_with({"XRUN_SYSTEM_PROBE=from the host"})});
  EXPECT_EQ(env.out, "XRUN_SYSTEM_PROBE=from the host\n") << describe(env);
}

// A program that writes faster than xrun reads waits for room; nothing is
// dropped (the agent's pipes are blocking on the program's side).
TEST(SystemMode, LargeOutputAndInputArriveWhole) {
  auto spew = in_vm({kDynamic, "spew", "20000000"}, {.timeout_seconds = 240});
  EXPECT_EQ(spew.exit_code, 0) << spew.err;
  EXPECT_EQ(spew.out.size(), 20000000u);
  const std::string input(5 * 1000 * 1000, 'i');
  auto cat = in_vm({kDynamic, "cat"}, {.stdin_data = input, .timeout_seconds = 240});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out.size(), input.size());
  EXPECT_TRUE(cat.out == input) << "the bytes changed on the way";
}

// The default aarch64 kernel is xrun's minimal one, built from Debian's
// linux-source package; `vm_kernel = "debian"` boots Debian's own kernel
// package with its modules (scripts/test.sh builds both images).
TEST(SystemMode, TheMinimalKernelIsTheDefaultAndDebiansOwnKernelBootsToo) {
  auto minimal = in_vm({kStatic, "read", "/proc/sys/kernel/osrelease"});
  EXPECT_EQ(minimal.exit_code, 0) << describe(minimal);
  EXPECT_NE(minimal.out.find("-xrun"), std::string::npos) << "the minimal kernel: " << minimal.out;
  const std::string home =
      std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : std::string(std::getenv("HOME")) + "/.cache";
  auto manifest = read_json(home + "/xrun/images/aarch64/manifest.json");
  EXPECT_EQ(manifest["kernel_source"]["name"].get<std::string>().rfind("linux-source-", 0), 0u) << manifest.dump(2);
  EXPECT_TRUE(manifest["modules"].is_null()) << "everything built in: " << manifest.dump(2);

  TempDir dir;
  dir.write("fixture.txt", "shared over 9p\n");
  const auto debian_env = environment_with({"XRUN_AARCH64_VM_KERNEL=debian"});
  auto debian = in_vm({kStatic, "read", "/proc/sys/kernel/osrelease"}, {.env = debian_env});
  EXPECT_EQ(debian.exit_code, 0) << "xrun image build with XRUN_AARCH64_VM_KERNEL=debian first: " << describe(debian);
  EXPECT_NE(debian.out.find("-arm64"), std::string::npos) << "Debian's kernel: " << debian.out;
  // Its 9p and virtio modules were loaded: the fixture is there.
  auto fixture = in_vm({kDynamic, "read", "fixture.txt"}, {.cwd = dir.path(), .env = debian_env});
  EXPECT_EQ(fixture.out, "shared over 9p\n") << describe(fixture);
  auto crash = in_vm({kDynamic, "signal", "SEGV"}, {.env = debian_env});
  EXPECT_EQ(crash.signal, SIGSEGV) << describe(crash);

  auto wrong =
      run_xrun({"--backend=system", kStatic, "exit", "0"}, {.env = environment_with({"XRUN_AARCH64_VM_KERNEL=tiny"})});
  EXPECT_EQ(wrong.exit_code, 2) << describe(wrong);
  EXPECT_NE(wrong.err.find("must be \"minimal\" or \"debian\""), std::string::npos) << wrong.err;
}

TEST(SystemMode, Armhf32BitProgramsRunInTheirOwnVm) {
  auto code = in_vm({helper("armhf", "static"), "exit", "9"}, {.timeout_seconds = 300});
  EXPECT_EQ(code.exit_code, 9) << "xrun image build --arch armhf first: " << describe(code);
  auto threads = in_vm({helper("armhf", "dynamic"), "threads", "4"});
  EXPECT_EQ(threads.exit_code, 0) << describe(threads);
  EXPECT_EQ(threads.out, "threads ok 4\n");
  auto crash = in_vm({helper("armhf", "dynamic"), "signal", "SEGV"});
  EXPECT_EQ(crash.signal, SIGSEGV) << describe(crash);
  auto kernel = in_vm({helper("armhf", "static"), "read", "/proc/sys/kernel/osrelease"});
  EXPECT_NE(kernel.out.find("armmp"), std::string::npos) << "Debian's armhf kernel: " << kernel.out;
}

TEST(SystemMode, FixturesAreSharedAtTheSamePathBothWays) {
  TempDir dir;
  dir.write("data/fixture.txt", "a fixture on the host\n");
  auto read = in_vm({kDynamic, "read", "data/fixture.txt"}, {.cwd = dir.path()});
  EXPECT_EQ(read.exit_code, 0) << describe(read);
  EXPECT_EQ(read.out, "a fixture on the host\n");

  auto cwd = in_vm({kDynamic, "cwd"}, {.cwd = dir.path()});
  EXPECT_EQ(cwd.out, fs::canonical(dir.path()).string() + "\n") << describe(cwd);

  fs::create_directories(dir.path() + "/data/out");
  auto write = in_vm({kDynamic, "write", "out/written.txt", "written in the VM"}, {.cwd = dir.path() + "/data"});
  EXPECT_EQ(write.exit_code, 0) << describe(write);
  EXPECT_EQ(slurp(dir.path() + "/data/out/written.txt"), "written in the VM") << "the file must be on the host";
}

// The guest sees the job's cwd and the configured shares writable, the
// program's directory read-only, and nothing else of the host: not through
// the 9p mount either (on 29a5cf7 /.xrun-host was the host's whole `/`).
TEST(SystemMode, TheGuestSeesOnlyTheDirectoriesTheJobNeeds) {
  TempDir secret, bin, work, share;
  const std::string secret_file = secret.write("secret.txt", "not for the guest\n");
  const std::string program = bin.write("prog", *read_file(kDynamic), true);
  work.write("xrun.toml", "[targets.aarch64]\nshares = [\"" + share.path() + "\"]\n");
  const RunOptions in_work{.cwd = work.path()};

  for (const std::string& path :
       std::vector<std::string>{secret_file, "/.xrun-host" + secret_file, "/.xrun-host/etc/passwd"}) {
    auto r = in_vm({program, "read", path}, in_work);
    EXPECT_NE(r.exit_code, 0) << path << " must not be reachable: " << describe(r);
    EXPECT_EQ(r.out, "") << path;
  }
  auto in_bin = in_vm({program, "write", bin.path() + "/planted", "x"}, in_work);
  EXPECT_NE(in_bin.exit_code, 0) << "the program's directory is read-only: " << describe(in_bin);
  EXPECT_FALSE(fs::exists(bin.path() + "/planted"));
  EXPECT_EQ(in_vm({program, "read", "prog"}, {.cwd = bin.path()}).exit_code, 0) << "it stays readable";

  auto in_cwd = in_vm({program, "write", "out.txt", "from the VM"}, in_work);
  EXPECT_EQ(in_cwd.exit_code, 0) << describe(in_cwd);
  EXPECT_EQ(slurp(work.path() + "/out.txt"), "from the VM");
  auto in_share = in_vm({program, "write", share.path() + "/shared.txt", "to the share"}, in_work);
  EXPECT_EQ(in_share.exit_code, 0) << describe(in_share);
  EXPECT_EQ(slurp(share.path() + "/shared.txt"), "to the share");

  // A program under its cwd writes next to itself; the directory shown
  // read-only for one job becomes writable when a later job's cwd is it.
  fs::create_directories(work.path() + "/tests");
  const std::string nested = work.write("tests/prog", *read_file(kDynamic), true);
  EXPECT_EQ(in_vm({nested, "write", work.path() + "/tests/next.txt", "x"}, in_work).exit_code, 0);

  // A cwd inside the program's (read-only) directory stays writable, whichever
  // is shown first (fmt's tests write ./temp in build/test, next to a RUNPATH
  // of build/).
  fs::create_directories(bin.path() + "/sub");
  auto below = in_vm({program, "write", "out.txt", "x"}, {.cwd = bin.path() + "/sub"});
  EXPECT_EQ(below.exit_code, 0) << describe(below);
  EXPECT_EQ(slurp(bin.path() + "/sub/out.txt"), "x");

  // One VM, jobs from two directories that the VM learns of as they come.
  TempDir a, b;
  for (auto* d : {&a, &b}) d->write("sample_tests", *read_file(XRUN_GTEST_SAMPLE), true);
  // (It filtered on "Math*", which names no test of the sample: it passed
  // having run nothing until a run with nothing to run became an error.)
  auto both = run_xrun({"test", "--backend", "system", "-j1", a.path() + "/sample_tests", b.path() + "/sample_tests",
                        "--filter", "Arithmetic.*"},
                       {.timeout_seconds = 240});
  EXPECT_EQ(both.exit_code, 0) << describe(both);
  EXPECT_NE(both.out.find("2 passed, 0 failed"), std::string::npos) << describe(both);

  // A library of the build tree in a directory the VM is not shown otherwise,
  // found through the test's (absolute) RUNPATH.
  const std::string linked = bin.write("runpath_tests", *read_file(XRUN_GTEST_RUNPATH), true);
  auto runpath = run_xrun({"test", "--backend", "system", linked}, {.cwd = work.path(), .timeout_seconds = 240});
  EXPECT_EQ(runpath.exit_code, 0) << describe(runpath);
}

// A test's child that leaves its process group (setsid, stdio closed) ends
// with the test: the next test in the same VM finds no trace of it. The
// static program is exec'd, the dynamic one forked by the fork server.
TEST(SystemMode, NoDescendantOfATestOutlivesIt) {
  for (const std::string kind : {"static", "dynamic"}) {
    TempDir dir;
    for (const std::string mode : {"mode-orphan-named", "mode-no-orphan"})
      fs::create_symlink(helper("aarch64", kind), dir.path() + "/" + mode);
    auto r = run_xrun({"test", "--backend", "system", "-j1", "--json", dir.path() + "/r.json",
                       dir.path() + "/mode-orphan-named", dir.path() + "/mode-no-orphan"},
                      {.timeout_seconds = 240});
    EXPECT_EQ(r.exit_code, 0) << kind << ": " << describe(r);
    const auto s = statuses(read_json(dir.path() + "/r.json"));
    EXPECT_EQ(s.size(), 2u) << kind;
    for (const auto& [name, status] : s) EXPECT_EQ(status, "passed") << kind << " " << name;
  }
}

TEST(SystemMode, AMissingImageSaysHowToBuildIt) {
  TempDir cache;
  auto r = in_vm({kDynamic, "exit", "0"}, {.env = environment_with({"XDG_CACHE_HOME=" + cache.path()})});
  EXPECT_EQ(r.exit_code, 126) << describe(r);
  EXPECT_NE(r.err.find("xrun: error: no VM image for aarch64"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("xrun image build --arch aarch64"), std::string::npos) << r.err;

  auto unsupported = in_vm({helper("riscv64", "static"), "exit", "0"});
  EXPECT_EQ(unsupported.exit_code, 126) << describe(unsupported);
  EXPECT_NE(unsupported.err.find("system mode does not support target \"riscv64\""), std::string::npos)
      << unsupported.err;

  auto bad = run_xrun({"--backend=vm", kDynamic});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  auto bad_arch = run_xrun({"image", "build", "--arch", "sparc"});
  EXPECT_EQ(bad_arch.exit_code, 2) << describe(bad_arch);
  auto no_such = run_xrun({"image", "rm", "no-such-image"});
  EXPECT_EQ(no_such.exit_code, 2) << describe(no_such);
}

// A private cache holding a copy of the built image: saved state and removal
// can be exercised without touching the user's.
class PrivateImage : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string home =
        std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : std::string(std::getenv("HOME")) + "/.cache";
    const std::string source = home + "/xrun/images/aarch64";
    ASSERT_TRUE(fs::exists(source + "/manifest.json")) << "build the image first: xrun image build --arch aarch64";
    fs::create_directories(image_dir());
    for (const char* file : {"kernel", "initrd.cpio", "manifest.json"})
      fs::copy_file(source + "/" + file, image_dir() + "/" + file);
  }
  std::string image_dir() const { return cache_.path() + "/xrun/images/aarch64"; }
  std::vector<std::string> env(std::vector<std::string> more = {}) const {
    more.push_back("XDG_CACHE_HOME=" + cache_.path());
    return environment_with(more);
  }
  TempDir cache_;
};

// xrun doctor says whether a run would restore from saved state: not before
// the first run, then yes, and not for other machine settings (each has a
// saved state of its own). It said "no saved state yet" whatever there was.
TEST_F(PrivateImage, DoctorSaysWhetherARunWouldRestoreFromSavedState) {
  const auto doctor = [&](std::vector<std::string> more) {
    auto r = run_xrun({"doctor", "--target", "aarch64"}, {.env = env(std::move(more))});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return r.out;
  };
  EXPECT_NE(doctor({}).find("image aarch64, no saved state yet"), std::string::npos) << doctor({});
  auto run = in_vm({kStatic, "exit", "5"}, {.env = env()});
  ASSERT_EQ(run.exit_code, 5) << describe(run);
  EXPECT_NE(doctor({}).find("image aarch64, saved state ready"), std::string::npos) << doctor({});
  EXPECT_NE(doctor({"XRUN_AARCH64_VM_MEMORY=256"}).find("image aarch64, no saved state yet"), std::string::npos)
      << "another memory size has a saved state of its own: " << doctor({"XRUN_AARCH64_VM_MEMORY=256"});
}

TEST_F(PrivateImage, SavedStateIsMadeOnceThenUsedAndAStaleOneFallsBackToColdBoot) {
  auto first = in_vm({kStatic, "exit", "5"}, {.env = env({"XRUN_LOG=debug"})});
  EXPECT_EQ(first.exit_code, 5) << describe(first);
  EXPECT_NE(first.err.find("saved the VM state"), std::string::npos) << first.err;
  // One saved state per machine settings: snapshot-<key>/state.
  std::string state;
  for (const auto& entry : fs::directory_iterator(image_dir()))
    if (entry.path().filename().string().rfind("snapshot-", 0) == 0) state = entry.path().string() + "/state";
  ASSERT_TRUE(fs::exists(state)) << "no saved state in " << image_dir();

  auto second = in_vm({kStatic, "exit", "6"}, {.env = env({"XRUN_LOG=debug"})});
  EXPECT_EQ(second.exit_code, 6) << describe(second);
  EXPECT_EQ(second.err.find("saved the VM state"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("(restored,"), std::string::npos) << second.err;

  // Unusable saved state (same key, garbage inside): the run still works.
  // Another memory size has a saved state of its own; the first one stays.
  auto bigger = in_vm({kStatic, "exit", "4"}, {.env = env({"XRUN_AARCH64_VM_MEMORY=256"})});
  EXPECT_EQ(bigger.exit_code, 4) << describe(bigger);
  int states = 0;
  for (const auto& entry : fs::directory_iterator(image_dir()))
    states += entry.path().filename().string().rfind("snapshot-", 0) == 0;
  EXPECT_EQ(states, 2);
  EXPECT_TRUE(fs::exists(state));

  std::ofstream(state, std::ios::trunc) << "not a migration stream";
  const std::string tmp = cache_.path() + "/tmp";
  fs::create_directories(tmp);
  auto broken = in_vm({kStatic, "exit", "7"}, {.env = env({"TMPDIR=" + tmp})});
  EXPECT_EQ(broken.exit_code, 7) << describe(broken);
  EXPECT_TRUE(fs::is_empty(tmp)) << "a failed VM's work directory stays in TMPDIR";
  EXPECT_NE(broken.err.find(cache_.path() + "/xrun/logs/"), std::string::npos)
      << "its console log is kept: " << broken.err;
  EXPECT_NE(broken.err.find("xrun: warning: starting a VM from saved state failed, cold-booting instead"),
            std::string::npos)
      << broken.err;

  auto cold = in_vm({"--cold-boot", kStatic, "exit", "8"}, {.env = env({"XRUN_LOG=debug"})});
  EXPECT_EQ(cold.exit_code, 8) << describe(cold);
  EXPECT_NE(cold.err.find("(cold boot,"), std::string::npos) << cold.err;

  // Removing the arch's images keeps the compiled kernels; "all" drops them too.
  const std::string kernel = cache_.path() + "/xrun/kernels/aarch64-0123456789ab";
  fs::create_directories(kernel);
  std::ofstream(kernel + "/Image") << "a compiled kernel";
  auto rm = run_xrun({"image", "rm", "aarch64"}, {.env = env()});
  EXPECT_EQ(rm.exit_code, 0) << describe(rm);
  EXPECT_FALSE(fs::exists(image_dir()));
  EXPECT_TRUE(fs::exists(kernel + "/Image"));
  auto all = run_xrun({"image", "rm", "all"}, {.env = env()});
  EXPECT_EQ(all.exit_code, 0) << describe(all);
  EXPECT_NE(all.out.find("removed the compiled kernels"), std::string::npos) << all.out;
  EXPECT_FALSE(fs::exists(cache_.path() + "/xrun/kernels"));
}

TEST(SystemMode, AGuestKernelPanicOrHangIsAnInfraErrorAndTheRunGoesOn) {
  TempDir dir;
  for (const char* name : {"mode-ok", "mode-panic", "mode-ok2", "mode-hog", "mode-ok3"})
    fs::create_symlink(kStatic, dir.path() + "/" + name);
  auto r = run_xrun(
      {"test", dir.path() + "/mode-ok", dir.path() + "/mode-panic", dir.path() + "/mode-ok2", dir.path() + "/mode-hog",
       dir.path() + "/mode-ok3", "--backend", "system", "-j2", "--json", dir.path() + "/r.json"},
      {.timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 3) << "infrastructure errors only: " << describe(r);
  auto report = read_json(dir.path() + "/r.json");
  std::map<std::string, std::string> by_binary;
  std::map<std::string, std::string> messages;
  for (const auto& t : report["tests"]) {
    const std::string binary = fs::path(t["binary"].get<std::string>()).filename().string();
    by_binary[binary] = t["status"].get<std::string>();
    messages[binary] = t.value("message", "");
  }
  EXPECT_EQ(by_binary, (std::map<std::string, std::string>{{"mode-ok", "passed"},
                                                           {"mode-panic", "infra-error"},
                                                           {"mode-ok2", "passed"},
                                                           {"mode-hog", "infra-error"},
                                                           {"mode-ok3", "passed"}}))
      << r.out;
  EXPECT_NE(messages["mode-panic"].find("the guest kernel panicked"), std::string::npos) << messages["mode-panic"];
  EXPECT_NE(messages["mode-panic"].find("last console lines"), std::string::npos) << messages["mode-panic"];
  EXPECT_NE(messages["mode-hog"].find("stopped responding"), std::string::npos) << messages["mode-hog"];
}

TEST(SystemMode, ATestsTimeoutStartsWhenItStartsNotWhenTheVmBoots) {
  // One VM, two tests of 0.6 s each, a 1.5 s timeout: the second waits for
  // a cold boot and for the first (well over 1.5 s) before it starts. Were
  // its clock started when it was queued, it would time out.
  TempDir dir;
  fs::create_symlink(kStatic, dir.path() + "/mode-sleep-600");
  fs::create_symlink(kStatic, dir.path() + "/mode-sleep-601");
  auto r = run_xrun({"test", dir.path() + "/mode-sleep-600", dir.path() + "/mode-sleep-601", "--backend", "system",
                     "--cold-boot", "-j1", "--timeout", "1.5", "--json", dir.path() + "/r.json"},
                    {.timeout_seconds = 120});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(statuses(read_json(dir.path() + "/r.json")),
            (std::map<std::string, std::string>{{"mode-sleep-600", "passed"}, {"mode-sleep-601", "passed"}}))
      << r.out;
}

const std::map<std::string, std::string> kSuiteStatuses = {
    {"Pass.Simple", "passed"},     {"Pass.Threads", "passed"}, {"Fail.Assertion", "failed"},
    {"Crash.Segfault", "crashed"}, {"Crash.Abort", "crashed"}, {"Hang.Forever", "timed-out"},
};

TEST(SystemMode, TheGoogleTestSuiteGetsTheSameStatusesAsUnderQemuUser) {
  TempDir dir;
  std::map<std::string, std::map<std::string, std::string>> by_backend;
  for (const std::string backend : {"qemu-user", "system"}) {
    for (const std::string isolation : {"batch", "process"}) {
      const std::string json_path = dir.path() + "/" + backend + "-" + isolation + ".json";
      auto r = run_xrun({"test", XRUN_GTEST_SUITE, "--backend", backend, "--isolation", isolation, "-j2", "--timeout",
                         "4", "--json", json_path},
                        {.timeout_seconds = 240});
      EXPECT_EQ(r.exit_code, 1) << backend << " " << isolation << ": " << describe(r);
      auto s = statuses(read_json(json_path));
      for (const auto& [name, status] : kSuiteStatuses) EXPECT_EQ(s[name], status) << backend << " " << name;
      by_backend[backend + " " + isolation] = s;
      auto report = read_json(json_path);
      for (const auto& t : report["tests"]) {
        if (t["status"] != "skipped") {
          EXPECT_EQ(t["backend"], backend) << t.dump();
        }
      }
    }
  }
  EXPECT_EQ(by_backend["system batch"], by_backend["qemu-user batch"]);
  EXPECT_EQ(by_backend["system process"], by_backend["qemu-user process"]);
  EXPECT_EQ(by_backend["system process"], by_backend["system batch"]);
}

TEST(SystemMode, TheRustCrateGetsTheSameStatusesAsUnderQemuUser) {
  TempDir dir;
  fs::copy(std::string(XRUN_SOURCE_DIR) + "/tests/fixtures/rust_sample", dir.path() + "/crate",
           fs::copy_options::recursive);
  const auto env =
      environment_with({"CARGO=/usr/bin/cargo", "RUSTC=/usr/bin/rustc", "CARGO_HOME=" + dir.path() + "/home",
                        "CARGO_TARGET_DIR=" + dir.path() + "/target",
                        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc", "RUSTUP_TOOLCHAIN"});
  std::map<std::string, std::map<std::string, std::string>> by_backend;
  for (const std::string backend : {"qemu-user", "system"}) {
    auto r = run_xrun({"test", "--cargo", "--backend", backend, "-j2", "--json", dir.path() + "/r.json", "--",
                       "--offline", "--target", "aarch64-unknown-linux-gnu"},
                      {.cwd = dir.path() + "/crate", .env = env, .timeout_seconds = 600});
    EXPECT_EQ(r.exit_code, 0) << backend << ": " << describe(r);
    by_backend[backend] = statuses(read_json(dir.path() + "/r.json"));
  }
  EXPECT_EQ(by_backend["system"]["tests::fixture_relative_to_package_root"], "passed");
  EXPECT_EQ(by_backend["system"]["tests::threads_add_up"], "passed");
  EXPECT_EQ(by_backend["system"]["tests::ignored_test"], "skipped");
  EXPECT_EQ(by_backend["system"], by_backend["qemu-user"]);
}

// The seven-test crate gets its native statuses in the VM, batch and
// process, forked or not. The agent used to start a fork server with
// argv[0] only, and served listings and batches too: Rust's std on glibc
// keeps the arguments the process started with, so the listing found no
// test, and each forked test ran the whole binary and died in the abort.
TEST(SystemMode, TheSevenTestRustCrateGetsItsNativeStatusesForkedOrNot) {
  TempDir dir;
  const RustStatusesCrate crate(dir);
  for (const std::string isolation : {"batch", "process"}) {
    for (const bool fork_server : {true, false}) {
      std::vector<std::string> options = {"--backend", "system", "--isolation", isolation, "-j2"};
      if (!fork_server) options.push_back("--no-fork-server");
      const std::string label = isolation + (fork_server ? "" : " --no-fork-server");
      const auto run = crate.test(options, dir.path() + "/r.json");
      EXPECT_EQ(run.result.exit_code, 1) << label << ": " << describe(run.result);
      EXPECT_EQ(run.statuses, kRustNativeStatuses) << label << "\n" << run.result.out;
      // Measured, not asserted: the figures docs/system-mode.md quotes.
      std::printf("[ figures  ] the 7-test crate in the VM, %s: %.1f s (cargo included)\n", label.c_str(), run.seconds);
    }
  }
}

// A static initialiser that starts a thread (a worker the tests need) makes
// the program unforkable: the fork-server library says so and the agent
// starts the program for every test instead, with a line in the trace.
TEST(SystemMode, AProgramWhoseStaticInitialisersStartThreadsIsNotForked) {
  TempDir dir;
  const std::string binary =
      dir.write("worker_tests", *read_file(std::string(XRUN_GTEST_SUITE_BUILD) + "/worker_tests"), true);
  auto r = run_xrun({"-v", "test", binary, "--backend", "system", "--isolation", "process", "--timeout", "30", "--json",
                     dir.path() + "/r.json"},
                    {.timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(statuses(read_json(dir.path() + "/r.json")),
            (std::map<std::string, std::string>{{"Worker.Answers", "passed"}, {"Worker.AnswersAgain", "passed"}}))
      << r.out;
  EXPECT_NE(r.err.find("static initialisers started threads"), std::string::npos) << r.err;
}

// A VM restored from saved state used to keep the clock it was saved with
// (hours behind): the agent sets it from the host's before the first job,
// and the trace says how far off it was.
TEST(SystemMode, TheGuestsClockIsTheHostsEvenFromSavedState) {
  const auto host_before = static_cast<long long>(::time(nullptr));
  auto r = in_vm({"-v", kDynamic, "time"});
  const auto host_after = static_cast<long long>(::time(nullptr));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("(restored,"), std::string::npos) << "from saved state: " << r.err;
  const long long guest = std::stoll(r.out);
  EXPECT_GE(guest, host_before - 2) << "the guest's clock is behind the host's";
  EXPECT_LE(guest, host_after + 2) << "the guest's clock is ahead of the host's";
  EXPECT_NE(r.err.find("the guest's clock was"), std::string::npos) << r.err;
}

// Two programs in two VMs append 200 lines each to one file in the cwd: all
// 400 arrive. With the cwd on the cached (cache=loose) share, each VM
// appended at its own idea of the file's size and half the lines were lost.
TEST(SystemMode, TwoVmsAppendingToOneFileLoseNothing) {
  TempDir dir;
  for (const std::string link : {"mode-append-a", "mode-append-b"})
    fs::create_symlink(kDynamic, dir.path() + "/" + link);
  auto r = run_xrun({"test", "--backend", "system", "-j2", "--json", dir.path() + "/r.json",
                     dir.path() + "/mode-append-a", dir.path() + "/mode-append-b"},
                    {.cwd = dir.path(), .timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  std::map<std::string, int> lines;
  std::istringstream text(slurp(dir.path() + "/appended.txt"));
  for (std::string line; std::getline(text, line);) ++lines[line.substr(0, line.find(' '))];
  EXPECT_EQ(lines, (std::map<std::string, int>{{"a", 200}, {"b", 200}}));
}

TEST(SystemMode, TheBackendCanBeChosenPerTargetInTheConfig) {
  TempDir dir;
  dir.write("xrun.toml", "[targets.aarch64]\nbackend = \"system\"\n");
  // /proc/sys/kernel/osrelease names the guest's kernel only in a VM.
  auto r = run_xrun({kDynamic, "read", "/proc/sys/kernel/osrelease"}, {.cwd = dir.path()});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("-xrun"), std::string::npos) << "the guest's minimal kernel: " << r.out;
  auto user = run_xrun({kDynamic, "read", "/proc/sys/kernel/osrelease"});
  EXPECT_EQ(user.out.find("-xrun"), std::string::npos) << "qemu-user shows the host's kernel: " << user.out;
  // Chosen per target too: Debian's own kernel.
  dir.write("xrun.toml", "[targets.aarch64]\nbackend = \"system\"\nvm_kernel = \"debian\"\n");
  auto debian = run_xrun({kDynamic, "read", "/proc/sys/kernel/osrelease"}, {.cwd = dir.path(), .timeout_seconds = 120});
  EXPECT_NE(debian.out.find("-arm64"), std::string::npos) << "Debian's arm64 kernel: " << describe(debian);

  dir.write("bad/xrun.toml", "[targets.aarch64]\nbackend = \"vm\"\n");
  auto bad = run_xrun({kDynamic, "exit", "0"}, {.cwd = dir.path() + "/bad"});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_NE(bad.err.find("\"qemu-user\", \"system\" or \"board\""), std::string::npos) << bad.err;
}

// Ctrl-C in the middle of a run: exit 130, a valid report, and no qemu left
// (the VMs' sockets live under the TMPDIR given, which finds their processes).
TEST(SystemMode, CtrlCLeavesNoQemuBehind) {
  TempDir dir;
  const std::string tmp = dir.path() + "/tmp";
  fs::create_directories(tmp);
  const std::string json_path = dir.path() + "/r.json";
  const pid_t pid = start_xrun({"test", XRUN_GTEST_SUITE, "--filter", "Hang.*", "--filter", "Pass.*", "--backend",
                                "system", "-j2", "--json", json_path},
                               environment_with({"TMPDIR=" + tmp}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_results(json_path, {"Pass.Threads", "Pass.Simple"})) << "the passing tests never finished";
  ASSERT_FALSE(processes_mentioning(tmp).empty()) << "the VMs should be running";
  const int status = interrupt_xrun(pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(statuses(read_json(json_path)),
            (std::map<std::string, std::string>{
                {"Pass.Simple", "passed"}, {"Pass.Threads", "passed"}, {"Hang.Forever", "not-run"}}));
  auto left = processes_mentioning(tmp);
  EXPECT_TRUE(left.empty()) << "left behind:\n" << (left.empty() ? "" : left.front());
}

TEST(SystemMode, CtrlCReachesASingleRunProgramAndNoQemuStays) {
  TempDir dir;
  const std::string tmp = dir.path() + "/tmp";
  fs::create_directories(tmp);
  // The program marks that it runs (a file, through the share), then sleeps:
  // the Ctrl-C comes only once it is running in the VM.
  const std::string mark = dir.path() + "/running";
  const pid_t pid =
      start_xrun({"--backend=system", kStatic, "mark", mark, "60000"}, environment_with({"TMPDIR=" + tmp}), "/dev/null",
                 dir.path());  // the cwd is shared with the VM
  ASSERT_GT(pid, 0);
  // The mark comes through the share: inotify sees 9p's server create it.
  ASSERT_TRUE(wait_for_files_in(
      dir.path(), [&] { return fs::exists(mark); }, 120))
      << "the program never ran";
  const int status = interrupt_xrun(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << "status " << status;
  auto left = processes_mentioning(tmp);
  EXPECT_TRUE(left.empty()) << "left behind:\n" << (left.empty() ? "" : left.front());
}

// The backend is chosen per job, by its target: --target holds in system mode
// too, programs the host runs itself (a script, a host binary) run natively
// under any backend, and one run can mix targets on different backends.
TEST(SystemMode, TheBackendIsChosenPerJob) {
  auto wrong = run_xrun({"--backend", "system", "--target", "armhf", kStatic, "exit", "0"});
  EXPECT_EQ(wrong.exit_code, 126) << describe(wrong);
  EXPECT_NE(wrong.err.find("built for aarch64, not for armhf"), std::string::npos) << wrong.err;

  TempDir dir;
  const std::string script = dir.write("check.sh", "#!/bin/sh\nexit 0\n", true);
  fs::create_symlink(kStatic, dir.path() + "/mode-ok");
  fs::create_symlink(helper("armhf", "static"), dir.path() + "/mode-ok-armhf");
  fs::create_symlink(host_helper(), dir.path() + "/mode-ok-host");
  dir.write("xrun.toml", "[targets.armhf]\nbackend = \"system\"\n");
  auto r = run_xrun({"test", dir.path() + "/mode-ok", dir.path() + "/mode-ok-armhf", script,
                     dir.path() + "/mode-ok-host", "--json", dir.path() + "/r.json"},
                    {.cwd = dir.path(), .timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  std::map<std::string, std::string> where;
  const auto report = read_json(dir.path() + "/r.json");
  for (const auto& t : report["tests"]) where[t["name"].get<std::string>()] = t["backend"].get<std::string>();
  EXPECT_EQ(
      where,
      (std::map<std::string, std::string>{
          {"mode-ok", "qemu-user"}, {"mode-ok-armhf", "system"}, {"check.sh", "native"}, {"mode-ok-host", "native"}}))
      << r.out;
  auto system =
      run_xrun({"test", script, dir.path() + "/mode-ok", "--backend", "system", "--json", dir.path() + "/s.json"},
               {.cwd = dir.path(), .timeout_seconds = 240});
  EXPECT_EQ(system.exit_code, 0) << "a script is not a VM's job: " << describe(system);
}

// A host directory the VM cannot show (here: the image has a file at its
// path) is the VM's failure, an infra error, not the test's: before, the
// program ran in an empty directory.
TEST_F(PrivateImage, ADirectoryTheVmCannotShowIsAnInfraError) {
  // The kernel compiled for the shared cache, so that the custom image
  // below need not compile its own.
  const std::string home =
      std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : std::string(std::getenv("HOME")) + "/.cache";
  fs::copy(home + "/xrun/kernels", cache_.path() + "/xrun/kernels", fs::copy_options::recursive);
  TempDir work("/var/tmp");  // not under /tmp, which is a tmpfs of the guest's own (the checkout may be in /tmp)
  const std::string blocked = work.path() + "/blocked";
  fs::create_directories(blocked);
  // In the VM's root filesystem, the same path is a file.
  const std::string rootfs = cache_.path() + "/rootfs";
  fs::create_directories(rootfs + fs::canonical(work.path()).string());
  std::ofstream(rootfs + fs::canonical(blocked).string()) << "a file, not a directory";
  work.write("xrun.toml", "[targets.aarch64]\nrootfs = \"" + rootfs + "\"\n");
  auto build =
      run_xrun({"image", "build", "--arch", "aarch64"}, {.cwd = work.path(), .env = env(), .timeout_seconds = 600});
  ASSERT_EQ(build.exit_code, 0) << describe(build);
  auto r = run_xrun({"test", kStatic, "--backend", "system", "--json", work.path() + "/r.json"},
                    {.cwd = blocked, .env = env(), .timeout_seconds = 240});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
  auto report = read_json(work.path() + "/r.json");
  ASSERT_EQ(report["tests"].size(), 1u);
  EXPECT_EQ(report["tests"][0]["status"], "infra-error") << report.dump(2);
  EXPECT_NE(report["tests"][0]["message"].get<std::string>().find("cannot show the host's " +
                                                                  fs::canonical(blocked).string()),
            std::string::npos)
      << report.dump(2);
}

// The processes whose working directory is under `dir` ("pid: cmdline").
std::vector<std::string> processes_working_in(const std::string& dir, const std::string& command_part = "") {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::error_code ec;
    const std::string cwd = fs::read_symlink(entry.path() / "cwd", ec).string();
    if (ec || cwd.rfind(dir, 0) != 0) continue;
    std::string cmdline = slurp(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(command_part) != std::string::npos) found.push_back(pid + ": " + cmdline);
  }
  return found;
}

// Ctrl-C to xrun alone (not to its process group) while the minimal kernel
// compiles: make and its compilers stop, the scratch tree (1.3 GB of kernel
// source) goes, and xrun exits 130.
TEST(SystemMode, InterruptingTheKernelBuildStopsMakeAndLeavesNoScratch) {
  TempDir cache;
  const pid_t pid =
      start_xrun({"image", "build", "--arch", "aarch64"}, environment_with({"XDG_CACHE_HOME=" + cache.path()}));
  ASSERT_GT(pid, 0);
  // Download, unpack, configure: about a minute here. Nothing announces a
  // compiler another process started: the process list is looked at.
  ASSERT_TRUE(wait_until([&] { return !processes_working_in(cache.path(), "cc1").empty(); }, 600))
      << "the kernel build never reached the compiler";
  const int status = interrupt_xrun(pid);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  // SIGTERM reaches the compilers: each is watched until it ends (a pidfd).
  auto left = still_running_after(processes_working_in(cache.path()), 10);
  if (left.empty()) left = processes_working_in(cache.path());  // and none started since
  EXPECT_TRUE(left.empty()) << "left behind:\n" << (left.empty() ? "" : left.front());
  std::vector<std::string> kept;
  for (const auto& entry : fs::directory_iterator(cache.path() + "/xrun/kernels"))
    kept.push_back(entry.path().filename().string());
  EXPECT_TRUE(kept.empty()) << "scratch or log left: " << (kept.empty() ? "" : kept.front());
}

}  // namespace
}  // namespace xrun::testing
