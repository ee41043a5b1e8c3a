#include "launch/sysroot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "core/fs_util.h"
#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::TempDir;

namespace {

const TargetSpec& aarch64() { return *TargetTable::builtin().find("aarch64"); }

ElfInfo glibc_program() {
  ElfInfo elf;
  elf.interpreter = "/lib/ld-linux-aarch64.so.1";
  return elf;
}

std::string link_target(const std::string& path) {
  char buffer[4096];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n < 0 ? "" : std::string(buffer, static_cast<std::size_t>(n));
}

TEST(Sysroot, DebianCrossSysrootGoesThroughAnOverlay) {
  TempDir cache;
  OverlayStore store(cache.path());
  auto choice = choose_sysroot(aarch64(), {}, glibc_program(), store);
  ASSERT_TRUE(choice) << choice.error().message;
  EXPECT_EQ(choice->layout, SysrootLayout::Cross);
  EXPECT_EQ(choice->sysroot, "/usr/aarch64-linux-gnu");
  const std::string& overlay = choice->qemu_prefix;
  EXPECT_EQ(overlay.rfind(cache.path(), 0), 0u);
  // The three things the cross ld.so needs to find one consistent glibc.
  EXPECT_EQ(link_target(overlay + "/lib/aarch64-linux-gnu"), "/usr/aarch64-linux-gnu/lib");
  EXPECT_EQ(link_target(overlay + "/lib/ld-linux-aarch64.so.1"), "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1");
  EXPECT_TRUE(is_regular_file(overlay + "/etc/ld.so.cache"));
  // Reused, not rebuilt.
  auto again = choose_sysroot(aarch64(), {}, glibc_program(), store);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->qemu_prefix, overlay);
}

TEST(Sysroot, RootFilesystemIsUsedAsIs) {
  TempDir root;
  root.write("lib/aarch64-linux-gnu/libc.so.6", "");
  root.write("lib/ld-linux-aarch64.so.1", "");
  TempDir cache;
  TargetSettings settings;
  settings.sysroot = root.path();
  auto choice = choose_sysroot(aarch64(), settings, glibc_program(), OverlayStore(cache.path()));
  ASSERT_TRUE(choice) << choice.error().message;
  EXPECT_EQ(choice->layout, SysrootLayout::Rootfs);
  EXPECT_EQ(choice->qemu_prefix, root.path());
}

TEST(Sysroot, ConfiguredSysrootThatDoesNotExistIsAnError) {
  TempDir cache;
  TargetSettings settings;
  settings.sysroot = "/nonexistent/sysroot";
  auto choice = choose_sysroot(aarch64(), settings, glibc_program(), OverlayStore(cache.path()));
  ASSERT_FALSE(choice);
  EXPECT_EQ(choice.error().code, ExitCode::CannotExecute);
  EXPECT_NE(choice.error().message.find("/nonexistent/sysroot, does not exist"), std::string::npos);
}

TEST(Sysroot, ConfiguredSysrootWithoutLibcSaysWhatItLookedFor) {
  TempDir root, cache;
  TargetSettings settings;
  settings.sysroot = root.path();
  auto choice = choose_sysroot(aarch64(), settings, glibc_program(), OverlayStore(cache.path()));
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message.find("has no usable libc and loader"), std::string::npos) << choice.error().message;
}

TEST(Sysroot, NothingInstalledNamesThePackage) {
  TargetSpec spec = aarch64();
  spec.name = "fake";
  spec.sysroots = {"/nonexistent/cross"};
  spec.multiarch = "fake-linux-gnu";
  spec.packages.sysroot = "libc6-fake-cross";
  spec.packages.compiler = "gcc-fake-linux-gnu";
  ElfInfo elf;
  elf.interpreter = "/lib/ld-fake.so.1";
  TempDir cache;
  auto choice = choose_sysroot(spec, {}, elf, OverlayStore(cache.path()));
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message.find("install libc6-fake-cross (apt-get install gcc-fake-linux-gnu brings it)"),
            std::string::npos)
      << choice.error().message;
  EXPECT_NE(choice.error().message.find("XRUN_FAKE_SYSROOT"), std::string::npos);
}

}  // namespace

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace {

// A loader cache xrun did not write (another user's, or changed since) is
// never used: the overlay's is empty, always.
TEST(Sysroot, AnOverlaysLoaderCacheIsXrunsOwnEmptyOne) {
  TempDir cache;
  OverlayStore store(cache.path());
  auto choice = choose_sysroot(aarch64(), {}, glibc_program(), store);
  ASSERT_TRUE(choice) << choice.error().message;
  const std::string ld_cache = choice->qemu_prefix + "/etc/ld.so.cache";
  std::ofstream(ld_cache) << "a cache that maps libc to something else";
  ASSERT_TRUE(choose_sysroot(aarch64(), {}, glibc_program(), store));
  EXPECT_EQ(std::filesystem::file_size(ld_cache), 0u);
}

// The fallback under /tmp is used only when it is this user's private
// directory: one somebody else could have made (here: mode 0777) is refused.
TEST(Sysroot, TheFallbackInTmpMustBePrivate) {
  const std::string mine = "/tmp/xrun-" + std::to_string(::geteuid());
  const bool existed = std::filesystem::exists(mine);
  struct stat before {};
  if (existed) ::stat(mine.c_str(), &before);
  ::mkdir(mine.c_str(), 0700);
  ::chmod(mine.c_str(), 0777);
  const char* old_cache = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_cache ? old_cache : "";
  ::setenv("XDG_CACHE_HOME", "/dev/null/unwritable", 1);  // the cache cannot be made: the fallback is used
  auto store = OverlayStore::from_environment();
  auto refused = choose_sysroot(aarch64(), {}, glibc_program(), store);
  ::chmod(mine.c_str(), 0700);
  auto accepted = choose_sysroot(aarch64(), {}, glibc_program(), OverlayStore::from_environment());
  if (old_cache)
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
  if (existed)
    ::chmod(mine.c_str(), before.st_mode & 07777);
  else
    std::filesystem::remove_all(mine);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("is not a private directory of this user's"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(accepted) << accepted.error().message;
}

}  // namespace
