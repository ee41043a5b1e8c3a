#include "report/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/json_util.h"

namespace xrun {

using nlohmann::json;

std::map<std::string, std::size_t> summarize(const std::vector<TestResult>& tests) {
  // Counted by value first: a report is summarised at every rewrite, and a
  // map lookup per test was a measurable part of it at 100,000 tests.
  constexpr Status kStatuses[] = {Status::Passed,  Status::Failed, Status::Crashed,    Status::TimedOut,
                                  Status::Skipped, Status::Flaky,  Status::InfraError, Status::NotRun};
  std::array<std::size_t, std::size(kStatuses)> by_status{};
  for (const auto& t : tests)
    for (std::size_t i = 0; i < std::size(kStatuses); ++i)
      if (t.status == kStatuses[i]) {
        ++by_status[i];
        break;
      }
  std::map<std::string, std::size_t> counts;
  for (std::size_t i = 0; i < std::size(kStatuses); ++i) counts[std::string(status_name(kStatuses[i]))] = by_status[i];
  counts["total"] = tests.size();
  return counts;
}

std::string verdict_line(const std::vector<TestResult>& tests) {
  const auto counts = summarize(tests);
  std::string line = std::to_string(counts.at("passed") + counts.at("flaky")) + " passed, " +
                     std::to_string(counts.at("failed") + counts.at("crashed") + counts.at("timed-out")) + " failed, " +
                     std::to_string(counts.at("skipped")) + " skipped";
  // Not the tests' failures (exit status 3, not 1): counted apart.
  if (const std::size_t infra = counts.at("infra-error"); infra > 0)
    line += ", " + std::to_string(infra) + (infra == 1 ? " infra error" : " infra errors");
  if (counts.at("not-run") > 0) line += ", " + std::to_string(counts.at("not-run")) + " not run";
  return line;
}

namespace {

json compared_to_json(const std::vector<ComparedTest>& tests) {
  json list = json::array();
  for (const auto& t : tests) {
    json entry = {{"binary", t.binary}, {"name", t.name}};
    entry["status"] = t.status.empty() ? json(nullptr) : json(t.status);
    entry["before"] = t.before.empty() ? json(nullptr) : json(t.before);
    entry["duration_seconds"] = t.seconds;
    entry["before_duration_seconds"] = t.before_seconds;
    list.push_back(std::move(entry));
  }
  return list;
}

Expected<std::vector<ComparedTest>> compared_from_json(const json& list) {
  std::vector<ComparedTest> tests;
  if (!list.is_array()) return tests;
  for (const auto& entry : list) {
    ComparedTest t;
    auto binary = json_value<std::string>(entry, "binary", "");
    if (!binary) return binary.error();
    auto name = json_value<std::string>(entry, "name", "");
    if (!name) return name.error();
    t.binary = std::move(*binary), t.name = std::move(*name);
    if (entry.contains("status") && entry["status"].is_string()) t.status = entry["status"].get<std::string>();
    if (entry.contains("before") && entry["before"].is_string()) t.before = entry["before"].get<std::string>();
    const auto seconds = json_value<double>(entry, "duration_seconds", 0.0);
    if (!seconds) return seconds.error();
    const auto before_seconds = json_value<double>(entry, "before_duration_seconds", 0.0);
    if (!before_seconds) return before_seconds.error();
    t.seconds = *seconds, t.before_seconds = *before_seconds;
    tests.push_back(std::move(t));
  }
  return tests;
}

// The sections of a comparison, by their JSON names.
template <typename Comparison>
auto comparison_sections(Comparison& c) {
  return std::array{std::pair{"new_failures", &c.new_failures},   std::pair{"fixed", &c.fixed},
                    std::pair{"still_failing", &c.still_failing}, std::pair{"new_tests", &c.new_tests},
                    std::pair{"removed_tests", &c.removed_tests}, std::pair{"slower", &c.slower}};
}

json baseline_to_json(const BaselineComparison& c) {
  json document = {{"source", c.source},
                   {"started_at", c.started_at},
                   {"slowdown", c.slowdown},
                   {"slowdown_floor_seconds", c.slowdown_floor_seconds}};
  for (const auto& [name, tests] : comparison_sections(c)) document[name] = compared_to_json(*tests);
  return document;
}

Expected<BaselineComparison> baseline_from_json(const json& document) {
  BaselineComparison c;
  auto source = json_value<std::string>(document, "source", "");
  if (!source) return source.error();
  auto started_at = json_value<std::string>(document, "started_at", "");
  if (!started_at) return started_at.error();
  const auto slowdown = json_value<double>(document, "slowdown", 0.5);
  if (!slowdown) return slowdown.error();
  const auto floor = json_value<double>(document, "slowdown_floor_seconds", 0.1);
  if (!floor) return floor.error();
  c.source = std::move(*source), c.started_at = std::move(*started_at);
  c.slowdown = *slowdown, c.slowdown_floor_seconds = *floor;
  for (const auto& [name, tests] : comparison_sections(c)) {
    if (!document.contains(name)) continue;
    auto compared = compared_from_json(document[name]);
    if (!compared) return compared.error();
    *tests = std::move(*compared);
  }
  return c;
}

}  // namespace

json test_result_to_json(const TestResult& t) {
  json history = json::array();
  for (const auto& a : t.history)
    history.push_back(
        {{"status", status_name(a.status)}, {"duration_seconds", a.duration_seconds}, {"message", a.message}});
  return {
      {"binary", t.binary},
      {"name", t.name},
      {"status", status_name(t.status)},
      {"exit_code", t.exit_code ? json(*t.exit_code) : json(nullptr)},
      {"signal", t.signal ? json(*t.signal) : json(nullptr)},
      {"signal_name", t.signal ? json(signal_name(*t.signal)) : json(nullptr)},
      {"duration_seconds", t.duration_seconds},
      {"attempts", t.attempts},
      {"history", std::move(history)},
      {"message", t.message},
      {"failure", t.failure.empty() ? json(nullptr) : json(t.failure)},
      {"backend", t.backend},
      {"target", t.target.empty() ? json(nullptr) : json(t.target)},
      {"machine", t.machine.empty() ? json(nullptr) : json(t.machine)},
      {"output", t.output},
      {"output_cut_bytes", t.output_cut_bytes},
  };
}

json run_to_json(const RunReport& report) {
  json summary = json::object();
  for (const auto& [name, count] : summarize(report.tests)) summary[name] = count;
  return {
      {"schema", kReportSchema},
      {"xrun_version", XRUN_VERSION_STRING},
      {"started_at", report.started_at},
      {"duration_seconds", report.duration_seconds},
      {"interrupted", report.interrupted},
      {"complete", report.complete},
      {"error", report.error ? json(*report.error) : json(nullptr)},
      {"partition", report.partition ? json(*report.partition) : json(nullptr)},
      {"command_line", report.command_line},
      {"host", report.host},
      {"summary", summary},
      {"baseline", report.baseline ? baseline_to_json(*report.baseline) : json(nullptr)},
      {"warnings", report.warnings},
  };
}

namespace {

// Test output is arbitrary bytes: invalid UTF-8 becomes U+FFFD (as
// nlohmann's error_handler_t::replace does), never an exception: the report
// must always be written.
void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 1;
    if (c >= 0x80) {
      // A valid sequence is copied as it is: its length by the lead byte,
      // continuation bytes, and no overlong form, surrogate or value above
      // U+10FFFF.
      length = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
      bool valid = length != 0 && i + length <= text.size();
      for (std::size_t k = 1; valid && k < length; ++k)
        valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
      if (valid && length >= 3) {
        const auto second = static_cast<unsigned char>(text[i + 1]);
        valid = !(c == 0xe0 && second < 0xa0) && !(c == 0xed && second > 0x9f) && !(c == 0xf0 && second < 0x90) &&
                !(c == 0xf4 && second > 0x8f);
      }
      if (valid) {
        i += length;
        continue;
      }
      length = 1;
    }
    out.append(text.substr(run, i - run));
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += "\xEF\xBF\xBD";  // U+FFFD for a byte that starts no valid sequence
        }
    }
    i += length;
    run = i;
  }
  out.append(text.substr(run));
  out += '"';
}

void append_number(std::string& out, double value) { out += json(value).dump(); }

}  // namespace

void EncodedTest::append_to(std::vector<std::string_view>& pieces) const {
  if (from_template) {
    pieces.push_back(filled);
    return;
  }
  if (!message) {
    pieces.push_back(text);
    return;
  }
  const std::string_view whole = text;
  pieces.push_back(whole.substr(0, message_at));
  pieces.push_back(*message);
  pieces.push_back(whole.substr(message_at + message_length));
}

std::string json_message_encoding(std::string_view message) {
  std::string out;
  append_json_string(out, message);
  return out;
}

std::string json_test_entry(const TestResult& t) { return json_test_encoding(t).text; }

TextTemplate::TextTemplate(std::string_view text, std::initializer_list<std::string_view> marks) {
  std::vector<std::pair<std::size_t, std::size_t>> found;  // (where, which)
  std::size_t which = 0;
  for (auto mark : marks) {
    const auto at = text.find(mark);
    if (at == std::string_view::npos || text.find(mark, at + 1) != std::string_view::npos)
      throw std::logic_error("a report template lacks or repeats a mark: " + std::string(mark));
    found.emplace_back(at, which++);
  }
  std::sort(found.begin(), found.end());
  std::size_t from = 0;
  for (auto [at, k] : found) {
    between_.emplace_back(text.substr(from, at - from));
    marks_.push_back(k);
    from = at + std::data(marks)[k].size();
  }
  between_.emplace_back(text.substr(from));
}

bool is_plain_not_run(const TestResult& t) {
  // Every field but binary, name and message as a TestResult starts
  // (engine/test_model.h). A field added there and not here would be
  // missing from the template's text: report_test compares the two.
  return t.status == Status::NotRun && !t.exit_code && !t.signal && t.duration_seconds == 0 && t.attempts == 0 &&
         t.output.empty() && t.output_cut_bytes == 0 && t.failure.empty() && t.backend.empty() && t.machine.empty() &&
         t.target.empty() && t.history.empty();
}

void json_not_run_from_template(std::string& out, const TestResult& t) {
  // The marks are quoted as append_json_string() quotes a value, so each is
  // replaced by a value with its quotes.
  static const TextTemplate kNotRun = [] {
    TestResult marked;
    marked.binary = "@xrun-binary@";
    marked.name = "@xrun-name@";
    marked.message = "@xrun-message@";
    return TextTemplate(json_test_encoding(marked).text,
                        {"\"@xrun-binary@\"", "\"@xrun-name@\"", "\"@xrun-message@\""});
  }();
  kNotRun.append(out, [&](std::string& text, std::size_t field) {
    append_json_string(text, field == 0 ? t.binary : field == 1 ? t.name : t.message);
  });
}

EncodedTest json_test_encoding(const TestResult& t) {
  // Keys in the (sorted) order the report always had, indented as an
  // element of the report's "tests".
  EncodedTest encoded;
  std::string& out = encoded.text;
  out.reserve(400 + t.output.size() + t.message.size() + t.failure.size());
  const auto key = [&](std::string_view name) {
    out += "      \"";
    out += name;
    out += "\": ";
  };
  const auto string_field = [&](std::string_view name, std::string_view value) {
    key(name);
    append_json_string(out, value);
    out += ",\n";
  };
  const auto optional_field = [&](std::string_view name, std::string_view value) {
    key(name);
    if (value.empty())
      out += "null";
    else
      append_json_string(out, value);
    out += ",\n";
  };
  out += "    {\n";
  key("attempts");
  out += std::to_string(t.attempts) + ",\n";
  string_field("backend", t.backend);
  string_field("binary", t.binary);
  key("duration_seconds");
  append_number(out, t.duration_seconds);
  out += ",\n";
  key("exit_code");
  out += (t.exit_code ? std::to_string(*t.exit_code) : "null") + ",\n";
  optional_field("failure", t.failure);
  key("history");
  if (t.history.empty()) {
    out += "[],\n";
  } else {
    out += "[\n";
    for (std::size_t i = 0; i < t.history.size(); ++i) {
      const Attempt& a = t.history[i];
      out += "        {\n          \"duration_seconds\": ";
      append_number(out, a.duration_seconds);
      out += ",\n          \"message\": ";
      append_json_string(out, a.message);
      out += ",\n          \"status\": \"";
      out += status_name(a.status);
      out += i + 1 < t.history.size() ? "\"\n        },\n" : "\"\n        }\n";
    }
    out += "      ],\n";
  }
  optional_field("machine", t.machine);
  key("message");
  encoded.message_at = out.size();
  append_json_string(out, t.message);
  encoded.message_length = out.size() - encoded.message_at;
  out += ",\n";
  string_field("name", t.name);
  string_field("output", t.output);
  key("output_cut_bytes");
  out += std::to_string(t.output_cut_bytes) + ",\n";
  key("signal");
  out += (t.signal ? std::to_string(*t.signal) : "null") + ",\n";
  key("signal_name");
  if (t.signal)
    append_json_string(out, signal_name(*t.signal));
  else
    out += "null";
  out += ",\n";
  key("status");
  out += '"';
  out += status_name(t.status);
  out += "\",\n";
  key("target");
  if (t.target.empty())
    out += "null";
  else
    append_json_string(out, t.target);
  out += "\n    }";
  return encoded;
}

std::string json_report_head(const RunReport& report) {
  // The run's fields, then "tests" last: the file is written in pieces,
  // and the tests are the only long one.
  std::string head = run_to_json(report).dump(2, ' ', false, json::error_handler_t::replace);
  head.resize(head.size() - 2);  // "\n}"
  head += ",\n  \"tests\": [";
  return head;
}

std::string to_json(const RunReport& report) {
  std::string out = json_report_head(report);
  for (std::size_t i = 0; i < report.tests.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    out += json_test_entry(report.tests[i]);
  }
  out += report.tests.empty() ? kJsonReportEmptyTail : kJsonReportTail;
  return out;
}

Expected<RunReport> report_from_json(const std::string& text, const std::string& source) {
  // A parse error, or a number out of range (1e999).
  auto parsed = parse_json(text, ExitCode::Usage);
  if (!parsed) return make_error(ExitCode::Usage, source + ": not a JSON report: " + parsed.error().message);
  const json& document = *parsed;
  // A member of another type, or a test that lacks one, is what nlohmann's
  // at(), value() and get() would have thrown for (core/json_util.h).
  const auto malformed = [&](const Error& error) {
    return make_error(ExitCode::Usage, source + ": malformed xrun test report: " + error.message);
  };
  if (!document.is_object())
    return make_error(ExitCode::Usage,
                      source + ": not an xrun test report (schema " + std::string(kReportSchema) + " expected)");
  const auto schema = json_value<std::string>(document, "schema", "");
  if (!schema) return malformed(schema.error());
  if (*schema != kReportSchema)
    return make_error(ExitCode::Usage,
                      source + ": not an xrun test report (schema " + std::string(kReportSchema) + " expected)");
  RunReport report;
  {
    auto started_at = json_value<std::string>(document, "started_at", "");
    if (!started_at) return malformed(started_at.error());
    const auto duration = json_value<double>(document, "duration_seconds", 0.0);
    if (!duration) return malformed(duration.error());
    const auto interrupted = json_value<bool>(document, "interrupted", false);
    if (!interrupted) return malformed(interrupted.error());
    const auto complete = json_value<bool>(document, "complete", true);
    if (!complete) return malformed(complete.error());
    report.started_at = std::move(*started_at);
    report.duration_seconds = *duration;
    report.interrupted = *interrupted;
    report.complete = *complete;
  }
  if (document.contains("error") && document["error"].is_string()) report.error = document["error"].get<std::string>();
  if (document.contains("partition") && document["partition"].is_string())
    report.partition = document["partition"].get<std::string>();
  if (document.contains("command_line") && document["command_line"].is_array())
    for (const auto& word : document["command_line"])
      if (word.is_string()) report.command_line.push_back(word.get<std::string>());
  auto host = json_value<std::string>(document, "host", "");
  if (!host) return malformed(host.error());
  report.host = std::move(*host);
  // Reports before the field have none.
  if (document.contains("warnings") && document["warnings"].is_array())
    for (const auto& warning : document["warnings"])
      if (warning.is_string()) report.warnings.push_back(warning.get<std::string>());
  if (document.contains("baseline") && document["baseline"].is_object()) {
    auto baseline = baseline_from_json(document["baseline"]);
    if (!baseline) return malformed(baseline.error());
    report.baseline = std::move(*baseline);
  }
  const auto listed = json_at(document, "tests");
  if (!listed) return malformed(listed.error());
  // What the schema allows, field by field: a value out of range is the
  // file's error (named), never a wrapped number or an exception.
  std::size_t position = 0;
  for (const auto& t : **listed) {
    const std::string where = source + ": tests[" + std::to_string(position++) + "]";
    const auto integer_in = [&](const char* field, std::int64_t low,
                                std::int64_t high) -> Expected<std::optional<int>> {
      if (!t.contains(field) || t[field].is_null()) return std::optional<int>();
      const auto& v = t[field];
      if (!v.is_number_integer() ||
          (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(high)) ||
          v.get<std::int64_t>() < low || v.get<std::int64_t>() > high)
        return make_error(ExitCode::Usage, where + "." + field + " must be an integer from " + std::to_string(low) +
                                               " to " + std::to_string(high) + ", not " + v.dump());
      return std::optional<int>(static_cast<int>(v.get<std::int64_t>()));
    };
    const auto seconds = [&](const char* field) -> Expected<double> {
      if (!t.contains(field)) return 0.0;
      const auto& v = t[field];
      if (!v.is_number() || !(v.get<double>() >= 0) || !std::isfinite(v.get<double>()))
        return make_error(ExitCode::Usage, where + "." + field + " must be a number of seconds, not " + v.dump());
      return v.get<double>();
    };
    // A string member that must be there (at(key).get<std::string>()).
    const auto required = [&](const char* field) -> Expected<std::string> {
      const auto member = json_at(t, field);
      if (!member) return member.error();
      return json_get<std::string>(**member);
    };
    TestResult r;
    auto binary = required("binary");
    if (!binary) return malformed(binary.error());
    auto name = required("name");
    if (!name) return malformed(name.error());
    auto status_text = required("status");
    if (!status_text) return malformed(status_text.error());
    r.binary = std::move(*binary);
    r.name = std::move(*name);
    auto status = status_from_name(*status_text);
    if (!status) return make_error(ExitCode::Usage, source + ": unknown status " + t.at("status").dump());
    r.status = *status;
    auto exit_code = integer_in("exit_code", 0, 255);
    if (!exit_code) return exit_code.error();
    r.exit_code = *exit_code;
    auto signal = integer_in("signal", 1, 127);
    if (!signal) return signal.error();
    r.signal = *signal;
    auto duration = seconds("duration_seconds");
    if (!duration) return duration.error();
    r.duration_seconds = *duration;
    auto attempts = integer_in("attempts", 0, 1000000);
    if (!attempts) return attempts.error();
    r.attempts = attempts->value_or(0);
    auto message = json_value<std::string>(t, "message", "");
    if (!message) return malformed(message.error());
    r.message = std::move(*message);
    if (t.contains("failure") && t["failure"].is_string()) r.failure = t["failure"].get<std::string>();
    auto backend = json_value<std::string>(t, "backend", "");
    if (!backend) return malformed(backend.error());
    r.backend = std::move(*backend);
    if (t.contains("machine") && t["machine"].is_string()) r.machine = t["machine"].get<std::string>();
    if (t.contains("target") && t["target"].is_string()) r.target = t["target"].get<std::string>();
    if (t.contains("history") && t["history"].is_array()) {
      for (const auto& a : t["history"]) {
        auto attempt_status_text = json_value<std::string>(a, "status", "");
        if (!attempt_status_text) return malformed(attempt_status_text.error());
        auto attempt_status = status_from_name(*attempt_status_text);
        if (!attempt_status) {
          // The status as the file has it: "" when there is none.
          const std::string shown = a.contains("status") ? *attempt_status_text : "\"\"";
          return make_error(ExitCode::Usage, where + ".history: unknown status " + shown);
        }
        const auto attempt_seconds = json_value<double>(a, "duration_seconds", 0.0);
        if (!attempt_seconds) return malformed(attempt_seconds.error());
        auto attempt_message = json_value<std::string>(a, "message", "");
        if (!attempt_message) return malformed(attempt_message.error());
        r.history.push_back({*attempt_status, *attempt_seconds, std::move(*attempt_message)});
      }
    }
    auto output = json_value<std::string>(t, "output", "");
    if (!output) return malformed(output.error());
    r.output = std::move(*output);
    const auto cut = json_value<std::uint64_t>(t, "output_cut_bytes", std::uint64_t{0});
    if (!cut) return malformed(cut.error());
    r.output_cut_bytes = *cut;
    report.tests.push_back(std::move(r));
  }
  return report;
}

std::string host_description() {
  utsname names{};
  if (::uname(&names) != 0) return "";
  return std::string(names.nodename) + " (" + names.machine + ")";
}

std::string utc_now_iso8601() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace xrun
