// The one place that decides where a job runs. Every job -- a test, a
// listing, a single `xrun PROGRAM` -- goes through route(): the program's
// ELF headers are read once, a program the host runs itself (a host binary,
// a script, CTest's `cmake -P`) goes to the host's row (native), and a
// foreign one runs on the backend that xrun's command line names, else the
// job's own request (the options of the CTest command it came from), else
// its target's configuration (`backend =` in xrun.toml), else the default
// backend for its format. The routing runner then hands the job to that
// row's JobRunner, made on first use, so one run can mix targets that run on
// different backends; it signals and stops every row's runner alike.
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
#include "probe/elf_probe.h"

namespace xrun {

struct RoutingOptions {
  const Backend* backend = nullptr;  // --backend: every foreign program runs there
  RunnerOptions runners;             // how each row makes its runner
};

// Where one program runs.
struct Route {
  const Backend* backend = nullptr;  // its row; the host's (native) for what the host runs itself
  std::string target;                // the target's name, when the program is an ELF file xrun knows
  std::optional<ElfInfo> elf;        // its headers, when it is an ELF file
  // True when xrun can replace itself with the program (native, qemu-user):
  // the single-run path then execs instead of supervising.
  bool execs_in_place() const { return backend->execs_in_place; }
};

// Reads the program's headers and decides. `program` is a path (a name is
// looked up in PATH); programs that cannot be read or are not ELF route to
// the host, whose launcher says what is wrong with them.
Route route_program(const std::string& program, const std::optional<std::string>& target, const Backend* requested,
                    const Config& config, const RoutingOptions& options);

class RoutingRunner final : public JobRunner {
 public:
  RoutingRunner(boost::asio::io_context& io, const Config& config, RoutingOptions options);
  ~RoutingRunner() override;

  // JobStarted::backend is the row's name.
  Expected<JobStarted> start(const JobRequest& request, Callbacks callbacks) override;
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
  const Route& route_of(const JobRequest& request);

  boost::asio::io_context& io_;
  const Config& config_;
  RoutingOptions options_;
  std::vector<std::unique_ptr<JobRunner>> runners_;  // by the row's place in the registry, made on first use
  std::map<std::string, Route> routes_;              // by program, target and requested backend
  std::map<JobId, Inner> jobs_;
  JobId next_id_ = 1;
};

}  // namespace xrun
