// xrun test [OPTIONS] [BINARY...] [-- CARGO ARGS]: find the tests, run them on
// the engine, report. The wiring only; the work is in harness/engine and
// harness/report.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

#include "backends/registry.h"
#include "backends/routing_runner.h"
#include "binfmt/foreign_exec.h"
#include "config/config.h"
#include "core/cli_parse.h"
#include "core/diagnostics.h"
#include "core/event_loop.h"
#include "core/fs_util.h"
#include "core/log.h"
#include "core/stop_signals.h"
#include "engine/build_sources.h"
#include "engine/discovery.h"
#include "engine/scheduler.h"
#include "engine/selection.h"
#include "report/github.h"
#include "report/report_files.h"
#include "report/terminal.h"
#include "xrun_main.h"

namespace xrun {

namespace {

struct TestOptions {
  std::vector<std::string> binaries;
  std::vector<std::string> cargo_args;
  bool cargo = false;
  std::string ctest_dir;
  std::optional<int> jobs;
  std::optional<double> timeout, grace;
  std::optional<int> retries;
  std::vector<std::string> filters, excludes;
  bool fail_fast = false;
  std::string partition, junit, json, html, baseline, isolation, config_file;
  std::optional<double> slow, slowdown;
  std::optional<std::size_t> slowest;
  bool verbose = false, list_only = false, no_cache = false;
  std::string backend;
  std::map<std::string, bool> backend_flags;  // the backends' own switches (--cold-boot), by name
  bool no_fork_server = false;
  std::string ctest_granularity = "case";
  std::string no_tests;
};

// Under qemu-user without any binfmt_misc for foreign programs, a test that
// runs another foreign program fails with the kernel's "Exec format error":
// say what would make it work.
void hint_foreign_exec(const std::vector<TestResult>& results) {
  std::size_t affected = 0;
  for (const auto& r : results)
    if (const Backend* row = find_backend(r.backend); row && row->foreign_exec && is_test_failure(r.status) &&
                                                      r.output.find("Exec format error") != std::string::npos)
      ++affected;
  if (affected == 0) return;  // before asking: deciding probes the kernel (a fork, tens of ms at the end of every run)
  const ForeignExec& foreign = ForeignExec::for_this_process();
  if (foreign.how() == ForeignExec::How::None)
    print_warning(std::to_string(affected) + " failed test" + (affected == 1 ? "" : "s") +
                  " printed \"Exec format error\": " + foreign.why());
}

std::string trim_line(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t");
  const auto end = text.find('\n');
  return begin == std::string::npos ? "" : text.substr(begin, end - begin);
}

// --backend's line in `xrun test --help`: the registry's choosable rows.
std::string backend_option_help() {
  std::string names;
  const auto choices = backend_names();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    if (choices[i] == default_backend(BinaryFormat::Elf)->name) names += " (default)";
  }
  return "where foreign tests run: " + names +
         " (xrun --help says what each is); default: each target's `backend` in xrun.toml";
}

std::vector<std::string> given_flags(const std::map<std::string, bool>& flags) {
  std::vector<std::string> given;
  for (const auto& [name, on] : flags)
    if (on) given.push_back(name);
  return given;
}

int exit_status_for(const std::vector<TestResult>& results, bool interrupted) {
  if (interrupted) return to_int(ExitCode::Interrupted);
  bool infra = false;
  for (const auto& r : results) {
    if (is_test_failure(r.status)) return to_int(ExitCode::TestsFailed);
    infra |= r.status == Status::InfraError;
  }
  return to_int(infra ? ExitCode::InfraError : ExitCode::Success);
}

// The run is over, the reports are written and every child is gone: leave
// without freeing what the run holds. A run of 100,000 tests holds several
// copies of its results, and freeing them took over a second after Ctrl-C
// (LLVM's -disable-free, for the same reason).
[[noreturn]] void leave_now(int status) {
  std::fflush(nullptr);
  std::_Exit(status);
}

// "no tests to run: ..." naming what selected nothing, so that a CI log
// says where to look.
std::string no_tests_message(const std::vector<BinarySpec>& binaries, std::size_t listed, std::size_t selected,
                             const std::vector<std::string>& filters, const std::vector<std::string>& excludes,
                             const std::string& partition) {
  std::string names;
  std::vector<std::string> seen;
  for (const auto& b : binaries) {
    const std::string name = b.path.substr(b.path.rfind('/') + 1);
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
  }
  for (std::size_t i = 0; i < seen.size() && i < 3; ++i) names += (i ? ", " : "") + seen[i];
  if (seen.size() > 3) names += " and " + std::to_string(seen.size() - 3) + " more";
  std::string why = "no tests to run: " + std::to_string(binaries.size()) + " binar" +
                    (binaries.size() == 1 ? "y" : "ies") + " (" + names + ") listed " + std::to_string(listed) +
                    " test" + (listed == 1 ? "" : "s");
  std::string selection;
  for (const auto& f : filters) selection += " --filter '" + f + "'";
  for (const auto& e : excludes) selection += " --exclude '" + e + "'";
  if (!partition.empty()) selection += " --partition " + partition;
  if (listed > 0 && !selection.empty()) why += ";" + selection + " left " + std::to_string(selected);
  if (selected > 0) why += ", all of them skipped (disabled or ignored)";
  return why;
}

}  // namespace

int exit_status_for_results(const std::vector<TestResult>& results, bool interrupted) {
  return exit_status_for(results, interrupted);
}

int test_command(const std::vector<std::string>& all_args) {
  // Everything after "--" belongs to cargo.
  TestOptions o;
  std::vector<std::string> args = all_args;
  if (auto dashes = std::find(args.begin(), args.end(), "--"); dashes != args.end()) {
    o.cargo_args.assign(dashes + 1, args.end());
    args.erase(dashes, args.end());
  }
  CLI::App app("find the tests in cross-compiled binaries, run them concurrently, report", "xrun test");
  app.add_option("binaries", o.binaries, "test binaries (GoogleTest, Rust libtest, or any program)");
  app.add_flag("--cargo", o.cargo, "build with `cargo test --no-run` (arguments after --) and run its test binaries");
  app.add_option("--ctest", o.ctest_dir, "run the tests CTest knows in this build directory");
  app.add_option("--ctest-granularity", o.ctest_granularity,
                 "case (default): a CTest test that runs a whole GoogleTest or libtest binary becomes its cases; "
                 "test: one result per CTest test")
      ->check(CLI::IsMember({"case", "test"}));
  app.add_option("-j,--jobs", o.jobs, "tests at once (default: number of cores)")->check(CLI::PositiveNumber);
  // Finite and at most a week, as in xrun.toml (config_keys.cpp).
  const auto seconds = CLI::Range(0.0, 7.0 * 24 * 3600) & CLI::PositiveNumber;
  app.add_option("--timeout", o.timeout, "seconds per test before SIGTERM, then SIGKILL")->check(seconds);
  app.add_option("--grace", o.grace, "seconds between SIGTERM and SIGKILL (default 2)")->check(seconds);
  app.add_option("--retries", o.retries, "re-run failing tests; passing on a retry is flaky")
      ->check(CLI::NonNegativeNumber);
  // Repeatable options take one value each time: `--filter 'A.*' ./tests`
  // names a binary after the pattern.
  app.add_option("--filter", o.filters, "run only tests matching PATTERN (* and ?); repeatable")
      ->allow_extra_args(false);
  app.add_option("--exclude", o.excludes, "skip tests matching PATTERN; repeatable")->allow_extra_args(false);
  app.add_flag("--fail-fast", o.fail_fast, "stop at the first failing test");
  app.add_option("--partition", o.partition, "run slice K of N (K/N), for CI matrices");
  app.add_option("--junit", o.junit, "write a JUnit XML report");
  app.add_option("--json", o.json, "write a JSON report (schema: docs/report-schema.md)");
  app.add_option("--html", o.html, "write an HTML report: one file that opens from disk, no network");
  app.add_option("--baseline", o.baseline,
                 "compare with an earlier run's JSON report: new failures, fixed, new and removed tests, slower tests");
  app.add_option("--slowdown", o.slowdown,
                 "with --baseline: a test is slower when its duration grew by more than PERCENT (default 50) and 0.1 s")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, 1e6));
  app.add_option("--slow", o.slow, "seconds before a running test is marked SLOW (default 60)")->check(seconds);
  app.add_option("--slowest", o.slowest, "list the N slowest tests in the summary (default 5 on a terminal)");
  app.add_option("--isolation", o.isolation, "batch (a process per shard, default) or process (a process per test)")
      ->check(CLI::IsMember({"batch", "process"}));
  app.add_option("--no-tests", o.no_tests,
                 "when no test is left to run (an empty listing, filters or a partition that select none): fail "
                 "(default, exit 5), warn, or pass")
      ->check(CLI::IsMember({"fail", "warn", "pass"}));
  app.add_flag("--list", o.list_only, "list the tests that would run, then stop");
  app.add_flag("--no-cache", o.no_cache, "list the tests again instead of using the listing cache");
  app.add_option("--config", o.config_file, "configuration file instead of the nearest xrun.toml");
  app.add_option("--backend", o.backend, backend_option_help())->check(CLI::IsMember(backend_names()));
  for (const Backend* row : backends())
    for (const auto& flag : row->flags)
      app.add_flag(std::string(flag.name), o.backend_flags[std::string(flag.name)], std::string(flag.help));
  app.add_flag("--no-fork-server", o.no_fork_server,
               "exec every test's program instead of forking it from a started copy (a fork server: system "
               "mode, and qemu-user in process isolation)");
  app.add_flag("-v,--verbose", o.verbose, "debug trace");
  if (auto stop = parse_subcommand(app, "test", args)) return *stop;
  std::vector<std::string> command_line{"xrun", "test"};
  command_line.insert(command_line.end(), all_args.begin(), all_args.end());
  init_logging(o.verbose);

  auto config = load_config(
      config_inputs_from_process(o.config_file.empty() ? std::nullopt : std::optional<std::string>(o.config_file)));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  const TestSettings& defaults = config->test;
  SchedulerOptions options;
  options.jobs =
      o.jobs.value_or(static_cast<int>(defaults.jobs.value_or(std::max(1u, std::thread::hardware_concurrency()))));
  options.timeout_seconds = o.timeout ? o.timeout : defaults.timeout;
  options.grace_seconds = o.grace.value_or(defaults.grace.value_or(2.0));
  options.retries = o.retries.value_or(static_cast<int>(defaults.retries.value_or(0)));
  options.fail_fast = o.fail_fast || defaults.fail_fast.value_or(false);
  const std::string isolation = !o.isolation.empty() ? o.isolation : defaults.isolation.value_or("batch");
  options.isolation = isolation == "process" ? Isolation::Process : Isolation::Batch;
  for (const auto& [name, group] : config->groups)
    options.groups.push_back({name, group.filter, group.binaries, static_cast<int>(group.max_jobs)});
  std::optional<std::string> junit = !o.junit.empty() ? std::optional(o.junit) : defaults.junit;
  std::optional<std::string> json = !o.json.empty() ? std::optional(o.json) : defaults.json;
  std::optional<std::string> html = !o.html.empty() ? std::optional(o.html) : defaults.html;
  // The baseline is read before anything runs: a wrong path is a usage error, not a lost run.
  std::optional<RunReport> baseline;
  if (!o.baseline.empty()) {
    auto read = read_baseline(o.baseline);
    if (!read) {
      print_error(read.error().message);
      return to_int(read.error().code);
    }
    baseline = std::move(*read);
  }
  SlowdownRule slowdown;
  if (o.slowdown) slowdown.share = *o.slowdown / 100;
  std::optional<Partition> partition;
  if (!o.partition.empty()) {
    auto parsed = parse_partition(o.partition);
    if (!parsed) {
      print_error(parsed.error().message);
      return to_int(parsed.error().code);
    }
    partition = *parsed;
  }
  if (!o.cargo && !o.cargo_args.empty()) {
    print_error("arguments after -- are for cargo: add --cargo");
    return to_int(ExitCode::Usage);
  }

  std::vector<BinarySpec> binaries;
  if (o.cargo) {
    auto built = cargo_test_binaries(o.cargo_args);
    if (!built) {
      print_error(built.error().message);
      return to_int(built.error().code);
    }
    binaries = std::move(*built);
  }
  if (!o.ctest_dir.empty()) {
    auto listed =
        ctest_tests(o.ctest_dir, o.ctest_granularity == "test" ? CTestGranularity::Test : CTestGranularity::Case);
    if (!listed) {
      print_error(listed.error().message);
      return to_int(listed.error().code);
    }
    binaries.insert(binaries.end(), listed->begin(), listed->end());
  }
  for (const auto& path : o.binaries) {
    BinarySpec spec;
    spec.path = path;
    binaries.push_back(std::move(spec));
  }
  if (binaries.empty()) {
    print_error("no test binaries: name some, or use --cargo or --ctest (see xrun test --help)");
    return to_int(ExitCode::Usage);
  }

  boost::asio::io_context io;
  // The run's one driver of `io`: listing, then running, are its phases.
  const std::unique_ptr<TimeSource> clock = steady_time(io);
  EventLoop loop(io, *clock);
  // The backends' warnings: to the reporters (the terminal, the report files)
  // once they are made; printed at once and kept for the files before.
  ReportedWarnings warnings;
  RoutingOptions routing;
  if (!o.backend.empty()) routing.backend = parse_backend(o.backend);
  routing.runners = RunnerOptions{options.jobs, !o.no_fork_server, given_flags(o.backend_flags), &warnings};
  // Each binary's probe, made by discovery from its one read of the file and
  // taken by routing and the runners from here.
  ProgramProbes probes;
  routing.probes = &probes;
  RoutingRunner runner(io, *config, routing);
  Scheduler* active = nullptr;
  bool interrupted = false;
  int signals_seen = 0;
  // Ctrl-C: the first stops the run gracefully (SIGTERM, then SIGKILL after
  // the grace period) and still writes the reports; a second kills at once.
  // (StopSignals, not asio's signal_set: a periodic report rewrite sees the
  // signal while it writes and gives up, report/report_files.h.)
  auto stop_signals = StopSignals::install(io, [&](int) {
    interrupted = true;
    if (++signals_seen > 1) runner.signal_all(SIGKILL);
    if (active)
      active->interrupt();
    else
      runner.signal_all(SIGKILL);  // still listing
  });
  if (!stop_signals) {
    print_error(stop_signals.error().message);
    return to_int(stop_signals.error().code);
  }
  // Until the scheduler's loop runs, the handler above cannot: the phases
  // before it (discovery from the cache, selection) ask this between steps.
  const std::uint64_t stops_before = stop_signals_received();
  const auto stop_came = [&] {
    if (stop_signals_received() != stops_before) interrupted = true;
    return interrupted;
  };
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill us before the reports are written

  // A listing is bounded like a test, by --timeout (or [test] timeout), but
  // given at least 30 s (it may wait for a VM to boot first); else 300 s.
  const double listing_timeout = options.timeout_seconds ? std::max(*options.timeout_seconds, 30.0) : 300.0;
  ListingCache cache = o.no_cache ? ListingCache::disabled() : ListingCache::from_environment();
  std::vector<std::string> written_here;
  for (const auto& path : {json, junit, html})
    if (path) written_here.push_back(*path);
  cache.ignore_files(written_here);
  DiscoveryStats discovered;
  const auto discovery_start = std::chrono::steady_clock::now();
  auto tests = discover_tests(binaries, loop, runner, cache, listing_timeout, &discovered, stop_came, &probes);
  log_debug("discovery: {:.3f} s",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - discovery_start).count());
  if (tests && discovered.from_cache > 0 && !o.list_only) {
    // Said, since a listing can go stale in ways the cache cannot see (what
    // it read below its directory).
    const double age = discovered.oldest_cached_seconds;
    char when[48];
    if (age < 120)
      std::snprintf(when, sizeof when, "%.0f s", age);
    else if (age < 7200)
      std::snprintf(when, sizeof when, "%.0f min", age / 60);
    else if (age < 2 * 86400)
      std::snprintf(when, sizeof when, "%.0f h", age / 3600);
    else
      std::snprintf(when, sizeof when, "%.0f days", age / 86400);
    std::printf(
        "xrun: the tests of %zu binar%s come from the listing cache (listed up to %s ago; --no-cache lists again)\n",
        discovered.from_cache, discovered.from_cache == 1 ? "y" : "ies", when);
  }
  // No tests will run: the report files still say so, and why.
  const auto report_setup = [&] {
    ReportSetup setup{json,         junit,    html,       partition ? std::optional(o.partition) : std::nullopt,
                      command_line, baseline, o.baseline, slowdown};
    setup.warnings = warnings.before_reporters();
    return setup;
  };
  const auto report_without_tests = [&](const std::string& why, bool stopped) {
    if (o.list_only || (!json && !junit && !html)) return;
    ReportFiles files(io, report_setup());
    files.finish_without_tests(why, stopped);
  };
  if (stop_came()) {
    print_error("interrupted while listing the tests");
    report_without_tests("interrupted while listing the tests", true);
    return to_int(ExitCode::Interrupted);
  }
  if (!tests) {
    print_error(tests.error().message);
    report_without_tests(tests.error().message, false);
    return to_int(tests.error().code);
  }
  const std::size_t tests_listed = tests->size();
  const auto selection_start = std::chrono::steady_clock::now();
  auto selected = select_tests(std::move(*tests), o.filters, o.excludes, partition);
  log_debug("selection: {:.3f} s",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - selection_start).count());
  if (stop_came()) {  // before the plan is made and written: nothing ran
    print_error("interrupted before any test ran");
    report_without_tests("interrupted before any test ran", true);
    return to_int(ExitCode::Interrupted);
  }
  if (o.list_only) {
    for (const auto& t : selected)
      std::printf("%s %s%s\n", t.binary.c_str(), t.name.c_str(),
                  t.skip_reason ? (" (" + *t.skip_reason + ")").c_str() : "");
    return 0;
  }
  const std::size_t runnable =
      std::count_if(selected.begin(), selected.end(), [](const TestCase& t) { return !t.skip_reason; });
  const std::string no_tests_policy = !o.no_tests.empty() ? o.no_tests : defaults.no_tests.value_or("fail");

  const bool interactive = ::isatty(STDOUT_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");
  TerminalOptions shown;
  shown.interactive = interactive;
  shown.color = interactive && !(no_color && *no_color);
  shown.slow_seconds = o.slow ? o.slow : defaults.slow.value_or(60.0);
  const std::size_t slowest = o.slowest.value_or(defaults.slowest ? static_cast<std::size_t>(*defaults.slowest)
                                                 : interactive    ? 5
                                                                  : 0);
  shown.slowest = slowest;
  shown.baseline = baseline ? &*baseline : nullptr;
  shown.baseline_source = o.baseline;
  shown.slowdown = slowdown;
  TerminalReporter terminal(io, stdout, shown);
  ReportFiles files(io, report_setup());
  Reporters reporters;
  reporters.add(&terminal);
  reporters.add(&files);
  options.loop = &loop;  // the loop that listed the tests runs them
  warnings.report_to(&reporters);
  Scheduler scheduler(io, runner, reporters, options);
  active = &scheduler;
  const auto results = scheduler.run(selected);
  active = nullptr;
  // The loop is over (the report files' final write is done): what the
  // backends say from now on is printed.
  warnings.report_to(nullptr);
  // StopSignals stays installed to the end: a signal now is swallowed (the
  // loop no longer runs), not the default death in the middle of shutdown().
  if (auto status = read_file("/proc/self/status")) {
    if (auto at = status->find("VmHWM:"); at != std::string::npos)
      log_debug("peak RSS of xrun itself: {}", trim_line(status->substr(at + 6)));
  }
  rusage self{};
  ::getrusage(RUSAGE_SELF, &self);
  log_debug("CPU time of xrun itself: {:.2f} s user, {:.2f} s system",
            static_cast<double>(self.ru_utime.tv_sec) + static_cast<double>(self.ru_utime.tv_usec) / 1e6,
            static_cast<double>(self.ru_stime.tv_sec) + static_cast<double>(self.ru_stime.tv_usec) / 1e6);
  runner.shutdown();
  hint_foreign_exec(results);
  // Five slowest in a GitHub step summary even when the log is not a terminal.
  if (auto problem =
          publish_to_github_actions(files.report(), stdout, o.slowest.value_or(std::max<std::size_t>(slowest, 5))))
    print_warning(*problem);
  // A bug stopped the run: its results are no verdict, and the reports say
  // they are not complete.
  if (const auto& bug = scheduler.internal_error()) {
    files.mark_incomplete("internal error: " + *bug);
    print_error("internal error while running the tests: " + *bug +
                " (a bug in xrun: the tests that had not finished are not-run and the report is incomplete)");
    leave_now(to_int(ExitCode::InternalError));
  }
  if (files.error()) {
    print_error(*files.error());
    leave_now(to_int(ExitCode::ReportNotWritten));
  }
  const bool stopped = scheduler.interrupted() || interrupted;
  if (runnable == 0 && !stopped && no_tests_policy != "pass") {
    const std::string why =
        no_tests_message(binaries, tests_listed, selected.size(), o.filters, o.excludes, o.partition);
    if (no_tests_policy == "fail") {
      print_error(why + " (--no-tests=warn or =pass if that is expected)");
      leave_now(to_int(ExitCode::NoTests));
    }
    print_warning(why);
  }
  leave_now(exit_status_for(results, stopped));
}

}  // namespace xrun
