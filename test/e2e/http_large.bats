#!/usr/bin/env bats
# Values of any size stream through tinykvd (DESIGN §4, issue 2): a 1 GiB PUT, with a
# Content-Length or chunked, keeps the daemon's peak memory under 64 MiB and reads back
# with the same md5.

load helpers

GIB=$((1 << 30))

setup_file() {
	start_cluster
	head -c "$GIB" /dev/urandom >"$KV_DIR/gib"
	md5sum <"$KV_DIR/gib" >"$KV_DIR/gib.md5"
}

teardown_file() { kv_cleanup; }

assert_small_daemon() {
	local hwm
	hwm=$(vm_hwm_kb "$(pid_of kvd)")
	echo "# tinykvd peak RSS: $hwm kB" >&3
	[ "$hwm" -lt 65536 ] || { echo "tinykvd peak RSS $hwm kB"; return 1; }
}

@test "a 1 GiB PUT with Content-Length streams: peak RSS < 64 MiB, same md5 back" {
	run kv_status --max-time 600 -X PUT -T "$KV_DIR/gib" gib-cl
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value (1073741824 bytes) is stored at $(key_url gib-cl)"
	assert_small_daemon
	[ "$(stat -c %s "$KV_DIR/shard$(owner_of gib-cl)$(shard_path gib-cl)")" = "$GIB" ]
	run sh -c "curl -s --max-time 600 -L 'http://127.0.0.1:$KV_PORT/gib-cl' | md5sum"
	assert_output "$(cat "$KV_DIR/gib.md5")"
	run kv_status -X DELETE gib-cl
	assert_output 200
}

@test "a 1 GiB chunked PUT (size unknown) streams too" {
	run sh -c "cat '$KV_DIR/gib' | curl -s --max-time 600 -o '$KV_DIR/body' -w '%{http_code}' \
		-X PUT -H 'Transfer-Encoding: chunked' -T - 'http://127.0.0.1:$KV_PORT/gib-chunked'"
	assert_output 201
	run kv_body
	assert_output "Transaction Successful. Value (1073741824 bytes) is stored at $(key_url gib-chunked)"
	assert_small_daemon
	run sh -c "curl -s --max-time 600 -L 'http://127.0.0.1:$KV_PORT/gib-chunked' | md5sum"
	assert_output "$(cat "$KV_DIR/gib.md5")"
	run kv_status -X DELETE gib-chunked
	assert_output 200
	rm -f "$KV_DIR/gib"
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
