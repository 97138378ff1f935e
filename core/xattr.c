/* xattr.c — extended attributes in the index (KV_XATTRS) and the POSIX ACLs among them:
 * the names Linux allows, the limits it sets, and what deletes, renames and chmod do to
 * them. Layout and contract: xattr.h.
 *
 * Concurrency: every change is one callback of kv_index_update, so LMDB orders it against
 * every other change of the index (of this process and others); reads are one snapshot
 * (kv_index_view). Nothing here takes the key's lock or touches a shard: an attribute may
 * change while the key's value is being written, and the write's commit leaves it alone.
 */
#include "xattr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "codec.h"
#include "hash.h"
#include "index.h"
#include "store.h"
#include "store_int.h"

#define ENTRY_KEY_MAX (KV_SHA256_LEN + KV_XATTR_NAME_MAX)

/* --- names and entries --- */

static void root_as_slash(const char **path, size_t *plen)
{
	if (*plen == 0) {
		*path = "/";
		*plen = 1;
	}
}

static int has_prefix(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

static int is_acl_name(const char *name, size_t n)
{
	return (n == strlen(KV_ACL_ACCESS) && memcmp(name, KV_ACL_ACCESS, n) == 0) ||
	       (n == strlen(KV_ACL_DEFAULT) && memcmp(name, KV_ACL_DEFAULT, n) == 0);
}

/* May who name this attribute? 0, or the error xattr.h gives. reading: a get or remove
 * (hidden, -ENODATA) rather than a set (-EPERM) of what who may not touch. */
static int check_name(const char *name, int who, int reading, struct kv_err *err)
{
	static const char *const spaces[] = { "user.", "trusted.", "security." };
	size_t n = strlen(name), i;

	if (n > KV_XATTR_NAME_MAX)
		return kv_err_set(err, -ERANGE, "attribute name longer than %d bytes",
				  KV_XATTR_NAME_MAX);
	if (is_acl_name(name, n))
		return who & KV_XATTR_NO_ACLS ?
			       kv_err_set(err, -EOPNOTSUPP, "ACLs are off (-o noacl)") :
			       0;
	for (i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
		if (!has_prefix(name, spaces[i]))
			continue;
		if (n == strlen(spaces[i]))
			return kv_err_set(err, -EINVAL, "attribute name '%s' has no name", name);
		if (i == 1 && !(who & KV_XATTR_PRIVILEGED))
			return kv_err_set(err, reading ? -ENODATA : -EPERM,
					  "trusted.* attributes are root's");
		return 0;
	}
	return kv_err_set(err, -EOPNOTSUPP, "attribute '%s' is in no namespace kept here", name);
}

/* security.selinux: not kept (xattr.h says why). */
static int label_refused(const char *name, struct kv_err *err)
{
	if (strcmp(name, KV_SELINUX_LABEL) != 0)
		return 0;
	return kv_err_set(err, -EOPNOTSUPP,
			  "SELinux labels are not kept here (a FUSE mount's files take the "
			  "mount's context)");
}

/* sha256(path) ‖ name into key (ENTRY_KEY_MAX bytes); returns its length. */
static size_t entry_key(const char *path, size_t plen, const char *name, char *key)
{
	size_t n = name != NULL ? strlen(name) : 0;

	kv_xattr_prefix(path, plen, key);
	memcpy(key + KV_SHA256_LEN, name, n);
	return KV_SHA256_LEN + n;
}

/* The attribute's bytes in a stored value, if the value is path's; else -EIO. */
static int entry_value(const char *path, size_t plen, const void *v, size_t len,
		       const uint8_t **val, size_t *vlen, struct kv_err *err)
{
	const uint8_t *p = v;
	size_t n;

	if (len < 2 || (n = (size_t)p[0] | (size_t)p[1] << 8) > len - 2 || n != plen ||
	    memcmp(p + 2, path, plen) != 0)
		return kv_err_set(err, -EIO,
				  "extended attribute of '%.*s' is damaged or "
				  "another path's",
				  (int)plen, path);
	*val = p + 2 + n;
	*vlen = len - 2 - n;
	return 0;
}

/* Store name = val[0..len) as path's attribute (replacing). */
static int entry_put(struct kv_txn *txn, const char *path, size_t plen, const char *name,
		     size_t nlen, const void *val, size_t len, struct kv_err *err)
{
	char key[ENTRY_KEY_MAX];
	uint8_t *buf = malloc(2 + plen + len);
	int rc;

	if (buf == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	kv_sha256(path, plen, (uint8_t *)key);
	memcpy(key + KV_SHA256_LEN, name, nlen);
	buf[0] = (uint8_t)plen;
	buf[1] = (uint8_t)(plen >> 8);
	memcpy(buf + 2, path, plen);
	if (len > 0)
		memcpy(buf + 2 + plen, val, len);
	rc = kv_txn_put_bytes(txn, KV_XATTRS, key, KV_SHA256_LEN + nlen, buf, 2 + plen + len, err);
	free(buf);
	return rc;
}

/* --- the ACL xattr: a u32 version 2, then entries of u16 tag, u16 perm, u32 id --- */

enum {
	ACL_VERSION = 2,
	TAG_USER_OBJ = 1,
	TAG_USER = 2,
	TAG_GROUP_OBJ = 4,
	TAG_GROUP = 8,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20
};

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Well-formed: version 2, one owner, owning-group and other entry each, at most one mask,
 * and a mask wherever named users or groups are. Returns the number of entries or
 * -EINVAL. */
static int acl_check(const void *val, size_t len)
{
	const uint8_t *p = val;
	int uo = 0, go = 0, o = 0, m = 0, named = 0;
	size_t i, n;

	if (len < 4 || (len - 4) % 8 != 0 || get16(p) != ACL_VERSION || get16(p + 2) != 0)
		return -EINVAL;
	n = (len - 4) / 8;
	for (i = 0; i < n; i++) {
		const uint8_t *e = p + 4 + 8 * i;

		if (get16(e + 2) > 7)
			return -EINVAL;
		switch (get16(e)) {
		case TAG_USER_OBJ: uo++; break;
		case TAG_GROUP_OBJ: go++; break;
		case TAG_OTHER: o++; break;
		case TAG_MASK: m++; break;
		case TAG_USER:
		case TAG_GROUP: named++; break;
		default: return -EINVAL;
		}
	}
	if (uo != 1 || go != 1 || o != 1 || m > 1 || (named > 0 && m == 0) || n > 32768)
		return -EINVAL;
	return (int)n;
}

/* The entry of tag (a single-entry tag) in a checked ACL. */
static uint8_t *acl_entry(uint8_t *acl, size_t len, unsigned tag)
{
	size_t i;

	for (i = 4; i + 8 <= len; i += 8)
		if (get16(acl + i) == tag)
			return acl + i;
	return NULL;
}

/* The entry that holds the group class: the mask, or the owning group's without one. */
static uint8_t *acl_group_class(uint8_t *acl, size_t len)
{
	uint8_t *m = acl_entry(acl, len, TAG_MASK);

	return m != NULL ? m : acl_entry(acl, len, TAG_GROUP_OBJ);
}

/* The owner, group-class and other entries of a checked ACL (each there, by acl_check). */
static int acl_classes(uint8_t *acl, size_t len, uint8_t *e[3])
{
	e[0] = acl_entry(acl, len, TAG_USER_OBJ);
	e[1] = acl_group_class(acl, len);
	e[2] = acl_entry(acl, len, TAG_OTHER);
	return e[0] != NULL && e[1] != NULL && e[2] != NULL ? 0 : -EINVAL;
}

int kv_acl_mode(const void *val, size_t len, uint32_t *mode)
{
	uint8_t *e[3];
	int i;

	/* only read, through pointers shared with acl_apply_mode */
	if (acl_check(val, len) < 0 || acl_classes((uint8_t *)val, len, e) < 0)
		return -EINVAL;
	*mode = 0;
	for (i = 0; i < 3; i++)
		*mode |= get16(e[i] + 2) << (6 - 3 * i);
	return 0;
}

/* Limit (inherit) or set the owner, group-class and other entries of a checked ACL to the
 * bits of *mode; *mode becomes what the ACL then grants. */
static void acl_apply_mode(uint8_t *acl, size_t len, uint32_t *mode, int limit)
{
	uint8_t *e[3];
	uint32_t out = 0;
	int i;

	if (acl_classes(acl, len, e) < 0)
		return;

	for (i = 0; i < 3; i++) {
		unsigned bits = (*mode >> (6 - 3 * i)) & 7;

		if (limit)
			bits &= get16(e[i] + 2);
		put16(e[i] + 2, bits);
		out |= bits << (6 - 3 * i);
	}
	*mode = (*mode & ~0777u) | out;
}

int kv_acl_inherit(const void *dflt, size_t dlen, uint32_t *mode, void *acl, size_t cap,
		   size_t *alen)
{
	int n = acl_check(dflt, dlen);

	if (n < 0)
		return -EINVAL;
	if (cap < dlen)
		return -ERANGE;
	memcpy(acl, dflt, dlen);
	acl_apply_mode(acl, dlen, mode, 1);
	*alen = n > 3 ? dlen : 0;
	return 0;
}

/* --- existence of the path --- */

/* Is path a key or a directory? 0 when so, making an implied directory explicit. */
static int path_exists_txn(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_KEYS, path, plen, &rec, err);

	if (rc != -ENOENT)
		return rc;
	rc = kv_txn_get(txn, KV_DIRS, path, plen, &rec, err);
	if (rc != -ENOENT || (plen == 1 && path[0] == '/'))
		return rc == -ENOENT ? 0 : rc; /* the root always is */
	rc = kv__has_entries(txn, path, plen, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return kv_err_set(err, -ENOENT, "'%.*s' not found", (int)plen, path);
	kv_record_new(&rec, KV_TYPE_DIR, NULL); /* implied: made explicit */
	return kv_txn_put(txn, KV_DIRS, path, plen, &rec, err);
}

/* --- get, list --- */

struct get_arg {
	const char *path, *name;
	size_t plen;
	void *buf;
	size_t cap, *len;
};

static int get_view(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct get_arg *a = arg;
	char key[ENTRY_KEY_MAX];
	size_t klen = entry_key(a->path, a->plen, a->name, key), vlen, len;
	const uint8_t *val;
	const void *v;
	int rc = kv_txn_get_bytes(txn, KV_XATTRS, key, klen, &v, &len, err);

	if (rc == -ENOENT)
		return kv_err_set(err, -ENODATA, "no attribute %s", a->name);
	if (rc == 0)
		rc = entry_value(a->path, a->plen, v, len, &val, &vlen, err);
	if (rc < 0)
		return rc;
	*a->len = vlen;
	if (a->cap == 0)
		return 0;
	if (vlen > a->cap)
		return kv_err_set(err, -ERANGE, "attribute %s is %zu bytes", a->name, vlen);
	if (vlen > 0)
		memcpy(a->buf, val, vlen);
	return 0;
}

int kv_xattr_get(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		 void *buf, size_t cap, size_t *len, struct kv_err *err)
{
	struct get_arg a = { path, name, plen, buf, cap, len };
	int rc = check_name(name, who, 1, err);

	if (rc == 0)
		rc = label_refused(name, err);
	if (rc < 0)
		return rc;
	root_as_slash(&a.path, &a.plen);
	return kv_index_view(idx, get_view, &a, err);
}

struct list_arg {
	const char *path;
	size_t plen;
	int who;
	char *buf;
	size_t cap, len; /* len: the names' bytes so far (also past cap) */
	int damaged;	 /* an entry was not this path's: list_one stopped */
};

static int list_one(const char *key, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct list_arg *a = arg;
	size_t n = klen - KV_SHA256_LEN, len;
	const uint8_t *val;
	int rc = entry_value(a->path, a->plen, v, vlen, &val, &len, NULL);

	if (rc < 0) {
		a->damaged = 1;
		return rc;
	}
	key += KV_SHA256_LEN;
	if (!(a->who & KV_XATTR_PRIVILEGED) && n >= 8 && memcmp(key, "trusted.", 8) == 0)
		return 0;
	if (n == strlen(KV_SELINUX_LABEL) && memcmp(key, KV_SELINUX_LABEL, n) == 0)
		return 0;
	if ((a->who & KV_XATTR_NO_ACLS) && is_acl_name(key, n))
		return 0;
	if (a->len + n + 1 <= a->cap) {
		memcpy(a->buf + a->len, key, n);
		a->buf[a->len + n] = '\0';
	}
	a->len += n + 1;
	return 0;
}

static int list_view(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct list_arg *a = arg;
	char prefix[KV_SHA256_LEN];

	int rc;

	kv_sha256(a->path, a->plen, (uint8_t *)prefix);
	rc = kv_txn_each_prefix(txn, KV_XATTRS, prefix, sizeof(prefix), list_one, a, err);
	if (a->damaged)
		return kv_err_set(err, -EIO, "extended attributes of '%.*s' are damaged",
				  (int)a->plen, a->path);
	return rc;
}

int kv_xattr_list(struct kv_index *idx, const char *path, size_t plen, int who, char *buf,
		  size_t cap, size_t *len, struct kv_err *err)
{
	struct list_arg a = { path, plen, who, buf, cap, 0, 0 };
	int rc;

	root_as_slash(&a.path, &a.plen);
	rc = kv_index_view(idx, list_view, &a, err);
	if (rc < 0)
		return rc;
	*len = a.len;
	if (cap > 0 && a.len > cap)
		return kv_err_set(err, -ERANGE, "the attribute names take %zu bytes", a.len);
	return 0;
}

/* --- set, remove --- */

struct set_arg {
	const char *path, *name;
	size_t plen;
	const void *val;
	size_t len;
	int flags;
};

static int set_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct set_arg *a = arg;
	struct list_arg names = { a->path, a->plen, KV_XATTR_PRIVILEGED, NULL, 0, 0, 0 };
	char key[ENTRY_KEY_MAX];
	size_t klen = entry_key(a->path, a->plen, a->name, key), old;
	const void *v;
	int rc = path_exists_txn(txn, a->path, a->plen, err), exists;

	if (rc < 0)
		return rc;
	rc = kv_txn_get_bytes(txn, KV_XATTRS, key, klen, &v, &old, err);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	exists = rc == 0;
	if (exists && (a->flags & XATTR_CREATE))
		return kv_err_set(err, -EEXIST, "attribute %s exists", a->name);
	if (!exists && (a->flags & XATTR_REPLACE))
		return kv_err_set(err, -ENODATA, "no attribute %s", a->name);
	if (strcmp(a->name, KV_ACL_ACCESS) == 0 && acl_check(a->val, a->len) == 3)
		/* Says no more than the mode (which the caller sets): nothing to keep. */
		return exists ? kv_txn_del(txn, KV_XATTRS, key, klen, err) : 0;
	if (!exists) {
		rc = list_view(txn, &names, err);
		if (rc < 0)
			return rc;
		if (names.len + strlen(a->name) + 1 > KV_XATTR_LIST_MAX)
			return kv_err_set(err, -ENOSPC,
					  "the attributes of '%.*s' are full "
					  "(%d bytes of names)",
					  (int)a->plen, a->path, KV_XATTR_LIST_MAX);
	}
	rc = entry_put(txn, a->path, a->plen, a->name, klen - KV_SHA256_LEN, a->val, a->len, err);
	return rc < 0 ? rc : kv_xattr_share_txn(txn, a->path, a->plen, err);
}

int kv_xattr_set(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		 const void *val, size_t len, int flags, struct kv_err *err)
{
	struct set_arg a = { path, name, plen, val, len, flags };
	int rc = check_name(name, who, 0, err);

	if (rc == 0)
		rc = label_refused(name, err);
	if (rc < 0)
		return rc;
	if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0 ||
	    flags == (XATTR_CREATE | XATTR_REPLACE))
		return kv_err_set(err, -EINVAL, "bad setxattr flags %#x", (unsigned)flags);
	if (len > KV_XATTR_SIZE_MAX)
		return kv_err_set(err, -E2BIG, "attribute values are at most %d bytes",
				  KV_XATTR_SIZE_MAX);
	if (has_prefix(name, "system.") && acl_check(val, len) < 0)
		return kv_err_set(err, -EINVAL, "%s is not a well-formed POSIX ACL", name);
	root_as_slash(&a.path, &a.plen);
	return kv_index_update(idx, set_txn, &a, err);
}

static int remove_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct set_arg *a = arg;
	char key[ENTRY_KEY_MAX];
	size_t klen = entry_key(a->path, a->plen, a->name, key);
	int rc = kv_txn_del(txn, KV_XATTRS, key, klen, err);

	if (rc == -ENOENT)
		return kv_err_set(err, -ENODATA, "no attribute %s", a->name);
	return rc < 0 ? rc : kv_xattr_share_txn(txn, a->path, a->plen, err);
}

int kv_xattr_remove(struct kv_index *idx, const char *path, size_t plen, const char *name, int who,
		    struct kv_err *err)
{
	struct set_arg a = { path, name, plen, NULL, 0, 0 };
	int rc = check_name(name, who, 1, err);

	if (rc < 0)
		return rc;
	root_as_slash(&a.path, &a.plen);
	return kv_index_update(idx, remove_txn, &a, err);
}

/* --- what deletes, renames and chmod do --- */

/* A path's entries, copied out of the index so that they can be changed: for each, the
 * name's length (u16), the value's (u32), the name, the value. */
struct entries {
	uint8_t *buf;
	size_t len, cap;
	int failed;
};

static int collect_one(const char *key, size_t klen, const void *v, size_t vlen, void *arg)
{
	struct entries *e = arg;
	size_t n = klen - KV_SHA256_LEN, need = 6 + n + vlen;

	if (e->len + need > e->cap) {
		size_t cap = (e->cap + need) * 2;
		uint8_t *b = realloc(e->buf, cap);

		if (b == NULL)
			return -ENOMEM;
		e->buf = b;
		e->cap = cap;
	}
	put16(e->buf + e->len, (unsigned)n);
	memcpy(e->buf + e->len + 2, &(uint32_t){ (uint32_t)vlen }, 4);
	memcpy(e->buf + e->len + 6, key + KV_SHA256_LEN, n);
	memcpy(e->buf + e->len + 6 + n, v, vlen);
	e->len += need;
	return 0;
}

static int collect(struct kv_txn *txn, const char *path, size_t plen, struct entries *e,
		   struct kv_err *err)
{
	char prefix[KV_SHA256_LEN];
	int rc;

	kv_sha256(path, plen, (uint8_t *)prefix);
	rc = kv_txn_each_prefix(txn, KV_XATTRS, prefix, sizeof(prefix), collect_one, e, err);
	return rc == -ENOMEM ? kv_err_set(err, rc, "out of memory") : rc;
}

/* Remove each collected entry of from (unless keep) and, when to is not NULL, store it as
 * to's. */
static int replay(struct kv_txn *txn, const struct entries *e, const char *from, size_t flen,
		  const char *to, size_t tlen, int keep, struct kv_err *err)
{
	char key[ENTRY_KEY_MAX];
	size_t off = 0;
	int rc = 0;

	kv_sha256(from, flen, (uint8_t *)key);
	while (rc == 0 && off < e->len) {
		size_t n = get16(e->buf + off);
		uint32_t vlen;
		const uint8_t *val;
		size_t alen;

		memcpy(&vlen, e->buf + off + 2, 4);
		memcpy(key + KV_SHA256_LEN, e->buf + off + 6, n);
		if (!keep)
			rc = kv_txn_del(txn, KV_XATTRS, key, KV_SHA256_LEN + n, err);
		if (rc == 0 && to != NULL)
			rc = entry_value(from, flen, e->buf + off + 6 + n, vlen, &val, &alen, err);
		if (rc == 0 && to != NULL)
			rc = entry_put(txn, to, tlen, (const char *)e->buf + off + 6, n, val, alen,
				       err);
		off += 6 + n + vlen;
	}
	return rc;
}

int kv_xattr_move_txn(struct kv_txn *txn, const char *from, size_t flen, const char *to,
		      size_t tlen, struct kv_err *err)
{
	struct entries e = { NULL, 0, 0, 0 };
	int rc = kv_txn_drop_xattrs(txn, to, tlen, err);

	if (rc == 0)
		rc = collect(txn, from, flen, &e, err);
	if (rc == 0)
		rc = replay(txn, &e, from, flen, to, tlen, 0, err);
	free(e.buf);
	return rc;
}

/* to's attributes become a copy of from's. */
static int copy_txn(struct kv_txn *txn, const char *from, size_t flen, const char *to, size_t tlen,
		    struct kv_err *err)
{
	struct entries e = { NULL, 0, 0, 0 };
	int rc = kv_txn_drop_xattrs(txn, to, tlen, err);

	if (rc == 0)
		rc = collect(txn, from, flen, &e, err);
	if (rc == 0)
		rc = replay(txn, &e, from, flen, to, tlen, 1, err);
	free(e.buf);
	return rc;
}

struct share_arg {
	struct kv_txn *txn;
	const char *path;
	size_t plen;
	struct kv_err *err;
};

static int share_one(const char *row, size_t rlen, const void *val, size_t len, void *arg)
{
	struct share_arg *a = arg;
	char name[KV_KEY_MAX + 1];

	(void)row;
	(void)rlen;
	if (len > KV_KEY_MAX || (len == a->plen && memcmp(val, a->path, len) == 0))
		return 0;
	memcpy(name, val, len); /* the row's bytes go away when the table changes */
	return copy_txn(a->txn, a->path, a->plen, name, len, a->err);
}

int kv_xattr_share_txn(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	struct share_arg a = { txn, path, plen, err };
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_KEYS, path, plen, &rec, NULL);

	if (rc < 0 || rec.nlink <= 1)
		return 0; /* a directory, or a file with one name */
	return kv_txn_each_link(txn, rec.ino, share_one, &a, err);
}

int kv_xattr_chmod_txn(struct kv_txn *txn, const char *path, size_t plen, uint32_t mode,
		       struct kv_err *err)
{
	char key[ENTRY_KEY_MAX];
	size_t klen, len, vlen;
	const uint8_t *val;
	uint8_t *acl;
	const void *v;
	int rc;

	root_as_slash(&path, &plen);
	klen = entry_key(path, plen, KV_ACL_ACCESS, key);
	rc = kv_txn_get_bytes(txn, KV_XATTRS, key, klen, &v, &len, err);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		rc = entry_value(path, plen, v, len, &val, &vlen, err);
	if (rc < 0)
		return rc;
	if (acl_check(val, vlen) < 0)
		return 0; /* not an ACL we could have stored: leave it */
	acl = malloc(vlen);
	if (acl == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	memcpy(acl, val, vlen);
	acl_apply_mode(acl, vlen, &mode, 0);
	rc = entry_put(txn, path, plen, KV_ACL_ACCESS, strlen(KV_ACL_ACCESS), acl, vlen, err);
	free(acl);
	return rc < 0 ? rc : kv_xattr_share_txn(txn, path, plen, err);
}

/* --- for the frontends --- */

int kv_store_getxattr(struct kv_store *s, const char *path, size_t plen, const char *name, int who,
		      void *buf, size_t cap, size_t *len, struct kv_err *err)
{
	return kv_xattr_get(s->idx, path, plen, name, who, buf, cap, len, err);
}

int kv_store_setxattr(struct kv_store *s, const char *path, size_t plen, const char *name, int who,
		      const void *val, size_t len, int flags, struct kv_err *err)
{
	return kv_xattr_set(s->idx, path, plen, name, who, val, len, flags, err);
}

int kv_store_listxattr(struct kv_store *s, const char *path, size_t plen, int who, char *buf,
		       size_t cap, size_t *len, struct kv_err *err)
{
	return kv_xattr_list(s->idx, path, plen, who, buf, cap, len, err);
}

int kv_store_removexattr(struct kv_store *s, const char *path, size_t plen, const char *name,
			 int who, struct kv_err *err)
{
	return kv_xattr_remove(s->idx, path, plen, name, who, err);
}
