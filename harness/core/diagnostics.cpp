#include "core/diagnostics.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/warnings.h"

namespace xrun {

namespace {

void print_labelled(std::string_view label, const char* color, std::string_view message) {
  std::string line = "xrun: ";
  if (stderr_wants_color()) {
    line += color;
    line += label;
    line += "\033[0m";
  } else {
    line += label;
  }
  line += ": ";
  line += message;
  line += '\n';
  // One write so concurrent writers (and the program's own stderr) never
  // interleave inside our line.
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

bool stderr_wants_color() {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return ::isatty(STDERR_FILENO) == 1;
}

// A message of several lines (e.g. every problem in a config file) is several
// diagnostics: each line gets its own prefix.
void print_error(std::string_view message) {
  while (true) {
    const auto newline = message.find('\n');
    print_labelled("error", "\033[1;31m", message.substr(0, newline));
    if (newline == std::string_view::npos) break;
    message.remove_prefix(newline + 1);
  }
}

void print_warning(std::string_view message) { print_labelled("warning", "\033[1;33m", message); }

Warnings& stderr_warnings() {
  class StderrWarnings final : public Warnings {
   public:
    void warn(const std::string& message) override { print_warning(message); }
  };
  static StderrWarnings warnings;
  return warnings;
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string format_seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g s", seconds);
  return buffer;
}

}  // namespace xrun
