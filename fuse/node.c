/* node.c — the table of open files (a small hash table keyed by key bytes), and the one
 * place where a node's state changes: node_event, by the table of transitions drawn in
 * node.h. Locking: node.h.
 */
#include "node.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define BUCKETS 1024

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct node *table[BUCKETS];

static unsigned bucket(const char *key, size_t klen)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < klen; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % BUCKETS;
}

static struct node **find(const char *key, size_t klen)
{
	struct node **pp = &table[bucket(key, klen)];

	while (*pp != NULL && ((*pp)->klen != klen || memcmp((*pp)->key, key, klen) != 0))
		pp = &(*pp)->next;
	return pp;
}

int node_state_unstored(enum node_state s)
{
	return s == NODE_NEW || s == NODE_NEW_FAILED || s == NODE_CHANGED || s == NODE_FAILED;
}

int node_state_new(enum node_state s)
{
	return s == NODE_NEW || s == NODE_NEW_FAILED;
}

/* An event a state cannot have: the state stays and the mistake is logged. */
#define BAD (-1)
/* An event a state lets pass (a write to an unlinked file, say): the state stays. */
#define STAY (-2)

/* The transitions node.h draws: where event ev takes state s, STAY or BAD. */
static int next_state(enum node_state s, enum node_event ev)
{
	int gone = s == NODE_UNLINKED || s == NODE_HIDDEN;

	switch (ev) {
	case NODE_EV_SPOOL_OPENED: return s == NODE_STORED ? NODE_COPIED : STAY;
	case NODE_EV_SPOOL_CLOSED: return s == NODE_COPIED ? NODE_STORED : STAY;
	case NODE_EV_CREATED: return s == NODE_COPIED ? NODE_NEW : BAD;
	case NODE_EV_CHANGED:
		if (gone)
			return STAY;
		return node_state_new(s) ? NODE_NEW : NODE_CHANGED;
	case NODE_EV_STORED:
		if (gone)
			return STAY; /* unlinked (a rename onto it) while it went up */
		return node_state_unstored(s) ? NODE_COPIED : BAD;
	case NODE_EV_STORE_FAILED:
		if (s == NODE_NEW)
			return NODE_NEW_FAILED;
		return s == NODE_CHANGED ? NODE_FAILED : STAY; /* STORED: forgotten first */
	case NODE_EV_FORGOTTEN:
		if (gone)
			return STAY;
		return node_state_new(s) ? NODE_UNLINKED : NODE_STORED;
	case NODE_EV_UNLINKED: return NODE_UNLINKED;
	case NODE_EV_HIDDEN: return NODE_HIDDEN;
	case NODE_EV_UNHIDDEN: return s == NODE_HIDDEN ? NODE_UNLINKED : BAD;
	}
	return BAD;
}

enum node_state node_event_locked(struct node *n, enum node_event ev)
{
	int to = next_state(n->state, ev);

	if (to == BAD)
		syslog(LOG_ERR, "bug: open file %.*s: event %d in state %d ignored", (int)n->klen,
		       n->key, (int)ev, (int)n->state);
	else if (to != STAY)
		n->state = (enum node_state)to;
	return n->state;
}

/* Take n out of the table if it is there under its key. Caller holds table_lock. */
static void unlist(struct node *n)
{
	struct node **pp = find(n->key, n->klen);

	if (*pp == n) {
		*pp = n->next;
		n->next = NULL;
	}
}

enum node_state node_event(struct node *n, enum node_event ev)
{
	enum node_state s;

	pthread_mutex_lock(&table_lock);
	pthread_mutex_lock(&n->lock);
	s = node_event_locked(n, ev);
	if (s == NODE_UNLINKED)
		unlist(n);
	pthread_mutex_unlock(&n->lock);
	pthread_mutex_unlock(&table_lock);
	return s;
}

enum node_state node_state(struct node *n)
{
	enum node_state s;

	pthread_mutex_lock(&n->lock);
	s = n->state;
	pthread_mutex_unlock(&n->lock);
	return s;
}

struct node *node_get(const char *key, size_t klen, const struct kv_record *rec, int *fresh)
{
	struct node **pp, *n;

	pthread_mutex_lock(&table_lock);
	pp = find(key, klen);
	n = *pp;
	*fresh = n == NULL;
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n != NULL) {
			memcpy(n->key, key, klen);
			n->klen = klen;
			n->rec = *rec;
			n->size = rec->size;
			n->spool_fd = -1;
			pthread_mutex_init(&n->io, NULL);
			pthread_mutex_init(&n->lock, NULL);
			*pp = n;
		}
	}
	if (n != NULL)
		n->refs++;
	pthread_mutex_unlock(&table_lock);
	return n;
}

int node_snapshot(const char *key, size_t klen, struct kv_record *rec, int *created)
{
	struct node *n;
	int found = 0;

	pthread_mutex_lock(&table_lock);
	n = *find(key, klen);
	if (n != NULL) {
		pthread_mutex_lock(&n->lock);
		found = n->state != NODE_UNLINKED;
		if (found) {
			*rec = n->rec;
			rec->size = n->size;
			*created = node_state_new(n->state);
		}
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
	return found;
}

int node_local(const char *key, size_t klen, struct kv_record *rec)
{
	struct node *n;
	int found = 0;

	pthread_mutex_lock(&table_lock);
	n = *find(key, klen);
	if (n != NULL) {
		pthread_mutex_lock(&n->lock);
		/* Bytes of its own: anything but what the index holds read from the shards. */
		found = n->state != NODE_STORED && n->state != NODE_UNLINKED;
		if (found) {
			*rec = n->rec;
			rec->size = n->size;
		}
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
	return found;
}

size_t node_key_copy(struct node *n, char *key)
{
	size_t klen;

	pthread_mutex_lock(&n->lock);
	klen = n->klen;
	memcpy(key, n->key, klen);
	key[klen] = '\0';
	pthread_mutex_unlock(&n->lock);
	return klen;
}

int node_put(struct node *n)
{
	struct node **pp;
	int last;

	pthread_mutex_lock(&table_lock);
	last = --n->refs == 0;
	if (last) {
		pp = find(n->key, n->klen);
		if (*pp == n)
			*pp = n->next;
	}
	pthread_mutex_unlock(&table_lock);
	if (!last)
		return 0;
	stream_free(n->stream); /* not finished by a flush: removed from the shards */
	prefetch_free(n->pf);
	if (n->spool_fd >= 0)
		(void)close(n->spool_fd);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->io);
	free(n->ra);
	free(n);
	return 1;
}

void node_rename(const char *from, size_t flen, const char *to, size_t tlen)
{
	struct node **pp, *n, **dst;

	pthread_mutex_lock(&table_lock);
	pp = find(from, flen);
	n = *pp;
	dst = find(to, tlen);
	if (n != NULL && *dst == NULL) {
		*pp = n->next;
		pthread_mutex_lock(&n->lock);
		memcpy(n->key, to, tlen);
		n->klen = tlen;
		pthread_mutex_unlock(&n->lock);
		dst = find(to, tlen);
		n->next = NULL;
		*dst = n;
	}
	pthread_mutex_unlock(&table_lock);
}

/* Is n's key under dir/ (dlen 0: under the root, so always)? Caller holds table_lock. */
static int under(const struct node *n, const char *dir, size_t dlen)
{
	return dlen == 0 ||
	       (n->klen > dlen + 1 && n->key[dlen] == '/' && memcmp(n->key, dir, dlen) == 0);
}

/* Append n to the array *v, taking a reference. Caller holds table_lock. */
static int grab(struct node ***v, int *count, int *cap, struct node *n)
{
	if (*count == *cap) {
		int ncap = *cap > 0 ? 2 * *cap : 16;
		struct node **nv = realloc(*v, (size_t)ncap * sizeof(**v));

		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	n->refs++;
	(*v)[(*count)++] = n;
	return 0;
}

int node_grab_under(const char *dir, size_t dlen, struct node ***out)
{
	struct node **v = NULL, *n;
	int count = 0, cap = 0, b, rc = 0;

	*out = NULL;
	pthread_mutex_lock(&table_lock);
	for (b = 0; b < BUCKETS && rc == 0; b++)
		for (n = table[b]; n != NULL && rc == 0; n = n->next)
			if (under(n, dir, dlen) && n->state != NODE_HIDDEN)
				rc = grab(&v, &count, &cap, n);
	pthread_mutex_unlock(&table_lock);
	if (rc < 0) {
		while (count > 0)
			(void)node_put(v[--count]);
		free(v);
		return rc;
	}
	*out = v;
	return count;
}

void node_rename_tree(const char *from, size_t flen, const char *to, size_t tlen)
{
	struct node *moved = NULL, **pp, *n;
	int b;

	pthread_mutex_lock(&table_lock);
	/* Take them all out first: their new buckets may be ones still to be walked. */
	for (b = 0; b < BUCKETS; b++) {
		pp = &table[b];
		while ((n = *pp) != NULL) {
			if (under(n, from, flen) && n->klen - flen + tlen <= KV_KEY_MAX) {
				*pp = n->next;
				n->next = moved;
				moved = n;
			} else {
				pp = &n->next;
			}
		}
	}
	while ((n = moved) != NULL) {
		moved = n->next;
		pthread_mutex_lock(&n->lock);
		memmove(n->key + tlen, n->key + flen, n->klen - flen);
		memcpy(n->key, to, tlen);
		n->klen = n->klen - flen + tlen;
		pthread_mutex_unlock(&n->lock);
		pp = find(n->key, n->klen);
		n->next = *pp; /* NULL: the destination directory had no open files */
		*pp = n;
	}
	pthread_mutex_unlock(&table_lock);
}

void node_unlinked(const char *key, size_t klen)
{
	struct node **pp, *n;

	pthread_mutex_lock(&table_lock);
	pp = find(key, klen);
	n = *pp;
	if (n != NULL) {
		/* Out of the table, so a new file of that name starts afresh; its handles
		 * keep it until they close. */
		*pp = n->next;
		n->next = NULL;
		pthread_mutex_lock(&n->lock);
		(void)node_event_locked(n, NODE_EV_UNLINKED);
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
}

void node_hide(const char *key, size_t klen, const char *as, size_t alen)
{
	struct node **pp, *n, **dst;

	pthread_mutex_lock(&table_lock);
	pp = find(key, klen);
	n = *pp;
	if (n != NULL) {
		*pp = n->next;
		n->next = NULL;
		dst = find(as, alen);
		pthread_mutex_lock(&n->lock);
		if (*dst == NULL && alen <= KV_KEY_MAX) {
			memcpy(n->key, as, alen);
			n->klen = alen;
			(void)node_event_locked(n, NODE_EV_HIDDEN);
			*dst = n;
		} else {
			(void)node_event_locked(n, NODE_EV_UNLINKED);
		}
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
}

int node_unhide(const char *key, size_t klen)
{
	struct node **pp, *n;
	int hidden = 0;

	pthread_mutex_lock(&table_lock);
	pp = find(key, klen);
	n = *pp;
	if (n != NULL && node_state(n) == NODE_HIDDEN) {
		*pp = n->next;
		n->next = NULL;
		pthread_mutex_lock(&n->lock);
		(void)node_event_locked(n, NODE_EV_UNHIDDEN);
		pthread_mutex_unlock(&n->lock);
		hidden = 1;
	}
	pthread_mutex_unlock(&table_lock);
	return hidden;
}

void node_each_created_in(const char *dir, size_t dlen,
			  void (*fn)(const char *name, size_t nlen, const struct kv_record *rec,
				     void *arg),
			  void *arg)
{
	size_t plen = dlen > 0 ? dlen + 1 : 0;
	int b;

	pthread_mutex_lock(&table_lock);
	for (b = 0; b < BUCKETS; b++) {
		struct node *n;

		for (n = table[b]; n != NULL; n = n->next) {
			struct kv_record rec;
			int created;

			if (n->klen <= plen ||
			    (dlen > 0 && (memcmp(n->key, dir, dlen) != 0 || n->key[dlen] != '/')) ||
			    memchr(n->key + plen, '/', n->klen - plen) != NULL)
				continue;
			pthread_mutex_lock(&n->lock);
			created = node_state_new(n->state);
			rec = n->rec;
			rec.size = n->size;
			pthread_mutex_unlock(&n->lock);
			if (created)
				fn(n->key + plen, n->klen - plen, &rec, arg);
		}
	}
	pthread_mutex_unlock(&table_lock);
}
