#include "probe/byte_source.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace xrun {

Expected<std::shared_ptr<OpenedFile>> OpenedFile::open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return make_error(ExitCode::NotFound, path + ": no such file");
    return make_error(ExitCode::CannotExecute, path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) return make_error(ExitCode::CannotExecute, path + ": is a directory");
  if (!S_ISREG(st.st_mode)) return make_error(ExitCode::CannotExecute, path + ": not a regular file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ExitCode::CannotExecute, path + ": cannot open: " + std::strerror(errno));
  // The size of what was opened (the path may have been replaced since the stat).
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string why = S_ISREG(st.st_mode) ? std::strerror(errno) : "not a regular file";
    ::close(fd);
    return make_error(ExitCode::CannotExecute, path + ": " + why);
  }
  return std::shared_ptr<OpenedFile>(new OpenedFile(fd, static_cast<std::uint64_t>(st.st_size)));
}

OpenedFile::~OpenedFile() {
  if (mapped_) ::munmap(const_cast<char*>(mapped_), size_);
  ::close(fd_);
}

std::string_view OpenedFile::map() {
  if (!mapped_ && size_ > 0) {
    void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (data != MAP_FAILED) mapped_ = static_cast<const char*>(data);
  }
  return mapped_ ? std::string_view(mapped_, size_) : std::string_view();
}

}  // namespace xrun
