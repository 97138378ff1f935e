/* propfind.c — fuzzes the PROPFIND reply parser (core/propfind.c, expat underneath) that
 * rebuild and verify trust to say what a shard holds.
 *
 * Input: byte 0 sets the size of the pieces the reply arrives in (as a network would cut
 * it), byte 1 after how many entries the callback stops the walk (0: never), the rest is
 * the reply. The reply is parsed twice, whole and in pieces.
 * Properties: every entry's href is a string within the parser's buffer, its size is a
 * size or -1 and its mtime a time that nanoseconds can also express; both parses end alike and report the same entries; a callback's stop is
 * what the parse returns.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "walk.h"

#define HREF_MAX 4096	/* propfind.c's TEXT_MAX */

struct seen {
	int n, stop_after;
	uint64_t hash;		/* FNV-1a over every entry's fields, in order */
};

static void mix(struct seen *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		s->hash = (s->hash ^ b[i]) * 0x100000001b3ULL;
}

static int on_entry(const struct kv_dav_entry *e, void *arg)
{
	struct seen *s = arg;
	size_t hl;

	FUZZ_CHECK(e->href != NULL);
	hl = strnlen(e->href, HREF_MAX);
	FUZZ_CHECK(hl > 0 && hl < HREF_MAX);
	FUZZ_CHECK(e->size >= -1);
	FUZZ_CHECK(e->mtime >= -(INT64_MAX / 1000000000) &&	/* as ns, too */
		   e->mtime <= INT64_MAX / 1000000000);
	FUZZ_CHECK(e->is_dir == 0 || e->is_dir == 1);
	mix(s, e->href, hl + 1);
	mix(s, &e->is_dir, sizeof(e->is_dir));
	mix(s, &e->size, sizeof(e->size));
	mix(s, &e->mtime, sizeof(e->mtime));
	s->n++;
	return s->stop_after > 0 && s->n >= s->stop_after ? -ECANCELED : 0;
}

static int parse(const uint8_t *xml, size_t len, size_t piece, struct seen *s)
{
	struct kv_propfind *p;
	struct kv_err err;
	size_t off;
	int rc;

	FUZZ_CHECK(kv_propfind_new(on_entry, s, &p, &err) == 0);
	for (rc = 0, off = 0; rc == 0 && off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;

		rc = kv_propfind_feed(xml + off, n, p);
	}
	rc = kv_propfind_finish(p, rc, "fuzz", &err);
	kv_propfind_free(p);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ECANCELED);
	FUZZ_CHECK(rc != -ECANCELED || (s->stop_after > 0 && s->n == s->stop_after));
	if (rc == -EPROTO)
		FUZZ_CHECK(err.code == rc && !strncmp(err.msg, "PROPFIND fuzz: bad reply: ", 26));
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole = { 0, 0, 0xcbf29ce484222325ULL }, cut;
	size_t piece;
	int rc1, rc2;

	if (size < 2)
		return 0;
	piece = (size_t)data[0] % 64 + 1;
	whole.stop_after = data[1] % 8;
	cut = whole;
	rc1 = parse(data + 2, size - 2, size, &whole);
	rc2 = parse(data + 2, size - 2, piece, &cut);
	FUZZ_CHECK(rc1 == rc2);
	if (rc1 != -EPROTO)
		FUZZ_CHECK(whole.n == cut.n && whole.hash == cut.hash);
	return 0;
}
