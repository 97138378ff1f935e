/* auth.h — who may ask tinykvd what (DESIGN §7): the token file, who each request acts
 * as, and the checks the handlers make before they act.
 *
 * A request is identified once, when its headers are in (auth_identify): its Host header
 * must name this server (server_name; against DNS rebinding), and its Authorization
 * header (Bearer TOKEN, or Basic NAME:TOKEN as curl -u sends it) must match a token of
 * the auth file, or there must be none: then the request is anonymous and acts as
 * anonymous_uid:anonymous_gid with the rights of the `anonymous` setting. Before acting,
 * a handler asks auth_may (rights; anonymous writes from loopback only; the token's key
 * prefix; search and write permission on the directories made in the mount above the key)
 * and, once it has the key's record, auth_may_key (the key's own mode bits, as POSIX reads
 * them: owner, group or other; uid 0 and admin tokens bypass them).
 *
 * Tokens are kept as SHA-256 digests (the file may hold a token as given or as
 * "sha256:HEX"); a presented token is hashed and compared with every digest in constant
 * time (CRYPTO_memcmp). No message this module makes contains a token.
 *
 * auth.c identifies (token file, Host, credentials); perm.c checks (rights, prefixes, bits).
 *
 * Threads: one struct auth serves every thread. auth_reload may run at any time: it
 * builds a new table and swaps it in under a write lock that auth_identify takes for
 * reading. A struct auth_who belongs to its request and holds copies, not pointers.
 *
 * Errors: -EPERM no usable credentials (answer 401), -EACCES forbidden (403),
 * -EHOSTUNREACH the Host header names another server (421), -EIO the index could not be
 * read (503); each with a message for the client.
 */
#ifndef TINYKVD_AUTH_H
#define TINYKVD_AUTH_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "record.h"
#include "store.h"

#define AUTH_NAME_MAX 64

struct auth;

/* Who a request acts as; filled by auth_identify. */
struct auth_who {
	char name[AUTH_NAME_MAX + 1]; /* the token's name, or "anonymous" */
	int token;		      /* 1: identified by a token */
	int tokens_on;		      /* the server has an auth file */
	unsigned rights;	      /* KV_RIGHT_* (admin implies read and write) */
	int loopback;		      /* the request came from a loopback address */
	int bypass;		      /* admin or uid 0: mode bits do not apply */
	uint32_t uid, gid;	      /* for mode bits, and the owner of keys it makes */
	size_t plen;
	char prefix[KV_KEY_MAX + 1]; /* every key it touches starts with this */
};

enum auth_op { AUTH_GET, AUTH_PUT, AUTH_DELETE, AUTH_LIST };

/*
 * Start-up: check cfg's access settings and read the auth file. Refuses (-EINVAL, with a
 * message saying what to fix) to listen on an address other than loopback without an
 * `auth` setting, and (-EACCES) an auth file that is a symlink, not a regular file, not
 * owned by the user running tinykvd, open to group or others, or in a directory others
 * could replace it in. File errors name FILE:LINE. The caller frees *out with auth_free.
 */
int auth_open(const struct kv_config *cfg, struct auth **out, struct kv_err *err);
void auth_free(struct auth *a);

/* Read the auth file again (SIGHUP), with the same checks. On failure the tokens in use
 * stay. No-op without an auth file. */
int auth_reload(struct auth *a, struct kv_err *err);

/* One line for the start-up log: where tokens come from and what anonymous may do. */
void auth_describe(struct auth *a, char *out, size_t cap);

/* Identify the request on connection c (HTTP version as sent) into *who. Connection's
 * thread, when the headers are in. */
int auth_identify(struct auth *a, struct MHD_Connection *c, const char *version,
		  struct auth_who *who, struct kv_err *err);

/* May who do op on key (rights, loopback, prefix, the directories above it)? Reads the
 * index (KV_DIRS) but never a shard, so an event loop may call it. */
int auth_may(const struct auth_who *who, struct kv_store *s, enum auth_op op, const char *key,
	     size_t klen, struct kv_err *err);

/* May who do op (AUTH_GET: read; AUTH_DELETE: own it or have write) on the key whose
 * record is rec? */
int auth_may_key(const struct auth_who *who, enum auth_op op, const char *key, size_t klen,
		 const struct kv_record *rec, struct kv_err *err);

/* A listing of prefix (capacity KV_KEY_MAX + 1, *plen bytes): needs the read right; a
 * token limited to a prefix may list under it, and a shorter prefix that its own starts
 * with is narrowed to its own (*plen changes). -EACCES for a prefix outside it. */
int auth_list_prefix(const struct auth_who *who, char *prefix, size_t *plen, struct kv_err *err);

/* Shown in a listing: keys who could GET (their read bit, search on the directories
 * above, read on the one they are in). l caches the last directory's verdict; start it
 * zeroed for each listing. Returns 1 to show the key, 0 to leave it out. */
struct auth_listing {
	int valid, ok;
	size_t dlen;
	char dir[KV_KEY_MAX + 1];
};
int auth_may_list(const struct auth_who *who, struct kv_store *s, struct auth_listing *l,
		  const char *key, size_t klen, const struct kv_record *rec);

/* The metadata of a key who creates: owned by who's uid and gid. */
void auth_owner(const struct auth_who *who, struct kv_meta *meta);

#endif
