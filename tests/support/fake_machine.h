// A Machine (machine/machine.h) for MachinePool's unit tests: no VM, no
// board, but the machines' own life (machine/agent_machine.h) and a real
// AgentSession over a socketpair whose other end is a fake agent on the same
// io_context. The agent answers HELLO and records what it
// is asked (RUN, SIGNAL, STDIN); the test says what its jobs do (start,
// print, exit) and when the machine comes up or dies. Nothing waits on a
// clock: drive the io_context with settle() (poll until idle).
//
// FakeFleet is the MachineFleet around it: slots, capacity, what a dead
// machine's jobs become, and a recover() that replaces, retires
// (quarantine) or holds its answer until the test gives it (a board's
// reset), all recorded.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "machine/agent_machine.h"
#include "machine/machine.h"

namespace xrun::testing {

// Runs the handlers that are ready, and those they make ready, until none is:
// what a test does instead of waiting.
void settle(boost::asio::io_context& io);

class FakeMachine final : public AgentMachine {
 public:
  struct Options {
    // The machine comes up only when the test calls come_up() (or fail_to_start()).
    bool hold_start = false;
    // The agent leaves a job's SIGNAL unanswered (else the job dies of it, as on a real agent).
    bool ignore_signals = false;
  };
  struct Run {
    std::uint32_t job = 0;
    std::string path;
    std::vector<std::string> argv;
  };

  FakeMachine(boost::asio::io_context& io, std::string name, std::string report_name, Options options);
  ~FakeMachine() override;

  // Machine
  std::string name() const override { return name_; }
  std::string report_name() const override { return report_name_; }

  // The test's hands.
  void come_up();                                 // with hold_start: the agent answers now
  void fail_to_start(const std::string& reason);  // the start fails
  using AgentMachine::die;                        // dies on its own (qemu exited)
  void drop_connection();                         // the agent's channel closes (a board's network)
  void job_started(std::uint32_t job);
  void job_output(std::uint32_t job, const std::string& bytes);
  void job_exit(std::uint32_t job, int code);
  void job_killed(std::uint32_t job, int signal);

  // What happened to it.
  bool started = false;
  bool was_killed = false;       // by kill()
  std::string end_reason;        // why it ended (kill or death)
  std::vector<Run> runs;         // RUN frames, in order
  std::set<std::uint32_t> jobs;  // ran and not ended (by the test or a signal)
  std::vector<std::pair<std::uint32_t, int>> signals;
  std::map<std::uint32_t, std::string> input;  // STDIN bytes per job
  std::set<std::uint32_t> input_closed;

 private:
  // AgentMachine
  void launch() override;
  void stop() override;
  std::string last_words(const std::string& reason) override;

  void send(std::uint8_t type, const std::string& payload);
  void read_more();
  void handle(std::uint8_t type, const std::string& payload);

  std::string name_, report_name_;
  Options options_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> agent_;
  std::string rx_;
  std::array<char, 4096> buffer_{};
  bool opened_ = false;
};

class FakeFleet final : public MachineFleet {
 public:
  // recover()'s answer: replace the machine, retire its slot for the run
  // (quarantine), or wait for the test to call answer_recovery().
  enum class Recovery { Replace, Retire, Hold };
  struct Recovered {
    std::size_t slot;
    bool was_ready;
    std::string error;
  };

  FakeFleet(std::string target, std::size_t slots, std::size_t jobs_per_machine, bool requeue)
      : target_(std::move(target)), slots_(slots), jobs_per_machine_(jobs_per_machine), requeue_(requeue) {}

  std::size_t slots() const override { return slots_; }
  std::size_t jobs_per_machine(std::size_t) const override { return jobs_per_machine_; }
  std::shared_ptr<Machine> make(boost::asio::io_context& io, std::size_t slot) override;
  void prepare(boost::asio::io_context& io, std::function<void()> done) override;
  Expected<void> plan(const JobRequest& request, const ElfInfo& elf, MachineJob& job) override;
  void stage(Machine& machine, const std::shared_ptr<MachineJob>& job,
             std::function<void(Expected<void> staged)> done) override;
  void recover(std::size_t slot, bool was_ready, const std::string& error, std::function<void(bool)> again) override;
  bool requeue_jobs_of_dead_machines() const override { return requeue_; }
  void shutdown() override {
    if (on_shutdown) on_shutdown();
  }

  // The test's hands.
  FakeMachine::Options machine_options;
  Recovery recovery = Recovery::Replace;
  std::optional<std::string> plan_error;  // plan() fails with it
  bool hold_staging = false;              // stage() waits for finish_staging()
  bool hold_prepare = false;              // prepare() waits for finish_prepare()
  void finish_prepare();
  void answer_recovery(bool again);                                      // the oldest held recovery
  void finish_staging(std::optional<std::string> error = std::nullopt);  // the oldest held staging
  std::function<void()> on_shutdown;  // the pool is done with the fleet (which then goes)

  // What happened.
  std::vector<std::shared_ptr<FakeMachine>> made;  // in order
  std::vector<std::size_t> made_slots;
  std::vector<Recovered> recovered;
  std::vector<JobId> planned;
  // The machine last made in `slot`.
  FakeMachine& in_slot(std::size_t slot);

 private:
  std::string target_;
  std::size_t slots_, jobs_per_machine_;
  bool requeue_;
  std::vector<std::function<void(bool)>> held_recoveries_;
  std::vector<std::function<void(Expected<void>)>> held_staging_;
  std::function<void()> held_prepare_;
};

}  // namespace xrun::testing
