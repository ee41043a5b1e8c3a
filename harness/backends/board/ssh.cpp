#include "backends/board/ssh.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/fs_util.h"
#include "launch/launcher.h"

namespace xrun {

using Clock = std::chrono::steady_clock;

namespace {

std::string seconds_text(double s) { return std::to_string(std::max(1, static_cast<int>(s + 0.999))); }

// The child side of a fork: own group, dies with xrun, stdio as given.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, int in, int out, int err, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::dup2(in, STDIN_FILENO);
  ::dup2(out, STDOUT_FILENO);
  ::dup2(err, STDERR_FILENO);
  ::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  _exit(127);
}

}  // namespace

std::string quoted_tail(const std::string& text, std::size_t count) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // ssh ends its lines with CR LF at times
    if (!line.empty()) lines.push_back(line);
  }
  std::string out;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    out += "\n    " + lines[i];
  return out;
}

std::string shell_command(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + shell_quote(w);
  return out;
}

std::vector<std::string> ssh_options(const SshEndpoint& e) {
  const BoardSettings& s = e.settings;
  std::vector<std::string> o;
  if (s.ssh_config) o.insert(o.end(), {"-F", *s.ssh_config});
  if (s.user) o.insert(o.end(), {"-l", *s.user});
  if (s.port) o.insert(o.end(), {"-p", std::to_string(*s.port)});
  if (s.identity) o.insert(o.end(), {"-i", *s.identity, "-o", "IdentitiesOnly=yes"});
  // Never a prompt (xrun has no terminal to ask on), never forever: a board
  // that stops answering is noticed within ServerAlive * CountMax.
  o.insert(o.end(), {"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + seconds_text(s.connect_timeout), "-o",
                     "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "ConnectionAttempts=1", "-o",
                     "LogLevel=ERROR", "-T", "-a", "-x"});
  if (!e.control_path.empty()) o.insert(o.end(), {"-o", "ControlPath=" + e.control_path});
  if (!e.known_hosts.empty()) {
    o.insert(o.end(), {"-o", "HostKeyAlias=xrun-board-" + e.board, "-o", "UserKnownHostsFile=" + e.known_hosts, "-o",
                       "GlobalKnownHostsFile=/dev/null",
                       // The file is the run's own and starts empty: the master's connection
                       // records the key it meets, which is checked against the pin
                       // (check_pinned_host_key) before anything runs through it. A key
                       // that differs later is refused.
                       "-o", "StrictHostKeyChecking=accept-new"});
  } else {
    o.insert(o.end(), {"-o", "StrictHostKeyChecking=yes"});
  }
  return o;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input, double timeout,
                          std::size_t max_output) {
  CommandResult result;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return result;
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return result;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return result;
  if (pid == 0) exec_child(argv, in[0], out[1], err[1], parent);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  result.started = true;
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in[1]);
    in[1] = -1;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(timeout * 1000));
  int open_outputs = 2;
  while (open_outputs > 0 && !result.too_much) {
    pollfd fds[3];
    int n = 0;
    int out_at = -1, err_at = -1, in_at = -1;
    if (out[0] >= 0) out_at = n, fds[n++] = {out[0], POLLIN, 0};
    if (err[0] >= 0) err_at = n, fds[n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) in_at = n, fds[n++] = {in[1], POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    if (::poll(fds, static_cast<nfds_t>(n), static_cast<int>(left)) < 0 && errno != EINTR) break;
    char buffer[65536];
    for (auto [at, fd, text] : {std::tuple{out_at, &out[0], &result.out}, std::tuple{err_at, &err[0], &result.err}}) {
      if (at < 0 || !(fds[at].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t r = ::read(*fd, buffer, sizeof buffer);
      if (r > 0) {
        text->append(buffer, std::min(static_cast<std::size_t>(r), max_output - std::min(max_output, text->size())));
        result.too_much |= text->size() >= max_output;
      } else if (r == 0 || errno != EINTR) {
        ::close(*fd);
        *fd = -1;
        --open_outputs;
      }
    }
    if (in_at >= 0 && (fds[in_at].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t w = ::write(in[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
        ::close(in[1]);
        in[1] = -1;
      }
    }
  }
  for (int fd : {in[1], out[0], err[0]})
    if (fd >= 0) ::close(fd);
  if (result.timed_out || result.too_much) ::kill(-pid, SIGKILL), ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Expected<PipedChild> spawn_piped(const std::vector<std::string>& argv, const std::string& stderr_log) {
  int in[2], out[2];
  const int log = ::open(stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0 || ::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
    return make_error(ExitCode::InfraError, std::string("cannot start ssh: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(ExitCode::InfraError, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) exec_child(argv, in[0], out[1], log, parent);
  ::setpgid(pid, pid);
  ::close(in[0]);
  ::close(out[1]);
  ::close(log);
  return PipedChild{pid, in[1], out[0]};
}

namespace {

// The fingerprints ("SHA256:...") of the keys in a known_hosts file.
std::vector<std::string> fingerprints_in(const std::string& known_hosts) {
  const CommandResult prints = run_command({"ssh-keygen", "-lf", known_hosts}, "", 10);
  std::vector<std::string> out;
  std::istringstream listed(prints.out);
  for (std::string line; std::getline(listed, line);) {
    std::istringstream words(line);
    std::string bits, fingerprint;
    words >> bits >> fingerprint;
    if (fingerprint.rfind("SHA256:", 0) == 0) out.push_back(fingerprint);
  }
  return out;
}

}  // namespace

Expected<std::vector<std::string>> fetch_host_key(const SshEndpoint& e, const std::string& scratch) {
  // One connection that records the key the board presents in a file of
  // our own and authenticates with nothing: ssh-keyscan would open one
  // connection per key type, and Dropbear drops a client address's sixth
  // unauthenticated connection.
  SshEndpoint probe = e;
  probe.control_path.clear();
  probe.known_hosts = scratch;
  std::error_code ec;
  std::filesystem::remove(scratch, ec);
  std::vector<std::string> argv{"ssh"};
  for (auto& o : ssh_options(probe))
    argv.push_back(o == "StrictHostKeyChecking=yes" ? "StrictHostKeyChecking=accept-new" : o);
  argv.insert(argv.end(),
              {"-o", "PreferredAuthentications=none", "-o", "NumberOfPasswordPrompts=0", e.settings.host, "true"});
  const CommandResult tried = run_command(argv, "", e.settings.connect_timeout + 5);
  auto prints = fingerprints_in(scratch);
  std::filesystem::remove(scratch, ec);
  if (prints.empty())
    return make_error(ExitCode::InfraError,
                      "board " + e.board + ": no SSH server answered within " +
                          seconds_text(e.settings.connect_timeout) + " s (" +
                          (tried.err.empty() ? "no message" : tried.err.substr(0, tried.err.find('\n'))) + ")");
  return prints;
}

Expected<bool> check_pinned_host_key(const SshEndpoint& e) {
  if (!e.settings.host_key) return true;
  const auto prints = fingerprints_in(e.known_hosts);
  for (const auto& p : prints)
    if (p == *e.settings.host_key) return true;
  std::string presented;
  for (const auto& p : prints) presented += (presented.empty() ? "" : ", ") + p;
  return make_error(ExitCode::InfraError, "board " + e.board + ": its host key is not the pinned one (host_key = \"" +
                                              *e.settings.host_key + "\"); it presents " +
                                              (presented.empty() ? "none" : presented) +
                                              ". If the board was reinstalled, pin the new key in [boards." + e.board +
                                              "]; otherwise something else answers at its address");
}

std::string explain_ssh_failure(const SshEndpoint& e, const std::string& stderr_text) {
  std::string text = stderr_text;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.find("Host key verification failed") != std::string::npos ||
      text.find("REMOTE HOST IDENTIFICATION HAS CHANGED") != std::string::npos) {
    auto prints = fetch_host_key(e, e.control_path + ".key");
    std::string presented;
    if (prints)
      for (const auto& p : *prints) presented += (presented.empty() ? "" : " or ") + p;
    return "board " + e.board +
           ": its host key is unknown or changed (ssh: Host key verification failed). xrun never "
           "accepts a key blindly: check it, then pin it in [boards." +
           e.board + "] as host_key = \"" + (presented.empty() ? "SHA256:..." : presented) +
           "\", or add it to ~/.ssh/known_hosts";
  }
  return "board " + e.board + ": ssh failed: " + (text.empty() ? "no message" : text);
}

}  // namespace xrun
