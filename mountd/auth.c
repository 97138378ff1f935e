/* auth.c — tinykvd's access control, who asks: the token file and its safety checks, the
 * Host header, credentials, and who a request acts as (see auth.h for the contract,
 * perm.c for the permission checks, tinykvd(8) and tinykv.conf(5) for the rules as users
 * read them).
 *
 * The token file, one token a line ('#' starts a comment):
 *     NAME  TOKEN-or-sha256:HEX  RIGHTS  [prefix=P] [uid=N] [gid=N] [expires=DATE]
 * RIGHTS is a comma-separated list of read, write, admin. The table is replaced whole on
 * reload, under `lock`; requests copy what they need out of it while holding it for
 * reading, so no request keeps a pointer into a table that a reload frees.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_LEN 32  /* SHA-256 */
#define TOKEN_MIN 16 /* shortest token accepted as given */
#define TOKEN_MAX 1024
#define TOKENS_MAX 4096
#define LINE_MAX_LEN 4096
#define AUTHZ_MAX 4096 /* longest Authorization header looked at */

struct token {
	char name[AUTH_NAME_MAX + 1];
	uint8_t hash[HASH_LEN];
	unsigned rights;
	int has_uid, has_gid;
	uint32_t uid, gid;
	int64_t expires; /* seconds since the epoch; 0: never */
	size_t plen;
	char prefix[KV_KEY_MAX + 1];
};

struct table {
	struct token *v;
	size_t n;
};

struct auth {
	int mode; /* KV_AUTH_* */
	char path[PATH_MAX];
	unsigned anonymous;
	uint32_t anon_uid, anon_gid;
	int nnames;
	char names[KV_SERVER_NAMES_MAX + 4][KV_SERVER_NAME_LEN];
	int name_has_port[KV_SERVER_NAMES_MAX + 4];
	pthread_rwlock_t lock; /* guards tab */
	struct table tab;
};

static void table_free(struct table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int sha256(const void *buf, size_t len, uint8_t out[HASH_LEN])
{
	unsigned n = 0;

	return EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) == 1 && n == HASH_LEN ? 0 : -EIO;
}

/* --- the token file --- */

/* The file must be the daemon's own and nobody else's to read or replace. fd is checked
 * (fstat of what was opened, not of what the name points at by then). */
static int check_private(const char *path, int fd, struct kv_err *err)
{
	char copy[PATH_MAX], *dir;
	struct stat st, dst;
	uid_t me = geteuid();

	if (fstat(fd, &st) < 0)
		return kv_err_set(err, -errno, "auth file %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kv_err_set(err, -EACCES, "auth file %s is not a regular file", path);
	if (st.st_uid != me)
		return kv_err_set(err, -EACCES,
				  "auth file %s is owned by uid %u, not by uid %u "
				  "that runs tinykvd: chown %u %s",
				  path, (unsigned)st.st_uid, (unsigned)me, (unsigned)me, path);
	if (st.st_mode & 077)
		return kv_err_set(err, -EACCES,
				  "auth file %s is open to group or others (mode "
				  "%04o), who could read the tokens: chmod 600 %s",
				  path, (unsigned)(st.st_mode & 07777), path);
	(void)snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &dst) < 0)
		return kv_err_set(err, -errno, "auth file's directory %s: %s", dir,
				  strerror(errno));
	if (dst.st_uid != 0 && dst.st_uid != me)
		return kv_err_set(err, -EACCES,
				  "auth file %s is in %s, owned by uid %u, who could "
				  "replace it: keep it in a directory of root's or yours",
				  path, dir, (unsigned)dst.st_uid);
	if ((dst.st_mode & 022) && !(dst.st_mode & S_ISVTX))
		return kv_err_set(err, -EACCES,
				  "auth file %s is in %s, which group or others may "
				  "write in (mode %04o) and so replace the file: chmod go-w %s",
				  path, dir, (unsigned)(dst.st_mode & 07777), dir);
	return 0;
}

static int open_private(const char *path, FILE **out, struct kv_err *err)
{
	struct stat st;
	int fd, rc;

	*out = NULL;
	if (lstat(path, &st) < 0)
		return kv_err_set(err, -errno, "auth file %s: %s", path, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return kv_err_set(err, -EACCES,
				  "auth file %s is a symlink: name the file itself "
				  "(a link can be turned to another file)",
				  path);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return kv_err_set(err, errno == ELOOP ? -EACCES : -errno, "auth file %s: %s", path,
				  errno == ELOOP ? "is a symlink" : strerror(errno));
	rc = check_private(path, fd, err);
	if (rc == 0 && (*out = fdopen(fd, "r")) == NULL)
		rc = kv_err_set(err, -errno, "auth file %s: %s", path, strerror(errno));
	if (rc < 0)
		(void)close(fd);
	return rc;
}

/* A field of the token file, as a message may show it: one as long as a token could be
 * (a token written in the wrong column) is not shown. */
static const char *shown(const char *v)
{
	return strlen(v) < TOKEN_MIN ? v : "(not shown: as long as a token)";
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* The secret field: "sha256:" and 64 hex digits, or a token as given. The messages
 * never show it. */
static int parse_secret(const char *name, const char *v, uint8_t hash[HASH_LEN], struct kv_err *err)
{
	size_t len = strlen(v), i;

	if (!strncmp(v, "sha256:", 7)) {
		if (len != 7 + 2 * HASH_LEN)
			return kv_err_set(err, -EINVAL,
					  "the token of '%s' is sha256: but not "
					  "followed by 64 hex digits",
					  name);
		for (i = 0; i < HASH_LEN; i++) {
			int hi = hexval((unsigned char)v[7 + 2 * i]);
			int lo = hexval((unsigned char)v[8 + 2 * i]);

			if (hi < 0 || lo < 0)
				return kv_err_set(err, -EINVAL,
						  "the token of '%s' is sha256: but "
						  "not followed by 64 hex digits",
						  name);
			hash[i] = (uint8_t)(hi << 4 | lo);
		}
		return 0;
	}
	if (len < TOKEN_MIN || len > TOKEN_MAX)
		return kv_err_set(err, -EINVAL,
				  "the token of '%s' is %s than %d characters "
				  "(make one with: openssl rand -hex 32)",
				  name, len < TOKEN_MIN ? "shorter" : "longer",
				  len < TOKEN_MIN ? TOKEN_MIN : TOKEN_MAX);
	return sha256(v, len, hash) < 0 ?
		       kv_err_set(err, -EIO, "cannot hash the token of '%s'", name) :
		       0;
}

static int parse_token_rights(const char *name, const char *v, unsigned *out, struct kv_err *err)
{
	const char *p = v;
	unsigned rights = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		char word[TOKEN_MIN];

		if (len == 4 && !strncmp(p, "read", 4))
			rights |= KV_RIGHT_READ;
		else if (len == 5 && !strncmp(p, "write", 5))
			rights |= KV_RIGHT_WRITE;
		else if (len == 5 && !strncmp(p, "admin", 5))
			rights |= KV_RIGHT_ADMIN | KV_RIGHT_READ | KV_RIGHT_WRITE;
		else {
			(void)snprintf(word, sizeof(word), "%.*s", (int)len, p);
			return kv_err_set(err, -EINVAL,
					  "'%s': '%s' is not a right (read, write, "
					  "admin, comma-separated)",
					  name, len < sizeof(word) ? word : shown(p));
		}
		p += len + (p[len] != '\0');
	}
	if (rights == 0)
		return kv_err_set(err, -EINVAL, "'%s' has no rights (read, write, admin)", name);
	*out = rights;
	return 0;
}

static int parse_uint32(const char *name, const char *what, const char *v, uint32_t *out,
			struct kv_err *err)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n > 4294967294ULL)
		return kv_err_set(err, -EINVAL,
				  "'%s': %s '%s' is not a number from 0 to "
				  "4294967294",
				  name, what, shown(v));
	*out = (uint32_t)n;
	return 0;
}

/* expires=2027-01-31 (the start of that day, UTC) or 2027-01-31T12:00:00Z. */
static int parse_expires(const char *name, const char *v, int64_t *out, struct kv_err *err)
{
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%d", &tm);
	if (end != NULL && *end == 'T')
		end = strptime(end + 1, "%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return kv_err_set(err, -EINVAL,
				  "'%s': expires '%s' is not a date like 2027-01-31 "
				  "or 2027-01-31T12:00:00Z (UTC)",
				  name, shown(v));
	t = timegm(&tm);
	if (t <= 0)
		return kv_err_set(err, -EINVAL, "'%s': expires '%s' is out of range", name,
				  shown(v));
	*out = (int64_t)t;
	return 0;
}

static int valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > AUTH_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._@-", s[i]))
			return 0;
	return 1;
}

/* One line's fields into t. Messages name the token only by a name that could not be a
 * token. */
static int parse_line(char **f, int nf, struct token *t, struct kv_err *err)
{
	const char *name;
	int i, rc;

	memset(t, 0, sizeof(*t));
	if (nf < 3)
		return kv_err_set(err, -EINVAL,
				  "expected NAME TOKEN RIGHTS [prefix=P] [uid=N] "
				  "[gid=N] [expires=DATE]");
	if (!valid_name(f[0]))
		return kv_err_set(err, -EINVAL,
				  "'%s' is not a token name (1 to %d letters, "
				  "digits, . _ @ -)",
				  shown(f[0]), AUTH_NAME_MAX);
	memcpy(t->name, f[0], strlen(f[0]) + 1);
	name = shown(t->name);
	rc = parse_secret(name, f[1], t->hash, err);
	if (rc == 0)
		rc = parse_token_rights(name, f[2], &t->rights, err);
	for (i = 3; rc == 0 && i < nf; i++) {
		if (!strncmp(f[i], "prefix=", 7)) {
			rc = kv_key_decode(f[i] + 7, strlen(f[i] + 7), t->prefix, KV_KEY_MAX,
					   &t->plen, err);
			if (rc < 0) /* percent-escaped like a URL path; empty: leave it out */
				kv_err_prefix(err, "'%s': prefix", name);
		} else if (!strncmp(f[i], "uid=", 4)) {
			t->has_uid = 1;
			rc = parse_uint32(name, "uid", f[i] + 4, &t->uid, err);
		} else if (!strncmp(f[i], "gid=", 4)) {
			t->has_gid = 1;
			rc = parse_uint32(name, "gid", f[i] + 4, &t->gid, err);
		} else if (!strncmp(f[i], "expires=", 8)) {
			rc = parse_expires(name, f[i] + 8, &t->expires, err);
		} else {
			rc = kv_err_set(err, -EINVAL,
					"'%s': unknown field '%s' (prefix=, uid=, "
					"gid=, expires=)",
					name, shown(f[i]));
		}
	}
	return rc;
}

static int table_add(struct table *t, const struct token *tok, struct kv_err *err)
{
	struct token *v;
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (!strcmp(t->v[i].name, tok->name))
			return kv_err_set(err, -EINVAL, "'%s' is named twice", shown(tok->name));
		if (!memcmp(t->v[i].hash, tok->hash, HASH_LEN))
			return kv_err_set(err, -EINVAL,
					  "'%s' has the same token as '%s': every "
					  "token must be its own",
					  shown(tok->name), shown(t->v[i].name));
	}
	if (t->n == TOKENS_MAX)
		return kv_err_set(err, -EINVAL, "more than %d tokens", TOKENS_MAX);
	v = realloc(t->v, (t->n + 1) * sizeof(*v));
	if (v == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	t->v = v;
	t->v[t->n++] = *tok;
	return 0;
}

static int load_tokens(const char *path, struct table *out, struct kv_err *err)
{
	struct table t = { NULL, 0 };
	struct token *tok = NULL;
	char line[LINE_MAX_LEN + 2];
	FILE *f = NULL;
	int lineno = 0, rc = open_private(path, &f, err);

	if (rc == 0 && (tok = malloc(sizeof(*tok))) == NULL)
		rc = kv_err_set(err, -ENOMEM, "out of memory");
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *fields[16], *p = line, *hash;
		size_t len = strlen(line);
		int nf = 0;

		lineno++;
		if (len > LINE_MAX_LEN || (len > 0 && line[len - 1] != '\n' && !feof(f))) {
			rc = kv_err_set(err, -EINVAL, "%s:%d: line longer than %d bytes", path,
					lineno, LINE_MAX_LEN);
			break;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		while (nf < 16) {
			p += strspn(p, " \t\r\n");
			if (*p == '\0')
				break;
			fields[nf++] = p;
			p += strcspn(p, " \t\r\n");
			if (*p != '\0')
				*p++ = '\0';
		}
		if (nf == 0)
			continue;
		p += strspn(p, " \t\r\n");
		if (*p != '\0')
			rc = kv_err_set(err, -EINVAL, "too many fields");
		if (rc == 0)
			rc = parse_line(fields, nf, tok, err);
		if (rc == 0)
			rc = table_add(&t, tok, err);
		if (rc < 0)
			kv_err_prefix(err, "%s:%d", path, lineno);
	}
	if (rc == 0 && ferror(f))
		rc = kv_err_set(err, -EIO, "%s: read error", path);
	if (rc == 0 && t.n == 0)
		rc = kv_err_set(err, -EINVAL,
				"%s has no tokens (a line is NAME TOKEN RIGHTS ...; "
				"see tinykv.conf(5)); with no tokens, write auth = none",
				path);
	if (tok != NULL)
		explicit_bzero(tok, sizeof(*tok));
	explicit_bzero(line, sizeof(line));
	free(tok);
	if (f != NULL)
		(void)fclose(f);
	if (rc < 0) {
		table_free(&t);
		return rc;
	}
	*out = t;
	return 0;
}

/* --- start-up --- */

static int listen_is_loopback(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!strcmp(addr, "localhost"))
		return 1;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

static void add_name(struct auth *a, const char *name, int bracket)
{
	char buf[KV_SERVER_NAME_LEN];
	const char *close;
	size_t i;
	int n;

	n = snprintf(buf, sizeof(buf), bracket ? "[%s]" : "%s", name);
	if (n < 0 || (size_t)n >= sizeof(buf) || a->nnames == KV_SERVER_NAMES_MAX + 4)
		return;
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
	for (n = 0; n < a->nnames; n++)
		if (!strcmp(a->names[n], buf))
			return;
	memcpy(a->names[a->nnames], buf, strlen(buf) + 1);
	/* "name:port" or "[v6]:port" names one port; a bare name any */
	close = strrchr(buf, ']');
	a->name_has_port[a->nnames] = strchr(close != NULL ? close : buf, ':') != NULL;
	a->nnames++;
}

int auth_open(const struct kv_config *cfg, struct auth **out, struct kv_err *err)
{
	struct auth *a;
	struct in6_addr a6;
	int i, rc;

	*out = NULL;
	if (!listen_is_loopback(cfg->listen) && cfg->auth_mode == KV_AUTH_UNSET)
		return kv_err_set(err, -EINVAL,
				  "listen = %s is not a loopback address and no "
				  "auth is set: whoever reaches it could read every key. Set auth "
				  "= FILE (a token file, see tinykv.conf(5)), or write auth = none "
				  "to "
				  "serve without tokens (writes are then still taken from loopback "
				  "only)",
				  cfg->listen);
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	a->mode = cfg->auth_mode;
	(void)snprintf(a->path, sizeof(a->path), "%s", cfg->auth);
	a->anonymous = cfg->anonymous < 0 ? KV_RIGHT_READ : (unsigned)cfg->anonymous;
	a->anon_uid = cfg->anonymous_uid;
	a->anon_gid = cfg->anonymous_gid;
	if (cfg->n_server_names > 0) {
		for (i = 0; i < cfg->n_server_names; i++)
			add_name(a, cfg->server_names[i], 0);
	} else {
		add_name(a, "localhost", 0);
		add_name(a, "127.0.0.1", 0);
		add_name(a, "[::1]", 0);
		if (strcmp(cfg->listen, "*") && strcmp(cfg->listen, "0.0.0.0") &&
		    strcmp(cfg->listen, "::"))
			add_name(a, cfg->listen, inet_pton(AF_INET6, cfg->listen, &a6) == 1);
	}
	rc = pthread_rwlock_init(&a->lock, NULL);
	if (rc != 0) {
		free(a);
		return kv_err_set(err, -rc, "cannot make a lock: %s", strerror(rc));
	}
	if (a->mode == KV_AUTH_FILE && (rc = load_tokens(a->path, &a->tab, err)) < 0) {
		auth_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	if (a->tab.v != NULL)
		explicit_bzero(a->tab.v, a->tab.n * sizeof(*a->tab.v));
	table_free(&a->tab);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

int auth_reload(struct auth *a, struct kv_err *err)
{
	struct table t, old;
	int rc;

	if (a->mode != KV_AUTH_FILE)
		return 0;
	rc = load_tokens(a->path, &t, err);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&a->lock);
	old = a->tab;
	a->tab = t;
	pthread_rwlock_unlock(&a->lock);
	if (old.v != NULL)
		explicit_bzero(old.v, old.n * sizeof(*old.v));
	table_free(&old);
	return 0;
}

static const char *rights_text(unsigned r)
{
	if (r & KV_RIGHT_ADMIN)
		return "admin";
	switch (r & (KV_RIGHT_READ | KV_RIGHT_WRITE)) {
	case KV_RIGHT_READ: return "read";
	case KV_RIGHT_WRITE: return "write";
	case KV_RIGHT_READ | KV_RIGHT_WRITE: return "read, write";
	default: return "none";
	}
}

void auth_describe(struct auth *a, char *out, size_t cap)
{
	char names[512] = "";
	size_t at = 0, n;
	int i;

	for (i = 0; i < a->nnames && at < sizeof(names); i++) {
		int k = snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "",
				 a->names[i]);

		if (k < 0)
			break;
		at += (size_t)k;
	}
	pthread_rwlock_rdlock(&a->lock);
	n = a->tab.n;
	pthread_rwlock_unlock(&a->lock);
	if (a->mode == KV_AUTH_FILE)
		(void)snprintf(out, cap,
			       "%zu token%s from %s; anonymous: %s (uid %u, gid %u); "
			       "Host: %s",
			       n, n == 1 ? "" : "s", a->path, rights_text(a->anonymous),
			       (unsigned)a->anon_uid, (unsigned)a->anon_gid, names);
	else
		(void)snprintf(out, cap,
			       "no tokens (auth %s); anonymous: %s (uid %u, gid %u; "
			       "writes from loopback only); Host: %s",
			       a->mode == KV_AUTH_NONE ? "= none" : "not set",
			       rights_text(a->anonymous), (unsigned)a->anon_uid,
			       (unsigned)a->anon_gid, names);
}

/* --- identifying a request --- */

static int peer_is_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;

	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_LOOPBACK(a6))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
	}
	return 0;
}

/* Text from the network, safe to put in a message: printable ASCII, cut at max. */
static void sanitize(const char *in, char *out, size_t max)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < max; i++)
		out[i] = (unsigned char)in[i] >= 0x20 && (unsigned char)in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
}

static int host_matches(const struct auth *a, const char *host)
{
	size_t hl = strlen(host);
	int i;

	for (i = 0; i < a->nnames; i++) {
		size_t nl = strlen(a->names[i]), d;

		if (hl < nl || strncasecmp(host, a->names[i], nl) != 0)
			continue;
		if (hl == nl)
			return 1;
		if (a->name_has_port[i] || host[nl] != ':' || hl == nl + 1 || hl > nl + 6)
			continue;
		for (d = nl + 1; d < hl && isdigit((unsigned char)host[d]); d++)
			;
		if (d == hl)
			return 1;
	}
	return 0;
}

static int check_host(const struct auth *a, struct MHD_Connection *c, const char *version,
		      struct kv_err *err)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char shown[81], names[400] = "";
	size_t at = 0;
	int i;

	if (host == NULL && !strcmp(version, MHD_HTTP_VERSION_1_0))
		return 0; /* no name, so no other name: not what DNS rebinding sends */
	if (host != NULL && host_matches(a, host))
		return 0;
	for (i = 0; i < a->nnames && at < sizeof(names); i++) {
		int n = snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "",
				 a->names[i]);

		if (n < 0)
			break;
		at += (size_t)n;
	}
	if (host == NULL)
		return kv_err_set(err, -EHOSTUNREACH,
				  "the request has no Host header; tinykvd "
				  "answers only requests that name it (server_name: %s)",
				  names);
	sanitize(host, shown, sizeof(shown));
	return kv_err_set(err, -EHOSTUNREACH,
			  "Host '%s' is not a name of this server. "
			  "tinykvd answers only to the names of server_name (now: %s), so that "
			  "a web page cannot reach it through a name of its own (DNS rebinding); "
			  "if the name is this server's, add it to server_name in tinykv.conf",
			  shown, names);
}

/* Decode standard base64 (with padding) into out; returns the length or -1. */
static int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > cap || len > INT_MAX)
		return -1;
	pad = (in[len - 1] == '=') + (in[len - 2] == '=');
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < pad)
		return -1;
	return n - pad;
}

/* The token in the Authorization header, and for Basic the name sent with it. */
static int parse_authorization(const char *h, char *tok, size_t cap, size_t *tlen, char *name,
			       struct kv_err *err)
{
	static const char how[] = "send Authorization: Bearer TOKEN, or Basic with NAME:TOKEN "
				  "(curl -u NAME:TOKEN)";
	unsigned char dec[AUTHZ_MAX];
	size_t len = strlen(h), sl = strcspn(h, " "), vl;
	const char *v = h + sl;
	const char *colon;
	int n;

	name[0] = '\0';
	if (len > AUTHZ_MAX)
		return kv_err_set(err, -EPERM, "the Authorization header is too long; %s", how);
	v += strspn(v, " ");
	vl = strlen(v);
	while (vl > 0 && v[vl - 1] == ' ')
		vl--;
	if (sl == 6 && !strncasecmp(h, "Bearer", 6)) {
		if (vl == 0 || vl >= cap)
			return kv_err_set(err, -EPERM, "the Bearer token is empty or too long");
		memcpy(tok, v, vl);
		*tlen = vl;
		return 0;
	}
	if (sl == 5 && !strncasecmp(h, "Basic", 5)) {
		n = base64_decode(v, vl, dec, sizeof(dec));
		colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
		if (colon == NULL)
			return kv_err_set(err, -EPERM,
					  "the Basic credentials are not base64 of "
					  "NAME:TOKEN; %s",
					  how);
		if ((size_t)(colon - (const char *)dec) > AUTH_NAME_MAX ||
		    (size_t)n - (size_t)(colon - (const char *)dec) - 1 >= cap) {
			explicit_bzero(dec, sizeof(dec));
			return kv_err_set(err, -EPERM, "the Basic name or token is too long");
		}
		memcpy(name, dec, (size_t)(colon - (const char *)dec));
		name[colon - (const char *)dec] = '\0';
		*tlen = (size_t)n - (size_t)(colon - (const char *)dec) - 1;
		memcpy(tok, colon + 1, *tlen);
		explicit_bzero(dec, sizeof(dec));
		return 0;
	}
	return kv_err_set(err, -EPERM, "the Authorization scheme is not one tinykvd knows; %s",
			  how);
}

/* Find the token whose digest is hash: every entry is compared, in constant time. */
static const struct token *find_token(const struct table *t, const uint8_t *hash)
{
	const struct token *found = NULL;
	size_t i;

	for (i = 0; i < t->n; i++) {
		int same = CRYPTO_memcmp(hash, t->v[i].hash, HASH_LEN) == 0;

		if (same && found == NULL)
			found = &t->v[i];
	}
	return found;
}

static int identify_token(struct auth *a, const char *authz, struct auth_who *w, struct kv_err *err)
{
	char tok[AUTHZ_MAX], name[AUTH_NAME_MAX + 1];
	uint8_t hash[HASH_LEN];
	const struct token *t;
	size_t tlen = 0;
	int rc = parse_authorization(authz, tok, sizeof(tok), &tlen, name, err);

	if (rc == 0 && sha256(tok, tlen, hash) < 0)
		rc = kv_err_set(err, -EIO, "cannot hash the token");
	explicit_bzero(tok, sizeof(tok));
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&a->lock);
	t = find_token(&a->tab, hash);
	if (t == NULL || (name[0] != '\0' && strcmp(name, t->name) != 0)) {
		rc = kv_err_set(err, -EPERM, "no token of this server matches the one sent%s",
				name[0] != '\0' ? " with that name" : "");
	} else if (t->expires != 0 && (int64_t)time(NULL) >= t->expires) {
		char when[32];
		time_t e = (time_t)t->expires;
		struct tm tm;

		(void)gmtime_r(&e, &tm);
		(void)strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		rc = kv_err_set(err, -EPERM, "token '%s' expired at %s", t->name, when);
	} else {
		memcpy(w->name, t->name, sizeof(w->name));
		w->token = 1;
		w->rights = t->rights;
		w->uid = t->has_uid ? t->uid : a->anon_uid;
		w->gid = t->has_gid ? t->gid : a->anon_gid;
		w->bypass = (t->rights & KV_RIGHT_ADMIN) || (t->has_uid && t->uid == 0);
		w->plen = t->plen;
		memcpy(w->prefix, t->prefix, t->plen);
	}
	pthread_rwlock_unlock(&a->lock);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

int auth_identify(struct auth *a, struct MHD_Connection *c, const char *version, struct auth_who *w,
		  struct kv_err *err)
{
	const char *authz;
	int rc;

	memset(w, 0, offsetof(struct auth_who, prefix));
	memcpy(w->name, "anonymous", sizeof("anonymous"));
	w->tokens_on = a->mode == KV_AUTH_FILE;
	w->rights = a->anonymous;
	w->uid = a->anon_uid;
	w->gid = a->anon_gid;
	w->loopback = peer_is_loopback(c);
	rc = check_host(a, c, version, err);
	if (rc < 0)
		return rc;
	authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (authz == NULL)
		return 0;
	if (a->mode != KV_AUTH_FILE)
		return kv_err_set(err, -EPERM,
				  "this server takes no tokens (auth is not set): "
				  "send the request without an Authorization header");
	return identify_token(a, authz, w, err);
}
