#!/usr/bin/env bats
# The daemon stopping (issue 2): kill -9 under write load, then a restart, loses no
# acknowledged write and leaves no pending operation; SIGTERM finishes the PUT in flight.

load helpers

setup_file() {
	start_cluster
}

teardown_file() { kv_cleanup; }

# A test that fails half-way must not leave shard 1 paused.
teardown() { resume_shard 1 2>/dev/null || true; }

# writer I: PUT w<I>-1, w<I>-2, ... (random values of 1..1024 KiB, kept in $KV_DIR/vals)
# until $KV_DIR/stop appears; "KEY CODE" lines go to $KV_DIR/codes.I.
writer() {
	local i=$1 n=0 k code
	while [ ! -e "$KV_DIR/stop" ]; do
		n=$((n + 1))
		k=w$i-$n
		head -c $(((RANDOM % 1024 + 1) * 1024)) /dev/urandom >"$KV_DIR/vals/$k"
		# Rate-limited: uploads take a while, so the kill cuts some of them.
		code=$(curl -s --max-time 30 --limit-rate 8M -o /dev/null -w '%{http_code}' -X PUT \
			--data-binary @"$KV_DIR/vals/$k" "http://127.0.0.1:$KV_PORT/$k") || true
		echo "$k $code" >>"$KV_DIR/codes.$i"
		[ "$code" = 000 ] && sleep 0.05	# the daemon is gone: do not spin
	done
}

acknowledged() { cat "$KV_DIR"/codes.* | awk '$2 == 201' | wc -l; }

@test "kill -9 under write load, restart: every 201 reads back exactly, no pending intent" {
	local i k code got
	mkdir -p "$KV_DIR/vals"
	rm -f "$KV_DIR/stop"
	for i in 1 2 3 4 5 6 7 8; do
		writer "$i" 3>&- &
	done
	# Kill in the thick of it: once a couple of hundred writes have been acknowledged.
	for i in $(seq 600); do
		[ "$(acknowledged)" -ge 200 ] && break
		sleep 0.1
	done
	[ "$(acknowledged)" -ge 200 ] || { touch "$KV_DIR/stop"; wait; echo "too few writes"; return 1; }
	# ...at a moment when several writes are half done.
	for i in $(seq 100); do
		[ "$(intent_count)" -ge 3 ] && break
	done
	kill9_kvd
	sleep 0.5
	touch "$KV_DIR/stop"
	wait
	echo "# $(intent_count) operations in flight when the daemon died" >&3
	start_kvd
	# Start-up recovery finished every operation the dead daemon left behind.
	run intent_count
	assert_output 0
	grep -h ' 201$' "$KV_DIR"/codes.* >"$KV_DIR/acked"
	grep -hv ' 201$' "$KV_DIR"/codes.* >"$KV_DIR/unacked" || true
	echo "# $(wc -l <"$KV_DIR/acked") acknowledged, $(wc -l <"$KV_DIR/unacked") not" >&3
	[ "$(wc -l <"$KV_DIR/unacked")" -ge 1 ]
	while read -r k code; do
		kv -L -o "$KV_DIR/back" "$k"
		cmp -s "$KV_DIR/vals/$k" "$KV_DIR/back" || { echo "acknowledged $k lost or changed"; return 1; }
	done <"$KV_DIR/acked"
	# A write that was not acknowledged either happened whole or not at all; either way the
	# key is not left locked.
	while read -r k code; do
		got=$(kv_status "$k")
		case "$got" in
		302)
			kv -L -o "$KV_DIR/back" "$k"
			cmp -s "$KV_DIR/vals/$k" "$KV_DIR/back" || { echo "$k: a partial value"; return 1; }
			[ "$(kv_status -X PUT --data-binary @"$KV_DIR/vals/$k" "$k")" = 409 ]
			[ "$(kv_body)" = "Key '$k' already exists." ] || { echo "$k: $(kv_body)"; return 1; }
			;;
		404)
			got=$(kv_status -X PUT --data-binary @"$KV_DIR/vals/$k" "$k")
			[ "$got" = 201 ] || { echo "$k: PUT after restart: $got $(kv_body)"; return 1; }
			;;
		*) echo "$k: GET after restart: $got"; return 1 ;;
		esac
	done <"$KV_DIR/unacked"
	# The listing holds exactly the keys that exist now: every one written.
	run sh -c "curl -s 'http://127.0.0.1:$KV_PORT/w?list&limit=10000' | jq '.keys | length'"
	assert_output "$(cat "$KV_DIR"/codes.* | wc -l)"
	rm -rf "$KV_DIR/vals"
}

# wait_intents N: until the intent log holds N intents (30 s).
wait_intents() {
	local i
	for i in $(seq 300); do
		[ "$(intent_count)" = "$1" ] && return 0
		sleep 0.1
	done
	echo "the intent log holds $(intent_count), not $1"
	return 1
}

@test "kill -9 while a PUT waits on a silent shard: restart frees the key, no value" {
	local k nlog
	k=$(key_on 1 stuck-)
	pause_shard 1
	kv -o /dev/null -X PUT -d never "$k" 3>&- &
	wait_intents 1
	kill9_kvd
	wait || true
	resume_shard 1
	run intent_count
	assert_output 1
	nlog=$(wc -l <"$KV_DIR/kvd.log")
	start_kvd
	run intent_count
	assert_output 0
	run sh -c "tail -n +$((nlog + 1)) '$KV_DIR/kvd.log' | grep -c 'recovered 1 unfinished operation\$'"
	assert_output 1
	run kv_status "$k"
	assert_output 404
	run kv_status -X PUT -d now "$k"
	assert_output 201
	run kv -L "$k"
	assert_output now
}

@test "kill -9 while a DELETE waits on a silent shard: restart finishes the delete" {
	local k
	k=$(key_on 1 gone-)
	run kv_status -X PUT -d doomed "$k"
	assert_output 201
	pause_shard 1
	kv -o /dev/null -X DELETE "$k" 3>&- &
	wait_intents 1
	kill9_kvd
	wait || true
	resume_shard 1
	start_kvd
	run intent_count
	assert_output 0
	run kv_status "$k"
	assert_output 404
	[ ! -e "$KV_DIR/shard1$(shard_path "$k")" ]
	run kv_status -X PUT -d reborn "$k"
	assert_output 201
}

@test "SIGTERM lets the PUT in flight finish: 201 and the value intact" {
	local k owner pid curl_pid size i nlog
	k=slow-upload
	owner=$(owner_of "$k")
	head -c $((3 << 20)) /dev/urandom >"$KV_DIR/slow"
	# About 10 s of upload.
	curl -s --max-time 120 --limit-rate 300K -o "$KV_DIR/slow.out" -w '%{http_code}' \
		-X PUT -T "$KV_DIR/slow" "http://127.0.0.1:$KV_PORT/$k" >"$KV_DIR/slow.code" 3>&- &
	curl_pid=$!
	# Wait until the value is streaming into its shard.
	for i in $(seq 300); do
		size=$(find "$KV_DIR/shard$owner.nginx/body" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -1)
		[ "${size:-0}" -gt 100000 ] && break
		sleep 0.1
	done
	[ "${size:-0}" -gt 100000 ] || { echo "the upload never reached the shard"; return 1; }
	pid=$(pid_of kvd)
	nlog=$(wc -l <"$KV_DIR/kvd.log")
	kill -TERM "$pid"
	# The daemon stops accepting new requests at once...
	for i in $(seq 100); do
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$KV_PORT/?list" || break
		sleep 0.1
	done
	run curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$KV_PORT/?list"
	assert_failure
	# ...but finishes the one in flight, then exits.
	wait "$curl_pid"
	run cat "$KV_DIR/slow.code"
	assert_output 201
	run cat "$KV_DIR/slow.out"
	assert_output "Transaction Successful. Value (3145728 bytes) is stored at $(key_url "$k")"
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	run kill -0 "$pid"
	assert_failure
	run sh -c "tail -n +$((nlog + 1)) '$KV_DIR/kvd.log' | grep -c 'finishing requests in flight'"
	assert_output 1
	start_kvd
	kv -L -o "$KV_DIR/slow.back" "$k"
	cmp "$KV_DIR/slow" "$KV_DIR/slow.back"
	run intent_count
	assert_output 0
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
