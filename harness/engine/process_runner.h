// The real JobRunner: each job is a child process in its own process group,
// launched exactly as `xrun PROGRAM` would launch it (natively or under
// qemu-user, see launch/launcher.h), with stdout and stderr on one pipe so
// their order is kept. Exit is noticed through a pidfd on the io_context: no
// thread per child, no polling.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>

#include "config/config.h"
#include "engine/job_runner.h"
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

  // Kills every job still running (SIGKILL to each process group) and reaps
  // it. The last line of defence, for destruction: nothing outlives xrun.
  void kill_all();

 private:
  struct Child;
  void watch_exit(const std::shared_ptr<Child>& child);
  void read_more(const std::shared_ptr<Child>& child);
  void maybe_finish(const std::shared_ptr<Child>& child);

  boost::asio::io_context& io_;
  const Config& config_;
  OverlayStore overlays_;
  std::vector<std::string> base_env_;
  std::map<JobId, std::shared_ptr<Child>> children_;
  JobId next_id_ = 1;
};

}  // namespace xrun
