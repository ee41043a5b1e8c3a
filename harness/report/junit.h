// JUnit XML as Jenkins, GitLab and GitHub test reporters read it: one
// <testsuite> per binary; crashes and timeouts are <failure>s whose message
// says the signal or the timeout; infra errors are <error>s; skipped,
// disabled and not-run tests are <skipped>.
//
// Output goes in as escaped text, never CDATA (so "]]>" is harmless), after
// removing ANSI escape sequences and replacing what XML 1.0 forbids (control
// bytes, invalid UTF-8, U+FFFE/U+FFFF) with U+FFFD.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "report/report.h"

namespace xrun {

std::string to_junit_xml(const RunReport& report);
// to_junit_xml() from each test's <testcase> element as junit_testcase()
// wrote it (`testcases[i]` for `report.tests[i]`), kept by a writer between
// rewrites: only the suites' counts are computed again. Appended to `out`
// as pieces (string_views into `testcases` and `scratch`, which must outlive
// them), so a rewrite copies each element once, into the file.
void junit_xml_pieces(const RunReport& report, const std::vector<EncodedTest>& testcases, std::string& scratch,
                      std::vector<std::string_view>& out);
std::string junit_testcase(const TestResult& test);
EncodedTest junit_testcase_encoding(const TestResult& test);
// junit_testcase_encoding(test).text of a plain not-run test
// (is_plain_not_run), appended to `out`.
void junit_not_run_from_template(std::string& out, const TestResult& test);
// A message as junit_testcase_encoding() writes it where it can be respelled.
std::string junit_message_encoding(std::string_view message);

// Text safe inside an XML 1.0 element or attribute value. In an attribute
// (`attribute`), newlines and tabs are written as character references too:
// a parser turns raw ones into spaces, and a multi-line assertion in a
// <failure message="..."> would lose its lines.
std::string xml_escape(std::string_view text, bool attribute = false);
void append_xml_escaped(std::string& out, std::string_view text, bool attribute = false);

}  // namespace xrun
