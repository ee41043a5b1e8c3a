#include "core/fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "support/descriptors.h"

namespace xrun {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(Fd, ClosesWhatItHoldsWhenItGoes) {
  int raw;
  {
    auto fd = open_fd("/dev/null", O_RDONLY);
    ASSERT_TRUE(fd);
    raw = fd->get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(Fd, ReleaseGivesUpResetClosesAndMoveHandsOver) {
  Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.get();
  Fd b(std::move(a));
  EXPECT_FALSE(a);
  EXPECT_EQ(b.get(), raw);
  const int kept = b.release();
  EXPECT_FALSE(b);
  EXPECT_TRUE(is_open(kept));
  Fd c(kept);
  c.reset();
  EXPECT_FALSE(is_open(kept));
  Fd d(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int replaced = d.get();
  d = Fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(is_open(replaced) && replaced != d.get());
}

TEST(Fd, PipesAreCloseOnExec) {
  auto pipe = make_pipe();
  ASSERT_TRUE(pipe);
  EXPECT_EQ(::fcntl(pipe->read.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(::fcntl(pipe->write.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

// With one descriptor left the second end cannot be made: the first must
// not stay open.
TEST(Fd, AFailedPipeLeavesNothingOpen) {
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  const int highest = testing::highest_descriptor();
  // Every free number up to the highest taken, so that the limit leaves
  // exactly the room asked for.
  const std::vector<Fd> fillers = testing::fill_free_descriptors_up_to(highest);
  const std::size_t before = testing::open_descriptors();
  bool failed = false;
  for (int room = 0; room < 4; ++room) {
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(highest + 1 + room);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    {
      auto pipe = make_pipe();
      failed |= !pipe;
      auto file = open_fd("/dev/null", O_RDONLY);
    }
    ::setrlimit(RLIMIT_NOFILE, &old);
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(testing::open_descriptors(), before);
}

}  // namespace
}  // namespace xrun
