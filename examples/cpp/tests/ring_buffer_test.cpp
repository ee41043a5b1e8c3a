#include "ring_buffer.h"

#include <gtest/gtest.h>

#include <thread>

TEST(RingBuffer, StartsEmpty) {
  RingBuffer rb(4);
  EXPECT_EQ(rb.size(), 0u);
  EXPECT_EQ(rb.pop(), std::nullopt);
}

TEST(RingBuffer, RefusesWhenFull) {
  RingBuffer rb(2);
  EXPECT_TRUE(rb.push(1));
  EXPECT_TRUE(rb.push(2));
  EXPECT_FALSE(rb.push(3));
  EXPECT_EQ(rb.pop(), 1);
}

// Two threads on the target's memory model: what qemu-user's -L recipe hangs on.
TEST(RingBuffer, ProducerAndConsumerThreads) {
  RingBuffer rb(64);
  constexpr int kCount = 20000;
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i)
      while (!rb.push(i)) std::this_thread::yield();
  });
  long long sum = 0;
  for (int received = 0; received < kCount;) {
    if (auto v = rb.pop()) {
      sum += *v;
      ++received;
    }
  }
  producer.join();
  EXPECT_EQ(sum, static_cast<long long>(kCount) * (kCount - 1) / 2);
}
