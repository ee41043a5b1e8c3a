// Records what a HarnessStream said (starts and verdicts in order, output by
// owner) for the stream parsers' unit tests.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/harness_stream.h"

namespace xrun::testing {

struct Trace {
  std::vector<std::string> events;            // "start A.ok", "pass A.ok", "fail ...", "skip ..."
  std::map<std::string, std::string> output;  // by owner; "" for output outside any test
  StreamEvents events_sink() {
    return {
        [this](const std::string& n) { events.push_back("start " + n); },
        [this](const std::string& n, Verdict v) {
          events.push_back(std::string(v == Verdict::Passed ? "pass " : v == Verdict::Failed ? "fail " : "skip ") + n);
        },
        [this](const std::string& n, std::string_view b) { output[n] += std::string(b); }};
  }
};

}  // namespace xrun::testing
