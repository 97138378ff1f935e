/* request.c — which kernel request the calling thread serves.
 *
 * libfuse hides a file that is still open when its name goes (so that fstat and the like
 * keep working on it) by renaming it to .fuse_hiddenXXXX, through the rename callback,
 * whether an unlink removes the name or a rename replaces it. The store must then do
 * different things: an unlink deletes the key now, while a rename must not (the rename
 * that follows replaces the key atomically, and a failed one must leave it as it was).
 * The session's reads go through req_read, which notes each request's opcode for the
 * thread that read it — in libfuse's loops, the thread that then serves it.
 */
#include "request.h"

#define FUSE_USE_VERSION 314
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

static __thread uint32_t opcode; /* of the request this thread read last */
static int watching;

static ssize_t req_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t r = read(fd, buf, len);

	(void)userdata;
	opcode = r >= (ssize_t)sizeof(struct fuse_in_header) ?
			 ((const struct fuse_in_header *)buf)->opcode :
			 0;
	return r;
}

static ssize_t req_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	return writev(fd, iov, count);
}

int tk_request_watch(struct fuse *f)
{
	static const struct fuse_custom_io io = { .read = req_read, .writev = req_writev };
	struct fuse_session *se = fuse_get_session(f);

	if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0)
		return -1;
	watching = 1;
	return 0;
}

int tk_request_renames(void)
{
	return watching && (opcode == FUSE_RENAME || opcode == FUSE_RENAME2);
}
