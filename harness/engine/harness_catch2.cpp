#include "engine/harness_catch2.h"

#include <algorithm>
#include <functional>
#include <set>

#include "engine/harness_xml_stream.h"

namespace xrun {

namespace {

bool contains(std::string_view bytes, std::string_view needle) {
  return std::search(bytes.begin(), bytes.end(), std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) !=
         bytes.end();
}

constexpr std::string_view kV2Needle = "--list-test-names-only";
constexpr std::string_view kV3Needle = "Catch2TestRun";

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

// v2's names-only listing: a name a line; one that starts with '#' is
// printed in quotes (so it is not read as a file-name tag).
std::vector<std::string> v2_names(std::string_view listing) {
  std::vector<std::string> names;
  for (auto& line : lines_of(listing)) {
    if (line.empty()) continue;
    if (line.size() >= 3 && line[0] == '"' && line[1] == '#' && line.back() == '"')
      line = line.substr(1, line.size() - 2);
    names.push_back(std::move(line));
  }
  return names;
}

// The text of the first <element>...</element> in `block`, decoded.
std::optional<std::string> element_text(std::string_view block, std::string_view element) {
  const std::string open = "<" + std::string(element) + ">", close = "</" + std::string(element) + ">";
  const auto begin = block.find(open);
  if (begin == std::string_view::npos) return std::nullopt;
  const auto end = block.find(close, begin + open.size());
  if (end == std::string_view::npos) return std::nullopt;
  return xml_unescape(block.substr(begin + open.size(), end - begin - open.size()));
}

TestCase make_case(const std::string& binary, std::string name, bool hidden) {
  TestCase tc;
  tc.binary = binary;
  tc.kind = TestKind::Catch2;
  tc.name = std::move(name);
  if (hidden) tc.skip_reason = "hidden";
  return tc;
}

}  // namespace

bool is_catch2_binary(std::string_view bytes) { return contains(bytes, kV2Needle) || contains(bytes, kV3Needle); }
bool is_catch2_v3_binary(std::string_view bytes) { return !contains(bytes, kV2Needle) && contains(bytes, kV3Needle); }

std::vector<std::vector<std::string>> catch2_listing_commands(std::string_view bytes) {
  if (is_catch2_v3_binary(bytes)) return {{"--list-tests", "*", "--reporter", "xml", "--order", "decl"}};
  return {{"--list-test-names-only", "*", "--order", "decl"}, {"--list-test-names-only", "[.]"}};
}

std::vector<TestCase> parse_catch2_list(const std::string& binary, const std::vector<std::string_view>& outputs) {
  std::vector<TestCase> tests;
  if (outputs.empty()) return tests;
  if (outputs.size() == 1) {
    // v3's XML listing: <TestCase><Name>..</Name><ClassName/><Tags>[a][.]</Tags>...</TestCase>
    std::string_view xml = outputs[0];
    std::size_t at = 0;
    while ((at = xml.find("<TestCase>", at)) != std::string_view::npos) {
      auto end = xml.find("</TestCase>", at);
      if (end == std::string_view::npos) end = xml.size();
      const std::string_view block = xml.substr(at, end - at);
      if (auto name = element_text(block, "Name")) {
        const std::string tags = element_text(block, "Tags").value_or("");
        tests.push_back(make_case(binary, std::move(*name), tags.find("[.]") != std::string::npos));
      }
      at = end;
    }
    return tests;
  }
  const auto hidden_names = v2_names(outputs[1]);
  const std::set<std::string> hidden(hidden_names.begin(), hidden_names.end());
  for (auto& name : v2_names(outputs[0])) {
    const bool is_hidden = hidden.count(name) > 0;
    tests.push_back(make_case(binary, std::move(name), is_hidden));
  }
  return tests;
}

std::string catch2_test_spec(std::string_view name) {
  std::string spec;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    // ' ' only matters first (the parser skips spaces between specs).
    if (c == '\\' || c == ',' || c == '[' || c == ']' || c == '"' || c == '~' || (c == ' ' && i == 0)) spec += '\\';
    spec += c;
  }
  return spec;
}

std::vector<std::string> catch2_arguments(const std::vector<std::string>& names) {
  std::string spec;
  for (const auto& name : names) {
    if (!spec.empty()) spec += ',';
    spec += catch2_test_spec(name);
  }
  return {"--reporter", "xml", "--order", "decl", spec};
}

}  // namespace xrun
