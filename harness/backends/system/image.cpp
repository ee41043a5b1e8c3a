#include "backends/system/image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "backends/system/apt_download.h"
#include "backends/system/cpio.h"
#include "backends/system/kernel_build.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/process_util.h"
#include "machine/agent_protocol.h"
#include "machine/guest_parts.h"

namespace xrun {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The target's packages every image is made of: a shell and its tools, the
// C and C++ runtime, and libc-bin for its C.UTF-8 locale.
constexpr const char* kImagePackages[] = {"busybox-static", "libc6", "libstdc++6", "libgcc-s1", "libc-bin"};

// A string member of a manifest read from disk (anyone may have edited it):
// the fallback for anything else, never a JSON type exception.
std::string string_field(const json& object, const char* key, const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

constexpr std::string_view kManifestSchema = "xrun-image/1";
// Bumped when the layout of the initramfs changes, so old images rebuild.
constexpr std::string_view kImageLayoutVersion = "5";

Error image_error(std::string message) { return make_error(ExitCode::InfraError, std::move(message)); }

bool has_custom_pieces(const VmConfig& s) { return s.kernel || s.modules || s.rootfs; }

bool offers_minimal_kernel(const VmArch& arch) { return !arch.kernel_source_package.empty(); }

std::string default_kernel_flavour(const VmArch& arch) { return offers_minimal_kernel(arch) ? "minimal" : "debian"; }

// vm_kernel = "minimal" where xrun has no config for it: a configuration error.
Expected<void> check_kernel_flavour(const VmArch& arch, const VmConfig& settings) {
  if (settings.kernel || settings.vm_kernel != "minimal" || offers_minimal_kernel(arch)) return {};
  return make_error(ExitCode::Usage, "xrun has no minimal kernel for " + std::string(arch.name) + ": set targets." +
                                         std::string(arch.name) + ".vm_kernel = \"debian\" (Debian's own kernel)");
}

std::string sha256_of(const std::string& path) {
  auto out = capture_stdout({"sha256sum", "--", path});
  if (!out) return "";
  return out->substr(0, out->find(' '));
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buffer;
}

// `apt-cache show --no-all-versions PKG` fields of the candidate version.
struct PackageInfo {
  std::string name, version, depends;
  std::uint64_t size = 0;  // of the .deb, bytes
};

// The candidate versions of `packages` ("name:arch"), in one apt-cache call
// (each call reads the whole package index: about 2 s here).
Expected<std::map<std::string, PackageInfo>> candidates(const std::vector<std::string>& packages) {
  std::vector<std::string> argv{"apt-cache", "show", "--no-all-versions"};
  argv.insert(argv.end(), packages.begin(), packages.end());
  auto result = run_capturing(argv, "", false);
  if (!result.started) return image_error("apt-cache is not installed: xrun image build needs Debian's apt");
  std::map<std::string, PackageInfo> found;
  PackageInfo current;
  std::istringstream lines(result.out + "\n");
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Package: ", 0) == 0)
      current = PackageInfo{line.substr(9), "", "", 0};
    else if (line.rfind("Size: ", 0) == 0)
      current.size = std::strtoull(line.c_str() + 6, nullptr, 10);
    else if (line.rfind("Version: ", 0) == 0)
      current.version = line.substr(9);
    else if (line.rfind("Depends: ", 0) == 0)
      current.depends = line.substr(9);
    else if (line.empty() && !current.name.empty())
      found.emplace(current.name, current), current = {};
  }
  for (const auto& package : packages) {
    const std::string bare = package.substr(0, package.find(':'));
    auto it = found.find(bare);
    if ((it == found.end() || it->second.version.empty()) && package.ends_with(":all"))
      return image_error("package " + bare + " is not in the apt sources: run `sudo apt-get update`");
    if (it == found.end() || it->second.version.empty())
      return image_error("package " + package + " is not in the apt sources: run `sudo dpkg --add-architecture " +
                         package.substr(package.find(':') + 1) +
                         " && sudo apt-get update` (scripts/install-deps.sh does it for arm64)");
    it->second.name = package;
  }
  return found;
}

Expected<std::string> run_step(const std::vector<std::string>& argv, const std::string& cwd) {
  auto result = run_capturing(argv, cwd, true);
  if (!result.started) return image_error(argv[0] + " is not installed (scripts/install-deps.sh installs it)");
  if (result.status != 0) {
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    return image_error("`" + command + "` failed with status " + std::to_string(result.status));
  }
  return result.out;
}

std::optional<std::string> find_tool(const char* name) {
  if (auto found = find_program(name)) return found;
  for (const char* dir : {"/usr/sbin", "/sbin"})
    if (auto found = find_program(join_path(dir, name))) return found;
  return std::nullopt;
}

// Adds a directory tree (files, symlinks, directories) under `prefix`.
void add_tree(CpioWriter& cpio, std::set<std::string>& dirs, const fs::path& root, const std::string& prefix,
              const std::function<bool(const std::string&)>& keep);

void add_parents(CpioWriter& cpio, std::set<std::string>& dirs, const std::string& path) {
  std::string partial;
  std::size_t at = 1;
  while ((at = path.find('/', at)) != std::string::npos) {
    partial = path.substr(0, at);
    if (dirs.insert(partial).second) cpio.add_directory(partial);
    ++at;
  }
}

void add_tree(CpioWriter& cpio, std::set<std::string>& dirs, const fs::path& root, const std::string& prefix,
              const std::function<bool(const std::string&)>& keep) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    entries.push_back(it->path());
  std::sort(entries.begin(), entries.end());  // reproducible archives
  for (const auto& entry : entries) {
    const std::string rel = "/" + entry.lexically_relative(root).string();  // never resolves symlinks
    const std::string dest = prefix + rel;
    if (!keep(rel)) continue;
    struct stat st {};
    if (::lstat(entry.c_str(), &st) != 0) continue;
    add_parents(cpio, dirs, dest);
    if (S_ISDIR(st.st_mode)) {
      if (dirs.insert(dest).second) cpio.add_directory(dest, st.st_mode & 07777);
    } else if (S_ISLNK(st.st_mode)) {
      cpio.add_symlink(dest, fs::read_symlink(entry, ec).string());
    } else if (S_ISREG(st.st_mode)) {
      if (auto data = read_file(entry.string())) cpio.add_file(dest, *data, st.st_mode & 07777);
    }
  }
}

// Debian signs its modules; the image has no key to check them with (and a
// test VM has no use for it), so the guest would only hash each module to
// learn that. Layout: module | signature | struct module_signature (12 bytes,
// big-endian length last) | "~Module signature appended~\n".
void strip_module_signature(std::string& module) {
  static constexpr std::string_view kMarker = "~Module signature appended~\n";
  if (module.size() < kMarker.size() + 12 ||
      module.compare(module.size() - kMarker.size(), kMarker.size(), kMarker) != 0)
    return;
  const std::size_t info = module.size() - kMarker.size() - 12;
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i)
    length = (length << 8) | static_cast<unsigned char>(module[info + 8 + static_cast<std::size_t>(i)]);
  if (length > info) return;
  module.resize(info - length);
}

std::string human_size(std::uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buffer;
}

}  // namespace

// A module's .BTF section describes its types against the kernel's own BTF,
// and loading the first such module makes the kernel parse all of vmlinux's
// BTF: ~47 million guest instructions, a tenth of a cold boot under TCG. The
// guest runs no BPF, so the section loses its name (sh_name 0, the empty
// string) and the loader no longer finds it. Little-endian ELF32 and ELF64.
bool hide_module_btf(std::string& module) {
  const auto u16 = [&](std::size_t at) -> std::uint64_t {
    return at + 2 <= module.size()
               ? static_cast<unsigned char>(module[at]) | static_cast<unsigned char>(module[at + 1]) << 8
               : 0;
  };
  const auto u32 = [&](std::size_t at) -> std::uint64_t { return u16(at) | u16(at + 2) << 16; };
  const auto u64 = [&](std::size_t at) -> std::uint64_t { return u32(at) | u32(at + 4) << 32; };
  if (module.size() < 52 ||
      module.compare(0, 4,
                     "\x7f"
                     "ELF") != 0 ||
      module[5] != 1)
    return false;
  const bool is64 = module[4] == 2;
  const std::uint64_t shoff = is64 ? u64(0x28) : u32(0x20);
  const std::uint64_t shentsize = u16(is64 ? 0x3a : 0x2e), shnum = u16(is64 ? 0x3c : 0x30),
                      shstrndx = u16(is64 ? 0x3e : 0x32);
  if (shentsize < (is64 ? 64u : 40u) || shstrndx >= shnum || shoff + shnum * shentsize > module.size()) return false;
  const auto section_offset = [&](std::uint64_t index) {
    return is64 ? u64(shoff + index * shentsize + 0x18) : u32(shoff + index * shentsize + 0x10);
  };
  const std::uint64_t strtab = section_offset(shstrndx);
  bool hidden = false;
  for (std::uint64_t i = 1; i < shnum; ++i) {
    const std::size_t header = shoff + i * shentsize;
    const std::uint64_t name = strtab + u32(header);
    if (name + 5 > module.size() || module.compare(name, 5, std::string_view(".BTF\0", 5)) != 0) continue;
    for (int b = 0; b < 4; ++b) module[header + static_cast<std::size_t>(b)] = 0;
    hidden = true;
  }
  return hidden;
}

// modules.dep lines: "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko ...".
Expected<std::vector<std::string>> module_load_order(const std::string& modules_dir,
                                                     const std::vector<std::string_view>& wanted) {
  auto text = read_file(join_path(modules_dir, "modules.dep"));
  if (!text) return image_error("no modules.dep in " + modules_dir + ": run depmod for that kernel");
  std::map<std::string, std::vector<std::string>> deps;  // path -> its dependencies
  std::map<std::string, std::string> by_name;            // "9p" -> path
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string path = line.substr(0, colon);
    std::istringstream rest(line.substr(colon + 1));
    std::vector<std::string> list;
    for (std::string dep; rest >> dep;) list.push_back(dep);
    deps[path] = list;
    std::string base = path.substr(path.rfind('/') + 1);
    base = base.substr(0, base.find(".ko"));
    std::replace(base.begin(), base.end(), '-', '_');
    by_name[base] = path;
  }
  std::vector<std::string> order;
  std::set<std::string> seen;
  std::function<void(const std::string&)> visit = [&](const std::string& path) {
    if (!seen.insert(path).second) return;
    for (const auto& dep : deps[path]) visit(dep);
    order.push_back(path);
  };
  for (auto name : wanted) {
    auto it = by_name.find(std::string(name));
    if (it == by_name.end()) {
      // Built into the kernel: nothing to load. The config says so.
      continue;
    }
    visit(it->second);
  }
  return order;
}

std::string images_root() { return join_path(xdg_cache_home(), "xrun/images"); }

std::string kernel_flavour(const VmArch& arch, const VmConfig& settings) {
  if (settings.kernel) return "custom";
  return settings.vm_kernel.value_or(default_kernel_flavour(arch));
}

ImageLocation image_location(const VmArch& arch, const VmConfig& settings) {
  std::string name(arch.name);
  // The arch's default kernel keeps the plain name; the other one is marked.
  if (!settings.kernel && settings.vm_kernel && *settings.vm_kernel != default_kernel_flavour(arch))
    name += "-" + *settings.vm_kernel;
  if (has_custom_pieces(settings))
    name += "-custom-" + fnv1a_hex(settings.kernel.value_or("") + "\n" + settings.modules.value_or("") + "\n" +
                                   settings.rootfs.value_or(""))
                             .substr(0, 8);
  ImageLocation loc;
  loc.name = name;
  loc.dir = join_path(images_root(), name);
  loc.kernel = join_path(loc.dir, "kernel");
  loc.initrd = join_path(loc.dir, "initrd.cpio");
  loc.manifest = join_path(loc.dir, "manifest.json");
  loc.snapshot_dir.clear();  // per machine settings: ensure_snapshot() names it
  return loc;
}

Expected<ImageBuildResult> build_image(const VmArch& arch, const VmConfig& settings, const ImageBuildOptions& options) {
  const auto progress = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  ImageBuildResult result;
  result.location = image_location(arch, settings);
  const ImageLocation& loc = result.location;

  const GuestArch* guest = find_guest_arch(arch.name);
  if (!guest) return image_error("xrun builds no guest agent for " + std::string(arch.name));
  auto agent = find_guest_part(*guest, GuestPart::Agent);
  if (!agent) return agent.error();
  auto zygote = find_guest_part(*guest, GuestPart::ForkServer);
  if (!zygote) return zygote.error();
  for (const char* tool : {"apt-get", "dpkg-deb"})
    if (!find_tool(tool))
      return image_error(std::string(tool) + " is not installed: xrun image build needs Debian's apt");
  const std::string flavour = kernel_flavour(arch, settings);
  if (auto unusable = check_kernel_flavour(arch, settings); !unusable) return unusable.error();
  std::string kernel_config;
  if (flavour == "minimal") {
    if (auto missing = check_kernel_build_tools(arch); !missing) return missing.error();
    auto fragment_file = find_guest_part(*guest, GuestPart::KernelConfig);
    if (!fragment_file) return fragment_file.error();
    auto text = read_file(*fragment_file);
    if (!text) return image_error("cannot read " + *fragment_file);
    kernel_config = *text;
  }
  auto depmod = find_tool("depmod");
  if (!depmod) return image_error("depmod is not installed: sudo apt-get install kmod");
  if (settings.kernel && !is_regular_file(*settings.kernel))
    return image_error("kernel " + xrun::quoted(*settings.kernel) + " (targets." + std::string(arch.name) +
                       ".kernel) is not a file");
  if (settings.modules && !is_directory(*settings.modules))
    return image_error("modules " + xrun::quoted(*settings.modules) + " (targets." + std::string(arch.name) +
                       ".modules) is not a directory: point it at lib/modules/<release>");
  if (settings.rootfs && !is_directory(*settings.rootfs))
    return image_error("rootfs " + xrun::quoted(*settings.rootfs) + " (targets." + std::string(arch.name) +
                       ".rootfs) is not a directory");

  // What the image is made of. Any change here rebuilds it.
  const std::string suffix = ":" + std::string(arch.debian_arch);
  std::vector<std::string> wanted;
  for (const char* name : kImagePackages) wanted.push_back(name + suffix);
  // A kernel metapackage depends on the versioned package first: the binary
  // kernel (linux-image-arm64 -> linux-image-6.1.0-56-arm64) or its source
  // (linux-source -> linux-source-6.1, arch all).
  const std::string kernel_meta = flavour == "debian"    ? std::string(arch.kernel_package) + suffix
                                  : flavour == "minimal" ? std::string(arch.kernel_source_package) + ":all"
                                                         : "";
  if (!kernel_meta.empty()) wanted.push_back(kernel_meta);
  auto found = candidates(wanted);
  if (!found) return found.error();
  std::vector<PackageInfo> packages;
  std::optional<PackageInfo> kernel_source;
  if (!kernel_meta.empty()) {
    const PackageInfo& meta = found->at(kernel_meta.substr(0, kernel_meta.find(':')));
    const std::string versioned = meta.depends.substr(0, meta.depends.find_first_of(" ,|"));
    if (versioned.rfind(flavour == "debian" ? "linux-image-" : "linux-source-", 0) != 0)
      return image_error(meta.name + " does not name a kernel package (Depends: " + meta.depends + ")");
    auto kernel = candidates({versioned + (flavour == "debian" ? suffix : ":all")});
    if (!kernel) return kernel.error();
    if (flavour == "debian")
      packages.push_back(kernel->begin()->second);
    else
      kernel_source = kernel->begin()->second;
  }
  for (const char* name : kImagePackages) packages.push_back(found->at(name));
  json inputs;
  inputs["layout"] = kImageLayoutVersion;
  inputs["agent_sha256"] = sha256_of(*agent);
  inputs["zygote_sha256"] = sha256_of(*zygote);
  for (const auto& p : packages) inputs["packages"][p.name] = p.version;
  if (settings.kernel) inputs["kernel"] = sha256_of(*settings.kernel);
  if (kernel_source) {
    inputs["kernel_source"][kernel_source->name] = kernel_source->version;
    inputs["kernel_build"] = kernel_cache_key(arch, {kernel_source->name, kernel_source->version}, kernel_config);
  }
  if (settings.modules) inputs["modules"] = *settings.modules;
  if (settings.rootfs) inputs["rootfs"] = *settings.rootfs;

  if (!options.force) {
    if (auto text = read_file(loc.manifest)) {
      json old = json::parse(*text, nullptr, false);
      if (old.is_object() && old.contains("inputs") && old["inputs"] == inputs && is_regular_file(loc.kernel) &&
          is_regular_file(loc.initrd)) {
        result.summary = "up to date (" + string_field(old, "kernel_release", "?") + ")";
        return result;
      }
    }
  }

  std::error_code ec;
  fs::create_directories(images_root(), ec);
  ScratchDir scratch{join_path(images_root(), "." + loc.name + ".build-" + std::to_string(::getpid()))};
  fs::remove_all(scratch.path, ec);
  fs::create_directories(scratch.path, ec);
  if (ec) return image_error("cannot create " + scratch.path + ": " + ec.message());

  json manifest;
  manifest["schema"] = kManifestSchema;
  manifest["name"] = loc.name;
  manifest["arch"] = arch.name;
  manifest["inputs"] = inputs;
  manifest["built_at"] = now_iso8601();

  // 1. Download and unpack the packages.
  if (!packages.empty()) {
    std::vector<std::string> exact;
    for (const auto& p : packages) exact.push_back(p.name + "=" + p.version);
    progress("downloading " + std::to_string(packages.size()) + " packages (" + std::string(arch.debian_arch) + ")");
    if (auto done = run_step(apt_download_command(exact), scratch.path); !done) return done.error();
  }
  std::map<std::string, std::string> unpacked;  // package name without arch -> dir
  for (const auto& p : packages) {
    const std::string bare = p.name.substr(0, p.name.find(':'));
    const std::string deb = downloaded_deb(scratch.path, p.name);
    if (deb.empty()) return image_error("apt-get download gave no .deb for " + p.name);
    const std::string dir = join_path(scratch.path, "root-" + bare);
    if (auto done = run_step({"dpkg-deb", "-x", deb, dir}, ""); !done) return done.error();
    manifest["packages"].push_back({{"name", p.name}, {"version", p.version}, {"sha256", sha256_of(deb)}});
    unpacked[bare] = dir;
    fs::remove(deb, ec);
  }

  // 2. The kernel and the modules the agent needs, ordered by depmod's graph.
  std::string kernel_file = settings.kernel.value_or("");
  std::string modules_dir = settings.modules.value_or("");
  std::string release;
  for (const auto& [name, dir] : unpacked) {
    if (name.rfind("linux-image-", 0) != 0) continue;
    for (const auto& entry : fs::directory_iterator(join_path(dir, "boot"), ec)) {
      const std::string file = entry.path().filename().string();
      if (file.rfind("vmlinuz-", 0) == 0 || file.rfind("vmlinux-", 0) == 0) {
        kernel_file = entry.path().string();
        release = file.substr(8);
      }
    }
    if (kernel_file.empty()) return image_error(name + " has no boot/vmlinuz-*");
    progress("computing module dependencies with depmod (" + release + ")");
    if (auto done = run_step({*depmod, "-b", dir, release}, ""); !done) return done.error();
    modules_dir = join_path(dir, "lib/modules/" + release);
  }
  if (release.empty() && !modules_dir.empty()) release = fs::path(modules_dir).filename().string();
  if (kernel_source) {
    auto kernel = build_minimal_kernel(arch, {kernel_source->name, kernel_source->version, kernel_source->size},
                                       kernel_config, progress);
    if (!kernel) return kernel.error();
    kernel_file = kernel->image;
    release = kernel->release;
    manifest["kernel_source"] = {{"name", kernel_source->name},
                                 {"version", kernel_source->version},
                                 {"config", "images/kernel/" + std::string(arch.name) + ".config"},
                                 {"rebuilt", kernel->rebuilt}};
  }
  std::vector<std::string> modules;
  if (!modules_dir.empty()) {
    auto order = module_load_order(modules_dir, arch.modules);
    if (!order) return order.error();
    modules = std::move(*order);
  }

  // 3. The initramfs.
  progress("writing the initramfs");
  CpioWriter cpio;
  std::set<std::string> dirs;
  for (const char* dir : {"/bin", "/sbin", "/dev", "/proc", "/sys", "/tmp", "/etc", "/etc/xrun", "/root", "/lib",
                          "/usr", "/usr/bin", "/usr/lib"}) {
    dirs.insert(dir);
    cpio.add_directory(dir, std::string_view(dir) == "/tmp" ? 01777 : 0755);
  }
  cpio.add_char_device("/dev/console", 0600, 5, 1);  // the kernel opens it for init
  cpio.add_file("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  cpio.add_file("/etc/group", "root:x:0:\n");
  cpio.add_file("/etc/hostname", "xrun\n");
  cpio.add_file("/etc/hosts", "127.0.0.1 localhost xrun\n::1 localhost ip6-localhost ip6-loopback\n");
  // Target libraries: what dynamic test programs load. Locales, docs, gconv,
  // libc's tools and debugging libraries are left out: the kernel unpacks
  // every byte of the initramfs at each cold boot.
  const auto keep_runtime = [](const std::string& rel) {
    for (const char* skipped : {"/usr/share", "/usr/bin", "/usr/sbin", "/sbin", "/usr/libexec"})
      if (rel.rfind(skipped, 0) == 0) return false;
    for (const char* skipped :
         {"/gconv", "/audit/", "libBrokenLocale", "libmemusage", "libpcprofile", "libc_malloc_debug", "libthread_db"})
      if (rel.find(skipped) != std::string::npos) return false;
    return true;
  };
  for (const char* name : {"libc6", "libstdc++6", "libgcc-s1"}) {
    if (auto it = unpacked.find(name); it != unpacked.end()) add_tree(cpio, dirs, it->second, "", keep_runtime);
  }
  // The C.UTF-8 locale, which Debian's libc ships (in libc-bin) and which a
  // host with LANG=C.UTF-8 hands its programs: without it setlocale("") and
  // std::locale("") fail only in the VM. Other locales are not in the image
  // (docs/system-mode.md).
  if (auto it = unpacked.find("libc-bin"); it != unpacked.end()) {
    const fs::path locale = fs::path(it->second) / "usr/lib/locale/C.utf8";
    if (!is_directory(locale.string())) return image_error("libc-bin has no usr/lib/locale/C.utf8");
    add_tree(cpio, dirs, locale, "/usr/lib/locale/C.utf8", [](const std::string&) { return true; });
  }
  if (auto it = unpacked.find("busybox-static"); it != unpacked.end()) {
    const std::string busybox = join_path(it->second, "bin/busybox");
    auto data = read_file(busybox);
    if (!data) return image_error("busybox-static has no bin/busybox");
    cpio.add_file("/bin/busybox", *data, 0755);
    // Its applets, as it lists them itself (run under qemu-user: a static binary).
    auto listed = capture_stdout({std::string(arch.qemu_user), busybox, "--list-full"});
    std::istringstream names(listed.value_or("bin/sh\n"));
    for (std::string applet; std::getline(names, applet);) {
      if (applet.empty() || applet == "bin/busybox" || applet == "linuxrc") continue;
      const std::string dest = "/" + applet;
      if (dirs.count(dest)) continue;
      add_parents(cpio, dirs, dest);
      cpio.add_symlink(dest, "/bin/busybox");
    }
    manifest["busybox_applets"] = listed ? "listed" : "sh only (qemu-user could not list them)";
  }
  std::string module_list;
  for (const auto& rel : modules) {
    const std::string source = join_path(modules_dir, rel);
    const std::string dest = "/lib/modules/" + release + "/" + rel;
    auto data = read_file(source);
    if (!data) return image_error("cannot read module " + source);
    strip_module_signature(*data);
    hide_module_btf(*data);
    add_parents(cpio, dirs, dest);
    cpio.add_file(dest, *data);
    module_list += dest + "\n";
    manifest["modules"].push_back(rel);
  }
  cpio.add_file("/etc/xrun/modules", module_list);
  if (settings.rootfs) add_tree(cpio, dirs, *settings.rootfs, "", [](const std::string&) { return true; });
  auto zygote_data = read_file(*zygote);
  if (!zygote_data) return image_error("cannot read " + *zygote);
  add_parents(cpio, dirs, XRUN_AGENT_ZYGOTE_LIBRARY);
  cpio.add_file(XRUN_AGENT_ZYGOTE_LIBRARY, *zygote_data, 0644);
  auto agent_data = read_file(*agent);
  if (!agent_data) return image_error("cannot read " + *agent);
  cpio.add_file("/init", *agent_data, 0755);  // last: a rootfs cannot replace it
  const std::string& archive = cpio.finish();

  // 4. Into the cache, replacing the old image (and its stale saved state).
  auto kernel_data = read_file(kernel_file);
  if (!kernel_data) return image_error("cannot read the kernel " + kernel_file);
  const std::string staged = scratch.path + "/image";
  fs::create_directories(staged, ec);
  if (!write_file_atomically(staged + "/kernel", *kernel_data) ||
      !write_file_atomically(staged + "/initrd.cpio", archive))
    return image_error("cannot write the image under " + staged);
  manifest["kernel_release"] = release.empty() ? "unknown" : release;
  manifest["files"]["kernel"] = {{"sha256", sha256_of(staged + "/kernel")}, {"bytes", kernel_data->size()}};
  manifest["files"]["initrd.cpio"] = {{"sha256", sha256_of(staged + "/initrd.cpio")}, {"bytes", archive.size()}};
  if (!write_file_atomically(staged + "/manifest.json", manifest.dump(2) + "\n"))
    return image_error("cannot write the manifest under " + staged);
  fs::remove_all(loc.dir, ec);
  fs::rename(staged, loc.dir, ec);
  if (ec) return image_error("cannot move the image to " + loc.dir + ": " + ec.message());
  result.rebuilt = true;
  result.summary = "kernel " + manifest["kernel_release"].get<std::string>() + ", initramfs " +
                   human_size(archive.size()) + ", " + std::to_string(modules.size()) + " modules";
  return result;
}

Expected<ImageLocation> find_built_image(const VmArch& arch, const VmConfig& settings) {
  if (auto unusable = check_kernel_flavour(arch, settings); !unusable) return unusable.error();
  ImageLocation loc = image_location(arch, settings);
  if (is_regular_file(loc.kernel) && is_regular_file(loc.initrd) && is_regular_file(loc.manifest)) return loc;
  return make_error(ExitCode::CannotExecute, "no VM image for " + std::string(arch.name) + " (" + loc.dir +
                                                 "): run `xrun image build --arch " + std::string(arch.name) +
                                                 "` first");
}

std::vector<ImageSummary> list_images() {
  std::vector<ImageSummary> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(images_root(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    auto text = read_file(join_path(entry.path().string(), "manifest.json"));
    if (!text) continue;
    json manifest = json::parse(*text, nullptr, false);
    if (!manifest.is_object()) continue;
    ImageSummary s;
    s.name = name;
    s.dir = entry.path().string();
    s.arch = string_field(manifest, "arch", "?");
    s.kernel_release = string_field(manifest, "kernel_release", "?");
    s.built_at = string_field(manifest, "built_at", "?");
    for (const auto& file : fs::recursive_directory_iterator(entry.path(), ec))
      if (file.is_regular_file(ec)) s.bytes += file.file_size(ec);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Expected<std::vector<std::string>> remove_images(const std::string& which) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& image : list_images()) {
    if (which != "all" && image.name != which && image.arch != which) continue;
    fs::remove_all(image.dir, ec);
    if (ec) return image_error("cannot remove " + image.dir + ": " + ec.message());
    removed.push_back(image.name);
  }
  // "all" also drops the compiled minimal kernels (a rebuild costs minutes,
  // so removing one image or arch keeps them).
  if (which == "all" && is_directory(kernels_root())) {
    fs::remove_all(kernels_root(), ec);
    if (ec) return image_error("cannot remove " + kernels_root() + ": " + ec.message());
    removed.push_back("the compiled kernels (" + kernels_root() + ")");
  }
  if (removed.empty())
    return make_error(ExitCode::Usage, "no image named " + xrun::quoted(which) + " (see `xrun image list`)");
  return removed;
}

}  // namespace xrun
