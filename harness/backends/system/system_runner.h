// System mode as a machine backend: the VMs of a target are a MachineFleet
// (machine/machine.h) of the one MachinePool, which plugs into the scheduler
// as a JobRunner. `xrun test --backend system` runs through the same
// scheduler and reports as qemu-user.
//
// The fleet of a target is made on the first job for it: the saved state is
// made if needed (vm.h), then VMs start from it (or cold boot, with
// --cold-boot or when restoring fails), one per job waiting, up to one per
// job slot; a VM runs one job at a time. A VM that dies or hangs takes its
// job down as an infrastructure error (the test may have brought it down)
// and is replaced; the rest of the run goes on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "config/config.h"
#include "core/warnings.h"
#include "machine/machine_pool.h"

namespace xrun {

struct SystemRunnerOptions {
  int vms = 1;             // VMs per target: the number of tests at once
  bool cold_boot = false;  // never start from saved state
  // Dynamic test programs are forked from a copy started once per VM
  // (images/agent/zygote.c) instead of exec'd for every test.
  bool fork_server = true;
  // Where its warnings go (the saved state did not work: cold boots).
  Warnings* warnings = &stderr_warnings();
};

// The pool of system mode's VMs.
std::unique_ptr<MachinePool> make_system_runner(boost::asio::io_context& io, const Config& config,
                                                SystemRunnerOptions options);

}  // namespace xrun
