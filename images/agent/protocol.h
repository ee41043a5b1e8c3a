/* The framed protocol between xrun (host) and xrun-agent (guest), over one
 * virtio-serial port named "xrun.agent". Shared by the agent (C) and the host
 * side (harness/system/agent_client.cpp), so both sides agree by construction.
 *
 * Every frame:   u32 length | u8 type | payload      (length counts type+payload)
 * Integers are little-endian. A string is u32 length | bytes (no NUL).
 *
 * Host -> guest
 *   HELLO     u32 nonce                           sync after (re)connecting; the agent
 *                                                 drops any half-read frame and answers
 *   RUN       u32 job | u32 timeout_ms | u32 flags | str path | str cwd
 *             | u32 argc | str argv[argc] | u32 envc | str env[envc]
 *             | u32 nbinds | str binds[nbinds]
 *             flags: RUN_STDIN (stdin comes as STDIN frames; else /dev/null),
 *                    RUN_MERGE (stderr goes to the stdout stream, ordered),
 *                    RUN_FORK_SERVER (a dynamic program: the agent may fork it
 *                    from an already started copy, see zygote.c; it falls back
 *                    to starting it normally when that copy cannot be made),
 *                    RUN_PRIVATE_TMPDIR (TMPDIR names a new empty directory
 *                    in the guest's /tmp, removed when the job has ended)
 *             binds: host directories to show at the same path in the guest
 *             (9p share of the host's / mounted at /.xrun-host, then bind-mounted)
 *   STDIN     u32 job | bytes                     zero bytes: end of input
 *   SIGNAL    u32 job | u32 signal                to the job's whole process group
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
 */
#ifndef XRUN_AGENT_PROTOCOL_H
#define XRUN_AGENT_PROTOCOL_H

#define XRUN_AGENT_PORT_NAME "xrun.agent"
#define XRUN_AGENT_9P_TAG "xrunhost"
#define XRUN_AGENT_HOST_ROOT "/.xrun-host"
#define XRUN_AGENT_MAX_FRAME (16u * 1024u * 1024u)

enum xrun_frame_type {
  XRUN_HELLO = 1,
  XRUN_RUN = 2,
  XRUN_STDIN = 3,
  XRUN_SIGNAL = 4,
  XRUN_HELLO_ACK = 0x81,
  XRUN_STARTED = 0x82,
  XRUN_STDOUT = 0x83,
  XRUN_STDERR = 0x84,
  XRUN_EXIT = 0x85,
  XRUN_LOG = 0x86,
};

enum xrun_run_flags { XRUN_RUN_STDIN = 1, XRUN_RUN_MERGE = 2, XRUN_RUN_FORK_SERVER = 4, XRUN_RUN_PRIVATE_TMPDIR = 8 };
#define XRUN_AGENT_ZYGOTE_LIBRARY "/usr/lib/xrun/libxrun-zygote.so"

enum xrun_exit_how { XRUN_EXIT_CODE = 0, XRUN_EXIT_SIGNAL = 1, XRUN_EXIT_TIMEOUT = 2, XRUN_EXIT_NOT_STARTED = 3 };

#endif
