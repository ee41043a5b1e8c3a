/* The payloads of the frames in protocol.h, both ways: what the agent
 * sends is built in a `struct out` (a growing buffer whose first four bytes
 * the sender fills with the frame's length, main.c's send_frame), what it
 * receives is read from a `struct in` (one frame's payload; a read past its
 * end sets `bad` and yields 0 or "", never reads outside it). No I/O. */
#ifndef XRUN_AGENT_CODEC_H
#define XRUN_AGENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct out {
  unsigned char *data;
  size_t len, cap;
};

void out_bytes(struct out *o, const void *p, size_t n);
void out_u32(struct out *o, uint32_t v);
void out_str(struct out *o, const char *s, size_t n);
/* Starts a frame of `type` in `o` (emptied first), its length left to fill. */
void out_begin(struct out *o, unsigned type);

struct in {
  const unsigned char *p, *end;
  int bad;
};

uint32_t in_u32(struct in *in);
uint64_t in_u64(struct in *in);
/* A NUL-terminated copy (freed by the caller). */
char *in_str(struct in *in);
/* A NULL-terminated array of copies (free_strv), at most 2^20 of them. */
char **in_strv(struct in *in, uint32_t *count);

void free_strv(char **v);
char **copy_strv(char **v);

#endif
