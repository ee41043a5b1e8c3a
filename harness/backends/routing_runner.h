// The one place that decides where a job runs. Every job -- a test, a
// listing, a single `xrun PROGRAM` -- goes through route(): the program's
// ELF headers are read once, a program the host runs itself (a host binary,
// a script, CTest's `cmake -P`) runs natively, and a foreign one runs on the
// backend that xrun's command line names, else the job's own request (the
// options of the CTest command it came from), else its target's
// configuration (`backend =` in xrun.toml), else qemu-user. The routing
// runner then hands the job to that backend's JobRunner, made on first use,
// so one run can mix targets that run on different backends.
//
// Backends are peers behind JobRunner: nothing above this file asks which
// one a job got, except to say it in the report.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>

#include "backends/board/board.h"
#include "backends/system/system_runner.h"
#include "config/backend.h"
#include "config/config.h"
#include "elf/elf_probe.h"
#include "engine/job_runner.h"

namespace xrun {

class ProcessRunner;

struct RoutingOptions {
  std::optional<Backend> backend;  // --backend: every foreign program runs there
  SystemRunnerOptions system;      // how the system backend runs its VMs
  // qemu-user: a job that may fork from a fork server (JobRequest::fork_server)
  // does, where the target has the fork-server library (--no-fork-server: no).
  bool qemu_fork_server = false;
  // boards: the same (a dynamic program's jobs that may fork do, from a copy
  // the board's agent started); --no-fork-server: no.
  bool board_fork_server = true;
};

// Where one program runs.
struct Route {
  bool native = false;                  // the host runs it itself (no emulation at all)
  Backend backend = Backend::QemuUser;  // when not native
  std::string target;                   // the target's name, when the program is an ELF file xrun knows
  std::optional<ElfInfo> elf;           // its headers, when it is an ELF file
  // True when xrun can replace itself with the program (native, qemu-user):
  // the single-run path then execs instead of supervising.
  bool execs_in_place() const { return native || backend == Backend::QemuUser; }
};

// Reads the program's headers and decides. `program` is a path (a name is
// looked up in PATH); programs that cannot be read or are not ELF route to
// the host, whose launcher says what is wrong with them.
Route route_program(const std::string& program, const std::optional<std::string>& target,
                    const std::optional<Backend>& requested, const Config& config, const RoutingOptions& options);

class RoutingRunner final : public JobRunner {
 public:
  RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options);
  ~RoutingRunner() override;

  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  void signal(JobId id, int signal) override;
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;
  std::string machine_of(JobId id) const override;
  // Stops every VM and kills every process still running.
  void shutdown();

 private:
  struct Inner {
    JobRunner* runner;
    JobId id;
  };
  JobRunner& runner_for(const Route& route);
  const Route& route_of(const JobRequest& request);

  boost::asio::io_context& io_;
  const Config& config_;
  RoutingOptions options_;
  std::unique_ptr<ProcessRunner> process_;
  std::unique_ptr<MachinePool> system_;
  std::unique_ptr<MachinePool> board_;
  std::map<std::string, Route> routes_;  // by program, target and requested backend
  std::map<JobId, Inner> jobs_;
  JobId next_id_ = 1;
};

}  // namespace xrun
