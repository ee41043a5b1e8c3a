// Finding the guest parts (machine/guest_parts.h): the agent, its fork-server
// library and the kernel fragment, for every backend that needs them.
#include "machine/guest_parts.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "backends/system/vm_arch.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

// Without the guest agent next to xrun, the message names what builds it
// (not a compiler that may well be installed).
TEST(GuestParts, AMissingAgentSaysWhatBuildsIt) {
  xrun::testing::TempDir empty;
  ::setenv("XRUN_AGENT_DIR", empty.path().c_str(), 1);
  GuestArch arch = *find_guest_arch("aarch64");
  arch.name = "no-such-arch";  // so that nothing next to the test binary matches either
  auto part = find_guest_part(arch, GuestPart::Agent);
  ::unsetenv("XRUN_AGENT_DIR");
  ASSERT_FALSE(part);
  EXPECT_NE(part.error().message.find("the guest's xrun-agent-no-such-arch is missing (looked in " + empty.path()),
            std::string::npos)
      << part.error().message;
  EXPECT_NE(part.error().message.find("--target xrun_agents"), std::string::npos) << part.error().message;
  EXPECT_EQ(part.error().message.find("sudo apt-get install"), std::string::npos)
      << "aarch64-linux-gnu-gcc is installed: " << part.error().message;
}

// XRUN_AGENT_DIR comes first, with the file names the build gives each part.
TEST(GuestParts, FoundByTheBuildsFileNamesInXrunAgentDirFirst) {
  xrun::testing::TempDir dir;
  const GuestArch& arch = *find_guest_arch("armhf");
  const std::string agent = dir.write("xrun-agent-armhf", "agent", true);
  const std::string library = dir.write("xrun-zygote-armhf.so", "library", false);
  const std::string fragment = dir.write("xrun-kernel-armhf.config", "CONFIG_X=y\n", false);
  ::setenv("XRUN_AGENT_DIR", dir.path().c_str(), 1);
  auto found_agent = find_guest_part(arch, GuestPart::Agent);
  auto found_library = find_guest_part(arch, GuestPart::ForkServer);
  auto found_fragment = find_guest_part(arch, GuestPart::KernelConfig);
  ::unsetenv("XRUN_AGENT_DIR");
  ASSERT_TRUE(found_agent) << found_agent.error().message;
  ASSERT_TRUE(found_library) << found_library.error().message;
  ASSERT_TRUE(found_fragment) << found_fragment.error().message;
  EXPECT_EQ(*found_agent, agent);
  EXPECT_EQ(*found_library, library);
  EXPECT_EQ(*found_fragment, fragment);
}

// Every target system mode has VMs for has guest parts (the agent is a VM's
// /init), and nothing else claims to.
TEST(GuestParts, EveryVmArchitectureHasThem) {
  for (const auto& name : vm_arch_names()) {
    const GuestArch* arch = find_guest_arch(name);
    ASSERT_NE(arch, nullptr) << name;
    EXPECT_EQ(arch->multiarch, find_vm_arch(name)->multiarch) << name;
  }
  EXPECT_EQ(find_guest_arch("x86_64"), nullptr);
  EXPECT_EQ(find_guest_arch(""), nullptr);
}

}  // namespace
}  // namespace xrun
