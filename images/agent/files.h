/* The host's files where a job runs. In a VM: host directories shown at
 * their own paths, bind mounts of the host's / shared over 9p (the RUN's
 * binds). On a board: the files a job needs put in place by content hash
 * (FILES, OBJECT), and what jobs wrote sent back (PULL). */
#ifndef XRUN_AGENT_FILES_H
#define XRUN_AGENT_FILES_H

#include "codec.h"

/* Shows host directory `path` at the same path in the guest, writable or
 * not; 0, or the errno of what failed (ENOTSUP on a board). */
int ensure_bound(const char *path, int writable);
/* What jobs wrote through the cached share reaches the host (a VM; nothing on a board). */
void write_back_host_files(void);

/* A board's session begins: the objects stored before now are earlier
 * sessions', which may go when the store needs room. */
void files_session_begins(void);
void handle_files(struct in *in);
void handle_object(struct in *in);
void handle_pull(struct in *in);

#endif
