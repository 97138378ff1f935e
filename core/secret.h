/* secret.h — the cluster's shard secret (DESIGN §7): reading it from its file safely.
 *
 * The shards take writes and listings only with the secret in the KV_SECRET_HEADER
 * request header (the WebDAV client, dav.c, sends it on every request). The secret is
 * never part of a URL, a message or a log line.
 */
#ifndef KV_SECRET_H
#define KV_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KV_SECRET_MIN 32
#define KV_SECRET_MAX 256
#define KV_SECRET_HEADER "X-Tinykv-Secret"

/*
 * Read the secret from path into out (cap > KV_SECRET_MAX; NUL-terminated). The file must
 * be a regular file, not a symbolic link, owned by the effective user reading it and
 * without any group or other permission (so nobody else can read or replace it), holding
 * one line of KV_SECRET_MIN..KV_SECRET_MAX characters from a-z 0-9 '-' '_' (tinykv-shard
 * checks the same). Returns 0; -ELOOP (a symlink), -EPERM (owner or mode: the message
 * says what to run), -EINVAL (content), or the -errno of open/read. Messages name the
 * file, never its content.
 */
int kv_secret_load(const char *path, char *out, size_t cap, struct kv_err *err);

#endif
