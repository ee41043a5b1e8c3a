// A fixed-capacity single-producer/single-consumer ring buffer, the kind of
// thing that lives in firmware and whose tests should run on the target ISA.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <vector>

class RingBuffer {
 public:
  explicit RingBuffer(std::size_t capacity);
  bool push(int value);      // false when full
  std::optional<int> pop();  // nullopt when empty
  std::size_t size() const;

 private:
  std::vector<int> slots_;
  std::atomic<std::size_t> head_{0}, tail_{0};
};
