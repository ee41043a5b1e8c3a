// Small filesystem helpers shared by the probe, the config loader and the
// launcher. All of them report through return values, never exceptions.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/expected.h"

namespace xrun {

bool path_exists(const std::string& path);      // follows symlinks
bool is_regular_file(const std::string& path);  // follows symlinks
bool is_directory(const std::string& path);     // follows symlinks

// Looks `name` up the way execvp does: as given when it contains a '/',
// otherwise in each directory of PATH. Returns the first regular file that is
// executable. `path_variable` is the PATH to search; nullopt means the
// process's own.
std::optional<std::string> find_program(std::string_view name, std::optional<std::string> path_variable = std::nullopt);

// The whole file, or nullopt if it cannot be read.
std::optional<std::string> read_file(const std::string& path);

// A directory of one xrun process's own, `base`/<prefix><pid>-XXXXXX with
// `marker` (a directory) in it: made with mkdtemp, or an Error.
Expected<std::string> make_run_dir(const std::string& base, std::string_view prefix, std::string_view marker);
// Removes the directories make_run_dir() made with this prefix and marker
// that an xrun killed before it could remove them left behind: only this
// user's, and only those whose pid is gone.
void remove_stale_run_dirs(const std::string& base, std::string_view prefix, std::string_view marker);

// Writes `content` to a temporary file next to `path` (named after this
// process: a reader, Ctrl-C or a crash never sees half a report or image;
// concurrent xrun runs do not collide) and renames it over
// `path`: readers see the old file or the whole new one. The error says
// "PATH: cannot write: why".
Expected<void> write_file_atomically(const std::string& path, std::string_view content);
// The same with the content in pieces, written in order. `abandon`, when
// given, is asked before each few hundred KiB: true gives the write up,
// removes the temporary and returns false, `path` as it was (true: written).
// A path that is not a regular file (a FIFO, /dev/stdout) is written whole,
// never abandoned: what went out could not be taken back.
Expected<bool> write_file_atomically(const std::string& path, std::span<const std::string_view> content,
                                     const std::function<bool()>& abandon = {});

// $XDG_CONFIG_HOME or ~/.config; $XDG_CACHE_HOME or ~/.cache.
std::string xdg_config_home();
std::string xdg_cache_home();

// The current directory, or "" if it was removed under us.
std::string current_directory();

// Joins with exactly one '/' between the parts.
std::string join_path(std::string_view a, std::string_view b);

// Value of an environment variable, nullopt when unset.
std::optional<std::string> get_env(const char* name);

// The elements of a ':'-separated list (PATH, LD_LIBRARY_PATH, an ELF
// RUNPATH), empty ones included: "a::b" is {"a", "", "b"}.
std::vector<std::string> split_path_list(std::string_view list);

// The path with symlinks resolved (realpath(3)); the path itself when that fails.
std::string real_path(const std::string& path);
// "/a/b" for "/a/b/c", "/" for "/c" or a bare name.
std::string parent_of(const std::string& path);

// A directory tree removed on every path out of the scope that owns it (a
// build's scratch space).
struct ScratchDir {
  std::string path;
  explicit ScratchDir(std::string where) : path(std::move(where)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();
};

}  // namespace xrun
