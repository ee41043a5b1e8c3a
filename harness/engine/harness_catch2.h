// Catch2 test binaries (v2 and v3): how to recognise one, list its cases and
// run exactly the ones asked for. Its output is followed by the XML
// reporter's stream parser (harness_xml_stream.h).
//
// Listing. v2: `--list-test-names-only "*"` (a name a line; "*" lists the
// hidden cases too, which a listing without a spec leaves out) and
// `--list-test-names-only "[.]"` (the hidden ones: `[.]`, `[.tag]` and
// `[!hide]` all add the "." tag). v2 exits with the number of cases it
// listed, so a listing's exit status means nothing. v3 dropped
// --list-test-names-only; `--list-tests "*" --reporter xml` gives each case's
// <Name> and <Tags>, hidden ones carrying "[.]". Hidden cases are listed as
// skipped ("hidden"): Catch2 itself never runs them unless named.
//
// Running: `--reporter xml --order decl` and a test spec naming each case,
// comma-separated, each escaped with a backslash before `\ , [ ] " ~` and a
// leading space (what the spec parser would otherwise read as a separator,
// a tag, a quote or an exclusion). Two things a spec cannot say exactly:
// names are matched case-insensitively, and a leading or trailing '*' is a
// wildcard even escaped; such a spec may run more cases than it names, which
// the stream parser leaves unfollowed (their output belongs to no test).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/test_model.h"

namespace xrun {

// From the binary's bytes: Catch2 v2 carries "--list-test-names-only", v3
// the XML reporter's root element "Catch2TestRun".
bool is_catch2_binary(std::string_view bytes);
bool is_catch2_v3_binary(std::string_view bytes);

// The listings to run for a binary of these bytes (its whole file, which
// discovery holds mapped), and the cases in their output (one output per
// command, in order).
std::vector<std::vector<std::string>> catch2_listing_commands(std::string_view bytes);
std::vector<TestCase> parse_catch2_list(const std::string& binary, const std::vector<std::string_view>& outputs);

// One name as a test spec that matches it.
std::string catch2_test_spec(std::string_view name);
std::vector<std::string> catch2_arguments(const std::vector<std::string>& names);

}  // namespace xrun
