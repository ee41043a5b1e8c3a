#include "backends/system/vm.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <filesystem>

#include "backends/system/qmp.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "engine/test_model.h"

namespace xrun {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Expected<VmSettings> planned_vm_settings(const std::string& target, const Config& config) {
  const VmArch* arch = find_vm_arch(target);
  std::string names;
  for (const auto& n : vm_arch_names()) names += (names.empty() ? "" : ", ") + n;
  if (!arch)
    return make_error(ExitCode::CannotExecute,
                      "system mode does not support target " + xrun::quoted(target) + " (supported: " + names + ")");
  const TargetSettings& ts = config.target(target);
  VmSettings s;
  s.arch = arch;
  s.target = target;
  const VmConfig& vm = vm_config(ts);
  auto image = find_built_image(*arch, vm);
  if (!image) return image.error();
  s.image = *image;
  auto qemu = find_program(arch->qemu_system);
  if (!qemu)
    return make_error(
        ExitCode::CannotExecute,
        std::string(arch->qemu_system) + " is not installed: sudo apt-get install " + std::string(arch->qemu_package));
  s.qemu = *qemu;
  s.cpu = vm.vm_cpu.value_or(std::string(arch->cpu));
  if (vm.vm_memory) s.memory_mb = static_cast<int>(*vm.vm_memory);  // range-checked by the config
  s.shares = ts.shares;
  s.append = vm.vm_append.value_or("");
  for (const auto& share : s.shares)
    if (!is_directory(share))
      return make_error(ExitCode::Usage,
                        "targets." + target + ".shares: " + xrun::quoted(share) + " is not a directory");
  s.dtb = cached_device_tree(s).value_or("");  // "": qemu's own tree
  return s;
}

Expected<VmSettings> vm_settings_for(const std::string& target, const Config& config) {
  auto planned = planned_vm_settings(target, config);
  if (!planned) return planned.error();
  VmSettings s = std::move(*planned);
  std::string tmpl = join_path(get_env("TMPDIR").value_or("/tmp"), "xrun-vm-XXXXXX");
  if (!::mkdtemp(tmpl.data()))
    return make_error(ExitCode::InfraError,
                      "cannot create a work directory in /tmp: " + std::string(std::strerror(errno)));
  s.work_dir = tmpl;
  const std::string export_dir = join_path(s.work_dir, "host");
  Expected<std::shared_ptr<HostView>> view =
      make_error(ExitCode::InfraError, "cannot create " + export_dir + ": " + std::strerror(errno));
  if (::mkdir(export_dir.c_str(), 0700) == 0) view = HostView::make(export_dir);
  if (!view) {
    std::error_code ec;
    fs::remove_all(s.work_dir, ec);
    return view.error();
  }
  s.host_view = *view;
  // s.dtb: the tree made already, if it was (planned_vm_settings); else the
  // fleet makes it before its first VM (system_runner.cpp, VmFleet::prepare).
  return s;
}

// ------------------------------------------------------------------ Vm ---

Vm::Vm(asio::io_context& io, const VmSettings& settings, int index, bool from_snapshot)
    : AgentMachine(io),
      settings_(settings),
      index_(index),
      from_snapshot_(from_snapshot),
      time_(steady_time(io)),
      connect_timer_(io) {
  static int generation = 0;
  const std::string stem =
      join_path(settings.work_dir, "vm" + std::to_string(index) + "-" + std::to_string(++generation));
  agent_socket_ = stem + ".sock";
  qmp_socket_ = stem + ".qmp";
  console_log_ = stem + "-console.log";
}

Vm::~Vm() {
  if (qmp_) qmp_->close();
  // qemu_, if still there, is killed and reaped by its owner (core/child_process.h).
}

std::string Vm::name() const { return "VM " + std::to_string(index_) + " (" + settings_.image.name + ")"; }

void Vm::launch() {
  if (auto spawned = spawn(); !spawned) {
    fail_start(spawned.error().message);
    return;
  }
  const double limit = from_snapshot_ ? settings_.restore_timeout_seconds : settings_.boot_timeout_seconds;
  ready_within(limit, "the VM did not become ready in " + format_seconds(limit));
  // Posted: the pool stores this VM before any handler can run, and every
  // VM of a pool is spawned before the first one is talked to.
  asio::post(io_, [self = weak_as<Vm>().lock()] { self->try_connect(); });
}

Expected<void> Vm::spawn() {
  auto argv = qemu_command(settings_, from_snapshot_ ? QemuMode::Restore : QemuMode::Cold, settings_.image.snapshot_dir,
                           agent_socket_, console_log_, from_snapshot_ ? qmp_socket_ : "");
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  log_debug("VM {}: {}", index_, line);
  auto qemu = spawn_qemu(argv, console_log_, settings_.host_view.get());
  if (!qemu) return machine_error(qemu.error().message);
  qemu_ = std::move(*qemu);
  watch_exit();
  return {};
}

void Vm::watch_exit() {
  // Through qemu's pidfd on the loop, reaped without blocking (a readiness
  // event can be stale when a VM is replaced: core/child_process.cpp).
  qemu_.async_wait(io_, [weak = weak_as<Vm>()](int status) {
    auto self = weak.lock();
    if (!self || self->dead()) return;
    std::string how = status < 0            ? "is gone"
                      : WIFSIGNALED(status) ? "was killed by " + signal_name(WTERMSIG(status))
                                            : "exited with status " + std::to_string(WEXITSTATUS(status));
    self->die("qemu " + how + " (a guest kernel panic ends qemu too)");
  });
}

void Vm::try_connect() {
  if (dead()) return;
  if (from_snapshot_ && !incoming_started_) {
    // QMP on the loop: qemu answers as soon as it is up, within 5 s or the
    // restore failed (then the fleet cold-boots).
    if (qmp_started_) return;
    qmp_started_ = true;
    const auto within = std::chrono::seconds(5);
    const auto deadline = time_->now() + within;
    const auto alive = [weak = weak_as<Vm>()] {
      auto self = weak.lock();
      return self && !self->dead();  // qemu's exit is noticed by its pidfd (qemu_.async_wait)
    };
    qmp_ = QmpClient::open(
        io_, *time_, qmp_socket_, within, alive,
        [weak = weak_as<Vm>(), deadline](Expected<std::shared_ptr<QmpClient>> client) {
          auto self = weak.lock();
          if (!self || self->dead()) {
            if (client) (*client)->close();
            return;
          }
          if (!client) {
            self->die("cannot restore the saved state: " + client.error().message);
            return;
          }
          self->qmp_->execute(
              {{"execute", "migrate-incoming"},
               {"arguments", {{"uri", "exec:cat " + self->settings_.image.snapshot_dir + "/state"}}}},
              deadline - self->time_->now(), [weak](Expected<nlohmann::json> started) {
                auto vm = weak.lock();
                if (!vm || vm->dead()) return;
                vm->qmp_->close();
                vm->qmp_.reset();
                if (!started || started->contains("error")) {
                  vm->die("cannot restore the saved state: " + (started ? started->dump() : started.error().message));
                  return;
                }
                vm->incoming_started_ = true;
                vm->try_connect();
              });
        });
    return;
  }
  const int fd = connect_unix(agent_socket_);
  if (fd < 0) {
    connect_timer_.expires_after(std::chrono::milliseconds(3));
    connect_timer_.async_wait([weak = weak_as<Vm>()](const auto& e) {
      if (auto self = weak.lock(); self && !e && !self->dead()) self->try_connect();
    });
    return;
  }
  AgentSession::Options options;
  options.name = "VM " + std::to_string(index_);
  options.unresponsive_seconds = settings_.unresponsive_seconds;
  // With the host's clock: restored from saved state, the guest's is the
  // one it was saved with (hours behind), until the agent sets it.
  open_session(fd, fd, options, {static_cast<std::uint32_t>(index_ + 1) * 7919u, true});
}

void Vm::became_ready(const std::string& release) {
  log_debug("VM {} ready in {:.3f} s ({}, kernel {})", index_,
            std::chrono::duration<double>(Clock::now() - started_at()).count(),
            from_snapshot_ ? "restored" : "cold boot", release);
}

void Vm::stop() {
  qemu_ = ChildProcess();  // killed and reaped: a blocking waitpid, at once after SIGKILL
  connect_timer_.cancel();
  if (qmp_) qmp_->close();
  qmp_.reset();
}

std::string Vm::last_words(const std::string& reason) {
  // A panic prints a long backtrace; its first line says what happened.
  const std::string console = read_file(console_log_).value_or("");
  std::string what = reason;
  if (auto panic = console.find("Kernel panic"); panic != std::string::npos) {
    auto end = console.find('\n', panic);
    what = "the guest kernel panicked: \"" + console.substr(panic, end == std::string::npos ? end : end - panic) +
           "\" (" + reason + ")";
  }
  // A VM that failed keeps its console log where the user finds it (the
  // run's work directory goes at its end); one asked to end does not.
  const std::string log = killed() ? console_log_ : keep_console_log(console_log_, settings_.image.name);
  return name() + ": " + what + "; last console lines (" + log + "):" + last_console_lines(console, 6);
}

}  // namespace xrun
