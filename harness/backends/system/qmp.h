// qemu's machine protocol (QMP) over its unix socket, blocking with a
// deadline: the few commands that save a VM's state and restore it
// (saved_state.h, vm.h), each answered within milliseconds of qemu's start.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/expected.h"

namespace xrun {

// A connected unix stream socket; -1 when nothing listens at `path` yet.
int connect_unix(const std::string& path);

// Reads what `fd` has into `into`, waiting until `deadline`; false on
// timeout, EOF, an error or a signal (Ctrl-C stops the wait).
bool read_with_deadline(int fd, std::string& into, std::chrono::steady_clock::time_point deadline);

// One QMP command; skips asynchronous events. nullopt on timeout or EOF.
// `pending`: what was read past the last answer, for the next.
std::optional<nlohmann::json> qmp(int fd, std::string& pending, const nlohmann::json& command,
                                  std::chrono::steady_clock::time_point deadline);

// Connects to qemu's QMP socket (retrying while qemu `qemu` starts),
// negotiates, sets the x-ignore-shared capability (the RAM stays in its
// memory-backend file: only device state is migrated) and returns the fd;
// -1 with `why` set on failure.
int qmp_open(const std::string& socket, pid_t qemu, std::string& pending,
             std::chrono::steady_clock::time_point deadline, std::string& why);

// The migration's state from a QMP query-migrate reply ("active",
// "completed", ...); an Error for an error reply, a failed or cancelled
// migration, or a reply that is not one (exposed for unit tests).
Expected<std::string> migration_state(const nlohmann::json& reply);

}  // namespace xrun
