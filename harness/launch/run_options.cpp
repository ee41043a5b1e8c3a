#include "launch/run_options.h"

#include "backends/registry.h"
#include "core/diagnostics.h"
#include "core/suggest.h"

namespace xrun {

namespace {

constexpr std::string_view kValueOptions[] = {"--target", "--config", "--backend"};

}  // namespace

Expected<RunLine> parse_run_line(const std::vector<std::string>& words) {
  RunLine line;
  std::size_t i = 0;
  for (; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--") {
      line.after_dashes = true;
      ++i;
      break;
    }
    if (word.empty() || word[0] != '-' || word == "-") break;
    const std::size_t first = i;
    const std::string name = word.substr(0, word.find('='));
    std::optional<std::string> value;
    bool takes_value = false;
    for (auto option : kValueOptions) takes_value |= name == option;
    if (takes_value) {
      if (name.size() < word.size()) {
        value = word.substr(name.size() + 1);
      } else if (i + 1 < words.size()) {
        value = words[++i];
      } else {
        return make_error(ExitCode::Usage, "option " + name + " needs a value");
      }
    } else if (name.size() < word.size()) {
      return make_error(ExitCode::Usage, "option " + name + " takes no value");
    }
    if (name == "-v" || name == "--verbose") {
      line.options.verbose = true;
    } else if (const BackendFlag* flag = find_backend_flag(name)) {
      line.options.backend_flags.emplace_back(flag->name);
    } else if (name == "--target") {
      line.options.target = value;
    } else if (name == "--config") {
      line.options.config_file = value;
    } else if (name == "--backend") {
      line.options.backend = parse_backend(*value);
      if (!line.options.backend)
        return make_error(ExitCode::Usage, "--backend must be " + backend_choices() + ", not " + quoted(*value));
    } else {
      std::vector<std::string> known{"--target", "--config", "--backend"};
      for (const Backend* row : backends())
        for (const auto& row_flag : row->flags) known.emplace_back(row_flag.name);
      known.insert(known.end(), {"--verbose", "--help", "--version"});
      return make_error(ExitCode::Usage, "unknown option " + quoted(name) + did_you_mean(name, known) +
                                             " (options go before PROGRAM; see xrun --help)");
    }
    line.option_words.insert(line.option_words.end(), words.begin() + static_cast<std::ptrdiff_t>(first),
                             words.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
  line.program = i;
  return line;
}

}  // namespace xrun
