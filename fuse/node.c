/* node.c — the table of open files: a small hash table keyed by key bytes. */
#include "node.h"

#include <stdlib.h>
#include <string.h>
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
			n->kind = HANDLE_FILE;
			memcpy(n->key, key, klen);
			n->klen = klen;
			n->rec = *rec;
			n->size = rec->size;
			n->spool_fd = -1;
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
	if (n != NULL && !n->unlinked) {
		pthread_mutex_lock(&n->lock);
		*rec = n->rec;
		rec->size = n->size;
		*created = n->created;
		pthread_mutex_unlock(&n->lock);
		found = 1;
	}
	pthread_mutex_unlock(&table_lock);
	return found;
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
	if (n->spool_fd >= 0)
		(void)close(n->spool_fd);
	pthread_mutex_destroy(&n->lock);
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
		n->unlinked = 1;
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&table_lock);
}

void node_each_created_in(const char *dir, size_t dlen,
			  void (*fn)(const char *name, size_t nlen, const struct kv_record *rec,
				     void *arg), void *arg)
{
	size_t plen = dlen > 0 ? dlen + 1 : 0;
	int b;

	pthread_mutex_lock(&table_lock);
	for (b = 0; b < BUCKETS; b++) {
		struct node *n;

		for (n = table[b]; n != NULL; n = n->next) {
			struct kv_record rec;
			int created;

			if (n->klen <= plen || (dlen > 0 &&
			    (memcmp(n->key, dir, dlen) != 0 || n->key[dlen] != '/')) ||
			    memchr(n->key + plen, '/', n->klen - plen) != NULL)
				continue;
			pthread_mutex_lock(&n->lock);
			created = n->created;
			rec = n->rec;
			rec.size = n->size;
			pthread_mutex_unlock(&n->lock);
			if (created)
				fn(n->key + plen, n->klen - plen, &rec, arg);
		}
	}
	pthread_mutex_unlock(&table_lock);
}
