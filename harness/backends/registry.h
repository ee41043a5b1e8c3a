// The registry: every backend xrun has, one row each (backends/backend.h),
// listed in registry.cpp. Whatever names, lists, chooses or stops backends
// asks here.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace xrun {

// Every row, in the registry's order (the order of --help and doctor).
std::span<const Backend* const> backends();

// The row named `name`, whether or not a user may choose it; nullptr if none.
const Backend* find_backend(std::string_view name);

// The backend a user chose by name (--backend, `backend =`, a CTest emulator
// line); nullptr for a name no choosable row has.
const Backend* parse_backend(std::string_view name);
// The names a user may choose, in order ("qemu-user", "system", "board").
std::vector<std::string> backend_names();
// The same for messages: "\"qemu-user\", \"system\" or \"board\"".
std::string backend_choices();

// The configuration section a row adds, by name ("boards"), or nullptr.
const ConfigSection* find_config_section(std::string_view name);

// The switch of a row named `name` ("--cold-boot"), or nullptr.
const BackendFlag* find_backend_flag(std::string_view name);

// The row that takes the programs the host runs itself (scripts, host
// programs, files xrun cannot read), whatever was chosen: the one row that
// is not choosable.
const Backend& host_backend();
// The row that runs a foreign program of `format` when nothing chose one;
// nullptr when no row runs the format (PE/COFF, WebAssembly: not yet).
const Backend* default_backend(BinaryFormat format);
// Whether `row` runs files of `format`.
bool runs_format(const Backend& row, BinaryFormat format);

}  // namespace xrun
