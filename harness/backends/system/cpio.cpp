#include "backends/system/cpio.h"

#include <sys/stat.h>

#include <cstdio>

namespace xrun {

namespace {
void pad_to_4(std::string& s) {
  while (s.size() % 4 != 0) s.push_back('\0');
}
}  // namespace

void CpioWriter::add_entry(std::string_view path, std::uint32_t mode, std::string_view data, std::uint32_t rdev_major,
                           std::uint32_t rdev_minor) {
  // Paths are stored relative ("init", "lib/x"), as the kernel expects.
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) path = ".";
  char header[111];
  std::snprintf(header, sizeof header, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", next_inode_++,
                mode, 0u, 0u, 1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u, rdev_major, rdev_minor,
                static_cast<unsigned>(path.size() + 1), 0u);
  archive_.append(header, 110);
  archive_.append(path);
  archive_.push_back('\0');
  pad_to_4(archive_);
  archive_.append(data);
  pad_to_4(archive_);
}

void CpioWriter::add_directory(std::string_view path, std::uint32_t mode) { add_entry(path, S_IFDIR | mode, {}); }

void CpioWriter::add_file(std::string_view path, std::string_view data, std::uint32_t mode) {
  add_entry(path, S_IFREG | mode, data);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  add_entry(path, S_IFLNK | 0777, target);
}

void CpioWriter::add_char_device(std::string_view path, std::uint32_t mode, std::uint32_t major, std::uint32_t minor) {
  add_entry(path, S_IFCHR | mode, {}, major, minor);
}

const std::string& CpioWriter::finish() {
  add_entry("TRAILER!!!", 0, {});
  // The kernel reads initramfs in 512-byte blocks; pad like cpio(1) does.
  while (archive_.size() % 512 != 0) archive_.push_back('\0');
  return archive_;
}

}  // namespace xrun
