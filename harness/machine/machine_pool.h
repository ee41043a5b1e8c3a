// The JobRunner of every machine backend: one pool per target schedules jobs
// onto that target's machines (machine.h), up to each machine's capacity,
// starts machines as jobs wait for them, replaces or retires the ones that
// fail as the target's MachineFleet decides, and turns a machine's death
// into infra errors (or, for fleets that say so, moves its jobs to another
// machine). `xrun test --backend system|board` plugs it into the same
// scheduler and reports as qemu-user (engine/job_runner.h).
#pragma once

#include <boost/asio/io_context.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "engine/job_runner.h"
#include "machine/machine.h"

namespace xrun {

class MachinePool final : public JobRunner {
 public:
  // Makes the fleet of a target on its first job (an Error: the target
  // cannot run on this backend, every job of it fails with that).
  using FleetFactory = std::function<Expected<std::unique_ptr<MachineFleet>>(const std::string& target)>;
  // `fork_server`: a job the scheduler marked JobRequest::fork_server (one
  // test per process) of a dynamic program is forked by the agent from a
  // copy it started once (images/agent/zygote.c); false: --no-fork-server.
  MachinePool(boost::asio::io_context& io, bool fork_server, FleetFactory make_fleet);
  ~MachinePool() override;

  // Callbacks::error_output set: the program's stderr comes apart (a
  // single run); else merged into output, in order. forward_stdin: its
  // stdin comes from send_stdin().
  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;
  std::string machine_of(JobId id) const override;
  // Stops every machine; jobs still running end as infra errors.
  void shutdown() override;

 private:
  struct Pool;
  Expected<Pool*> pool_for(const std::string& target);
  void launch(Pool& pool, std::size_t slot);
  void recover(Pool& pool, std::size_t slot, bool was_ready, const std::string& error);
  void grow(Pool& pool);
  void dispatch(Pool& pool);
  void run_on(Pool& pool, const std::shared_ptr<MachineJob>& job, const std::shared_ptr<Machine>& machine);
  void finish(JobId id, const JobExit& exit);

  boost::asio::io_context& io_;
  bool fork_server_;
  FleetFactory make_fleet_;
  std::map<std::string, std::unique_ptr<Pool>> pools_;
  std::map<JobId, std::shared_ptr<MachineJob>> jobs_;
  std::map<JobId, Pool*> job_pool_;
  JobId next_id_ = 1;
  bool shutting_down_ = false;
  bool in_start_ = false;  // inside start(): a job's end waits for the next turn of the loop
};

}  // namespace xrun
