// SIGINT, SIGTERM and SIGHUP delivered to the run's loop, like asio's
// signal_set, plus the one thing a signal_set cannot give: a count of them
// that code running inside a long handler can read without returning to the
// loop. A periodic rewrite of a 60 MB report reads it between pieces and
// gives up when a stop came (report/report_files.cpp), so a Ctrl-C never
// waits for a rewrite whose result the final write replaces anyway.
//
// The handler only bumps an atomic counter and writes the signal's number
// to a pipe the loop reads (the self-pipe pattern): nothing else is safe in
// a signal handler. One StopSignals at a time; the previous dispositions
// come back when it goes.
#pragma once

#include <signal.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/expected.h"

namespace xrun {

class StopSignals {
 public:
  using Handler = std::function<void(int signal)>;
  // Installs the handlers; `handler` runs on `io`'s loop, once per signal,
  // in the order they came. An error when the pipe cannot be made (no
  // descriptors left).
  static Expected<std::unique_ptr<StopSignals>> install(boost::asio::io_context& io, Handler handler);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};

 private:
  StopSignals(boost::asio::io_context& io, Handler handler, int read_end, int write_end);
  void read_more();

  boost::asio::posix::stream_descriptor pipe_;
  int write_end_ = -1;
  Handler handler_;
  std::array<unsigned char, 64> buffer_{};
  std::array<struct sigaction, kSignals.size()> previous_{};
};

// How many of StopSignals' signals have arrived in this process so far
// (while one was installed). Cheap: an atomic load.
std::uint64_t stop_signals_received();

}  // namespace xrun
