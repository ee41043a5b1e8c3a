// One qemu-system VM running the xrun agent, driven on an io_context.
//
// Start: either a cold boot (kernel + initramfs, ~1.3 s under TCG) or a
// restore of the image's saved state (RAM file mapped private + device state
// migrated in, ~0.3 s), see docs/measured.md ("qemu-system"). The saved state is made once per
// image and qemu build by save_snapshot(): boot, wait for the agent, migrate
// the device state to a file while RAM stays in a shared memory-backend-file.
// Nothing is mounted over 9p before that moment (a mounted share blocks
// migration); the agent mounts on the first job that needs host files.
//
// A VM is killed with SIGKILL when xrun is done with it, when it stops
// answering, and (PR_SET_PDEATHSIG) when xrun itself dies: no qemu outlives
// xrun. Its console goes to a log whose last lines every infra error quotes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "backends/system/host_view.h"
#include "backends/system/image.h"
#include "backends/system/vm_arch.h"
#include "config/config.h"
#include "core/expected.h"
#include "engine/job_runner.h"
#include "machine/agent_protocol.h"
#include "machine/machine.h"

namespace xrun {

struct VmSettings {
  const VmArch* arch = nullptr;
  std::string target;
  ImageLocation image;
  std::string qemu;  // qemu-system-* binary
  std::string cpu;
  int memory_mb = 128;
  std::string append;                   // more kernel command line (targets.<t>.vm_append)
  std::string dtb;                      // -dtb: qemu's tree without the devices nothing uses; "": qemu's own
  std::vector<std::string> shares;      // host directories shown in every job
  std::shared_ptr<HostView> host_view;  // what the 9p device exports; qemu runs in its namespaces
  std::string work_dir;                 // this run's sockets and console logs
  double boot_timeout_seconds = 30;
  double restore_timeout_seconds = 5;  // then: cold boot instead
  double unresponsive_seconds = 10;    // no answer to a ping or a SIGKILL this long: hung
  bool use_snapshot = true;
};

// Resolves the VM for `target` (arch support, image, qemu, cpu, memory) and
// creates a private work directory. Errors say what to install or build.
Expected<VmSettings> vm_settings_for(const std::string& target, const Config& config);
// The same settings without making anything: no work directory or host view,
// and the trimmed device tree only if it was made already (xrun doctor).
Expected<VmSettings> planned_vm_settings(const std::string& target, const Config& config);

// The saved state of settings.image, made now if missing or stale (a
// different qemu binary, image or machine options). An Error means no usable
// saved state: callers cold-boot.
Expected<std::string> ensure_snapshot(const VmSettings& settings);
// The saved state a VM with these settings restores from, if it was made
// (its directory: <image>/snapshot-<key>, holding `state` and `key`).
std::optional<std::string> find_saved_state(const VmSettings& settings);

// A copy of a failed VM's console log in $XDG_CACHE_HOME/xrun/logs (the
// newest 20 are kept), whose path the error names; the log itself if the
// copy cannot be made.
std::string keep_console_log(const std::string& log, const std::string& image_name);

// The migration's state from a QMP query-migrate reply ("active",
// "completed", ...); an Error for an error reply, a failed or cancelled
// migration, or a reply that is not one (exposed for unit tests).
Expected<std::string> migration_state(const nlohmann::json& reply);

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
