/* What main.c owns and the other parts use: how the agent was started and
 * its channel to the host. Frames are queued (send_frame) and written
 * together once per turn of the main loop (flush_frames). */
#ifndef XRUN_AGENT_MAIN_H
#define XRUN_AGENT_MAIN_H

#include <stdint.h>

#include "codec.h"

#define PIPE_CHUNK 65536

extern int in_fd, out_fd;     /* the host: one virtio-serial port (both), or stdin and stdout */
extern int stdio_mode;        /* a board: the channel's end is the agent's end */
extern int is_init;           /* PID 1 of an xrun VM: cgroups, 9p binds and mounts are ours */
extern const char *store_dir; /* --store: objects sent by content hash, and the mirror prefix */
extern int host_connected;
extern struct out tx; /* a frame being built, for the senders of one frame at a time */

int64_t now_ms(void);
/* The agent's own stderr: a VM's console, on a board the channel's stderr. */
void console(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Queues a frame built with out_begin (its length filled in here); dropped while no host is connected. */
void send_frame(struct out *o);
void flush_frames(void);
/* A LOG frame, and the same line on the console. */
void send_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_exit(uint32_t id, uint32_t how, int32_t value, const char *message);

#endif
