#include "backends/board/file_mirror.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/fs_util.h"
#include "core/sha256.h"

namespace xrun {

namespace fs = std::filesystem;

bool FileMirror::is_credential(std::string_view name) {
  for (std::string_view credential : kCredentials)
    if (name == credential) return true;
  return false;
}

namespace {

// A symlink in the tree to a credential elsewhere (`key -> ~/.ssh/id_ed25519`).
bool leads_to_credential(const fs::path& link) {
  std::error_code ec;
  const fs::path target = fs::canonical(link, ec);
  if (ec) return false;
  for (const auto& part : target)
    if (FileMirror::is_credential(part.string())) return true;
  return false;
}

}  // namespace

Expected<bool> FileMirror::add_entry(const std::string& path, bool directory, std::vector<FileEntry>& into) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ExitCode::InfraError, "cannot read " + path + ": " + std::strerror(errno));
  FileEntry entry;
  entry.path = path;
  entry.mode = st.st_mode;
  if (directory || S_ISDIR(st.st_mode)) {
    entry.mode = S_IFDIR | (st.st_mode & 07777);
    into.push_back(std::move(entry));
    return true;
  }
  if (!S_ISREG(st.st_mode)) return true;  // sockets, fifos, devices: nothing to copy
  entry.source = path;
  entry.size = static_cast<std::uint64_t>(st.st_size);
  entry.mtime_ns =
      static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000u + static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
  auto& known = hashes_[path];
  if (known.hash.empty() || known.size != entry.size || known.mtime_ns != entry.mtime_ns) {
    auto hash = sha256_file_hex(path);
    if (!hash) return make_error(ExitCode::InfraError, "cannot read " + path + ": " + std::strerror(errno));
    known = Known{entry.size, entry.mtime_ns, *hash};
  }
  entry.hash = known.hash;
  into.push_back(std::move(entry));
  return true;
}

Expected<bool> FileMirror::add_file(const std::string& path, std::vector<FileEntry>& into) {
  return add_entry(path, false, into);
}

Expected<bool> FileMirror::add_libraries_in(const std::string& dir, std::vector<FileEntry>& into) {
  std::error_code ec;
  if (auto added = add_entry(dir, true, into); !added) return added;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto so = name.find(".so");
    if (!entry.is_regular_file(ec) || so == std::string::npos || (so + 3 != name.size() && name[so + 3] != '.'))
      continue;
    if (auto added = add_entry(entry.path().string(), false, into); !added) return added;
  }
  return true;
}

Expected<bool> FileMirror::add_tree(const std::string& dir, std::vector<FileEntry>& into) {
  std::error_code ec;
  const std::size_t before = into.size();
  if (auto added = add_entry(dir, true, into); !added) return added;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (is_credential(name) || (it->is_symlink(ec) && leads_to_credential(p))) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      if (name == ".git" || name == "CMakeFiles" || is_regular_file((p / "CACHEDIR.TAG").string())) {
        it.disable_recursion_pending();
        continue;
      }
      if (auto added = add_entry(p.string(), true, into); !added) return added;
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    if (auto added = add_entry(p.string(), false, into); !added) return added;
    if (into.size() - before > kMaxTreeFiles)
      return make_error(ExitCode::InfraError,
                        dir + " holds more than " + std::to_string(kMaxTreeFiles) +
                            " files: too many to mirror onto a board for a test's cwd. Run the tests from a smaller "
                            "directory, or name what they read in the target's `shares`");
  }
  return true;
}

}  // namespace xrun
