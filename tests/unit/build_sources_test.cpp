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
