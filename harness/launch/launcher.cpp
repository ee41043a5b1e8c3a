#include "launch/launcher.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/suggest.h"
#include "launch/qemu_check.h"
#include "probe/binary_probe.h"

extern char** environ;

namespace xrun {

namespace {

// Whether this kernel runs 32-bit x86 programs. An x86_64 kernel built with
// IA32 emulation may still refuse them (ia32_emulation=0, or a hypervisor
// whose guests have no 32-bit user mode: execve says ENOEXEC), so it is asked
// once, by executing the smallest i386 program there is (exit(0) by int 0x80)
// from a memfd.
bool kernel_runs_ia32() {
  static const bool runs = [] {
    constexpr std::uint32_t kBase = 0x08048000, kSize = 52 + 32 + 9;
    unsigned char image[kSize] = {0x7f, 'E', 'L', 'F', 1 /*32-bit*/, 1 /*LSB*/, 1 /*version*/};
    const auto put16 = [&](std::size_t at, std::uint16_t v) { image[at] = v & 0xff, image[at + 1] = v >> 8; };
    const auto put32 = [&](std::size_t at, std::uint32_t v) {
      for (int i = 0; i < 4; ++i) image[at + i] = (v >> (8 * i)) & 0xff;
    };
    put16(16, 2 /*ET_EXEC*/), put16(18, 3 /*EM_386*/), put32(20, 1), put32(24, kBase + 84), put32(28, 52);
    put16(40, 52), put16(42, 32), put16(44, 1);
    put32(52, 1 /*PT_LOAD*/), put32(56, 0), put32(60, kBase), put32(64, kBase), put32(68, kSize), put32(72, kSize);
    put32(76, 5 /*R+X*/), put32(80, 0x1000);
    const unsigned char code[] = {0xb8, 1, 0, 0, 0, 0x31, 0xdb, 0xcd, 0x80};  // mov eax,1; xor ebx,ebx; int 0x80
    std::copy(std::begin(code), std::end(code), image + 84);
    const int fd = static_cast<int>(::syscall(SYS_memfd_create, "xrun-ia32-probe", MFD_CLOEXEC));
    if (fd < 0) return true;  // cannot ask: assume the common case
    if (::write(fd, image, kSize) != static_cast<ssize_t>(kSize)) {
      ::close(fd);
      return true;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      char* const argv[] = {const_cast<char*>("xrun-ia32-probe"), nullptr};
      char* const envp[] = {nullptr};
      ::fexecve(fd, argv, envp);
      ::_exit(errno == ENOEXEC ? 126 : 125);
    }
    ::close(fd);
    if (pid < 0) return true;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 126);
  }();
  return runs;
}

bool is_native_on_host_impl(const TargetSpec& spec) {
  static const std::string host = host_machine();
  if (std::find(spec.native_on.begin(), spec.native_on.end(), host) == spec.native_on.end()) return false;
  // A 32-bit x86 program on an x86_64 host: only where the kernel runs them.
  if (host == "x86_64" && spec.elf_machine == 3 /*EM_386*/ && !kernel_runs_ia32()) return false;
  return true;
}

Expected<const TargetSpec*> pick_target(const RunRequest& request, const std::string& path, const ElfInfo& elf,
                                        const TargetTable& table) {
  const TargetSpec* probed = table.match(elf);
  if (request.target) {
    const TargetSpec* forced = table.find(*request.target);
    if (forced == nullptr) {
      return make_error(ExitCode::Usage,
                        "unknown target " + quoted(*request.target) + did_you_mean(*request.target, table.names()));
    }
    if (!forced->matches(elf)) {
      return make_error(ExitCode::CannotExecute, path + ": built for " + (probed ? probed->name : elf.describe()) +
                                                     ", not for " + forced->name + " (--target " + *request.target +
                                                     ")");
    }
    return forced;
  }
  if (probed == nullptr) {
    std::string known;
    for (const auto& name : table.names()) known += (known.empty() ? "" : ", ") + name;
    return make_error(ExitCode::CannotExecute,
                      path + ": " + elf.describe() + " is not an architecture xrun can run (known: " + known + ")");
  }
  return probed;
}

}  // namespace

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "@%_-+=:,./") == std::string::npos)
    return word;
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string LaunchPlan::command_line() const {
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty()) out += ' ';
    out += shell_quote(word);
  }
  return out;
}

void set_environment(std::vector<std::string>& env, const std::vector<std::string>& changes) {
  if (changes.empty()) return;
  const auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::unordered_map<std::string, std::size_t> index;  // name -> position in env
  index.reserve(env.size() + changes.size());
  for (std::size_t i = 0; i < env.size(); ++i) index.emplace(name_of(env[i]), i);
  for (const auto& change : changes) {
    auto [it, added] = index.emplace(name_of(change), env.size());
    if (added)
      env.push_back(change);
    else
      env[it->second] = change;
  }
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) env.emplace_back(*entry);
  return env;
}

Expected<LaunchPlan> plan_launch(const RunRequest& request, const Config& config, const TargetTable& table,
                                 const OverlayStore& overlays, const std::vector<std::string>& environment) {
  if (request.program.empty()) return make_error(ExitCode::NotFound, "empty program name");
  // Look programs up in the PATH the program will get, as a shell would.
  std::optional<std::string> path_variable;
  for (const auto& entry : environment)
    if (entry.rfind("PATH=", 0) == 0) path_variable = entry.substr(5);
  if (!path_variable) path_variable = std::string();
  auto resolved = find_program(request.program, path_variable);
  if (!resolved) return make_error(ExitCode::NotFound, request.program + ": command not found");
  const std::string& path = *resolved;
  const std::string argv0 = request.argv0.value_or(request.program);

  LaunchPlan plan;
  plan.env = environment;

  std::optional<BinaryInfo> probed;
  const BinaryInfo* binary = request.binary;
  if (!binary) {
    auto read = probe_binary(path);
    if (!read) return read.error();
    binary = &probed.emplace(std::move(*read));
  }
  if (binary->format == BinaryFormat::Script) {
    // A script: the kernel runs its interpreter natively, as it would without xrun.
    if (::access(path.c_str(), X_OK) != 0) return make_error(ExitCode::CannotExecute, path + ": permission denied");
    plan.executable = path;
    plan.argv.push_back(argv0);
    plan.argv.insert(plan.argv.end(), request.args.begin(), request.args.end());
    return plan;
  }
  if (binary->problem) return *binary->problem;
  if (!binary->elf)  // a format of other launchers (routing sends none here)
    return make_error(ExitCode::CannotExecute, path + ": " + binary->describe() + ", not an ELF executable");
  const ElfInfo* elf = &*binary->elf;
  // Natively, execve needs the execute bit; qemu would not care. Be native.
  if (::access(path.c_str(), X_OK) != 0) return make_error(ExitCode::CannotExecute, path + ": permission denied");
  if (elf->is_bare_metal()) {
    return make_error(ExitCode::CannotExecute,
                      path + ": " + elf->describe() +
                          ": bare-metal firmware needs a machine model (qemu-system), which xrun does not run yet");
  }
  auto target = request.spec ? Expected<const TargetSpec*>(request.spec) : pick_target(request, path, *elf, table);
  if (!target) return target.error();
  const TargetSpec& spec = **target;
  const TargetSettings& settings = config.target(spec.name);
  plan.target = spec.name;
  if (!settings.env.empty()) {
    std::vector<std::string> changes;
    changes.reserve(settings.env.size());
    for (const auto& [name, value] : settings.env) changes.push_back(name + "=" + value);
    set_environment(plan.env, changes);
  }

  if (runs_natively(spec, *elf)) {
    plan.executable = path;
    plan.argv.push_back(argv0);
    plan.argv.insert(plan.argv.end(), request.args.begin(), request.args.end());
    return plan;
  }

  const std::string qemu_name = settings.qemu.value_or(spec.qemu);
  auto qemu = find_program(qemu_name, path_variable);
  if (!qemu || !is_regular_file(*qemu) || ::access(qemu->c_str(), X_OK) != 0) {
    if (settings.qemu)
      return make_error(ExitCode::CannotExecute, "the configured qemu for " + spec.name + ", " + quoted(qemu_name) +
                                                     ", is not an executable file");
    return make_error(ExitCode::CannotExecute, qemu_name + " not found, needed to run " + path + " (" + spec.name +
                                                   "): install " + spec.packages.qemu + " (apt-get install " +
                                                   spec.packages.qemu + ")");
  }

  // What the user configured for qemu, checked against this qemu (cached).
  if (settings.cpu || settings.qemu_args)
    if (auto checked = check_qemu_settings(*qemu, spec.name, settings.cpu, settings.qemu_args); !checked)
      return checked.error();

  plan.emulated = true;
  plan.executable = *qemu;
  plan.argv = {qemu_name};
  const std::string cpu = settings.cpu.value_or(spec.cpu);
  if (!cpu.empty()) plan.argv.insert(plan.argv.end(), {"-cpu", cpu});

  if (elf->interpreter) {
    auto sysroot = choose_sysroot(spec, settings, *elf, overlays);
    if (!sysroot) return make_error(sysroot.error().code, path + ": " + sysroot.error().message);
    plan.sysroot = *sysroot;
    if (!sysroot->qemu_prefix.empty()) plan.argv.insert(plan.argv.end(), {"-L", sysroot->qemu_prefix});
  }

  // qemu-user hands its whole environment to the program, including the
  // QEMU_* variables that configure qemu itself. Keep them for qemu, hide
  // them from the program (-U unsets in the guest only).
  for (const auto& entry : plan.env) {
    if (entry.rfind("QEMU_", 0) != 0) continue;
    plan.argv.insert(plan.argv.end(), {"-U", entry.substr(0, entry.find('='))});
  }
  if (settings.qemu_args) plan.argv.insert(plan.argv.end(), settings.qemu_args->begin(), settings.qemu_args->end());

  // qemu names the program by the path it opens; say argv[0] explicitly when
  // that differs, and never let a path that starts with '-' read as an option.
  std::string program_path = path;
  if (program_path[0] == '-') program_path = "./" + program_path;
  if (argv0 != program_path) plan.argv.insert(plan.argv.end(), {"-0", argv0});
  plan.argv.push_back(program_path);
  plan.argv.insert(plan.argv.end(), request.args.begin(), request.args.end());
  return plan;
}

bool host_runs_target(const TargetSpec& spec) { return is_native_on_host_impl(spec); }

bool runs_natively(const TargetSpec& spec, const ElfInfo& elf) {
  return host_runs_target(spec) && (!elf.interpreter || path_exists(*elf.interpreter));
}

Error exec_plan(const LaunchPlan& plan) {
  std::vector<char*> argv, envp;
  for (const auto& word : plan.argv) argv.push_back(const_cast<char*>(word.c_str()));
  argv.push_back(nullptr);
  for (const auto& entry : plan.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  ::execve(plan.executable.c_str(), argv.data(), envp.data());
  const int err = errno;
  return make_error(err == ENOENT ? ExitCode::NotFound : ExitCode::CannotExecute,
                    plan.executable + ": cannot execute: " + std::strerror(err));
}

}  // namespace xrun
