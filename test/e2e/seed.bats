#!/usr/bin/env bats
# The seed README's five examples, byte for byte. Placement hashes the shard names, so
# the examples need the seed's own ports: tinykvd on 3000, shards on 3001 and 3002. They
# run in a network namespace of their own, so a cluster already on those ports (make run)
# does not get in the way.

load helpers

setup_file() {
	kv_init 2
	unshare --net sh -c 'ip link set lo up && exec sleep 100000' &
	record_pid netns $!
	export NETNS=$!
	for _ in $(seq 100); do
		nsenter -t "$NETNS" -n ip -o addr show lo 2>/dev/null | grep -q 127.0.0.1 && break
		sleep 0.05
	done
	export KV_PORT=3000 SHARD_PORT_1=3001 SHARD_PORT_2=3002
	local i
	for i in 1 2; do
		nsenter -t "$NETNS" -n "$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" \
			"$KV_DIR/shard$i" 300$i \
			>>"$KV_DIR/shard$i.log" 2>&1 &
		record_pid "shard$i" $!
	done
	for i in 1 2; do	# the shards answer before tinykvd's first probe
		for _ in $(seq 200); do
			in_ns curl -s -o /dev/null "localhost:300$i/" && break
			sleep 0.05
		done
	done
	write_conf 1 2
	nsenter -t "$NETNS" -n "$BIN/tinykvd" serve -c "$KV_DIR/kv.conf" >>"$KV_DIR/kvd.log" 2>&1 &
	record_pid kvd $!
	for _ in $(seq 200); do
		in_ns curl -s -o /dev/null "localhost:3000/?list" && return 0
		sleep 0.05
	done
	return 1
}

teardown_file() { kv_cleanup; }

in_ns() { nsenter -t "$NETNS" -n "$@"; }

@test "PUT hello" {
	run in_ns curl -s -L -X PUT -d world localhost:3000/hello
	assert_success
	assert_output "Transaction Successful. Value world is stored at http://localhost:3001/5d/41/aGVsbG8="
}

@test "PUT foo" {
	run in_ns curl -s -L -X PUT -d bar localhost:3000/foo
	assert_output "Transaction Successful. Value bar is stored at http://localhost:3002/ac/bd/Zm9v"
}

@test "GET hello follows the redirect to the value" {
	run in_ns curl -s -L localhost:3000/hello
	assert_output "world"
}

@test "DELETE hello" {
	run in_ns curl -s -L -X DELETE localhost:3000/hello
	assert_output "Delete succeeded."
}

@test "GET hello after the delete" {
	run in_ns curl -s -L localhost:3000/hello
	assert_output "Key with value: 'hello' not found."
	assert_logs_clean
}
