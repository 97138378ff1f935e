#!/usr/bin/env bats
# The seed README's five examples, byte for byte. Placement hashes the shard names, so
# this test needs the seed's own ports: tinykvd on 3000, shards on 3001 and 3002.

load helpers

setup_file() {
	kv_init 2
	local p
	for p in 3000 3001 3002; do
		if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "port $p is in use (a cluster from make run?); stop it first" >&2
			return 1
		fi
	done
	export KV_PORT=3000 SHARD_PORT_1=3001 SHARD_PORT_2=3002
	start_shard 1
	start_shard 2
	start_kvd
}

teardown_file() { kv_cleanup; }

@test "PUT hello" {
	run curl -s -L -X PUT -d world localhost:3000/hello
	assert_success
	assert_output "Transaction Successful. Value world is stored at http://localhost:3001/5d/41/aGVsbG8="
}

@test "PUT foo" {
	run curl -s -L -X PUT -d bar localhost:3000/foo
	assert_output "Transaction Successful. Value bar is stored at http://localhost:3002/ac/bd/Zm9v"
}

@test "GET hello follows the redirect to the value" {
	run curl -s -L localhost:3000/hello
	assert_output "world"
}

@test "DELETE hello" {
	run curl -s -L -X DELETE localhost:3000/hello
	assert_output "Delete succeeded."
}

@test "GET hello after the delete" {
	run curl -s -L localhost:3000/hello
	assert_output "Key with value: 'hello' not found."
	assert_logs_clean
}
