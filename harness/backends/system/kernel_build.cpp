#include "backends/system/kernel_build.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "backends/system/apt_download.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/process_util.h"

namespace xrun {

namespace fs = std::filesystem;

namespace {

Error kernel_error(std::string message) { return make_error(ExitCode::InfraError, std::move(message)); }

std::string compiler(const VmArch& arch) { return std::string(arch.multiarch) + "-gcc"; }

std::string last_lines(const std::string& text, int count) {
  std::size_t at = text.size();
  while (count-- > 0 && at > 0) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// Runs a step of the build with its stdout and stderr into `log` (kept on
// failure: a kernel build says why it failed at length).
Expected<void> run_logged(const std::vector<std::string>& argv, const std::string& cwd, const std::string& log) {
  std::vector<std::string> wrapped{"sh", "-c", "exec \"$@\" 2>&1", "sh"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  auto result = run_capturing(wrapped, cwd, false);
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  if (!result.started) return kernel_error("cannot run `" + command + "`");
  if (result.status == 0) return {};
  if (helper_interrupted()) return kernel_error("interrupted");  // no log: nothing went wrong
  (void)write_file_atomically(log, "$ " + command + "\n" + result.out);
  return kernel_error("`" + command + "` failed with status " + std::to_string(result.status) + " (whole output in " +
                      log + "):\n" + last_lines(result.out, 12));
}

// A build killed before it could clean up (SIGKILL, a reboot) leaves its
// scratch tree behind: 1.3 GB of kernel source. The next build removes the
// trees of builds whose process is gone.
void remove_abandoned_builds(const std::string& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    const auto mark = name.rfind(".build-");
    if (name.empty() || name[0] != '.' || mark == std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + mark + 7));
    if (pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH)) continue;
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

std::string kernels_root() { return join_path(xdg_cache_home(), "xrun/kernels"); }

std::string lost_kernel_options(const std::string& fragment, const std::string& dot_config) {
  std::istringstream lines(fragment);
  std::string lost;
  const auto has_line = [&](const std::string& line) {
    return ("\n" + dot_config + "\n").find("\n" + line + "\n") != std::string::npos;
  };
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("CONFIG_", 0) == 0 && line.size() > 2 && line.compare(line.size() - 2, 2, "=y") == 0) {
      if (!has_line(line)) lost += (lost.empty() ? "" : ", ") + line;
    } else if (line.rfind("# CONFIG_", 0) == 0 && line.find(" is not set") != std::string::npos) {
      const std::string option = line.substr(2, line.find(' ', 2) - 2);
      if (has_line(option + "=y")) lost += (lost.empty() ? "" : ", ") + option + " (on, wanted off)";
    }
  }
  return lost;
}

std::string kernel_cache_key(const VmArch& arch, const KernelSource& source, const std::string& config_text) {
  auto version = capture_stdout({compiler(arch), "-dumpfullversion"});
  if (!version) return "";
  return fnv1a_hex(source.package + "=" + source.version + "\n" + *version + "\n" + std::string(arch.kernel_image) +
                   "\n" + config_text);
}

Expected<void> check_kernel_build_tools(const VmArch& arch) {
  for (const std::string& tool : {std::string("make"), std::string("flex"), std::string("bison"), std::string("bc"),
                                  std::string("tar"), std::string("xz"), std::string("gcc"), compiler(arch)})
    if (!find_program(tool))
      return kernel_error(tool + " is not installed, and the minimal " + std::string(arch.name) +
                          " kernel is built from source: sudo apt-get install make flex bison bc xz-utils gcc " +
                          "gcc-" + std::string(arch.multiarch) +
                          " (or set vm_kernel = \"debian\" to boot Debian's own kernel)");
  return {};
}

Expected<BuiltKernel> build_minimal_kernel(const VmArch& arch, const KernelSource& source,
                                           const std::string& config_text,
                                           const std::function<void(const std::string&)>& progress) {
  if (auto missing = check_kernel_build_tools(arch); !missing) return missing.error();
  const std::string key = kernel_cache_key(arch, source, config_text);
  if (key.empty()) return kernel_error(compiler(arch) + " does not say its version");
  const std::string name = std::string(arch.name) + "-" + key.substr(0, 12);
  const std::string dir = join_path(kernels_root(), name);
  BuiltKernel built;
  built.image = join_path(dir, "Image");
  if (auto release = read_file(join_path(dir, "release")); release && is_regular_file(built.image)) {
    built.release = *release;
    return built;
  }

  std::error_code ec;
  fs::create_directories(kernels_root(), ec);
  remove_abandoned_builds(kernels_root());
  ScratchDir scratch{join_path(kernels_root(), "." + name + ".build-" + std::to_string(::getpid()))};
  fs::remove_all(scratch.path, ec);
  fs::create_directories(scratch.path, ec);
  if (ec) return kernel_error("cannot create " + scratch.path + ": " + ec.message());
  const std::string log = join_path(kernels_root(), name + ".log");

  // The first run's cost, said before it is paid: measured here, the build
  // takes about 16 core-minutes (8 minutes on 2 cores).
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned minutes = std::max(2u, (16 + cores - 1) / cores);
  progress("the minimal " + std::string(arch.name) + " kernel is not built yet: this once, xrun downloads " +
           source.package + (source.size ? " (" + std::to_string(source.size / 1000000) + " MB)" : std::string()) +
           " and compiles it, about " + std::to_string(minutes) + " minutes on " + std::to_string(cores) +
           " cores; then it is cached in " + kernels_root());
  progress("downloading " + source.package + " " + source.version);
  if (auto done = run_logged(apt_download_command({source.package + "=" + source.version}), scratch.path, log); !done)
    return done.error();
  const std::string deb = downloaded_deb(scratch.path, source.package);
  if (deb.empty()) return kernel_error("apt-get download gave no .deb for " + source.package);
  const std::string unpacked = join_path(scratch.path, "deb");
  if (auto done = run_logged({"dpkg-deb", "-x", deb, unpacked}, "", log); !done) return done.error();
  fs::remove(deb, ec);
  std::string tarball;
  for (const auto& entry : fs::directory_iterator(join_path(unpacked, "usr/src"), ec))
    if (entry.path().filename().string().find(".tar") != std::string::npos) tarball = entry.path().string();
  if (tarball.empty()) return kernel_error(source.package + " holds no usr/src/*.tar.*");
  progress("unpacking " + fs::path(tarball).filename().string());
  const std::string tree_parent = join_path(scratch.path, "src");
  fs::create_directories(tree_parent, ec);
  if (auto done = run_logged({"tar", "-xf", tarball, "-C", tree_parent}, "", log); !done) return done.error();
  fs::remove_all(unpacked, ec);
  std::string tree;
  for (const auto& entry : fs::directory_iterator(tree_parent, ec))
    if (entry.is_directory()) tree = entry.path().string();
  if (tree.empty()) return kernel_error(fs::path(tarball).filename().string() + " holds no source tree");

  const std::string fragment = join_path(scratch.path, "xrun.config");
  if (!write_file_atomically(fragment, config_text)) return kernel_error("cannot write " + fragment);
  const std::vector<std::string> make{"make", "ARCH=" + std::string(arch.kernel_make_arch),
                                      "CROSS_COMPILE=" + std::string(arch.multiarch) + "-"};
  const auto make_with = [&](std::vector<std::string> targets) {
    std::vector<std::string> argv = make;
    argv.insert(argv.end(), targets.begin(), targets.end());
    return argv;
  };
  progress("configuring: tinyconfig + xrun's " + std::string(arch.name) + ".config");
  if (auto done = run_logged(make_with({"-s", "tinyconfig"}), tree, log); !done) return done.error();
  if (auto done = run_logged({"scripts/kconfig/merge_config.sh", "-m", ".config", fragment}, tree, log); !done)
    return done.error();
  if (auto done = run_logged(make_with({"-s", "olddefconfig"}), tree, log); !done) return done.error();
  auto dot_config = read_file(join_path(tree, ".config"));
  if (!dot_config) return kernel_error("the kernel configuration left no .config");
  if (const std::string lost = lost_kernel_options(config_text, *dot_config); !lost.empty())
    return kernel_error("the kernel configuration lost options xrun needs (their dependencies are off in " +
                        source.package + " " + source.version + "): " + lost);

  const unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  progress("building the kernel with make -j" + std::to_string(jobs) + ": minutes, once (cached in " + dir + ")");
  if (auto done =
          run_logged(make_with({"-s", "-j" + std::to_string(jobs), std::string(arch.kernel_image_target)}), tree, log);
      !done)
    return done.error();
  auto image = read_file(join_path(tree, std::string(arch.kernel_image)));
  auto release = read_file(join_path(tree, "include/config/kernel.release"));
  if (!image || !release) return kernel_error("the kernel build made no " + std::string(arch.kernel_image));
  while (!release->empty() && release->back() == '\n') release->pop_back();

  const std::string staged = join_path(scratch.path, "out");
  fs::create_directories(staged, ec);
  if (!write_file_atomically(join_path(staged, "Image"), *image) ||
      !write_file_atomically(join_path(staged, "config"), *dot_config) ||
      !write_file_atomically(join_path(staged, "release"), *release))
    return kernel_error("cannot write the kernel under " + staged);
  fs::remove_all(dir, ec);
  fs::rename(staged, dir, ec);
  if (ec) return kernel_error("cannot move the kernel to " + dir + ": " + ec.message());
  fs::remove(log, ec);
  built.release = *release;
  built.rebuilt = true;
  return built;
}

}  // namespace xrun
