#include "backends/system/system_runner.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <climits>
#include <cstring>
#include <filesystem>

#include "backends/system/vm.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "launch/launcher.h"
#include "probe/elf_probe.h"

namespace xrun {

namespace asio = boost::asio;

namespace {

class VmFleet final : public MachineFleet {
 public:
  VmFleet(VmSettings settings, const Config& config, SystemRunnerOptions options)
      : settings_(std::move(settings)), config_(config), options_(options), base_env_(current_environment()) {
    if (!options_.cold_boot) {
      auto saved = ensure_snapshot(settings_);
      if (saved) {
        from_snapshot_ = true;
        settings_.image.snapshot_dir = *saved;  // the state for exactly these settings
      } else {
        print_warning(saved.error().message + "\n  (cold-booting the VMs instead)");
      }
    }
  }

  std::size_t slots() const override { return static_cast<std::size_t>(std::max(1, options_.vms)); }
  std::size_t jobs_per_machine(std::size_t) const override { return 1; }
  bool requeue_jobs_of_dead_machines() const override { return false; }

  std::shared_ptr<Machine> make(asio::io_context& io, std::size_t slot) override {
    return std::make_shared<Vm>(io, settings_, static_cast<int>(slot), from_snapshot_);
  }

  void recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) override {
    if (was_ready) {
      failed_boots_ = 0;
      again(true);  // a VM died under a job: a fresh one for the next
      return;
    }
    if (from_snapshot_) {
      // The saved state does not work here (after a qemu upgrade, say):
      // every VM from now on cold-boots.
      print_warning("starting a VM from saved state failed, cold-booting instead: " + error);
      from_snapshot_ = false;
      std::error_code ec;
      std::filesystem::remove_all(settings_.image.snapshot_dir, ec);
      again(true);
      return;
    }
    if (++failed_boots_ < 3) {
      log_debug("VM {} failed to boot, retrying: {}", slot, error);
      again(true);
      return;
    }
    again(false);
  }

  void shutdown() override {
    std::error_code ec;
    std::filesystem::remove_all(settings_.work_dir, ec);  // failed VMs' logs were kept in the cache
  }

  Expected<bool> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) override;

 private:
  VmSettings settings_;
  const Config& config_;
  SystemRunnerOptions options_;
  std::vector<std::string> base_env_;
  bool from_snapshot_ = false;
  int failed_boots_ = 0;
};

Expected<bool> VmFleet::plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) {
  RunFrame& f = job.frame;
  f.env = base_env_;
  std::vector<std::string> target_env;
  for (const auto& [name, value] : config_.target(settings_.target).env) target_env.push_back(name + "=" + value);
  set_environment(f.env, target_env);
  set_environment(f.env, request.extra_env);
  // What the job sees of the host (host_view.h): its cwd, a TMPDIR from the
  // host (programs that make temporary files there would fail only in the
  // VM otherwise) and the configured shares writable; the program's
  // directory and the directories xrun adds for the job read-only.
  std::vector<std::pair<std::string, bool>> shown{{f.cwd, true}, {parent_of(f.path), false}};
  for (const auto& entry : f.env)
    if (!f.private_tmpdir && entry.rfind("TMPDIR=", 0) == 0 && is_directory(entry.substr(7)))
      shown.emplace_back(real_path(entry.substr(7)), true);
  for (const auto& share : settings_.shares) shown.emplace_back(real_path(share), true);
  for (const auto& dir : request.host_dirs)
    if (is_directory(dir)) shown.emplace_back(real_path(dir), false);
  // Libraries of the build tree: the program's RUNPATH and an LD_LIBRARY_PATH set for the job.
  for (const auto& dir : build_tree_library_dirs(elf, f.path, f.env)) shown.emplace_back(dir, false);
  for (const auto& [dir, writable] : shown) {
    if (auto exposed = settings_.host_view->expose(dir, writable); !exposed) return exposed.error();
    if (std::find(f.binds.begin(), f.binds.end(), dir) == f.binds.end()) f.binds.push_back(dir);
    // The agent shows these from its uncached share: appends and writes of
    // jobs in other VMs are seen at once (protocol.h, RUN).
    if (writable && std::find(f.writable.begin(), f.writable.end(), dir) == f.writable.end()) f.writable.push_back(dir);
  }
  return true;
}

}  // namespace

std::unique_ptr<MachinePool> make_system_runner(asio::io_context& io, const Config& config,
                                                SystemRunnerOptions options) {
  return std::make_unique<MachinePool>(
      io, options.fork_server,
      [&config, options](const std::string& target) -> Expected<std::unique_ptr<MachineFleet>> {
        auto settings = vm_settings_for(target, config);
        if (!settings) return settings.error();
        return std::unique_ptr<MachineFleet>(std::make_unique<VmFleet>(*settings, config, options));
      });
}

}  // namespace xrun
