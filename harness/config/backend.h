// Where a program runs: one value, parsed here once for every place that
// names it (--backend, `backend =` in xrun.toml, XRUN_<TARGET>_BACKEND, the
// options CMake puts in front of a test's command), chosen per job by
// backends/routing_runner.h. Reports use the same names, plus "native" for
// programs the host runs itself.
#pragma once

#include <optional>
#include <string_view>

namespace xrun {

enum class Backend {
  QemuUser,  // one qemu-user process per program: xrun execs it in place
  System,    // a booted target VM (qemu-system) with xrun's agent inside
  Board,     // a real board over SSH, xrun's agent started there ([boards.NAME])
};

// "qemu-user" -> QemuUser, "system" -> System, "board" -> Board; nullopt for anything else.
std::optional<Backend> parse_backend(std::string_view name);
std::string_view backend_name(Backend backend);
// The accepted names, for messages: "\"qemu-user\", \"system\" or \"board\"".
std::string_view backend_choices();

// The name a report gives a program the host ran itself (a host program, a script).
inline constexpr std::string_view kNativeBackendName = "native";

}  // namespace xrun
