// The mirror, the file strategy (machine_files.h) of machines that do not
// share the host's files (boards): what a job needs there, as FileEntry
// lists (machine/agent_protocol.h) -- the program, its build tree's libraries
// (RUNPATH, LD_LIBRARY_PATH), the job's cwd with what is under it, and the
// target's `shares` -- sent through the agent, which mirrors them at the
// same paths (images/agent/files.c), or under a prefix when it cannot.
//
// Under a directory, version-control data (.git), CMake's bookkeeping
// (CMakeFiles) and cache directories (those holding a CACHEDIR.TAG, such as
// Cargo's target/) are left out: a test reads fixtures, not build output.
// Credentials (kCredentials, at any depth, and symlinks to them) never go:
// a board is another machine, maybe shared (docs/boards.md lists them).
// Hashes are computed once per file and run, and re-used while the file's
// size and modification time stay the same.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "core/warnings.h"
#include "machine/agent_protocol.h"
#include "machine/machine_files.h"

namespace xrun {

class FileMirror {
 public:
  // One file (the agent makes the directories above it).
  Expected<void> add_file(const std::string& path, std::vector<FileEntry>& into);
  // A directory and what is under it (see above for what is left out).
  Expected<void> add_tree(const std::string& dir, std::vector<FileEntry>& into);
  // The shared libraries directly in `dir` (a RUNPATH or LD_LIBRARY_PATH
  // directory: often the build directory itself, whose other files --
  // .ninja_log, CMakeCache.txt -- are no test's business and change).
  Expected<void> add_libraries_in(const std::string& dir, std::vector<FileEntry>& into);

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
  Expected<void> add_entry(const std::string& path, bool directory, std::vector<FileEntry>& into);
  std::map<std::string, Known> hashes_;
};

// The mirror as a fleet's file strategy. Per machine it keeps what this run
// already put there (unchanged files are not offered again: a suite's
// shards send each file once) and the mirror prefix its agent uses; one
// transfer at a time per machine, the jobs that start meanwhile waiting for
// it, since they mostly need the same files.
class MirrorFiles final : public MachineFiles {
 public:
  // `sync_back(machine)`: whether what a job wrote under its cwd and the
  // shares comes back from that machine after it (a board's `sync_back`).
  // What the user should know (the tests run from $HOME, files not copied
  // back) goes to `warnings`.
  MirrorFiles(boost::asio::io_context& io, std::function<bool(const Machine&)> sync_back, Warnings& warnings);

  Expected<void> plan(const JobFiles& files, MachineJob& job) override;
  void stage(const std::shared_ptr<MachineJob>& job, std::function<void(Expected<void>)> done) override;
  void after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) override;

  // Bytes of file content sent in this run, to every machine.
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  // What one machine has of this run's files.
  struct OnMachine {
    std::string prefix;                                                     // where the agent mirrors ("": same paths)
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> placed;  // path -> size and mtime
    bool staging = false;                                                   // a transfer is under way
    std::deque<std::function<void()>> waiting;                              // jobs staging after it
  };
  // A machine's, by its identity (never a later machine at the same address).
  OnMachine& on(const std::shared_ptr<Machine>& machine);
  void stage_on(const std::shared_ptr<Machine>& machine, const std::shared_ptr<MachineJob>& job,
                std::function<void(Expected<void>)> done);

  boost::asio::io_context& io_;
  std::function<bool(const Machine&)> sync_back_;
  Warnings& warnings_;
  FileMirror mirror_;
  bool warned_home_ = false;  // the cwd is $HOME: said once a run
  std::uint64_t bytes_sent_ = 0;
  std::map<std::weak_ptr<Machine>, OnMachine, std::owner_less<std::weak_ptr<Machine>>> machines_;
};

}  // namespace xrun
