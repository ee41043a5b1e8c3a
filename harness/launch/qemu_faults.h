// What qemu-user prints when it, not the program, is at fault ("qemu: fatal:",
// "qemu-aarch64: Could not open ...", an unsupported syscall). Kept next to
// the launcher because it knows qemu-user's habits; the process runner feeds
// it an emulated job's output and turns a match into JobExit::infra_error.
// A guest crash ("qemu: uncaught target signal 11") is the program's own and
// does not match.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xrun {

// True when `output` holds one of qemu-user's own failure lines.
bool looks_like_infra_failure(std::string_view output);

// Follows a stream of output line by line (a marker may be split between
// two reads) and keeps the first line that shows qemu-user failing.
class QemuFaultScan {
 public:
  void feed(std::string_view bytes);
  // The first failure line seen, at the end of the stream.
  std::optional<std::string> finish();

 private:
  void check(std::string_view line);
  std::string partial_;
  std::optional<std::string> found_;
};

}  // namespace xrun
