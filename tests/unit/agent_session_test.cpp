// AgentSession against the real agent (images/agent/ built for the
// host) in --stdio mode, over pipes: the transport a board's ssh channel is.
#include "machine/agent_session.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>

#include "backends/board/ssh.h"
#include "core/fs_util.h"
#include "machine/file_mirror.h"
#include "support/paths.h"
#include "support/temp_dir.h"
#include "support/waits.h"

namespace xrun {
namespace {

struct RunningAgent {
  PipedChild child;
  std::shared_ptr<AgentSession> session;
  bool ready = false;
  std::optional<std::string> closed;
};

// `small_fs_mib`: the store on a file system of that size of its own (a
// tmpfs in a user and mount namespace, the agent's jobs in it too), as on a
// board whose root is in RAM; its log then goes to `log_dir`.
std::unique_ptr<RunningAgent> start_agent(boost::asio::io_context& io, const std::string& store, int small_fs_mib = 0,
                                          const std::string& log_dir = "") {
  auto agent = std::make_unique<RunningAgent>();
  std::vector<std::string> argv{XRUN_AGENT_HOST, "--stdio", "--store", store};
  if (small_fs_mib > 0)
    argv = {"unshare",
            "-Urm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=" + std::to_string(small_fs_mib) +
                "m none \"$1\" && exec \"$2\" --stdio --store \"$1\"",
            "sh",
            store,
            XRUN_AGENT_HOST};
  auto child = spawn_piped(argv, (log_dir.empty() ? store : log_dir) + "/agent.log");
  EXPECT_TRUE(child) << (child ? "" : child.error().message);
  agent->child = std::move(*child);
  AgentSession::Events events;
  auto* raw = agent.get();
  events.ready = [raw](const std::string&) { raw->ready = true; };
  events.closed = [raw](const std::string& reason) {
    raw->closed = reason;
    return reason;
  };
  agent->session = AgentSession::open(io, agent->child.stdout_fd.release(), agent->child.stdin_fd.release(),
                                      {"test agent", 10}, std::move(events));
  agent->session->hello(7);
  while (!agent->ready && io.run_one_for(std::chrono::seconds(5)) > 0) {
  }
  EXPECT_TRUE(agent->ready);
  return agent;
}

JobExit run(boost::asio::io_context& io, AgentSession& session, std::uint32_t id, std::vector<std::string> argv,
            const std::string& cwd, std::string* output = nullptr) {
  RunFrame frame;
  frame.job = id;
  frame.path = argv[0];
  frame.argv = std::move(argv);
  frame.cwd = cwd;
  frame.merge_stderr = true;
  std::optional<JobExit> result;
  AgentSession::JobHandlers handlers;
  handlers.out = [output](std::string_view bytes) {
    if (output) output->append(bytes);
  };
  handlers.done = [&](const JobExit& exit) { result = exit; };
  session.run(frame, std::move(handlers));
  while (!result && io.run_one_for(std::chrono::seconds(10)) > 0) {
  }
  EXPECT_TRUE(result.has_value());
  return result.value_or(JobExit{});
}

TEST(AgentSession, ExitCodesSignalsAndOutputComeFromTheProtocol) {
  testing::TempDir store;
  boost::asio::io_context io;
  auto agent = start_agent(io, store.path());
  std::string out;
  JobExit exit = run(io, *agent->session, 1, {"/bin/sh", "-c", "echo hello; exit 3"}, "/", &out);
  EXPECT_FALSE(exit.signaled);
  EXPECT_EQ(exit.code, 3);
  EXPECT_EQ(out, "hello\n");
  exit = run(io, *agent->session, 2, {"/bin/sh", "-c", "kill -SEGV $$"}, "/");
  EXPECT_TRUE(exit.signaled);
  EXPECT_EQ(exit.signal, SIGSEGV);
  exit = run(io, *agent->session, 3, {"/nonexistent/program"}, "/");
  EXPECT_TRUE(exit.infra_error.has_value());
  EXPECT_EQ(exit.code, 127);
  agent->session->close("done");
  agent->child.process.wait();  // its channel closed with the session
}

TEST(AgentSession, FilesGoByContentHashAndAnUnchangedSecondPutSendsNothing) {
  testing::TempDir store, host;
  boost::asio::io_context io;
  auto agent = start_agent(io, store.path());
  // The "board" is this machine: files are mirrored to a directory of the test's.
  const std::string source = host.write("data/fixture.txt", "fixture content\n");
  host.write("data/copy.txt", "fixture content\n");  // same content, another path: sent once
  FileMirror mirror;
  std::vector<FileEntry> entries;
  ASSERT_TRUE(mirror.add_tree(host.path() + "/data", entries));
  // Put them somewhere else on "the board", so the check cannot see the sources themselves.
  const std::string target = store.path() + "/mirror-target";
  for (auto& e : entries) e.path = target + e.path;
  const auto put = [&] {
    std::optional<Expected<AgentSession::FilesResult>> result;
    agent->session->put_files(entries, [&](Expected<AgentSession::FilesResult> r) { result = std::move(r); });
    while (!result && io.run_one_for(std::chrono::seconds(10)) > 0) {
    }
    EXPECT_TRUE(result && *result) << (result && !*result ? result->error().message : "no answer");
    return result && *result ? **result : AgentSession::FilesResult{};
  };
  const auto first = put();
  EXPECT_EQ(first.files_sent, 1u);
  EXPECT_EQ(first.bytes_sent, 16u);
  EXPECT_EQ(read_file(target + source).value_or(""), "fixture content\n");
  EXPECT_EQ(read_file(target + host.path() + "/data/copy.txt").value_or(""), "fixture content\n");
  const auto second = put();
  EXPECT_EQ(second.bytes_sent, 0u);
  // A file changed on the board is put back from the store, still without sending.
  write_file_atomically(target + source, "changed on the board\n");
  const auto third = put();
  EXPECT_EQ(third.bytes_sent, 0u);
  EXPECT_EQ(read_file(target + source).value_or(""), "fixture content\n");
  agent->session->close("done");
  agent->child.process.wait();  // its channel closed with the session
}

// A board with little room (its root in RAM): a file is never kept twice
// (as the store's object and as its placed copy) -- a large one is moved into
// place -- and the objects of earlier sessions make room for a new one.
TEST(AgentSession, ALargeFileIsOnTheBoardOnceAndEarlierObjectsMakeRoom) {
  testing::TempDir board, host, logs;
  boost::asio::io_context io;
  auto agent = start_agent(io, board.path(), 8, logs.path());
  // Inside the agent's namespace: what the test sees of the small file system.
  const auto on_board = [&](std::uint32_t id, const std::string& command) {
    std::string out;
    const JobExit exit = run(io, *agent->session, id, {"/bin/sh", "-c", command}, "/", &out);
    EXPECT_EQ(exit.code, 0) << command << ": " << out;
    return out;
  };
  const auto put = [&](const std::vector<std::string>& files) {
    FileMirror mirror;
    std::vector<FileEntry> entries;
    for (const auto& file : files) EXPECT_TRUE(mirror.add_file(host.path() + "/" + file, entries));
    for (auto& e : entries) e.path = board.path() + "/placed" + e.path;
    std::optional<Expected<AgentSession::FilesResult>> result;
    agent->session->put_files(entries, [&](Expected<AgentSession::FilesResult> r) { result = std::move(r); });
    while (!result && io.run_one_for(std::chrono::seconds(10)) > 0) {
    }
    EXPECT_TRUE(result && *result) << (result && !*result ? result->error().message : "no answer");
  };
  const auto content = [](std::size_t bytes, char seed) {
    std::string text(bytes, ' ');
    for (std::size_t i = 0; i < bytes; ++i) text[i] = static_cast<char>(seed + i * 7 % 251);
    return text;
  };
  // 5 MiB on 8: an object and its copy would not fit.
  host.write("large.bin", content(5u << 20, 'a'));
  put({"large.bin"});
  const std::string placed = board.path() + "/placed" + host.path();
  EXPECT_EQ(on_board(1, "wc -c < " + placed + "/large.bin"), std::to_string(5u << 20) + "\n");
  EXPECT_EQ(on_board(2, "find " + board.path() + "/objects -type f -size +1024k | wc -l"), "0\n");
  on_board(3, "rm " + placed + "/large.bin");
  // Three smaller files are kept in the store (for other paths with their
  // content); made an earlier session's, with their copies gone.
  for (char seed : {'b', 'c', 'd'}) host.write(std::string("small-") + seed, content(900u << 10, seed));
  put({"small-b", "small-c", "small-d"});
  on_board(4, "rm " + placed + "/small-* && touch -d 2020-01-01 " + board.path() + "/objects/*");
  EXPECT_EQ(on_board(5, "ls " + board.path() + "/objects | wc -l"), "3\n");
  // 2.6 MiB of them and 5.5 MiB more do not fit in 8: they go.
  host.write("larger.bin", content(11u << 19, 'e'));
  put({"larger.bin"});
  EXPECT_EQ(on_board(6, "wc -c < " + placed + "/larger.bin"), std::to_string(11u << 19) + "\n");
  EXPECT_EQ(on_board(7, "ls " + board.path() + "/objects | wc -l"), "0\n");
  agent->session->close("done");
  agent->child.process.wait();  // its channel closed with the session
}

// The host pids of the processes running `program` (argv[0]; a job may run
// in a PID namespace of its own: the pids it sees are not these).
std::vector<pid_t> processes_running(const std::string& program) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const pid_t pid = std::atoi(entry.path().filename().c_str());
    auto cmdline = pid > 0 ? read_file(entry.path().string() + "/cmdline") : std::nullopt;
    if (cmdline && cmdline->rfind(program + '\0', 0) == 0) found.push_back(pid);
  }
  return found;
}

TEST(AgentSession, WhenTheChannelClosesTheAgentKillsItsJobsAndExits) {
  testing::TempDir store;
  boost::asio::io_context io;
  auto agent = start_agent(io, store.path());
  // Both processes are the test helper under a name in the store, so that
  // the test finds them from here; each says it runs with a file ("mark":
  // created by the helper itself, once it is exec'd).
  const std::string sleeper = store.path() + "/sleeper";
  std::filesystem::create_symlink(testing::host_helper(), sleeper);
  const std::string marks = store.path() + "/marks";
  std::filesystem::create_directory(marks);
  RunFrame frame;
  frame.job = 1;
  frame.path = "/bin/sh";
  // A job with a child that left its process group: both must go.
  frame.argv = {
      "/bin/sh", "-c",
      "setsid " + sleeper + " mark " + marks + "/orphan 300000 & exec " + sleeper + " mark " + marks + "/job 300000"};
  frame.cwd = "/";
  bool started = false;
  AgentSession::JobHandlers handlers;
  handlers.started = [&] { started = true; };
  agent->session->run(frame, std::move(handlers));
  while (!started && io.run_one_for(std::chrono::seconds(10)) > 0) {
  }
  ASSERT_TRUE(started);
  ASSERT_TRUE(testing::wait_for_files_in(
      marks, [&] { return std::filesystem::exists(marks + "/orphan") && std::filesystem::exists(marks + "/job"); }, 30))
      << "the job and its child never both ran";
  std::vector<std::string> running;
  for (pid_t pid : processes_running(sleeper)) running.push_back(std::to_string(pid) + ": " + sleeper);
  ASSERT_EQ(running.size(), 2u);
  // The host goes away: what ssh does when xrun is killed or the network drops.
  agent->session->close("gone");
  pollfd ended{agent->child.process.pidfd(), POLLIN, 0};
  ASSERT_EQ(::poll(&ended, 1, 30'000), 1) << "the agent did not exit when its channel closed";
  const auto status = agent->child.process.try_reap();
  ASSERT_TRUE(status) << "the agent did not exit when its channel closed";
  EXPECT_TRUE(WIFEXITED(*status));
  for (const auto& left : testing::still_running_after(running, 10))
    ADD_FAILURE() << left << " outlived the agent's channel";  // (killed by still_running_after)
}

// A hostile agent (a compromised board) names paths of its choice in
// PULLED frames: only those under the asked directory that lead nowhere
// else on the host are written; the rest are counted and named, once.
TEST(AgentSession, PulledPathsThatLeaveTheAskedDirectoryAreRefused) {
  testing::TempDir base, outside;
  const std::string root = base.write("cwd/.keep", ""), cwd = parent_of(root);
  outside.write("dir/.keep", "");
  std::filesystem::create_directory_symlink(outside.path() + "/dir", cwd + "/lnk");
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  boost::asio::io_context io;
  auto session = AgentSession::open(io, fds[0], fds[0], {"hostile agent", 10}, {});
  // The agent's side, by hand: u32 length | u8 type | payload.
  const auto u32 = [](std::uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  const auto str = [&](const std::string& text) { return u32(static_cast<std::uint32_t>(text.size())) + text; };
  const auto send = [&](unsigned type, const std::string& payload) {
    const std::string frame = u32(static_cast<std::uint32_t>(payload.size() + 1)) + static_cast<char>(type) + payload;
    ASSERT_EQ(::write(fds[1], frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  };
  const auto pulled = [&](const std::string& path, const std::string& bytes) {
    send(XRUN_PULLED, u32(1) + str(path) + u32(0644) + u32(0) + u32(0) + u32(1) + bytes);
  };
  std::optional<Expected<AgentSession::PullResult>> result;
  session->pull_files({cwd}, 1000, [&](Expected<AgentSession::PullResult> r) { result = std::move(r); });
  pulled(cwd + "/../escape-dotdot", "evil");
  pulled(cwd + "/a/../../escape-inner", "evil");
  pulled(cwd + "//empty-component", "evil");
  pulled(cwd + "/./dot", "evil");
  pulled(outside.path() + "/absolute", "evil");
  pulled("/etc/xrun-absolute", "evil");
  pulled(cwd + "/lnk/evil", "evil");
  pulled(cwd + "/new\nline", "fine");
  send(XRUN_PULL_DONE, u32(1) + str(""));
  while (!result && io.run_one_for(std::chrono::seconds(5)) > 0) {
  }
  ASSERT_TRUE(result && *result) << (result && !*result ? result->error().message : "no answer");
  EXPECT_EQ((*result)->files, 1u);
  EXPECT_EQ((*result)->refused_count, 7u);
  EXPECT_EQ((*result)->refused.size(), AgentSession::PullResult::kRefusedShown);
  EXPECT_EQ(read_file(cwd + "/new\nline").value_or(""), "fine");
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(base.path())) entries += !entry.is_symlink();
  EXPECT_EQ(entries, 3u) << "cwd, cwd/.keep and cwd/new\\nline only";
  EXPECT_FALSE(std::filesystem::exists(outside.path() + "/dir/evil"));
  EXPECT_FALSE(std::filesystem::exists(outside.path() + "/absolute"));
  session->close("done");
  ::close(fds[1]);
}

}  // namespace
}  // namespace xrun
