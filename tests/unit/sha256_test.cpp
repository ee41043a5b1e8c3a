// SHA-256 as the board backend names files by it: FIPS 180-4's examples,
// a file's digest the same as its bytes', and no digest of what cannot be read.
#include "core/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "support/temp_dir.h"

using namespace xrun;

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string("a\0b", 3)), "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

TEST(Sha256, AFileHashesAsItsBytes) {
  xrun::testing::TempDir dir;
  // Bigger than the 64 KiB read buffer, not a multiple of it or of a block.
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += static_cast<char>(i * 7 + i / 251);
  const std::string path = dir.write("big.bin", bytes);
  EXPECT_EQ(sha256_file_hex(path), sha256_hex(bytes));
  EXPECT_EQ(sha256_file_hex(dir.write("empty", "")), sha256_hex(""));
  EXPECT_EQ(sha256_file_hex(dir.path() + "/missing"), std::nullopt);
  EXPECT_EQ(sha256_file_hex(dir.path()), std::nullopt) << "a directory has no content to hash";
}
