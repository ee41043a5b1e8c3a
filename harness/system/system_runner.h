// The system-mode JobRunner: jobs run inside booted target VMs, one VM per
// worker, reused across jobs. `xrun test --backend system` plugs it into the
// same scheduler and reports as qemu-user (engine/job_runner.h).
//
// The pool of a target starts on the first job for it: the saved state is
// made if needed (vm.h), then VMs start from it (or cold boot, with
// --cold-boot or when restoring fails) in parallel, one per job waiting, up
// to one per job slot. A VM that dies or hangs takes its job down as an
// infrastructure error and is replaced; the rest of the run goes on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <deque>
#include <map>
#include <memory>

#include "config/config.h"
#include "engine/job_runner.h"
#include "system/vm.h"

namespace xrun {

struct SystemRunnerOptions {
  int vms = 1;             // VMs per target: the number of tests at once
  bool cold_boot = false;  // never start from saved state
  // Dynamic test programs are forked from a copy started once per VM
  // (images/agent/zygote.c) instead of exec'd for every test.
  bool fork_server = true;
};

class SystemRunner final : public JobRunner {
 public:
  SystemRunner(boost::asio::io_context& io, const Config& config, SystemRunnerOptions options);
  ~SystemRunner() override;

  // Callbacks::error_output set: the program's stderr comes apart (a
  // single run); else merged into output, in order. forward_stdin: its
  // stdin comes from send_stdin().
  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;
  // Stops every VM (SIGKILL to qemu); jobs still running end as infra errors.
  void shutdown();

 private:
  struct Pool;
  struct Job;
  Expected<Pool*> pool_for(const std::string& target);
  void launch_vm(Pool& pool, int index);
  void grow(Pool& pool);
  void dispatch(Pool& pool);
  void finish(JobId id, const JobExit& exit);

  boost::asio::io_context& io_;
  const Config& config_;
  SystemRunnerOptions options_;
  std::vector<std::string> base_env_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  std::map<JobId, std::shared_ptr<Job>> jobs_;
  JobId next_id_ = 1;
  bool shutting_down_ = false;
};

}  // namespace xrun
