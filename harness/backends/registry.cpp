#include "backends/registry.h"

#include <algorithm>
#include <cstdlib>

#include "core/diagnostics.h"

namespace xrun {

// Each defined in its own folder: backends/<name>/row.cpp.
extern const Backend kNativeBackend;
extern const Backend kQemuUserBackend;
extern const Backend kSystemBackend;
extern const Backend kBoardBackend;

namespace {

// The registry. A new backend is a folder with its row, and a line here.
constexpr const Backend* kBackends[] = {&kNativeBackend, &kQemuUserBackend, &kSystemBackend, &kBoardBackend};

}  // namespace

std::span<const Backend* const> backends() { return kBackends; }

const Backend* find_backend(std::string_view name) {
  for (const Backend* row : kBackends)
    if (row->name == name) return row;
  return nullptr;
}

const Backend* parse_backend(std::string_view name) {
  const Backend* row = find_backend(name);
  return row && row->choosable ? row : nullptr;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const Backend* row : kBackends)
    if (row->choosable) names.emplace_back(row->name);
  return names;
}

std::string backend_choices() {
  const auto names = backend_names();
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += quoted(names[i]);
  }
  return out;
}

const ConfigSection* find_config_section(std::string_view name) {
  for (const Backend* row : kBackends)
    for (const auto& section : row->sections)
      if (section.name == name) return &section;
  return nullptr;
}

const BackendFlag* find_backend_flag(std::string_view name) {
  for (const Backend* row : kBackends)
    for (const auto& flag : row->flags)
      if (flag.name == name) return &flag;
  return nullptr;
}

const Backend& host_backend() {
  const auto row =
      std::find_if(std::begin(kBackends), std::end(kBackends), [](const Backend* b) { return !b->choosable; });
  if (row == std::end(kBackends)) std::abort();  // the registry lost its host row: a bug caught by every test
  return **row;
}

bool runs_format(const Backend& row, BinaryFormat format) {
  return std::find(row.formats.begin(), row.formats.end(), format) != row.formats.end();
}

const Backend* default_backend(BinaryFormat format) {
  for (const Backend* row : kBackends)
    if (row->is_default && runs_format(*row, format)) return row;
  return nullptr;
}

}  // namespace xrun
