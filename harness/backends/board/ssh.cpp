#include "backends/board/ssh.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/fs_util.h"
#include "launch/launcher.h"

namespace xrun {

namespace {

std::string seconds_text(double s) { return std::to_string(std::max(1, static_cast<int>(s + 0.999))); }

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
  CommandOptions options;
  options.input = input;
  options.timeout_seconds = timeout;
  options.max_output = max_output;
  options.stderr_to = StderrTo::Capture;
  options.own_group = true;
  return run_helper(argv, options);
}

Expected<PipedChild> spawn_piped(const std::vector<std::string>& argv, const std::string& stderr_log) {
  const auto failed = [](const Error& e) { return make_error(ExitCode::InfraError, "cannot start ssh: " + e.message); };
  auto log = open_fd(stderr_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (!log) return failed(log.error());
  auto in = make_pipe();
  if (!in) return failed(in.error());
  auto out = make_pipe();
  if (!out) return failed(out.error());
  ChildSpec spec;
  spec.argv = argv;
  spec.stdin_fd = in->read.get();
  spec.stdout_fd = out->write.get();
  spec.stderr_fd = log->get();
  auto child = spawn_process(spec);
  if (!child) return child.error();
  return PipedChild{std::move(*child), std::move(in->write), std::move(out->read)};
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
