#include "report/junit.h"

#include <cstdio>
#include <unordered_map>
#include <vector>

namespace xrun {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the ANSI escape sequence at `text` (which starts with ESC), or 1.
std::size_t ansi_length(std::string_view text) {
  if (text.size() < 2) return 1;
  if (text[1] == '[') {  // CSI: parameters, then a final byte in @..~
    for (std::size_t i = 2; i < text.size(); ++i)
      if (text[i] >= 0x40 && text[i] <= 0x7e) return i + 1;
    return text.size();
  }
  if (text[1] == ']') {  // OSC: up to BEL or ESC backslash
    for (std::size_t i = 2; i < text.size(); ++i) {
      if (text[i] == '\x07') return i + 1;
      if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '\\') return i + 2;
    }
    return text.size();
  }
  return 2;
}

// Decodes one UTF-8 sequence; returns its length, or 0 if invalid.
std::size_t utf8_sequence(std::string_view text, char32_t& code) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length;
  if (lead < 0x80) {
    code = lead;
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, code = lead & 0x1f;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code = lead & 0x0f;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kMin[length] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;  // overlong, surrogate
  return length;
}

std::string classname_of(const TestResult& t, std::string* short_name) {
  // gtest "Suite.Name" / "Values/Param.Positive/0"; libtest "mod::sub::name".
  auto dot = t.name.find('.');
  auto colons = t.name.rfind("::");
  std::string binary = t.binary.substr(t.binary.rfind('/') + 1);
  if (colons != std::string::npos) {
    *short_name = t.name.substr(colons + 2);
    return binary + "::" + t.name.substr(0, colons);
  }
  if (dot != std::string::npos) {
    *short_name = t.name.substr(dot + 1);
    return t.name.substr(0, dot);
  }
  *short_name = t.name;
  return binary;
}

// The last `count` lines of `text`.
std::string last_lines(const std::string& text, std::size_t count) {
  std::size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;
  for (std::size_t seen = 0; start > 0; --start)
    if (text[start - 1] == '\n' && ++seen == count) break;
  return text.substr(start);
}

std::string seconds(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  return buffer;
}

}  // namespace

std::string xml_escape(std::string_view text, bool attribute) {
  std::string out;
  out.reserve(text.size());
  append_xml_escaped(out, text, attribute);
  return out;
}

void append_xml_escaped(std::string& out, std::string_view text, bool attribute) {
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\x1b') {
      i += ansi_length(text.substr(i));
      continue;
    }
    char32_t code = 0;
    const std::size_t length = utf8_sequence(text.substr(i), code);
    if (length == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    const bool allowed = code == 0x9 || code == 0xa || code == 0xd || (code >= 0x20 && code <= 0xd7ff) ||
                         (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
    if (!allowed) {
      out += kReplacement;
    } else if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '"') {
      out += "&quot;";
    } else if (c == '\'') {
      out += "&apos;";
    } else if (c == '\r') {
      out += "&#13;";  // a raw CR would be normalised away by the parser
    } else if (attribute && c == '\n') {
      out += "&#10;";
    } else if (attribute && c == '\t') {
      out += "&#9;";
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
}

std::string junit_testcase(const TestResult& t) { return junit_testcase_encoding(t).text; }

std::string junit_message_encoding(std::string_view message) { return xml_escape(message); }

EncodedTest junit_testcase_encoding(const TestResult& t) {
  EncodedTest encoded;
  const TestResult* test = &t;
  std::string name;
  const std::string classname = classname_of(*test, &name);
  std::string xml = "    <testcase name=\"" + xml_escape(name) + "\" classname=\"" + xml_escape(classname) +
                    "\" time=\"" + seconds(test->duration_seconds) + "\">\n";
  const std::string message = xml_escape(test->message);
  const std::string type(status_name(test->status));
  if (is_test_failure(test->status)) {
    // What CI viewers show of a failure is this element: the assertion
    // (as GoogleTest's own XML has it), or for a crash, a timeout or an
    // exit status, that and the end of the output.
    const std::string detail =
        !test->failure.empty() ? test->failure : test->message + "\n" + last_lines(test->output, 30);
    xml += "      <failure message=\"" + xml_escape(test->failure.empty() ? test->message : test->failure, true) +
           "\" type=\"" + type + "\">" + xml_escape(detail) + "</failure>\n";
  } else if (test->status == Status::InfraError) {
    xml += "      <error message=\"" + message + "\" type=\"infra-error\">" + message + "</error>\n";
  } else if (test->status == Status::Skipped || test->status == Status::NotRun) {
    xml += "      <skipped message=\"";
    // The one place of the message, unless the attempts line repeats it.
    if (test->attempts <= 1) encoded.message_at = xml.size(), encoded.message_length = message.size();
    xml += message + "\"/>\n";
  }
  // JUnit has no "flaky" or "attempts": say it where every reader shows it.
  std::string out;
  if (!test->machine.empty()) out = "[xrun] ran on " + test->machine + "\n";
  if (test->attempts > 1) {
    out += "[xrun] " + type + " after " + std::to_string(test->attempts) + " attempts" +
           (test->message.empty() ? "" : ": " + test->message) + "\n";
  }
  out += test->output;
  if (!out.empty()) xml += "      <system-out>" + xml_escape(out) + "</system-out>\n";
  xml += "    </testcase>\n";
  encoded.text = std::move(xml);
  return encoded;
}

void junit_not_run_from_template(std::string& out, const TestResult& t) {
  // Marks without a '.', "::" or '/': classname_of() keeps them whole.
  static const TextTemplate kNotRun = [] {
    TestResult marked;
    marked.binary = "@xrun-binary@";
    marked.name = "@xrun-name@";
    marked.message = "@xrun-message@";
    return TextTemplate(junit_testcase_encoding(marked).text, {"@xrun-name@", "@xrun-binary@", "@xrun-message@"});
  }();
  std::string name;
  const std::string classname = classname_of(t, &name);
  kNotRun.append(out, [&](std::string& text, std::size_t field) {
    append_xml_escaped(text, field == 0 ? name : field == 1 ? classname : t.message);
  });
}

void junit_xml_pieces(const RunReport& report, const std::vector<EncodedTest>& testcases, std::string& scratch,
                      std::vector<std::string_view>& out) {
  // One suite per binary, in the order binaries first appear.
  std::vector<std::string_view> order;
  std::unordered_map<std::string_view, std::vector<std::size_t>> by_binary;
  for (std::size_t i = 0; i < report.tests.size(); ++i) {
    auto [it, inserted] = by_binary.try_emplace(report.tests[i].binary);
    if (inserted) order.push_back(report.tests[i].binary);
    it->second.push_back(i);
  }
  struct Counts {
    std::size_t failures = 0, errors = 0, skipped = 0;
    double time = 0;
    void add(const TestResult& t) {
      failures += is_test_failure(t.status);
      errors += t.status == Status::InfraError;
      skipped += t.status == Status::Skipped || t.status == Status::NotRun;
      time += t.duration_seconds;
    }
  };
  Counts all;
  for (const auto& t : report.tests) all.add(t);
  // The suites' opening tags go in `scratch`, each at an offset kept until
  // it is complete (appending may move it).
  scratch = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  scratch += "<testsuites name=\"xrun\" tests=\"" + std::to_string(report.tests.size()) + "\" failures=\"" +
             std::to_string(all.failures) + "\" errors=\"" + std::to_string(all.errors) + "\" skipped=\"" +
             std::to_string(all.skipped) + "\" time=\"" + seconds(report.duration_seconds) + "\">\n";
  std::vector<std::pair<std::size_t, std::size_t>> opening{{0, scratch.size()}};
  for (const auto& binary : order) {
    Counts c;
    for (std::size_t i : by_binary[binary]) c.add(report.tests[i]);
    const std::size_t begin = scratch.size();
    scratch += "  <testsuite name=\"" + xml_escape(binary) + "\" tests=\"" + std::to_string(by_binary[binary].size()) +
               "\" failures=\"" + std::to_string(c.failures) + "\" errors=\"" + std::to_string(c.errors) +
               "\" skipped=\"" + std::to_string(c.skipped) + "\" time=\"" + seconds(c.time) + "\" timestamp=\"" +
               xml_escape(report.started_at) + "\">\n";
    opening.emplace_back(begin, scratch.size() - begin);
  }
  const std::string_view text = scratch;
  out.push_back(text.substr(opening[0].first, opening[0].second));
  for (std::size_t b = 0; b < order.size(); ++b) {
    out.push_back(text.substr(opening[b + 1].first, opening[b + 1].second));
    for (std::size_t i : by_binary[order[b]]) testcases[i].append_to(out);
    out.push_back("  </testsuite>\n");
  }
  out.push_back("</testsuites>\n");
}

std::string to_junit_xml(const RunReport& report) {
  std::vector<EncodedTest> testcases;
  testcases.reserve(report.tests.size());
  for (const auto& t : report.tests) testcases.push_back(junit_testcase_encoding(t));
  std::string scratch, xml;
  std::vector<std::string_view> pieces;
  junit_xml_pieces(report, testcases, scratch, pieces);
  for (auto piece : pieces) xml += piece;
  return xml;
}

}  // namespace xrun
