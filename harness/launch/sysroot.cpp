#include "launch/sysroot.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"

namespace xrun {

namespace {

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Expected<void> make_directories(const std::string& path) {
  if (is_directory(path)) return {};
  if (path.empty() || path == "/") return {};
  if (auto parent = make_directories(dirname_of(path)); !parent) return parent;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return make_error(ExitCode::CannotExecute, "cannot create " + path + ": " + std::strerror(errno));
  }
  return {};
}

// Makes `link` a symlink to `target` unless it already is one.
Expected<void> ensure_symlink(const std::string& target, const std::string& link) {
  char current[4096];
  ssize_t n = ::readlink(link.c_str(), current, sizeof current - 1);
  if (n >= 0 && std::string(current, static_cast<std::size_t>(n)) == target) return {};
  if (auto dir = make_directories(dirname_of(link)); !dir) return dir;
  const std::string temporary = link + ".tmp." + std::to_string(::getpid());
  ::unlink(temporary.c_str());
  if (::symlink(target.c_str(), temporary.c_str()) != 0 || ::rename(temporary.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    return make_error(ExitCode::CannotExecute, "cannot create " + link + ": " + std::strerror(err));
  }
  return {};
}

// The overlay's empty loader cache. One that is there already is kept only
// if it is what xrun writes: an empty regular file of this user's (contents
// xrun did not write are never trusted).
Expected<void> ensure_empty_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && st.st_uid == ::geteuid()) return {};
  if (auto dir = make_directories(dirname_of(path)); !dir) return dir;
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(temporary.c_str(), "we");
  if (f == nullptr || std::fclose(f) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temporary.c_str());
    return make_error(ExitCode::CannotExecute, "cannot create " + path + ": " + std::strerror(err));
  }
  return {};
}

bool has_libc(const std::string& dir) { return is_regular_file(join_path(dir, "libc.so.6")); }

// A hint naming the Debian package (or the config key) that fixes a missing sysroot.
std::string install_hint(const TargetSpec& spec) {
  std::string hint = "install " + spec.packages.sysroot;
  if (!spec.packages.compiler.empty()) hint += " (apt-get install " + spec.packages.compiler + " brings it)";
  hint += ", or set sysroot in [targets." + spec.name + "] of xrun.toml (or XRUN_" + [&] {
    std::string upper;
    for (char c : spec.name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
  }() + "_SYSROOT)";
  return hint;
}

}  // namespace

std::string find_interpreter_in(const std::string& sysroot, const std::string& interpreter) {
  const std::string name = basename_of(interpreter);
  for (const std::string& candidate :
       {join_path(sysroot, interpreter), join_path(sysroot, "lib/" + name), join_path(sysroot, "lib64/" + name)}) {
    if (is_regular_file(candidate)) return candidate;
  }
  return {};
}

OverlayStore OverlayStore::from_environment() {
  std::string base = join_path(xdg_cache_home(), "xrun/sysroots");
  if (make_directories(base) && ::access(base.c_str(), W_OK) == 0) return OverlayStore(base);
  // /tmp is everyone's: the directory must be ours alone, made by us or
  // checked when it is there already.
  const std::string mine = "/tmp/xrun-" + std::to_string(::geteuid());
  OverlayStore store(mine + "/sysroots");
  if (::mkdir(mine.c_str(), 0700) != 0 && errno != EEXIST) {
    store.unusable_ = "cannot create " + mine + ": " + std::strerror(errno);
    return store;
  }
  struct stat st {};
  if (::lstat(mine.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    store.unusable_ = mine +
                      " is not a private directory of this user's (mode 0700, not a symlink): it was not made by "
                      "xrun and is not used; remove it, or make " +
                      xdg_cache_home() + " writable";
    return store;
  }
  return store;
}

Expected<std::string> OverlayStore::ensure(const TargetSpec& spec, const std::string& sysroot,
                                           const std::string& interpreter) const {
  if (unusable_) return make_error(ExitCode::CannotExecute, *unusable_);
  const std::string overlay = join_path(base_dir_, spec.name + "-" + fnv1a_hex(sysroot));
  if (auto ok = ensure_symlink(join_path(sysroot, "lib"), join_path(overlay, "lib/" + spec.multiarch)); !ok)
    return ok.error();
  const std::string loader = find_interpreter_in(sysroot, interpreter);
  if (!loader.empty()) {
    if (auto ok = ensure_symlink(loader, join_path(overlay, interpreter)); !ok) return ok.error();
  }
  if (auto ok = ensure_empty_file(join_path(overlay, "etc/ld.so.cache")); !ok) return ok.error();
  return overlay;
}

Expected<SysrootChoice> choose_sysroot(const TargetSpec& spec, const TargetSettings& settings, const ElfInfo& elf,
                                       const OverlayStore& overlays) {
  const std::string interpreter = elf.interpreter.value_or(spec.loader);
  const bool musl = elf.libc() == Libc::Musl;

  // A sysroot "works" for this program when its loader is there, and (for
  // glibc) its libc is next to it in one of the two layouts.
  auto try_sysroot = [&](const std::string& sysroot) -> std::optional<Expected<SysrootChoice>> {
    if (find_interpreter_in(sysroot, interpreter).empty() && !(musl && path_exists(interpreter))) return std::nullopt;
    if (musl || has_libc(join_path(sysroot, "lib/" + spec.multiarch)) ||
        has_libc(join_path(sysroot, "usr/lib/" + spec.multiarch))) {
      // Either a full root filesystem, or musl (whose loader is its libc).
      return Expected<SysrootChoice>(SysrootChoice{SysrootLayout::Rootfs, sysroot, sysroot});
    }
    if (has_libc(join_path(sysroot, "lib"))) {
      auto overlay = overlays.ensure(spec, sysroot, interpreter);
      if (!overlay) return Expected<SysrootChoice>(overlay.error());
      return Expected<SysrootChoice>(SysrootChoice{SysrootLayout::Cross, sysroot, *overlay});
    }
    return std::nullopt;
  };

  if (settings.sysroot) {
    if (!is_directory(*settings.sysroot)) {
      return make_error(ExitCode::CannotExecute,
                        "the configured sysroot for " + spec.name + ", " + *settings.sysroot + ", does not exist");
    }
    if (auto choice = try_sysroot(*settings.sysroot)) return std::move(*choice);
    return make_error(ExitCode::CannotExecute,
                      "the configured sysroot for " + spec.name + ", " + *settings.sysroot + ", has no usable " +
                          (musl ? "loader " + interpreter : "libc and loader " + interpreter) +
                          " (looked for lib/libc.so.6, lib/" + spec.multiarch + "/libc.so.6 and the loader)");
  }
  for (const auto& sysroot : spec.sysroots) {
    if (!is_directory(sysroot)) continue;
    if (auto choice = try_sysroot(sysroot)) return std::move(*choice);
  }
  // The host's own multiarch libraries are one consistent glibc build too.
  if (path_exists(interpreter) &&
      (musl || has_libc("/lib/" + spec.multiarch) || has_libc("/usr/lib/" + spec.multiarch))) {
    return SysrootChoice{SysrootLayout::Host, "/", ""};
  }
  if (musl) {
    return make_error(ExitCode::CannotExecute, "the musl loader " + interpreter +
                                                   " is neither in a sysroot nor on this machine: "
                                                   "set sysroot in [targets." +
                                                   spec.name + "] of xrun.toml to a musl root filesystem");
  }
  return make_error(ExitCode::CannotExecute, "no sysroot with the " + spec.name + " C library and loader " +
                                                 interpreter + ": " + install_hint(spec));
}

}  // namespace xrun
