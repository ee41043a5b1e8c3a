// xrun image build|list|rm: the VM images system mode boots (harness/backends/system/image.h).
#include "backends/system/image_command.h"

#include <cstdio>

#include "backends/system/image.h"
#include "config/config.h"
#include "core/cli_parse.h"
#include "core/log.h"
#include "core/process_util.h"
#include "target/target_table.h"

namespace xrun {

int image_command(const std::vector<std::string>& args) {
  CLI::App app("VM images for system mode (--backend system)", "xrun image");
  app.require_subcommand(1);
  std::string arch_name = "aarch64", config_file, which;
  bool force = false, verbose = false;
  auto* build = app.add_subcommand("build", "build (or refresh) the image of a target from Debian packages");
  build->add_option(
      "--arch", arch_name, "target: " + [] {
        std::string names;
        for (const auto& n : vm_arch_names()) names += (names.empty() ? "" : ", ") + n;
        return names;
      }() + " (default aarch64)");
  build->add_flag("--force", force, "rebuild even when nothing changed");
  build->add_option("--config", config_file, "configuration file instead of the nearest xrun.toml");
  build->add_flag("-v,--verbose", verbose, "debug trace");
  auto* list = app.add_subcommand("list", "the images in the cache, their kernels and sizes");
  auto* rm = app.add_subcommand("rm", "remove images (and their saved VM state)");
  rm->add_option("which", which, "an image name, an arch, or \"all\"")->required();
  if (auto stop = parse_subcommand(app, "image", args)) return *stop;
  init_logging(verbose);

  if (list->parsed()) {
    const auto images = list_images();
    if (images.empty()) {
      std::printf("no images in %s (xrun image build --arch aarch64 makes one)\n", images_root().c_str());
      return 0;
    }
    std::printf("%-24s %-8s %-22s %-21s %9s\n", "NAME", "ARCH", "KERNEL", "BUILT", "SIZE");
    for (const auto& i : images)
      std::printf("%-24s %-8s %-22s %-21s %7.1f MB\n", i.name.c_str(), i.arch.c_str(), i.kernel_release.c_str(),
                  i.built_at.c_str(), static_cast<double>(i.bytes) / 1e6);
    return 0;
  }
  if (rm->parsed()) {
    auto removed = remove_images(which);
    if (!removed) {
      print_error(removed.error().message);
      return to_int(removed.error().code);
    }
    for (const auto& name : *removed) std::printf("removed %s\n", name.c_str());
    return 0;
  }

  const TargetSpec* spec = TargetTable::builtin().find(arch_name);
  const VmArch* arch = find_vm_arch(spec ? spec->name : arch_name);
  if (!arch) {
    std::string names;
    for (const auto& n : vm_arch_names()) names += (names.empty() ? "" : ", ") + n;
    print_error("no system-mode image for " + xrun::quoted(arch_name) + " (supported: " + names + ")");
    return to_int(ExitCode::Usage);
  }
  auto config = load_config(
      config_inputs_from_process(config_file.empty() ? std::nullopt : std::optional<std::string>(config_file)));
  if (!config) {
    print_error(config.error().message);
    return to_int(config.error().code);
  }
  ImageBuildOptions options;
  options.force = force;
  options.progress = [](const std::string& line) { std::fprintf(stderr, "xrun: image: %s\n", line.c_str()); };
  // Ctrl-C or a kill during a build stops the running helper (make and its
  // compilers, for minutes), then the build unwinds and removes its scratch.
  stop_helpers_on_signals();
  auto built = build_image(*arch, vm_config(config->target(arch->name)), options);
  if (helper_interrupted()) {
    print_error("interrupted: the image was not built");
    return to_int(ExitCode::Interrupted);
  }
  if (!built) {
    print_error(built.error().message);
    return to_int(built.error().code);
  }
  std::printf("%s: %s%s\n  %s\n", built->location.name.c_str(), built->rebuilt ? "built, " : "", built->summary.c_str(),
              built->location.dir.c_str());
  return 0;
}

}  // namespace xrun
