// Messages to the user (as opposed to the debug trace, which is spdlog's).
// Every line xrun itself prints starts with "xrun: " so it can never be taken
// for the program's own output; colour is used only when stderr is a terminal
// and NO_COLOR is unset.
#pragma once

#include <string>
#include <string_view>

namespace xrun {

// "xrun: error: <message>" on stderr, once per line of `message`.
void print_error(std::string_view message);
// "xrun: warning: <message>" on stderr.
void print_warning(std::string_view message);

// True when stderr is a terminal and NO_COLOR is not set (https://no-color.org).
bool stderr_wants_color();

// Quotes a value for a message the way a shell user would read it back:
// "value" with backslash escapes for quotes and control characters.
std::string quoted(std::string_view value);
// "10 s", "0.25 s": a duration in a message (three significant digits).
std::string format_seconds(double seconds);

}  // namespace xrun
