// MachinePool against fake machines (support/fake_machine.h): real agent
// sessions over socketpairs, fake agents, and a fleet whose decisions the
// test makes. Machines start as jobs wait, jobs go to machines with room, a
// dead machine is replaced and its jobs become infra errors (or go to
// another machine), a retired machine gets no more jobs, signal_all reaches
// every job of every pool, and each job goes to its target's pool. No
// clock: the io_context is polled until idle.
#include "machine/machine_pool.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/post.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/fs_util.h"
#include "probe/elf_probe.h"
#include "support/fake_machine.h"
#include "support/paths.h"

namespace xrun {
namespace {

using testing::FakeFleet;
using testing::FakeMachine;
using testing::settle;

// What a test hears of a job.
struct Heard {
  JobId id = 0;
  std::string target;
  std::string output;
  bool started = false;
  std::optional<JobExit> exit;
  int exits = 0;
  bool ended_inside_start = false;
};

struct PoolFixture {
  boost::asio::io_context io;
  // How every fleet is made: slots, jobs per machine, what a dead machine's jobs become.
  std::size_t slots = 1;
  std::size_t jobs_per_machine = 1;
  bool requeue = false;  // a VM's fleet: no; a board's: yes
  FakeMachine::Options machine_options;
  std::set<std::string> unusable;  // targets whose fleet cannot be made
  std::map<std::string, FakeFleet*> fleets;
  std::map<std::string, int> fleets_made;
  int fleet_shutdowns = 0;
  bool in_start = false;
  bool hold_prepare = false;  // every fleet's prepare() waits for finish_prepare()
  MachinePool pool{io, false, [this](const std::string& target) -> Expected<std::unique_ptr<MachineFleet>> {
                     ++fleets_made[target];
                     if (unusable.count(target)) return make_error(ExitCode::Usage, "no machine for " + target);
                     auto fleet = std::make_unique<FakeFleet>(target, slots, jobs_per_machine, requeue);
                     fleet->machine_options = machine_options;
                     fleet->hold_prepare = hold_prepare;
                     fleet->on_shutdown = [this] { ++fleet_shutdowns; };
                     fleets[target] = fleet.get();
                     return std::unique_ptr<MachineFleet>(std::move(fleet));
                   }};

  FakeFleet& fleet(const std::string& target = "aarch64") { return *fleets.at(target); }

  // Starts a job of the helper cross-built for `target`.
  Expected<std::shared_ptr<Heard>> start(const std::string& target = "aarch64", bool forward_stdin = false) {
    const std::string program = testing::helper(target, "static");
    auto elf = probe_elf(program);
    if (!elf) return elf.error();
    JobRequest request;
    request.program = program;
    request.args = {"exit", "0"};
    request.elf = &*elf;
    request.forward_stdin = forward_stdin;
    auto job = std::make_shared<Heard>();
    JobRunner::Callbacks callbacks;
    callbacks.output = [job](std::string_view bytes) { job->output.append(bytes); };
    callbacks.started = [job] { job->started = true; };
    callbacks.exited = [this, job](const JobExit& exit) {
      job->exit = exit;
      ++job->exits;
      job->ended_inside_start = in_start;
    };
    in_start = true;
    auto started = pool.start(request, std::move(callbacks));
    in_start = false;
    if (!started) return started.error();
    job->id = started->id;
    job->target = started->target;
    EXPECT_TRUE(started->starts_later);
    return job;
  }

  std::shared_ptr<Heard> must_start(const std::string& target = "aarch64", bool forward_stdin = false) {
    auto job = start(target, forward_stdin);
    EXPECT_TRUE(job) << (job ? "" : job.error().message);
    return job ? *job : std::make_shared<Heard>();
  }

  void settle() { testing::settle(io); }
};

std::uint32_t agent_id(const Heard& job) { return static_cast<std::uint32_t>(job.id); }

// Every machine a fleet made that the agent was asked to run `job` on.
std::vector<FakeMachine*> machines_that_ran(FakeFleet& fleet, const Heard& job) {
  std::vector<FakeMachine*> out;
  for (auto& machine : fleet.made)
    for (const auto& run : machine->runs)
      if (run.job == agent_id(job)) out.push_back(machine.get());
  return out;
}

TEST(MachinePool, AJobRunsOnAReadyMachineAndEndsWithItsStatus) {
  PoolFixture f;
  auto job = f.must_start();
  EXPECT_EQ(job->target, "aarch64");
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 1u);
  FakeMachine& machine = *f.fleet().made[0];
  EXPECT_TRUE(machine.ready());
  ASSERT_EQ(machine.runs.size(), 1u);
  EXPECT_EQ(machine.runs[0].path, real_path(testing::helper("aarch64", "static")));
  EXPECT_EQ(machine.runs[0].argv, (std::vector<std::string>{testing::helper("aarch64", "static"), "exit", "0"}));
  EXPECT_FALSE(job->started);  // its clock starts with the agent's STARTED
  machine.job_started(agent_id(*job));
  machine.job_output(agent_id(*job), "hello\n");
  f.settle();
  EXPECT_TRUE(job->started);
  EXPECT_EQ(f.pool.machine_of(job->id), machine.report_name());
  machine.job_exit(agent_id(*job), 3);
  f.settle();
  ASSERT_TRUE(job->exit);
  EXPECT_FALSE(job->exit->infra_error);
  EXPECT_EQ(job->exit->code, 3);
  EXPECT_EQ(job->output, "hello\n");
  EXPECT_EQ(job->exits, 1);
}

// What a fleet makes once for its machines (a VM's saved state, which takes
// seconds) is made while the loop runs: no machine starts before it is
// ready, the jobs wait in the queue, and other handlers run meanwhile.
TEST(MachinePool, NoMachineStartsBeforeItsFleetIsPrepared) {
  PoolFixture f;
  f.hold_prepare = true;
  auto job = f.must_start();
  bool other_work = false;
  boost::asio::post(f.io, [&] { other_work = true; });
  f.settle();
  EXPECT_TRUE(other_work);
  EXPECT_TRUE(f.fleet().made.empty());
  EXPECT_FALSE(job->exit);
  f.fleet().finish_prepare();
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 1u);
  ASSERT_EQ(f.fleet().made[0]->runs.size(), 1u);
  EXPECT_EQ(f.fleet().made[0]->runs[0].job, agent_id(*job));
}

TEST(MachinePool, MachinesStartAsJobsWaitUpToTheFleetsSlots) {
  PoolFixture f;
  f.slots = 3;
  auto first = f.must_start();
  f.settle();
  EXPECT_EQ(f.fleet().made.size(), 1u);  // one job, one machine: not one per slot
  std::vector<std::shared_ptr<Heard>> more;
  for (int i = 0; i < 4; ++i) more.push_back(f.must_start());
  f.settle();
  EXPECT_EQ(f.fleet().made.size(), 3u);  // never more than the slots
  std::size_t running = 0;
  for (auto& machine : f.fleet().made) {
    EXPECT_EQ(machine->runs.size(), 1u);  // a VM runs one job at a time
    running += machine->runs.size();
  }
  EXPECT_EQ(running, 3u);
  // A job's end makes room for a waiting one on the same machine.
  FakeMachine& machine = *machines_that_ran(f.fleet(), *first).at(0);
  machine.job_exit(agent_id(*first), 0);
  f.settle();
  EXPECT_EQ(machine.runs.size(), 2u);
  EXPECT_EQ(f.fleet().made.size(), 3u);
}

TEST(MachinePool, AMachineRunsUpToItsCapacity) {
  PoolFixture f;
  f.jobs_per_machine = 2;
  auto a = f.must_start(), b = f.must_start(), c = f.must_start();
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 1u);
  FakeMachine& board = *f.fleet().made[0];
  EXPECT_EQ(board.jobs, (std::set<std::uint32_t>{agent_id(*a), agent_id(*b)}));
  board.job_exit(agent_id(*b), 0);
  f.settle();
  EXPECT_EQ(board.jobs, (std::set<std::uint32_t>{agent_id(*a), agent_id(*c)}));
}

TEST(MachinePool, ADeadMachineIsReplacedAndItsJobsAreInfraErrors) {
  PoolFixture f;
  f.jobs_per_machine = 2;
  auto a = f.must_start(), b = f.must_start();
  f.settle();
  FakeMachine& vm = f.fleet().in_slot(0);
  vm.job_started(agent_id(*a));
  f.settle();
  vm.die("qemu exited with status 1");
  f.settle();
  for (const auto& job : {a, b}) {
    ASSERT_TRUE(job->exit);
    EXPECT_EQ(job->exit->infra_error, vm.name() + ": qemu exited with status 1");
    EXPECT_FALSE(job->exit->machine_lost);  // a VM's test may have brought it down: not run again
    EXPECT_EQ(job->exits, 1);
  }
  ASSERT_EQ(f.fleet().recovered.size(), 1u);
  EXPECT_EQ(f.fleet().recovered[0].slot, 0u);
  EXPECT_TRUE(f.fleet().recovered[0].was_ready);
  // Its slot has a new machine, and the next job runs there.
  ASSERT_EQ(f.fleet().made.size(), 2u);
  FakeMachine& replacement = f.fleet().in_slot(0);
  EXPECT_NE(&replacement, &vm);
  auto c = f.must_start();
  f.settle();
  EXPECT_EQ(machines_that_ran(f.fleet(), *c), std::vector<FakeMachine*>{&replacement});
}

TEST(MachinePool, ALostBoardsWaitingJobsGoToAnotherAndItsRunningJobsAreLost) {
  PoolFixture f;
  f.slots = 2;
  f.jobs_per_machine = 2;
  f.requeue = true;  // a board whose network dropped is not the test's fault
  f.machine_options.hold_start = true;
  auto a = f.must_start(), b = f.must_start(), c = f.must_start();
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 2u);
  FakeMachine& first = f.fleet().in_slot(0);
  FakeMachine& second = f.fleet().in_slot(1);
  first.come_up();
  f.settle();
  second.come_up();
  f.settle();
  ASSERT_EQ(first.jobs, (std::set<std::uint32_t>{agent_id(*a), agent_id(*b)}));
  ASSERT_EQ(second.jobs, std::set<std::uint32_t>{agent_id(*c)});
  first.job_started(agent_id(*a));  // b was sent, but the agent never said it started
  f.settle();
  f.fleet().recovery = FakeFleet::Recovery::Retire;  // out of the run: no reset
  first.drop_connection();
  f.settle();
  ASSERT_TRUE(a->exit);
  EXPECT_TRUE(a->exit->infra_error);
  EXPECT_TRUE(a->exit->machine_lost);  // the scheduler runs it again elsewhere, once
  EXPECT_NE(a->exit->infra_error->find("the agent's channel closed"), std::string::npos);
  EXPECT_FALSE(b->exit);  // not started: it simply goes to another board
  EXPECT_EQ(machines_that_ran(f.fleet(), *b), (std::vector<FakeMachine*>{&first, &second}));
  EXPECT_TRUE(f.fleet().recovered.at(0).was_ready);
  EXPECT_EQ(f.fleet().made.size(), 2u);  // retired, not replaced
  second.job_exit(agent_id(*b), 0);
  second.job_exit(agent_id(*c), 0);
  f.settle();
  EXPECT_EQ(b->exit->code, 0);
  EXPECT_FALSE(b->exit->infra_error);
}

TEST(MachinePool, AJobTwoMachinesDiedUnderIsLostNotMovedAgain) {
  PoolFixture f;
  f.requeue = true;
  auto job = f.must_start();
  f.settle();
  f.fleet().in_slot(0).die("network unreachable");
  f.settle();
  EXPECT_FALSE(job->exit);  // moved to the slot's next machine
  ASSERT_EQ(f.fleet().made.size(), 2u);
  EXPECT_EQ(machines_that_ran(f.fleet(), *job).size(), 2u);
  f.fleet().in_slot(0).die("network unreachable");
  f.settle();
  ASSERT_TRUE(job->exit);
  EXPECT_TRUE(job->exit->machine_lost);
  EXPECT_EQ(job->exits, 1);
}

TEST(MachinePool, AQuarantinedMachineGetsNoMoreJobs) {
  PoolFixture f;
  f.slots = 2;
  auto a = f.must_start(), b = f.must_start();
  f.settle();
  FakeMachine& bad = *machines_that_ran(f.fleet(), *a).at(0);
  FakeMachine& good = *machines_that_ran(f.fleet(), *b).at(0);
  f.fleet().recovery = FakeFleet::Recovery::Retire;
  bad.die("kernel panic");
  f.settle();
  EXPECT_TRUE(a->exit && a->exit->infra_error);
  good.job_exit(agent_id(*b), 0);
  std::vector<std::shared_ptr<Heard>> later;
  for (int i = 0; i < 3; ++i) later.push_back(f.must_start());
  f.settle();
  EXPECT_EQ(f.fleet().made.size(), 2u);  // its slot stays empty
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(machines_that_ran(f.fleet(), *later[i]), std::vector<FakeMachine*>{&good});
    good.job_exit(agent_id(*later[i]), 0);
    f.settle();
  }
  for (const auto& job : later) EXPECT_TRUE(job->exit && !job->exit->infra_error);
}

TEST(MachinePool, ARecoveryThatTakesTimeKeepsTheJobsWaiting) {
  PoolFixture f;
  f.requeue = true;
  auto job = f.must_start();
  f.settle();
  f.fleet().recovery = FakeFleet::Recovery::Hold;  // a board being power-cycled
  f.fleet().in_slot(0).die("no route to host");
  auto waiting = f.must_start();
  f.settle();
  EXPECT_EQ(f.fleet().made.size(), 1u);  // no machine while its slot recovers
  EXPECT_FALSE(job->exit);
  EXPECT_FALSE(waiting->exit);
  f.fleet().answer_recovery(true);
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 2u);
  EXPECT_EQ(machines_that_ran(f.fleet(), *job).back(), &f.fleet().in_slot(0));
  f.fleet().in_slot(0).job_exit(agent_id(*job), 0);
  f.settle();
  EXPECT_EQ(machines_that_ran(f.fleet(), *waiting), std::vector<FakeMachine*>{&f.fleet().in_slot(0)});
}

TEST(MachinePool, AMachineThatFailsToStartIsRecoveredAndTheJobRunsOnTheNext) {
  PoolFixture f;
  f.machine_options.hold_start = true;  // comes up when the test says
  auto job = f.must_start();
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 1u);
  FakeMachine& first = f.fleet().in_slot(0);
  EXPECT_TRUE(first.started);
  EXPECT_FALSE(first.ready());
  first.fail_to_start("another run held it for longer than lock_timeout");
  f.settle();
  ASSERT_EQ(f.fleet().recovered.size(), 1u);
  EXPECT_FALSE(f.fleet().recovered[0].was_ready);
  EXPECT_EQ(f.fleet().recovered[0].error, first.name() + ": another run held it for longer than lock_timeout");
  EXPECT_FALSE(job->exit);  // it waits for the next machine
  ASSERT_EQ(f.fleet().made.size(), 2u);
  f.fleet().in_slot(0).come_up();
  f.settle();
  EXPECT_EQ(machines_that_ran(f.fleet(), *job), std::vector<FakeMachine*>{&f.fleet().in_slot(0)});
  EXPECT_FALSE(job->exit);
}

TEST(MachinePool, WhenEveryMachineIsRetiredEveryJobIsAnInfraErrorAfterStartReturns) {
  PoolFixture f;
  f.slots = 2;
  f.machine_options.hold_start = true;
  auto a = f.must_start(), b = f.must_start(), c = f.must_start();
  f.fleet().recovery = FakeFleet::Recovery::Retire;
  f.settle();
  ASSERT_EQ(f.fleet().made.size(), 2u);
  f.fleet().in_slot(0).fail_to_start("no KVM");
  f.settle();
  EXPECT_FALSE(a->exit);  // another machine may still come up
  f.fleet().in_slot(1).fail_to_start("no KVM either");
  f.settle();
  for (const auto& job : {a, b, c}) {
    ASSERT_TRUE(job->exit);
    // What the last machine said: every job of the pool ends with it.
    EXPECT_EQ(job->exit->infra_error, f.fleet().in_slot(1).name() + ": no KVM either");
    EXPECT_EQ(job->exits, 1);
  }
  // A job of a broken pool ends at once, but never from inside start().
  auto late = f.must_start();
  EXPECT_FALSE(late->exit);
  f.settle();
  ASSERT_TRUE(late->exit);
  EXPECT_FALSE(late->ended_inside_start);
  EXPECT_EQ(late->exit->infra_error, c->exit->infra_error);
  EXPECT_EQ(f.fleet().made.size(), 2u);
}

TEST(MachinePool, SignalAllReachesEveryJobOfEveryPool) {
  PoolFixture f;
  f.slots = 2;
  // Running on aarch64's two machines and on riscv64's, waiting for a
  // machine (queued), and being staged (its files on their way).
  auto a1 = f.must_start("aarch64"), a2 = f.must_start("aarch64"), queued = f.must_start("aarch64");
  auto r1 = f.must_start("riscv64");
  f.settle();
  f.fleet("riscv64").hold_staging = true;
  auto staging = f.must_start("riscv64");
  f.settle();
  EXPECT_EQ(f.fleet("aarch64").made.size(), 2u);
  EXPECT_EQ(f.fleet("riscv64").made.size(), 2u);
  f.pool.signal_all(SIGTERM);
  f.settle();
  for (const auto& job : {a1, a2, r1}) {
    FakeMachine& machine = *machines_that_ran(f.fleet(job->target), *job).at(0);
    EXPECT_EQ(machine.signals, (std::vector<std::pair<std::uint32_t, int>>{{agent_id(*job), SIGTERM}}));
  }
  for (const auto& job : {a1, a2, r1, queued, staging}) {
    ASSERT_TRUE(job->exit) << job->id;
    EXPECT_TRUE(job->exit->signaled);
    EXPECT_EQ(job->exit->signal, SIGTERM);
    EXPECT_FALSE(job->exit->infra_error);
    EXPECT_EQ(job->exits, 1);
  }
  EXPECT_TRUE(machines_that_ran(f.fleet("aarch64"), *queued).empty());  // it never ran
  EXPECT_TRUE(machines_that_ran(f.fleet("riscv64"), *staging).empty());
  // The staging that finishes late runs nothing.
  f.fleet("riscv64").finish_staging();
  f.settle();
  EXPECT_TRUE(machines_that_ran(f.fleet("riscv64"), *staging).empty());
}

TEST(MachinePool, EachJobGoesToThePoolOfItsTarget) {
  PoolFixture f;
  f.slots = 2;
  auto a = f.must_start("aarch64"), r = f.must_start("riscv64"), h = f.must_start("armhf");
  auto a2 = f.must_start("aarch64");
  f.settle();
  EXPECT_EQ(f.fleets_made, (std::map<std::string, int>{{"aarch64", 1}, {"armhf", 1}, {"riscv64", 1}}));
  EXPECT_EQ(a->target, "aarch64");
  EXPECT_EQ(r->target, "riscv64");
  EXPECT_EQ(h->target, "armhf");
  EXPECT_EQ(machines_that_ran(f.fleet("aarch64"), *a).size(), 1u);
  EXPECT_EQ(machines_that_ran(f.fleet("aarch64"), *a2).size(), 1u);
  EXPECT_EQ(machines_that_ran(f.fleet("riscv64"), *r).size(), 1u);
  EXPECT_EQ(machines_that_ran(f.fleet("armhf"), *h).size(), 1u);
  EXPECT_TRUE(machines_that_ran(f.fleet("aarch64"), *r).empty());
  EXPECT_EQ(f.fleet("aarch64").planned, (std::vector<JobId>{a->id, a2->id}));
  // One target's end is not another's.
  f.fleet("riscv64").in_slot(0).die("gone");
  f.settle();
  EXPECT_TRUE(r->exit);
  EXPECT_FALSE(a->exit);
  EXPECT_FALSE(h->exit);
}

TEST(MachinePool, ATargetWithoutAFleetFailsItsJobsOnly) {
  PoolFixture f;
  f.unusable = {"riscv64"};
  auto refused = f.start("riscv64");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "no machine for riscv64");
  auto fine = f.must_start("aarch64");
  f.settle();
  EXPECT_EQ(machines_that_ran(f.fleet("aarch64"), *fine).size(), 1u);
  // A plan the fleet refuses (a board without the program's glibc) fails the start.
  f.fleet("aarch64").plan_error = "the board's glibc is older than the program's";
  auto planned = f.start("aarch64");
  ASSERT_FALSE(planned);
  EXPECT_EQ(planned.error().message, "the board's glibc is older than the program's");
}

TEST(MachinePool, AForcedTargetMustMatchTheProgram) {
  PoolFixture f;
  const std::string program = testing::helper("aarch64", "static");
  auto elf = probe_elf(program);
  ASSERT_TRUE(elf);
  JobRequest request;
  request.program = program;
  request.elf = &*elf;
  request.target = "riscv64";
  auto wrong = f.pool.start(request, {});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("built for aarch64, not for riscv64"), std::string::npos);
  request.target = "nonesuch";
  auto unknown = f.pool.start(request, {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ExitCode::Usage);
  EXPECT_TRUE(f.fleets_made.empty());
}

TEST(MachinePool, StdinSentBeforeTheJobRunsReachesItWhenItDoes) {
  PoolFixture f;
  auto job = f.must_start("aarch64", true);
  f.pool.send_stdin(job->id, "line 1\n");
  f.pool.send_stdin(job->id, "");
  f.settle();
  FakeMachine& machine = f.fleet().in_slot(0);
  EXPECT_EQ(machine.input[agent_id(*job)], "line 1\n");
  EXPECT_TRUE(machine.input_closed.count(agent_id(*job)));
}

TEST(MachinePool, ShutdownKillsEveryMachineOfEveryFleet) {
  PoolFixture f;
  f.slots = 2;
  auto a = f.must_start("aarch64"), b = f.must_start("riscv64");
  f.settle();
  FakeFleet& arm = f.fleet("aarch64");
  FakeFleet& riscv = f.fleet("riscv64");
  const auto machines = std::vector<std::shared_ptr<FakeMachine>>{arm.made.at(0), riscv.made.at(0)};
  f.pool.shutdown();
  f.settle();
  for (const auto& machine : machines) {
    EXPECT_TRUE(machine->was_killed);
    EXPECT_FALSE(machine->alive());
    EXPECT_EQ(machine->end_reason, "xrun is done with it");
  }
  EXPECT_EQ(f.fleet_shutdowns, 2);
}

}  // namespace
}  // namespace xrun
