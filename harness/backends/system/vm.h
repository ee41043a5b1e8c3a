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

#include "backends/system/vm_command_line.h"
#include "config/config.h"
#include "core/expected.h"
#include "engine/job_runner.h"
#include "machine/agent_protocol.h"
#include "machine/machine.h"

namespace xrun {

// Resolves the VM for `target` (arch support, image, qemu, cpu, memory) and
// creates a private work directory. Errors say what to install or build.
Expected<VmSettings> vm_settings_for(const std::string& target, const Config& config);
// The same settings without making anything: no work directory or host view,
// and the trimmed device tree only if it was made already (xrun doctor).
Expected<VmSettings> planned_vm_settings(const std::string& target, const Config& config);

// One VM as a Machine (machine/machine.h): qemu plus the agent's session
// over the unix socket behind its virtio-serial port.
class Vm final : public Machine, public std::enable_shared_from_this<Vm> {
 public:
  Vm(boost::asio::io_context& io, const VmSettings& settings, int index, bool from_snapshot);
  ~Vm() override;

  // Starts qemu; `ready` runs once: when the agent answered, or with why not.
  void start(ReadyHandler ready) override;
  AgentSession* session() override { return ready_ && !dead_ ? session_.get() : nullptr; }
  // SIGKILL to qemu; every job ends with an infra error naming `reason`.
  void kill(const std::string& reason) override;
  bool alive() const override { return !dead_; }
  bool ready() const override { return ready_; }
  std::string name() const override;
  // "VM 2 (debian-aarch64)": which of the run's VMs a test ran in.
  std::string report_name() const override { return name(); }

  bool failed() const;  // died on its own (not by kill()): its console log is worth keeping
  int index() const { return index_; }
  bool from_snapshot() const { return from_snapshot_; }
  std::string console_tail(std::size_t lines) const;

 private:
  std::optional<std::string> spawn();
  void try_connect();
  void watch_exit();
  // Ends the VM; returns the message its jobs end with (console lines included).
  std::string die(const std::string& reason);

  boost::asio::io_context& io_;
  VmSettings settings_;
  int index_;
  bool from_snapshot_;
  std::string agent_socket_, qmp_socket_, console_log_;
  bool incoming_started_ = false;
  pid_t pid_ = -1;
  std::optional<boost::asio::posix::stream_descriptor> exit_watch_;
  boost::asio::steady_timer connect_timer_, boot_timer_;
  std::chrono::steady_clock::time_point started_at_;
  ReadyHandler ready_handler_;
  bool ready_ = false, dead_ = false, quiet_ = false;
  std::shared_ptr<AgentSession> session_;
};

}  // namespace xrun
