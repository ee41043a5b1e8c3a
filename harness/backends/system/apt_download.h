// `apt-get download` for the image and kernel builders (image.cpp,
// kernel_build.cpp): exact package versions fetched into a scratch directory,
// then found there by name.
#pragma once

#include <string>
#include <vector>

namespace xrun {

// The command that downloads `packages` ("name:arch=version" each) into the
// current directory.
std::vector<std::string> apt_download_command(const std::vector<std::string>& packages);

// The .deb apt-get download wrote for `package` ("name" or "name:arch") into
// `dir`; "" when there is none.
std::string downloaded_deb(const std::string& dir, const std::string& package);

}  // namespace xrun
