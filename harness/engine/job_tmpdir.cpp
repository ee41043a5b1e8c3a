#include "engine/job_tmpdir.h"

#include <filesystem>

#include "core/fs_util.h"
#include "core/log.h"

namespace xrun {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "xrun-";
constexpr std::string_view kMarker = ".xrun-jobs";

}  // namespace

JobTmpDirs::JobTmpDirs(std::string base) : base_(std::move(base)) {}

JobTmpDirs::~JobTmpDirs() {
  if (!run_dir_.empty()) remove(run_dir_);
}

Expected<std::string> JobTmpDirs::make() {
  if (run_dir_.empty()) {
    remove_stale_run_dirs(base_, kPrefix, kMarker);
    auto made = make_run_dir(base_, kPrefix, kMarker);
    if (!made) return made.error();
    run_dir_ = *made;
  }
  const std::string dir = join_path(run_dir_, "job-" + std::to_string(++next_));
  std::error_code ec;
  if (!fs::create_directory(dir, ec))
    return make_error(ExitCode::InfraError, "cannot create " + dir + ": " + (ec ? ec.message() : "it exists"));
  return dir;
}

void JobTmpDirs::remove(const std::string& dir) {
  std::error_code ec;
  if (fs::remove_all(dir, ec) != static_cast<std::uintmax_t>(-1) && !ec) return;
  // A test may leave a directory it made read-only: give the tree back to
  // its owner first, then try again.
  for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec))
    if (entry.is_directory(ec)) fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(dir, ec);
}

}  // namespace xrun
