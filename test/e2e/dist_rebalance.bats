#!/usr/bin/env bats
# tinykvd rebalance: growing 2→3 shards and shrinking back moves about 1/N of the keys,
# exactly those whose replica set changed; every key reads; no copy is left behind; a
# run killed half-way finishes when run again; readers are served throughout.

load helpers

N=1500

setup_file() {
	kv_init 3
	start_shard 1
	start_shard 2
	start_shard 3
	write_conf 1 2
	start_kvd -q
	put_many "$N" key
}

teardown_file() { kv_cleanup; }

# put_many N PREFIX: N keys PREFIX-0001.. with values "value of PREFIX-0001", in parallel.
put_many() {
	local n=$1 p=$2 i cfg="$KV_DIR/put.cfg" vals="$KV_DIR/vals"
	mkdir -p "$vals"
	: >"$cfg"
	for i in $(seq -w 1 "$n"); do
		printf 'value of %s-%s' "$p" "$i" >"$vals/$p-$i"
		printf 'url = "http://127.0.0.1:%s/%s-%s"\nupload-file = "%s/%s-%s"\noutput = "/dev/null"\n' \
			"$KV_PORT" "$p" "$i" "$vals" "$p" "$i" >>"$cfg"
	done
	curl -s --parallel --parallel-max 16 -K "$cfg"
	[ "$(key_count)" -ge "$n" ]
}

key_count() {
	curl -s "http://127.0.0.1:$KV_PORT/?list&limit=10000" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))'
}

# read_all PREFIX N: every key reads back its exact value (following the redirect).
read_all() {
	local p=$1 n=$2 i cfg="$KV_DIR/get.cfg" out="$KV_DIR/got"
	rm -rf "$out"
	mkdir -p "$out"
	: >"$cfg"
	for i in $(seq -w 1 "$n"); do
		printf 'url = "http://127.0.0.1:%s/%s-%s"\noutput = "%s/%s-%s"\n' \
			"$KV_PORT" "$p" "$i" "$out" "$p" "$i" >>"$cfg"
	done
	curl -s -L --parallel --parallel-max 16 -K "$cfg"
	diff -r "$KV_DIR/vals" "$out"
}

files_on() { find "$KV_DIR/shard$1" -path "$KV_DIR/shard$1/.nginx" -prune -o -type f -print | wc -l; }

rebalance() { "$BIN/tinykvd" rebalance -c "$KV_DIR/kv.conf" "$@"; }
verify() { "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf" "$@"; }

@test "every key reads before any change" {
	read_all key "$N"
	[ "$(files_on 1)" -gt 0 ] && [ "$(files_on 2)" -gt 0 ] && [ "$(files_on 3)" -eq 0 ]
}

@test "grow 2→3: about a third of the keys move, all read, none left behind" {
	write_conf 1 2 3
	stop_kvd
	start_kvd -q	# the new shard list; rebalance runs online below
	run rebalance
	assert_success
	moved=$(echo "$output" | sed -n 's/^moved \([0-9]*\) of \([0-9]*\) keys$/\1/p')
	[ -n "$moved" ]
	echo "moved $moved of $N"
	[ "$moved" -gt $((N * 20 / 100)) ] && [ "$moved" -lt $((N * 45 / 100)) ]
	# exactly the new shard received them, and no file stayed where it was
	[ "$(files_on 3)" -eq "$moved" ]
	[ $(( $(files_on 1) + $(files_on 2) + $(files_on 3) )) -eq "$N" ]
	read_all key "$N"
	run verify
	assert_success
	assert_output --partial "healthy"
	# a second run has nothing to do
	run rebalance
	assert_output --partial "moved 0 of $N keys"
}

@test "shrink 3→2: the third shard's keys come back, all read, it ends empty" {
	write_conf 1 2
	stop_kvd
	start_kvd -q
	before=$(files_on 3)
	run rebalance
	assert_success
	assert_output --partial "moved $before of $N keys"
	[ "$(files_on 3)" -eq 0 ]
	[ $(( $(files_on 1) + $(files_on 2) )) -eq "$N" ]
	read_all key "$N"
	run verify
	assert_success
}

@test "a rebalance killed half-way finishes when run again, leaving no copy behind" {
	write_conf 1 2 3
	stop_kvd
	start_kvd -q
	"$BIN/tinykvd" rebalance -c "$KV_DIR/kv.conf" -j 2 >"$KV_DIR/rebalance1.out" 2>&1 &
	pid=$!
	# kill it once it has moved some keys but not all
	for _ in $(seq 400); do
		[ "$(files_on 3)" -ge 50 ] && break
		sleep 0.01
	done
	kill -9 "$pid"
	wait "$pid" || true
	[ "$(files_on 3)" -lt 400 ]
	run rebalance
	assert_success
	[ $(( $(files_on 1) + $(files_on 2) + $(files_on 3) )) -eq "$N" ]
	read_all key "$N"
	run verify
	assert_success
	assert_output --partial "0 orphans"
}

@test "reads keep working through curl while rebalance runs" {
	write_conf 1 2
	stop_kvd
	start_kvd -q
	fails="$KV_DIR/read-fails"
	: >"$fails"
	(
		while [ ! -e "$KV_DIR/stop-reader" ]; do
			i=$(printf '%04d' $((RANDOM % N + 1)))
			got=$(curl -s -L --max-time 10 "http://127.0.0.1:$KV_PORT/key-$i")
			[ "$got" = "value of key-$i" ] || echo "key-$i: '$got'" >>"$fails"
		done
	) &
	reader=$!
	run rebalance -j 4
	touch "$KV_DIR/stop-reader"
	wait "$reader"
	assert_success
	[ ! -s "$fails" ] || { cat "$fails"; false; }
	read_all key "$N"
	assert_logs_clean
}
