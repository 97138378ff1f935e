#!/usr/bin/env bats
# Clients that misbehave (issue 8: no client can stop the store, strict framing, safe
# logs): uploads that trickle or stall, idle connections, lying lengths, Content-Length
# with Transfer-Encoding, control bytes in the request target. Raw sockets: badclient.py.

load helpers

BAD=("python3" "$BATS_TEST_DIRNAME/badclient.py")

setup_file() {
	kv_init 2
	start_shard 1
	start_shard 2
	write_conf 1 2
	cat >>"$KV_DIR/kv.conf" <<CONF
body_timeout = 4
max_client_connections = 400
max_value_size = 4M
CONF
	start_kvd
}

teardown_file() { kv_cleanup; }

# The holders a test started (badclient.py hold), stopped by its teardown.
teardown() {
	local pid
	for pid in ${HOLDERS:-}; do stop_pid "$pid"; done
	HOLDERS=
	if [ -e "$KV_DIR/paused" ]; then	# a test that paused the shards failed
		resume_shard 1
		resume_shard 2
		rm -f "$KV_DIR/paused"
	fi
}

# hold ARGS...: badclient.py hold in the background, until it has opened everything.
hold() {
	"${BAD[@]}" hold "$@" >"$KV_DIR/hold.out" 2>&1 &
	HOLDERS="${HOLDERS:-} $!"
	wait_for 60 grep -q '^ready' "$KV_DIR/hold.out"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds; fails after SECONDS.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$end" ] || { echo "gave up waiting for: $*"; return 1; }
		sleep 0.2
	done
}

# send [--wait S] [--close-write]: stdin as it is to tinykvd; the answer on stdout.
send() { "${BAD[@]}" send "$KV_PORT" "$@"; }


no_intents() { [ "$(intent_count)" = 0 ]; }

@test "100 trickling uploads and 200 idle connections: 16 clients' PUT, GET, DELETE cycles all succeed; SIGTERM then stops tinykvd" {
	local pid start
	hold "$KV_PORT" --trickle 100 --idle 200 --prefix held-
	# Every trickling upload has begun its put (an intent each) and goes on.
	wait_for 60 eval '[ "$(intent_count)" -ge 100 ]' || { echo "intents: $(intent_count)"; cat "$KV_DIR/hold.out"; tail -5 "$KV_DIR/kvd.log"; false; }
	run "${BAD[@]}" cycles "$KV_PORT" 16 12 --deadline 90
	echo "# while 100 trickle and 200 idle: $output" >&3
	assert_success
	pid=$(pid_of kvd)
	start=$SECONDS
	kill -TERM "$pid"
	# The grace period is 30 s; bodies still arriving are not waited for.
	wait_for 25 eval "! kill -0 $pid 2>/dev/null"
	echo "# SIGTERM to exit: $((SECONDS - start)) s (bound 25 s)" >&3
	[ "$(tail -n 1 "$KV_DIR/kvd.log")" = "tinykvd: stopped" ]
	start_kvd
	refute_stored held-trickle-0 held-trickle-99
	no_intents
}

@test "64 uploads that send 1 byte of 1 MB and stall are cut off after body_timeout: no record, no lock, the keys are free" {
	hold "$KV_PORT" --stall 64 --prefix cut-
	# Meanwhile the store answers: a PUT, a GET and a DELETE of another key.
	run kv_status -X PUT -d fine during-stall
	assert_output 201
	run kv_status during-stall
	assert_output 302
	run kv_status -X DELETE during-stall
	assert_output 200
	# body_timeout is 4 s here (the idle timeout 60 s): well within 40 s.
	wait_for 40 grep -q '^closed 64$' "$KV_DIR/hold.out"
	wait_for 20 no_intents
	refute_stored cut-stall-0 cut-stall-63
	run kv_status -X PUT -d again cut-stall-0
	assert_output 201
}

@test "Content-Length with Transfer-Encoding → 400, nothing stored (RFC 9112 section 6.3)" {
	run send <<<"$(printf 'PUT /clte HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n')"
	assert_output --regexp '^HTTP/1.1 400'
	assert_output --partial "Content-Length and Transfer-Encoding"
	refute_stored clte
	run send <<<"$(printf 'GET /?list HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')"
	assert_output --regexp '^HTTP/1.1 400'
	# Two lengths that differ, a coding we do not know.
	run send <<<"$(printf 'PUT /twocl HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 20\r\n\r\n01234567890123456789')"
	assert_output --regexp '^HTTP/1.1 400'
	run send <<<"$(printf 'PUT /gz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n0123')"
	assert_output --regexp '^HTTP/1.1 (400|501)'
	refute_stored twocl gz
}

@test "a body that ends before its Content-Length leaves no record (small and streamed)" {
	run send --close-write --wait 20 <<<"$(printf 'PUT /short-small HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nonly twenty bytes..')"
	refute_output --regexp '^HTTP/1.1 201'
	head -c 300000 /dev/zero >"$KV_DIR/part"
	run send --close-write --wait 20 < <(printf 'PUT /short-big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n'; cat "$KV_DIR/part")
	refute_output --regexp '^HTTP/1.1 201'
	wait_for 20 no_intents
	refute_stored short-small short-big
}

@test "a value over max_value_size → 413 before its body is sent; chunked → 413 once it grows past it" {
	# Only the headers are sent: the answer comes without the body.
	run send --wait 10 <<<"$(printf 'PUT /huge HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000000\r\n\r\n')"
	assert_output --regexp '^HTTP/1.1 413'
	assert_output --partial "max_value_size"
	head -c 5000000 /dev/zero >"$KV_DIR/huge"
	run kv_status -X PUT -H 'Transfer-Encoding: chunked' -T "$KV_DIR/huge" huge-chunked
	assert_output 413
	wait_for 20 no_intents
	refute_stored huge huge-chunked
	rm -f "$KV_DIR/huge"
}

@test "request line over 16 KiB → 414, headers over 16 KiB → 431 (libmicrohttpd's answers); 8 KiB of headers pass" {
	local long ok
	long=$(head -c 20000 /dev/zero | tr '\0' a)
	ok=$(head -c 8192 /dev/zero | tr '\0' a)
	run send <<<"$(printf 'GET /%s HTTP/1.1\r\nHost: localhost\r\n\r\n' "$long")"
	assert_output --regexp '^HTTP/1.1 414'
	run send <<<"$(printf 'GET /k HTTP/1.1\r\nHost: localhost\r\nX-Big: %s\r\n\r\n' "$long")"
	assert_output --regexp '^HTTP/1.1 431'
	# As much as nginx takes by default still passes: the answer is tinykvd's own.
	run send <<<"$(printf 'GET /k HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Big: %s\r\n\r\n' "$ok")"
	assert_output --regexp '^HTTP/1.1 404'
}

@test "control bytes and bytes outside UTF-8 in the request target are escaped in the log" {
	run send <<<"$(printf 'GET /esc\033]0;owned\007\033[31mred\377 HTTP/1.1\r\nHost: localhost\r\n\r\n')"
	assert_output --regexp '^HTTP/1.1 '
	wait_for 10 grep -q 'GET /esc' "$KV_DIR/kvd.log"
	run grep 'GET /esc' "$KV_DIR/kvd.log"
	assert_output --partial 'GET /esc\x1b]0;owned\x07\x1b[31mred\xff HTTP/1.1'
	# Not one raw control byte (other than the newlines) nor a byte outside UTF-8.
	run sh -c "LC_ALL=C tr -d '\n' <'$KV_DIR/kvd.log' | LC_ALL=C grep -c '[[:cntrl:]]'"
	assert_output 0
	iconv -f UTF-8 -t UTF-8 "$KV_DIR/kvd.log" >/dev/null
}

# A second daemon with 2 workers and a per-client cap of 4, for the last two tests.
start_small() {
	local port
	port=$(free_port_block 1)
	sed -e "s/^port = .*/port = $port/" -e "s/^timeout = .*/timeout = 30/" \
		"$KV_DIR/kv.conf" >"$KV_DIR/small.conf"
	printf 'workers = 2\nmax_client_connections = 4\n' >>"$KV_DIR/small.conf"
	start_kvd_as small "$KV_DIR/small.conf"
	echo "$port" >"$KV_DIR/small.port"
}

@test "workers saturated: a new PUT or DELETE gets 503 with Retry-After at once, reads are answered" {
	local i p1 p2 code
	start_small
	SMALL_PORT=$(cat "$KV_DIR/small.port")
	curl -s -X PUT -d there "http://127.0.0.1:$SMALL_PORT/present" >/dev/null
	touch "$KV_DIR/paused"
	pause_shard 1
	pause_shard 2
	# Two PUTs wait on the silent shards (timeout = 30 s), one per worker; two more may
	# wait in the queue (they give up after 5 s); then the answer is 503 at once.
	# (From other addresses: this daemon takes 4 connections from one.)
	curl -s --max-time 60 --interface 127.0.0.2 -X PUT -d a "http://127.0.0.1:$SMALL_PORT/stuck-a" >/dev/null &
	p1=$!
	curl -s --max-time 60 --interface 127.0.0.3 -X PUT -d b "http://127.0.0.1:$SMALL_PORT/stuck-b" >/dev/null &
	p2=$!
	for i in $(seq 100); do
		code=$(curl -s --max-time 5 -o "$KV_DIR/busy.body" -D "$KV_DIR/busy.head" \
			-w '%{http_code}' -X PUT -d c "http://127.0.0.1:$SMALL_PORT/more-$i" || true)
		[ "$code" = 503 ] && break
		sleep 0.1
	done
	run cat "$KV_DIR/busy.body"
	[ "$code" = 503 ] || { echo "last: $code; log:"; tail -20 "$KV_DIR/small.log"; }
	echo "# 503 at attempt $i" >&3
	assert_output --partial "every worker is busy"
	run grep -i '^Retry-After: ' "$KV_DIR/busy.head"
	assert_success
	run curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$SMALL_PORT/present"
	assert_output 503
	# (GET of a key it holds is 503 now: the probe has marked the silent shards down.)
	run curl -s --max-time 5 "http://127.0.0.1:$SMALL_PORT/pres?list"
	assert_output '{"next": "", "keys": ["present"]}'
	run curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SMALL_PORT/absent"
	assert_output 404
	resume_shard 1
	resume_shard 2
	rm -f "$KV_DIR/paused"
	wait "$p1" "$p2" || true
}

@test "max_client_connections: the fifth connection from one address is refused, other addresses are served" {
	[ -f "$KV_DIR/small.port" ] || start_small
	SMALL_PORT=$(cat "$KV_DIR/small.port")
	hold "$SMALL_PORT" --idle 4
	run "${BAD[@]}" send "$SMALL_PORT" --wait 5 <<<"$(printf 'GET /absent HTTP/1.1\r\nHost: localhost\r\n\r\n')"
	refute_output --regexp '^HTTP/1.1'
	run curl -s --max-time 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SMALL_PORT/absent"
	assert_output 404
	# libmicrohttpd's word on it goes through tinykvd's escaped, rate-limited log.
	grep -q '^tinykvd: libmicrohttpd: ' "$KV_DIR/small.log"
	! grep -v '^tinykvd' "$KV_DIR/small.log" | grep -v '^127\.0\.0\.' | grep .
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly small
	assert_stops_cleanly
	assert_logs_clean
}
