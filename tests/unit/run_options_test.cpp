// xrun's one grammar for the options before PROGRAM (the runner itself,
// options before a subcommand, the commands CTest runs through xrun).
#include "launch/run_options.h"

#include <gtest/gtest.h>

#include "backends/registry.h"

using namespace xrun;

namespace {

TEST(RunLine, OptionsThenProgramAndItsArgumentsUntouched) {
  auto line = parse_run_line({"--backend", "system", "-v", "--target=aarch64", "/b/suite", "--gtest_filter=A.*", "-v"});
  ASSERT_TRUE(line) << line.error().message;
  ASSERT_NE(line->options.backend, nullptr);
  EXPECT_EQ(line->options.backend->name, "system");
  EXPECT_TRUE(line->options.verbose);
  EXPECT_EQ(line->options.target, "aarch64");
  EXPECT_EQ(line->program, 4u);  // "system" is --backend's value, not the program
  EXPECT_FALSE(line->after_dashes);
  EXPECT_EQ(line->option_words, (std::vector<std::string>{"--backend", "system", "-v", "--target=aarch64"}));
}

TEST(RunLine, DashesEndTheOptions) {
  auto line = parse_run_line({"--cold-boot", "--", "test", "--backend"});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->options.backend_flags, std::vector<std::string>{"--cold-boot"});
  EXPECT_TRUE(line->after_dashes);
  EXPECT_EQ(line->program, 2u);
  auto none = parse_run_line({"--config", "x.toml"});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->program, 2u) << "no program: the index is past the end";
  EXPECT_EQ(none->options.config_file, "x.toml");
}

TEST(RunLine, MistakesAreUsageErrorsThatSayWhich) {
  auto bad = parse_run_line({"--backend=vm", "prog"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ExitCode::Usage);
  EXPECT_EQ(bad.error().message, "--backend must be \"qemu-user\", \"system\" or \"board\", not \"vm\"");
  auto missing = parse_run_line({"--target"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "option --target needs a value");
  auto unknown = parse_run_line({"--tagret", "aarch64", "prog"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown option \"--tagret\", did you mean \"--target\"?"), std::string::npos)
      << unknown.error().message;
  auto flag_value = parse_run_line({"--cold-boot=yes", "prog"});
  ASSERT_FALSE(flag_value);
  EXPECT_EQ(flag_value.error().message, "option --cold-boot takes no value");
}

}  // namespace
