// Keeps a test's output within a fixed budget: the first `head` bytes and the
// last `tail` bytes, and counts what was dropped in between. A test that
// prints gigabytes costs xrun at most head + tail bytes of memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xrun {

class BoundedOutput {
 public:
  explicit BoundedOutput(std::size_t head = 64 * 1024, std::size_t tail = 64 * 1024)
      : head_limit_(head), tail_limit_(tail) {}

  void append(std::string_view bytes);
  // head + "[... N bytes cut ...]" + tail.
  std::string text() const;
  std::uint64_t cut_bytes() const;
  std::uint64_t total_bytes() const { return total_; }

 private:
  std::size_t head_limit_, tail_limit_;
  std::string head_;
  std::string tail_;  // ring contents kept contiguous; trimmed lazily
  std::uint64_t cut_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace xrun
