/* request.h — which kernel request the calling thread serves, for the one callback that
 * cannot tell otherwise (see request.c). */
#ifndef TINYKV_REQUEST_H
#define TINYKV_REQUEST_H

struct fuse;

/* Have the session's requests read through here. Call after fuse_mount, before the loop.
 * Returns 0, or -1 when libfuse refuses (tk_request_renames then always says 0). */
int tk_request_watch(struct fuse *f);

/* Is the calling thread serving a rename (not an unlink)? */
int tk_request_renames(void);

#endif
