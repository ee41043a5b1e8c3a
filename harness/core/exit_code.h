// The exit statuses of xrun itself. A program run through xrun exits with its
// own status (or dies of its own signal); these are what xrun uses when it
// could not get that far. They mirror a POSIX shell where one exists (126,
// 127, 130) so build tools that already understand a shell understand xrun.
// Documented in README.md ("Exit status"); keep the two in step.
#pragma once

namespace xrun {

enum class ExitCode : int {
  Success = 0,
  TestsFailed = 1,       // `xrun test`: at least one test failed, crashed or timed out
  Usage = 2,             // bad command line or configuration (xrun.toml, XRUN_*)
  InfraError = 3,        // `xrun test`/`doctor`: the emulation could not run something
  ReportNotWritten = 4,  // `xrun test`/`report merge`/`report html`: a report file could not be written (an I/O error)
  NoTests = 5,           // `xrun test`: no test was left to run (filters, partition, an empty listing); --no-tests
  InternalError = 70,    // `xrun test`: a bug in xrun stopped the run (sysexits' EX_SOFTWARE); never a verdict
  CannotExecute = 126,   // the program exists but cannot be run: not ELF, unknown
                         // architecture, missing qemu, sysroot or loader
  NotFound = 127,        // the program does not exist
  Interrupted = 130,     // SIGINT/SIGTERM reached xrun
};

inline int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace xrun
