#include "config/backend.h"

namespace xrun {

std::optional<Backend> parse_backend(std::string_view name) {
  if (name == "qemu-user") return Backend::QemuUser;
  if (name == "system") return Backend::System;
  if (name == "board") return Backend::Board;
  return std::nullopt;
}

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::QemuUser:
      return "qemu-user";
    case Backend::System:
      return "system";
    case Backend::Board:
      return "board";
  }
  return "?";
}

std::string_view backend_choices() { return "\"qemu-user\", \"system\" or \"board\""; }

}  // namespace xrun
