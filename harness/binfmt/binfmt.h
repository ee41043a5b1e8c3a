// Registering xrun with the kernel's binfmt_misc, so that `./app-aarch64`
// (and any foreign program another program executes) runs through xrun.
//
// One registration per qemu binary (armhf and armel share "xrun-arm": the
// ELF header bytes binfmt_misc can match stop before e_flags; xrun tells
// them apart itself). Magic and mask are the first 20 bytes of the ELF
// header: identification (OS/ABI ignored), e_type EXEC or DYN, e_machine.
//
// Flags "PF" (Documentation/admin-guide/binfmt-misc.rst): P keeps the
// program's argv[0] (the kernel passes interpreter, full path, original
// argv[0], args...); F opens xrun at registration time, so the registration
// keeps working inside containers and chroots. xrun recognises such a launch
// by AT_EXECFN, which is the program's path, not xrun's (binfmt_invocation()).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/expected.h"
#include "target/target_table.h"

namespace xrun {

inline constexpr const char* kBinfmtDir = "/proc/sys/fs/binfmt_misc";
inline constexpr const char* kBinfmtPrefix = "xrun-";

struct BinfmtRegistration {
  std::string name;                  // "xrun-aarch64"
  std::vector<std::string> targets;  // "aarch64"; "armhf", "armel"
  std::string magic, mask;           // raw bytes
};

// What the kernel has registered (one file under binfmt_misc).
struct BinfmtEntry {
  std::string name;
  bool enabled = false;
  std::string interpreter;
  std::string flags;
  std::string magic_hex, mask_hex;  // as the kernel shows them
  int offset = 0;
};

// Registrations for the targets the host cannot run natively; `only` limits
// them to these targets (names or triples).
Expected<std::vector<BinfmtRegistration>> binfmt_registrations(const TargetTable& table,
                                                               const std::vector<std::string>& only);

// The line written to binfmt_misc/register.
std::string binfmt_register_line(const BinfmtRegistration& registration, const std::string& interpreter);

// Each byte as two lowercase hex digits, after `prefix` ("\\x" for binfmt_misc).
std::string to_hex(const std::string& bytes, const char* prefix = "");

Expected<std::vector<BinfmtEntry>> read_binfmt_entries(const std::string& dir = kBinfmtDir);

// True when `entry` matches the same files as `registration`.
bool binfmt_overlaps(const BinfmtEntry& entry, const BinfmtRegistration& registration);

// Each returns what it did, one line per registration, for the user.
Expected<std::vector<std::string>> binfmt_install(const std::vector<BinfmtRegistration>& registrations,
                                                  const std::string& interpreter, const std::string& dir = kBinfmtDir);
Expected<std::vector<std::string>> binfmt_uninstall(const std::vector<BinfmtRegistration>& registrations,
                                                    const std::string& dir = kBinfmtDir);
Expected<std::string> binfmt_status(const std::vector<BinfmtRegistration>& registrations,
                                    const std::string& dir = kBinfmtDir);

// When the kernel started xrun through binfmt_misc: the program, and the
// argv[0] it was given. `argv` is main()'s.
struct BinfmtInvocation {
  std::string program;
  std::string argv0;
  std::vector<std::string> args;
};
std::optional<BinfmtInvocation> binfmt_invocation(int argc, char** argv);

}  // namespace xrun
