// System mode pieces that need no VM: the agent protocol's host half, the
// initramfs writer, and the module ordering of the image builder.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "backends/system/cpio.h"
#include "backends/system/image.h"
#include "backends/system/kernel_build.h"
#include "backends/system/vm_arch.h"
#include "machine/agent_protocol.h"
#include "support/temp_dir.h"

namespace xrun {
namespace {

std::string u32(std::uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}
std::string frame(std::uint8_t type, const std::string& payload) {
  return u32(static_cast<std::uint32_t>(payload.size() + 1)) + static_cast<char>(type) + payload;
}

TEST(AgentFrameReader, DecodesEveryFrameEvenOneByteAtATime) {
  const std::string bytes =
      frame(XRUN_HELLO_ACK, u32(77) + u32(6) + "6.1.0x") + frame(XRUN_STARTED, u32(5) + u32(1234)) +
      frame(XRUN_STDOUT, u32(5) + std::string("out\0put", 7)) + frame(XRUN_STDERR, u32(5) + "err") +
      frame(XRUN_EXIT, u32(5) + u32(XRUN_EXIT_SIGNAL) + u32(11) + u32(0)) + frame(XRUN_LOG, u32(4) + "note");
  AgentFrameReader reader;
  std::vector<AgentFrame> frames;
  for (char c : bytes) {
    reader.feed(std::string_view(&c, 1));
    while (auto f = reader.next()) frames.push_back(*f);
  }
  ASSERT_FALSE(reader.corrupt());
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[0].job, 77u);
  EXPECT_EQ(frames[0].data, "6.1.0x");
  EXPECT_EQ(frames[1].value, 1234u);
  EXPECT_EQ(frames[2].data, std::string("out\0put", 7));
  EXPECT_EQ(frames[3].type, XRUN_STDERR);
  EXPECT_EQ(frames[4].value, static_cast<std::uint32_t>(XRUN_EXIT_SIGNAL));
  EXPECT_EQ(frames[4].code, 11);
  EXPECT_EQ(frames[5].data, "note");
}

TEST(AgentFrameReader, ABadLengthOrAShortFrameIsCorruptNotACrash) {
  AgentFrameReader zero;
  zero.feed(u32(0) + "x");
  EXPECT_FALSE(zero.next());
  EXPECT_TRUE(zero.corrupt());
  AgentFrameReader huge;
  huge.feed(u32(XRUN_AGENT_MAX_FRAME + 1) + "x");
  EXPECT_FALSE(huge.next());
  EXPECT_TRUE(huge.corrupt());
  AgentFrameReader short_exit;
  short_exit.feed(frame(XRUN_EXIT, u32(1)));
  EXPECT_FALSE(short_exit.next());
  EXPECT_TRUE(short_exit.corrupt());
  // Found by tests/fuzz/parser_fuzz.cpp: a HELLO_ACK shorter than its nonce
  // and string length threw std::out_of_range out of next().
  AgentFrameReader short_hello;
  short_hello.feed(frame(XRUN_HELLO_ACK, u32(7) + "ab"));
  EXPECT_FALSE(short_hello.next());
  EXPECT_TRUE(short_hello.corrupt());
}

TEST(AgentRequests, RunCarriesEveryFieldInTheDocumentedLayout) {
  RunFrame run;
  run.job = 9;
  run.timeout_ms = 1500;
  run.forward_stdin = true;
  run.fork_server = true;
  run.path = "/bin/t";
  run.cwd = "/w";
  run.argv = {"t", ""};
  run.env = {"A=1"};
  run.binds = {"/w", "/bin"};
  run.writable = {"/w"};
  run.server_args = {"--exact", "no-test"};
  const std::string bytes = encode_run(run);
  std::size_t at = 0;
  auto get = [&] {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
    at += 4;
    return v;
  };
  auto str = [&] {
    const std::uint32_t n = get();
    std::string s = bytes.substr(at, n);
    at += n;
    return s;
  };
  EXPECT_EQ(get(), bytes.size() - 4);
  EXPECT_EQ(static_cast<unsigned char>(bytes[at++]), XRUN_RUN);
  EXPECT_EQ(get(), 9u);
  EXPECT_EQ(get(), 1500u);
  EXPECT_EQ(get(), static_cast<std::uint32_t>(XRUN_RUN_STDIN | XRUN_RUN_FORK_SERVER));
  EXPECT_EQ(str(), "/bin/t");
  EXPECT_EQ(str(), "/w");
  EXPECT_EQ(get(), 2u);
  EXPECT_EQ(str(), "t");
  EXPECT_EQ(str(), "");
  EXPECT_EQ(get(), 1u);
  EXPECT_EQ(str(), "A=1");
  EXPECT_EQ(get(), 2u);
  EXPECT_EQ(str(), "/w");
  EXPECT_EQ(str(), "/bin");
  EXPECT_EQ(get(), 1u);
  EXPECT_EQ(str(), "/w");
  EXPECT_EQ(get(), 2u);
  EXPECT_EQ(str(), "--exact");
  EXPECT_EQ(str(), "no-test");
  EXPECT_EQ(at, bytes.size());
  EXPECT_EQ(encode_stdin(3, ""), frame(XRUN_STDIN, u32(3)));
  // HELLO: the nonce, and the host's clock only when asked (a VM's first).
  EXPECT_EQ(encode_hello(5), frame(XRUN_HELLO, u32(5)));
  EXPECT_EQ(encode_hello(5, 0x0000000100000002LL), frame(XRUN_HELLO, u32(5) + u32(2) + u32(1)));
  EXPECT_EQ(encode_signal(3, 15), frame(XRUN_SIGNAL, u32(3) + u32(15)));
}

struct CpioEntry {
  std::uint32_t mode, size, rdev_major, rdev_minor;
  std::string name, data;
};

std::vector<CpioEntry> parse_cpio(const std::string& archive) {
  std::vector<CpioEntry> out;
  std::size_t at = 0;
  while (at + 110 <= archive.size()) {
    EXPECT_EQ(archive.substr(at, 6), "070701");
    auto field = [&](int i) {
      return static_cast<std::uint32_t>(std::stoul(archive.substr(at + 6 + 8 * i, 8), nullptr, 16));
    };
    CpioEntry e{field(1), field(6), field(9), field(10), "", ""};
    const std::uint32_t name_size = field(11);
    e.name = archive.substr(at + 110, name_size - 1);
    std::size_t data_at = (at + 110 + name_size + 3) & ~std::size_t{3};
    e.data = archive.substr(data_at, e.size);
    at = (data_at + e.size + 3) & ~std::size_t{3};
    if (e.name == "TRAILER!!!") break;
    out.push_back(e);
  }
  return out;
}

TEST(CpioWriter, WritesNewcEntriesTheKernelUnpacks) {
  CpioWriter cpio;
  cpio.add_directory("/etc");
  cpio.add_file("/etc/passwd", "root:x:0:0::/:/bin/sh\n");
  cpio.add_file("/init",
                std::string("\x7f"
                            "ELF\0",
                            5),
                0755);
  cpio.add_symlink("/bin/sh", "/bin/busybox");
  cpio.add_char_device("/dev/console", 0600, 5, 1);
  const std::string archive = cpio.finish();
  EXPECT_EQ(archive.size() % 512, 0u);
  auto entries = parse_cpio(archive);
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].name, "etc");
  EXPECT_TRUE(S_ISDIR(entries[0].mode));
  EXPECT_EQ(entries[1].data, "root:x:0:0::/:/bin/sh\n");
  EXPECT_EQ(entries[2].data, std::string("\x7f"
                                         "ELF\0",
                                         5));
  EXPECT_EQ(entries[2].mode & 07777, 0755u);
  EXPECT_TRUE(S_ISLNK(entries[3].mode));
  EXPECT_EQ(entries[3].data, "/bin/busybox");
  EXPECT_TRUE(S_ISCHR(entries[4].mode));
  EXPECT_EQ(entries[4].rdev_major, 5u);
  EXPECT_EQ(entries[4].rdev_minor, 1u);
}

// A relocatable ELF with sections "", ".text", ".BTF", ".shstrtab" (strings
// at 1, 7, 12), laid out as a kernel module is: headers, data, section table.
std::string tiny_module(bool is64) {
  const std::string strtab("\0.text\0.BTF\0.shstrtab\0", 23);
  const std::size_t ehsize = is64 ? 64 : 52, shentsize = is64 ? 64 : 40, shoff = ehsize + 24;
  std::string elf(shoff + 4 * shentsize, '\0');
  const auto put = [&](std::size_t at, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) elf[at + static_cast<std::size_t>(i)] = static_cast<char>(value >> (8 * i));
  };
  elf.replace(0, 4,
              "\x7f"
              "ELF");
  elf[4] = is64 ? 2 : 1;  // class
  elf[5] = 1;             // little-endian
  elf.replace(ehsize, strtab.size(), strtab);
  put(is64 ? 0x28 : 0x20, shoff, is64 ? 8 : 4);
  put(is64 ? 0x3a : 0x2e, shentsize, 2);
  put(is64 ? 0x3c : 0x30, 4, 2);  // sections
  put(is64 ? 0x3e : 0x32, 3, 2);  // .shstrtab's index
  const std::uint32_t names[] = {0, 1, 7, 12};
  for (std::size_t i = 1; i < 4; ++i) put(shoff + i * shentsize, names[i], 4);
  put(shoff + 3 * shentsize + (is64 ? 0x18 : 0x10), ehsize, is64 ? 8 : 4);  // .shstrtab's offset
  return elf;
}

std::uint32_t section_name(const std::string& elf, bool is64, std::size_t index) {
  const std::size_t at = (is64 ? 64 + 24 : 52 + 24) + index * (is64 ? 64 : 40);
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(elf[at + static_cast<std::size_t>(i)]);
  return value;
}

TEST(HideModuleBtf, UnnamesOnlyTheBtfSectionInElf64AndElf32) {
  for (bool is64 : {true, false}) {
    std::string module = tiny_module(is64);
    ASSERT_EQ(section_name(module, is64, 2), 7u);
    EXPECT_TRUE(hide_module_btf(module)) << (is64 ? "ELF64" : "ELF32");
    EXPECT_EQ(section_name(module, is64, 2), 0u);   // .BTF: now the empty name
    EXPECT_EQ(section_name(module, is64, 1), 1u);   // .text untouched
    EXPECT_EQ(section_name(module, is64, 3), 12u);  // .shstrtab untouched
    EXPECT_FALSE(hide_module_btf(module));          // nothing left to hide
  }
}

TEST(HideModuleBtf, LeavesAnythingElseAlone) {
  std::string not_elf = "#!/bin/sh\necho this is not a module, but it is long enough to look at\n";
  const std::string before = not_elf;
  EXPECT_FALSE(hide_module_btf(not_elf));
  EXPECT_EQ(not_elf, before);
  // Section table beyond the end of the file (truncated module): untouched, no crash.
  std::string truncated = tiny_module(true);
  truncated.resize(100);
  const std::string truncated_before = truncated;
  EXPECT_FALSE(hide_module_btf(truncated));
  EXPECT_EQ(truncated, truncated_before);
}

TEST(LostKernelOptions, NamesWantedOptionsTheConfigurationDroppedOrTurnedOn) {
  const std::string fragment =
      "# a comment\nCONFIG_9P_FS=y\nCONFIG_NET_9P=y\nCONFIG_LOCALVERSION=\"-xrun\"\n# CONFIG_VT is not set\n"
      "# CONFIG_FTRACE is not set\n";
  EXPECT_EQ(lost_kernel_options(fragment, "CONFIG_9P_FS=y\nCONFIG_NET_9P=y\n# CONFIG_VT is not set\n"), "");
  EXPECT_EQ(lost_kernel_options(fragment, "CONFIG_NET_9P=y\nCONFIG_VT=y\nCONFIG_9P_FS=m\n"),
            "CONFIG_9P_FS=y, CONFIG_VT (on, wanted off)");
  // A longer name that starts the same is not the option.
  EXPECT_EQ(lost_kernel_options("CONFIG_NET_9P=y\n", "CONFIG_NET_9P_VIRTIO=y\n"), "CONFIG_NET_9P=y");
}

TEST(KernelFlavour, MinimalByDefaultWhereOfferedAndTheOtherImageHasItsOwnName) {
  const VmArch* aarch64 = find_vm_arch("aarch64");
  const VmArch* armhf = find_vm_arch("armhf");
  ASSERT_TRUE(aarch64 && armhf);
  VmConfig stock;
  EXPECT_EQ(kernel_flavour(*aarch64, stock), "minimal");
  EXPECT_EQ(image_location(*aarch64, stock).name, "aarch64");
  EXPECT_EQ(kernel_flavour(*armhf, stock), "debian");
  EXPECT_EQ(image_location(*armhf, stock).name, "armhf");
  VmConfig debian;
  debian.vm_kernel = "debian";
  EXPECT_EQ(image_location(*aarch64, debian).name, "aarch64-debian");
  EXPECT_EQ(image_location(*armhf, debian).name, "armhf");
  VmConfig minimal;
  minimal.vm_kernel = "minimal";
  EXPECT_EQ(image_location(*aarch64, minimal).name, "aarch64");
  VmConfig own;
  own.kernel = "/boot/Image";
  own.vm_kernel = "debian";
  EXPECT_EQ(kernel_flavour(*aarch64, own), "custom");
  EXPECT_EQ(image_location(*aarch64, own).name.rfind("aarch64-custom-", 0), 0u);
}

TEST(ModuleLoadOrder, DependenciesFirstOnceEachBuiltInsSkipped) {
  testing::TempDir dir;
  dir.write("modules.dep",
            "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko\n"
            "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\n"
            "kernel/fs/netfs/netfs.ko:\n"
            "kernel/net/9p/9pnet.ko:\n"
            "kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko\n"
            "kernel/drivers/char/virtio_console.ko:\n"
            "kernel/drivers/block/virtio-blk.ko:\n");
  auto order = module_load_order(dir.path(), {"virtio_mmio", "virtio_console", "9pnet_virtio", "9p", "virtio_blk"});
  ASSERT_TRUE(order) << order.error().message;
  const std::vector<std::string> expected = {"kernel/drivers/char/virtio_console.ko", "kernel/net/9p/9pnet.ko",
                                             "kernel/net/9p/9pnet_virtio.ko",         "kernel/fs/netfs/netfs.ko",
                                             "kernel/fs/fscache/fscache.ko",          "kernel/fs/9p/9p.ko",
                                             "kernel/drivers/block/virtio-blk.ko"};
  EXPECT_EQ(*order, expected);

  testing::TempDir empty;
  auto missing = module_load_order(empty.path(), {"9p"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("run depmod"), std::string::npos);
}

}  // namespace
}  // namespace xrun

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backends/system/qmp.h"
#include "backends/system/vm.h"

namespace xrun {
namespace {

// QMP answers with an error object where a result was expected: a message,
// never a JSON type exception out of the system backend.
TEST(MigrationState, ErrorRepliesAreErrorsNotExceptions) {
  using nlohmann::json;
  EXPECT_EQ(*migration_state(json::parse(R"({"return": {"status": "active"}})")), "active");
  EXPECT_EQ(*migration_state(json::parse(R"({"return": {"status": "completed", "total-time": 12}})")), "completed");
  auto error =
      migration_state(json::parse(R"({"error": {"class": "GenericError", "desc": "no migration in progress"}})"));
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().message, "query-migrate: qemu answered with an error: no migration in progress");
  EXPECT_FALSE(migration_state(json::parse(R"({"return": {"status": "failed"}})")));
  EXPECT_FALSE(migration_state(json::parse(R"({"return": 3})")));
  EXPECT_FALSE(migration_state(json::parse(R"([1, 2])")));
  EXPECT_FALSE(migration_state(json::parse(R"({"event": "STOP"})")));
}

// From here on, pidfd_open(2) fails with ENOSYS in this process (as on a
// kernel without it, or under a container's seccomp policy).
void refuse_pidfd_open() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
    ::_exit(90);
}

// A qemu that started but cannot be watched is not left running: the VM's
// start fails, and that qemu is gone (run in a child, whose seccomp filter
// makes pidfd_open fail).
TEST(Vm, AQemuThatCannotBeWatchedIsNotLeftRunning) {
  xrun::testing::TempDir dir;
  const std::string fake_qemu = dir.write("qemu-system-aarch64", "#!/bin/sh\nexec sleep 600\n", true);
  const pid_t child = ::fork();
  if (child == 0) {
    refuse_pidfd_open();
    boost::asio::io_context io;
    VmSettings settings;
    settings.arch = find_vm_arch("aarch64");
    settings.target = "aarch64";
    settings.qemu = fake_qemu;
    settings.cpu = "cortex-a57";
    settings.image.name = "test";
    settings.image.kernel = settings.image.initrd = dir.path() + "/none";
    settings.work_dir = dir.path();
    std::optional<std::string> failure;
    auto vm = std::make_shared<Vm>(io, settings, 0, false);
    vm->start([&](Expected<void> started) { failure = started ? "ready?" : started.error().message; });
    while (!failure && io.run_one() > 0) {
    }
    if (!failure || failure->find("pidfd_open") == std::string::npos) ::_exit(91);
    // Any child of this process still alive is the qemu that was left.
    const auto live_children = [] {
      int found = 0;
      for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::ifstream stat(entry.path() / "stat");
        std::string pid, comm, state;
        long ppid = 0;
        if (stat >> pid >> comm >> state >> ppid && ppid == ::getpid() && state != "Z") ++found;
      }
      return found;
    };
    const int left = live_children();
    ::_exit(left == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the qemu was left running; 9x: the test could not set up ("
                                    << WEXITSTATUS(status) << ")";
}

}  // namespace
}  // namespace xrun
