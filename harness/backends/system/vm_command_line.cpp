#include "backends/system/vm_command_line.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "backends/system/device_tree.h"
#include "core/fd.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/process_util.h"
#include "machine/agent_protocol.h"

namespace xrun {

namespace fs = std::filesystem;

std::string last_console_lines(const std::string& text, std::size_t count) {
  std::size_t end = text.size();
  while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r')) --end;
  std::size_t start = end;
  for (std::size_t seen = 0; start > 0; --start) {
    if (text[start - 1] == '\n' && ++seen == count) break;
  }
  std::string out;
  std::istringstream lines(text.substr(start, end - start));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out += "\n    " + line;
  }
  return out.empty() ? "\n    (the console is empty)" : out;
}

// The machine options must be identical when saving and restoring, so they
// are built in one place, and their text is part of the saved state's key.
// `export_dir` is what the 9p device exports (HostView::root()); not part
// of any saved state, so keys are made with a placeholder.
std::vector<std::string> machine_args(const VmSettings& s, QemuMode mode, const std::string& state_dir,
                                      const std::string& export_dir) {
  const std::string mem = std::to_string(s.memory_mb);
  std::string machine = std::string(s.arch->machine);
  std::vector<std::string> args{"-cpu",     s.cpu,  "-m",        mem + "M", "-nodefaults", "-no-user-config",
                                "-display", "none", "-no-reboot"};
  if (mode != QemuMode::Cold) {
    machine += ",memory-backend=ram";
    args.insert(args.end(), {"-object", "memory-backend-file,id=ram,size=" + mem + "M,mem-path=" + state_dir +
                                            "/ram,share=" + (mode == QemuMode::SaveState ? "on" : "off")});
  }
  args.insert(args.begin(), {"-M", machine});
  if (!s.dtb.empty()) args.insert(args.end(), {"-dtb", s.dtb});
  args.insert(
      args.end(),
      {"-kernel", s.image.kernel, "-initrd", s.image.initrd, "-append",
       "console=" + std::string(s.arch->console) +
           " rdinit=/init quiet cryptomgr.notests=1 panic=-1 oops=panic random.trust_cpu=on"
           // A throwaway test VM needs no guest hardening, and under TCG it is
           // costly: KPTI switches page tables on every syscall and fault,
           // which flushes qemu's soft TLB (tests in a VM ran ~2x slower).
           " kpti=0 nokaslr mitigations=off"
           // Initcalls that cost tens of milliseconds each under TCG and that
           // a test VM does not need (measured with initcall_debug).
           " initcall_blacklist=crypto_kdf108_init,init_kprobe_trace,load_system_certificate_list,"
           "init_encrypted,init_blk_tracer,slab_sysfs_init,init_trace_printk_function_export,"
           "snapshot_device_init,phy_g12a_mipi_dphy_analog_driver_init,gen_pci_driver_init,"  // virtio is on MMIO
           // Each registers BPF kfuncs, and the first to do so makes the kernel
           // parse its whole BTF (~47 million guest instructions, about 0.1 s).
           // No BPF runs in a test VM. Without cubic, TCP uses reno.
           "cubictcp_register,tcp_congestion_default,bpf_rstat_kfunc_init,bpf_key_sig_kfuncs_init,kfunc_init,"
           "bpf_prog_test_run_init,bpf_tcp_ca_kfunc_init"
           " apparmor=0 audit=0 cma=0"
           // No memory cgroup accounting: it is part of every page a fork or
           // a copy-on-write fault allocates (-6% guest instructions for a
           // test of the 1,000-case run, measured with -icount).
           " cgroup_disable=memory" +
           (s.append.empty() ? "" : " " + s.append),
       "-device", "virtio-serial-device", "-device", "virtserialport,chardev=agent,name=" XRUN_AGENT_PORT_NAME,
       "-fsdev",
       // multidevs=remap: the tree's bind mounts are other file systems, whose
       // inode numbers could collide in the guest's cache.
       "local,id=host,path=" + export_dir + ",security_model=none,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=host,mount_tag=" XRUN_AGENT_9P_TAG,
       // The same tree again for the writable directories, which the agent
       // mounts without a cache (a 9p channel is mounted once, in one mode):
       // appends and writes from other VMs are seen at once.
       "-fsdev", "local,id=hostw,path=" + export_dir + ",security_model=none,multidevs=remap", "-device",
       "virtio-9p-device,fsdev=hostw,mount_tag=" XRUN_AGENT_9P_WRITABLE_TAG});
  return args;
}

std::vector<std::string> qemu_command(const VmSettings& s, QemuMode mode, const std::string& state_dir,
                                      const std::string& agent_socket, const std::string& console_log,
                                      const std::string& qmp_socket) {
  std::vector<std::string> argv{s.qemu};
  for (auto& a : machine_args(s, mode, state_dir, s.host_view ? s.host_view->root() : "/"))
    argv.push_back(std::move(a));
  argv.insert(argv.end(), {"-chardev", "file,id=con,path=" + console_log + ",append=on", "-serial", "chardev:con",
                           "-chardev", "socket,id=agent,path=" + agent_socket + ",server=on,wait=off"});
  if (!qmp_socket.empty()) argv.insert(argv.end(), {"-qmp", "unix:" + qmp_socket + ",server=on,wait=off"});
  // The RAM stays in the memory-backend file (x-ignore-shared): only device
  // state goes through the migration stream. That capability must be set on
  // both sides over QMP before migrating, hence -incoming defer.
  if (mode == QemuMode::Restore) argv.insert(argv.end(), {"-incoming", "defer"});
  return argv;
}

Expected<ChildProcess> spawn_qemu(const std::vector<std::string>& argv, const std::string& console_log,
                                  const HostView* view) {
  const Fd log(::open(console_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log) return make_error(ExitCode::InfraError, "cannot write " + console_log + ": " + std::strerror(errno));
  ChildSpec spec;
  spec.argv = argv;
  spec.search_path = false;
  spec.stdout_fd = log.get();
  spec.stderr_fd = log.get();
  // qemu sees the tree HostView mounts, the host sees nothing change.
  if (view) spec.enter = [view] { return view->enter(); };
  return spawn_process(spec);
}

std::string qemu_identity(const std::string& qemu) {
  struct stat st {};
  ::stat(qemu.c_str(), &st);
  return qemu + "\n" + std::to_string(st.st_size) + "\n" + std::to_string(st.st_mtime) + "\n";
}

namespace {

// Where the trimmed tree of these settings is kept: next to the image.
std::string device_tree_path(const VmSettings& s) {
  VmSettings plain = s;
  plain.dtb.clear();
  std::string key = qemu_identity(s.qemu);
  for (const auto& a : machine_args(plain, QemuMode::Cold, "", "EXPORT")) key += a + "\n";
  return join_path(s.image.dir, "machine-" + fnv1a_hex(key) + ".dtb");
}

}  // namespace

std::optional<std::string> cached_device_tree(const VmSettings& s) {
  const std::string path = device_tree_path(s);
  if (auto cached = read_file(path); cached && !device_tree_node_paths(*cached).empty()) return path;
  return std::nullopt;
}

Expected<std::string> trimmed_device_tree(const VmSettings& s) {
  if (auto cached = cached_device_tree(s)) return *cached;
  VmSettings plain = s;
  plain.dtb.clear();
  std::vector<std::string> args = machine_args(plain, QemuMode::Cold, "", s.host_view ? s.host_view->root() : "/");
  const std::string path = device_tree_path(s);

  const std::string dump = join_path(s.work_dir, "qemu.dtb");
  int virtio_devices = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-M") args[i + 1] += ",dumpdtb=" + dump;
    const std::string device = args[i].substr(0, args[i].find(','));
    if (i > 0 && args[i - 1] == "-device" && device.rfind("virtio-", 0) == 0 && device.size() > 7 &&
        device.compare(device.size() - 7, 7, "-device") == 0)
      ++virtio_devices;
  }
  args.insert(args.begin(), s.qemu);
  args.insert(args.end(), {"-chardev", "null,id=agent"});  // the agent port's backend (qemu_command) is not there yet
  const CaptureResult dumped = run_capturing(args, "", false);
  auto blob = read_file(dump);
  if (!dumped.started || dumped.status != 0 || !blob)
    return make_error(ExitCode::InfraError,
                      s.qemu + " could not dump its device tree (exit " + std::to_string(dumped.status) + ")");
  const auto used = highest_virtio_mmio_addresses(*blob, virtio_devices);
  if (used.size() != static_cast<std::size_t>(virtio_devices))
    return make_error(ExitCode::InfraError, "qemu's device tree has " + std::to_string(used.size()) + " of the " +
                                                std::to_string(virtio_devices) + " virtio-mmio transports used");
  auto trimmed = remove_device_tree_nodes(*blob, [&](std::string_view node) { return virt_node_unused(node, used); });
  if (!trimmed) return trimmed.error();
  if (auto written = write_file_atomically(path, *trimmed); !written) return written.error();
  log_debug("device tree for {}: {} ({} bytes)", s.image.name, path, trimmed->size());
  return path;
}

std::string keep_console_log(const std::string& log, const std::string& image_name) {
  const std::string dir = join_path(xdg_cache_home(), "xrun/logs");
  std::error_code ec;
  fs::create_directories(dir, ec);
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  const std::string kept = join_path(
      dir, image_name + "-" + stamp + "-" + std::to_string(::getpid()) + "-" + fs::path(log).filename().string());
  fs::copy_file(log, kept, fs::copy_options::overwrite_existing, ec);
  if (ec) return log;
  // The newest kKeptLogs stay.
  constexpr std::size_t kKeptLogs = 20;
  std::vector<fs::directory_entry> logs;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec)) logs.push_back(entry);
  std::sort(logs.begin(), logs.end(),
            [](const auto& a, const auto& b) { return a.last_write_time() > b.last_write_time(); });
  for (std::size_t i = kKeptLogs; i < logs.size(); ++i) fs::remove(logs[i].path(), ec);
  return kept;
}

// One saved state per key (qemu build, image, machine options): runs with

}  // namespace xrun
