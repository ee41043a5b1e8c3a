// Every descendant of a job ends with the job, and with xrun if xrun is
// killed: each job's program runs in a PID namespace of its own.
//
//   xrun ── A (the job's process: xrun waits for it, signals its group)
//           └─ B  pid 1 of the job's namespace: reaps orphans; when the
//              │  program ends, it tells A how and exits, and the kernel
//              │  kills whatever is left in the namespace (a child that
//              │  closed its stdio or called setsid(), a daemon)
//              └─ C  the program (pid 2 there)
//
// A ends the way C did -- the same exit status, or death by the same
// signal -- so a crash is reported exactly. B dies with A
// (PR_SET_PDEATHSIG), and A with xrun: a SIGKILLed xrun takes the whole
// namespace down. The program is not pid 1 itself because pid 1 ignores
// signals it has no handler for (a test's own abort() or raise(SIGTERM)
// would be ignored).
//
// Making a PID namespace needs CAP_SYS_ADMIN in the process's user
// namespace: root, or a job inside xrun's binfmt_misc namespace
// (binfmt/foreign_exec.h). Elsewhere the job runs as before: its process
// group is signalled, and a descendant that left the group can outlive it.
// Inside, getpid() says 2, and B mounts a /proc of the namespace (in a mount
// namespace of the job's own) so that /proc/self agrees with it.
#pragma once

namespace xrun {

// Called in the job's process (A) -- the job init (job_init.h), or a forked
// child where there is none -- with every fd it needs in place. Returns in the process that is to exec the program (C),
// or at once in A when no PID namespace can be made; never returns in A or B otherwise. A and B close every descendant
// they inherited (the job's pipes, `exec_error_fd` -- the close-on-exec pipe that reports a failed exec, which only C's
// exec may end). Only system calls: safe after fork.
void enter_job_pid_namespace(int exec_error_fd);

}  // namespace xrun
