#include "engine/harness_doctest.h"

#include <algorithm>
#include <functional>

#include "engine/harness_xml_stream.h"

namespace xrun {

namespace {

bool contains(std::string_view bytes, std::string_view needle) {
  return std::search(bytes.begin(), bytes.end(), std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) !=
         bytes.end();
}

}  // namespace

// "dt-test-case=" is doctest's own option (with its default prefix).
bool is_doctest_binary(std::string_view bytes) { return contains(bytes, "dt-test-case="); }

std::vector<std::vector<std::string>> doctest_listing_commands() {
  return {{"--dt-list-test-cases", "--dt-reporters=xml", "--dt-no-skip", "--dt-order-by=file", "--dt-no-colors=true"}};
}

std::vector<TestCase> parse_doctest_list(const std::string& binary, std::string_view listing) {
  std::vector<TestCase> tests;
  std::size_t at = 0;
  // <TestCase name="..." testsuite="..." filename="..." line="7" skipped="false"/>
  while ((at = listing.find("<TestCase ", at)) != std::string_view::npos) {
    // The tag ends at the first '>' outside quotes: doctest leaves '>' in
    // attribute values as it is.
    auto end = at;
    for (bool quoted = false; end < listing.size() && (quoted || listing[end] != '>'); ++end)
      if (listing[end] == '"') quoted = !quoted;
    if (end == listing.size()) break;
    const std::string_view tag = listing.substr(at, end - at + 1);
    at = end;
    auto name = xml_attribute(tag, "name");
    // A name of no text, or of lines, cannot be asked for (nor cached):
    // not a case xrun can run on its own.
    if (!name || name->empty() || name->find('\n') != std::string::npos) continue;
    TestCase tc;
    tc.binary = binary;
    tc.kind = TestKind::Doctest;
    tc.name = std::move(*name);
    if (xml_attribute(tag, "skipped").value_or("") == "true") tc.skip_reason = "skipped";
    tests.push_back(std::move(tc));
  }
  return tests;
}

std::string doctest_filter(std::string_view name) {
  std::string filter;
  for (char c : name) {
    if (c == ',' || c == '\\') filter += '\\';
    filter += c;
  }
  return filter;
}

std::vector<std::string> doctest_arguments(const std::vector<std::string>& names) {
  std::string filters = "--dt-test-case=";
  for (std::size_t i = 0; i < names.size(); ++i) filters += (i ? "," : "") + doctest_filter(names[i]);
  return {"--dt-reporters=xml",  "--dt-case-sensitive=true", "--dt-order-by=file",
          "--dt-no-colors=true", "--dt-no-breaks=true",      filters};
}

}  // namespace xrun
