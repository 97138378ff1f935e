/* Records and intents survive an encode/decode round trip; damage is detected. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "record.h"
#include "unit.h"

UNIT_TEST(record_round_trip)
{
	struct kv_record r, back;
	uint8_t buf[KV_RECORD_MAX];
	size_t n, cut;

	memset(&r, 0, sizeof(r));
	r.type = KV_TYPE_REG;
	r.mode = 0640;
	r.uid = 1000;
	r.gid = 100;
	r.size = (uint64_t)5 << 40;
	r.mtime_ns = 1700000000123456789LL;
	r.ctime_ns = -5;
	r.gen = 0xdeadbeefcafef00dULL;
	memset(r.md5, 0xab, sizeof(r.md5));
	r.nrep = 2;
	strcpy(r.rep[0], "localhost:3001");
	strcpy(r.rep[1], "localhost:3002");
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(n > 0);
	/* Decoding sets every field and string, not the bytes past a string's end. */
	memset(&back, 0, sizeof(back));
	CHECK(kv_record_decode(buf, n, &back) == 0);
	CHECK(memcmp(&r, &back, sizeof(r)) == 0);
	for (cut = 0; cut < n; cut++)
		CHECK(kv_record_decode(buf, cut, &back) == -KV_ECORRUPT);
	buf[0] = 99; /* unknown version */
	CHECK(kv_record_decode(buf, n, &back) == -KV_ECORRUPT);
}

UNIT_TEST(replica_lists_compare_in_order)
{
	struct kv_record r;
	char same[2][KV_SHARD_NAME_MAX + 1] = { "a:1", "b:2" };
	char swapped[2][KV_SHARD_NAME_MAX + 1] = { "b:2", "a:1" };

	memset(&r, 0, sizeof(r));
	r.nrep = 2;
	strcpy(r.rep[0], "a:1");
	strcpy(r.rep[1], "b:2");
	CHECK(kv_record_replicas_are(&r, same, 2));
	CHECK(!kv_record_replicas_are(&r, swapped, 2)); /* the order is the read order */
	CHECK(!kv_record_replicas_are(&r, same, 1));
	CHECK(kv_record_has_replica(&r, "b:2") && !kv_record_has_replica(&r, "c:3"));
}

UNIT_TEST(symlink_record_round_trip)
{
	struct kv_record r, back;
	uint8_t buf[KV_RECORD_MAX];
	size_t n;

	memset(&r, 0, sizeof(r));
	r.type = KV_TYPE_LNK;
	r.mode = 0777;
	memset(r.target, 'a', KV_TARGET_MAX);
	r.target_len = KV_TARGET_MAX;
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(n > KV_TARGET_MAX);
	memset(&back, 0, sizeof(back)); /* as above */
	CHECK(kv_record_decode(buf, n, &back) == 0);
	CHECK(back.target_len == KV_TARGET_MAX && back.target[KV_TARGET_MAX] == '\0');
	CHECK(memcmp(&r, &back, sizeof(r)) == 0);
}

UNIT_TEST(intent_round_trip)
{
	static struct kv_intent in, back;
	static uint8_t buf[KV_INTENT_MAX];
	size_t n;
	int i;

	memset(&in, 0, sizeof(in));
	in.op = KV_OP_RENAME;
	in.phase = KV_PHASE_COMMIT;
	in.pid = 4242;
	in.start = 987654321;
	in.since_ns = 42;
	for (i = 0; i < KV_INTENT_FILES; i++)
		CHECK(kv_fileref_add(in.cleanup, &in.ncleanup, KV_INTENT_FILES, "localhost:3001",
				     "some/key", 8, (uint64_t)i) == 0);
	CHECK(kv_fileref_add(in.cleanup, &in.ncleanup, KV_INTENT_FILES, "x", "y", 1, 0) == -ENOSPC);
	CHECK(kv_fileref_add(in.moves, &in.nmoves, KV_MAX_REPLICAS, "s:1", "k", 1, 77) == 0);
	in.nrecops = 2;
	in.recops[0].klen = 3;
	memcpy(in.recops[0].key, "new", 3);
	in.recops[0].expect_gen = 0;
	in.recops[0].rec.type = KV_TYPE_REG;
	in.recops[0].rec.nrep = 1;
	strcpy(in.recops[0].rec.rep[0], "s:1");
	in.recops[1].klen = 3;
	memcpy(in.recops[1].key, "old", 3);
	in.recops[1].expect_gen = 9;
	in.recops[1].remove = 1;
	n = kv_intent_encode(&in, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK(kv_intent_decode(buf, n, &back) == 0);
	CHECK(memcmp(&in, &back, sizeof(in)) == 0);
	CHECK(kv_intent_decode(buf, n - 1, &back) == -KV_ECORRUPT);
}

UNIT_TEST(tmp_path_is_beside_the_value)
{
	char path[KV_PATH_MAX];

	CHECK(kv_tmp_path("hello", 5, 0x1f, path, sizeof(path)) == 27);
	CHECK_STR(path, "/5d/41/tmp.000000000000001f");
	CHECK(kv_tmp_path_legacy("hello", 5, 0x1f, path, sizeof(path)) == 28);
	CHECK_STR(path, "/5d/41/.tmp-000000000000001f");
}

/* The shards' PROPFIND leaves out names that start with '.', and verify must see a
 * temporary upload a crash left: its name is not hidden, and can never be a value's
 * (kv_path_key refuses it), for a short key and for one split into segments. */
UNIT_TEST(tmp_name_is_listed_and_never_a_value)
{
	char key[KV_KEY_MAX], path[KV_PATH_MAX], back[KV_KEY_MAX + 1], value[KV_PATH_MAX];
	const char *last;
	size_t lens[] = { 1, 5, 189, 190, 380, KV_KEY_MAX }, i;
	int n;

	memset(key, 'k', sizeof(key));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = kv_tmp_path(key, lens[i], 0xfedcba9876543210ULL, path, sizeof(path));
		CHECK(n > 0);
		last = strrchr(path, '/') + 1;
		CHECK_STR(last, "tmp.fedcba9876543210");
		CHECK(kv_path_key(path, (size_t)n, back, sizeof(back)) == -EINVAL);
		/* beside the value: in the directory of its last segment */
		CHECK(kv_key_path(key, lens[i], value, sizeof(value)) > 0);
		CHECK(strncmp(path, value, (size_t)(last - path)) == 0);
		CHECK(strchr(value + (last - path), '/') == NULL);
	}
}

/* Found by fuzzing (test/fuzz/record, test/fuzz/intent): a replica "localh\0st:3001"
 * decoded as the shard "localh", and an intent's file on shard "localh" likewise. A NUL
 * inside a shard name, key or link target is damage: the record does not decode. */
UNIT_TEST(records_with_a_nul_in_a_name_are_corrupt)
{
	static struct kv_intent in, back;
	static uint8_t ibuf[KV_INTENT_MAX];
	struct kv_record r, rback;
	uint8_t buf[KV_RECORD_MAX], *p;
	size_t n;

	memset(&r, 0, sizeof(r));
	r.type = KV_TYPE_REG;
	r.nrep = 1;
	(void)snprintf(r.rep[0], sizeof(r.rep[0]), "localhost:3001");
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(kv_record_decode(buf, n, &rback) == 0);
	p = memmem(buf, n, "localhost", 9);
	CHECK(p != NULL);
	if (p != NULL)
		p[6] = '\0';
	CHECK(kv_record_decode(buf, n, &rback) == -KV_ECORRUPT);

	memset(&r, 0, sizeof(r));
	r.type = KV_TYPE_LNK;
	r.target_len = 3;
	memcpy(r.target, "a\0b", 3);
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(kv_record_decode(buf, n, &rback) == -KV_ECORRUPT);

	memset(&in, 0, sizeof(in));
	in.op = KV_OP_DELETE;
	CHECK(kv_fileref_add(in.undo, &in.nundo, KV_INTENT_FILES, "localhost:3001", "k", 1, 0) ==
	      0);
	n = kv_intent_encode(&in, ibuf, sizeof(ibuf));
	CHECK(kv_intent_decode(ibuf, n, &back) == 0);
	p = memmem(ibuf, n, "localhost", 9);
	CHECK(p != NULL);
	if (p != NULL)
		p[6] = '\0';
	CHECK(kv_intent_decode(ibuf, n, &back) == -KV_ECORRUPT);
	in.undo[0].key[0] = '\0'; /* a key "\0" of length 1 */
	n = kv_intent_encode(&in, ibuf, sizeof(ibuf));
	CHECK(kv_intent_decode(ibuf, n, &back) == -KV_ECORRUPT);
}

/* Version 2: special files with their device number, and the inode number, round trip. */
UNIT_TEST(record_v2_special_files_round_trip)
{
	static const uint8_t types[] = { KV_TYPE_FIFO, KV_TYPE_CHR, KV_TYPE_BLK, KV_TYPE_SOCK };
	struct kv_record r, back;
	uint8_t buf[KV_RECORD_MAX];
	size_t n, cut, i;

	for (i = 0; i < sizeof(types); i++) {
		memset(&r, 0, sizeof(r));
		r.type = types[i];
		r.mode = 0620;
		r.uid = 65534;
		r.ino = 0x0123456789abcdefULL;
		r.rdev = types[i] == KV_TYPE_CHR || types[i] == KV_TYPE_BLK ? 0x10203 : 0;
		n = kv_record_encode(&r, buf, sizeof(buf));
		CHECK(n > 0 && buf[0] == 3);	/* written as the current version */
		memset(&back, 0, sizeof(back)); /* as above */
		CHECK(kv_record_decode(buf, n, &back) == 0);
		CHECK(memcmp(&r, &back, sizeof(r)) == 0);
		for (cut = 0; cut < n; cut++)
			CHECK(kv_record_decode(buf, cut, &back) == -KV_ECORRUPT);
	}
	buf[1] = KV_TYPE_LAST + 1; /* a type no version has */
	CHECK(kv_record_decode(buf, n, &back) == -KV_ECORRUPT);
}

/* A version-1 record, as an older tinykv wrote it (no inode number, no rdev), decodes:
 * bytes of test/fuzz/corpus/record/regular. Written again, it is version 3 (with nlink 1
 * and no value key: one name, its own value). */
UNIT_TEST(record_v1_still_decodes_and_upgrades)
{
	static const uint8_t v1[] = {
		0x01, 0x01, 0xa4, 0x01, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00, 0x64, 0x00, 0x00,
		0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0xcd, 0x85, 0x3d,
		0xfe, 0x9c, 0x97, 0x17, 0x15, 0xcd, 0x85, 0x3d, 0xfe, 0x9c, 0x97, 0x17, 0x15,
		0xcd, 0x85, 0x3d, 0xfe, 0x9c, 0x97, 0x17, 0x0d, 0xf0, 0xfe, 0xca, 0xef, 0xbe,
		0xad, 0xde, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
		0xab, 0xab, 0xab, 0xab, 0xab, 0x02, 0x0e, 'l',	'o',  'c',  'a',  'l',	'h',
		'o',  's',  't',  ':',	'3',  '0',  '0',  '1',	0x0e, 'l',  'o',  'c',	'a',
		'l',  'h',  'o',  's',	't',  ':',  '3',  '0',	'0',  '2',  0x00, 0x00
	};
	struct kv_record r, back;
	uint8_t buf[KV_RECORD_MAX];
	size_t n;

	memset(&r, 0, sizeof(r)); /* as above */
	CHECK(kv_record_decode(v1, sizeof(v1), &r) == 0);
	CHECK(r.type == KV_TYPE_REG && r.mode == 0644 && r.uid == 1000 && r.gid == 100);
	CHECK(r.size == 5 && r.gen == 0xdeadbeefcafef00dULL && r.nrep == 2);
	CHECK_STR(r.rep[1], "localhost:3002");
	CHECK(r.ino == 0 && r.rdev == 0 && r.nlink == 1 && r.vkey_len == 0);
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(n == sizeof(v1) + 16 + 6 && buf[0] == 3);
	memset(&back, 0, sizeof(back));
	CHECK(kv_record_decode(buf, n, &back) == 0);
	CHECK(memcmp(&r, &back, sizeof(r)) == 0);
	/* Version 1 knew no special files: a FIFO type in one is damage. */
	memcpy(buf, v1, sizeof(v1));
	buf[1] = KV_TYPE_FIFO;
	buf[sizeof(v1) - 2] = 0;
	CHECK(kv_record_decode(buf, sizeof(v1), &back) == -KV_ECORRUPT);
	/* Nor is a version-1 record followed by version 2's fields. */
	memcpy(buf, v1, sizeof(v1));
	memset(buf + sizeof(v1), 0, 16);
	CHECK(kv_record_decode(buf, sizeof(v1) + 16, &back) == -KV_ECORRUPT);
}

/* The inode number: the stored one, else md5 of the key (what st_ino was before version
 * 2, so a file an older tinykv made keeps its number); the root is 1. */
UNIT_TEST(record_ino_falls_back_to_the_key)
{
	struct kv_record r;
	uint64_t a, b;

	memset(&r, 0, sizeof(r));
	a = kv_record_ino(&r, "dir/file", 8);
	b = kv_record_ino(NULL, "dir/file", 8);
	CHECK(a == b && a > 1);
	CHECK(kv_record_ino(&r, "dir/other", 9) != a);
	CHECK(kv_record_ino(&r, "", 0) == 1);
	CHECK(a == 11625157427059114847ULL); /* md5's first 8 bytes, big-endian */
	r.ino = 77;
	CHECK(kv_record_ino(&r, "dir/file", 8) == 77);
	CHECK(kv_record_ino(&r, "", 0) == 1);
}
