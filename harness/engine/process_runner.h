// The JobRunner for programs this host runs: each job is a child process in
// its own process group, launched exactly as `xrun PROGRAM` would launch it
// (natively or under qemu-user, see launch/launcher.h), with stdout and
// stderr on one pipe so their order is kept (or apart, when the caller asks
// for stderr separately). Exit is noticed through a pidfd on the io_context:
// no thread per child, no polling.
//
// It knows qemu-user: an emulated job that ends badly while qemu printed one
// of its own failure lines (launch/qemu_faults.h) ends with
// JobExit::infra_error, not as the program's failure.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>

#include "config/config.h"
#include "engine/job_runner.h"
#include "engine/job_tmpdir.h"
#include "launch/sysroot.h"

namespace xrun {

class ProcessRunner final : public JobRunner {
 public:
  ProcessRunner(boost::asio::io_context& io, const Config& config, OverlayStore overlays);
  ~ProcessRunner() override;

  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;

  // Sends `signal` to every running job's process group (a second Ctrl-C).
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;

  // Kills every job still running (SIGKILL to each process group) and reaps
  // it. The last line of defence, for destruction: nothing outlives xrun.
  void kill_all();

 private:
  struct Child;
  struct Stream;
  void watch_exit(const std::shared_ptr<Child>& child);
  void read_more(const std::shared_ptr<Child>& child, Stream& stream);
  void write_stdin(const std::shared_ptr<Child>& child);
  void maybe_finish(const std::shared_ptr<Child>& child);

  boost::asio::io_context& io_;
  const Config& config_;
  OverlayStore overlays_;
  std::vector<std::string> base_env_;
  JobTmpDirs tmp_dirs_;
  std::map<JobId, std::shared_ptr<Child>> children_;
  JobId next_id_ = 1;
};

}  // namespace xrun
