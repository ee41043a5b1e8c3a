// How a job's files reach the machine it runs on: a strategy each machine
// backend's row chooses for its fleet, one of two.
//   - The host view (HostViewFiles, host_view.h), for machines on this host
//     (system mode's VMs): the host directories a job needs are shown to the
//     machine at their own paths -- bind-mounted into a tree in xrun's own
//     mount namespace, which the machine reaches over 9p. Nothing is copied,
//     and what the job writes is on the host at once.
//   - The mirror (MirrorFiles, file_mirror.h), for machines elsewhere
//     (boards): the files are sent, by content hash, to the same paths there
//     (or under a prefix) before the job runs, only those the machine lacks;
//     what the job wrote may come back after it (a board's sync_back).
// A fleet finds what a job needs (JobFiles) and hands it to its strategy in
// plan(), then calls stage() before the job runs and after() once it ended.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"
#include "engine/job_runner.h"
#include "machine/machine.h"

namespace xrun {

struct ElfInfo;

// What a job reads and writes on the host: absolute, symlinks resolved.
struct JobFiles {
  std::string program;                    // the program's file
  std::string cwd;                        // its working directory: writable
  std::optional<std::string> tmpdir;      // a TMPDIR from the host (no private one): writable
  std::vector<std::string> shares;        // the target's `shares`: writable
  std::vector<std::string> host_dirs;     // directories xrun adds for the job (JobRequest::host_dirs): read-only
  std::vector<std::string> library_dirs;  // its build tree's libraries (build_tree_library_dirs): read-only
};

// `job`'s once its frame's path, cwd and environment are set (the frame's
// are the host's names yet); `shares` as configured.
JobFiles job_files(const JobRequest& request, const ElfInfo& elf, const RunFrame& frame,
                   const std::vector<std::string>& shares);

class MachineFiles {
 public:
  virtual ~MachineFiles() = default;
  // Completes the job for its files (the frame's binds, or the files to
  // send, kept in MachineJob::staged); an Error: the job cannot run.
  virtual Expected<void> plan(const JobFiles& files, MachineJob& job) = 0;
  // Just before the job runs on job->machine; `done` with an error makes it
  // an infra error. The frame may be changed (a mirror's prefix).
  virtual void stage(const std::shared_ptr<MachineJob>& job, std::function<void(Expected<void>)> done) {
    (void)job;
    done({});
  }
  // After the job ended on `machine` (not for infra errors): what it wrote
  // may come back. `done` then hands the exit on.
  virtual void after(Machine& machine, const std::shared_ptr<MachineJob>& job, std::function<void()> done) {
    (void)machine, (void)job;
    done();
  }
};

}  // namespace xrun
