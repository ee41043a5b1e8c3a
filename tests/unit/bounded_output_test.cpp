#include "engine/bounded_output.h"

#include <gtest/gtest.h>

using namespace xrun;

TEST(BoundedOutput, SmallOutputIsKeptWhole) {
  BoundedOutput out(8, 8);
  out.append("hello");
  EXPECT_EQ(out.text(), "hello");
  EXPECT_EQ(out.cut_bytes(), 0u);
}

TEST(BoundedOutput, KeepsHeadAndTailAndSaysHowMuchWasCut) {
  BoundedOutput out(4, 4);
  for (int i = 0; i < 1000; ++i) out.append("0123456789");
  EXPECT_EQ(out.total_bytes(), 10000u);
  EXPECT_EQ(out.cut_bytes(), 10000u - 8);
  EXPECT_EQ(out.text(), "0123\n[... xrun: 9992 bytes of output cut ...]\n6789");
}

TEST(BoundedOutput, MemoryStaysBoundedForHugeOutput) {
  BoundedOutput out(1024, 1024);
  const std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 256; ++i) out.append(chunk);  // 256 MiB through it
  EXPECT_LE(out.text().size(), 4096u);
  EXPECT_EQ(out.cut_bytes(), (256ull << 20) - 2048);
}
