// The job init: what a job's process execs first when the program must start
// inside namespaces (job_namespace.h, binfmt/foreign_exec.h).
//
// xrun starts every job with vfork(): the child borrows xrun's memory until
// it execs, so starting a job costs neither a copy of xrun's page tables nor
// a write-protect fault on every page xrun writes afterwards. fork() cost
// both, and a run of 100,000 tests holds hundreds of MiB: after SIGTERM,
// writing off the tests still queued took 0.4 s, nearly all of it those
// faults, against 0.04 s after vfork(). But a vfork child may only exec: it
// cannot stay behind as the init of a PID namespace, nor enter a user
// namespace (the kernel refuses while the memory is shared). So when either
// is needed the child execs xrun's own executable as the job init (argv[0]
// kJobInitName), which does both in a process of its own and then execs the
// program. The init is recognised in .init_array, before xrun's main(), so
// any program linked with the harness (the test binaries too) serves.
#pragma once

namespace xrun {

inline constexpr const char* kJobInitName = "xrun-job-init";

// The descriptors the init inherits beyond stdio (and the channel at 3): the
// pipe that reports a failed exec, and the private namespaces to enter.
inline constexpr int kJobInitErrorFd = 4, kJobInitUserNsFd = 5, kJobInitMountNsFd = 6;

// The executable a vfork child execs to become the init ("/proc/self/exe"),
// or nullptr where there is none (no /proc): jobs then start with fork() and
// set themselves up before the exec, as before.
const char* job_init_executable();

}  // namespace xrun
