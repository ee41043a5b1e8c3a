// The debug trace (--verbose, XRUN_LOG=debug): what xrun decided and what it
// launches. It goes to stderr as "xrun: [level] message". Not for messages
// to the user -- those are diagnostics.h.
//
// spdlog writes it, but only log.cpp includes spdlog: its header (with fmt)
// costs half a minute of compiling in every file that includes it, and most
// of xrun's files log. Messages use "{}" placeholders, filled in order with
// the arguments ("{:.2f}": a number with that many decimals).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace xrun {

// Installs the stderr logger. `verbose` forces at least debug; otherwise
// XRUN_LOG decides (trace, debug, info, warn, error, off; default warn).
void init_logging(bool verbose);
// -v written before a subcommand: every later init_logging() is verbose.
void request_verbose_logging();

enum class LogLevel { Trace, Debug, Info, Warn, Error };
bool log_enabled(LogLevel level);
void log_message(LogLevel level, std::string_view message);
void log_flush();

namespace log_detail {

struct Arg {
  std::string text;   // what "{}" shows
  double number = 0;  // for "{:.Nf}"
  bool is_number = false;
};
inline Arg arg(std::string_view text) { return {std::string(text), 0, false}; }
inline Arg arg(const char* text) { return {text ? text : "(null)", 0, false}; }
inline Arg arg(const std::string& text) { return {text, 0, false}; }
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
Arg arg(T value) {
  if constexpr (std::is_same_v<T, bool>)
    return {value ? "true" : "false", 0, false};
  else if constexpr (std::is_floating_point_v<T>)
    return {std::to_string(value), static_cast<double>(value), true};
  else
    return {std::to_string(value), static_cast<double>(value), true};
}
std::string format(std::string_view pattern, const std::vector<Arg>& args);

}  // namespace log_detail

template <typename... Args>
void log_at(LogLevel level, std::string_view pattern, const Args&... args) {
  if (!log_enabled(level)) return;
  log_message(level, log_detail::format(pattern, {log_detail::arg(args)...}));
}
template <typename... Args>
void log_debug(std::string_view pattern, const Args&... args) {
  log_at(LogLevel::Debug, pattern, args...);
}
template <typename... Args>
void log_error(std::string_view pattern, const Args&... args) {
  log_at(LogLevel::Error, pattern, args...);
}

}  // namespace xrun
