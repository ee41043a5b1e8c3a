#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <tuple>
#include <cstring>
#include <sstream>

#include "config/config_keys.h"
#include "config/toml_util.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/suggest.h"
#include "target/target_table.h"

extern char** environ;

namespace xrun {

namespace {

std::string location(const std::string& file, const toml::source_region& region) {
  return toml_location(file, region);
}

std::string type_of(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

std::vector<std::string> keys_in_section(std::string_view section) {
  std::vector<std::string> out;
  for (const auto& key : config_keys())
    if (key.section == section) out.emplace_back(key.name);
  return out;
}

const ConfigKey* find_key(std::string_view section, std::string_view name) {
  for (const auto& key : config_keys())
    if (key.section == section && key.name == name) return &key;
  return nullptr;
}

// Collects problems; the loader keeps going after each so that one run shows
// them all (mold's Error + checkpoint habit). They are reported in the order
// of the files and of the lines in each file, whatever order toml++ walked
// the tables in.
class Problems {
 public:
  void add(std::string message, const toml::source_region& region = {}) {
    lines_.push_back({file_index_, region.begin.line, region.begin.column, std::move(message)});
  }
  // "file:line:col" + message, sorted by that position.
  void add_at(const std::string& file, const toml::source_region& region, const std::string& message) {
    add(location(file, region) + message, region);
  }
  void next_file() { ++file_index_; }
  bool empty() const { return lines_.empty(); }
  Error to_error() {
    std::stable_sort(lines_.begin(), lines_.end(), [](const Line& a, const Line& b) {
      return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
    });
    std::string joined;
    for (const auto& line : lines_) {
      if (!joined.empty()) joined += '\n';
      joined += line.text;
    }
    return make_error(ExitCode::Usage, joined);
  }

 private:
  struct Line {
    int file;
    std::uint32_t line, column;
    std::string text;
  };
  std::vector<Line> lines_;
  int file_index_ = 0;
};

std::string resolve_relative(const std::string& value, const std::string& base_dir) {
  if (value.empty() || value[0] == '/') return value;
  return join_path(base_dir, value);
}

void apply_target_key(const ConfigKey& key, const toml::node& value, const std::string& file,
                      const std::string& file_dir, TargetSettings& settings, Problems& problems) {
  const std::string name(key.name);
  const auto wrong_type = [&](std::string_view detail = {}) {
    problems.add_at(file, value.source(), ": " + quoted(name) + " must be " +
                 std::string(value_type_name(key.type)) +
                 (detail.empty() ? ", not " + type_of(value) : std::string(detail)));
  };
  switch (key.type) {
    case ValueType::String: {
      auto s = value.value<std::string>();
      if (!value.is_string() || !s) return wrong_type();
      if (name == "sysroot") settings.sysroot = resolve_relative(*s, file_dir);
      else if (name == "qemu") settings.qemu = *s;
      else if (name == "cpu") settings.cpu = *s;
      else if (name == "backend") {
        if (*s != "qemu-user" && *s != "system")
          return wrong_type(" naming a backend: \"qemu-user\" or \"system\", not " + quoted(*s));
        settings.backend = *s;
      } else if (name == "vm_kernel") {
        if (*s != "minimal" && *s != "debian")
          return wrong_type(" naming a kernel: \"minimal\" or \"debian\", not " + quoted(*s));
        settings.vm_kernel = *s;
      } else if (name == "kernel") settings.kernel = resolve_relative(*s, file_dir);
      else if (name == "modules") settings.modules = resolve_relative(*s, file_dir);
      else if (name == "rootfs") settings.rootfs = resolve_relative(*s, file_dir);
      else if (name == "vm_cpu") settings.vm_cpu = *s;
      else if (name == "vm_memory") settings.vm_memory = *s;
      else if (name == "vm_append") settings.vm_append = *s;
      return;
    }
    case ValueType::StringArray: {
      const auto* array = value.as_array();
      if (!array) return wrong_type();
      std::vector<std::string> items;
      for (const auto& element : *array) {
        if (!element.is_string()) {
          problems.add_at(file, element.source(), ": every element of " + quoted(name) +
                       " must be a string, not " + type_of(element));
          return;
        }
        items.push_back(*element.value<std::string>());
      }
      if (name == "shares") {
        for (auto& item : items) item = resolve_relative(item, file_dir);
        settings.shares = std::move(items);
      } else {
        settings.qemu_args = std::move(items);
      }
      return;
    }
    case ValueType::StringTable: {
      const auto* table = value.as_table();
      if (!table) return wrong_type();
      for (const auto& [env_key, env_value] : *table) {
        if (!env_value.is_string()) {
          problems.add_at(file, env_value.source(), ": " + name + "." + std::string(env_key.str()) +
                       " must be a string, not " + type_of(env_value));
          continue;
        }
        settings.env[std::string(env_key.str())] = *env_value.value<std::string>();
      }
      return;
    }
  }
}

// Stores a [test] value (from a file or the environment) already checked
// against its key's type.
void store_test_value(TestSettings& test, std::string_view name, const std::string& text, std::int64_t integer,
                      double number, bool boolean) {
  if (name == "jobs") test.jobs = integer;
  else if (name == "retries") test.retries = integer;
  else if (name == "timeout") test.timeout = number;
  else if (name == "grace") test.grace = number;
  else if (name == "fail_fast") test.fail_fast = boolean;
  else if (name == "isolation") test.isolation = text;
  else if (name == "junit") test.junit = text;
  else if (name == "json") test.json = text;
}

// Range checks shared by the file and the environment; "" when fine.
std::string check_test_value(std::string_view name, const std::string& text, std::int64_t integer, double number) {
  if ((name == "jobs" && integer < 1) || (name == "retries" && integer < 0))
    return "\"" + std::string(name) + "\" must be " + (name == "jobs" ? "at least 1" : "0 or more");
  if ((name == "timeout" || name == "grace") && !(number > 0))
    return "\"" + std::string(name) + "\" must be a positive number of seconds";
  if (name == "isolation" && text != "batch" && text != "process")
    return "\"isolation\" must be \"batch\" or \"process\", not " + quoted(text);
  return "";
}

void apply_test_key(const ConfigKey& key, const toml::node& value, const std::string& file,
                    const std::string& file_dir, TestSettings& test, Problems& problems) {
  std::string text;
  std::int64_t integer = 0;
  double number = 0;
  bool boolean = false;
  bool ok = false;
  switch (key.type) {
    case ValueType::Integer:
      if (auto v = value.value_exact<std::int64_t>()) ok = true, integer = *v;
      break;
    case ValueType::Number:
      if (value.is_number()) ok = true, number = *value.value<double>();
      break;
    case ValueType::Boolean:
      if (auto v = value.value_exact<bool>()) ok = true, boolean = *v;
      break;
    case ValueType::String:
      if (auto v = value.value_exact<std::string>()) ok = true, text = *v;
      break;
    default: break;
  }
  if (!ok) {
    problems.add_at(file, value.source(), ": \"" + std::string(key.name) + "\" must be " +
                                              std::string(value_type_name(key.type)) + ", not " + type_of(value));
    return;
  }
  if (auto problem = check_test_value(key.name, text, integer, number); !problem.empty()) {
    problems.add_at(file, value.source(), ": " + problem);
    return;
  }
  if (key.name == "junit" || key.name == "json") text = resolve_relative(text, file_dir);
  store_test_value(test, key.name, text, integer, number, boolean);
}

void load_file(const std::string& file, Config& config, Problems& problems) {
  auto text = read_file(file);
  if (!text) {
    problems.add(file + ": cannot read: " + std::strerror(errno));
    return;
  }
  auto parsed = parse_toml(*text, file);
  if (!parsed) {
    problems.add(parsed.error().message);
    return;
  }
  config.files.push_back(file);
  problems.next_file();
  const std::string file_dir = [&] {
    auto slash = file.rfind('/');
    return slash == std::string::npos ? current_directory() : file.substr(0, slash == 0 ? 1 : slash);
  }();
  const TargetTable& table = TargetTable::builtin();

  for (const auto& [section_key, section_node] : (*parsed)) {
    const std::string section(section_key.str());
    if (section == "test") {
      const auto* keys = section_node.as_table();
      if (!keys) {
        problems.add_at(file, section_node.source(), ": \"test\" must be a table, like [test]");
        continue;
      }
      for (const auto& [key_name, value] : *keys) {
        const ConfigKey* key = find_key("test", key_name.str());
        if (key == nullptr) {
          problems.add_at(file, key_name.source(), ": unknown key " + quoted(key_name.str()) + " in [test]" +
                                                       did_you_mean(key_name.str(), keys_in_section("test")));
          continue;
        }
        apply_test_key(*key, value, file, file_dir, config.test, problems);
      }
      continue;
    }
    if (section != "targets") {
      problems.add_at(file, section_key.source(), ": unknown section " + quoted(section) +
                   did_you_mean(section, {"targets", "test"}));
      continue;
    }
    const auto* targets = section_node.as_table();
    if (!targets) {
      problems.add_at(file, section_node.source(), ": \"targets\" must be a table of targets, like [targets.aarch64]");
      continue;
    }
    for (const auto& [target_key, target_node] : *targets) {
      const std::string target_name(target_key.str());
      const TargetSpec* spec = table.find(target_name);
      if (spec == nullptr) {
        problems.add_at(file, target_key.source(), ": unknown target " + quoted(target_name) +
                     did_you_mean(target_name, table.names()));
        continue;
      }
      const auto* keys = target_node.as_table();
      if (!keys) {
        problems.add_at(file, target_node.source(), ": targets." + target_name + " must be a table");
        continue;
      }
      // A triple ("aarch64-unknown-linux-gnu") configures its target ("aarch64").
      TargetSettings& settings = config.targets[spec->name];
      for (const auto& [key_name, value] : *keys) {
        const ConfigKey* key = find_key("targets.*", key_name.str());
        if (key == nullptr) {
          problems.add_at(file, key_name.source(), ": unknown key " + quoted(key_name.str()) +
                       " in [targets." + target_name + "]" +
                       did_you_mean(key_name.str(), keys_in_section("targets.*")));
          continue;
        }
        apply_target_key(*key, value, file, file_dir, settings, problems);
      }
    }
  }
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

void load_environment(const ConfigInputs& inputs, Config& config, Problems& problems) {
  const TargetTable& table = TargetTable::builtin();
  // Every variable name xrun knows, for suggestions: built only when a
  // problem needs it, since this runs at every launch.
  const auto known = [&] {
    std::vector<std::string> names;
    for (const auto& global : global_env_variables()) names.emplace_back(global.name);
    for (const auto& key : config_keys()) {
      if (key.env.empty()) continue;
      if (key.section != "test") {
        for (const auto& spec : table.targets()) names.push_back(env_name_for(key, spec.name));
      } else {
        names.emplace_back(key.env);
      }
    }
    return names;
  };

  for (const auto& [name, value] : inputs.environment) {
    if (name.rfind("XRUN_", 0) != 0) continue;
    bool handled = false;
    for (const auto& global : global_env_variables()) handled |= name == global.name;
    for (const auto& key : config_keys()) {
      if (key.section != "test" || key.env != name) continue;
      handled = true;
      std::int64_t integer = 0;
      double number = 0;
      bool parsed = true;
      try {
        std::size_t used = 0;
        if (key.type == ValueType::Integer) integer = std::stoll(value, &used);
        if (key.type == ValueType::Number) number = std::stod(value, &used);
        if ((key.type == ValueType::Integer || key.type == ValueType::Number) && used != value.size()) parsed = false;
      } catch (const std::exception&) {
        parsed = false;
      }
      const bool boolean = value == "1" || value == "true" || value == "yes";
      if (key.type == ValueType::Boolean && !boolean && value != "0" && value != "false" && value != "no" && !value.empty())
        parsed = false;
      if (!parsed) {
        problems.add("environment: " + name + " must be " + std::string(value_type_name(key.type)) + ", not " +
                     quoted(value));
        continue;
      }
      if (auto problem = check_test_value(key.name, value, integer, number); !problem.empty()) {
        problems.add("environment: " + name + ": " + problem);
        continue;
      }
      store_test_value(config.test, key.name,
                       key.name == "junit" || key.name == "json" ? resolve_relative(value, inputs.cwd) : value,
                       integer, number, boolean);
    }
    for (const auto& spec : table.targets()) {
      for (const auto& key : config_keys()) {
        if (key.env.empty() || env_name_for(key, spec.name) != name) continue;
        handled = true;
        TargetSettings& settings = config.targets[spec.name];
        if (key.name == "sysroot") settings.sysroot = resolve_relative(value, inputs.cwd);
        else if (key.name == "qemu") settings.qemu = value;
        else if (key.name == "cpu") settings.cpu = value;
        else if (key.name == "qemu_args") settings.qemu_args = split_words(value);
        else if (key.name == "backend") {
          if (value != "qemu-user" && value != "system")
            problems.add("environment: " + name + " must be \"qemu-user\" or \"system\", not " + quoted(value));
          else settings.backend = value;
        } else if (key.name == "vm_kernel") {
          if (value != "minimal" && value != "debian")
            problems.add("environment: " + name + " must be \"minimal\" or \"debian\", not " + quoted(value));
          else settings.vm_kernel = value;
        } else if (key.name == "kernel") settings.kernel = resolve_relative(value, inputs.cwd);
        else if (key.name == "modules") settings.modules = resolve_relative(value, inputs.cwd);
        else if (key.name == "rootfs") settings.rootfs = resolve_relative(value, inputs.cwd);
        else if (key.name == "vm_cpu") settings.vm_cpu = value;
        else if (key.name == "vm_memory") settings.vm_memory = value;
        else if (key.name == "vm_append") settings.vm_append = value;
      }
    }
    // Only names that claim a target ("XRUN_AARCH64_...") are ours for sure;
    // other XRUN_* variables may belong to the program and pass through.
    bool claims_target = name.rfind("XRUN_TEST_", 0) == 0;
    for (const auto& spec : table.targets()) {
      std::string prefix = "XRUN_";
      for (char c : spec.name) prefix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      claims_target |= name.rfind(prefix + "_", 0) == 0;
    }
    if (!handled && claims_target) {
      problems.add("environment: unknown variable " + name + did_you_mean(name, known()));
    }
  }
}

}  // namespace

const TargetSettings& Config::target(std::string_view name) const {
  static const TargetSettings kEmpty;
  auto it = targets.find(name);
  return it == targets.end() ? kEmpty : it->second;
}

std::optional<std::string> find_project_config(const std::string& dir) {
  std::string current = dir;
  while (!current.empty()) {
    std::string candidate = join_path(current, "xrun.toml");
    if (is_regular_file(candidate)) return candidate;
    if (current == "/") break;
    auto slash = current.rfind('/');
    current = slash == 0 ? "/" : current.substr(0, slash);
  }
  return std::nullopt;
}

ConfigInputs config_inputs_from_process(std::optional<std::string> explicit_file) {
  ConfigInputs inputs;
  inputs.cwd = current_directory();
  if (!explicit_file) explicit_file = get_env("XRUN_CONFIG");
  if (explicit_file && explicit_file->empty()) explicit_file.reset();
  inputs.explicit_file = explicit_file;
  inputs.user_file = join_path(xdg_config_home(), "xrun/config.toml");
  for (char** entry = environ; entry && *entry; ++entry) {
    if (std::strncmp(*entry, "XRUN_", 5) != 0) continue;
    const char* eq = std::strchr(*entry, '=');
    if (!eq) continue;
    inputs.environment.emplace_back(std::string(*entry, static_cast<std::size_t>(eq - *entry)), std::string(eq + 1));
  }
  return inputs;
}

Expected<Config> load_config(const ConfigInputs& inputs) {
  Config config;
  Problems problems;
  if (inputs.user_file && is_regular_file(*inputs.user_file)) load_file(*inputs.user_file, config, problems);
  if (inputs.explicit_file) {
    if (!is_regular_file(*inputs.explicit_file)) {
      problems.add(*inputs.explicit_file + ": configuration file not found");
    } else {
      load_file(*inputs.explicit_file, config, problems);
    }
  } else if (auto project = find_project_config(inputs.cwd)) {
    load_file(*project, config, problems);
  }
  load_environment(inputs, config, problems);
  if (!problems.empty()) return problems.to_error();
  return config;
}

}  // namespace xrun
