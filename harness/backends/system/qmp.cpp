#include "backends/system/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace xrun {

using Clock = std::chrono::steady_clock;

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

namespace {

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

int qmp_open(const std::string& socket, pid_t qemu, std::string& pending, Clock::time_point deadline,
             std::string& why) {
  int fd;
  while ((fd = connect_unix(socket)) < 0) {
    if (Clock::now() > deadline) return why = "qemu's QMP socket did not appear", -1;
    siginfo_t ended{};  // WNOWAIT: qemu's owner (core/child_process.h) reaps it
    if (::waitid(P_PID, static_cast<id_t>(qemu), &ended, WEXITED | WNOHANG | WNOWAIT) == 0 && ended.si_pid == qemu)
      return why = "qemu exited", -1;
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

}  // namespace xrun
