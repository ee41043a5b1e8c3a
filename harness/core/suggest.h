// "did you mean ...?" for misspelt keys, targets and subcommands.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xrun {

// Edit distance (insertions, deletions, substitutions, adjacent swaps).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `wrong`, if it is close enough to be a plausible
// typo (distance at most a third of the longer word, and at least 1 allowed).
std::optional<std::string> closest_match(std::string_view wrong, const std::vector<std::string>& candidates);

// ", did you mean \"x\"?" or "" — ready to append to a message.
std::string did_you_mean(std::string_view wrong, const std::vector<std::string>& candidates);

}  // namespace xrun
