/* release.h — the one version number of tinykv: both programs print it (--version, the
 * tinykvd start line) and the man pages' .Os lines carry it (test/e2e/cluster.bats checks
 * they agree). */
#ifndef KV_RELEASE_H
#define KV_RELEASE_H

#define TINYKV_VERSION "0.1.0"

#endif
