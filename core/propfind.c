/* propfind.c — WebDAV multistatus replies (RFC 4918 §13) parsed with expat as they
 * stream in; only what tinykv needs: href, resourcetype, getcontentlength,
 * getlastmodified. Any thread, one parser per reply (walk.c's callers: rebuild's and
 * verify's workers). */
#include "walk.h"

#include <errno.h>
#include <expat.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"

#define TEXT_MAX 4096

enum field { F_NONE, F_HREF, F_LENGTH, F_MODIFIED };

struct kv_propfind {
	XML_Parser xp;
	kv_dav_entry_fn fn;
	void *arg;
	int rc;
	int in_response;
	enum field field;
	char text[TEXT_MAX];
	size_t tlen;
	char href[TEXT_MAX];
	int is_dir;
	int64_t size, mtime;
};

/* "DAV:|name" → "name" for elements in the DAV: namespace, else NULL. */
static const char *dav_name(const char *el)
{
	return strncmp(el, "DAV:|", 5) == 0 ? el + 5 : NULL;
}

static void XMLCALL on_start(void *data, const char *el, const char **attr)
{
	struct kv_propfind *p = data;
	const char *n = dav_name(el);

	(void)attr;
	if (n == NULL)
		return;
	if (!strcmp(n, "response")) {
		p->in_response = 1;
		p->href[0] = '\0';
		p->is_dir = 0;
		p->size = -1;
		p->mtime = 0;
	} else if (!strcmp(n, "collection")) {
		p->is_dir = 1;
	} else if (!strcmp(n, "href") || !strcmp(n, "getcontentlength") ||
		   !strcmp(n, "getlastmodified")) {
		p->field = n[0] == 'h' ? F_HREF : n[3] == 'c' ? F_LENGTH : F_MODIFIED;
		p->tlen = 0;
		p->text[0] = '\0'; /* an empty element has no text of its own */
	}
}

static void XMLCALL on_text(void *data, const char *s, int len)
{
	struct kv_propfind *p = data;
	size_t n = (size_t)len;

	if (p->field == F_NONE)
		return;
	if (n > TEXT_MAX - 1 - p->tlen)
		n = TEXT_MAX - 1 - p->tlen;
	memcpy(p->text + p->tlen, s, n);
	p->tlen += n;
	p->text[p->tlen] = '\0';
}

/* Seconds since the epoch, or 0 (unknown) for what is not a date, or not one that
 * nanoseconds in an int64_t can hold (years 1678 to 2262), as records keep times. */
static int64_t http_date(const char *s)
{
	const int64_t lim = INT64_MAX / 1000000000;
	struct tm tm;
	const char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return 0;
	t = timegm(&tm);
	return t >= -lim && t <= lim ? (int64_t)t : 0;
}

/* Decimal digits (blanks around them allowed), or -1: unknown. */
static int64_t content_length(const char *s)
{
	const char *p = s;
	char *end;
	long long n;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	n = strtoll(p, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
		end++;
	return errno == 0 && *end == '\0' ? (int64_t)n : -1;
}

static void end_field(struct kv_propfind *p)
{
	size_t n;

	switch (p->field) {
	case F_HREF:
		if (kv_url_decode(p->text, p->tlen, p->href, TEXT_MAX - 1, &n, NULL) < 0)
			n = 0;
		p->href[n] = '\0';
		break;
	case F_LENGTH: p->size = content_length(p->text); break;
	case F_MODIFIED: p->mtime = http_date(p->text); break;
	default: break;
	}
	p->field = F_NONE;
}

static void XMLCALL on_end(void *data, const char *el)
{
	struct kv_propfind *p = data;
	const char *n = dav_name(el);
	struct kv_dav_entry e;

	if (n == NULL)
		return;
	if (p->field != F_NONE) {
		end_field(p);
		return;
	}
	if (strcmp(n, "response") != 0 || !p->in_response)
		return;
	p->in_response = 0;
	if (p->href[0] == '\0' || p->rc < 0)
		return;
	e.href = p->href;
	e.is_dir = p->is_dir;
	e.size = p->size;
	e.mtime = p->mtime;
	p->rc = p->fn(&e, p->arg);
	if (p->rc < 0)
		XML_StopParser(p->xp, XML_FALSE);
}

int kv_propfind_new(kv_dav_entry_fn fn, void *arg, struct kv_propfind **out, struct kv_err *err)
{
	struct kv_propfind *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	p->fn = fn;
	p->arg = arg;
	p->xp = XML_ParserCreateNS(NULL, '|');
	if (p->xp == NULL) {
		free(p);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	*out = p;
	return 0;
}

int kv_propfind_feed(const void *buf, size_t len, void *arg)
{
	struct kv_propfind *p = arg;

	if (len > INT_MAX)
		return -EPROTO;
	if (XML_Parse(p->xp, buf, (int)len, XML_FALSE) == XML_STATUS_ERROR)
		return p->rc < 0 ? p->rc : -EPROTO;
	return 0;
}

int kv_propfind_finish(struct kv_propfind *p, int rc, const char *what, struct kv_err *err)
{
	if (rc == 0 && XML_Parse(p->xp, NULL, 0, XML_TRUE) == XML_STATUS_ERROR)
		rc = p->rc < 0 ? p->rc : -EPROTO;
	if (rc == -EPROTO)
		rc = kv_err_set(err, rc, "PROPFIND %s: bad reply: %s", what,
				XML_ErrorString(XML_GetErrorCode(p->xp)));
	else if (rc == 0 && p->rc < 0)
		rc = p->rc;
	return rc;
}

void kv_propfind_free(struct kv_propfind *p)
{
	if (p == NULL)
		return;
	XML_ParserFree(p->xp);
	free(p);
}

int kv_propfind_list(struct kv_dav *dav, const char *url, kv_dav_entry_fn fn, void *arg,
		     struct kv_err *err)
{
	struct kv_propfind *p;
	int rc = kv_propfind_new(fn, arg, &p, err);

	if (rc < 0)
		return rc;
	rc = kv_dav_propfind(dav, url, kv_propfind_feed, p, err);
	rc = kv_propfind_finish(p, rc, url, err);
	kv_propfind_free(p);
	return rc;
}
