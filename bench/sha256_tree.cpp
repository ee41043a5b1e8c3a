// Hashing a tree of files, as the board backend's file mirror does for what
// a job needs (machine/file_mirror.cpp: a SHA-256 per file): xrun's
// sha256_file_hex() (OpenSSL's libcrypto, core/sha256.cpp) against the
// hand-written SHA-256 it replaced, kept below as the peer, in one
// invocation, interleaved (this machine is noisy: only ratios measured side
// by side mean anything).
//
//   sha256_tree [FILES [ROUNDS [DIR]]]
//
// Makes FILES files (20,000) of sizes spread evenly from 100 B to 64 KiB
// (random bytes, a fixed seed) in a fresh directory under DIR ($TMPDIR or
// /tmp), hashes them all once with each (page cache warm, and both must
// agree on every file), then ROUNDS (5) times each, alternating who goes
// first, and removes the tree.
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/sha256.h"

namespace {

namespace fs = std::filesystem;

// The peer: harness/core/sha256.cpp before libcrypto, as it was.
namespace handwritten {

constexpr std::array<std::uint32_t, 64> kRounds = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

class Sha256 {
 public:
  void update(const unsigned char* p, std::size_t n) {
    total_ += n;
    while (n > 0) {
      const std::size_t take = std::min(n, 64 - used_);
      std::memcpy(block_ + used_, p, take);
      used_ += take, p += take, n -= take;
      if (used_ == 64) compress(), used_ = 0;
    }
  }
  std::string hex() {
    const std::uint64_t bits = total_ * 8;
    const unsigned char pad = 0x80, zero = 0;
    update(&pad, 1);
    while (used_ != 56) update(&zero, 1);
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
    update(length, 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::uint32_t word : h_)
      for (int shift = 28; shift >= 0; shift -= 4) out += digits[(word >> shift) & 0xf];
    return out;
  }

 private:
  void compress() {
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (std::uint32_t{block_[4 * i]} << 24) | (std::uint32_t{block_[4 * i + 1]} << 16) |
             (std::uint32_t{block_[4 * i + 2]} << 8) | block_[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      const std::uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRounds[i] + w[i];
      const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += h;
  }

  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char block_[64] = {};
  std::size_t used_ = 0;
  std::uint64_t total_ = 0;
};

std::optional<std::string> sha256_file_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  Sha256 h;
  char buffer[1 << 16];
  while (in) {
    in.read(buffer, sizeof buffer);
    h.update(reinterpret_cast<const unsigned char*>(buffer), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return std::nullopt;
  return h.hex();
}

}  // namespace handwritten

using HashFile = std::optional<std::string> (*)(const std::string&);

std::vector<std::string> hash_all(HashFile hash, const std::vector<std::string>& files) {
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const auto& file : files) {
    auto h = hash(file);
    if (!h) {
      std::fprintf(stderr, "sha256_tree: cannot read %s\n", file.c_str());
      std::exit(2);
    }
    out.push_back(std::move(*h));
  }
  return out;
}

double time_ms(HashFile hash, const std::vector<std::string>& files) {
  const auto start = std::chrono::steady_clock::now();
  const auto hashes = hash_all(hash, files);
  const auto end = std::chrono::steady_clock::now();
  if (hashes.size() != files.size()) std::exit(2);
  return std::chrono::duration<double, std::milli>(end - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const char* tmp = std::getenv("TMPDIR");
  std::string base = argc > 3 ? argv[3] : (tmp && *tmp ? tmp : "/tmp");
  if (count <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: sha256_tree [FILES [ROUNDS [DIR]]]\n");
    return 2;
  }
  std::string dir = base + "/xrun-sha256-tree-XXXXXX";
  if (!::mkdtemp(dir.data())) {
    std::fprintf(stderr, "sha256_tree: cannot make a directory in %s\n", base.c_str());
    return 2;
  }
  // 100 files a directory, like a source tree's.
  std::mt19937_64 random(26);
  std::uniform_int_distribution<std::size_t> size_of(100, 64 * 1024);
  std::vector<std::string> files;
  std::uint64_t total = 0;
  std::vector<char> bytes(64 * 1024 + 8);
  for (int i = 0; i < count; ++i) {
    const std::string sub = dir + "/d" + std::to_string(i / 100);
    if (i % 100 == 0) fs::create_directory(sub);
    const std::size_t size = size_of(random);
    for (std::size_t at = 0; at < size; at += 8) {
      const std::uint64_t word = random();
      std::memcpy(bytes.data() + at, &word, 8);
    }
    files.push_back(sub + "/f" + std::to_string(i));
    std::ofstream(files.back(), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
    total += size;
  }
  // Warm the page cache; both must say the same of every file.
  if (hash_all(&xrun::sha256_file_hex, files) != hash_all(&handwritten::sha256_file_hex, files)) {
    std::fprintf(stderr, "sha256_tree: libcrypto and the hand-written code disagree\n");
    fs::remove_all(dir);
    return 1;
  }
  std::vector<double> peer, xrun;
  for (int i = 0; i < rounds; ++i) {
    if (i % 2 == 0) {
      xrun.push_back(time_ms(&xrun::sha256_file_hex, files));
      peer.push_back(time_ms(&handwritten::sha256_file_hex, files));
    } else {
      peer.push_back(time_ms(&handwritten::sha256_file_hex, files));
      xrun.push_back(time_ms(&xrun::sha256_file_hex, files));
    }
  }
  fs::remove_all(dir);
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  std::printf(
      "sha256 of a tree: %d files, %.1f MiB (100 B - 64 KiB each), page cache warm, %d interleaved rounds, "
      "medians\n",
      count, mib, rounds);
  std::printf("  %s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("%-34s %10s %12s\n", "", "time", "throughput");
  std::printf("%-34s %7.1f ms %7.0f MiB/s\n", "peer: hand-written (before)", median(peer), mib / (median(peer) / 1000));
  std::printf("%-34s %7.1f ms %7.0f MiB/s\n", "xrun: libcrypto EVP (now)", median(xrun), mib / (median(xrun) / 1000));
  std::printf("ratio xrun/peer: %.3f (%.1fx faster)\n", median(xrun) / median(peer), median(peer) / median(xrun));
  return 0;
}
