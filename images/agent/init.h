/* What comes before serving the host: as a VM's init (PID 1) the mounts,
 * the kernel modules and the virtio-serial port; on a board the session
 * over ssh (the store, the subreaper, the lock). And a VM's clock, which
 * the host's HELLO sets. */
#ifndef XRUN_AGENT_INIT_H
#define XRUN_AGENT_INIT_H

#include <stdint.h>

/* PID 1 of an xrun VM: sets is_init, in_fd and out_fd (the port); never
 * returns without a port. */
void become_init(void);
/* Over SSH on a board: the channel is stdin and stdout; `exclusive`
 * (--lock): one xrun run at a time on this board. */
void serve_stdio(int exclusive);
void set_clock_from_host(int64_t host_ns);

#endif
