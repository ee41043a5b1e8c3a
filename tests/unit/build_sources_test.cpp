#include "engine/build_sources.h"

#include <gtest/gtest.h>

using namespace xrun;

TEST(CargoMessages, TestExecutablesWithTheirPackageRoot) {
  const char* lines =
      R"J({"reason":"compiler-artifact","package_id":"rust_sample 0.1.0 (path+file:///src/rust_sample)","manifest_path":"/src/rust_sample/Cargo.toml","target":{"name":"rust_sample","kind":["lib"]},"profile":{"test":true},"executable":"/t/deps/rust_sample-abc"})J"
      "\n"
      R"J({"reason":"compiler-artifact","package_id":"path+file:///src/other#other@1.2.3","manifest_path":"/src/other/Cargo.toml","target":{"name":"other"},"profile":{"test":false},"executable":null})J"
      "\n"
      R"J({"reason":"compiler-artifact","package_id":"path+file:///src/other#other@1.2.3","manifest_path":"/src/other/Cargo.toml","target":{"name":"it"},"profile":{"test":true},"executable":"/t/deps/it-def"})J"
      "\n"
      R"J({"reason":"build-finished","success":true})J"
      "\n";
  auto binaries = parse_cargo_messages(lines);
  ASSERT_TRUE(binaries);
  ASSERT_EQ(binaries->size(), 2u);
  EXPECT_EQ((*binaries)[0].path, "/t/deps/rust_sample-abc");
  EXPECT_EQ((*binaries)[0].cwd, "/src/rust_sample");
  EXPECT_EQ((*binaries)[0].kind, TestKind::Libtest);
  EXPECT_NE(std::find((*binaries)[0].env.begin(), (*binaries)[0].env.end(), "CARGO_PKG_NAME=rust_sample"),
            (*binaries)[0].env.end());
  EXPECT_NE(std::find((*binaries)[1].env.begin(), (*binaries)[1].env.end(), "CARGO_PKG_VERSION=1.2.3"),
            (*binaries)[1].env.end());
}

TEST(CTestJson, CommandsWithoutTheXrunEmulatorPrefix) {
  const char* json = R"({"kind":"ctestInfo","version":{"major":1,"minor":0},"tests":[
    {"name":"Suite.a","command":["/usr/bin/xrun","--target","aarch64","/b/tests","--gtest_filter=Suite.a"],
     "properties":[{"name":"WORKING_DIRECTORY","value":"/src"},{"name":"ENVIRONMENT","value":["A=1","B=2"]}]},
    {"name":"plain","command":["/b/tool","arg"]},
    {"name":"off","command":["/b/tool"],"properties":[{"name":"DISABLED","value":true}]}]})";
  auto tests = parse_ctest_json(json, "/b");
  ASSERT_TRUE(tests);
  ASSERT_EQ(tests->size(), 3u);
  EXPECT_EQ((*tests)[0].path, "/b/tests");
  EXPECT_EQ((*tests)[0].args, std::vector<std::string>{"--gtest_filter=Suite.a"});
  EXPECT_EQ((*tests)[0].name, "Suite.a");
  EXPECT_EQ((*tests)[0].cwd, "/src");
  EXPECT_EQ((*tests)[0].env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ((*tests)[1].cwd, "/b");
  EXPECT_EQ((*tests)[1].args, std::vector<std::string>{"arg"});
  EXPECT_TRUE((*tests)[2].disabled);
  EXPECT_FALSE(parse_ctest_json("not json", "/b"));
}

#include <filesystem>
#include <fstream>

#include "backends/registry.h"
#include "support/temp_dir.h"

namespace {

// CMake puts the emulator's options in front of the command; xrun reads them
// with its own grammar, so "--backend system" is an option with its value.
TEST(CTestJson, TheEmulatorsOptionsAreReadWithXrunsOwnGrammar) {
  const char* json = R"({"tests":[
    {"name":"vm","command":["/usr/bin/xrun","--backend","system","/b/suite","--gtest_filter=A.*"]},
    {"name":"dashes","command":["/opt/xrun","-v","--","/b/other"]},
    {"name":"bad","command":["/usr/bin/xrun","--backend","vm","/b/suite"]}]})";
  auto bad = parse_ctest_json(json, "/b");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("CTest test \"bad\": --backend must be"), std::string::npos)
      << bad.error().message;
  const char* good = R"({"tests":[
    {"name":"vm","command":["/usr/bin/xrun","--backend","system","/b/suite","--gtest_filter=A.*"]},
    {"name":"dashes","command":["/opt/xrun","-v","--","/b/other"]}]})";
  auto tests = parse_ctest_json(good, "/b");
  ASSERT_TRUE(tests) << tests.error().message;
  ASSERT_EQ(tests->size(), 2u);
  EXPECT_EQ((*tests)[0].path, "/b/suite");
  EXPECT_EQ((*tests)[0].args, std::vector<std::string>{"--gtest_filter=A.*"});
  ASSERT_NE((*tests)[0].backend, nullptr);
  EXPECT_EQ((*tests)[0].backend->name, "system");
  EXPECT_EQ((*tests)[1].path, "/b/other");
  EXPECT_FALSE((*tests)[1].backend);
}

// fmt registers one CTest test per binary: a whole GoogleTest binary becomes
// its cases, unless CTest's granularity is asked for or CTest would judge
// the result by more than the exit status.
TEST(CTestJson, AWholeGoogleTestBinaryBecomesItsCases) {
  const std::string suite = XRUN_GTEST_SUITE;
  const std::string json = R"({"tests":[
    {"name":"whole","command":[")" +
                           suite + R"("],"properties":[{"name":"ENVIRONMENT","value":["A=1"]},
      {"name":"WORKING_DIRECTORY","value":"/src"}]},
    {"name":"filtered","command":[")" +
                           suite + R"(","--gtest_filter=Pass.*"]},
    {"name":"inverted","command":[")" +
                           suite + R"("],"properties":[{"name":"WILL_FAIL","value":true}]},
    {"name":"tool","command":["/bin/true"]}]})";
  auto cases = parse_ctest_json(json, "/b", CTestGranularity::Case);
  ASSERT_TRUE(cases) << cases.error().message;
  ASSERT_EQ(cases->size(), 4u);
  EXPECT_EQ((*cases)[0].kind, TestKind::GTest);
  EXPECT_FALSE((*cases)[0].name) << "its cases are named by the binary's listing";
  EXPECT_EQ((*cases)[0].cwd, "/src");
  EXPECT_EQ((*cases)[0].env, std::vector<std::string>{"A=1"});
  EXPECT_EQ((*cases)[1].kind, TestKind::Plain);
  EXPECT_EQ((*cases)[2].kind, TestKind::Plain) << "WILL_FAIL: CTest's verdict, not the cases'";
  EXPECT_EQ((*cases)[3].kind, TestKind::Plain);
  auto whole = parse_ctest_json(json, "/b", CTestGranularity::Test);
  ASSERT_TRUE(whole);
  EXPECT_EQ((*whole)[0].kind, TestKind::Plain);
  EXPECT_EQ((*whole)[0].name, "whole");
}

// A toolchain without the target's standard library (rustup's, say): the
// error says which cargo and rustc ran and what to add.
TEST(CargoFailure, ExplainsAMissingStandardLibrary) {
  xrun::testing::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib");
  const std::string rustc = dir.write("bin/rustc",
                                      "#!/bin/sh\ncase \"$1\" in --version) echo 'rustc 1.95.0 (test)';; "
                                      "--print) echo '" +
                                          dir.path() + "/sysroot';; esac\n",
                                      true);
  const std::string cargo = dir.write("bin/cargo", "#!/bin/sh\necho 'cargo 1.95.0 (test)'\n", true);
  ::setenv("CARGO", cargo.c_str(), 1);
  ::setenv("RUSTC", rustc.c_str(), 1);
  const std::string text = explain_cargo_failure({"--offline", "--target", "aarch64-unknown-linux-gnu"});
  EXPECT_NE(text.find(cargo + " (cargo 1.95.0 (test)) with " + rustc + " (rustc 1.95.0 (test))"), std::string::npos)
      << text;
  EXPECT_NE(text.find("no standard library for aarch64-unknown-linux-gnu"), std::string::npos) << text;
  EXPECT_NE(text.find("libstd-rust-dev:arm64"), std::string::npos) << text;
  // With the library there, only which tools ran.
  std::filesystem::create_directories(dir.path() + "/sysroot/lib/rustlib/aarch64-unknown-linux-gnu/lib");
  std::ofstream(dir.path() + "/sysroot/lib/rustlib/aarch64-unknown-linux-gnu/lib/libstd-0123.rlib") << "";
  const std::string fine = explain_cargo_failure({"--target=aarch64-unknown-linux-gnu"});
  EXPECT_EQ(fine.find("standard library"), std::string::npos) << fine;
  ::unsetenv("CARGO");
  ::unsetenv("RUSTC");
}

}  // namespace
