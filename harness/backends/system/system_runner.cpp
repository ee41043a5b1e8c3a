#include "backends/system/system_runner.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <climits>
#include <cstring>
#include <filesystem>
#include <thread>

#include "backends/system/saved_state.h"
#include "backends/system/vm.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "launch/launcher.h"
#include "machine/host_view.h"
#include "machine/machine_files.h"
#include "probe/elf_probe.h"

namespace xrun {

namespace asio = boost::asio;

namespace {

class VmFleet final : public MachineFleet {
 public:
  VmFleet(VmSettings settings, const Config& config, SystemRunnerOptions options, std::unique_ptr<MachineFiles> files)
      : settings_(std::move(settings)),
        config_(config),
        options_(options),
        files_(std::move(files)),
        base_env_(current_environment()) {}
  ~VmFleet() override {
    VmFleet::shutdown();
    if (dtb_thread_.joinable()) dtb_thread_.join();  // a qemu -dumpdtb: under a second
  }

  // The trimmed device tree, then the saved state (whose key has the tree's
  // path in its machine options). qemu's dump is a synchronous command
  // (process_util's run_capturing) made once per image and qemu build: it
  // runs on a thread of the fleet's that posts its result back; the saved
  // state is made on the loop (saved_state.h).
  void prepare(asio::io_context& io, std::function<void()> done) override {
    io_ = &io;
    time_ = steady_time(io);
    if (!settings_.dtb.empty()) return save_state(std::move(done));
    dtb_thread_ = std::thread(
        [this, &io, settings = settings_, alive = std::weak_ptr<bool>(alive_), done = std::move(done)]() mutable {
          auto made = trimmed_device_tree(settings);
          if (!made) log_debug("{}: booting with qemu's own device tree", made.error().message);
          std::string dtb = made ? *made : "";
          asio::post(io, [this, alive, dtb = std::move(dtb), done = std::move(done)]() mutable {
            if (auto fleet = alive.lock(); !fleet || !*fleet) return;  // the run is over
            settings_.dtb = std::move(dtb);
            save_state(std::move(done));
          });
        });
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
      options_.warnings->warn("starting a VM from saved state failed, cold-booting instead: " + error);
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
    *alive_ = false;
    if (saving_) saving_->cancel();
    saving_.reset();
    std::error_code ec;
    std::filesystem::remove_all(settings_.work_dir, ec);  // failed VMs' logs were kept in the cache
  }

  Expected<void> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) override;

 private:
  VmSettings settings_;
  const Config& config_;
  SystemRunnerOptions options_;
  std::unique_ptr<MachineFiles> files_;
  std::vector<std::string> base_env_;
  bool from_snapshot_ = false;
  int failed_boots_ = 0;
  asio::io_context* io_ = nullptr;
  std::unique_ptr<TimeSource> time_;
  std::thread dtb_thread_;
  std::shared_ptr<StateSaving> saving_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // what the thread's answer checks

  void save_state(std::function<void()> done) {
    if (options_.cold_boot) return asio::post(*io_, std::move(done));
    saving_ = ensure_snapshot(*io_, *time_, settings_, [this, done = std::move(done)](Expected<std::string> saved) {
      saving_.reset();
      if (saved) {
        from_snapshot_ = true;
        settings_.image.snapshot_dir = *saved;  // the state for exactly these settings
      } else {
        options_.warnings->warn(saved.error().message + "\n  (cold-booting the VMs instead)");
      }
      done();
    });
  }
};

Expected<void> VmFleet::plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) {
  RunFrame& f = job.frame;
  f.env = base_env_;
  std::vector<std::string> target_env;
  for (const auto& [name, value] : config_.target(settings_.target).env) target_env.push_back(name + "=" + value);
  set_environment(f.env, target_env);
  set_environment(f.env, request.extra_env);
  // What the job sees of the host: the directories it needs, shown at their
  // own paths (the fleet's file strategy: the host view).
  return files_->plan(job_files(request, elf, f, settings_.shares), job);
}

}  // namespace

std::unique_ptr<MachinePool> make_system_runner(asio::io_context& io, const Config& config,
                                                SystemRunnerOptions options) {
  return std::make_unique<MachinePool>(
      io, options.fork_server,
      [&config, options](const std::string& target) -> Expected<std::unique_ptr<MachineFleet>> {
        auto settings = vm_settings_for(target, config);
        if (!settings) return settings.error();
        // VMs are on this host: they are shown its files, where qemu runs (its 9p device's tree).
        auto files = std::make_unique<HostViewFiles>(settings->host_view);
        return std::unique_ptr<MachineFleet>(std::make_unique<VmFleet>(*settings, config, options, std::move(files)));
      });
}

}  // namespace xrun
