// Counting and filling this process's descriptors, for tests that a failing
// step leaves none open (a lowered RLIMIT_NOFILE makes the step fail).
#pragma once

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "core/fd.h"

namespace xrun::testing {

inline std::size_t open_descriptors() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// The highest descriptor number open now.
inline int highest_descriptor() {
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  return highest;
}

// Takes every free number up to `highest`, so that a limit of highest + 1 +
// N leaves exactly N descriptors to open; they close when the result goes.
inline std::vector<Fd> fill_free_descriptors_up_to(int highest) {
  std::vector<Fd> fillers;
  for (Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); fd && fd.get() < highest;
       fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC)))
    fillers.push_back(Fd(fd.release()));
  return fillers;
}

}  // namespace xrun::testing
