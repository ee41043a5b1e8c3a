// A stable, non-cryptographic hash for cache keys: the same text gives the
// same key across builds and runs (std::hash is not guaranteed to).
#pragma once

#include <string>
#include <string_view>

namespace xrun {

// FNV-1a, 64 bits, as 16 lowercase hex digits.
std::string fnv1a_hex(std::string_view text);

}  // namespace xrun
