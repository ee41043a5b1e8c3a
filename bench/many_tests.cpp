// MANY_TESTS trivial GoogleTest cases (default 100,000) in suites of 1,000,
// registered at start-up with testing::RegisterTest so that the file stays
// small and compiles in seconds: the suite of bench/report_scale.sh.
//   g++ -O1 -DMANY_TESTS=100000 bench/many_tests.cpp -lgtest -lgtest_main -pthread
#include <gtest/gtest.h>

#include <string>

#ifndef MANY_TESTS
#define MANY_TESTS 100000
#endif

namespace {

class Trivial : public testing::Test {
 public:
  explicit Trivial(int n) : n_(n) {}
  void TestBody() override { EXPECT_EQ(n_ % 7, n_ % 7); }

 private:
  int n_;
};

const bool registered = [] {
  for (int i = 0; i < MANY_TESTS; ++i) {
    const std::string suite = "Suite" + std::to_string(i / 1000), name = "Case" + std::to_string(i);
    testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [i]() -> testing::Test* { return new Trivial(i); });
  }
  return true;
}();

}  // namespace
