#include "engine/selection.h"

#include <gtest/gtest.h>

#include <set>

using namespace xrun;

namespace {

std::vector<TestCase> cases(int n) {
  std::vector<TestCase> out;
  for (int i = 0; i < n; ++i) out.push_back(TestCase{"/b", "S.t" + std::to_string(i)});
  return out;
}

TEST(Selection, GlobMatching) {
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("Suite.*", "Suite.Name"));
  EXPECT_TRUE(glob_match("*/Param.*/?", "Values/Param.Pos/3"));
  EXPECT_FALSE(glob_match("Suite.*", "Other.Name"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
}

TEST(Selection, FilterAndExclude) {
  auto selected = select_tests(cases(12), {"S.t1*"}, {"S.t11"}, std::nullopt);
  std::vector<std::string> names;
  for (const auto& t : selected) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"S.t1", "S.t10"}));
}

TEST(Selection, PartitionsCoverEveryTestExactlyOnce) {
  for (std::size_t n : {1u, 2u, 3u, 7u}) {
    std::multiset<std::string> seen;
    for (std::size_t k = 1; k <= n; ++k)
      for (const auto& t : select_tests(cases(50), {}, {}, Partition{k, n})) seen.insert(t.name);
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 50u);
  }
}

TEST(Selection, PartitionSyntax) {
  EXPECT_TRUE(parse_partition("2/4"));
  EXPECT_EQ(parse_partition("2/4")->index, 2u);
  for (const char* bad : {"0/4", "5/4", "2", "a/b", "2/0", "1/2/3", ""}) EXPECT_FALSE(parse_partition(bad)) << bad;
}

}  // namespace
