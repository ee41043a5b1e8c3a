// Launch overhead of `xrun PROG` against running the same program with
// qemu-user directly, in one invocation, interleaved (this machine is noisy:
// only ratios measured side by side mean anything).
//
//   launch_overhead XRUN DYNAMIC_PROG STATIC_PROG [RUNS [HOST_PROG]]
//
// Peers, as a user without xrun would type them:
//   dynamic: qemu-aarch64 /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1
//              --library-path /usr/aarch64-linux-gnu/lib PROG   (the loader mode
//            that does not hang; `-L /usr/aarch64-linux-gnu` hangs here)
//   static:  qemu-aarch64 PROG
// Goal (issue 2): median ratio xrun/peer at most 1.05.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

struct Sample {
  double wall_ms;
  double cpu_ms;  // user + system time of the child and its descendants
};

Sample run_once(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    std::fprintf(stderr, "bench: cannot run %s\n", args[0]);
    std::exit(2);
  }
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  const auto end = std::chrono::steady_clock::now();
  posix_spawn_file_actions_destroy(&actions);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench: %s failed (status %d)\n", args[0], status);
    std::exit(2);
  }
  const double cpu =
      (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  return {std::chrono::duration<double, std::milli>(end - start).count(), cpu};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Pair {
  const char* name;
  std::vector<std::string> xrun, peer;
  std::vector<Sample> xrun_samples, peer_samples;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: launch_overhead XRUN DYNAMIC_PROG STATIC_PROG [RUNS [HOST_PROG]]\n");
    return 2;
  }
  const std::string xrun = argv[1], dynamic_prog = argv[2], static_prog = argv[3];
  const int runs = argc > 4 ? std::atoi(argv[4]) : 40;
  const std::string sysroot = "/usr/aarch64-linux-gnu";
  std::vector<Pair> pairs = {
      {"aarch64 dynamic",
       {xrun, dynamic_prog, "exit", "0"},
       {"qemu-aarch64", sysroot + "/lib/ld-linux-aarch64.so.1", "--library-path", sysroot + "/lib", dynamic_prog,
        "exit", "0"}},
      {"aarch64 static", {xrun, static_prog, "exit", "0"}, {"qemu-aarch64", static_prog, "exit", "0"}},
  };
  // xrun's own cost in absolute terms: a host program, run directly or via xrun.
  if (argc > 5) pairs.push_back({"host static (native)", {xrun, argv[5], "exit", "0"}, {argv[5], "exit", "0"}});
  for (auto& p : pairs) {  // warm the page cache and xrun's sysroot overlay
    run_once(p.xrun);
    run_once(p.peer);
  }
  for (int i = 0; i < runs; ++i) {
    for (auto& p : pairs) {
      // Alternate who goes first so neither always gets the warmer cache.
      if (i % 2 == 0) {
        p.xrun_samples.push_back(run_once(p.xrun));
        p.peer_samples.push_back(run_once(p.peer));
      } else {
        p.peer_samples.push_back(run_once(p.peer));
        p.xrun_samples.push_back(run_once(p.xrun));
      }
    }
  }
  std::printf("launch overhead, %d interleaved runs each, medians\n", runs);
  std::printf("%-22s %12s %12s %8s   %12s %12s %8s\n", "program", "peer wall", "xrun wall", "ratio", "peer cpu",
              "xrun cpu", "ratio");
  for (const auto& p : pairs) {
    std::vector<double> pw, xw, pc, xc;
    for (const auto& s : p.peer_samples) pw.push_back(s.wall_ms), pc.push_back(s.cpu_ms);
    for (const auto& s : p.xrun_samples) xw.push_back(s.wall_ms), xc.push_back(s.cpu_ms);
    std::printf("%-22s %9.2f ms %9.2f ms %8.3f   %9.2f ms %9.2f ms %8.3f\n", p.name, median(pw), median(xw),
                median(xw) / median(pw), median(pc), median(xc), median(xc) / median(pc));
  }
  return 0;
}
