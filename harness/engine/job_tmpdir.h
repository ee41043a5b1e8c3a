// Private temporary directories for jobs that run on this host (qemu-user,
// native): one directory per xrun run, `$TMPDIR/xrun-<pid>-XXXXXX`, and in it
// one per job, handed to the job as TMPDIR and removed when it ends. Two
// shards of one binary that both write "$TMPDIR/fixed-name" then never meet.
// The run's directory goes with the owner; runs killed before they could
// remove theirs are cleaned up by the next run (their pid is gone).
// (In a VM the agent does the same inside the guest's own /tmp.)
#pragma once

#include <optional>
#include <string>

#include "core/expected.h"

namespace xrun {

class JobTmpDirs {
 public:
  // `base`: where the run's directory goes ($TMPDIR of xrun, or /tmp).
  explicit JobTmpDirs(std::string base);
  ~JobTmpDirs();
  JobTmpDirs(const JobTmpDirs&) = delete;
  JobTmpDirs& operator=(const JobTmpDirs&) = delete;

  // A new empty directory for a job, or why it cannot be made (the job then
  // keeps the TMPDIR it inherited).
  Expected<std::string> make();
  // Removes a directory make() returned, with whatever the job left in it.
  void remove(const std::string& dir);

 private:
  std::string base_;
  std::string run_dir_;  // made on first use
  unsigned next_ = 0;
};

}  // namespace xrun
