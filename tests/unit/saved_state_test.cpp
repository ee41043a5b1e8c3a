// Making a VM's saved state (harness/backends/system/saved_state.h) is a
// series of handlers on the loop, its deadlines on a TimeSource: against a
// qemu that never opens its QMP socket, on a manual clock.
#include "backends/system/saved_state.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <optional>

#include "support/manual_time.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Its failure's console log is kept in the cache: the test's own.
struct CacheHere {
  std::optional<std::string> before;
  explicit CacheHere(const std::string& dir) {
    if (const char* v = ::getenv("XDG_CACHE_HOME")) before = v;
    ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  }
  ~CacheHere() {
    if (before)
      ::setenv("XDG_CACHE_HOME", before->c_str(), 1);
    else
      ::unsetenv("XDG_CACHE_HOME");
  }
};

VmSettings fake_vm(const testing::TempDir& dir) {
  VmSettings s;
  s.arch = find_vm_arch("aarch64");
  s.target = "aarch64";
  // Writes its pid where the test finds it, then runs until killed.
  s.qemu = dir.write("qemu-system-aarch64", "#!/bin/sh\necho $$ > " + dir.path() + "/qemu.pid\nexec sleep 600\n", true);
  s.cpu = "cortex-a57";
  s.image.name = "test";
  s.image.dir = dir.path() + "/image";
  s.image.kernel = s.image.initrd = dir.path() + "/none";
  s.work_dir = dir.path();
  s.boot_timeout_seconds = 2;
  return s;
}

template <class Done>
void run_until(asio::io_context& io, testing::ManualTime& time, const Done& done) {
  while (!done()) {
    io.restart();
    if (io.poll() == 0 && !time.advance_when_idle()) break;
  }
}

// The blocking version slept 10 ms at a time in place (QMP's socket, then
// its answers): nothing else on the loop ran until it was done.
TEST(SavedState, ItsQemuIsAwaitedOnTheLoopAndGivenUpAtTheBootDeadline) {
  testing::TempDir dir;
  CacheHere cache(dir.path() + "/cache");
  asio::io_context io;
  testing::ManualTime time(io);
  int ticks = 0;  // other work: a handler every 100 ms
  auto tick = time.make_timer();
  std::function<void()> again = [&] {
    ++ticks;
    tick->start(milliseconds(100), again);
  };
  tick->start(milliseconds(100), again);
  std::optional<Expected<std::string>> saved;
  auto saving = ensure_snapshot(io, time, fake_vm(dir), [&](Expected<std::string> r) { saved = std::move(r); });
  EXPECT_FALSE(saved);  // never inside the call
  run_until(io, time, [&] { return saved.has_value(); });
  tick->cancel();
  ASSERT_TRUE(saved);
  ASSERT_FALSE(*saved);
  EXPECT_NE(saved->error().message.find("cannot save the VM's state: qemu's QMP socket did not appear"),
            std::string::npos)
      << saved->error().message;
  EXPECT_EQ(time.now().time_since_epoch(), std::chrono::seconds(2));
  EXPECT_GE(ticks, 19);
  // Its qemu was killed and reaped: the pid it wrote is no process of ours.
  std::ifstream pid_file(dir.path() + "/qemu.pid");
  pid_t pid = 0;
  if (pid_file >> pid) {
    EXPECT_NE(::kill(pid, 0), 0);
  }
}

// A run that ends while the state is being made: its qemu goes, and the
// answer never comes.
TEST(SavedState, CancelledItsQemuGoesAndNoAnswerComes) {
  testing::TempDir dir;
  CacheHere cache(dir.path() + "/cache");
  asio::io_context io;
  testing::ManualTime time(io);
  bool answered = false;
  auto saving = ensure_snapshot(io, time, fake_vm(dir), [&](Expected<std::string>) { answered = true; });
  io.poll();
  saving->cancel();
  run_until(io, time, [] { return false; });
  EXPECT_FALSE(answered);
  EXPECT_EQ(time.now().time_since_epoch(), milliseconds(0));
}

}  // namespace
}  // namespace xrun
