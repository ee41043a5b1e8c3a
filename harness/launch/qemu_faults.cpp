#include "launch/qemu_faults.h"

namespace xrun {

bool looks_like_infra_failure(std::string_view output) {
  static constexpr std::string_view kMarkers[] = {
      "qemu: Unsupported syscall",     "qemu: fatal:",      "received signal outside vCPU context",
      "qemu: unhandled CPU exception", "QEMU internal SIG",
  };
  for (auto marker : kMarkers)
    if (output.find(marker) != std::string_view::npos) return true;
  // qemu-user's own errors are "qemu-<arch>: ..." at the start of a line
  // ("qemu-aarch64: unable to find CPU model 'x'", "... Could not open ...").
  for (std::size_t at = 0; at < output.size();) {
    const std::size_t end = std::min(output.find('\n', at), output.size());
    const std::string_view line = output.substr(at, end - at);
    if (line.rfind("qemu-", 0) == 0) {
      const std::size_t colon = line.find(": ");
      if (colon != std::string_view::npos && colon > 5 &&
          line.substr(5, colon - 5).find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
              std::string_view::npos)
        return true;
    }
    at = end + 1;
  }
  return false;
}

void QemuFaultScan::feed(std::string_view bytes) {
  // Lines longer than this are a test's own output, never qemu's message.
  constexpr std::size_t kLongestLine = 4096;
  while (!found_ && !bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, newline);
    if (partial_.size() < kLongestLine) partial_.append(piece.substr(0, kLongestLine - partial_.size()));
    if (newline == std::string_view::npos) return;
    check(partial_);
    partial_.clear();
    bytes.remove_prefix(newline + 1);
  }
}

void QemuFaultScan::check(std::string_view line) {
  if (!found_ && looks_like_infra_failure(line)) found_ = std::string(line);
}

std::optional<std::string> QemuFaultScan::finish() {
  if (!partial_.empty()) check(partial_);
  partial_.clear();
  return found_;
}

}  // namespace xrun
