#include "engine/selection.h"

#include <charconv>

namespace xrun {

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1, t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Expected<Partition> parse_partition(std::string_view text) {
  const auto slash = text.find('/');
  Partition partition;
  const auto parse = [](std::string_view digits, std::size_t& out) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
  };
  if (slash == std::string_view::npos || !parse(text.substr(0, slash), partition.index) ||
      !parse(text.substr(slash + 1), partition.count) || partition.count == 0 || partition.index == 0 ||
      partition.index > partition.count) {
    return make_error(ExitCode::Usage,
                      "--partition must be K/N with 1 <= K <= N, like 2/4, not \"" + std::string(text) + "\"");
  }
  return partition;
}

std::vector<TestCase> select_tests(std::vector<TestCase> tests, const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude, const std::optional<Partition>& partition) {
  std::vector<TestCase> selected;
  for (auto& test : tests) {
    bool wanted = include.empty();
    for (const auto& pattern : include) wanted |= glob_match(pattern, test.name);
    for (const auto& pattern : exclude) wanted &= !glob_match(pattern, test.name);
    if (wanted) selected.push_back(std::move(test));
  }
  if (!partition) return selected;
  std::vector<TestCase> slice;
  for (std::size_t i = 0; i < selected.size(); ++i)
    if (i % partition->count == partition->index - 1) slice.push_back(std::move(selected[i]));
  return slice;
}

}  // namespace xrun
