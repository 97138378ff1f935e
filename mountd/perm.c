/* perm.c — the permission checks of tinykvd (auth.h): rights, the loopback rule for
 * anonymous writes, a token's key prefix, and the mode bits the mount shows, on the key
 * and on the directories made in the mount above it. Who asks (auth_who) comes from
 * auth.c; these functions only read it and the index, never a shard.
 */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *op_verb(enum auth_op op)
{
	switch (op) {
	case AUTH_GET: return "read";
	case AUTH_PUT: return "create";
	case AUTH_DELETE: return "delete";
	default: return "list";
	}
}

/* "anonymous requests (uid 65534, gid 65534)" or "token 'bob' (uid 1000, gid 100)" */
static void who_text(const struct auth_who *w, char *out, size_t cap)
{
	if (w->token)
		(void)snprintf(out, cap, "token '%s' (uid %u, gid %u)", w->name, (unsigned)w->uid,
			       (unsigned)w->gid);
	else
		(void)snprintf(out, cap, "anonymous requests (uid %u, gid %u)", (unsigned)w->uid,
			       (unsigned)w->gid);
}

static int rights_ok(const struct auth_who *w, enum auth_op op, struct kv_err *err)
{
	int write = op == AUTH_PUT || op == AUTH_DELETE;
	unsigned need = write ? KV_RIGHT_WRITE : KV_RIGHT_READ;

	if (!(w->rights & need)) {
		if (w->token)
			return kv_err_set(err, -EACCES, "token '%s' has no %s right", w->name,
					  write ? "write" : "read");
		if (w->tokens_on)
			return kv_err_set(err, -EPERM,
					  "to %s, a request needs a token with the %s "
					  "right: send Authorization: Bearer TOKEN (or curl -u "
					  "NAME:TOKEN)",
					  op_verb(op), write ? "write" : "read");
		return kv_err_set(err, -EACCES,
				  "anonymous requests may not %s here (see the "
				  "anonymous setting)",
				  op_verb(op));
	}
	if (write && !w->token && !w->loopback)
		return kv_err_set(err, -EACCES,
				  "anonymous writes are taken from loopback only; "
				  "from elsewhere, a write needs a token with the write right (see "
				  "auth in tinykv.conf(5))");
	return 0;
}

static int prefix_ok(const struct auth_who *w, const char *key, size_t klen)
{
	return w->plen == 0 || (klen >= w->plen && memcmp(key, w->prefix, w->plen) == 0);
}

/* The permission bits of rec that apply to w: owner, group or other. */
static unsigned bits_for(const struct auth_who *w, const struct kv_record *rec)
{
	if (w->uid == rec->uid)
		return (rec->mode >> 6) & 7;
	if (w->gid == rec->gid)
		return (rec->mode >> 3) & 7;
	return rec->mode & 7;
}

/* Search (x) on every directory made in the mount above key — the root included — and
 * `parent` bits on the one key is in. Directories only implied by keys below them put
 * no limit (they have no mode of their own to honour). */
static int dirs_ok(const struct auth_who *w, struct kv_store *s, const char *key, size_t klen,
		   unsigned parent, struct kv_err *err)
{
	struct kv_record d;
	struct kv_err derr;
	char who[128];
	size_t at = 0, end;
	int rc;

	for (end = klen; end > 0 && key[end - 1] != '/'; end--)
		;
	end = end > 0 ? end - 1 : 0; /* the length of the directory key is in */
	for (;;) {
		int last = at == end;
		unsigned need = last ? parent : 1;

		rc = kv_store_dir_get(s, key, at, &d, &derr);
		if (rc < 0 && rc != -ENOENT)
			return kv_err_set(err, -EIO,
					  "cannot check the directories above the key: %s",
					  derr.msg);
		/* gen 0: implied (see kv_store_dir_get) */
		if (rc == 0 && d.gen != 0 && (bits_for(w, &d) & need) != need) {
			who_text(w, who, sizeof(who));
			return kv_err_set(err, -EACCES,
					  "directory '%.*s' is mode %04o, owned by "
					  "uid %u, gid %u; %s may not %s it",
					  at > 0 ? (int)at : 1, at > 0 ? key : "/",
					  (unsigned)(d.mode & 07777), (unsigned)d.uid,
					  (unsigned)d.gid, who,
					  need == 1  ? "enter" :
					  (need & 2) ? "write in" :
						       "list");
		}
		if (last)
			return 0;
		for (at++; at < end && key[at] != '/'; at++)
			;
	}
}

int auth_may(const struct auth_who *w, struct kv_store *s, enum auth_op op, const char *key,
	     size_t klen, struct kv_err *err)
{
	int rc = rights_ok(w, op, err);

	if (rc < 0)
		return rc;
	if (!prefix_ok(w, key, klen))
		return kv_err_set(err, -EACCES,
				  "token '%s' is limited to keys starting with "
				  "'%.*s'",
				  w->name, (int)w->plen, w->prefix);
	if (w->bypass)
		return 0;
	return dirs_ok(w, s, key, klen, op == AUTH_GET ? 1 : op == AUTH_LIST ? 5 : 3, err);
}

int auth_may_key(const struct auth_who *w, enum auth_op op, const char *key, size_t klen,
		 const struct kv_record *rec, struct kv_err *err)
{
	char who[128];

	if (w->bypass)
		return 0;
	if (op == AUTH_DELETE ? w->uid == rec->uid || (bits_for(w, rec) & 2) :
				(bits_for(w, rec) & 4) != 0)
		return 0;
	who_text(w, who, sizeof(who));
	return kv_err_set(err, -EACCES,
			  "'%.*s' is mode %04o, owned by uid %u, gid %u; %s may "
			  "not %s it",
			  klen > 200 ? 200 : (int)klen, key, (unsigned)(rec->mode & 07777),
			  (unsigned)rec->uid, (unsigned)rec->gid, who, op_verb(op));
}

int auth_list_prefix(const struct auth_who *w, char *prefix, size_t *plen, struct kv_err *err)
{
	int rc = rights_ok(w, AUTH_LIST, err);

	if (rc < 0 || w->plen == 0)
		return rc;
	if (*plen >= w->plen && memcmp(prefix, w->prefix, w->plen) == 0)
		return 0;
	if (*plen < w->plen && memcmp(prefix, w->prefix, *plen) == 0) {
		memcpy(prefix, w->prefix, w->plen); /* the keys it may see of those asked */
		*plen = w->plen;
		return 0;
	}
	return kv_err_set(err, -EACCES, "token '%s' is limited to keys starting with '%.*s'",
			  w->name, (int)w->plen, w->prefix);
}

int auth_may_list(const struct auth_who *w, struct kv_store *s, struct auth_listing *l,
		  const char *key, size_t klen, const struct kv_record *rec)
{
	struct kv_err err;
	size_t dlen;

	if (!prefix_ok(w, key, klen))
		return 0;
	if (w->bypass)
		return 1;
	for (dlen = klen; dlen > 0 && key[dlen - 1] != '/'; dlen--)
		;
	dlen = dlen > 0 ? dlen - 1 : 0;
	if (!l->valid || l->dlen != dlen || memcmp(l->dir, key, dlen) != 0) {
		l->ok = dirs_ok(w, s, key, klen, 5, &err) == 0;
		l->valid = 1;
		l->dlen = dlen;
		memcpy(l->dir, key, dlen);
	}
	return l->ok && (bits_for(w, rec) & 4) != 0;
}

void auth_owner(const struct auth_who *w, struct kv_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	meta->set_owner = 1;
	meta->uid = w->uid;
	meta->gid = w->gid;
}
