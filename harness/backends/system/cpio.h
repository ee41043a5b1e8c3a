// Writes the "newc" cpio format the Linux kernel unpacks as an initramfs.
// Written by hand rather than with cpio(1): the archive needs root-owned
// entries and a /dev/console device node, which an unprivileged cpio run
// cannot produce from a real directory tree, and an in-memory writer makes
// the image byte-for-byte reproducible (mtime 0, inode numbers in order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xrun {

class CpioWriter {
 public:
  void add_directory(std::string_view path, std::uint32_t mode = 0755);
  void add_file(std::string_view path, std::string_view data, std::uint32_t mode = 0644);
  void add_symlink(std::string_view path, std::string_view target);
  void add_char_device(std::string_view path, std::uint32_t mode, std::uint32_t major, std::uint32_t minor);
  // Appends the trailer; the archive is complete after this.
  const std::string& finish();

 private:
  void add_entry(std::string_view path, std::uint32_t mode, std::string_view data, std::uint32_t rdev_major = 0,
                 std::uint32_t rdev_minor = 0);
  std::string archive_;
  std::uint32_t next_inode_ = 1;
};

}  // namespace xrun
