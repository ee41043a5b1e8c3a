// `xrun image build|list|rm`: the VM images system mode boots (image.h), a
// subcommand of the system row (row.cpp).
#pragma once

#include <string>
#include <vector>

namespace xrun {

int image_command(const std::vector<std::string>& args);

}  // namespace xrun
