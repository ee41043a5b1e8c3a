#include "backends/system/device_tree.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xrun {
namespace {

// The flattened device tree format (devicetree.org specification, 5.x):
// a big-endian header, then a structure block of 32-bit tokens.
constexpr std::uint32_t kMagic = 0xd00dfeed;
constexpr std::uint32_t kBeginNode = 1, kEndNode = 2, kProp = 3, kNop = 4, kEnd = 9;
constexpr std::size_t kHeaderSize = 40;

std::uint32_t be32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
void put_be32(std::string& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (24 - 8 * i));
}
std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

struct Node {
  std::string path;
  std::size_t begin, end;  // its tokens: [begin, end)
};

// Every node with the byte range of its tokens; nullopt if malformed.
std::optional<std::vector<Node>> walk(const std::string& b) {
  if (b.size() < kHeaderSize || be32(b, 0) != kMagic) return std::nullopt;
  const std::size_t total = be32(b, 4), off_struct = be32(b, 8), size_struct = be32(b, 36);
  if (total > b.size() || off_struct + size_struct > total || size_struct % 4) return std::nullopt;
  std::vector<Node> nodes;
  std::vector<std::pair<std::string, std::size_t>> open;  // path, begin
  for (std::size_t at = off_struct; at + 4 <= off_struct + size_struct;) {
    switch (be32(b, at)) {
      case kBeginNode: {
        const std::size_t name_end = b.find('\0', at + 4);
        if (name_end == std::string::npos || name_end >= off_struct + size_struct) return std::nullopt;
        const std::string name = b.substr(at + 4, name_end - at - 4);
        std::string path = open.empty() ? std::string() : open.back().first;
        if (path != "/") path.push_back('/');
        path.append(name);
        open.emplace_back(path, at);
        at = align4(name_end + 1);
        break;
      }
      case kEndNode:
        if (open.empty()) return std::nullopt;
        at += 4;
        nodes.push_back({open.back().first, open.back().second, at});
        open.pop_back();
        break;
      case kProp:
        if (at + 12 > b.size()) return std::nullopt;
        at = align4(at + 12 + be32(b, at + 4));
        break;
      case kNop:
        at += 4;
        break;
      case kEnd:
        return open.empty() ? std::optional(nodes) : std::nullopt;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;  // no FDT_END
}

}  // namespace

std::vector<std::string> device_tree_node_paths(const std::string& blob) {
  std::vector<std::string> paths;
  if (auto nodes = walk(blob))
    for (const auto& n : *nodes) paths.push_back(n.path);
  return paths;
}

Expected<std::string> remove_device_tree_nodes(std::string blob, const std::function<bool(std::string_view)>& drop) {
  auto nodes = walk(blob);
  if (!nodes) return make_error(ExitCode::InfraError, "not a valid device tree blob");
  for (const auto& n : *nodes) {
    if (n.path == "/" || !drop(n.path)) continue;
    for (std::size_t at = n.begin; at < n.end; at += 4) put_be32(blob, at, kNop);
  }
  // qemu's dump keeps the 1 MiB buffer it built the tree in as totalsize. A
  // blob that size passed with -dtb left the kernel silent here (measured),
  // so it is packed to what it holds; qemu adds room for /chosen itself.
  const std::size_t used =
      std::max<std::size_t>({kHeaderSize, std::size_t{be32(blob, 8)} + be32(blob, 36),
                             std::size_t{be32(blob, 12)} + be32(blob, 32), std::size_t{be32(blob, 16)}});
  const std::size_t packed = (used + 7) & ~std::size_t{7};
  if (packed < blob.size()) {
    blob.resize(packed);
    put_be32(blob, 4, static_cast<std::uint32_t>(packed));
  }
  return blob;
}

namespace {

// The hex number a node's unit address starts with, read as std::stoul(text,
// nullptr, 16) reads it (strtoul), without its exceptions: none when there
// are no digits or it does not fit.
std::optional<unsigned long> unit_address(std::string_view text) {
  const std::string digits(text);
  errno = 0;
  char* end = nullptr;
  const unsigned long address = std::strtoul(digits.c_str(), &end, 16);
  if (end == digits.c_str() || errno == ERANGE) return std::nullopt;
  return address;
}

}  // namespace

std::vector<unsigned long> highest_virtio_mmio_addresses(const std::string& blob, int count) {
  std::vector<unsigned long> addresses;
  constexpr std::string_view kPrefix = "/virtio_mmio@";
  for (const auto& path : device_tree_node_paths(blob)) {
    if (path.rfind(kPrefix, 0) != 0) continue;
    if (const auto address = unit_address(std::string_view(path).substr(kPrefix.size()))) addresses.push_back(*address);
  }
  std::sort(addresses.rbegin(), addresses.rend());
  if (addresses.size() > static_cast<std::size_t>(std::max(count, 0)))
    addresses.resize(static_cast<std::size_t>(count));
  return addresses;
}

bool virt_node_unused(std::string_view path, const std::vector<unsigned long>& used_virtio_addresses) {
  constexpr std::string_view kVirtio = "/virtio_mmio@";
  if (path.rfind(kVirtio, 0) == 0) {
    const auto address = unit_address(path.substr(kVirtio.size()));
    return address && std::find(used_virtio_addresses.begin(), used_virtio_addresses.end(), *address) ==
                          used_virtio_addresses.end();
  }
  // Hardware of the board that a test VM never touches: PCIe (virtio is on
  // MMIO), NOR flash, fw_cfg, the GPIO controller and its power key, the
  // dynamic sysbus.
  for (std::string_view unused : {"/pcie@", "/flash@", "/fw-cfg@", "/pl061@", "/gpio-keys", "/platform-bus@"})
    if (path.rfind(unused, 0) == 0) return true;
  return false;
}

}  // namespace xrun
