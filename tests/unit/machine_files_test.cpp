// What a job needs of the host's files (machine/machine_files.h), which both
// file strategies -- the host view and the mirror -- start from.
#include "machine/machine_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/fs_util.h"
#include "probe/elf_probe.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

struct Tree {
  xrun::testing::TempDir dir;
  std::string root = real_path(dir.path());
  std::string sub(const std::string& name) const {
    std::filesystem::create_directories(root + "/" + name);
    return root + "/" + name;
  }
};

// Paths as the machine is to know them: symlinks resolved, absolute; the
// directories xrun adds only if they exist; the build tree's libraries from
// RUNPATH ($ORIGIN) and the job's LD_LIBRARY_PATH.
TEST(JobFiles, NamesWhatTheJobReadsAndWritesWithSymlinksResolved) {
  Tree t;
  const std::string bin = t.sub("build/bin"), lib = t.sub("build/lib"), data = t.sub("data"), tmp = t.sub("tmp");
  const std::string extra = t.sub("target");
  std::filesystem::create_directory_symlink(data, t.root + "/data-link");
  JobRequest request;
  request.host_dirs = {extra, t.root + "/no-such-dir"};
  ElfInfo elf;
  elf.library_paths = {"$ORIGIN/../lib"};
  RunFrame frame;
  frame.path = bin + "/tests";
  frame.cwd = t.root;
  frame.env = {"HOME=/nowhere", "TMPDIR=" + tmp};
  const JobFiles files = job_files(request, elf, frame, {t.root + "/data-link"});
  EXPECT_EQ(files.program, bin + "/tests");
  EXPECT_EQ(files.cwd, t.root);
  EXPECT_EQ(files.tmpdir, tmp);
  EXPECT_EQ(files.shares, std::vector<std::string>{data});
  EXPECT_EQ(files.host_dirs, std::vector<std::string>{extra});
  EXPECT_EQ(files.library_dirs, std::vector<std::string>{lib});
}

// A job with a private TMPDIR gets it on the machine: the host's is not shown.
TEST(JobFiles, APrivateTmpdirLeavesTheHostsOut) {
  Tree t;
  const std::string tmp = t.sub("tmp");
  RunFrame frame;
  frame.path = t.root + "/tests";
  frame.cwd = t.root;
  frame.env = {"TMPDIR=" + tmp};
  frame.private_tmpdir = true;
  EXPECT_EQ(job_files(JobRequest{}, ElfInfo{}, frame, {}).tmpdir, std::nullopt);
  frame.private_tmpdir = false;
  frame.env = {"TMPDIR=" + t.root + "/no-such-dir"};
  EXPECT_EQ(job_files(JobRequest{}, ElfInfo{}, frame, {}).tmpdir, std::nullopt) << "a TMPDIR that is not there";
}

}  // namespace
}  // namespace xrun
