// Follows the XML reporters of Catch2 (`-r xml`, v2 and v3) and doctest
// (`--dt-reporters=xml`) while they stream: both descend from Catch's
// XmlWriter, which writes an element's start tag, with a newline, and
// flushes it as the test case starts:
//
//   <TestCase name="a &amp; b" ... >          the case is running from here
//   ...the case's own stdout, raw...
//   <Expression success="false" ...> ... </Expression>
//   <OverallResult success="false"/>          Catch2 (v3 adds skips="1" for SKIP())
//   <OverallResultsAsserts ... test_case_success="false"/>   doctest
//   </TestCase>                               the case ended
//
// Both catch fatal signals themselves, report them inside the case
// (<FatalErrorCondition>, doctest's <Exception crash="true">), close the
// document and raise the signal again. A case that reported one stays
// "running", so the process's death by that signal is blamed on it (as
// crashed, with its signal), not on the next case.
//
// Only what is needed is parsed, line by line: a start tag at the start of
// a line (after the indent), the verdict and end tags anywhere in a line
// (a case's output without a final newline runs into them). Attribute
// values are entity-decoded. A case that was not asked for (Catch2 matches
// names case-insensitively, doctest's '*' and '?' are wildcards, so a
// filter may run more than it names) is not followed: its lines belong to
// no test.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/harness_stream.h"

namespace xrun {

enum class XmlDialect { Catch2, Doctest };

std::unique_ptr<HarnessStream> make_xml_reporter_stream(XmlDialect dialect, StreamEvents events,
                                                        std::vector<std::string> expected);

// XML's predefined entities and character references decoded; anything
// malformed is kept as it is.
std::string xml_unescape(std::string_view text);

// The decoded value of attribute `name` in a tag's text (`<TestCase name="x" ...`).
std::optional<std::string> xml_attribute(std::string_view tag, std::string_view name);

// What a failed case's reporter XML says went wrong: each failed
// expression ("file:line: CHECK( answer == 42 ) with expansion: 41 == 42"),
// explicit failure, exception or fatal signal, in order; "" when none.
std::string xml_failure_text(std::string_view output);

}  // namespace xrun
