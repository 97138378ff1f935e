/* PROPFIND replies (core/propfind.c), fed to the parser by hand: entries, pieces, errors. */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "walk.h"

struct got {
	int n;
	char href[4][64];
	int is_dir[4];
	long long size[4], mtime[4];
};

static int collect(const struct kv_dav_entry *e, void *arg)
{
	struct got *g = arg;

	if (g->n < 4) {
		(void)snprintf(g->href[g->n], sizeof(g->href[g->n]), "%s", e->href);
		g->is_dir[g->n] = e->is_dir;
		g->size[g->n] = e->size;
		g->mtime[g->n] = e->mtime;
	}
	g->n++;
	return 0;
}

static int parse(const char *xml, size_t piece, struct got *g, struct kv_err *err)
{
	struct kv_propfind *p;
	size_t len = strlen(xml), off;
	int rc = kv_propfind_new(collect, g, &p, err);

	memset(g, 0, sizeof(*g));
	if (rc < 0)
		return rc;
	for (off = 0; rc == 0 && off < len; off += piece)
		rc = kv_propfind_feed(xml + off, len - off < piece ? len - off : piece, p);
	rc = kv_propfind_finish(p, rc, "http://s/", err);
	kv_propfind_free(p);
	return rc;
}

#define R(body) "<D:response>" body "</D:response>"

UNIT_TEST(propfind_entries_in_any_pieces)
{
	static const char xml[] = "<?xml version=\"1.0\"?><D:multistatus xmlns:D=\"DAV:\">" R(
		"<D:href>/5d/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>"
		"</D:resourcetype></D:prop></D:propstat>")
		R("<D:href>/5d/41/aGVsbG8%3D</D:href><D:propstat><D:prop><D:getcontentlength>5"
		  "</D:getcontentlength><D:getlastmodified>Tue, 02 Dec 2025 10:00:01 GMT"
		  "</D:getlastmodified></D:prop></D:propstat>") "</D:multistatus>";
	struct kv_err err;
	struct got g;
	size_t piece;

	for (piece = 1; piece <= sizeof(xml); piece += 7) {
		CHECK(parse(xml, piece, &g, &err) == 0);
		CHECK(g.n == 2);
		CHECK_STR(g.href[0], "/5d/");
		CHECK(g.is_dir[0] == 1 && g.size[0] == -1);
		CHECK_STR(g.href[1], "/5d/41/aGVsbG8=");
		CHECK(g.is_dir[1] == 0 && g.size[1] == 5 && g.mtime[1] == 1764669601);
	}
	CHECK(parse("<D:multistatus xmlns:D=\"DAV:\"><D:response>", 4, &g, &err) == -EPROTO);
	CHECK(strncmp(err.msg, "PROPFIND http://s/: bad reply: ", 31) == 0);
}

/* An empty <getcontentlength/> or <getlastmodified/> is unknown; it used to read the
 * text of whatever field came before it (here the first response's length, 42). */
UNIT_TEST(propfind_empty_fields_are_unknown)
{
	static const char xml[] = "<D:multistatus xmlns:D=\"DAV:\">" R(
		"<D:href>/a</D:href><D:getlastmodified>Tue, 02 Dec 2025 10:00:01 GMT"
		"</D:getlastmodified><D:getcontentlength>42</D:getcontentlength>")
		R("<D:getcontentlength/><D:href>/b</D:href>")
			R("<D:getcontentlength>7</D:getcontentlength><D:getlastmodified></"
			  "D:getlastmodified>"
			  "<D:href>/c</D:href>") "</D:multistatus>";
	struct kv_err err;
	struct got g;

	CHECK(parse(xml, sizeof(xml), &g, &err) == 0);
	CHECK(g.n == 3);
	CHECK(g.size[0] == 42 && g.mtime[0] == 1764669601);
	CHECK_STR(g.href[1], "/b");
	CHECK(g.size[1] == -1);
	CHECK(g.size[2] == 7 && g.mtime[2] == 0);
}

/* Found by fuzzing (test/fuzz/propfind): "Tue, 02 Dec 4050 10:00:00 GMT" gave a time
 * that overflows as nanoseconds (rebuild multiplies by 10^9: undefined behaviour). Such a
 * date is unknown (0), as is a length that is not a decimal number ("-5" was -5). */
UNIT_TEST(propfind_dates_and_lengths_in_range)
{
	static const char xml[] = "<D:multistatus xmlns:D=\"DAV:\">" R(
		"<D:href>/a</D:href><D:getlastmodified>Tue, 02 Dec 4050 10:00:00 GMT"
		"</D:getlastmodified><D:getcontentlength>-5</D:getcontentlength>")
		R("<D:href>/b</D:href><D:getlastmodified>Sat, 01 Jan 1000 00:00:00 GMT"
		  "</D:getlastmodified><D:getcontentlength>99999999999999999999</"
		  "D:getcontentlength>")
			R("<D:href>/c</D:href><D:getlastmodified>Thu, 01 Jan 1970 00:00:10 GMT"
			  "</D:getlastmodified><D:getcontentlength> 12x</D:getcontentlength>")
				R("<D:href>/d</D:href><D:getlastmodified>Wed, 31 Dec 1969 23:59:59 "
				  "GMT"
				  "</D:getlastmodified><D:getcontentlength>\n 1048576 "
				  "\n</D:getcontentlength>") "</D:multistatus>";
	struct kv_err err;
	struct got g;

	CHECK(parse(xml, sizeof(xml), &g, &err) == 0);
	CHECK(g.n == 4);
	CHECK(g.mtime[0] == 0 && g.size[0] == -1);
	CHECK(g.mtime[1] == 0 && g.size[1] == -1);
	CHECK(g.mtime[2] == 10 && g.size[2] == -1);
	CHECK(g.mtime[3] == -1 && g.size[3] == 1048576);
}
