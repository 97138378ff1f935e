/* handles.c — the handles of open files: what fi->fh points at after open or create (one
 * per open(2), sharing the key's node), and the list of every one, so that the end of the
 * mount can close those the kernel sends no release for. handles_lock guards the list's
 * links; a handle's own fields are set before it is listed and never change.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* The handle the kernel only ever gives for files (read, write, flush ...). */
static struct open_file *handle_of(const struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

struct node *node_of(const struct fuse_file_info *fi)
{
	return handle_of(fi)->node;
}

/* Every open handle, so that an unmount with files still open (the kernel then sends
 * no release) can close them. handles_lock guards the list links. */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *handles;

/* A handle on n (whose reference it takes over) into fi; -ENOMEM drops the reference.
 * created: the open made the file, so its close stores it even on a read-only descriptor
 * (open(O_CREAT | O_RDONLY) must leave a file behind, as touch and pjdfstest expect). */
int handle_new(struct fuse_file_info *fi, struct node *n, int created)
{
	struct open_file *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		(void)node_put(n);
		return -ENOMEM;
	}
	h->kind = HANDLE_FILE;
	h->writable = created || (fi->flags & O_ACCMODE) != O_RDONLY;
	h->node = n;
	/* A write-only handle (cp, dd, a shell's >) cannot be mapped, so its writes may skip
	 * the kernel's page cache: the bytes come to us in one copy instead of two. */
	if ((fi->flags & O_ACCMODE) == O_WRONLY)
		fi->direct_io = 1;
	/* The close of a reader stores nothing (tk_flush), so spare it the round trip; a
	 * creator's close stores the new file and reports there if that fails. */
	if (!h->writable)
		fi->noflush = 1;
	pthread_mutex_lock(&handles_lock);
	h->next = handles;
	if (handles != NULL)
		handles->prev = h;
	handles = h;
	pthread_mutex_unlock(&handles_lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* Close a handle: drops its node reference. */
static void handle_close(struct open_file *h)
{
	pthread_mutex_lock(&handles_lock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&handles_lock);
	(void)node_put(h->node);
	free(h);
}

void handle_free(struct fuse_file_info *fi)
{
	handle_close(handle_of(fi));
}

int handle_writable(const struct fuse_file_info *fi)
{
	return handle_of(fi)->writable;
}

void handles_close_all(void)
{
	while (handles != NULL)
		handle_close(handles);
}
