// Choosing which listed tests run: --filter / --exclude patterns and the
// deterministic --partition K/N slice that CI matrices use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"
#include "engine/test_model.h"

namespace xrun {

// Shell-style wildcards: '*' any run of characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text);

struct Partition {
  std::size_t index = 1;  // K, from 1
  std::size_t count = 1;  // N
};
Expected<Partition> parse_partition(std::string_view text);  // "K/N"

// Keeps tests whose name matches any include pattern (all when none) and no
// exclude pattern; then, with a partition, every N-th test starting at the
// K-th, so that the N slices cover the list exactly once whatever the machine.
std::vector<TestCase> select_tests(std::vector<TestCase> tests, const std::vector<std::string>& include,
                                   const std::vector<std::string>& exclude, const std::optional<Partition>& partition);

}  // namespace xrun
