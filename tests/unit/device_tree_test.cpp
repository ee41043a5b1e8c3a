// The device tree editor behind system mode's trimmed virt machine, on
// small trees built here token by token.
#include "backends/system/device_tree.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace xrun {
namespace {

// Builds a flattened device tree: nodes and properties in order, then the
// header. `padding` mimics qemu's dump, whose totalsize is its 1 MiB buffer.
class TreeBuilder {
 public:
  TreeBuilder& begin(const std::string& name) {
    token(1);
    structure_ += name;
    structure_.push_back('\0');
    align();
    return *this;
  }
  TreeBuilder& prop(const std::string& name, const std::string& value) {
    token(3);
    token(static_cast<std::uint32_t>(value.size()));
    token(static_cast<std::uint32_t>(strings_.size()));
    strings_ += name;
    strings_.push_back('\0');
    structure_ += value;
    align();
    return *this;
  }
  TreeBuilder& end() {
    token(2);
    return *this;
  }
  std::string blob(std::size_t padding = 0) {
    token(9);
    const std::uint32_t off_rsv = 40, off_struct = off_rsv + 16;
    const auto off_strings = static_cast<std::uint32_t>(off_struct + structure_.size());
    const auto total = static_cast<std::uint32_t>(off_strings + strings_.size() + padding);
    std::string out;
    for (std::uint32_t v : {0xd00dfeedu, total, off_struct, off_strings, off_rsv, 17u, 16u, 0u,
                            static_cast<std::uint32_t>(strings_.size()), static_cast<std::uint32_t>(structure_.size())})
      put(out, v);
    out += std::string(16, '\0');  // an empty memory reservation map
    out += structure_ + strings_ + std::string(padding, '\0');
    return out;
  }

 private:
  static void put(std::string& s, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
  }
  void token(std::uint32_t v) { put(structure_, v); }
  void align() {
    while (structure_.size() % 4) structure_.push_back('\0');
  }
  std::string structure_, strings_;
};

std::string virt_like_tree(std::size_t padding = 0) {
  TreeBuilder t;
  t.begin("").prop("compatible", "linux,dummy-virt");
  t.begin("cpus").begin("cpu@0").prop("compatible", "arm,cortex-a57").end().end();
  t.begin("pl011@9000000").prop("compatible", "arm,pl011").end();
  t.begin("gpio-keys").begin("poweroff").prop("label", "GPIO Key Poweroff").end().end();
  t.begin("pcie@10000000").prop("device_type", "pci").end();
  for (const char* slot : {"a000000", "a000200", "a000400", "a000600"})
    t.begin(std::string("virtio_mmio@") + slot).prop("compatible", "virtio,mmio").end();
  t.begin("chosen").prop("bootargs", "x").end();
  t.end();
  return t.blob(padding);
}

TEST(DeviceTree, ListsEveryNodeByItsPath) {
  const auto paths = device_tree_node_paths(virt_like_tree());
  EXPECT_EQ(paths,
            (std::vector<std::string>{"/cpus/cpu@0", "/cpus", "/pl011@9000000", "/gpio-keys/poweroff", "/gpio-keys",
                                      "/pcie@10000000", "/virtio_mmio@a000000", "/virtio_mmio@a000200",
                                      "/virtio_mmio@a000400", "/virtio_mmio@a000600", "/chosen", "/"}));
}

TEST(DeviceTree, RemovedNodesLeaveNopsAndTheRestIntact) {
  const std::string tree = virt_like_tree();
  auto trimmed =
      remove_device_tree_nodes(tree, [](std::string_view p) { return p == "/gpio-keys" || p == "/pcie@10000000"; });
  ASSERT_TRUE(trimmed) << trimmed.error().message;
  EXPECT_EQ(trimmed->size(), tree.size());  // nothing moves
  EXPECT_EQ(device_tree_node_paths(*trimmed),
            (std::vector<std::string>{"/cpus/cpu@0", "/cpus", "/pl011@9000000", "/virtio_mmio@a000000",
                                      "/virtio_mmio@a000200", "/virtio_mmio@a000400", "/virtio_mmio@a000600", "/chosen",
                                      "/"}));
  EXPECT_EQ(trimmed->find("GPIO Key Poweroff"), std::string::npos);
  EXPECT_NE(trimmed->find("arm,pl011"), std::string::npos);
}

TEST(DeviceTree, PacksTheTotalSizeOfQemusDump) {
  const std::string dumped = virt_like_tree(1 << 20);
  auto packed = remove_device_tree_nodes(dumped, [](std::string_view) { return false; });
  ASSERT_TRUE(packed);
  EXPECT_LT(packed->size(), 1024u);
  EXPECT_EQ(packed->size() % 8, 0u);
  const auto total = static_cast<std::size_t>(static_cast<unsigned char>((*packed)[6])) << 8 |
                     static_cast<unsigned char>((*packed)[7]);
  EXPECT_EQ(total, packed->size());
  EXPECT_EQ(device_tree_node_paths(*packed), device_tree_node_paths(dumped));
}

TEST(DeviceTree, RejectsWhatIsNotATree) {
  EXPECT_FALSE(remove_device_tree_nodes("not a device tree at all, just some text to read",
                                        [](std::string_view) { return true; }));
  std::string truncated = virt_like_tree();
  truncated.resize(truncated.size() / 2);
  EXPECT_FALSE(remove_device_tree_nodes(truncated, [](std::string_view) { return true; }));
  std::string bad_token = virt_like_tree();
  bad_token[40 + 16 + 3] = 7;  // the root's FDT_BEGIN_NODE becomes an unknown token
  EXPECT_FALSE(remove_device_tree_nodes(bad_token, [](std::string_view) { return true; }));
  EXPECT_TRUE(device_tree_node_paths(bad_token).empty());
}

TEST(DeviceTree, VirtKeepsOnlyTheVirtioTransportsQemuFillsFirst) {
  const std::string tree = virt_like_tree();
  const auto used = highest_virtio_mmio_addresses(tree, 2);
  EXPECT_EQ(used, (std::vector<unsigned long>{0xa000600, 0xa000400}));
  auto trimmed = remove_device_tree_nodes(tree, [&](std::string_view p) { return virt_node_unused(p, used); });
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(device_tree_node_paths(*trimmed),
            (std::vector<std::string>{"/cpus/cpu@0", "/cpus", "/pl011@9000000", "/virtio_mmio@a000400",
                                      "/virtio_mmio@a000600", "/chosen", "/"}));
  EXPECT_EQ(highest_virtio_mmio_addresses(tree, 9).size(), 4u);
}

}  // namespace
}  // namespace xrun
