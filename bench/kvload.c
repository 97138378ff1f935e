/* kvload.c — a closed-loop load generator for whole key life cycles: each of W workers
 * does PUT, GET (following the redirect, reading the value) and DELETE of a fresh key,
 * over and over, for a number of seconds; prints completed cycles per second.
 *
 *   kvload kv  URL W SECONDS [SIZE]   against tinykvd (PUT 201, GET 302→200, DELETE 200)
 *   kvload dav URL W SECONDS [SIZE]   against a WebDAV server directly (the ceiling),
 *                                     at hashed /XX/YY/NAME paths like tinykv's layout,
 *                                     writing with the X-Tinykv-Secret header read from
 *                                     the file $KVLOAD_SECRET_FILE (if set), as the core
 *
 * Every answer is checked (status, and the value read back); errors are counted and
 * reported, and make the exit status non-zero.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum step { PUT, GET, DEL };

struct worker {
	CURL *e;
	int id;
	long seq;
	enum step step;
	char url[512];
	char got[4096];
	size_t got_len;
};

static const char *mode, *base;
static char *value;
static struct curl_slist *secret_hdr; /* dav mode's header for PUT and DELETE, or NULL */
static size_t value_len;
static long cycles, errors;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct worker *w = arg;
	size_t len = size * n, room = sizeof(w->got) - w->got_len;

	memcpy(w->got + w->got_len, p, len < room ? len : room);
	w->got_len += len < room ? len : room;
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	size_t *off = arg, left = value_len - *off, take = size * n < left ? size * n : left;

	memcpy(buf, value + *off, take);
	*off += take;
	return take;
}

static size_t put_off[256];

/* The ceiling's URL for a fresh key: /XX/YY/NAME from a hash of NAME, like tinykv's own
 * layout, so that both pay for creating directories alike. */
static void dav_url(struct worker *w)
{
	char name[128];
	unsigned h = 5381;
	const char *p;

	snprintf(name, sizeof(name), "kvload-%d-%ld-%ld", w->id, (long)time(NULL), w->seq);
	for (p = name; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	snprintf(w->url, sizeof(w->url), "%s/%02x/%02x/%s", base, h >> 24, (h >> 16) & 0xff, name);
}

static void start(CURLM *m, struct worker *w)
{
	CURL *e = w->e;

	curl_multi_remove_handle(m, e);
	curl_easy_reset(e);
	w->got_len = 0;
	if (w->step == PUT) {
		w->seq++;
		if (!strcmp(mode, "kv"))
			snprintf(w->url, sizeof(w->url), "%s/kvload-%d-%ld-%ld", base, w->id,
				 (long)time(NULL), w->seq);
		else
			dav_url(w);
		put_off[w->id] = 0;
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, &put_off[w->id]);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)value_len);
	} else if (w->step == GET) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	curl_easy_setopt(e, CURLOPT_URL, w->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e, CURLOPT_PRIVATE, w);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->step == GET ? NULL : secret_hdr);
	curl_multi_add_handle(m, e);
}

/* The X-Tinykv-Secret header from the first line of FILE; exits on failure. */
static struct curl_slist *read_secret(const char *file)
{
	char line[300], hdr[340];
	FILE *f = fopen(file, "r");

	if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
		perror(file);
		exit(2);
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	snprintf(hdr, sizeof(hdr), "X-Tinykv-Secret: %s", line);
	return curl_slist_append(NULL, hdr);
}

static int ok(struct worker *w, CURLcode res)
{
	long status = 0;

	curl_easy_getinfo(w->e, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK)
		return 0;
	switch (w->step) {
	case PUT: return status == 201 || status == 204;
	case GET:
		return status == 200 && w->got_len == value_len &&
		       memcmp(w->got, value, value_len) == 0;
	default: return status == 200 || status == 204;
	}
}

int main(int argc, char **argv)
{
	struct worker *ws;
	double t0, secs;
	CURLM *m;
	int n, i, running;

	if (argc < 5) {
		fprintf(stderr, "usage: kvload kv|dav URL WORKERS SECONDS [SIZE]\n");
		return 2;
	}
	mode = argv[1];
	base = argv[2];
	n = atoi(argv[3]);
	secs = atof(argv[4]);
	value_len = argc > 5 ? (size_t)atol(argv[5]) : 100;
	if (n < 1 || n > 256 || value_len > 4096)
		return 2;
	value = malloc(value_len);
	for (i = 0; i < (int)value_len; i++)
		value[i] = (char)('a' + i % 26);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(mode, "kv") && getenv("KVLOAD_SECRET_FILE") != NULL)
		secret_hdr = read_secret(getenv("KVLOAD_SECRET_FILE"));
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)(4 * n));
	ws = calloc((size_t)n, sizeof(*ws));
	for (i = 0; i < n; i++) {
		ws[i].e = curl_easy_init();
		ws[i].id = i;
		ws[i].step = PUT;
		start(m, &ws[i]);
	}
	t0 = now();
	while (now() - t0 < secs) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct worker *w;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
			if (!ok(w, msg->data.result)) {
				errors++;
				w->step = PUT; /* start a fresh key */
			} else if (w->step == DEL) {
				cycles++;
				w->step = PUT;
			} else {
				w->step++;
			}
			start(m, w);
		}
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	secs = now() - t0;
	printf("%.0f cycles/s (%ld cycles, %ld errors, %d workers, %zu-byte values)\n",
	       cycles / secs, cycles, errors, n, value_len);
	return errors > cycles / 100 ? 1 : 0;
}
