#include "report/html.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

namespace xrun {

// harness/report/html/report.{html,css,js}, split where the data goes
// (compiled in by report/html/embed.cmake).
extern const char kHtmlReportBeforeData[];
extern const char kHtmlReportAfterData[];

using nlohmann::json;

namespace {

constexpr auto kDump = json::error_handler_t::replace;  // invalid UTF-8 becomes U+FFFD, never an exception

bool keeps_whole_output(Status status) { return status != Status::Passed && status != Status::Skipped; }

// JSON inside <script>: "<" only ever appears in strings, where \u003c is the
// same character, and no "</script>" or "<!--" in a test's output can close
// or confuse the element.
void append_script_safe(std::string& out, const std::string& json_text) {
  out.reserve(out.size() + json_text.size());
  for (char c : json_text) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
}

// A failure text of more than kFailureLimit bytes (a test that failed a
// thousand EXPECTs) keeps its start; the output holds all of it.
std::string shortened_failure(const std::string& failure) {
  if (failure.size() <= HtmlReportWriter::kFailureLimit) return failure;
  std::size_t end = HtmlReportWriter::kFailureLimit;
  while (end > 0 && (static_cast<unsigned char>(failure[end]) & 0xc0) == 0x80) --end;  // not inside a character
  return failure.substr(0, end) + "\n[... xrun: " + std::to_string(failure.size() - end) +
         " more bytes of failures are in the output ...]";
}

}  // namespace

std::string deflate_zlib(std::string_view bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size()));
  std::string out(size, '\0');
  // Level 6 (zlib's default): a tenth of the size of gtest's logs; an output
  // is encoded once per run (HtmlReportWriter keeps it).
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(bytes.data()),
                static_cast<uLong>(bytes.size()), 6) != Z_OK)
    return {};
  out.resize(size);
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (std::uint32_t(std::uint8_t(bytes[i])) << 16) | (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) |
                   std::uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = std::uint32_t(std::uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

const HtmlReportWriter::EncodedOutput& HtmlReportWriter::encode_output(const TestResult& test) {
  // A test's result changes only when it gets one (not-run, then an attempt,
  // then a retry's): its attempt, status and output's size and ends tell
  // them apart without hashing every byte at every rewrite.
  const std::string_view output = test.output;
  const std::size_t ends = std::min<std::size_t>(output.size(), 4096);
  const std::size_t fingerprint = std::hash<std::string_view>()(output.substr(0, ends)) ^
                                  (std::hash<std::string_view>()(output.substr(output.size() - ends)) << 1) ^
                                  (output.size() * 0x9e3779b97f4a7c15ull) ^ (std::size_t(test.attempts) << 48) ^
                                  (std::size_t(test.status) << 56);
  EncodedOutput& slot = outputs_[test.binary + '\0' + test.name];
  if (slot.fingerprint == fingerprint && !slot.json.empty()) return slot;
  slot.fingerprint = fingerprint;
  std::string_view kept = test.output;
  std::string shortened;
  slot.cut = 0;
  if (!keeps_whole_output(test.status) && kept.size() > kPassedHead + kPassedTail) {
    slot.cut = kept.size() - kPassedHead - kPassedTail;
    shortened = std::string(kept.substr(0, kPassedHead)) + "\n[... xrun: " + std::to_string(slot.cut) +
                " bytes cut from this HTML report (a passed test's output; the JSON report has them) ...]\n" +
                std::string(kept.substr(kept.size() - kPassedTail));
    kept = shortened;
  }
  ++encodings_;
  slot.json.clear();
  if (kept.size() > kCompressAbove) {
    slot.json = json{{"z", base64_encode(deflate_zlib(kept))}, {"n", kept.size()}}.dump();
  } else {
    append_script_safe(slot.json, json(std::string(kept)).dump(-1, ' ', false, kDump));
  }
  return slot;
}

void HtmlReportWriter::render_pieces(const RunReport& report, const std::vector<std::uint64_t>* versions,
                                     std::string& scratch, std::vector<std::string_view>& out) {
  // Binaries are named once and referred to by index.
  std::unordered_map<std::string_view, std::size_t> binary_index;
  json binaries = json::array();
  for (const auto& t : report.tests)
    if (binary_index.emplace(t.binary, binaries.size()).second) binaries.push_back(t.binary);

  // The outputs the page holds: failing tests' first, then the others', in
  // run order, while they fit in the budget. The rest are only in the JSON.
  std::vector<const EncodedOutput*> outputs(report.tests.size(), nullptr);
  std::vector<std::size_t> order(report.tests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_partition(order.begin(), order.end(),
                        [&](std::size_t i) { return keeps_whole_output(report.tests[i].status); });
  std::size_t spent = 0;
  for (std::size_t i : order) {
    const EncodedOutput& encoded = encode_output(report.tests[i]);
    if (spent + encoded.json.size() > kOutputBudget) continue;
    spent += encoded.json.size();
    outputs[i] = &encoded;
  }

  // Each test's row is encoded when its version changed; what depends on
  // the budget ("hc", "ob", "o") is added around it. Pieces in `scratch`
  // are kept as offsets until it stops growing.
  rows_.resize(report.tests.size());
  struct Piece {
    const char* data;  // nullptr: at `offset` in scratch
    std::size_t offset, size;
  };
  std::vector<Piece> pieces;
  pieces.reserve(4 * report.tests.size() + 4);
  const auto from_scratch = [&](const std::string& text) {
    pieces.push_back({nullptr, scratch.size(), text.size()});
    scratch += text;
  };
  scratch.clear();
  pieces.push_back({kHtmlReportBeforeData, 0, std::strlen(kHtmlReportBeforeData)});
  std::string run_data;
  append_script_safe(run_data, "{\"run\":" + run_to_json(report).dump(-1, ' ', false, kDump) +
                                   ",\"binaries\":" + binaries.dump(-1, ' ', false, kDump) +
                                   ",\"output_budget\":" + std::to_string(kOutputBudget) + ",\"tests\":[");
  from_scratch(run_data);
  for (std::size_t i = 0; i < report.tests.size(); ++i) {
    const TestResult& t = report.tests[i];
    Row& row = rows_[i];
    const std::size_t binary = binary_index.at(t.binary);
    if (!versions || row.version == 0 || row.version != (*versions)[i] || row.binary != binary) {
      // Short keys: at 20,000 tests every byte of a field name is 20 KB.
      json fields = {
          {"b", binary}, {"n", t.name}, {"s", status_name(t.status)}, {"d", t.duration_seconds}, {"a", t.attempts}};
      if (!t.message.empty()) fields["m"] = t.message;
      if (!t.failure.empty()) fields["f"] = shortened_failure(t.failure);
      if (!t.backend.empty()) fields["be"] = t.backend;
      if (!t.target.empty()) fields["t"] = t.target;
      if (!t.machine.empty()) fields["mc"] = t.machine;
      if (t.exit_code) fields["x"] = *t.exit_code;
      if (t.signal) fields["sg"] = *t.signal, fields["sn"] = signal_name(*t.signal);
      if (t.output_cut_bytes) fields["c"] = t.output_cut_bytes;
      if (!t.history.empty()) {
        json history = json::array();
        for (const auto& a : t.history)
          history.push_back(json::array({status_name(a.status), a.duration_seconds, a.message}));
        fields["h"] = std::move(history);
      }
      std::string text = fields.dump(-1, ' ', false, kDump);
      text.pop_back();  // the closing brace: the output goes last
      row.text.clear();
      append_script_safe(row.text, text);
      row.binary = binary;
      row.version = versions ? (*versions)[i] : 0;
      ++encodings_;
    }
    if (i > 0) from_scratch(",");
    pieces.push_back({row.text.data(), 0, row.text.size()});
    const EncodedOutput* output = outputs[i];
    std::string around;
    if (output && output->cut) around += ",\"hc\":" + std::to_string(output->cut);
    if (!output) around += ",\"ob\":" + std::to_string(t.output.size());
    around += ",\"o\":";
    from_scratch(around);
    if (output)
      pieces.push_back({output->json.data(), 0, output->json.size()});
    else
      from_scratch("\"\"");
    from_scratch("}");
  }
  from_scratch("]}");
  pieces.push_back({kHtmlReportAfterData, 0, std::strlen(kHtmlReportAfterData)});
  for (const auto& p : pieces)
    out.emplace_back(p.data ? std::string_view(p.data + p.offset, p.size)
                            : std::string_view(scratch).substr(p.offset, p.size));
}

std::string HtmlReportWriter::render(const RunReport& report, const std::vector<std::uint64_t>* versions) {
  std::string scratch, page;
  std::vector<std::string_view> pieces;
  render_pieces(report, versions, scratch, pieces);
  for (auto piece : pieces) page += piece;
  return page;
}

std::string to_html(const RunReport& report) { return HtmlReportWriter().render(report); }

}  // namespace xrun
