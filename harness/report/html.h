// The HTML report (`xrun test --html`, `xrun report html`): one
// self-contained file that opens from disk or a CI artifact with no network.
// The page and its script are harness/report/html/, compiled into xrun; the
// run is embedded as JSON (schema: docs/report-schema.md, "The HTML report").
//
// What keeps it small and fast at 20,000 tests:
//   - an output of more than kCompressAbove bytes is deflated and
//     base64-encoded, and decoded only when its test is opened (or a search
//     reaches it);
//   - a passed or skipped test keeps at most kPassedHead + kPassedTail bytes
//     of its output (the rest is in the JSON report); a failing one keeps all
//     that xrun captured;
//   - all outputs together take at most kOutputBudget bytes of the page,
//     failing tests' first: a test whose output no longer fits has it only
//     in the JSON report ("ob"), so the file has a size bound whatever the
//     run printed (docs/report-schema.md gives it);
//   - the page puts only the rows in sight into the DOM.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "report/report.h"

namespace xrun {

class HtmlReportWriter {
 public:
  static constexpr std::size_t kCompressAbove = 1024;
  static constexpr std::size_t kPassedHead = 4096, kPassedTail = 4096;
  static constexpr std::size_t kOutputBudget = 32u << 20;  // encoded bytes, all outputs together
  static constexpr std::size_t kFailureLimit = 16u << 10;  // a test's failure text ("f") in the page

  // The whole page. A writer that rewrites the report during a run encodes
  // each test's output once: it keeps what it encoded until the test's
  // output changes. With `versions` (ReportFiles keeps them: for each test,
  // a number that changes whenever its result does), each test's row is
  // encoded once too, and a rewrite copies it.
  std::string render(const RunReport& report, const std::vector<std::uint64_t>* versions = nullptr);
  // The page in pieces (views into this writer's cache and `scratch`, valid
  // until the next call), for write_file_atomically.
  void render_pieces(const RunReport& report, const std::vector<std::uint64_t>* versions, std::string& scratch,
                     std::vector<std::string_view>& out);
  // Rows and outputs encoded so far (what a rewrite costs beyond copying).
  std::size_t encodings() const { return encodings_; }

 private:
  struct EncodedOutput {
    std::size_t fingerprint = 0;  // of the result it encodes (see encode_output)
    std::string json;             // the "o" value, script-safe
    std::uint64_t cut = 0;        // "hc": bytes of a passed test's output left out
  };
  struct Row {
    std::uint64_t version = 0;  // 0: not encoded
    std::size_t binary = 0;
    std::string text;  // the test's fields, script-safe, without "o", "hc", "ob" and the closing brace
  };
  const EncodedOutput& encode_output(const TestResult& test);
  std::unordered_map<std::string, EncodedOutput> outputs_;  // by binary '\0' name
  std::vector<Row> rows_;                                   // by index in the report
  std::size_t encodings_ = 0;
};

std::string to_html(const RunReport& report);

// zlib's format (RFC 1950), what DecompressionStream("deflate") reads.
std::string deflate_zlib(std::string_view bytes);
std::string base64_encode(std::string_view bytes);

}  // namespace xrun
