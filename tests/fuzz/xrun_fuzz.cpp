// Fuzzers that drive the real xrun executable with hostile input and check
// the promises of the README's "Exit status" section:
//
//   elf     mutated and truncated copies of real cross-built ELF files (the
//           headers and program headers flipped, set to edge values, PT_LOAD
//           turned into a second PT_INTERP, cut at random lengths), run as
//           `xrun MUTANT`. xrun never crashes or hangs before it hands the
//           file to qemu, refuses with an `xrun: error:` line and 126/127,
//           and never hands qemu a file qemu itself rejects (no qemu-user
//           error line after xrun's exec).
//   config  generated and byte-mutated xrun.toml files (every key, values of
//           every TOML type and edge values), run as `xrun --config F /bin/true`:
//           0, or 2 with an `xrun: error:` line; never a crash, a hang or
//           an internal error.
//   merge   mutated copies of real JSON reports (values replaced by edge
//           values and other types, keys dropped, tests duplicated, text cut
//           and flipped), run as `xrun report merge`: 0/1 with a valid merged
//           report, or 2 with an `xrun: error:` line naming the file.
//
//   xrun_fuzz elf|config|merge --xrun PATH [--iterations N] [--seed S] FILES...
//
// FILES: the ELF corpus (elf), or a test binary whose JSON reports are the
// corpus (merge). Prints every violation with the input kept in the work
// directory, and exits 1 if there was one. ctest runs each briefly;
// scripts/fuzz.sh runs them longer.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "launch/qemu_faults.h"
#include "support/subprocess.h"

namespace {

using xrun::testing::RunResult;
using Json = nlohmann::json;

std::mt19937_64 rng;
std::size_t below(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
template <class T>
const T& pick(const std::vector<T>& from) {
  return from[below(from.size())];
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& bytes, bool executable) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  ::chmod(path.c_str(), executable ? 0755 : 0644);
}

struct Fuzz {
  std::string xrun, work;
  int violations = 0, runs = 0;
  std::map<std::string, int> outcomes;  // for the summary: what xrun did, how often

  void violation(const std::string& what, const std::string& input, const RunResult& r) {
    ++violations;
    const std::string kept = work + "/violation-" + std::to_string(violations);
    write_all(kept, read_all(input), true);
    std::printf("VIOLATION %s (input kept as %s)\n%s\n", what.c_str(), kept.c_str(),
                xrun::testing::describe(r).c_str());
  }
};

// ------------------------------------------------------------------- ELF ---

std::uint64_t get(const std::string& b, std::size_t at, int size) {
  std::uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(at + i < b.size() ? b[at + i] : 0);
  return v;
}

void put(std::string& b, std::size_t at, int size, std::uint64_t v) {
  for (int i = 0; i < size && at + i < b.size(); ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string mutate_elf(const std::string& original) {
  std::string b = original;
  const bool is64 = b.size() > 4 && b[4] == 2;
  const std::size_t phoff = get(b, is64 ? 0x20 : 0x1c, is64 ? 8 : 4);
  const std::size_t phnum = get(b, is64 ? 0x38 : 0x2c, 2);
  const std::size_t phentsize = is64 ? 56 : 32;
  const std::size_t headers_end = std::min(b.size(), std::max<std::size_t>(64, phoff + phnum * phentsize));
  const int word = is64 ? 8 : 4;
  const std::vector<std::uint64_t> edges{0,
                                         1,
                                         2,
                                         3,
                                         0x7f,
                                         0xff,
                                         0x1000,
                                         0xfff,
                                         original.size(),
                                         original.size() + 1,
                                         original.size() / 2,
                                         0x7fffffff,
                                         0xffffffff,
                                         ~0ull,
                                         1ull << 40};
  const int steps = 1 + static_cast<int>(below(3));
  for (int step = 0; step < steps; ++step) {
    switch (below(6)) {
      case 0:  // truncate: mostly within the first pages, where the headers are
        b.resize(below(2) ? below(std::min<std::size_t>(b.size(), 16384)) : below(b.size()));
        return b;
      case 1:  // flip bits in the headers
        for (int n = 1 + static_cast<int>(below(8)); n > 0; --n)
          b[below(headers_end)] ^= static_cast<char>(1u << below(8));
        break;
      case 2: {  // an ELF header field to an edge value
        static const std::vector<std::pair<std::size_t, int>> fields64{
            {4, 1},    {5, 1},    {6, 1},    {7, 1},    {0x10, 2}, {0x12, 2}, {0x14, 4}, {0x18, 8}, {0x20, 8},
            {0x28, 8}, {0x30, 4}, {0x34, 2}, {0x36, 2}, {0x38, 2}, {0x3a, 2}, {0x3c, 2}, {0x3e, 2}};
        static const std::vector<std::pair<std::size_t, int>> fields32{
            {4, 1},    {5, 1},    {6, 1},    {7, 1},    {0x10, 2}, {0x12, 2}, {0x14, 4}, {0x18, 4}, {0x1c, 4},
            {0x20, 4}, {0x24, 4}, {0x28, 2}, {0x2a, 2}, {0x2c, 2}, {0x2e, 2}, {0x30, 2}, {0x32, 2}};
        const auto& [at, size] = pick(is64 ? fields64 : fields32);
        put(b, at, size, pick(edges));
        break;
      }
      case 3: {  // a program header field to an edge value, or moved by a little
        if (phnum == 0) break;
        const std::size_t ph = phoff + below(phnum) * phentsize;
        static const std::vector<std::pair<std::size_t, int>> fields64{{0, 4},    {4, 4},    {8, 8},    {0x10, 8},
                                                                       {0x18, 8}, {0x20, 8}, {0x28, 8}, {0x30, 8}};
        static const std::vector<std::pair<std::size_t, int>> fields32{{0, 4},    {4, 4},    {8, 4},    {0xc, 4},
                                                                       {0x10, 4}, {0x14, 4}, {0x18, 4}, {0x1c, 4}};
        const auto& [field, size] = pick(is64 ? fields64 : fields32);
        const std::uint64_t old = get(b, ph + field, size);
        put(b, ph + field, size, below(2) ? pick(edges) : old + below(9) - 4);
        break;
      }
      case 4: {  // a program header becomes PT_INTERP (a second one), PT_DYNAMIC or PT_LOAD
        if (phnum == 0) break;
        put(b, phoff + below(phnum) * phentsize, 4, pick(std::vector<std::uint64_t>{1, 2, 3, 0x6474e551}));
        break;
      }
      default:  // the program header table moved or resized
        put(b, is64 ? 0x20 : 0x1c, word, phoff + below(64) - 32);
        if (below(2)) put(b, is64 ? 0x38 : 0x2c, 2, phnum + below(5) - 2);
        break;
    }
  }
  return b;
}

void fuzz_elf(Fuzz& f, const std::vector<std::string>& corpus, int iterations) {
  const auto env = xrun::testing::environment_with({"XRUN_LOG=debug"});
  for (int i = 0; i < iterations; ++i) {
    const std::string& source = corpus[static_cast<std::size_t>(i) % corpus.size()];
    const std::string mutant = f.work + "/mutant";
    write_all(mutant, mutate_elf(read_all(source)), true);
    auto r = xrun::testing::run({f.xrun, mutant, "exit", "0"}, {.env = env, .timeout_seconds = 20});
    ++f.runs;
    // xrun logs the command line it execs: before that line every outcome is xrun's own.
    const bool handed_over = r.err.find("xrun: [debug] exec: ") != std::string::npos;
    std::string not_xrun;  // stderr without xrun's own lines
    std::istringstream lines(r.err);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("xrun: ", 0) != 0) not_xrun += line + "\n";
    if (!handed_over) {
      ++f.outcomes[r.exited ? "refused by xrun, exit " + std::to_string(r.exit_code) : "xrun died"];
      if (r.timed_out)
        f.violation("xrun hung before it ran the file", mutant, r);
      else if (!r.exited)
        f.violation("xrun died of signal " + std::to_string(r.signal), mutant, r);
      else if (r.exit_code != 126 && r.exit_code != 127)
        f.violation("an undocumented status", mutant, r);
      else if (r.err.find("xrun: error: ") == std::string::npos)
        f.violation("no xrun: error: line", mutant, r);
      else if (r.err.find("internal error") != std::string::npos)
        f.violation("an internal error", mutant, r);
    } else {
      ++f.outcomes["run by qemu"];
      // The program's own outcome (any status, a crash, a loop until the
      // timeout) is the program's; qemu refusing the file is not.
      if (xrun::looks_like_infra_failure(not_xrun)) f.violation("qemu was handed a file it rejects", mutant, r);
      // A guest's fatal signal is announced by qemu ("qemu: uncaught target
      // signal 11 ..."); a silent death is qemu's own (a truncated file's
      // missing page: SIGBUS while qemu loads it).
      else if (!r.exited && !r.timed_out && not_xrun.find("uncaught target signal") == std::string::npos)
        f.violation("qemu itself died of signal " + std::to_string(r.signal), mutant, r);
    }
  }
}

// ---------------------------------------------------------------- config ---

std::string toml_value() {
  static const std::vector<std::string> values{"0",
                                               "-1",
                                               "1",
                                               "2",
                                               "32",
                                               "128",
                                               "65536",
                                               "2147483648",
                                               "9223372036854775807",
                                               "-9223372036854775808",
                                               "1e10",
                                               "1e308",
                                               "inf",
                                               "-inf",
                                               "nan",
                                               "0.0",
                                               "-0.0",
                                               "1e-300",
                                               "0.5",
                                               "true",
                                               "false",
                                               "\"\"",
                                               "\"aarch64\"",
                                               "\"armhf\"",
                                               "\"system\"",
                                               "\"qemu-user\"",
                                               "\"vm\"",
                                               "\"128; touch x\"",
                                               "\"nonsense\"",
                                               "\"../../etc\"",
                                               "\"/\"",
                                               "\"\\u0000\"",
                                               "\"a\\u0000b\"",
                                               "\"*\"",
                                               "\"[\"",
                                               "\"debug\"",
                                               "\"" + std::string(5000, 'x') + "\"",
                                               "[]",
                                               "[1, 2]",
                                               "[\"a\", \"b\"]",
                                               "[[]]",
                                               "[\"*\", 1]",
                                               "{}",
                                               "{a = 1}",
                                               "1979-05-27T07:32:00Z",
                                               "07:32:00",
                                               "0x7fffffff",
                                               "0o777",
                                               "1_000",
                                               "'literal'",
                                               "\"\"\"multi\nline\"\"\""};
  return pick(values);
}

std::string toml_document() {
  static const std::vector<std::string> sections{
      "[test]",  "[targets.aarch64]",     "[targets.armhf]", "[targets.nope]", "[groups.g]", "[groups.\"a b\"]",
      "[env]",   "[targets.aarch64.env]", "[test.env]",      "[[test]]",       "",           "[targets]",
      "[groups]"};
  static const std::vector<std::string> keys{
      "jobs",        "timeout",     "retries",  "isolation", "grace",         "backend", "cpu",       "qemu",
      "qemu_args",   "sysroot",     "env",      "shares",    "vm_memory",     "vm_cpu",  "vm_kernel", "vm_append",
      "rootfs",      "filter",      "binaries", "max_jobs",  "fail_fast",     "junit",   "json",      "no_cache",
      "fork_server", "unknown_key", "FOO",      "timeout.x", "\"quoted key\""};
  std::string doc;
  for (int s = 1 + static_cast<int>(below(4)); s > 0; --s) {
    doc += pick(sections) + "\n";
    for (int k = static_cast<int>(below(6)); k > 0; --k) doc += pick(keys) + " = " + toml_value() + "\n";
  }
  if (below(4) == 0)  // bytes flipped, cut or doubled: the TOML parser's turn
    for (int n = 1 + static_cast<int>(below(4)); n > 0 && !doc.empty(); --n) {
      switch (below(3)) {
        case 0:
          doc[below(doc.size())] = static_cast<char>(below(256));
          break;
        case 1:
          doc.resize(below(doc.size()));
          break;
        default:
          doc += doc.substr(below(doc.size()));
          break;
      }
    }
  return doc;
}

void fuzz_config(Fuzz& f, int iterations) {
  const std::string config = f.work + "/xrun.toml";
  for (int i = 0; i < iterations; ++i) {
    write_all(config, toml_document(), false);
    auto r = xrun::testing::run({f.xrun, "--config", config, "/bin/true"}, {.timeout_seconds = 20});
    ++f.runs;
    ++f.outcomes[r.exited ? "exit " + std::to_string(r.exit_code) : "died"];
    if (r.timed_out)
      f.violation("xrun hung on a configuration", config, r);
    else if (!r.exited)
      f.violation("xrun died of signal " + std::to_string(r.signal), config, r);
    else if (r.exit_code != 0 && r.exit_code != 2)
      f.violation("an undocumented status", config, r);
    else if (r.exit_code == 2 && r.err.rfind("xrun: error: ", 0) != 0)
      f.violation("no xrun: error: line", config, r);
    else if (r.err.find("internal error") != std::string::npos)
      f.violation("an internal error", config, r);
  }
}

// ----------------------------------------------------------------- merge ---

Json edge_json() {
  static const std::vector<Json> values{nullptr,
                                        true,
                                        false,
                                        0,
                                        -1,
                                        1,
                                        4294967296LL,
                                        -9223372036854775807LL,
                                        18446744073709551615ULL,
                                        1e300,
                                        -1e300,
                                        0.5,
                                        "",
                                        "passed",
                                        "failed",
                                        "crashed",
                                        "not-run",
                                        "nonsense",
                                        std::string(3000, 'y'),
                                        Json::array(),
                                        Json::object(),
                                        Json::array({1, "a"}),
                                        Json::object({{"a", 1}})};
  return pick(values);
}

// Replaces, drops or duplicates one node somewhere in `j`.
void mutate_json(Json& j) {
  for (Json* node = &j;;) {
    if (node->is_object() && !node->empty() && below(3) != 0) {
      auto it = node->begin();
      std::advance(it, static_cast<long>(below(node->size())));
      if (below(6) == 0) {
        node->erase(it);
        return;
      }
      node = &it.value();
    } else if (node->is_array() && !node->empty() && below(3) != 0) {
      const std::size_t at = below(node->size());
      if (below(6) == 0) {
        node->push_back((*node)[at]);  // a duplicate entry
        return;
      }
      node = &(*node)[at];
    } else {
      *node = edge_json();
      return;
    }
  }
}

std::string mutate_report(const std::string& text) {
  auto j = Json::parse(text, nullptr, false);
  for (int n = 1 + static_cast<int>(below(3)); n > 0; --n) mutate_json(j);
  std::string out = j.dump();
  switch (below(6)) {  // sometimes text no JSON writer makes
    case 0: {
      static const std::vector<std::string> raw{
          "1e999", "-1e999", "99999999999999999999999", "NaN", "Infinity", "\"\\ud800\"", "0x10", "01", "\"\xff\xfe\""};
      const std::size_t at = out.find(':', below(out.size()));
      if (at != std::string::npos) {
        const std::size_t end = out.find_first_of(",}", at);
        out.replace(at + 1, end == std::string::npos ? 0 : end - at - 1, pick(raw));
      }
      break;
    }
    case 1:
      out.resize(below(out.size()));
      break;
    case 2:
      out[below(out.size())] = static_cast<char>(below(256));
      break;
    default:
      break;
  }
  return out;
}

void fuzz_merge(Fuzz& f, const std::string& test_binary, int iterations) {
  // The corpus: the reports of a real partitioned run.
  std::vector<std::string> reports;
  for (const char* part : {"1/2", "2/2"}) {
    const std::string path = f.work + "/shard-" + std::string(1, part[0]) + ".json";
    xrun::testing::run({f.xrun, "test", test_binary, "--partition", part, "--json", path}, {.timeout_seconds = 300});
    reports.push_back(read_all(path));
    if (!Json::accept(reports.back())) {
      std::printf("xrun_fuzz: no JSON report from xrun test %s --partition %s\n", test_binary.c_str(), part);
      ++f.violations;
      return;
    }
  }
  const std::string a = f.work + "/a.json", b = f.work + "/b.json", out = f.work + "/merged.json";
  for (int i = 0; i < iterations; ++i) {
    write_all(a, mutate_report(reports[0]), false);
    write_all(b, below(2) ? reports[1] : mutate_report(reports[1]), false);
    ::unlink(out.c_str());
    auto r = xrun::testing::run({f.xrun, "report", "merge", a, b, "--json", out}, {.timeout_seconds = 20});
    ++f.runs;
    ++f.outcomes[r.exited ? "exit " + std::to_string(r.exit_code) : "died"];
    if (r.timed_out)
      f.violation("xrun hung on a report", a, r);
    else if (!r.exited)
      f.violation("xrun died of signal " + std::to_string(r.signal), a, r);
    else if (r.exit_code != 0 && r.exit_code != 1 && r.exit_code != 2 && r.exit_code != 130)
      f.violation("an undocumented status", a, r);
    else if (r.exit_code == 2 && (r.err.rfind("xrun: error: ", 0) != 0 || r.err.find(f.work) == std::string::npos))
      f.violation("no xrun: error: line naming the file", a, r);
    else if (r.err.find("internal error") != std::string::npos)
      f.violation("an internal error", a, r);
    else if (r.exit_code != 2 && !Json::accept(read_all(out)))
      f.violation("no valid merged report", a, r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  Fuzz f;
  int iterations = 300;
  unsigned long long seed = 1;
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--xrun" && i + 1 < argc)
      f.xrun = argv[++i];
    else if (a == "--iterations" && i + 1 < argc)
      iterations = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else
      files.push_back(a);
  }
  if ((mode != "elf" && mode != "config" && mode != "merge") || f.xrun.empty() || (mode != "config" && files.empty())) {
    std::fprintf(stderr, "usage: xrun_fuzz elf|config|merge --xrun PATH [--iterations N] [--seed S] FILES...\n");
    return 2;
  }
  rng.seed(seed);
  char work[] = "/tmp/xrun-fuzz-XXXXXX";
  if (!::mkdtemp(work)) return 2;
  f.work = work;
  if (mode == "elf") fuzz_elf(f, files, iterations);
  if (mode == "config") fuzz_config(f, iterations);
  if (mode == "merge") fuzz_merge(f, files.front(), iterations);
  std::printf("xrun_fuzz %s: %d runs (seed %llu), %d violations\n", mode.c_str(), f.runs, seed, f.violations);
  for (const auto& [outcome, count] : f.outcomes) std::printf("  %6d  %s\n", count, outcome.c_str());
  if (f.violations == 0) std::system(("rm -rf " + f.work).c_str());
  return f.violations == 0 ? 0 : 1;
}
