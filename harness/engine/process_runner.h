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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "config/config.h"
#include "core/child_process.h"
#include "engine/job_runner.h"
#include "engine/job_tmpdir.h"
#include "launch/launcher.h"
#include "launch/sysroot.h"

namespace xrun {

class ForkServer;

struct ProcessRunnerOptions {
  // The fork-server library for a target ("aarch64"), where there is one
  // (engine/fork_server.h). Unset: every job is exec'd.
  std::function<std::optional<std::string>(const std::string& target)> fork_server_library;
};

class ProcessRunner final : public JobRunner {
 public:
  ProcessRunner(boost::asio::io_context& io, const Config& config, OverlayStore overlays,
                ProcessRunnerOptions options = {});
  ~ProcessRunner() override;

  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;

  // Sends `signal` to every running job's process group (a second Ctrl-C).
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;

  // Kills every job still running (SIGKILL to each process group) and reaps
  // it. The last line of defence, for destruction: nothing outlives xrun.
  void kill_all();
  void shutdown() override { kill_all(); }

 private:
  struct Child;
  struct Stream;
  struct Pipes;
  struct ServerSlot;
  struct ServerChoice {
    std::string key, library;
    std::vector<std::string> env;  // the server's: the job's without its private TMPDIR
  };
  void adopt_pipes(const std::shared_ptr<Child>& child, Pipes& pipes);
  void watch_process(const std::shared_ptr<Child>& child, ChildProcess process);
  void end_child(const std::shared_ptr<Child>& child, JobExit exit);
  void signal_child(const std::shared_ptr<Child>& child, int signal);
  // Fork servers: whether this job forks from one, then forking it.
  std::optional<ServerChoice> fork_server_for(const JobRequest& request, const LaunchPlan& plan,
                                              const std::vector<std::string>& env);
  // `request`: the job's, for what routing read of its program (a new
  // server is planned without reading the file again); used during the call only.
  void start_from_fork_server(const std::shared_ptr<Child>& child, const ServerChoice& choice,
                              std::vector<std::string> argv, std::vector<std::string> set_env,
                              const JobRequest& request);
  void release(const std::string& key, const std::shared_ptr<ForkServer>& server);
  void exec_instead(const std::shared_ptr<Child>& child);
  void watch_exit(const std::shared_ptr<Child>& child);
  void read_more(const std::shared_ptr<Child>& child, Stream& stream);
  void write_stdin(const std::shared_ptr<Child>& child);
  void maybe_finish(const std::shared_ptr<Child>& child);

  boost::asio::io_context& io_;
  const Config& config_;
  OverlayStore overlays_;
  ProcessRunnerOptions options_;
  std::vector<std::string> base_env_;
  JobTmpDirs tmp_dirs_;
  std::map<JobId, std::shared_ptr<Child>> children_;
  std::map<std::string, std::vector<ServerSlot>> servers_;  // by ServerChoice::key
  std::vector<std::weak_ptr<ForkServer>> every_server_;     // kill_all() kills those still there
  std::set<std::string> unforkable_;                        // keys whose server never reached main(): exec'd
  JobId next_id_ = 1;
};

}  // namespace xrun
