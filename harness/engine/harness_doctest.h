// doctest test binaries: how to recognise one, list its cases and run
// exactly the ones asked for. Its output is followed by the XML reporter's
// stream parser (harness_xml_stream.h).
//
// Options are always given with doctest's "dt-" prefix, which works whether
// or not the program accepts unprefixed ones (DOCTEST_CONFIG_NO_UNPREFIXED_OPTIONS).
//
// Listing: `--dt-list-test-cases --dt-reporters=xml --dt-no-skip` lists every
// case, those marked `doctest::skip()` with skipped="true" (listed as
// skipped, never run), in the order the run uses (--dt-order-by=file).
//
// Running: `--dt-reporters=xml --dt-case-sensitive=true --dt-order-by=file`
// and one `--dt-test-case=` filter list, comma-separated, with ',' and '\'
// escaped by a backslash (doctest 2.4.9 reads `\,` and `\\`; doctest reads
// only the last --dt-test-case= given). '*' and '?' are wildcards with no
// escape: a name holding them may match other cases too, which the stream
// parser leaves unfollowed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/test_model.h"

namespace xrun {

bool is_doctest_binary(std::string_view bytes);

std::vector<std::vector<std::string>> doctest_listing_commands();
std::vector<TestCase> parse_doctest_list(const std::string& binary, std::string_view listing);

// One name as an entry of a --dt-test-case= list.
std::string doctest_filter(std::string_view name);
std::vector<std::string> doctest_arguments(const std::vector<std::string>& names);

}  // namespace xrun
