// Where a file that a machine sends back (a board's sync_back) may land on
// the host. The machine is not trusted: the path it names is resolved one
// component at a time from the directory the host asked for, with
// openat(O_NOFOLLOW), so no symlink on the host leads the write anywhere
// else. A symlink met on the way is followed only when where it points stays
// inside that directory (as a local run writing through it would); one that
// leads out, `..`, an empty or `.` component, or a non-directory in the way
// is refused with the reason.
#pragma once

#include <string>

#include "core/expected.h"

namespace xrun {

struct HostPlace {
  int dir_fd = -1;   // the directory that receives the file (the caller closes it)
  std::string name;  // the file's name in it (may not exist yet; never a symlink)
  std::string path;  // where that is, for messages
};

// `root`: the directory asked for (absolute); `relative`: the file's path
// under it, as the machine named it. Missing directories on the way are
// created (mode 0777 less the umask, as a test's own mkdir would). The error
// says why the file may not be written there.
Expected<HostPlace> place_under(const std::string& root, const std::string& relative);

}  // namespace xrun
