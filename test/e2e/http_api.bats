#!/usr/bin/env bats
# The rows of DESIGN §4 that succeed: PUT, GET, HEAD, DELETE with their exact answers,
# value echoes, keys with escapes, replicas > 1, and the daemon's --help and --version.

load helpers

setup_file() {
	start_cluster
}

teardown_file() { kv_cleanup; }

@test "PUT answers 201 with the seed's message naming the owner's URL" {
	run kv_status -X PUT -d world hello
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value world is stored at $(key_url hello)"
	# The value is on the owner shard, at the path of DESIGN §2, and nowhere else.
	local owner other
	owner=$(owner_of hello)
	other=$((3 - owner))
	run cat "$KV_DIR/shard$owner$(shard_path hello)"
	assert_output world
	[ ! -e "$KV_DIR/shard$other$(shard_path hello)" ]
}

@test "every answer ends with a newline" {
	local what
	for what in "-X PUT -d x nl-put" "-X PUT -d y nl-put" "nl-missing" "-X DELETE nl-put" \
		"?list" "-X PATCH nl-put"; do
		# shellcheck disable=SC2086
		kv_status $what >/dev/null
		[ "$(tail -c1 "$KV_DIR/body" | od -An -c | tr -d ' ')" = '\n' ] ||
			{ echo "no newline after: $what: $(kv_body)"; return 1; }
	done
}

@test "GET redirects (302) to the replica's URL; -L reads the value" {
	run kv_status -X PUT -d value-of-g g1
	assert_output 201
	run kv -o /dev/null -w '%{http_code} %{redirect_url}' g1
	assert_output "302 $(key_url g1)"
	run kv -L g1
	assert_output value-of-g
}

@test "HEAD answers like GET, without a body" {
	run kv_status -X PUT -d head-value h1
	assert_output 201
	run kv -I h1
	assert_line --index 0 --regexp '^HTTP/1\.1 302 '
	assert_line --regexp "^Location: $(key_url h1)"$'\r'"?$"
	run kv -I -o "$KV_DIR/body" -w '%{http_code} %{size_download}' h1
	assert_output "302 0"
	run kv -I -o "$KV_DIR/body" -w '%{http_code} %{size_download}' h-missing
	assert_output "404 0"
}

@test "GET of a missing key: 404 with the seed's exact message" {
	run kv_status nope
	assert_output 404
	run kv_body
	assert_output "Key with value: 'nope' not found."
	run kv -L nope
	assert_output "Key with value: 'nope' not found."
}

@test "DELETE answers 200 'Delete succeeded.', removes the file, then the key is 404" {
	local owner
	owner=$(owner_of d1)
	run kv_status -X PUT -d doomed d1
	assert_output 201
	[ -f "$KV_DIR/shard$owner$(shard_path d1)" ]
	run kv_status -X DELETE d1
	assert_output 200
	run kv_body
	assert_output "Delete succeeded."
	[ ! -e "$KV_DIR/shard$owner$(shard_path d1)" ]
	run kv_status d1
	assert_output 404
	run kv_body
	assert_output "Key with value: 'd1' not found."
	# The key is free again.
	run kv_status -X PUT -d reborn d1
	assert_output 201
	run kv -L d1
	assert_output reborn
}

@test "DELETE of a missing key: 404 with the same message as GET" {
	run kv_status -X DELETE never-was
	assert_output 404
	run kv_body
	assert_output "Key with value: 'never-was' not found."
}

@test "binary and long values echo as (N bytes) and read back byte for byte" {
	printf 'a\000b\377c' >"$KV_DIR/bin"
	run kv_status -X PUT --data-binary @"$KV_DIR/bin" bin1
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value (5 bytes) is stored at $(key_url bin1)"
	kv -L -o "$KV_DIR/bin.back" bin1
	cmp "$KV_DIR/bin" "$KV_DIR/bin.back"

	printf 'line1\nline2' >"$KV_DIR/nl"
	run kv_status -X PUT --data-binary @"$KV_DIR/nl" bin2
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value (11 bytes) is stored at $(key_url bin2)"

	local hundred long
	hundred=$(printf 'x%.0s' $(seq 100))
	long="${hundred}y"
	run kv_status -X PUT -d "$hundred" bin3
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value $hundred is stored at $(key_url bin3)"
	run kv_status -X PUT -d "$long" bin4
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value (101 bytes) is stored at $(key_url bin4)"
	run kv -L bin4
	assert_output "$long"
}

@test "keys are the percent-decoded path: escapes, slashes, UTF-8" {
	run kv_status -X PUT -d spaced 'dir%2Fsub/a%20b%3F'
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value spaced is stored at $(key_url 'dir/sub/a b?')"
	run kv -L 'dir/sub/a%20b%3F'
	assert_output spaced
	run kv_status -X PUT -d utf 'caf%C3%A9'
	assert_output 201
	run kv -L 'caf%C3%A9'
	assert_output utf
	run kv '?list'
	assert_output --partial '"café"'
	assert_output --partial '"dir/sub/a b?"'
}

@test "with replicas = 2 the PUT message lists both URLs, best first, and both hold it" {
	local port first second conf=$KV_DIR/r2.conf
	port=$(free_port_block 1)
	cat >"$conf" <<CONF
shards = $(shard_list 1 2)
index = $KV_DIR/index-r2
cache = $KV_DIR/cache-r2
port = $port
replicas = 2
timeout = 5
shard_secret_file = $KV_SECRET
CONF
	start_kvd_as kvd-r2 "$conf"
	first=$(owner_of twin)
	second=$((3 - first))
	run curl -s -X PUT -d both "http://127.0.0.1:$port/twin"
	assert_output "Transaction Successful. Value both is stored at http://$(shard_name "$first")$(shard_path twin), http://$(shard_name "$second")$(shard_path twin)"
	run cat "$KV_DIR/shard1$(shard_path twin)" "$KV_DIR/shard2$(shard_path twin)"
	assert_output bothboth
	run curl -s -X DELETE "http://127.0.0.1:$port/twin"
	assert_output "Delete succeeded."
	[ ! -e "$KV_DIR/shard1$(shard_path twin)" ]
	[ ! -e "$KV_DIR/shard2$(shard_path twin)" ]
	stop_pid "$(pid_of kvd-r2)"
	rm -rf "/dev/shm/tinykv-$(printf '%s' "$(realpath "$KV_DIR/index-r2")" | md5sum | cut -c1-16)"
}

# record_md5 KEY: the md5 kept in KEY's index record, in hex (core/record.c: it follows
# the version, type, mode, uid, gid, size and four 8-byte times and generation: byte 54).
record_md5() {
	python3 - "$KV_INDEX" "$1" <<'PY'
import subprocess, sys
out = subprocess.run(["mdb_dump", "-s", "keys", sys.argv[1]], capture_output=True,
                     text=True, check=True).stdout
rows = out.split("HEADER=END\n", 1)[1].split("\n")
for k, v in zip(rows[0::2], rows[1::2]):
    if k.strip() == sys.argv[2].encode().hex():
        print(bytes.fromhex(v.strip())[54:70].hex())
PY
}

@test "a record keeps its value's md5; with checksum = no it is left unknown (zero)" {
	head -c 300000 /dev/urandom >"$KV_DIR/sum.bin"
	run kv_status -X PUT --data-binary @"$KV_DIR/sum.bin" sum-big
	assert_output 201
	run kv_status -X PUT -d small sum-small
	assert_output 201
	run record_md5 sum-big
	assert_output "$(md5sum <"$KV_DIR/sum.bin" | cut -c1-32)"
	run record_md5 sum-small
	assert_output "$(printf small | md5sum | cut -c1-32)"
	stop_kvd
	start_kvd -o checksum=no
	run kv_status -X PUT --data-binary @"$KV_DIR/sum.bin" sum-none
	assert_output 201
	run record_md5 sum-none
	assert_output "00000000000000000000000000000000"
	cmp <(kv -L sum-none) "$KV_DIR/sum.bin"
	stop_kvd
	start_kvd
}

@test "tinykvd --help and --version" {
	run "$BIN/tinykvd" --help
	assert_success
	assert_line --index 0 --regexp '^usage: tinykvd '
	assert_output --partial 'serve'
	assert_output --partial '--port'
	run "$BIN/tinykvd" --version
	assert_success
	assert_output --regexp '^tinykvd [0-9]+\.[0-9]+\.[0-9]+$'
	run "$BIN/tinykvd" serve --no-such-option
	assert_failure 2
	run "$BIN/tinykvd" frobnicate
	assert_failure 2
	assert_output --partial "unknown command 'frobnicate'"
}

@test "tinykvd's log has no complaint of libmicrohttpd about the order of its options" {
	grep -q 'serving http' "$KV_DIR/kvd.log"
	run grep -F 'not the first option' "$KV_DIR/kvd.log"
	assert_failure
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
