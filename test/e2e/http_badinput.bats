#!/usr/bin/env bats
# Bad input (issue 2): each gets a clear error and changes nothing.

load helpers

setup_file() {
	start_cluster
}

teardown_file() { kv_cleanup; }


@test "empty body with Content-Length: 0 → 411" {
	run kv_status -X PUT -H 'Content-Length: 0' empty1
	assert_output 411
	run kv_body
	assert_output --partial "Empty value"
	run kv_status -X PUT --data-binary '' empty2
	assert_output 411
	refute_stored empty1 empty2
	run kv_status empty1
	assert_output 404
}

@test "empty chunked body → 411, and the key stays free" {
	run kv_status -X PUT -H 'Transfer-Encoding: chunked' --data-binary '' empty3
	assert_output 411
	run kv_body
	assert_output --partial "Empty value"
	refute_stored empty3
	run kv_status -X PUT -H 'Transfer-Encoding: chunked' -d later empty3
	assert_output 201
	run kv -L empty3
	assert_output later
}

@test "a PUT without Content-Length or Transfer-Encoding → 411" {
	# curl always sends one of them; talk HTTP by hand.
	local reply
	exec 5<>"/dev/tcp/127.0.0.1/$KV_PORT"
	printf 'PUT /nolen HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&5
	reply=$(timeout 10 cat <&5)
	exec 5>&-
	[[ "$reply" == "HTTP/1.1 411 "* ]] || { echo "$reply"; return 1; }
	refute_stored nolen
}

@test "a key of exactly 511 bytes works; 512 bytes → 414" {
	local k511 k512
	k511=$(printf 'k%.0s' $(seq 511))
	k512=${k511}k
	run kv_status -X PUT -d long "$k511"
	assert_output 201
	run kv -L "$k511"
	assert_output long
	run kv_status -X PUT -d long "$k512"
	assert_output 414
	run kv_body
	assert_output --partial "511"
	run kv_status "$k512"
	assert_output 414
	run kv_status -X DELETE "$k512"
	assert_output 414
	# Escapes count decoded: 511 bytes written as %6B are still 511 bytes.
	run kv_status -X PUT -d again "$(printf '%%6B%.0s' $(seq 511))"
	assert_output 409
	run kv_status -X PUT -d long "$(printf '%%6B%.0s' $(seq 512))"
	assert_output 414
	run kv '?list'
	refute_output --partial "\"$k512\""
}

@test "malformed percent-encoding → 400" {
	local bad before
	before=$(kv '?list')
	for bad in 'a%zz' 'a%2' 'a%' '%g0b' 'x%2G'; do
		run kv_status -X PUT -d v "$bad"
		[ "$output" = 400 ] || { echo "PUT $bad: $output $(kv_body)"; return 1; }
		run kv_body
		assert_output --partial "percent-encoding"
		run kv_status "$bad"
		[ "$output" = 400 ] || { echo "GET $bad: $output"; return 1; }
		run kv_status -X DELETE "$bad"
		[ "$output" = 400 ] || { echo "DELETE $bad: $output"; return 1; }
		run kv_body	# said why, as the PUT does (it was empty: len read before set)
		assert_output --partial "percent-encoding"
	done
	run kv '?list'
	assert_output "$before"
}

@test "a NUL in the key (%00) → 400" {
	run kv_status -X PUT -d v 'nul%00byte'
	assert_output 400
	run kv_body
	assert_output --partial "NUL"
	run kv_status 'nul%00byte'
	assert_output 400
	refute_stored nul
}

@test "GET / (no key) → 400" {
	run kv_status ''
	assert_output 400
	run kv_status -X PUT -d v ''
	assert_output 400
}

@test "PUT to an existing key → 409, the old value untouched" {
	run kv_status -X PUT -d original taken
	assert_output 201
	run kv_status -X PUT -d replacement taken
	assert_output 409
	run kv_body
	assert_output "Key 'taken' already exists."
	run kv -L taken
	assert_output original
	# A large body to an existing key: still 409 and nothing changes.
	head -c $((8 << 20)) /dev/urandom >"$KV_DIR/big"
	run kv_status -X PUT -T "$KV_DIR/big" taken
	assert_output 409
	run kv -L taken
	assert_output original
	run kv_status -X PUT -H 'Transfer-Encoding: chunked' -T "$KV_DIR/big" taken
	assert_output 409
	run kv -L taken
	assert_output original
	# No stray temporary files beside it either.
	run ls -A "$(dirname "$KV_DIR/shard$(owner_of taken)$(shard_path taken)")"
	assert_output "$(basename "$(shard_path taken)")"
}

@test "unknown methods → 405 with an Allow header" {
	local m
	for m in PATCH POST OPTIONS FOO PROPFIND MKCOL; do
		run kv -o "$KV_DIR/body" -D "$KV_DIR/headers" -w '%{http_code}' -X "$m" -d x taken
		[ "$output" = 405 ] || { echo "$m: $output $(kv_body)"; return 1; }
		grep -qi '^Allow: GET, HEAD, PUT, DELETE' "$KV_DIR/headers"
		grep -q "not allowed" "$KV_DIR/body"
	done
	run kv -L taken
	assert_output original
}

@test "bad input changed nothing: the listing holds only the good keys" {
	run kv '?list'
	assert_output "{\"next\": \"\", \"keys\": [\"empty3\", \"$(printf 'k%.0s' $(seq 511))\", \"taken\"]}"
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
