#include "machine/machine_files.h"

#include "core/fs_util.h"
#include "probe/elf_probe.h"

namespace xrun {

JobFiles job_files(const JobRequest& request, const ElfInfo& elf, const RunFrame& frame,
                   const std::vector<std::string>& shares) {
  JobFiles files;
  files.program = frame.path;
  files.cwd = frame.cwd;
  // A TMPDIR the job has from the host: programs that make temporary files
  // there would fail only on the machine otherwise. Not with a private one
  // (the agent makes that on the machine).
  for (const auto& entry : frame.env)
    if (!frame.private_tmpdir && entry.rfind("TMPDIR=", 0) == 0 && is_directory(entry.substr(7)))
      files.tmpdir = real_path(entry.substr(7));
  for (const auto& share : shares) files.shares.push_back(real_path(share));
  for (const auto& dir : request.host_dirs)
    if (is_directory(dir)) files.host_dirs.push_back(real_path(dir));
  // Libraries of the build tree: the program's RUNPATH and an LD_LIBRARY_PATH set for the job.
  files.library_dirs = build_tree_library_dirs(elf, frame.path, frame.env);
  return files;
}

}  // namespace xrun
