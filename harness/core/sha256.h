// SHA-256, for content addresses: a file on a board is named by the hash of
// its bytes, so an unchanged file is never sent twice (harness/board).
// OpenSSL's libcrypto computes it (EVP), with the CPU's SHA instructions where
// it has them: bench/sha256_tree.cpp compares it with the hand-written code
// it replaced.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace xrun {

// 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);
// Of a file's content; nullopt when it cannot be read.
std::optional<std::string> sha256_file_hex(const std::string& path);

}  // namespace xrun
