#include "backends/system/saved_state.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backends/system/qmp.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/log.h"
#include "engine/test_model.h"
#include "machine/agent_protocol.h"

namespace xrun {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string snapshot_key(const VmSettings& s) {
  std::string text = qemu_identity(s.qemu) + read_file(s.image.manifest).value_or("") + "\n";
  for (const auto& a : machine_args(s, QemuMode::Restore, "STATE", "EXPORT")) text += a + "\n";
  return fnv1a_hex(text);
}

// One saved state per key (qemu build, image, machine options): runs with
// different settings (vm_memory, say) each keep theirs instead of replacing
// each other's.
std::string saved_state_dir(const VmSettings& s) {
  return join_path(s.image.dir, "snapshot-" + snapshot_key(s).substr(0, 16));
}

}  // namespace

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
  auto qemu = spawn_qemu(qemu_command(s, QemuMode::SaveState, tmp, agent_socket, console, qmp_socket), console,
                         s.host_view.get());
  if (!qemu) return qemu.error();
  int agent_fd = -1, qmp_fd = -1;
  const auto cleanup = [&] {
    if (agent_fd >= 0) ::close(agent_fd);
    if (qmp_fd >= 0) ::close(qmp_fd);
    qemu->kill_and_reap();
  };
  const auto fail = [&](const std::string& why) -> Error {
    cleanup();
    fs::remove_all(tmp, ec);
    return make_error(ExitCode::InfraError, "cannot save the VM's state: " + why + "; last console lines (" +
                                                keep_console_log(console, s.image.name) +
                                                "):" + last_console_lines(read_file(console).value_or(""), 8));
  };
  const auto deadline = started + std::chrono::milliseconds(static_cast<int>(s.boot_timeout_seconds * 1000));
  std::string pending, why;
  if ((qmp_fd = qmp_open(qmp_socket, qemu->pid(), pending, deadline, why)) < 0) return fail(why);
  if ((agent_fd = connect_unix(agent_socket)) < 0) return fail("cannot connect to the agent socket");
  const std::string hello = encode_hello(1);
  if (::write(agent_fd, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) return fail("agent socket");
  AgentFrameReader reader;
  bool ready = false;
  while (!ready) {
    std::string bytes;
    if (!read_with_deadline(agent_fd, bytes, deadline))
      return fail(qemu->has_exited() ? "qemu exited"
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

}  // namespace xrun
