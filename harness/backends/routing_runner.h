// The one place that decides where a job runs. Every job -- a test, a
// listing, a single `xrun PROGRAM` -- goes through route(): the program's
// file is probed once per run (probe/binary_probe.h's ProgramProbes: what
// discovery read, or one read here) and its target resolved once; a program
// the host runs itself (a host binary, a script, CTest's `cmake -P`) goes to
// the host's row (native), and a foreign one runs on the backend that xrun's
// command line names, else the job's own request (the options of the CTest
// command it came from), else its target's configuration (`backend =` in
// xrun.toml), else the default backend for its format. A format no row runs
// (a Windows program, a WebAssembly module) is refused here, saying what the
// file is. The routing runner then hands the job, with what was read and
// resolved, to that row's JobRunner, made on first use, so one run can mix
// targets that run on different backends; it signals and stops every row's
// runner alike.
//
// Backends are peers behind JobRunner (backends/backend.h): nothing above
// this file asks which one a job got, except to say it in the report.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "backends/backend.h"
#include "config/config.h"
#include "engine/job_runner.h"
#include "probe/binary_probe.h"

namespace xrun {

struct RoutingOptions {
  const Backend* backend = nullptr;  // --backend: every foreign program runs there
  RunnerOptions runners;             // how each row makes its runner
  // Where each program's probe is kept for the run (the single run's, or
  // `xrun test`'s, which discovery fills); null: the routing runner keeps its own.
  ProgramProbes* probes = nullptr;
};

// Where one program runs.
struct Route {
  const Backend* backend = nullptr;  // its row; the host's (native) for what the host runs itself
  // The target it runs as, when it is an ELF program of a target xrun knows
  // (--target's, or the one its headers match).
  const TargetSpec* spec = nullptr;
  // What the file is; null when it cannot be read (the launcher says why).
  std::shared_ptr<const BinaryInfo> binary;
  // Its ELF headers, when it is an ELF program they let run.
  const ElfInfo* elf() const { return binary && binary->elf ? &*binary->elf : nullptr; }
  // True when xrun can replace itself with the program (native, qemu-user):
  // the single-run path then execs instead of supervising.
  bool execs_in_place() const { return backend->execs_in_place; }
};

// Probes the program (through options.probes, once) and decides. `program`
// is a path (a name is looked up in PATH); programs that cannot be read,
// scripts, and files of no format xrun knows or that cannot run as what they
// are route to the host, whose launcher runs them or says what is wrong.
// Errors (CannotExecute) for a format no row runs: "app.exe is a Windows PE
// x86-64 program (console); no backend runs Windows programs yet".
Expected<Route> route_program(const std::string& program, const std::optional<std::string>& target,
                              const Backend* requested, const Config& config, const RoutingOptions& options);

class RoutingRunner final : public JobRunner {
 public:
  RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options);
  ~RoutingRunner() override;

  // JobStarted::backend is the row's name.
  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
  // route_program()'s refusal of a format no row runs, before any job.
  Expected<void> admits(const JobRequest& request) override;
  void signal(JobId id, int signal) override;
  // Every row's runner: while listing, this is all Ctrl-C does.
  void signal_all(int signal) override;
  void send_stdin(JobId id, std::string_view bytes) override;
  std::string machine_of(JobId id) const override;
  // Stops every row's runner: no VM, board job or process outlives it.
  void shutdown() override;

 private:
  struct Inner {
    JobRunner* runner;
    JobId id;
  };
  JobRunner& runner_for(const Backend& backend);
  const Expected<Route>& route_of(const JobRequest& request);

  boost::asio::io_context& io_;
  const Config& config_;
  RoutingOptions options_;
  ProgramProbes own_probes_;                         // when options_ brings none
  std::vector<std::unique_ptr<JobRunner>> runners_;  // by the row's place in the registry, made on first use
  std::map<std::string, Expected<Route>> routes_;    // by program, target and requested backend
  std::map<JobId, Inner> jobs_;
  JobId next_id_ = 1;
};

}  // namespace xrun
