// The xrun command line: which subcommand, then hand over to it. Thin by
// design; the work is in harness/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "launch/launcher.h"
#include "launch/run_options.h"

namespace xrun {

int xrun_main(int argc, char** argv);

// Subcommands; each returns the process exit status.
int run_command(const std::vector<std::string>& args);  // xrun [OPTIONS] PROGRAM [ARGS...]
int run_program(const RunRequest& request, const RunOptions& options);
int setup_command(const std::vector<std::string>& args);   // xrun setup cargo|cmake|meson
int binfmt_command(const std::vector<std::string>& args);  // xrun binfmt install|uninstall|status
int doctor_command(const std::vector<std::string>& args);  // xrun doctor [OPTIONS]
int test_command(const std::vector<std::string>& args);    // xrun test [OPTIONS] [BINARY...]
int report_command(const std::vector<std::string>& args);  // xrun report merge|html ...

struct TestResult;
// `xrun test`'s exit status for a set of results (shared with report merge).
int exit_status_for_results(const std::vector<TestResult>& results, bool interrupted);

}  // namespace xrun
