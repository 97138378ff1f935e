/* The life of an open file's node (fuse/node.c): every transition node.h draws, what the
 * table then shows (node_snapshot, node_local), and events a state cannot have. */
#include <string.h>

#include "node.h"
#include "unit.h"

/* A node of key, fresh in the table. */
static struct node *fresh_node(const char *key)
{
	struct kv_record rec;
	int fresh = 0;
	struct node *n;

	memset(&rec, 0, sizeof(rec));
	rec.type = KV_TYPE_REG;
	n = node_get(key, strlen(key), &rec, &fresh);
	CHECK(n != NULL && fresh);
	return n;
}

/* What the table shows of key: -1 not there, else 1 + 2 * created + 4 * local. */
static int shown(const char *key)
{
	struct kv_record rec;
	int created = 0;

	if (!node_snapshot(key, strlen(key), &rec, &created))
		return -1;
	return 1 + 2 * created + 4 * node_local(key, strlen(key), &rec);
}

UNIT_TEST(node_new_file_life)
{
	struct node *n = fresh_node("life/new");

	CHECK(node_state(n) == NODE_STORED && shown("life/new") == 1);
	CHECK(node_event(n, NODE_EV_SPOOL_OPENED) == NODE_COPIED && shown("life/new") == 5);
	CHECK(node_event(n, NODE_EV_CREATED) == NODE_NEW && shown("life/new") == 7);
	CHECK(node_event(n, NODE_EV_CHANGED) == NODE_NEW);
	CHECK(node_event(n, NODE_EV_STORE_FAILED) == NODE_NEW_FAILED && shown("life/new") == 7);
	CHECK(node_event(n, NODE_EV_CHANGED) == NODE_NEW);
	CHECK(node_event(n, NODE_EV_STORED) == NODE_COPIED && shown("life/new") == 5);
	CHECK(node_event(n, NODE_EV_SPOOL_CLOSED) == NODE_STORED && shown("life/new") == 1);
	CHECK(node_put(n) == 1);
	CHECK(shown("life/new") == -1);
}

UNIT_TEST(node_changed_file_life)
{
	struct node *n = fresh_node("life/changed");

	CHECK(node_event(n, NODE_EV_SPOOL_OPENED) == NODE_COPIED);
	CHECK(node_event(n, NODE_EV_CHANGED) == NODE_CHANGED && shown("life/changed") == 5);
	CHECK(node_event(n, NODE_EV_STORE_FAILED) == NODE_FAILED);
	CHECK(node_event(n, NODE_EV_STORED) == NODE_COPIED); /* a retry that worked */
	CHECK(node_event(n, NODE_EV_CHANGED) == NODE_CHANGED);
	CHECK(node_event(n, NODE_EV_FORGOTTEN) == NODE_STORED && shown("life/changed") == 1);
	CHECK(node_put(n) == 1);
}

UNIT_TEST(node_forgotten_new_file_leaves_the_table)
{
	struct node *n = fresh_node("life/lost"), *again;

	(void)node_event(n, NODE_EV_SPOOL_OPENED);
	(void)node_event(n, NODE_EV_CREATED);
	CHECK(node_event(n, NODE_EV_FORGOTTEN) == NODE_UNLINKED);
	CHECK(shown("life/lost") == -1);
	again = fresh_node("life/lost"); /* a create of the name starts afresh */
	CHECK(again != n);
	CHECK(node_put(again) == 1 && node_put(n) == 1);
}

UNIT_TEST(node_unlinked_and_hidden)
{
	struct node *n = fresh_node("life/open"), *m = fresh_node("life/other");

	(void)node_event(n, NODE_EV_SPOOL_OPENED);
	(void)node_event(n, NODE_EV_CHANGED);
	node_hide("life/open", 9, "life/.fuse_hidden0000000000000001", 33);
	CHECK(node_state(n) == NODE_HIDDEN && shown("life/open") == -1);
	CHECK(shown("life/.fuse_hidden0000000000000001") == 5);
	/* its bytes change no more than its name: never stored */
	CHECK(node_event(n, NODE_EV_CHANGED) == NODE_HIDDEN);
	CHECK(node_event(n, NODE_EV_STORED) == NODE_HIDDEN);
	CHECK(node_unhide("life/.fuse_hidden0000000000000001", 33) == 1);
	CHECK(node_state(n) == NODE_UNLINKED && node_unhide("life/open", 9) == 0);
	node_unlinked("life/other", 10);
	CHECK(node_state(m) == NODE_UNLINKED && shown("life/other") == -1);
	CHECK(node_event(m, NODE_EV_SPOOL_OPENED) == NODE_UNLINKED);
	CHECK(node_put(n) == 1 && node_put(m) == 1);
}

UNIT_TEST(node_events_a_state_cannot_have)
{
	struct node *n = fresh_node("life/bad");

	/* refused (and logged): the state stays */
	CHECK(node_event(n, NODE_EV_CREATED) == NODE_STORED);
	CHECK(node_event(n, NODE_EV_STORED) == NODE_STORED);
	CHECK(node_event(n, NODE_EV_UNHIDDEN) == NODE_STORED);
	(void)node_event(n, NODE_EV_SPOOL_OPENED);
	(void)node_event(n, NODE_EV_CHANGED);
	CHECK(node_event(n, NODE_EV_CREATED) == NODE_CHANGED);
	CHECK(node_event(n, NODE_EV_SPOOL_CLOSED) == NODE_CHANGED); /* only COPIED tells */
	CHECK(node_put(n) == 1);
}
