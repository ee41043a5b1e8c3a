#include "launch/qemu_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/hash.h"
#include "core/process_util.h"

namespace xrun {

namespace {

std::string cache_path(const std::string& qemu, const std::string& what) {
  struct stat st {};
  ::stat(qemu.c_str(), &st);
  const std::string key = qemu + "\n" + std::to_string(st.st_size) + "\n" + std::to_string(st.st_mtime) + "\n" + what;
  return join_path(xdg_cache_home(), "xrun/qemu-checks/" + fnv1a_hex(key));
}

void remember(const std::string& path, const std::string& text) {
  std::string dir = path.substr(0, path.rfind('/'));
  for (std::size_t at = 1; (at = dir.find('/', at)) != std::string::npos; ++at)
    ::mkdir(dir.substr(0, at).c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  (void)write_file_atomically(path, text);  // a cache that cannot be written is only slower
}

}  // namespace

std::vector<std::string> parse_cpu_models(const std::string& help) {
  std::vector<std::string> models;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    // "Available CPUs:" then "  cortex-a57" (some qemus add a description after the name).
    if (line.size() < 3 || line[0] != ' ') continue;
    std::istringstream words(line);
    std::string model;
    if (words >> model) models.push_back(model);
  }
  return models;
}

Expected<void> check_qemu_settings(const std::string& qemu, const std::string& target,
                                   const std::optional<std::string>& cpu,
                                   const std::optional<std::vector<std::string>>& qemu_args) {
  const std::string name = qemu.substr(qemu.rfind('/') + 1);
  if (cpu && !cpu->empty()) {
    const std::string path = cache_path(qemu, "cpus");
    auto listed = read_file(path);
    if (!listed) {
      // Its exit status says nothing: Debian 12's qemu-user lists the models
      // and exits 1, newer ones exit 0.
      const CaptureResult help = run_capturing({qemu, "-cpu", "help"}, "", false);
      if (help.started) {
        std::string text;
        for (const auto& model : parse_cpu_models(help.out)) text += model + "\n";
        if (!text.empty()) remember(path, text);
        listed = text;
      }
    }
    if (listed && !listed->empty()) {
      std::vector<std::string> models;  // the cache holds one a line
      std::istringstream lines(*listed);
      for (std::string line; std::getline(lines, line);)
        if (!line.empty()) models.push_back(line);
      if (std::find(models.begin(), models.end(), *cpu) == models.end() && *cpu != "help") {
        std::string known;
        for (const auto& m : models) known += (known.empty() ? "" : ", ") + m;
        return make_error(ExitCode::Usage, "targets." + target + ".cpu: " + name + " has no CPU model " + quoted(*cpu) +
                                               " (it has: " + known + ")");
      }
    }
  }
  if (qemu_args && !qemu_args->empty()) {
    std::string joined;
    for (const auto& a : *qemu_args) joined += a + '\0';
    const std::string path = cache_path(qemu, "args\n" + joined);
    if (read_file(path).value_or("") != "ok\n") {
      // qemu parses its options in order and stops at -version: it refuses
      // a wrong one (exit 1, its reason on stderr) before it gets there.
      std::vector<std::string> argv{qemu};
      argv.insert(argv.end(), qemu_args->begin(), qemu_args->end());
      argv.push_back("-version");
      auto result = run_capturing(argv, "", false);
      if (result.started && result.status == 0) {
        remember(path, "ok\n");
      } else if (result.started) {
        std::string words;
        for (const auto& a : *qemu_args) words += (words.empty() ? "" : " ") + a;
        return make_error(ExitCode::Usage, "targets." + target + ".qemu_args: " + name + " refuses " + quoted(words) +
                                               " (`" + name + " -h` lists its options)");
      }
    }
  }
  return {};
}

}  // namespace xrun
