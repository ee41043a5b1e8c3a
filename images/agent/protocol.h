/* The framed protocol between xrun (host) and xrun-agent (the machine), over
 * one byte stream: a virtio-serial port named "xrun.agent" in a VM, the
 * stdin/stdout of `ssh BOARD xrun-agent --stdio` on a board. Shared by the
 * agent (C) and the host side (harness/machine/agent_protocol.cpp), so both
 * sides agree by construction.
 *
 * Every frame:   u32 length | u8 type | payload      (length counts type+payload)
 * Integers are little-endian. A string is u32 length | bytes (no NUL).
 *
 * Host -> guest
 *   HELLO     u32 nonce [| u64 realtime_ns]       sync after (re)connecting; the agent
 *                                                 drops any half-read frame and answers.
 *             realtime_ns: the host's CLOCK_REALTIME, sent once when a VM
 *             starts (never with the watchdog's pings): a VM restored from
 *             saved state wakes up with the clock it was saved with, so the
 *             agent (as init only, never on a board) sets the guest's clock
 *             from it before the first job and LOGs how far off it was
 *   RUN       u32 job | u32 timeout_ms | u32 flags | str path | str cwd
 *             | u32 argc | str argv[argc] | u32 envc | str env[envc]
 *             | u32 nbinds | str binds[nbinds] | u32 nwritable | str writable[nwritable]
 *             | u32 nserver | str server_args[nserver]
 *             flags: RUN_STDIN (stdin comes as STDIN frames; else /dev/null),
 *                    RUN_MERGE (stderr goes to the stdout stream, ordered),
 *                    RUN_FORK_SERVER (a dynamic program: the agent may fork it
 *                    from an already started copy, see zygote.c; it falls back
 *                    to starting it normally when that copy cannot be made;
 *                    the copy is started with argv[0] and server_args, which
 *                    zygote.c writes each child's arguments over),
 *                    RUN_PRIVATE_TMPDIR (TMPDIR names a new empty directory
 *                    in the guest's /tmp, removed when the job has ended)
 *             binds: host directories to show at the same path in the guest
 *             (9p share of the host's / mounted at /.xrun-host, then bind-mounted);
 *             writable: those of them the job may write, shown instead from a
 *             second 9p share of the same tree without a cache (another
 *             VM's appends and writes are seen at once; see ensure_bound)
 *   STDIN     u32 job | bytes                     zero bytes: end of input
 *   SIGNAL    u32 job | u32 signal                to the job's whole process group
 *   FILES     u32 req | u32 n | n * (str path | u32 mode | u64 size | u64 mtime_ns | str hash)
 *             put these files (S_IFREG) and directories (S_IFDIR) in place
 *             on a board before a job (images/agent/files.c); answered by FILES_ACK
 *   OBJECT    u32 req | str hash | u32 last | bytes
 *             a piece of the content named `hash` for the store; `last`
 *             completes it. Sent for what FILES_ACK said is missing, then
 *             FILES again.
 *   PULL      u32 req | u32 since_ms_ago | u32 n | str dirs[n]
 *             send back the regular files under these directories changed
 *             in the last since_ms_ago (a board's sync_back), as PULLED
 *             frames, then PULL_DONE
 *
 * Guest -> host
 *   HELLO_ACK u32 nonce | str uname-release
 *   STARTED   u32 job | u32 pid
 *   STDOUT    u32 job | bytes
 *   STDERR    u32 job | bytes
 *   EXIT      u32 job | u32 how | i32 value | str message
 *             how: EXIT_CODE (value = status), EXIT_SIGNAL (value = signal),
 *                  EXIT_TIMEOUT (the agent's own deadline fired: SIGKILL),
 *                  EXIT_NOT_STARTED (value = errno, message says what failed)
 *             sent after the last STDOUT/STDERR frame of the job
 *   LOG       str                                 the agent's diagnostics
 *   FILES_ACK u32 req | str prefix | u32 nmissing | u32 index[nmissing] | str error
 *             prefix: "" (files are at their own paths) or where they are
 *             mirrored instead; index: the entries whose content is needed;
 *             error: non-empty when the files cannot be put in place
 *   PULLED    u32 req | str path | u32 mode | u64 mtime_ns | u32 last | bytes
 *             a piece of a changed file (path as the host names it); `last` ends it
 *   PULL_DONE u32 req | str error
 */
#ifndef XRUN_AGENT_PROTOCOL_H
#define XRUN_AGENT_PROTOCOL_H

#define XRUN_AGENT_PORT_NAME "xrun.agent"
#define XRUN_AGENT_9P_TAG "xrunhost"
#define XRUN_AGENT_HOST_ROOT "/.xrun-host"
/* The same tree again, mounted without a cache: the writable directories. */
#define XRUN_AGENT_9P_WRITABLE_TAG "xrunhostw"
#define XRUN_AGENT_HOST_WRITABLE_ROOT "/.xrun-host-w"
#define XRUN_AGENT_MAX_FRAME (16u * 1024u * 1024u)
/* Printed by `xrun-agent --version`; raised when a frame changes meaning. */
#define XRUN_AGENT_PROTOCOL_VERSION 4

enum xrun_frame_type {
  XRUN_HELLO = 1,
  XRUN_RUN = 2,
  XRUN_STDIN = 3,
  XRUN_SIGNAL = 4,
  XRUN_FILES = 5,
  XRUN_OBJECT = 6,
  XRUN_PULL = 7,
  XRUN_HELLO_ACK = 0x81,
  XRUN_STARTED = 0x82,
  XRUN_STDOUT = 0x83,
  XRUN_STDERR = 0x84,
  XRUN_EXIT = 0x85,
  XRUN_LOG = 0x86,
  XRUN_FILES_ACK = 0x87,
  XRUN_PULLED = 0x88,
  XRUN_PULL_DONE = 0x89,
};

enum xrun_run_flags { XRUN_RUN_STDIN = 1, XRUN_RUN_MERGE = 2, XRUN_RUN_FORK_SERVER = 4, XRUN_RUN_PRIVATE_TMPDIR = 8 };
#define XRUN_AGENT_ZYGOTE_LIBRARY "/usr/lib/xrun/libxrun-zygote.so"

enum xrun_exit_how { XRUN_EXIT_CODE = 0, XRUN_EXIT_SIGNAL = 1, XRUN_EXIT_TIMEOUT = 2, XRUN_EXIT_NOT_STARTED = 3 };

#endif
