#include "backends/system/vm.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "backends/system/device_tree.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/process_util.h"
#include "engine/test_model.h"

namespace xrun {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string last_lines(const std::string& text, std::size_t count) {
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

enum class Mode { Cold, SaveState, Restore };

// The machine options must be identical when saving and restoring, so they
// are built in one place, and their text is part of the saved state's key.
// `export_dir` is what the 9p device exports (HostView::root()); not part
// of any saved state, so keys are made with a placeholder.
std::vector<std::string> machine_args(const VmSettings& s, Mode mode, const std::string& state_dir,
                                      const std::string& export_dir) {
  const std::string mem = std::to_string(s.memory_mb);
  std::string machine = std::string(s.arch->machine);
  std::vector<std::string> args{"-cpu",     s.cpu,  "-m",        mem + "M", "-nodefaults", "-no-user-config",
                                "-display", "none", "-no-reboot"};
  if (mode != Mode::Cold) {
    machine += ",memory-backend=ram";
    args.insert(args.end(), {"-object", "memory-backend-file,id=ram,size=" + mem + "M,mem-path=" + state_dir +
                                            "/ram,share=" + (mode == Mode::SaveState ? "on" : "off")});
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

std::vector<std::string> qemu_command(const VmSettings& s, Mode mode, const std::string& state_dir,
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
  if (mode == Mode::Restore) argv.insert(argv.end(), {"-incoming", "defer"});
  return argv;
}

// fork/exec qemu in its own process group (a terminal's Ctrl-C is xrun's to
// handle, not qemu's), dying with xrun, its stdout/stderr in the console log.
Expected<pid_t> spawn_qemu(const std::vector<std::string>& argv, const std::string& console_log, const HostView* view) {
  const int log_fd = ::open(console_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return make_error(ExitCode::InfraError, "cannot write " + console_log + ": " + std::strerror(errno));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (view && !view->enter()) _exit(127);  // qemu sees the tree HostView mounts, the host sees nothing change
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  ::close(log_fd);
  return pid;
}

// Which qemu build: its path, size and modification time.
std::string qemu_identity(const std::string& qemu) {
  struct stat st {};
  ::stat(qemu.c_str(), &st);
  return qemu + "\n" + std::to_string(st.st_size) + "\n" + std::to_string(st.st_mtime) + "\n";
}

std::string snapshot_key(const VmSettings& s) {
  std::string text = qemu_identity(s.qemu) + read_file(s.image.manifest).value_or("") + "\n";
  for (const auto& a : machine_args(s, Mode::Restore, "STATE", "EXPORT")) text += a + "\n";
  return fnv1a_hex(text);
}

// Blocking helpers for save_snapshot, which runs before any VM of the pool.
int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  ::close(fd);
  return -1;
}

bool read_with_deadline(int fd, std::string& into, Clock::time_point deadline) {
  pollfd p{fd, POLLIN, 0};
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;  // EINTR too: Ctrl-C stops the wait
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n <= 0) return false;
  into.append(buffer, static_cast<std::size_t>(n));
  return true;
}

// One QMP command; skips asynchronous events. nullopt on timeout or EOF.
std::optional<nlohmann::json> qmp(int fd, std::string& pending, const nlohmann::json& command,
                                  Clock::time_point deadline) {
  const std::string text = command.dump() + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) return std::nullopt;
  for (;;) {
    auto newline = pending.find('\n');
    while (newline == std::string::npos) {
      if (!read_with_deadline(fd, pending, deadline)) return std::nullopt;
      newline = pending.find('\n');
    }
    auto reply = nlohmann::json::parse(pending.substr(0, newline), nullptr, false);
    pending.erase(0, newline + 1);
    if (reply.is_object() && (reply.contains("return") || reply.contains("error"))) return reply;
  }
}

const nlohmann::json kIgnoreShared = {
    {"execute", "migrate-set-capabilities"},
    {"arguments", {{"capabilities", {{{"capability", "x-ignore-shared"}, {"state", true}}}}}}};

}  // namespace

Expected<std::string> migration_state(const nlohmann::json& reply) {
  // {"return": {"status": "active", ...}} or {"error": {"class": ..., "desc": ...}}
  if (!reply.is_object()) return make_error(ExitCode::InfraError, "query-migrate: not a QMP reply: " + reply.dump());
  if (auto error = reply.find("error"); error != reply.end()) {
    const std::string desc = error->is_object() && error->contains("desc") && (*error)["desc"].is_string()
                                 ? (*error)["desc"].get<std::string>()
                                 : error->dump();
    return make_error(ExitCode::InfraError, "query-migrate: qemu answered with an error: " + desc);
  }
  auto result = reply.find("return");
  if (result == reply.end() || !result->is_object())
    return make_error(ExitCode::InfraError, "query-migrate: an answer without a result: " + reply.dump());
  auto status = result->find("status");
  const std::string state = status != result->end() && status->is_string() ? status->get<std::string>() : "";
  if (state == "failed" || state == "cancelled")
    return make_error(ExitCode::InfraError, "migration " + state + ": " + reply.dump());
  return state;
}

namespace {

// Connects to qemu's QMP socket (retrying while qemu starts), negotiates,
// and returns the fd; -1 with `why` set on failure.
int qmp_open(const std::string& socket, pid_t qemu, std::string& pending, Clock::time_point deadline,
             std::string& why) {
  int fd;
  while ((fd = connect_unix(socket)) < 0) {
    if (Clock::now() > deadline) return why = "qemu's QMP socket did not appear", -1;
    if (::waitpid(qemu, nullptr, WNOHANG) == qemu) return why = "qemu exited", -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (!read_with_deadline(fd, pending, deadline) || !qmp(fd, pending, {{"execute", "qmp_capabilities"}}, deadline) ||
      !qmp(fd, pending, kIgnoreShared, deadline)) {
    ::close(fd);
    return why = "QMP did not answer", -1;
  }
  pending.clear();
  return fd;
}

// qemu's device tree for these machine options without the devices a test VM
// does not use (device_tree.h), made once per image, qemu build and options;
// "" (boot with qemu's own tree) if qemu cannot dump it.
std::string device_tree_path(const VmSettings& s) {
  VmSettings plain = s;
  plain.dtb.clear();
  std::string key = qemu_identity(s.qemu);
  for (const auto& a : machine_args(plain, Mode::Cold, "", "EXPORT")) key += a + "\n";
  return join_path(s.image.dir, "machine-" + fnv1a_hex(key) + ".dtb");
}

// That tree when it was made already; "" when not.
std::string cached_device_tree(const VmSettings& s) {
  const std::string path = device_tree_path(s);
  if (auto cached = read_file(path); cached && !device_tree_node_paths(*cached).empty()) return path;
  return "";
}

std::string trimmed_device_tree(const VmSettings& s) {
  if (std::string cached = cached_device_tree(s); !cached.empty()) return cached;
  VmSettings plain = s;
  plain.dtb.clear();
  std::vector<std::string> args = machine_args(plain, Mode::Cold, "", s.host_view ? s.host_view->root() : "/");
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
  if (!dumped.started || dumped.status != 0 || !blob) {
    log_debug("{} could not dump its device tree (exit {}): booting with its own", s.qemu, dumped.status);
    return "";
  }
  const auto used = highest_virtio_mmio_addresses(*blob, virtio_devices);
  auto trimmed = remove_device_tree_nodes(*blob, [&](std::string_view node) { return virt_node_unused(node, used); });
  if (!trimmed || used.size() != static_cast<std::size_t>(virtio_devices) || !write_file_atomically(path, *trimmed))
    return "";
  log_debug("device tree for {}: {} ({} bytes)", s.image.name, path, trimmed->size());
  return path;
}

}  // namespace

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
  auto image = find_built_image(*arch, ts);
  if (!image) return image.error();
  s.image = *image;
  auto qemu = find_program(arch->qemu_system);
  if (!qemu)
    return make_error(
        ExitCode::CannotExecute,
        std::string(arch->qemu_system) + " is not installed: sudo apt-get install " + std::string(arch->qemu_package));
  s.qemu = *qemu;
  s.cpu = ts.vm_cpu.value_or(std::string(arch->cpu));
  if (ts.vm_memory) s.memory_mb = static_cast<int>(*ts.vm_memory);  // range-checked by the config
  s.shares = ts.shares;
  s.append = ts.vm_append.value_or("");
  for (const auto& share : s.shares)
    if (!is_directory(share))
      return make_error(ExitCode::Usage,
                        "targets." + target + ".shares: " + xrun::quoted(share) + " is not a directory");
  s.dtb = cached_device_tree(s);
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
  s.dtb = trimmed_device_tree(s);
  return s;
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
// different settings (vm_memory, say) each keep theirs instead of replacing
// each other's.
std::string saved_state_dir(const VmSettings& s) {
  return join_path(s.image.dir, "snapshot-" + snapshot_key(s).substr(0, 16));
}

std::optional<std::string> find_saved_state(const VmSettings& s) {
  const std::string dir = saved_state_dir(s);
  if (read_file(join_path(dir, "key")).value_or("") == snapshot_key(s) + "\n" &&
      is_regular_file(join_path(dir, "state")))
    return dir;
  return std::nullopt;
}

Expected<std::string> ensure_snapshot(const VmSettings& s) {
  if (auto saved = find_saved_state(s)) return *saved;
  const std::string key = snapshot_key(s);
  const std::string dir = saved_state_dir(s);
  // Made in a private directory and renamed into place: two xruns racing
  // here both succeed, one of them wins.
  const auto started = Clock::now();
  std::error_code ec;
  const std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
  // Leftovers of runs killed while saving (128 MiB each): their pid is gone.
  for (const auto& entry : fs::directory_iterator(s.image.dir, ec)) {
    const std::string name = entry.path().filename().string();
    const auto mark = name.find(".tmp-");
    if (name.rfind("snapshot", 0) != 0 || mark == std::string::npos) continue;
    const pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + mark + 5));
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  const std::string agent_socket = join_path(s.work_dir, "save.sock"), qmp_socket = join_path(s.work_dir, "save.qmp"),
                    console = join_path(s.work_dir, "save-console.log");
  auto pid =
      spawn_qemu(qemu_command(s, Mode::SaveState, tmp, agent_socket, console, qmp_socket), console, s.host_view.get());
  if (!pid) return pid.error();
  int agent_fd = -1, qmp_fd = -1;
  const auto cleanup = [&] {
    if (agent_fd >= 0) ::close(agent_fd);
    if (qmp_fd >= 0) ::close(qmp_fd);
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
  };
  const auto fail = [&](const std::string& why) -> Error {
    cleanup();
    fs::remove_all(tmp, ec);
    return make_error(ExitCode::InfraError, "cannot save the VM's state: " + why + "; last console lines (" +
                                                keep_console_log(console, s.image.name) +
                                                "):" + last_lines(read_file(console).value_or(""), 8));
  };
  const auto deadline = started + std::chrono::milliseconds(static_cast<int>(s.boot_timeout_seconds * 1000));
  std::string pending, why;
  if ((qmp_fd = qmp_open(qmp_socket, *pid, pending, deadline, why)) < 0) return fail(why);
  if ((agent_fd = connect_unix(agent_socket)) < 0) return fail("cannot connect to the agent socket");
  const std::string hello = encode_hello(1);
  if (::write(agent_fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) return fail("agent socket");
  AgentFrameReader reader;
  bool ready = false;
  while (!ready) {
    std::string bytes;
    if (!read_with_deadline(agent_fd, bytes, deadline))
      return fail(::waitpid(*pid, nullptr, WNOHANG) == *pid ? "qemu exited"
                  : Clock::now() < deadline
                      ? "interrupted"
                      : "the VM did not become ready in " + format_seconds(s.boot_timeout_seconds));
    reader.feed(bytes);
    while (auto frame = reader.next()) ready |= frame->type == XRUN_HELLO_ACK;
  }
  const auto qmp_deadline = Clock::now() + std::chrono::seconds(20);
  auto started_migration =
      qmp(qmp_fd, pending, {{"execute", "migrate"}, {"arguments", {{"uri", "exec:cat > " + tmp + "/state"}}}},
          qmp_deadline);
  if (!started_migration || started_migration->contains("error"))
    return fail("migrate: " + (started_migration ? started_migration->dump() : std::string("no answer")));
  for (;;) {
    auto status = qmp(qmp_fd, pending, {{"execute", "query-migrate"}}, qmp_deadline);
    if (!status) return fail("query-migrate did not answer");
    const auto state = migration_state(*status);
    if (!state) return fail(state.error().message);
    if (*state == "completed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  cleanup();
  std::ofstream(join_path(tmp, "key")) << key << "\n";
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    if (!is_regular_file(join_path(dir, "state"))) return make_error(ExitCode::InfraError, "cannot store " + dir);
  }
  log_debug("saved the VM state of {} in {:.2f} s", s.image.name,
            std::chrono::duration<double>(Clock::now() - started).count());
  // The newest few saved states stay (128 MiB of RAM each, and more).
  constexpr std::size_t kKeptStates = 3;
  std::vector<fs::directory_entry> states;
  for (const auto& entry : fs::directory_iterator(s.image.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if ((name.rfind("snapshot-", 0) == 0 || name == "snapshot") && entry.is_directory(ec) && entry.path() != dir)
      states.push_back(entry);
  }
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a.last_write_time() > b.last_write_time(); });
  for (std::size_t i = kKeptStates - 1; i < states.size(); ++i) fs::remove_all(states[i].path(), ec);
  return dir;
}

// ------------------------------------------------------------------ Vm ---

Vm::Vm(asio::io_context& io, const VmSettings& settings, int index, bool from_snapshot)
    : io_(io), settings_(settings), index_(index), from_snapshot_(from_snapshot), connect_timer_(io), boot_timer_(io) {
  static int generation = 0;
  const std::string stem =
      join_path(settings.work_dir, "vm" + std::to_string(index) + "-" + std::to_string(++generation));
  agent_socket_ = stem + ".sock";
  qmp_socket_ = stem + ".qmp";
  console_log_ = stem + "-console.log";
}

Vm::~Vm() {
  if (session_) session_->close("the VM is gone");
  if (pid_ > 0 && !dead_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string Vm::name() const { return "VM " + std::to_string(index_) + " (" + settings_.image.name + ")"; }

void Vm::start(ReadyHandler ready) {
  ready_handler_ = std::move(ready);
  started_at_ = Clock::now();
  if (auto error = spawn()) {
    dead_ = true;
    asio::post(io_, [self = shared_from_this(), e = *error] {
      if (auto handler = std::exchange(self->ready_handler_, nullptr)) handler(e);
    });
    return;
  }
  const double limit = from_snapshot_ ? settings_.restore_timeout_seconds : settings_.boot_timeout_seconds;
  boot_timer_.expires_after(std::chrono::milliseconds(static_cast<int>(limit * 1000)));
  boot_timer_.async_wait([weak = weak_from_this(), limit](const auto& error) {
    auto self = weak.lock();
    if (error || !self || self->ready_ || self->dead_) return;
    self->die("the VM did not become ready in " + format_seconds(limit));
  });
  // Posted: the pool stores this VM before any handler can run, and every
  // VM of a pool is spawned before the first one is talked to.
  asio::post(io_, [self = shared_from_this()] { self->try_connect(); });
}

std::optional<std::string> Vm::spawn() {
  auto argv = qemu_command(settings_, from_snapshot_ ? Mode::Restore : Mode::Cold, settings_.image.snapshot_dir,
                           agent_socket_, console_log_, from_snapshot_ ? qmp_socket_ : "");
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
  log_debug("VM {}: {}", index_, line);
  auto pid = spawn_qemu(argv, console_log_, settings_.host_view.get());
  if (!pid) return pid.error().message;
  pid_ = *pid;
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pid_fd < 0) {
    // Without a pidfd nobody would notice this qemu end, or end it: do now.
    const std::string why = std::string("pidfd_open: ") + std::strerror(errno);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return why;
  }
  exit_watch_.emplace(io_, pid_fd);
  watch_exit();
  return std::nullopt;
}

void Vm::watch_exit() {
  exit_watch_->async_wait(
      asio::posix::stream_descriptor::wait_read, [weak = weak_from_this(), this](const auto& error) {
        auto self = weak.lock();
        if (error || !self || dead_ || pid_ <= 0) return;
        // Never a blocking wait: a readiness event can be stale (asio may hand an
        // event of a closed pidfd to a new one that reused its number when a VM
        // is replaced), and a blocking waitpid would then stall every VM.
        int status = 0;
        const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
        if (reaped == 0) {
          watch_exit();
          return;
        }
        pid_ = -1;
        std::string how = reaped < 0            ? "is gone"
                          : WIFSIGNALED(status) ? "was killed by " + signal_name(WTERMSIG(status))
                                                : "exited with status " + std::to_string(WEXITSTATUS(status));
        die("qemu " + how + " (a guest kernel panic ends qemu too)");
      });
}

void Vm::try_connect() {
  if (dead_) return;
  if (from_snapshot_ && !incoming_started_) {
    // A few milliseconds of blocking QMP: qemu answers as soon as it is up.
    std::string pending, why;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    const int fd = qmp_open(qmp_socket_, pid_, pending, deadline, why);
    const auto started = fd >= 0
                             ? qmp(fd, pending,
                                   {{"execute", "migrate-incoming"},
                                    {"arguments", {{"uri", "exec:cat " + settings_.image.snapshot_dir + "/state"}}}},
                                   deadline)
                             : std::nullopt;
    if (fd >= 0) ::close(fd);
    if (!started || started->contains("error")) {
      die("cannot restore the saved state: " + (started ? started->dump() : why));
      return;
    }
    incoming_started_ = true;
  }
  const int fd = connect_unix(agent_socket_);
  if (fd < 0) {
    connect_timer_.expires_after(std::chrono::milliseconds(3));
    connect_timer_.async_wait([weak = weak_from_this()](const auto& e) {
      if (auto self = weak.lock(); self && !e && !self->dead_) self->try_connect();
    });
    return;
  }
  AgentSession::Events events;
  events.ready = [weak = weak_from_this()](const std::string& release) {
    auto self = weak.lock();
    if (!self || self->ready_ || self->dead_) return;
    self->ready_ = true;
    self->boot_timer_.cancel();
    log_debug("VM {} ready in {:.3f} s ({}, kernel {})", self->index_,
              std::chrono::duration<double>(Clock::now() - self->started_at_).count(),
              self->from_snapshot_ ? "restored" : "cold boot", release);
    if (auto handler = std::exchange(self->ready_handler_, nullptr)) handler(std::nullopt);
  };
  events.closed = [weak = weak_from_this()](const std::string& reason) {
    auto self = weak.lock();
    return self ? self->die(reason) : reason;
  };
  AgentSession::Options options;
  options.name = "VM " + std::to_string(index_);
  options.unresponsive_seconds = settings_.unresponsive_seconds;
  session_ = AgentSession::open(io_, fd, fd, options, std::move(events));
  // With the host's clock: restored from saved state, the guest's is the
  // one it was saved with (hours behind), until the agent sets it.
  session_->hello(static_cast<std::uint32_t>(index_ + 1) * 7919u, true);
}

void Vm::kill(const std::string& reason) {
  quiet_ = true;  // asked for: not a failure worth keeping the console log for
  on_death = nullptr;
  die(reason);
}

std::string Vm::die(const std::string& reason) {
  if (dead_) return reason;
  dead_ = true;
  auto self = shared_from_this();
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  boost::system::error_code ignored;
  if (exit_watch_) exit_watch_->close(ignored);
  connect_timer_.cancel();
  boot_timer_.cancel();
  // A panic prints a long backtrace; its first line says what happened.
  const std::string console = read_file(console_log_).value_or("");
  std::string what = reason;
  if (auto panic = console.find("Kernel panic"); panic != std::string::npos) {
    auto end = console.find('\n', panic);
    what = "the guest kernel panicked: \"" + console.substr(panic, end == std::string::npos ? end : end - panic) +
           "\" (" + reason + ")";
  }
  // A VM that failed keeps its console log where the user finds it (the
  // run's work directory goes at its end).
  const std::string log = quiet_ ? console_log_ : keep_console_log(console_log_, settings_.image.name);
  const std::string message = name() + ": " + what + "; last console lines (" + log + "):" + last_lines(console, 6);
  if (auto handler = std::exchange(ready_handler_, nullptr)) {
    if (session_) session_->close(message);
    handler(message);
    return message;
  }
  if (session_) session_->close(message);  // its jobs end with this message (no-op when the session ended first)
  if (auto death = std::exchange(on_death, nullptr)) death(message);
  return message;
}

bool Vm::failed() const { return dead_ && !quiet_; }

std::string Vm::console_tail(std::size_t lines) const {
  return last_lines(read_file(console_log_).value_or(""), lines);
}

}  // namespace xrun
