#include "engine/job_tmpdir.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/fs_util.h"
#include "core/log.h"

namespace xrun {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "xrun-";

// "xrun-<pid>-XXXXXX" left by an xrun that is no longer running.
void remove_stale_run_dirs(const std::string& base) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    const std::string rest = name.substr(kPrefix.size());
    const auto dash = rest.find('-');
    if (dash == std::string::npos || dash == 0 || rest.find_first_not_of("0123456789") != dash ||
        rest.size() != dash + 7 || !fs::exists(entry.path() / ".xrun-jobs", ec))
      continue;
    const pid_t owner = static_cast<pid_t>(std::atol(rest.substr(0, dash).c_str()));
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

JobTmpDirs::JobTmpDirs(std::string base) : base_(std::move(base)) {}

JobTmpDirs::~JobTmpDirs() {
  if (!run_dir_.empty()) remove(run_dir_);
}

std::optional<std::string> JobTmpDirs::make() {
  if (run_dir_.empty()) {
    remove_stale_run_dirs(base_);
    std::string tmpl = join_path(base_, std::string(kPrefix) + std::to_string(::getpid()) + "-XXXXXX");
    if (!::mkdtemp(tmpl.data())) {
      log_debug("cannot create a directory for the jobs' TMPDIR in {}: {}", base_, std::strerror(errno));
      return std::nullopt;
    }
    run_dir_ = tmpl;
    std::error_code ec;
    fs::create_directory(join_path(run_dir_, ".xrun-jobs"), ec);  // marks it as ours for the stale check
  }
  const std::string dir = join_path(run_dir_, "job-" + std::to_string(++next_));
  std::error_code ec;
  if (!fs::create_directory(dir, ec)) return std::nullopt;
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
