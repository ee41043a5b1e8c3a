#include "engine/bounded_output.h"

namespace xrun {

void BoundedOutput::append(std::string_view bytes) {
  total_ += bytes.size();
  if (head_.size() < head_limit_) {
    const std::size_t take = std::min(bytes.size(), head_limit_ - head_.size());
    head_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
  }
  if (bytes.empty()) return;
  tail_.append(bytes);
  // Trim when the tail reaches twice its budget, so appends stay amortised O(1).
  if (tail_.size() > 2 * tail_limit_) {
    const std::size_t drop = tail_.size() - tail_limit_;
    cut_ += drop;
    tail_.erase(0, drop);
  }
}

std::uint64_t BoundedOutput::cut_bytes() const {
  return cut_ + (tail_.size() > tail_limit_ ? tail_.size() - tail_limit_ : 0);
}

std::string BoundedOutput::text() const {
  std::string_view tail = tail_;
  std::uint64_t cut = cut_;
  if (tail.size() > tail_limit_) {
    cut += tail.size() - tail_limit_;
    tail.remove_prefix(tail.size() - tail_limit_);
  }
  std::string out = head_;
  if (cut > 0) out += "\n[... xrun: " + std::to_string(cut) + " bytes of output cut ...]\n";
  out += tail;
  return out;
}

}  // namespace xrun
