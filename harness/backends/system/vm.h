// One qemu-system VM running the xrun agent, driven on an io_context.
//
// Start: either a cold boot (kernel + initramfs, ~1.3 s under TCG) or a
// restore of the image's saved state (RAM file mapped private + device state
// migrated in, ~0.3 s), see docs/measured.md ("qemu-system"); the state is
// made by ensure_snapshot() (saved_state.h), the command line by
// vm_command_line.h, and a restore is started over QMP (qmp.h).
//
// A VM is killed with SIGKILL when xrun is done with it, when it stops
// answering, and (PR_SET_PDEATHSIG) when xrun itself dies: no qemu outlives
// xrun. Its console goes to a log whose last lines every infra error quotes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "backends/system/qmp.h"
#include "backends/system/vm_command_line.h"
#include "config/config.h"
#include "core/expected.h"
#include "core/time_source.h"
#include "engine/job_runner.h"
#include "machine/agent_machine.h"
#include "machine/agent_protocol.h"

namespace xrun {

// Resolves the VM for `target` (arch support, image, qemu, cpu, memory) and
// creates a private work directory. Errors say what to install or build.
Expected<VmSettings> vm_settings_for(const std::string& target, const Config& config);
// The same settings without making anything: no work directory or host view,
// and the trimmed device tree only if it was made already (xrun doctor).
Expected<VmSettings> planned_vm_settings(const std::string& target, const Config& config);

// One VM as a Machine (machine/machine.h): qemu plus the agent's session
// over the unix socket behind its virtio-serial port. Its life is
// AgentMachine's; what is its own: qemu's process (watched through a pidfd:
// its exit is the VM's death), restoring the saved state over QMP, and the
// console log its death quotes (kept in the cache when it failed).
class Vm final : public AgentMachine {
 public:
  Vm(boost::asio::io_context& io, const VmSettings& settings, int index, bool from_snapshot);
  ~Vm() override;

  std::string name() const override;
  // "VM 2 (debian-aarch64)": which of the run's VMs a test ran in.
  std::string report_name() const override { return name(); }

 private:
  void launch() override;
  // SIGKILL to qemu, reaped.
  void stop() override;
  // "VM 1 (aarch64): why; last console lines (LOG): ...", a panic's line first.
  std::string last_words(const std::string& reason) override;
  void became_ready(const std::string& release) override;

  Expected<void> spawn();
  void try_connect();
  void watch_exit();

  VmSettings settings_;
  int index_;
  bool from_snapshot_;
  std::string agent_socket_, qmp_socket_, console_log_;
  bool incoming_started_ = false;
  bool qmp_started_ = false;
  std::unique_ptr<TimeSource> time_;  // QMP's retries and deadlines
  std::shared_ptr<QmpClient> qmp_;    // while the restore is being started
  ChildProcess qemu_;
  boost::asio::steady_timer connect_timer_;
};

}  // namespace xrun
