#include "ring_buffer.h"

RingBuffer::RingBuffer(std::size_t capacity) : slots_(capacity + 1) {}

bool RingBuffer::push(int value) {
  const std::size_t tail = tail_.load(std::memory_order_relaxed);
  const std::size_t next = (tail + 1) % slots_.size();
  if (next == head_.load(std::memory_order_acquire)) return false;
  slots_[tail] = value;
  tail_.store(next, std::memory_order_release);
  return true;
}

std::optional<int> RingBuffer::pop() {
  const std::size_t head = head_.load(std::memory_order_relaxed);
  if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
  const int value = slots_[head];
  head_.store((head + 1) % slots_.size(), std::memory_order_release);
  return value;
}

std::size_t RingBuffer::size() const {
  const std::size_t head = head_.load(), tail = tail_.load();
  return (tail + slots_.size() - head) % slots_.size();
}
