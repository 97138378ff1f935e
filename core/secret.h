/* secret.h — the cluster's shard secret (DESIGN §7): reading it from its file safely,
 * and signing read URLs with it for nginx's secure_link module.
 *
 * The shards take writes and listings only with the secret in the KV_SECRET_HEADER
 * request header (the WebDAV client, dav.c, sends it on every request); with
 * `tinykv-shard --signed-reads` they also take reads only with the header or a signed,
 * unexpired URL. The secret is never part of a URL, a message or a log line.
 */
#ifndef KV_SECRET_H
#define KV_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KV_SECRET_MIN 32
#define KV_SECRET_MAX 256
#define KV_SECRET_HEADER "X-Tinykv-Secret"
/* What kv_sign_url appends: "?md5=" 22 characters "&expires=" up to 19 digits. */
#define KV_SIGNATURE_MAX 64

/*
 * Read the secret from path into out (cap > KV_SECRET_MAX; NUL-terminated). The file must
 * be a regular file, not a symbolic link, owned by the effective user reading it and
 * without any group or other permission, in a directory of root's or that user's that
 * group and others cannot write in unless it is sticky (so nobody else can read or
 * replace it), holding
 * one line of KV_SECRET_MIN..KV_SECRET_MAX characters from a-z 0-9 '-' '_' (tinykv-shard
 * checks the same). Returns 0; -ELOOP (a symlink), -EPERM (owner or mode: the message
 * says what to run), -EINVAL (content), or the -errno of open/read. Messages name the
 * file, never its content. Any thread.
 */
int kv_secret_load(const char *path, char *out, size_t cap, struct kv_err *err);

/*
 * url with the signature nginx's secure_link checks appended: "URL?md5=H&expires=E" where
 * E is expires (seconds since the epoch) and H the md5 of "E" ‖ PATH ‖ " " ‖ secret in
 * base64url without padding, PATH being url's path (from the first '/' after the host;
 * url has no query). Into out (cap >= strlen(url) + KV_SIGNATURE_MAX). Returns the length,
 * -EINVAL for a url without a path or with a query, -ENAMETOOLONG when out is too small.
 * Thread-safe.
 */
int kv_sign_url(const char *secret, const char *url, int64_t expires, char *out, size_t cap);

#endif
