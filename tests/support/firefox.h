// A second real browser for the HTML report's tests: Debian's Firefox ESR,
// headless, driven over WebDriver BiDi (its built-in remote protocol, a
// WebSocket on loopback): open a report from file://, run an expression in
// the page, read its result.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "support/temp_dir.h"
#include "support/waits.h"

extern char** environ;

namespace xrun::testing {

class Firefox {
 public:
  Firefox() {
    const std::string log = profile_.path() + "/firefox.log";
    std::vector<std::string> args = {
        XRUN_FIREFOX, "--headless", "--no-remote", "--profile", profile_.path() + "/p", "--remote-debugging-port", "0"};
    ::mkdir((profile_.path() + "/p").c_str(), 0700);
    std::ofstream{log};  // there before it is watched
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);  // its own group: all of it is stopped
    if (posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    // "WebDriver BiDi listening on ws://127.0.0.1:PORT": the log is read
    // again as Firefox writes it (inotify), until then or until it exits.
    if (pid_ > 0) wait_for_text(log, "ws://127.0.0.1:", 60, pid_);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    const auto at = text.find("ws://127.0.0.1:");
    if (at != std::string::npos)
      port_ = std::atoi(text.c_str() + at + 15);
    else
      problem_ = text;
    if (port_ > 0) connect_session();
  }
  ~Firefox() {
    if (socket_ >= 0) ::close(socket_);
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool ready() const { return !context_.empty(); }
  const std::string& problem() const { return problem_; }

  // Opens `url`, then evaluates `expression` (a promise is awaited) and
  // returns its string value ("" and problem() on failure).
  std::string evaluate_at(const std::string& url, const std::string& expression) {
    if (!ready()) return "";
    if (!call("browsingContext.navigate", {{"context", context_}, {"url", url}, {"wait", "complete"}})) return "";
    auto result = call("script.evaluate",
                       {{"expression", expression}, {"target", {{"context", context_}}}, {"awaitPromise", true}});
    if (!result || !(*result)["result"].contains("value")) return "";
    return (*result)["result"]["value"].is_string() ? (*result)["result"]["value"].get<std::string>()
                                                    : (*result)["result"]["value"].dump();
  }

 private:
  void connect_session() {
    socket_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{60, 0};
    ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(socket_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      problem_ = "cannot connect to Firefox's WebDriver BiDi port";
      return;
    }
    const std::string request = "GET /session HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: eHJ1bi13ZWJkcml2ZXIta2V5\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (!send_all(request)) return;
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(socket_, &c, 1, 0) == 1) head += c;
    if (head.find(" 101 ") == std::string::npos) {
      problem_ = "no WebSocket from Firefox: " + head;
      return;
    }
    if (!call("session.new", {{"capabilities", nlohmann::json::object()}})) return;
    auto tree = call("browsingContext.getTree", nlohmann::json::object());
    if (tree && !(*tree)["contexts"].empty()) context_ = (*tree)["contexts"][0]["context"].get<std::string>();
  }

  std::optional<nlohmann::json> call(const std::string& method, const nlohmann::json& params) {
    const int id = ++next_id_;
    if (!send_frame(nlohmann::json{{"id", id}, {"method", method}, {"params", params}}.dump())) return std::nullopt;
    for (;;) {
      auto text = receive_frame();
      if (!text) {
        problem_ = "Firefox closed the session during " + method;
        return std::nullopt;
      }
      auto message = nlohmann::json::parse(*text, nullptr, false);
      if (!message.is_object() || message.value("id", -1) != id) continue;  // an event
      if (message.value("type", "") == "error") {
        problem_ = method + ": " + message.dump();
        return std::nullopt;
      }
      return message["result"];
    }
  }

  bool send_all(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(socket_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // A client's frame is masked (RFC 6455 5.3).
  bool send_frame(const std::string& text) {
    std::string frame(1, static_cast<char>(0x81));
    const std::size_t n = text.size();
    if (n < 126) {
      frame += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(n >> 8), frame += static_cast<char>(n & 0xff);
    } else {
      frame += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8) frame += static_cast<char>((n >> shift) & 0xff);
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < n; ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    return send_all(frame);
  }
  bool receive_exact(char* into, std::size_t n) {
    for (std::size_t got = 0; got < n;) {
      const ssize_t r = ::recv(socket_, into + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  std::optional<std::string> receive_frame() {
    std::string message;
    for (;;) {
      unsigned char head[2];
      if (!receive_exact(reinterpret_cast<char*>(head), 2)) return std::nullopt;
      std::uint64_t n = head[1] & 0x7f;
      if (n >= 126) {
        unsigned char length[8];
        const int bytes = n == 126 ? 2 : 8;
        if (!receive_exact(reinterpret_cast<char*>(length), bytes)) return std::nullopt;
        n = 0;
        for (int i = 0; i < bytes; ++i) n = (n << 8) | length[i];
      }
      std::string payload(n, '\0');
      if (!receive_exact(payload.data(), n)) return std::nullopt;
      const int opcode = head[0] & 0x0f;
      if (opcode == 0x8) return std::nullopt;        // close
      if (opcode == 0x9 || opcode == 0xa) continue;  // ping, pong
      message += payload;
      if (head[0] & 0x80) return message;
    }
  }

  TempDir profile_;
  pid_t pid_ = -1;
  int port_ = 0;
  int socket_ = -1;
  int next_id_ = 0;
  std::string context_;
  std::string problem_;
};

}  // namespace xrun::testing
