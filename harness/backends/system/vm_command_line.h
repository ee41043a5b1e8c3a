// What a system-mode VM is started with (VmSettings) and the qemu-system
// command made from it: the machine options, which must be the same when a
// state is saved and when it is restored (their text is part of the saved
// state's key, saved_state.h); qemu started in its own process group inside
// the host view's namespaces; the device tree it boots with; and its console
// log, whose last lines every infra error about a VM quotes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/system/image.h"
#include "backends/system/vm_arch.h"
#include "core/child_process.h"
#include "core/expected.h"
#include "machine/host_view.h"

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

// How qemu starts: booting, booting to save its state, or restoring it.
enum class QemuMode { Cold, SaveState, Restore };

// The machine options (everything but the sockets and the console). The
// RAM of SaveState and Restore is a memory-backend file in `state_dir`;
// `export_dir` is what the 9p devices export (HostView::root()).
std::vector<std::string> machine_args(const VmSettings& s, QemuMode mode, const std::string& state_dir,
                                      const std::string& export_dir);

// The whole command: qemu, the machine options, the console log, the agent's
// socket and, if not "", QMP's socket.
std::vector<std::string> qemu_command(const VmSettings& s, QemuMode mode, const std::string& state_dir,
                                      const std::string& agent_socket, const std::string& console_log,
                                      const std::string& qmp_socket);

// qemu started (core/child_process.h) in its own process group (a
// terminal's Ctrl-C is xrun's to handle, not qemu's), dying with xrun, its
// stdout/stderr in the console log, inside `view`'s namespaces when there is one.
Expected<ChildProcess> spawn_qemu(const std::vector<std::string>& argv, const std::string& console_log,
                                  const HostView* view);

// Which qemu build: its path, size and modification time.
std::string qemu_identity(const std::string& qemu);

// qemu's device tree for these machine options without the devices a test
// VM does not use (device_tree.h), made once per image, qemu build and
// options; or why not (the VM then boots with qemu's own tree).
Expected<std::string> trimmed_device_tree(const VmSettings& s);
// That tree when it was made already.
std::optional<std::string> cached_device_tree(const VmSettings& s);

// The last `count` lines of a console, each on a line of its own indented
// for an error message ("(the console is empty)" when there are none).
std::string last_console_lines(const std::string& text, std::size_t count);

// A copy of a failed VM's console log in $XDG_CACHE_HOME/xrun/logs (the
// newest 20 are kept), whose path the error names; the log itself if the
// copy cannot be made.
std::string keep_console_log(const std::string& log, const std::string& image_name);

}  // namespace xrun
