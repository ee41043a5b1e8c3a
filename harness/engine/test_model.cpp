#include "engine/test_model.h"

#include <signal.h>

#include <array>
#include <cstring>

namespace xrun {

std::string_view kind_name(TestKind kind) {
  switch (kind) {
    case TestKind::GTest:
      return "gtest";
    case TestKind::Libtest:
      return "libtest";
    case TestKind::Catch2:
      return "catch2";
    case TestKind::Doctest:
      return "doctest";
    case TestKind::Plain:
      return "plain";
  }
  return "plain";
}

namespace {
constexpr std::array<std::pair<Status, std::string_view>, 8> kStatusNames = {{
    {Status::Passed, "passed"},
    {Status::Failed, "failed"},
    {Status::Crashed, "crashed"},
    {Status::TimedOut, "timed-out"},
    {Status::Skipped, "skipped"},
    {Status::Flaky, "flaky"},
    {Status::InfraError, "infra-error"},
    {Status::NotRun, "not-run"},
}};
}  // namespace

std::string_view status_name(Status status) {
  for (const auto& [s, name] : kStatusNames)
    if (s == status) return name;
  return "not-run";
}

std::optional<Status> status_from_name(std::string_view name) {
  for (const auto& [s, n] : kStatusNames)
    if (n == name) return s;
  return std::nullopt;
}

bool is_test_failure(Status status) {
  return status == Status::Failed || status == Status::Crashed || status == Status::TimedOut;
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbrev;
}

}  // namespace xrun
