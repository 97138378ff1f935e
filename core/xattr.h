/* xattr.h — extended attributes of keys and directories, and the POSIX ACLs kept in them.
 *
 * Attributes live in the index only (table KV_XATTRS), never on a shard: a rebuild from
 * the shards cannot bring them back, and rebalance, verify and repair leave them where
 * they are. A path is named as in KV_KEYS and KV_DIRS ("a/b"; the root is "/", and a plen
 * of 0 means the root too). One entry per attribute:
 *
 *   key   = sha256(path) ‖ name          (32 + 1..255 bytes: fits LMDB's 511 for any path)
 *   value = plen (u16, little-endian) ‖ path ‖ the attribute's bytes
 *
 * so a path's attributes are one prefix range, and the path kept in the value tells an
 * entry that is not this path's (a hash collision, or a damaged index) apart: -EIO.
 *
 * Rules, as Linux file systems have them: a name is 1..255 bytes (-ERANGE longer, -EINVAL
 * without a part after its namespace); a value 0..65536 bytes (-E2BIG); a path's names,
 * each with its NUL, take at most 65536 bytes together (-ENOSPC), what listxattr can
 * return. Namespaces: user.*, security.*, trusted.* (only a privileged caller sees or
 * changes those: get/remove -ENODATA and set -EPERM otherwise; list leaves them out) and
 * the two ACLs, system.posix_acl_access and system.posix_acl_default, whose values must be
 * well-formed POSIX ACLs in Linux's xattr form (-EINVAL). Any other name: -EOPNOTSUPP.
 * security.selinux is not kept (get and set -EOPNOTSUPP, list leaves it out, remove
 * deletes one stored by an earlier version): SELinux labels a FUSE mount's files by its
 * mount context, never by this attribute, and the refusal lets `ls -l` stop asking for
 * it (coreutils remembers -EOPNOTSUPP per file system; -ENODATA costs a round trip a file).
 * An access ACL that says no more than the mode (three entries) is not kept: setting one
 * removes the attribute, as ext4 does. Keeping the mode in step with an access ACL is the
 * caller's (kv_acl_mode gives it; chmod updates a stored ACL in its own transaction,
 * kv_xattr_chmod_txn).
 *
 * Errors (negative errno, message in err, which may be NULL): as above, and -ENOENT when
 * the path is neither a key nor a directory (set only), -EIO/-ENOSPC when the index fails.
 *
 * Threads: every function may be called from any thread; writes go through the index's
 * group commit (kv_index_update) and never wait on a shard or the network, nor on the
 * key's lock (an attribute may change while the key's value is being written). The _txn
 * functions run inside a caller's write transaction (kv_index_update's callback).
 */
#ifndef KV_XATTR_H
#define KV_XATTR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct kv_index;
struct kv_store;
struct kv_txn;

#define KV_XATTR_NAME_MAX 255
#define KV_XATTR_SIZE_MAX 65536 /* one value */
#define KV_XATTR_LIST_MAX 65536 /* a path's names, each with its NUL */

#define KV_ACL_ACCESS "system.posix_acl_access"
#define KV_ACL_DEFAULT "system.posix_acl_default"
#define KV_SELINUX_LABEL "security.selinux"

/* Who asks, flags: a privileged caller (root) may see and change trusted.*; a caller
 * without ACLs (the mount's -o noacl) is refused the two ACL names (-EOPNOTSUPP, as a
 * file system without them answers) and lists leave them out. */
enum { KV_XATTR_PRIVILEGED = 1, KV_XATTR_NO_ACLS = 2 };

/*
 * The value of attribute name of path into buf (cap bytes); *len is its length. cap 0
 * (buf may be NULL) only asks the length. Returns 0; -ENODATA no such attribute (also for
 * a path that does not exist); -ERANGE buf too small (*len set); -EOPNOTSUPP, -ERANGE,
 * -EINVAL for names as above. who: KV_XATTR_* flags. Reads one snapshot.
 */
int kv_xattr_get(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		 void *buf, size_t cap, size_t *len, struct kv_err *err);

/*
 * Set attribute name of path to val[0..len). flags: 0, or XATTR_CREATE (fail with -EEXIST
 * when it exists) or XATTR_REPLACE (-ENODATA when it does not) from <sys/xattr.h>; both:
 * -EINVAL. An attribute of an implied directory (one that exists only because keys lie
 * below it) makes the directory explicit, as chmod does, so that the attribute does not
 * outlive the directory when its last key goes. Returns 0 or an error above.
 */
int kv_xattr_set(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		 const void *val, size_t len, int flags, struct kv_err *err);

/* The names of path's attributes the caller may see, each followed by a NUL, into buf
 * (cap bytes); *len their total length. cap 0 only asks the length. Returns 0 (none:
 * *len 0), -ERANGE when buf is too small (*len set). */
int kv_xattr_list(struct kv_index *idx, const char *path, size_t plen, int who, char *buf,
		  size_t cap, size_t *len, struct kv_err *err);

/* Remove attribute name of path. Returns 0, -ENODATA when it is not there, or as get. */
int kv_xattr_remove(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		    struct kv_err *err);

/* In a write transaction: give to the attributes of from (from keeps none), dropping
 * those to had: what a rename does, before it removes from's record. */
int kv_xattr_move_txn(struct kv_txn *txn, const char *from, size_t flen, const char *to,
		      size_t tlen, struct kv_err *err);

/* In a write transaction: after a chmod of path to mode, bring its access ACL (if one is
 * stored) in line: the owner, group-class (the mask, or the owning group's entry when there
 * is no mask) and other entries take the mode's bits, as Linux's posix_acl_chmod does. */
int kv_xattr_chmod_txn(struct kv_txn *txn, const char *path, size_t plen, uint32_t mode,
		       struct kv_err *err);

/* In a write transaction: the names of a hard-linked file share its attributes (one
 * inode, so one ACL the kernel checks whichever name is used): path's, just changed, are
 * copied to every other name of its inode (index.h, KV_LINKS). 0 at once for a file with
 * one name or a directory. Called by every change of attributes here and by link. */
int kv_xattr_share_txn(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err);

/* The permission bits (0777) an access ACL implies: owner from its owner entry, group from
 * its mask (or the owning group's entry when it has none), other from its other entry.
 * Returns 0, or -EINVAL when val is not a well-formed ACL. */
int kv_acl_mode(const void *val, size_t len, uint32_t *mode);

/*
 * What a new file or directory below a directory with default ACL dflt gets (POSIX
 * 1003.1e, as Linux's posix_acl_create): its access ACL is dflt with the owner, group-class
 * and other entries limited by the mode asked for, into acl (cap bytes >= len of dflt;
 * *alen its length; 0 when the result says no more than the mode); *mode is limited
 * likewise. The umask does not apply. Returns 0 or -EINVAL (dflt malformed), -ERANGE.
 */
int kv_acl_inherit(const void *dflt, size_t dlen, uint32_t *mode, void *acl, size_t cap,
		   size_t *alen);

/* kv_xattr_get, _set, _list and _remove on a store's index: what the frontends call. */
int kv_store_getxattr(struct kv_store *s, const char *path, size_t plen, const char *name, int who,
		      void *buf, size_t cap, size_t *len, struct kv_err *err);
int kv_store_setxattr(struct kv_store *s, const char *path, size_t plen, const char *name, int who,
		      const void *val, size_t len, int flags, struct kv_err *err);
int kv_store_listxattr(struct kv_store *s, const char *path, size_t plen, int who, char *buf,
		       size_t cap, size_t *len, struct kv_err *err);
int kv_store_removexattr(struct kv_store *s, const char *path, size_t plen, const char *name,
			 int who, struct kv_err *err);

#endif
