// qemu-user's own failure lines, told apart from the program's output.
#include "launch/qemu_faults.h"

#include <gtest/gtest.h>

using namespace xrun;

namespace {

TEST(QemuFaults, QemuFaultsButNotGuestCrashes) {
  EXPECT_TRUE(looks_like_infra_failure("x\nqemu: fatal: bad\n"));
  EXPECT_TRUE(looks_like_infra_failure("qemu-aarch64: unable to find CPU model 'nope'\n"));
  EXPECT_FALSE(looks_like_infra_failure("qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n"));
  EXPECT_FALSE(looks_like_infra_failure("my test printed qemu-aarch64: in the middle of a line"));
}

TEST(QemuFaults, TheScanFindsALineSplitAcrossReads) {
  QemuFaultScan scan;
  for (std::string_view piece :
       {"[ RUN      ] A.b\nqemu-aarc", "h64: Could not open '/lib/ld-linux-aar", "ch64.so.1'\n"})
    scan.feed(piece);
  EXPECT_EQ(scan.finish(), "qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1'");
  QemuFaultScan last_line;
  last_line.feed("output\nqemu: fatal: no newline at the end");
  EXPECT_EQ(last_line.finish(), "qemu: fatal: no newline at the end");
  QemuFaultScan clean;
  clean.feed("qemu: uncaught target signal 6 (Aborted) - core dumped\n");
  EXPECT_EQ(clean.finish(), std::nullopt);
}

}  // namespace
