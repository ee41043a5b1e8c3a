// Private temporary directories for jobs: fresh, empty, gone afterwards,
// and those of runs that were killed cleaned up by the next one.
#include "engine/job_tmpdir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::TempDir;
namespace fs = std::filesystem;

namespace {

TEST(JobTmpDirs, EachJobGetsAnEmptyDirectoryRemovedWithEverythingInIt) {
  TempDir base;
  std::string run_dir;
  {
    JobTmpDirs dirs(base.path());
    auto a = dirs.make();
    auto b = dirs.make();
    ASSERT_TRUE(a && b);
    EXPECT_NE(*a, *b);
    EXPECT_TRUE(fs::is_empty(*a));
    run_dir = fs::path(*a).parent_path().string();
    EXPECT_EQ(fs::path(run_dir).parent_path(), fs::path(base.path()));
    // What a test leaves, even a directory it made read-only, goes with it.
    fs::create_directories(*a + "/deep/er");
    std::ofstream(*a + "/deep/er/file") << "x";
    ::chmod((*a + "/deep").c_str(), 0500);
    dirs.remove(*a);
    EXPECT_FALSE(fs::exists(*a));
    EXPECT_TRUE(fs::exists(*b));
  }
  EXPECT_FALSE(fs::exists(run_dir)) << "the run's directory goes with its owner";
}

TEST(JobTmpDirs, TheNextRunRemovesTheDirectoriesOfRunsThatDied) {
  TempDir base;
  const pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ::waitpid(gone, nullptr, 0);
  const std::string stale = base.path() + "/xrun-" + std::to_string(gone) + "-AbC123";
  const std::string alive = base.path() + "/xrun-" + std::to_string(::getpid()) + "-XyZ789";
  const std::string not_ours = base.path() + "/xrun-" + std::to_string(gone) + "-unmarked";
  for (const auto& dir : {stale, alive}) fs::create_directories(dir + "/.xrun-jobs");
  fs::create_directories(not_ours);
  JobTmpDirs dirs(base.path());
  ASSERT_TRUE(dirs.make());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(alive)) << "its xrun still runs";
  EXPECT_TRUE(fs::exists(not_ours)) << "not made by xrun";
}

}  // namespace
