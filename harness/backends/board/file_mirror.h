// What a job needs on a board, as FileEntry lists (machine/agent_protocol.h):
// the program, its build tree's libraries (RUNPATH, LD_LIBRARY_PATH), the
// job's cwd with what is under it, and the target's `shares`. The agent
// mirrors them at the same paths (agent.c, "files").
//
// Under a directory, version-control data (.git), CMake's bookkeeping
// (CMakeFiles) and cache directories (those holding a CACHEDIR.TAG, such as
// Cargo's target/) are left out: a test reads fixtures, not build output.
// Credentials (kCredentials, at any depth, and symlinks to them) never go:
// a board is another machine, maybe shared (docs/boards.md lists them).
// Hashes are computed once per file and run, and re-used while the file's
// size and modification time stay the same.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "machine/agent_protocol.h"

namespace xrun {

class FileMirror {
 public:
  // One file (the agent makes the directories above it).
  Expected<bool> add_file(const std::string& path, std::vector<FileEntry>& into);
  // A directory and what is under it (see above for what is left out).
  Expected<bool> add_tree(const std::string& dir, std::vector<FileEntry>& into);
  // The shared libraries directly in `dir` (a RUNPATH or LD_LIBRARY_PATH
  // directory: often the build directory itself, whose other files --
  // .ninja_log, CMakeCache.txt -- are no test's business and change).
  Expected<bool> add_libraries_in(const std::string& dir, std::vector<FileEntry>& into);

  // Names of credential directories and files, never mirrored from a tree.
  static constexpr std::string_view kCredentials[] = {
      ".ssh",    ".gnupg",          ".aws",   ".azure",  ".kube",
      ".docker", ".password-store", ".netrc", ".pgpass", ".git-credentials"};
  static bool is_credential(std::string_view name);

  // Most files a tree may hold before xrun says so instead of copying it.
  static constexpr std::size_t kMaxTreeFiles = 20000;

 private:
  struct Known {
    std::uint64_t size = 0, mtime_ns = 0;
    std::string hash;
  };
  Expected<bool> add_entry(const std::string& path, bool directory, std::vector<FileEntry>& into);
  std::map<std::string, Known> hashes_;
};

}  // namespace xrun
