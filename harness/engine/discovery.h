// Finding the tests inside test binaries. The kind is detected from the
// binary itself (a user passes only a path); listing runs the binary through
// the same JobRunner as the tests (so under qemu when needed), all binaries at
// once, and the listing is cached by the binary's content so a second run
// does not pay for listing under emulation again.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/expected.h"
#include "core/time_source.h"
#include "engine/job_runner.h"
#include "engine/test_model.h"
#include "probe/binary_probe.h"

namespace xrun {

// GoogleTest if the file carries gtest's flags (or links libgtest), Rust
// libtest if it carries libtest's, Catch2 or doctest if it carries theirs
// (harness_catch2.h, harness_doctest.h), plain otherwise. Errors if unreadable.
Expected<TestKind> detect_kind(const std::string& binary);
// The same from the file's bytes.
TestKind detect_kind_in(std::string_view bytes);

// Parsers for the harnesses' list formats (exposed for unit tests).
std::vector<TestCase> parse_gtest_list(const std::string& binary, std::string_view listing);
std::vector<TestCase> parse_libtest_list(const std::string& binary, std::string_view listing,
                                         std::string_view ignored_listing);

// Where listings are cached: one file per (content hash, kind, what the
// listing ran with). A harness lists what its environment selects: CTest's
// ENVIRONMENT "GTEST_FILTER=Locale.*" lists one test of a binary, and that
// listing must never stand for the binary's whole list. `env` is the job's
// own environment (BinarySpec::env); the harnesses' variables in xrun's own
// (GTEST_*, RUST_TEST_*) count too.
//
// A listing may also read files (a value-parameterised suite whose cases come
// from ./cases.txt): the key holds the directory it ran in and what is
// directly in it (names, sizes, mtimes of its regular files, but for the
// files this run writes itself, `ignore_files`), so other data, or changed
// data, is listed again. What a listing reads from deeper directories is not
// seen: --no-cache. An empty listing is never stored: it is how a harness
// that never ran its listing looks (a fork server that lost the arguments),
// and listing again is cheap when there is nothing to list.
class ListingCache {
 public:
  explicit ListingCache(std::string dir) : dir_(std::move(dir)) {}
  static ListingCache from_environment();
  static ListingCache disabled() { return ListingCache(""); }

  struct Hit {
    std::vector<TestCase> tests;
    double age_seconds = 0;  // since the listing was made
  };
  // `cwd`: where the listing runs ("" : xrun's own). These read the binary
  // for its content's hash; discovery, which has its bytes mapped already,
  // computes the key once (content_of(), key()) and uses load_at()/store_at().
  std::optional<Hit> load(const std::string& binary, TestKind kind, const std::vector<std::string>& env = {},
                          const std::string& cwd = "") const;
  void store(const std::string& binary, TestKind kind, const std::vector<TestCase>& tests,
             const std::vector<std::string>& env = {}, const std::string& cwd = "") const;

  // What a key holds of the binary: a hash of its bytes, and their number.
  struct Content {
    std::size_t hash = 0;
    std::uint64_t size = 0;
  };
  static Content content_of(std::string_view bytes);
  bool enabled() const { return !dir_.empty(); }
  // Where the listing of a binary of `content` is kept; "" when the cache is disabled.
  std::string key(const Content& content, TestKind kind, const std::vector<std::string>& env = {},
                  const std::string& cwd = "") const;
  std::optional<Hit> load_at(const std::string& key, const std::string& binary, TestKind kind) const;
  void store_at(const std::string& key, const std::vector<TestCase>& tests) const;
  // Files (absolute or relative to xrun's cwd) that do not count as what a
  // listing reads: the reports this run writes.
  void ignore_files(const std::vector<std::string>& paths);

 private:
  std::string key_path(const std::string& binary, TestKind kind, const std::vector<std::string>& env,
                       const std::string& cwd) const;
  std::string dir_;
  std::vector<std::string> ignored_;  // absolute
};

// What discovery did, for the terminal.
struct DiscoveryStats {
  std::size_t from_cache = 0;  // binaries whose listing came from the cache
  double oldest_cached_seconds = 0;
};

// What to run a binary's tests with (cargo and ctest set these per binary).
struct BinarySpec {
  std::string path;
  std::string cwd;
  std::vector<std::string> env;
  std::optional<TestKind> kind;        // forced; detected when unset
  std::optional<std::string> name;     // Plain: test name instead of the file name
  std::vector<std::string> args;       // Plain: arguments
  bool disabled = false;               // Plain: listed but not to run (CTest's DISABLED)
  const Backend* backend = nullptr;    // where its build system runs it (CTest's emulator options)
  std::vector<std::string> host_dirs;  // see JobRequest::host_dirs
};

// Lists every binary's tests (in the order given, each in its harness's
// order), running the listings concurrently on `loop`: listing is a phase of
// the run's one EventLoop (core/event_loop.h), whose next phase is the
// scheduler's (SchedulerOptions::loop). `stop_requested`, when
// given, is asked before each binary: true ends discovery at once with an
// Interrupted error (a Ctrl-C must not wait for a hundred cached listings to
// be read, or a hundred listings to be started, before the loop runs).
//
// Each binary's file is read once: opened and mapped whole for its kind, the
// listing cache's key and Catch2's flavour, and its headers probed from the
// same descriptor into `probes` (when given: the routing runner's, which then
// reads nothing), before the runner is asked whether it admits the program.
// The timeout runs on the loop's clock.
Expected<std::vector<TestCase>> discover_tests(const std::vector<BinarySpec>& binaries, EventLoop& loop,
                                               JobRunner& runner, const ListingCache& cache,
                                               double timeout_seconds = 300, DiscoveryStats* stats = nullptr,
                                               const std::function<bool()>& stop_requested = {},
                                               ProgramProbes* probes = nullptr);

}  // namespace xrun
