/* Extended attributes' contract (core/xattr.h) against a real LMDB index in a temporary
 * directory: Linux's flags, limits and errors; trusted.* for the privileged only; a
 * removed key or directory takes its attributes along (and no other's), a rename moves
 * them, an implied directory becomes explicit; ACLs: the mode they imply, chmod, what a
 * new file inherits; and everything is there after a reopen. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "index.h"
#include "unit.h"
#include "xattr.h"

struct rec_arg {
	enum kv_table t;
	const char *key;
	uint8_t type;
};

static int put_rec(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct rec_arg *a = arg;
	struct kv_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = a->type;
	rec.mode = a->type == KV_TYPE_DIR ? 0755 : 0644;
	rec.gen = kv_new_gen();
	return kv_txn_put(txn, a->t, a->key, strlen(a->key), &rec, err);
}

static int del_rec(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct rec_arg *a = arg;

	return kv_txn_del(txn, a->t, a->key, strlen(a->key), err);
}

struct move_arg {
	const char *from, *to;
};

static int move_attrs(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct move_arg *a = arg;

	return kv_xattr_move_txn(txn, a->from, strlen(a->from), a->to, strlen(a->to), err);
}

static int chmod_640(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	return kv_xattr_chmod_txn(txn, arg, strlen(arg), 0640, err);
}

static void add(struct kv_index *idx, enum kv_table t, const char *key, uint8_t type)
{
	struct rec_arg a = { t, key, type };
	struct kv_err err;

	CHECK(kv_index_update(idx, put_rec, &a, &err) == 0);
}

static int set(struct kv_index *idx, const char *path, const char *name, const char *val, int flags)
{
	struct kv_err err;

	return kv_xattr_set(idx, path, strlen(path), name, 0, val, strlen(val), flags, &err);
}

/* The value of name as a string ("" with rc when absent). */
static int get(struct kv_index *idx, const char *path, const char *name, char *buf, size_t cap)
{
	struct kv_err err;
	size_t len = 0;
	int rc = kv_xattr_get(idx, path, strlen(path), name, 0, buf, cap - 1, &len, &err);

	buf[rc == 0 ? len : 0] = '\0';
	return rc;
}

static int open_index(const char *dir, struct kv_index **idx)
{
	struct kv_index_opts o = { (uint64_t)64 << 20, 1, 0 };
	struct kv_err err;

	return kv_index_open(dir, &o, idx, &err);
}

static void remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

/* An ACL in Linux's xattr form: version 2, then (tag, perm, id) triples. */
static size_t acl(uint8_t *buf, const unsigned e[][3], size_t n)
{
	size_t i, j;

	memset(buf, 0, 4);
	buf[0] = 2;
	for (i = 0; i < n; i++) {
		uint8_t *p = buf + 4 + 8 * i;

		p[0] = (uint8_t)e[i][0];
		p[1] = 0;
		p[2] = (uint8_t)e[i][1];
		p[3] = 0;
		for (j = 0; j < 4; j++)
			p[4 + j] = (uint8_t)(e[i][2] >> (8 * j));
	}
	return 4 + 8 * n;
}

UNIT_TEST(xattr_flags_limits_and_errors)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], buf[300], list[1024];
	char name[300], *big = calloc(1, KV_XATTR_SIZE_MAX + 2);
	struct kv_index *idx = NULL;
	struct kv_err err;
	size_t len = 0;
	int i, rc;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(open_index(path, &idx) == 0);
	add(idx, KV_KEYS, "f", KV_TYPE_REG);
	CHECK(set(idx, "nothere", "user.a", "1", 0) == -ENOENT);
	CHECK(set(idx, "f", "user.a", "1", XATTR_REPLACE) == -ENODATA);
	CHECK(set(idx, "f", "user.a", "1", XATTR_CREATE) == 0);
	CHECK(set(idx, "f", "user.a", "2", XATTR_CREATE) == -EEXIST);
	CHECK(set(idx, "f", "user.a", "22", XATTR_REPLACE) == 0);
	CHECK(set(idx, "f", "user.a", "x", XATTR_CREATE | XATTR_REPLACE) == -EINVAL);
	CHECK(get(idx, "f", "user.a", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "22");
	CHECK(set(idx, "f", "user.empty", "", 0) == 0);
	CHECK(get(idx, "f", "user.empty", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "");
	/* a probe gives the length; a short buffer is ERANGE with the length */
	CHECK(kv_xattr_get(idx, "f", 1, "user.a", 0, NULL, 0, &len, &err) == 0 && len == 2);
	CHECK(kv_xattr_get(idx, "f", 1, "user.a", 0, buf, 1, &len, &err) == -ERANGE);
	CHECK(get(idx, "f", "user.none", buf, sizeof(buf)) == -ENODATA);
	CHECK(get(idx, "nothere", "user.a", buf, sizeof(buf)) == -ENODATA);
	/* names */
	CHECK(set(idx, "f", "other.a", "1", 0) == -EOPNOTSUPP);
	CHECK(set(idx, "f", "user.", "1", 0) == -EINVAL);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[255] = '\0';
	CHECK(set(idx, "f", name, "1", 0) == 0);
	name[255] = 'n';
	name[256] = '\0';
	CHECK(set(idx, "f", name, "1", 0) == -ERANGE);
	/* values */
	memset(big, 'v', KV_XATTR_SIZE_MAX + 1);
	CHECK(kv_xattr_set(idx, "f", 1, "user.big", 0, big, KV_XATTR_SIZE_MAX, 0, &err) == 0);
	CHECK(kv_xattr_set(idx, "f", 1, "user.big", 0, big, KV_XATTR_SIZE_MAX + 1, 0, &err) ==
	      -E2BIG);
	/* trusted.* */
	CHECK(set(idx, "f", "trusted.t", "1", 0) == -EPERM);
	CHECK(kv_xattr_set(idx, "f", 1, "trusted.t", KV_XATTR_PRIVILEGED, "r", 1, 0, &err) == 0);
	CHECK(get(idx, "f", "trusted.t", buf, sizeof(buf)) == -ENODATA);
	CHECK(kv_xattr_remove(idx, "f", 1, "trusted.t", 0, &err) == -ENODATA);
	CHECK(set(idx, "f", "security.s", "1", 0) == 0);
	/* SELinux labels are refused, so that ls -l stops asking (xattr.h) */
	CHECK(set(idx, "f", KV_SELINUX_LABEL, "system_u:object_r:fusefs_t:s0", 0) == -EOPNOTSUPP);
	CHECK(get(idx, "f", KV_SELINUX_LABEL, buf, sizeof(buf)) == -EOPNOTSUPP);
	CHECK(kv_xattr_remove(idx, "f", 1, KV_SELINUX_LABEL, 0, &err) == -ENODATA);
	/* a caller without ACLs (-o noacl) is refused their names */
	CHECK(kv_xattr_get(idx, "f", 1, KV_ACL_ACCESS, KV_XATTR_NO_ACLS, buf, sizeof(buf), &len,
			   &err) == -EOPNOTSUPP);
	CHECK(kv_xattr_remove(idx, "f", 1, KV_ACL_DEFAULT, KV_XATTR_NO_ACLS, &err) == -EOPNOTSUPP);
	/* the list: names with their NULs, trusted.* only for the privileged */
	CHECK(kv_xattr_list(idx, "f", 1, 0, NULL, 0, &len, &err) == 0);
	CHECK(len == 7 + 11 + 256 + 9 + 11);
	CHECK(kv_xattr_list(idx, "f", 1, 0, list, 4, &len, &err) == -ERANGE);
	CHECK(kv_xattr_list(idx, "f", 1, KV_XATTR_PRIVILEGED, list, sizeof(list), &len, &err) == 0);
	CHECK(len == 7 + 11 + 256 + 9 + 11 + 10);
	CHECK(memmem(list, len, "trusted.t", 10) != NULL);
	CHECK(kv_xattr_list(idx, "f", 1, 0, list, sizeof(list), &len, &err) == 0);
	CHECK(memmem(list, len, "trusted.t", 10) == NULL);
	CHECK(memmem(list, len, "user.a", 7) != NULL);
	/* a path's names fill at most 64 KiB */
	add(idx, KV_KEYS, "full", KV_TYPE_REG);
	for (i = 0, rc = 0; rc == 0 && i < 1000; i++) {
		snprintf(name, sizeof(name), "user.%0240d", i);
		rc = set(idx, "full", name, "", 0);
	}
	CHECK(rc == -ENOSPC && i == 1 + KV_XATTR_LIST_MAX / 246);
	CHECK(set(idx, "full", "user.short", "", 0) == 0); /* 100 bytes left: fits */
	snprintf(name, sizeof(name), "user.%0100d", 0);
	CHECK(set(idx, "full", name, "", 0) == -ENOSPC);
	snprintf(name, sizeof(name), "user.%0240d", 0);
	CHECK(set(idx, "full", name, "replaced", 0) == 0); /* no new name: fits */
	/* removal */
	CHECK(kv_xattr_remove(idx, "f", 1, "user.a", 0, &err) == 0);
	CHECK(kv_xattr_remove(idx, "f", 1, "user.a", 0, &err) == -ENODATA);
	kv_index_close(idx);
	/* after a reopen */
	CHECK(open_index(path, &idx) == 0);
	CHECK(get(idx, "f", "user.a", buf, sizeof(buf)) == -ENODATA);
	CHECK(get(idx, "f", "security.s", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "1");
	kv_index_close(idx);
	free(big);
	remove_dir(dir);
}

UNIT_TEST(xattr_follow_deletes_and_renames)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], buf[64];
	struct rec_arg del_f = { KV_KEYS, "f", 0 }, del_d = { KV_DIRS, "d", 0 };
	struct move_arg mv = { "g", "f" };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(open_index(path, &idx) == 0);
	add(idx, KV_KEYS, "f", KV_TYPE_REG);
	add(idx, KV_KEYS, "g", KV_TYPE_REG);
	add(idx, KV_DIRS, "d", KV_TYPE_DIR);
	CHECK(set(idx, "f", "user.a", "f", 0) == 0);
	CHECK(set(idx, "f", "user.old", "f", 0) == 0);
	CHECK(set(idx, "g", "user.a", "g", 0) == 0);
	CHECK(set(idx, "d", "user.a", "d", 0) == 0);
	CHECK(set(idx, "", "user.root", "r", 0) == 0); /* the root: "" or "/" */
	CHECK(get(idx, "/", "user.root", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "r");
	/* a rename of g onto f: f has g's attributes, and none of its own */
	CHECK(kv_index_update(idx, move_attrs, &mv, &err) == 0);
	CHECK(get(idx, "f", "user.a", buf, sizeof(buf)) == 0);
	CHECK_STR(buf, "g");
	CHECK(get(idx, "f", "user.old", buf, sizeof(buf)) == -ENODATA);
	CHECK(get(idx, "g", "user.a", buf, sizeof(buf)) == -ENODATA);
	/* removing a key or a directory removes its attributes, not others' */
	CHECK(kv_index_update(idx, del_rec, &del_f, &err) == 0);
	add(idx, KV_KEYS, "f", KV_TYPE_REG);
	CHECK(get(idx, "f", "user.a", buf, sizeof(buf)) == -ENODATA);
	CHECK(get(idx, "d", "user.a", buf, sizeof(buf)) == 0);
	CHECK(kv_index_update(idx, del_rec, &del_d, &err) == 0);
	add(idx, KV_DIRS, "d", KV_TYPE_DIR);
	CHECK(get(idx, "d", "user.a", buf, sizeof(buf)) == -ENODATA);
	CHECK(get(idx, "/", "user.root", buf, sizeof(buf)) == 0);
	/* an implied directory gets a record of its own with its first attribute */
	add(idx, KV_KEYS, "imp/k", KV_TYPE_REG);
	CHECK(kv_index_get(idx, KV_DIRS, "imp", 3, &rec, &err) == -ENOENT);
	CHECK(set(idx, "imp", "user.i", "1", 0) == 0);
	CHECK(kv_index_get(idx, KV_DIRS, "imp", 3, &rec, &err) == 0 && rec.type == KV_TYPE_DIR);
	CHECK(set(idx, "im", "user.i", "1", 0) == -ENOENT);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(xattr_acls_mode_chmod_inherit)
{
	static const unsigned plain[][3] = {
		{1,     6, 0},
		     { 4,	  4, 0},
		  { 0x20, 4, 0}
	};
	static const unsigned named[][3] = {
		{1,     7, 0	  },
		     { 2,	  6, 65534},
		      { 4,	   5, 0	},
		   { 0x10, 7, 0	},
		   { 0x20, 1, 0	}
	};
	static const unsigned nomask[][3] = {
		{1,     7, 0	  },
		     { 2,	  6, 65534},
		      { 4,	   5, 0	},
		   { 0x20, 1, 0	}
	};
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	uint8_t a[64], b[64], out[64];
	struct kv_index *idx = NULL;
	struct kv_err err;
	size_t alen, blen, olen, len;
	uint32_t mode;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(open_index(path, &idx) == 0);
	add(idx, KV_KEYS, "f", KV_TYPE_REG);
	alen = acl(a, plain, 3);
	CHECK(kv_acl_mode(a, alen, &mode) == 0 && mode == 0644);
	blen = acl(b, named, 5);
	CHECK(kv_acl_mode(b, blen, &mode) == 0 && mode == 0771); /* group: the mask */
	CHECK(kv_acl_mode(b, blen - 1, &mode) == -EINVAL);
	olen = acl(out, nomask, 4);
	CHECK(kv_acl_mode(out, olen, &mode) == -EINVAL); /* named needs a mask */
	CHECK(kv_xattr_set(idx, "f", 1, KV_ACL_ACCESS, 0, out, olen, 0, &err) == -EINVAL);
	/* an ACL of three entries is the mode: nothing stored */
	CHECK(kv_xattr_set(idx, "f", 1, KV_ACL_ACCESS, 0, a, alen, 0, &err) == 0);
	CHECK(kv_xattr_get(idx, "f", 1, KV_ACL_ACCESS, 0, NULL, 0, &len, &err) == -ENODATA);
	CHECK(kv_xattr_set(idx, "f", 1, KV_ACL_ACCESS, 0, b, blen, 0, &err) == 0);
	/* chmod 640: owner rw, mask r (the named entry stays, limited by it), other none */
	CHECK(kv_index_update(idx, chmod_640, "f", &err) == 0);
	CHECK(kv_xattr_get(idx, "f", 1, KV_ACL_ACCESS, 0, out, sizeof(out), &len, &err) == 0);
	CHECK(len == blen && kv_acl_mode(out, len, &mode) == 0 && mode == 0640);
	CHECK(out[4 + 8 + 2] == 6);  /* user:65534 keeps rw- */
	CHECK(out[4 + 16 + 2] == 5); /* the owning group's entry stays */
	/* a new file asking 0666 under default ACL b: user rw, mask rw, other none */
	mode = 0666;
	CHECK(kv_acl_inherit(b, blen, &mode, out, sizeof(out), &olen) == 0);
	CHECK(mode == 0660 && olen == blen);
	mode = 0644;
	CHECK(kv_acl_inherit(a, alen, &mode, out, sizeof(out), &olen) == 0);
	CHECK(mode == 0644 && olen == 0); /* nothing beyond the mode */
	CHECK(kv_acl_inherit(b, blen, &mode, out, 8, &olen) == -ERANGE);
	kv_index_close(idx);
	remove_dir(dir);
}
