#include "engine/discovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>

#include "core/fs_util.h"
#include "engine/harness_catch2.h"
#include "engine/harness_doctest.h"
#include "launch/sysroot.h"

namespace xrun {

namespace {

// A read-only mapping of a whole file (released on scope exit).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;
    struct stat st;
    if (::fstat(fd_, &st) != 0 || st.st_size == 0) return;
    size_ = static_cast<std::size_t>(st.st_size);
    void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (data != MAP_FAILED) data_ = static_cast<const char*>(data);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  std::string_view view() const { return data_ ? std::string_view(data_, size_) : std::string_view(); }

 private:
  int fd_ = -1;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return "";
  const auto end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

// "  Name  # GetParam() = 3" -> "Name"
std::string strip_comment(std::string_view text) {
  const auto hash = text.find("  #");
  return trim(hash == std::string_view::npos ? text : text.substr(0, hash));
}

struct Listing {
  JobId job = 0;
  std::string output;
  bool done = false;
  std::optional<std::string> error;
};

}  // namespace

Expected<TestKind> detect_kind(const std::string& binary) {
  MappedFile file(binary);
  if (!file.ok()) return make_error(ExitCode::InfraError, binary + ": cannot read: " + std::strerror(errno));
  return detect_kind_in(file.view());
}

TestKind detect_kind_in(std::string_view bytes) {
  const auto contains = [&](std::string_view needle) {
    return std::search(bytes.begin(), bytes.end(), std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) !=
           bytes.end();
  };
  if (contains("--gtest_list_tests") || contains("libgtest.so")) return TestKind::GTest;
  if (contains("RUST_TEST_THREADS")) return TestKind::Libtest;
  if (is_catch2_binary(bytes)) return TestKind::Catch2;
  if (is_doctest_binary(bytes)) return TestKind::Doctest;
  return TestKind::Plain;
}

std::vector<TestCase> parse_gtest_list(const std::string& binary, std::string_view listing) {
  std::vector<TestCase> tests;
  std::string suite;
  std::istringstream lines{std::string(listing)};
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line[0] != ' ') {
      // "Suite." or "Typed/0.  # TypeParam = int"; anything else (gtest_main's
      // "Running main() from ...") is not part of the list.
      std::string name = strip_comment(line);
      suite = !name.empty() && name.back() == '.' ? name : "";
      continue;
    }
    if (suite.empty()) continue;
    const std::string test = strip_comment(line);
    if (test.empty()) continue;
    TestCase tc;
    tc.binary = binary;
    tc.kind = TestKind::GTest;
    tc.name = suite + test;
    if (suite.rfind("DISABLED_", 0) == 0 || test.rfind("DISABLED_", 0) == 0) tc.skip_reason = "disabled";
    tests.push_back(std::move(tc));
  }
  return tests;
}

std::vector<TestCase> parse_libtest_list(const std::string& binary, std::string_view listing,
                                         std::string_view ignored_listing) {
  const auto names = [](std::string_view text) {
    std::vector<std::string> out;
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
      static constexpr std::string_view kSuffix = ": test";
      if (line.size() > kSuffix.size() && line.compare(line.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0)
        out.push_back(line.substr(0, line.size() - kSuffix.size()));
    }
    return out;
  };
  const auto ignored_names = names(ignored_listing);
  const std::set<std::string> ignored(ignored_names.begin(), ignored_names.end());
  std::vector<TestCase> tests;
  for (auto& name : names(listing)) {
    TestCase tc;
    tc.binary = binary;
    tc.kind = TestKind::Libtest;
    tc.name = name;
    if (ignored.count(name)) tc.skip_reason = "ignored";
    tests.push_back(std::move(tc));
  }
  return tests;
}

ListingCache ListingCache::from_environment() { return ListingCache(join_path(xdg_cache_home(), "xrun/listings")); }

namespace {

// What a listing ran with besides the binary: the job's environment and the
// harnesses' own variables inherited from xrun's. "" when nothing.
std::string listing_context(const std::vector<std::string>& env) {
  std::vector<std::string> entries = env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GTEST_", 6) == 0 || std::strncmp(*e, "RUST_TEST_", 10) == 0) entries.push_back(*e);
  std::sort(entries.begin(), entries.end());
  std::string context;
  for (const auto& entry : entries) context += entry + '\0';
  return context;
}

// Where a listing ran and what lay directly in that directory: its real path,
// then name, size and mtime of each regular file in it (sorted; at most 4096).
std::string directory_context(const std::string& cwd, const std::vector<std::string>& ignored) {
  std::string dir = cwd.empty() ? current_directory() : cwd;
  if (auto real = real_path(dir); !real.empty()) dir = real;
  std::string context = dir + '\0';
  DIR* d = ::opendir(dir.c_str());
  if (!d) return context;
  std::vector<std::string> entries;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' || entries.size() >= 4096) continue;  // hidden: a build tool's logs (.ninja_log)
    const std::string path = dir + "/" + e->d_name;
    if (std::find(ignored.begin(), ignored.end(), path) != ignored.end()) continue;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    char line[64];
    std::snprintf(line, sizeof line, "\t%lld\t%lld.%09ld", static_cast<long long>(st.st_size),
                  static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
    entries.push_back(e->d_name + std::string(line));
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) context += entry + '\0';
  return context;
}

}  // namespace

void ListingCache::ignore_files(const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    std::string absolute = path.empty() || path[0] == '/' ? path : join_path(current_directory(), path);
    // The file may not exist yet: resolve its directory.
    const auto slash = absolute.rfind('/');
    if (slash != std::string::npos && slash > 0)
      if (auto parent = real_path(absolute.substr(0, slash)); !parent.empty())
        absolute = parent + absolute.substr(slash);
    ignored_.push_back(absolute);
  }
}

ListingCache::Content ListingCache::content_of(std::string_view bytes) {
  // std::hash of the bytes: fast (GB/s) and stable for this xrun build, which
  // is all a cache keyed by the xrun version needs.
  return Content{std::hash<std::string_view>{}(bytes), bytes.size()};
}

std::string ListingCache::key(const Content& content, TestKind kind, const std::vector<std::string>& env,
                              const std::string& cwd) const {
  if (dir_.empty()) return "";
  // "e": keyed by the environment too. Listings of earlier builds were not,
  // and one made under a GTEST_FILTER may hold a part of a list: not read.
  // "d": keyed by the directory too (earlier listings were not: not read).
  const std::string context = listing_context(env);
  const std::string where = directory_context(cwd, ignored_);
  char name[160];
  std::snprintf(name, sizeof name, "%s-d-%016zx-%llu-%s-%016zx-%016zx.txt", XRUN_CACHE_VERSION, content.hash,
                static_cast<unsigned long long>(content.size), std::string(kind_name(kind)).c_str(),
                context.empty() ? 0 : std::hash<std::string>{}(context), std::hash<std::string>{}(where));
  return join_path(dir_, name);
}

std::string ListingCache::key_path(const std::string& binary, TestKind kind, const std::vector<std::string>& env,
                                   const std::string& cwd) const {
  if (dir_.empty()) return "";
  MappedFile file(binary);
  if (!file.ok()) return "";
  return key(content_of(file.view()), kind, env, cwd);
}

std::optional<ListingCache::Hit> ListingCache::load(const std::string& binary, TestKind kind,
                                                    const std::vector<std::string>& env, const std::string& cwd) const {
  return load_at(key_path(binary, kind, env, cwd), binary, kind);
}

std::optional<ListingCache::Hit> ListingCache::load_at(const std::string& path, const std::string& binary,
                                                       TestKind kind) const {
  if (dir_.empty() || path.empty()) return std::nullopt;
  auto text = read_file(path);
  if (!text) return std::nullopt;
  Hit hit;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0)
    hit.age_seconds = std::max(0.0, static_cast<double>(::time(nullptr) - st.st_mtime));
  std::vector<TestCase>& tests = hit.tests;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    // "T name" to run; "S reason\tname" listed but skipped.
    if (line.size() < 2) continue;
    TestCase tc;
    tc.binary = binary;
    tc.kind = kind;
    if (line[0] == 'S') {
      const auto tab = line.find('\t');
      if (tab == std::string::npos) return std::nullopt;
      tc.skip_reason = line.substr(2, tab - 2);
      tc.name = line.substr(tab + 1);
    } else {
      tc.name = line.substr(2);
    }
    tests.push_back(std::move(tc));
  }
  if (tests.empty()) return std::nullopt;  // never stored so; an old xrun's
  return hit;
}

void ListingCache::store(const std::string& binary, TestKind kind, const std::vector<TestCase>& tests,
                         const std::vector<std::string>& env, const std::string& cwd) const {
  if (dir_.empty() || tests.empty()) return;
  store_at(key_path(binary, kind, env, cwd), tests);
}

void ListingCache::store_at(const std::string& path, const std::vector<TestCase>& tests) const {
  if (dir_.empty() || tests.empty() || path.empty()) return;
  std::string text;
  for (const auto& tc : tests)
    text += tc.skip_reason ? "S " + *tc.skip_reason + "\t" + tc.name + "\n" : "T " + tc.name + "\n";
  ::mkdir(join_path(xdg_cache_home(), "xrun").c_str(), 0755);
  ::mkdir(dir_.c_str(), 0755);
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(temporary.c_str(), "we");
  if (!f) return;  // a cache that cannot be written is only slower
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !written || std::rename(temporary.c_str(), path.c_str()) != 0) ::unlink(temporary.c_str());
}

Expected<std::vector<TestCase>> discover_tests(const std::vector<BinarySpec>& binaries, EventLoop& loop,
                                               JobRunner& runner, const ListingCache& cache, double timeout_seconds,
                                               DiscoveryStats* stats, const std::function<bool()>& stop_requested,
                                               ProgramProbes* probes) {
  TimeSource& time = loop.time();
  // Runs the loop until `done()`, or until `within` has passed on its
  // clock: then true. The loop is the run's one driver: listing is its
  // phase before the scheduler's (core/event_loop.h).
  const auto run_until = [&](const auto& done, TimeSource::Clock::duration within) {
    const auto timer = time.make_timer();
    bool expired = false;
    timer->start(within, [&] { expired = true; });
    loop.run_until([&] { return done() || expired; });
    timer->cancel();
    loop.poll();  // the cancelled timer's handler
    return expired;
  };
  struct Pending {
    const BinarySpec* spec;
    TestKind kind;
    std::vector<TestCase> tests;
    std::vector<std::shared_ptr<Listing>> listings;  // gtest: 1; libtest: all + ignored
    std::string cache_key;                           // where its listing is kept, computed once
  };
  std::vector<Pending> pending;
  // On every way out, no listing is left running: what is still going is
  // killed and waited for (its callbacks share the Listing, so a late one
  // harms nothing either).
  struct StopListings {
    JobRunner& runner;
    const decltype(run_until)& run;
    std::vector<std::shared_ptr<Listing>> running;
    ~StopListings() {
      const auto ended = [&] {
        return std::none_of(running.begin(), running.end(), [](const auto& l) { return !l->done; });
      };
      if (ended()) return;
      for (const auto& l : running)
        if (!l->done) runner.signal(l->job, SIGKILL);
      run(ended, std::chrono::seconds(30));
    }
  } stop{runner, run_until, {}};

  for (const auto& spec : binaries) {
    if (stop_requested && stop_requested()) return make_error(ExitCode::Interrupted, "interrupted while listing");
    if (!is_regular_file(spec.path) && !(spec.kind == TestKind::Plain && spec.disabled))
      return make_error(ExitCode::Usage, spec.path + ": no such test binary");
    Pending p{&spec, TestKind::Plain, {}, {}, {}};
    const bool runs = !(spec.kind == TestKind::Plain && spec.disabled);
    // The one read of the binary in this run: opened once, its headers probed
    // for routing and the runners (`probes`), and its whole content, mapped,
    // read for its kind, the listing cache's key and Catch2's flavour.
    std::shared_ptr<OpenedFile> file;
    std::string_view bytes;
    if (runs) {
      auto opened = OpenedFile::open(spec.path);
      if (!opened && !spec.kind) return make_error(ExitCode::InfraError, opened.error().message);
      if (opened) {
        file = *opened;
        if (probes) probes->put(spec.path, probe_binary(file->source(), spec.path));
        bytes = file->map();
      }
      // A file no backend runs (a Windows program, a WebAssembly module) is
      // refused now, not once per test.
      JobRequest request{spec.path, {}, spec.cwd, spec.env};
      request.backend = spec.backend;
      if (auto admitted = runner.admits(request); !admitted) return admitted.error();
    }
    p.kind = spec.kind ? *spec.kind : detect_kind_in(bytes);
    if (p.kind == TestKind::Plain) {
      TestCase tc;
      tc.binary = spec.path;
      tc.kind = TestKind::Plain;
      tc.name = spec.name.value_or(basename_of(spec.path));
      tc.args = spec.args;
      if (spec.disabled) tc.skip_reason = "disabled";
      p.tests.push_back(std::move(tc));
    } else if (p.cache_key = file ? cache.key(ListingCache::content_of(bytes), p.kind, spec.env, spec.cwd) : "";
               auto cached = cache.load_at(p.cache_key, spec.path, p.kind)) {
      p.tests = std::move(cached->tests);
      if (stats) {
        ++stats->from_cache;
        stats->oldest_cached_seconds = std::max(stats->oldest_cached_seconds, cached->age_seconds);
      }
    } else {
      const std::vector<std::vector<std::string>> commands =
          p.kind == TestKind::GTest    ? std::vector<std::vector<std::string>>{{"--gtest_list_tests"}}
          : p.kind == TestKind::Catch2 ? catch2_listing_commands(bytes)
          : p.kind == TestKind::Doctest
              ? doctest_listing_commands()
              : std::vector<std::vector<std::string>>{{"--list", "--format", "terse"},
                                                      {"--list", "--format", "terse", "--ignored"}};
      // Catch2 v2 lists with the number of cases listed as its exit status.
      const bool exit_status_counts = p.kind != TestKind::Catch2;
      for (const auto& args : commands) {
        auto listing = std::make_shared<Listing>();
        JobRequest request{spec.path, args, spec.cwd, spec.env};
        request.backend = spec.backend;
        // A listing is names, one a line: beyond this it is not one (and
        // holding it would cost the memory of the whole output).
        constexpr std::size_t kMaxListingBytes = 64u << 20;
        auto started = runner.start(request, {[listing, &runner](std::string_view bytes) {
                                                if (listing->output.size() + bytes.size() > kMaxListingBytes) {
                                                  if (!listing->error)
                                                    listing->error = "its listing is larger than 64 MiB";
                                                  runner.signal(listing->job, SIGKILL);
                                                  return;
                                                }
                                                listing->output.append(bytes);
                                              },
                                              [listing, exit_status_counts](const JobExit& exit) {
                                                listing->done = true;
                                                if (listing->error) return;
                                                if (exit.infra_error)
                                                  listing->error = *exit.infra_error;
                                                else if (exit.signaled)
                                                  listing->error = "killed by " + signal_name(exit.signal);
                                                else if (exit.code != 0 && exit_status_counts)
                                                  listing->error = "exit status " + std::to_string(exit.code);
                                              }});
        if (!started) return make_error(ExitCode::InfraError, "cannot list the tests of " + started.error().message);
        listing->job = started->id;
        stop.running.push_back(listing);
        p.listings.push_back(std::move(listing));
      }
    }
    pending.push_back(std::move(p));
  }

  const auto all_done = [&] {
    for (const auto& p : pending)
      for (const auto& l : p.listings)
        if (!l->done) return false;
    return true;
  };
  const bool timed_out = run_until(all_done, std::chrono::duration_cast<TimeSource::Clock::duration>(
                                                 std::chrono::duration<double>(timeout_seconds)));
  if (timed_out) {
    std::string slow;
    for (const auto& p : pending)
      for (const auto& l : p.listings)
        if (!l->done && slow.find(p.spec->path) == std::string::npos) slow += (slow.empty() ? "" : ", ") + p.spec->path;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds);
    return make_error(ExitCode::InfraError,
                      "listing the tests took longer than " + std::string(seconds) + " s (" + slow + ")");
  }

  std::vector<TestCase> all;
  for (auto& p : pending) {
    if (!p.listings.empty()) {
      for (const auto& l : p.listings) {
        if (l->error) {
          std::string tail = l->output.size() > 2000 ? l->output.substr(l->output.size() - 2000) : l->output;
          return make_error(ExitCode::InfraError, "listing the tests of " + p.spec->path + " failed (" + *l->error +
                                                      ")" + (tail.empty() ? "" : ":\n" + tail));
        }
      }
      std::vector<std::string_view> outputs;
      for (const auto& l : p.listings) outputs.push_back(l->output);
      switch (p.kind) {
        case TestKind::GTest:
          p.tests = parse_gtest_list(p.spec->path, outputs[0]);
          break;
        case TestKind::Libtest:
          p.tests = parse_libtest_list(p.spec->path, outputs[0], outputs[1]);
          break;
        case TestKind::Catch2:
          p.tests = parse_catch2_list(p.spec->path, outputs);
          break;
        case TestKind::Doctest:
          p.tests = parse_doctest_list(p.spec->path, outputs[0]);
          break;
        case TestKind::Plain:
          break;
      }
      cache.store_at(p.cache_key, p.tests);
    }
    for (auto& tc : p.tests) {
      tc.cwd = p.spec->cwd;
      tc.env = p.spec->env;
      tc.backend = p.spec->backend;
      tc.host_dirs = p.spec->host_dirs;
      all.push_back(std::move(tc));
    }
  }
  return all;
}

}  // namespace xrun
