// Writing reports and caches safely: atomically for files, directly for
// what is not a file, and never through a name another user planted.
#include "core/fs_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/temp_dir.h"

using namespace xrun;
using xrun::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

TEST(WriteFileAtomically, ReplacesAFileWhole) {
  TempDir dir;
  const std::string path = dir.write("r.json", "old");
  ASSERT_TRUE(write_file_atomically(path, "new content"));
  EXPECT_EQ(slurp(path), "new content");
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
}

// A symlink planted at the temporary's name does not make xrun write where
// it points (as root that overwrote any file).
TEST(WriteFileAtomically, NeverFollowsASymlinkAtTheTemporaryName) {
  TempDir dir;
  const std::string victim = dir.write("victim", "precious");
  const std::string path = dir.path() + "/r.json";
  fs::create_symlink(victim, path + ".tmp." + std::to_string(::getpid()));
  auto written = write_file_atomically(path, "report");
  EXPECT_FALSE(written);
  EXPECT_EQ(slurp(victim), "precious");
}

// What is not a regular file (a FIFO, /dev/stdout, a device) is written to,
// not renamed over: --json /dev/full as root deleted the device node.
TEST(WriteFileAtomically, WritesToWhatIsNotAFileInPlace) {
  TempDir dir;
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  EXPECT_TRUE(write_file_atomically(fifo, "through the fifo"));
  reader.join();
  EXPECT_EQ(got, "through the fifo");
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "still the FIFO";
  EXPECT_TRUE(write_file_atomically("/dev/null", "discarded"));
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null must stay a device";
}

// A rewrite that a stop makes pointless gives up between batches: the file
// stays as it was and no temporary is left (report/report_files.cpp).
TEST(WriteFileAtomically, AnAbandonedWriteLeavesTheFileAsItWas) {
  TempDir dir;
  const std::string path = dir.write("r.json", "old");
  const std::string megabyte(1 << 20, 'x');
  const std::vector<std::string_view> pieces(3, megabyte);
  int asked = 0;
  auto written = write_file_atomically(path, pieces, [&] { return ++asked == 2; });
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_FALSE(*written) << "abandoned";
  EXPECT_EQ(asked, 2) << "asked again after the first batch";
  EXPECT_EQ(slurp(path), "old");
  EXPECT_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
  written = write_file_atomically(path, pieces, [] { return false; });
  ASSERT_TRUE(written && *written);
  EXPECT_EQ(fs::file_size(path), 3u << 20);
}

TEST(SplitPathList, KeepsEveryElementInOrder) {
  EXPECT_EQ(split_path_list("/a:/b"), (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(split_path_list("a::b:"), (std::vector<std::string>{"a", "", "b", ""}));
  EXPECT_EQ(split_path_list(""), (std::vector<std::string>{""}));
}

}  // namespace
