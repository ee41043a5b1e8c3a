#include "machine/file_mirror.h"

#include <sys/stat.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
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

Expected<void> FileMirror::add_entry(const std::string& path, bool directory, std::vector<FileEntry>& into) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ExitCode::InfraError, "cannot read " + path + ": " + std::strerror(errno));
  FileEntry entry;
  entry.path = path;
  entry.mode = st.st_mode;
  if (directory || S_ISDIR(st.st_mode)) {
    entry.mode = S_IFDIR | (st.st_mode & 07777);
    into.push_back(std::move(entry));
    return {};
  }
  if (!S_ISREG(st.st_mode)) return {};  // sockets, fifos, devices: nothing to copy
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
  return {};
}

Expected<void> FileMirror::add_file(const std::string& path, std::vector<FileEntry>& into) {
  return add_entry(path, false, into);
}

Expected<void> FileMirror::add_libraries_in(const std::string& dir, std::vector<FileEntry>& into) {
  std::error_code ec;
  if (auto added = add_entry(dir, true, into); !added) return added;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto so = name.find(".so");
    if (!entry.is_regular_file(ec) || so == std::string::npos || (so + 3 != name.size() && name[so + 3] != '.'))
      continue;
    if (auto added = add_entry(entry.path().string(), false, into); !added) return added;
  }
  return {};
}

Expected<void> FileMirror::add_tree(const std::string& dir, std::vector<FileEntry>& into) {
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
  return {};
}

// ---------------------------------------------------------- MirrorFiles ---

namespace {

// What the mirror keeps for a job: what goes to the machine, and where what
// it writes is (for sync_back).
struct MirroredJob final : StagedFiles {
  std::vector<FileEntry> entries;
  std::vector<std::string> written;  // its cwd and the shares
};

}  // namespace

MirrorFiles::MirrorFiles(boost::asio::io_context& io, std::function<bool(const Machine&)> sync_back, Warnings& warnings)
    : io_(io), sync_back_(std::move(sync_back)), warnings_(warnings) {}

Expected<void> MirrorFiles::plan(const JobFiles& files, MachineJob& job) {
  if (!warned_home_) {
    const auto home = get_env("HOME");
    if (home && !home->empty() && real_path(*home) == real_path(files.cwd)) {
      warned_home_ = true;
      warnings_.warn("the tests run from your home directory " + *home + ": all of it goes to the board (less " +
                     ".ssh, .gnupg, .netrc and other credentials, docs/boards.md). Run them from the project's "
                     "directory instead");
    }
  }
  // The program, its cwd, the shares and its build tree's libraries; not
  // TMPDIR (the machine has its own) nor the host directories a VM is shown.
  auto mirrored = std::make_shared<MirroredJob>();
  if (auto added = mirror_.add_file(files.program, mirrored->entries); !added) return added;
  if (auto added = mirror_.add_tree(files.cwd, mirrored->entries); !added) return added;
  for (const auto& share : files.shares)
    if (auto added = mirror_.add_tree(share, mirrored->entries); !added) return added;
  for (const auto& dir : files.library_dirs)
    if (auto added = mirror_.add_libraries_in(dir, mirrored->entries); !added) return added;
  mirrored->written.push_back(files.cwd);
  mirrored->written.insert(mirrored->written.end(), files.shares.begin(), files.shares.end());
  job.staged = std::move(mirrored);
  return {};
}

MirrorFiles::OnMachine& MirrorFiles::on(const std::shared_ptr<Machine>& machine) {
  // Machines that are gone take what they had with them.
  for (auto it = machines_.begin(); it != machines_.end();)
    it = it->first.expired() ? machines_.erase(it) : std::next(it);
  return machines_[machine];
}

void MirrorFiles::stage(const std::shared_ptr<MachineJob>& job, std::function<void(Expected<void>)> done) {
  stage_on(job->machine, job, std::move(done));
}

void MirrorFiles::stage_on(const std::shared_ptr<Machine>& machine, const std::shared_ptr<MachineJob>& job,
                           std::function<void(Expected<void>)> done) {
  if (!machine) return done(machine_error("the board is gone"));
  OnMachine& here = on(machine);
  // One transfer at a time per machine: jobs starting together (a suite's
  // shards) need the same files, which then go once.
  if (here.staging) {
    here.waiting.push_back([this, machine, job, done] { stage_on(machine, job, done); });
    return;
  }
  // The agent mirrors under a prefix when the machine's user cannot create the paths themselves.
  const auto place_frame = [](const OnMachine& on, MachineJob& placed_job) {
    placed_job.frame.path = on.prefix + placed_job.host_path;
    placed_job.frame.cwd = on.prefix + placed_job.host_cwd;
  };
  // What this run already put on this machine, unchanged since, is not offered again.
  const auto* mirrored = static_cast<const MirroredJob*>(job->staged.get());
  std::vector<FileEntry> needed;
  for (const auto& entry : mirrored ? mirrored->entries : std::vector<FileEntry>{}) {
    auto it = here.placed.find(entry.path);
    if (it == here.placed.end() || it->second != std::pair{entry.size, entry.mtime_ns}) needed.push_back(entry);
  }
  if (needed.empty()) {
    place_frame(here, *job);
    done({});
    return;
  }
  AgentSession* session = machine->alive() ? machine->session() : nullptr;
  if (!session) {
    done(machine_error(machine->name() + " is gone"));
    return;
  }
  here.staging = true;
  session->put_files(needed, [this, weak = std::weak_ptr<Machine>(machine), needed, job, place_frame,
                              done](Expected<AgentSession::FilesResult> result) {
    auto alive = weak.lock();
    if (!alive) return done(machine_error("the board is gone"));
    OnMachine& there = on(alive);
    there.staging = false;
    // The others' turn, after this job has been handed over: each looks
    // again (most now find their files there; one that does not starts
    // the next transfer, and the rest wait for that one).
    for (auto& next : std::exchange(there.waiting, {})) boost::asio::post(io_, std::move(next));
    if (!result) return done(machine_error(alive->name() + ": " + result.error().message));
    there.prefix = result->prefix;
    for (const auto& entry : needed) there.placed[entry.path] = {entry.size, entry.mtime_ns};
    bytes_sent_ += result->bytes_sent;
    if (result->bytes_sent)
      log_debug("{}: sent {} files, {} bytes", alive->name(), result->files_sent, result->bytes_sent);
    place_frame(there, *job);
    done({});
  });
}

// sync_back: what the test wrote under its cwd and the shares comes back.
void MirrorFiles::after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) {
  AgentSession* session = machine.session();
  const auto* mirrored = static_cast<const MirroredJob*>(job->staged.get());
  if (!mirrored || !session || !sync_back_ || !sync_back_(machine)) return done();
  // Since the job began, plus a second of slack for a board clock's coarse file times.
  const auto ran = std::chrono::steady_clock::now() - job->dispatched_at;
  const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(ran).count() + 1000;
  session->pull_files(
      mirrored->written, static_cast<std::uint32_t>(ago),
      [name = machine.name(), program = job->host_path, done, &warnings = warnings_](auto result) {
        if (!result) {
          warnings.warn(name + ": cannot copy back what the test wrote (sync_back): " + result.error().message);
          return done();
        }
        if (result->files) log_debug("{}: copied back {} files, {} bytes", name, result->files, result->bytes);
        if (result->refused_count) {
          std::string message = name + ": sync_back did not copy back " + std::to_string(result->refused_count) +
                                " file(s) that " + program + " wrote there (they stay on the board):";
          for (const auto& why : result->refused) message += "\n  " + why;
          if (result->refused_count > result->refused.size())
            message += "\n  and " + std::to_string(result->refused_count - result->refused.size()) + " more";
          warnings.warn(message);
        }
        done();
      });
}

}  // namespace xrun
