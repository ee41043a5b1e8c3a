#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <tuple>

#include "backends/registry.h"
#include "config/config_keys.h"
#include "config/toml_util.h"
#include "core/diagnostics.h"
#include "core/fs_util.h"
#include "core/suggest.h"
#include "target/target_table.h"

extern char** environ;

namespace xrun {

namespace {

std::string location(const std::string& file, const toml::source_region& region) { return toml_location(file, region); }

std::string type_of(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
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

// A TOML node as a value of `type`; false (and `why`) when it is not one.
// Why a configured string cannot reach a program as it is: argv, the
// environment and the agent's frames are C strings, so a NUL would cut it
// short. Empty: it can.
std::string unpassable(std::string_view text) {
  return text.find('\0') == std::string_view::npos ? ""
                                                   : "cannot hold a NUL character (\\u0000): no program could get it";
}

// Why `name` cannot be an environment variable's name: nothing sets one that
// is empty or holds '=' or a NUL (the first '=' ends the name). Empty: it can.
std::string not_a_variable_name(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name.find('=') != std::string_view::npos) return "a name with '=' in it";
  if (name.find('\0') != std::string_view::npos) return "a name with a NUL character in it";
  return "";
}

// Why a value from a file cannot be taken, and where in the file.
struct ValueProblem {
  const toml::source_region* where;
  std::string why;
};

// `node` as a value of `type`, checked (`out` has the file's directory).
Expected<ConfigValue, ValueProblem> value_from_toml(const toml::node& node, ValueType type, ConfigValue out) {
  switch (type) {
    case ValueType::String:
      if (auto v = node.value_exact<std::string>()) {
        if (std::string why = unpassable(*v); !why.empty()) return ValueProblem{&node.source(), why};
        out.text = *v;
        return out;
      }
      break;
    case ValueType::Integer:
      if (auto v = node.value_exact<std::int64_t>()) {
        out.integer = *v;
        return out;
      }
      break;
    case ValueType::Number:
      if (node.is_number()) {
        out.number = *node.value<double>();
        return out;
      }
      break;
    case ValueType::Boolean:
      if (auto v = node.value_exact<bool>()) {
        out.boolean = *v;
        return out;
      }
      break;
    case ValueType::StringArray: {
      const auto* array = node.as_array();
      if (!array) break;
      for (const auto& element : *array) {
        if (!element.is_string())
          return ValueProblem{&element.source(), "must hold only strings, not " + type_of(element)};
        out.strings.push_back(*element.value<std::string>());
        if (std::string why = unpassable(out.strings.back()); !why.empty()) return ValueProblem{&element.source(), why};
      }
      return out;
    }
    case ValueType::StringTable: {
      const auto* table = node.as_table();
      if (!table) break;
      for (const auto& [key, value] : *table) {
        if (!value.is_string())
          return ValueProblem{&value.source(),
                              "." + std::string(key.str()) + " must be a string, not " + type_of(value)};
        // Only the environment is a table of strings ([targets.NAME.env]).
        if (const std::string bad = not_a_variable_name(key.str()); !bad.empty())
          return ValueProblem{&key.source(),
                              "." + quoted(std::string(key.str())) + " is " + bad + ": not an environment variable"};
        const std::string text = *value.value<std::string>();
        if (const std::string bad = unpassable(text); !bad.empty())
          return ValueProblem{&value.source(), "." + std::string(key.str()) + " " + bad};
        out.table[std::string(key.str())] = text;
      }
      return out;
    }
  }
  return ValueProblem{&node.source(), "must be " + std::string(value_type_name(type)) + ", not " + type_of(node)};
}

// An environment variable's text as a value of `type`.
bool value_from_text(const std::string& text, ValueType type, ConfigValue& out) {
  switch (type) {
    case ValueType::String:
      out.text = text;
      return true;
    case ValueType::StringArray: {
      std::istringstream words(text);
      for (std::string word; words >> word;) out.strings.push_back(word);
      return true;
    }
    case ValueType::Integer:
    case ValueType::Number: {
      // As std::stoll / std::stod read it (strtoll, strtod: leading blanks,
      // a sign), without their exceptions: no digits or out of range is no
      // value, and so is text after the number.
      errno = 0;
      char* end = nullptr;
      if (type == ValueType::Integer)
        out.integer = std::strtoll(text.c_str(), &end, 10);
      else
        out.number = std::strtod(text.c_str(), &end);
      return end != text.c_str() && errno != ERANGE && end == text.c_str() + text.size();
    }
    case ValueType::Boolean:
      if (text == "1" || text == "true" || text == "yes") return out.boolean = true, true;
      if (text.empty() || text == "0" || text == "false" || text == "no") return out.boolean = false, true;
      return false;
    case ValueType::StringTable:
      return false;  // no environment form
  }
  return false;
}

// One key's value from a file: checked against the key's type, then stored by its row.
void apply_key(const ConfigKey& key, const toml::node& node, const std::string& file, const std::string& file_dir,
               const ConfigSlot& slot, Problems& problems) {
  ConfigValue empty;
  empty.base_dir = file_dir;
  const auto value = value_from_toml(node, key.type, std::move(empty));
  if (!value) {
    // "env.A must be a string" names the entry; anything else follows the key's name.
    const std::string& why = value.error().why;
    problems.add_at(file, *value.error().where,
                    ": " + (why[0] == '.' ? std::string(key.name) : quoted(key.name) + " ") + why);
    return;
  }
  if (auto problem = key.store(*value, slot); !problem.empty())
    problems.add_at(file, node.source(), ": " + quoted(key.name) + " " + problem);
}

// The keys of one table ([test], [targets.NAME], [groups.NAME]) against the rows of `section`.
void apply_table(const toml::table& keys, std::string_view section, const std::string& shown_as,
                 const std::string& file, const std::string& file_dir, const ConfigSlot& slot, Problems& problems) {
  for (const auto& [key_name, value] : keys) {
    const ConfigKey* key = find_key(section, key_name.str());
    if (key == nullptr) {
      problems.add_at(file, key_name.source(),
                      ": unknown key " + quoted(key_name.str()) + " in [" + shown_as + "]" +
                          did_you_mean(key_name.str(), keys_in_section(section)));
      continue;
    }
    apply_key(*key, value, file, file_dir, slot, problems);
  }
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
      apply_table(*keys, "test", "test", file, file_dir, ConfigSlot{nullptr, &config.test, nullptr}, problems);
      continue;
    }
    if (section == "groups") {
      const auto* groups = section_node.as_table();
      if (!groups) {
        problems.add_at(file, section_node.source(), ": \"groups\" must be a table of groups, like [groups.serial]");
        continue;
      }
      for (const auto& [group_key, group_node] : *groups) {
        const std::string name(group_key.str());
        const auto* keys = group_node.as_table();
        if (!keys) {
          problems.add_at(file, group_node.source(),
                          ": groups." + name + " must be a table, like [groups." + name + "]");
          continue;
        }
        TestGroup& group = config.groups[name];
        apply_table(*keys, "groups.*", "groups." + name, file, file_dir, ConfigSlot{nullptr, nullptr, &group},
                    problems);
        if (group.filter.empty() && group.binaries.empty())
          problems.add_at(
              file, group_key.source(),
              ": group " + quoted(name) + " has neither \"filter\" nor \"binaries\": it would hold every test");
      }
      continue;
    }
    // A section a backend adds: a table of named tables ([boards.NAME]).
    if (const ConfigSection* own = find_config_section(section)) {
      const auto* tables = section_node.as_table();
      if (!tables) {
        problems.add_at(file, section_node.source(),
                        ": " + quoted(section) + " must be a table of " + section + ", like [" + section + "." +
                            std::string(own->example) + "]");
        continue;
      }
      for (const auto& [table_key, table_node] : *tables) {
        const std::string name(table_key.str());
        const auto* keys = table_node.as_table();
        if (!keys) {
          problems.add_at(file, table_node.source(),
                          ": " + section + "." + name + " must be a table, like [" + section + "." + name + "]");
          continue;
        }
        const ConfigSlot slot = own->slot(config, name, file);
        apply_table(*keys, section + ".*", section + "." + name, file, file_dir, slot, problems);
        if (const std::string lacks = own->lacks(slot, name); !lacks.empty())
          problems.add_at(file, table_key.source(), ": " + lacks);
      }
      continue;
    }
    if (section != "targets") {
      std::vector<std::string> sections{"targets", "test", "groups"};
      for (const Backend* row : backends())
        for (const auto& own : row->sections) sections.emplace_back(own.name);
      problems.add_at(file, section_key.source(),
                      ": unknown section " + quoted(section) + did_you_mean(section, sections));
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
        problems.add_at(file, target_key.source(),
                        ": unknown target " + quoted(target_name) + did_you_mean(target_name, table.names()));
        continue;
      }
      const auto* keys = target_node.as_table();
      if (!keys) {
        problems.add_at(file, target_node.source(), ": targets." + target_name + " must be a table");
        continue;
      }
      // A triple ("aarch64-unknown-linux-gnu") configures its target ("aarch64").
      apply_table(*keys, "targets.*", "targets." + target_name, file, file_dir,
                  ConfigSlot{&config.targets[spec->name], nullptr, nullptr}, problems);
    }
  }
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
  // The same rows as the files: the text becomes a value of the key's type,
  // then the row checks and stores it.
  const auto apply = [&](const ConfigKey& key, const std::string& name, const std::string& text,
                         const ConfigSlot& slot) {
    ConfigValue value;
    value.base_dir = inputs.cwd;
    if (!value_from_text(text, key.type, value)) {
      problems.add("environment: " + name + " must be " + std::string(value_type_name(key.type)) + ", not " +
                   quoted(text));
      return;
    }
    if (auto problem = key.store(value, slot); !problem.empty()) problems.add("environment: " + name + " " + problem);
  };

  for (const auto& [name, value] : inputs.environment) {
    if (name.rfind("XRUN_", 0) != 0) continue;
    if (name.rfind(kPassedToTestsPrefix, 0) == 0) continue;  // the user's, for the tests (config.h)
    // An unknown level would silently turn the trace, warnings included, off.
    if (name == "XRUN_LOG" && !value.empty()) {
      static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
      if (std::find(std::begin(kLevels), std::end(kLevels), value) == std::end(kLevels))
        problems.add("environment: XRUN_LOG must be trace, debug, info, warn, error or off, not " + quoted(value));
    }
    bool handled = false;
    for (const auto& global : global_env_variables()) handled |= name == global.name;
    for (const auto& key : config_keys()) {
      if (key.env.empty()) continue;
      if (key.section == "test") {
        if (key.env != name) continue;
        handled = true;
        apply(key, name, value, ConfigSlot{nullptr, &config.test, nullptr});
        continue;
      }
      for (const auto& spec : table.targets()) {
        if (env_name_for(key, spec.name) != name) continue;
        handled = true;
        apply(key, name, value, ConfigSlot{&config.targets[spec.name], nullptr, nullptr});
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
  for (const Backend* row : backends())
    if (row->check_config)
      for (auto& problem : row->check_config(config)) problems.add(std::move(problem));
  if (!problems.empty()) return problems.to_error();
  return config;
}

}  // namespace xrun
