/* secret.c — the cluster's shard secret: loaded from a file only its reader can touch, and
 * the one place that signs read URLs (nginx secure_link; tinykv-shard checks them). The
 * secret is loaded by kv_config_finish, on a program's main thread at start; URLs are
 * signed for redirects (kv_store_locate), on tinykvd's loop threads. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "hash.h"

static int secret_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The directory of path must be root's or ours, and not open to others' writes (unless
 * sticky): else someone else could put another file in its place. */
static int check_dir(const char *path, struct kv_err *err)
{
	char copy[PATH_MAX];
	const char *dir;
	struct stat st;
	int n = snprintf(copy, sizeof(copy), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(copy))
		return kv_err_set(err, -ENAMETOOLONG, "shard_secret_file: path too long");
	dir = dirname(copy);
	if (stat(dir, &st) < 0)
		return kv_err_set(err, -errno, "shard_secret_file's directory %s: %s", dir,
				  strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return kv_err_set(err, -EPERM,
				  "shard_secret_file %s is in %s, owned by uid %u, "
				  "who could replace it: keep it in a directory of root's or yours",
				  path, dir, (unsigned)st.st_uid);
	if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0)
		return kv_err_set(err, -EPERM,
				  "shard_secret_file %s is in %s, which group or "
				  "others may write in (mode %04o) and so replace the file: chmod "
				  "go-w %s",
				  path, dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

int kv_secret_load(const char *path, char *out, size_t cap, struct kv_err *err)
{
	char buf[KV_SECRET_MAX + 3];
	struct stat st;
	size_t len = 0, i;
	int fd = -1, rc = 0;

	if (cap <= KV_SECRET_MAX)
		return kv_err_set(err, -ENOSPC, "shard_secret_file: no room for the secret");
	out[0] = '\0';
	/* O_NONBLOCK: a FIFO put in the file's place must not hang us at open. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			return kv_err_set(err, rc,
					  "shard_secret_file %s is a symbolic link: name "
					  "the file itself",
					  path);
		return kv_err_set(err, rc, "shard_secret_file %s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = kv_err_set(err, -errno, "shard_secret_file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kv_err_set(err, -EINVAL, "shard_secret_file %s is not a regular file", path);
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = kv_err_set(err, -EPERM,
				"shard_secret_file %s belongs to uid %u, not to uid "
				"%u that reads it: chown %u %s (or give this user a copy of "
				"its own)",
				path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
				path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = kv_err_set(err, -EPERM,
				"shard_secret_file %s has mode %04o: others may read "
				"it; chmod 600 %s",
				path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	rc = check_dir(path, err);
	if (rc < 0)
		goto out;
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = kv_err_set(err, -errno, "shard_secret_file %s: %s", path,
					strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (i = 0; i < len && secret_char(buf[i]); i++)
		;
	if (i != len || len < KV_SECRET_MIN || len > KV_SECRET_MAX) {
		rc = kv_err_set(err, -EINVAL,
				"shard_secret_file %s must hold one line of %d to %d "
				"characters from a-z 0-9 - _ (make one with: od -An -tx1 -N32 "
				"/dev/urandom | tr -d ' \\n')",
				path, KV_SECRET_MIN, KV_SECRET_MAX);
		goto out;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
out:
	explicit_bzero(buf, sizeof(buf));
	(void)close(fd);
	return rc;
}

int kv_sign_url(const char *secret, const char *url, int64_t expires, char *out, size_t cap)
{
	char text[32 + KV_PATH_MAX + 64 + KV_SECRET_MAX + 2], exp[24], b64[32];
	const char *host = strstr(url, "://"), *path;
	uint8_t md[KV_MD5_LEN];
	size_t plen, slen = strlen(secret);
	int tlen, blen, n;

	path = host != NULL ? strchr(host + 3, '/') : NULL;
	if (path == NULL || strchr(path, '?') != NULL || expires < 0)
		return -EINVAL;
	plen = strlen(path);
	(void)snprintf(exp, sizeof(exp), "%" PRId64, expires);
	if (plen > KV_PATH_MAX + 64 || slen > KV_SECRET_MAX)
		return -ENAMETOOLONG;
	/* "EXPIRES" "PATH" " " "SECRET", as secure_link_md5 in tinykv-shard's config */
	tlen = snprintf(text, sizeof(text), "%s%s %s", exp, path, secret);
	if (tlen < 0 || (size_t)tlen >= sizeof(text)) {
		explicit_bzero(text, sizeof(text));
		return -ENAMETOOLONG;
	}
	kv_md5(text, (size_t)tlen, md);
	explicit_bzero(text, sizeof(text));
	blen = kv_b64url_encode(md, sizeof(md), b64, sizeof(b64));
	if (blen < 0)
		return blen;
	while (blen > 0 && b64[blen - 1] == '=')
		b64[--blen] = '\0';
	n = snprintf(out, cap, "%s?md5=%s&expires=%s", url, b64, exp);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}
