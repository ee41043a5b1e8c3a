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

#include "report/report.h"

namespace xrun {

std::string to_junit_xml(const RunReport& report);

// Text safe inside an XML 1.0 element or attribute value. In an attribute
// (`attribute`), newlines and tabs are written as character references too:
// a parser turns raw ones into spaces, and a multi-line assertion in a
// <failure message="..."> would lose its lines.
std::string xml_escape(std::string_view text, bool attribute = false);

}  // namespace xrun
