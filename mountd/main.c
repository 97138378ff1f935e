/* main.c — tinykvd: the HTTP master daemon and the cluster's admin verbs. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "verbs.h"
#include "config.h"
#include "http.h"
#include "say.h"
#include "store.h"
#include "release.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tinykvd COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  serve             serve the HTTP API (PUT, GET, HEAD, DELETE, ?list) to those "
		"the\n"
		"                    auth, server_name and anonymous settings let in; SIGHUP "
		"reads\n"
		"                    the auth file again\n"
		"  rebalance         move keys whose replica set changed to their new shards\n"
		"  rebuild           rebuild the index from the files on the shards\n"
		"  verify [--deep] [--repair [--force SHARD]...]\n"
		"                    check the index against the shards (and repair)\n"
		"\n"
		"Options (each is also a tinykv.conf setting; options override the file):\n"
		"  -c, --config FILE     read FILE (default " KV_DEFAULT_CONF " if it exists)\n"
		"  -s, --shards LIST     shards, e.g. localhost:3001,localhost:3002\n"
		"  -i, --index DIR       LMDB index directory\n"
		"  -p, --port N          port to serve on (default 3000)\n"
		"  -l, --listen ADDR     address to serve on (default 127.0.0.1)\n"
		"  -r, --replicas N      copies of each value (default 1)\n"
		"  -t, --timeout SECS    give up on a silent shard after SECS (default 10)\n"
		"  -o, --set KEY=VALUE   any other tinykv.conf setting\n"
		"  -q, --quiet           serve: no access log\n"
		"      --repair          verify: fix what is found\n"
		"      --deep            verify: read every value whole (size and md5), not just "
		"HEAD\n"
		"      --force SHARD     verify --repair: SHARD's missing files are gone for "
		"good;\n"
		"                        repair onto it although it holds few of its files\n"
		"  -j, --jobs N          rebalance, rebuild, verify: parallel workers (default 8)\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n"
		"\n"
		"Exit status: 0 success (verify: the cluster is healthy), 1 failure (verify: "
		"problems\n"
		"remain), 2 usage error. See tinykvd(8) and tinykv.conf(5).\n");
}

#define SET_MAX 32 /* --set settings on one command line */

struct opts {
	const char *command;
	const char *config;
	int quiet, repair, jobs, deep;
	int nforce;
	const char *force[KV_MAX_SHARDS];
	int nset;
	char *set_key[SET_MAX];
	const char *set_val[SET_MAX];
};

static int add_set(struct opts *o, const char *key, const char *val)
{
	if (o->nset == SET_MAX) {
		say("too many options");
		return -1;
	}
	o->set_key[o->nset] = strdup(key);
	o->set_val[o->nset] = val;
	return o->set_key[o->nset++] != NULL ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"config",    required_argument, NULL, 'c'},
		{ "shards",   required_argument, NULL, 's'},
		{ "index",	   required_argument, NULL, 'i'},
		{ "port",	  required_argument, NULL, 'p'},
		{ "listen",   required_argument, NULL, 'l'},
		{ "replicas", required_argument, NULL, 'r'},
		{ "timeout",  required_argument, NULL, 't'},
		{ "set",	 required_argument, NULL, 'o'},
		{ "quiet",	   no_argument,	NULL, 'q'},
		{ "repair",   no_argument,	 NULL, 'R'},
		{ "deep",	  no_argument,       NULL, 'D'},
		{ "force",	   required_argument, NULL, 'F'},
		{ "jobs",	  required_argument, NULL, 'j'},
		{ "help",	  no_argument,       NULL, 'h'},
		{ "version",  no_argument,	  NULL, 'V'},
		{ NULL,	0,		   NULL, 0  }
	};
	static const char *const keys[] = {
		['s'] = "shards", ['i'] = "index",    ['p'] = "port",
		['l'] = "listen", ['r'] = "replicas", ['t'] = "timeout"
	};
	int ch;

	o->jobs = 8;
	while ((ch = getopt_long(argc, argv, "c:s:i:p:l:r:t:o:qj:hV", longopts, NULL)) != -1) {
		char *eq, *end;

		switch (ch) {
		case 'c': o->config = optarg; break;
		case 's':
		case 'i':
		case 'p':
		case 'l':
		case 'r':
		case 't':
			if (add_set(o, keys[ch], optarg) < 0)
				return 2;
			break;
		case 'o':
			eq = strchr(optarg, '=');
			if (eq == NULL) {
				say("--set needs KEY=VALUE");
				return 2;
			}
			*eq = '\0';
			if (add_set(o, optarg, eq + 1) < 0)
				return 2;
			break;
		case 'q': o->quiet = 1; break;
		case 'R': o->repair = 1; break;
		case 'D': o->deep = 1; break;
		case 'F':
			if (o->nforce == KV_MAX_SHARDS) {
				say("too many --force");
				return 2;
			}
			o->force[o->nforce++] = optarg;
			break;
		case 'j':
			o->jobs = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o->jobs < 1 || o->jobs > 64) {
				say("--jobs must be 1 to 64");
				return 2;
			}
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("tinykvd " TINYKV_VERSION "\n"); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		o->command = argv[optind++];
	if (optind < argc) {
		say("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (o->command == NULL) {
		usage(stderr);
		return 2;
	}
	if ((o->repair || o->deep || o->nforce > 0) && strcmp(o->command, "verify") != 0) {
		say("--repair, --deep and --force are options of verify");
		return 2;
	}
	if (o->nforce > 0 && !o->repair) {
		say("--force is an option of verify --repair");
		return 2;
	}
	return 0;
}

/* --config FILE, or KV_DEFAULT_CONF if it exists and no --set gives the shards; then the
 * --set settings. */
static int load_config(const struct opts *o, struct kv_config *cfg)
{
	struct kv_config_setting set[SET_MAX];
	const char *file = o->config;
	struct kv_err err;
	int i, has_shards = 0;

	for (i = 0; i < o->nset; i++) {
		set[i].key = o->set_key[i];
		set[i].value = o->set_val[i];
		has_shards |= !strcmp(o->set_key[i], "shards");
	}
	if (file == NULL && !has_shards && access(KV_DEFAULT_CONF, R_OK) == 0)
		file = KV_DEFAULT_CONF;
	if (kv_config_read(cfg, file, set, o->nset, NULL, &err) < 0) {
		say("%s", err.msg);
		return -1;
	}
	return 0;
}

static int serve(struct kv_store *s, struct auth *auth, const struct kv_config *cfg,
		 const struct opts *o)
{
	struct http_server *h;
	struct kv_err err;
	char access[1024];
	sigset_t sigs;
	int sig, recovered = 0, i;

	if (kv_store_recover(s, &recovered, &err) < 0)
		say("recovery: %s", err.msg);
	else if (recovered > 0)
		say("recovered %d unfinished operation%s", recovered, recovered == 1 ? "" : "s");
	/* Threads started from here on inherit the mask: only sigwait sees these. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (kv_store_start_probe(s, &err) < 0 ||
	    http_start(s, auth, cfg->listen, cfg->port, o->quiet, &h, &err) < 0) {
		say("%s", err.msg);
		return 1;
	}
	fprintf(stderr, "tinykvd %s: serving http://%s:%d/ (index %s, replicas %d, shards",
		TINYKV_VERSION, cfg->listen, cfg->port, cfg->index, cfg->replicas);
	for (i = 0; i < cfg->shards.n; i++)
		fprintf(stderr, "%s%s", i ? ", " : " ", cfg->shards.v[i].base);
	fprintf(stderr, ")\n");
	auth_describe(auth, access, sizeof(access));
	say("access: %s", access);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGTERM;
		if (sig != SIGHUP)
			break;
		if (auth_reload(auth, &err) < 0) {
			say("SIGHUP: the tokens in use stay: %s", err.msg);
			continue;
		}
		auth_describe(auth, access, sizeof(access));
		say("SIGHUP: access: %s", access);
	}
	say("%s: finishing requests in flight", strsignal(sig));
	http_stop(h, 30);
	say("stopped");
	return 0;
}

/* Each sentence of notes (what opening tightened) as a line on stderr. */
static void print_notes(const char *notes)
{
	const char *p, *nl;

	for (p = notes; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		say("note: %.*s", (int)(nl - p), p);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct kv_config cfg;
	struct kv_store *s = NULL;
	struct auth *auth = NULL;
	struct kv_err err;
	int rc, i;

	memset(&o, 0, sizeof(o));
	signal(SIGPIPE, SIG_IGN);
	rc = parse_args(argc, argv, &o);
	if (rc != 0)
		goto out;
	if (strcmp(o.command, "serve") && strcmp(o.command, "rebalance") &&
	    strcmp(o.command, "rebuild") && strcmp(o.command, "verify")) {
		say("unknown command '%s' (try --help)", o.command);
		rc = 2;
		goto out;
	}
	if (load_config(&o, &cfg) < 0) {
		rc = 2;
		goto out;
	}
	/* Before anything else: a server that would be open to anyone does not start. */
	if (!strcmp(o.command, "serve") && auth_open(&cfg, &auth, &err) < 0) {
		say("refusing to serve: %s", err.msg);
		rc = 2;
		goto out;
	}
	if (kv_store_open(&cfg, &s, &err) < 0) {
		say("%s", err.msg);
		rc = 1;
		goto out;
	}
	print_notes(kv_store_notes(s));
	if (!strcmp(o.command, "serve"))
		rc = serve(s, auth, &cfg, &o);
	else {
		struct verb_opts vo;

		memset(&vo, 0, sizeof(vo));
		vo.jobs = o.jobs;
		vo.repair = o.repair;
		vo.deep = o.deep;
		vo.nforce = o.nforce;
		for (i = 0; i < o.nforce; i++)
			vo.force[i] = o.force[i];
		rc = admin_run(s, o.command, &vo);
	}
out:
	kv_store_close(s);
	auth_free(auth);
	for (i = 0; i < o.nset; i++)
		free(o.set_key[i]);
	return rc;
}
