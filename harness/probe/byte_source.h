// Where the binary probe reads a file's bytes: through a descriptor with
// pread (a single run reads only the headers it needs), or from memory (the
// mapping of the whole file that `xrun test`'s discovery holds anyway, a
// test's hand-made buffer, the fuzzer's input). The probe checks every range
// against size() before it reads, so no header can lead a read out of the file.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.h"

namespace xrun {

class ByteSource {
 public:
  // Does not own `fd`.
  static ByteSource descriptor(int fd, std::uint64_t size) {
    ByteSource source;
    source.fd_ = fd;
    source.size_ = size;
    return source;
  }
  static ByteSource memory(std::string_view bytes) {
    ByteSource source;
    source.memory_ = bytes;
    source.size_ = bytes.size();
    return source;
  }

  std::uint64_t size() const { return size_; }
  bool holds(std::uint64_t offset, std::uint64_t length) const { return offset <= size_ && length <= size_ - offset; }

  // Copies [offset, offset + length), which holds() must have accepted, into
  // `out`. 0 when it did; else errno, or -1 when a file ended early (it
  // shrank since its size was taken).
  int read(std::uint64_t offset, std::uint64_t length, std::vector<unsigned char>& out) const {
    out.resize(length);
    if (fd_ < 0) {
      if (length > 0) std::memcpy(out.data(), memory_.data() + offset, length);
      return 0;
    }
    std::uint64_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) return -1;
      done += static_cast<std::uint64_t>(n);
    }
    return 0;
  }

 private:
  ByteSource() = default;
  int fd_ = -1;
  std::string_view memory_;
  std::uint64_t size_ = 0;
};

// A program's file opened for the probe: a regular file, its descriptor
// owned. Errors: NotFound when the path does not exist; CannotExecute for a
// directory, another kind of file, or one that cannot be opened. The message
// starts with the path.
class OpenedFile {
 public:
  static Expected<std::shared_ptr<OpenedFile>> open(const std::string& path);
  ~OpenedFile();
  OpenedFile(const OpenedFile&) = delete;
  OpenedFile& operator=(const OpenedFile&) = delete;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  ByteSource source() const { return ByteSource::descriptor(fd_, size_); }
  // The whole file, mapped read-only (PROT_READ, MAP_PRIVATE); empty for an
  // empty file or when it cannot be mapped. Released with this object.
  std::string_view map();

 private:
  OpenedFile(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  std::uint64_t size_;
  const char* mapped_ = nullptr;
};

}  // namespace xrun
