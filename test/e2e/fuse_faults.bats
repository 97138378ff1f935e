#!/usr/bin/env bats
# The mount when shards fail: a write that cannot be stored fails at close()/fsync() and
# keeps the old value, a silent shard gives an error within the timeout, listings need no
# shard, a full shard is ENOSPC; and the mount with tinykvd writing at the same time.

load helpers

setup_file() {
	start_cluster
	mount_kv timeout=2
	export M=$KV_MNT
}

teardown_file() { kv_cleanup; }

setup() { require_fuse; }

# Every test leaves both shards running.
teardown() {
	local i
	for i in 1 2; do
		resume_shard "$i" 2>/dev/null || true
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$(shard_port "$i")/" ||
			start_shard "$i"
	done
}

@test "a dead shard makes a write fail at close (EIO) and keeps the old value" {
	local key
	key=$(key_on 1 victim)
	kv -L -X PUT -d old "$key" >/dev/null
	echo new >"$BATS_TEST_TMPDIR/new"
	stop_shard 1
	run cp "$BATS_TEST_TMPDIR/new" "$M/$key"
	assert_failure
	assert_output --partial "Input/output error"
	run dd if="$BATS_TEST_TMPDIR/new" of="$M/$key" status=none
	assert_failure
	assert_output --partial "Input/output error"
	# a shell redirection: the command's close of its stdout reports it
	run bash -c "cat '$BATS_TEST_TMPDIR/new' > '$M/$key'"
	assert_failure
	assert_output --partial "Input/output error"
	run python3 -c 'import sys
f = open(sys.argv[1], "w")
f.write("new\n")
try:
    f.close()
except OSError as e:
    print(e.errno == 5, e)
    sys.exit(1)' "$M/$key"
	assert_failure
	assert_output --partial "True"
	start_shard 1
	run cat "$M/$key"
	assert_output "old"
	wait_kv "$key" old	# tinykvd redirects there once its probe sees the shard
}

@test "fsync reports a failed upload" {
	local key
	key=$(key_on 2 fsync)
	kv -L -X PUT -d old "$key" >/dev/null
	stop_shard 2
	run python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"new\n")
try:
    os.fsync(fd)
except OSError as e:
    print("fsync", e.errno)
try:
    os.close(fd)
except OSError as e:
    print("close", e.errno)' "$M/$key"
	assert_output --partial "fsync 5"
	start_shard 2
	run cat "$M/$key"
	assert_output "old"
}

@test "a new file on a dead shard fails at close and does not appear" {
	local key
	key=$(key_on 1 newdead)
	stop_shard 1
	run cp /etc/hostname "$M/$key"
	assert_failure
	assert_output --partial "Input/output error"
	start_shard 1
	[ ! -e "$M/$key" ]
	run kv -L "$key"
	assert_output "Key with value: '$key' not found."
}

@test "a paused shard gives an error within the timeout rather than hanging" {
	local key start
	key=$(key_on 1 paused)
	kv -L -X PUT -d old "$key" >/dev/null
	echo new >"$BATS_TEST_TMPDIR/new"
	pause_shard 1
	start=$SECONDS
	run timeout 120 cp "$BATS_TEST_TMPDIR/new" "$M/$key"
	assert_failure 1
	assert_output --regexp "Connection timed out|Input/output error"
	# timeout=2: a few multiples of it at most, with room for a slow machine
	[ $((SECONDS - start)) -le 30 ]
	start=$SECONDS
	run timeout 120 cat "$M/$key"
	assert_failure 1
	[ $((SECONDS - start)) -le 30 ]
	resume_shard 1
	run cat "$M/$key"
	assert_output "old"
}

@test "a shard that does not answer holds up only the file that needs it" {
	local key reader
	key=$(key_on 1 stuck)
	kv -L -X PUT -d old "$key" >/dev/null
	remount_kv timeout=30
	pause_shard 1
	cat "$M/$key" >/dev/null 2>&1 3>&- &
	reader=$!
	sleep 0.5	# let the reader get to the shard (if not yet, the test proves less)
	run timeout 10 ls -l "$M"
	assert_success
	assert_output --partial "$key"
	run timeout 10 stat -c %s "$M/$key"
	assert_output 3
	echo other >"$M/$(key_on 2 other)"
	resume_shard 1
	wait "$reader" || true
	remount_kv timeout=2
}

@test "listing and stat need no shard" {
	mkdir -p "$M/nos"
	chmod 777 "$M/nos"	# anonymous curl ("other") writes in it too
	echo a >"$M/nos/a"
	kv -L -X PUT -d bb nos/b >/dev/null
	stop_shard 1
	stop_shard 2
	run ls -l "$M/nos"
	assert_success
	assert_line --regexp ' 2 .* a$'
	assert_line --regexp ' 2 .* b$'
	run stat -c '%s %a' "$M/nos/b"
	assert_output "2 644"
	chmod 600 "$M/nos/a"
	run stat -c %a "$M/nos/a"
	assert_output 600
}

@test "a writer through tinykvd while the mount is used" {
	mkdir -p "$M/conc"
	chmod 777 "$M/conc"	# anonymous curl ("other") writes in it too
	(
		for i in $(seq 0 149); do
			kv -L -X PUT -d "curl$i" "conc/c$i" >/dev/null || exit 1
		done
	) 3>&- &
	local writer=$! i
	for i in $(seq 0 49); do
		echo "mount$i" >"$M/conc/m$i"
		ls "$M/conc" >/dev/null
		cat "$M/conc/m$i" >/dev/null
	done
	wait "$writer"
	run sh -c "ls '$M/conc' | wc -l"
	assert_output 200
	for i in 0 77 149; do
		assert_equal "$(cat "$M/conc/c$i")" "curl$i"
	done
	for i in 0 25 49; do
		assert_equal "$(kv -L "conc/m$i")" "mount$i"
	done
	run sh -c "kv() { curl -s 'http://127.0.0.1:$KV_PORT/conc/?list&limit=1000'; }; kv | tr ',' '\n' | grep -c conc/"
	assert_output 200
}

@test "the same key written by curl and through the mount: one wins, nothing breaks" {
	local i
	for i in $(seq 0 19); do
		rm -f "$M/race"	# (when the mount wrote it, it is root's: not anonymous curl's)
		kv -L -X PUT -d "curl$i" race >/dev/null &
		echo "mount$i" >"$M/race" || true
		wait
		run cat "$M/race"
		assert_output --regexp "^(curl|mount)$i$"
		assert_equal "$(kv -L race)" "$output"
	done
}

@test "a full shard (HTTP 507) gives ENOSPC, not EIO" {
	local port
	port=$(free_port_block 1)
	cat >"$KV_DIR/full.py" <<'PY'
import http.server, sys
class Full(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, code):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(n)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_PUT(self): self.reply(507)
    def do_OPTIONS(self): self.reply(200)
    def do_DELETE(self): self.reply(204)
    def do_MOVE(self): self.reply(507)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Full).serve_forever()
PY
	python3 "$KV_DIR/full.py" "$port" >>"$KV_DIR/full.log" 2>&1 &
	record_pid full $!
	wait_http "http://127.0.0.1:$port/"
	mkdir -p "$KV_DIR/mnt-full"
	echo "$KV_DIR/mnt-full" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_DIR/mnt-full" \
		-o "shards=localhost:$port,index=$KV_DIR/index-full,cache=$KV_DIR/cache-full" \
		2>>"$KV_DIR/mount.log"
	run cp /etc/hostname "$KV_DIR/mnt-full/f"
	assert_failure
	assert_output --partial "No space left on device"
	[ ! -e "$KV_DIR/mnt-full/f" ]
	umount "$KV_DIR/mnt-full"
	local shm
	shm=$(KV_INDEX=$KV_DIR/index-full intents_dir)
	case "$shm" in /dev/shm/tinykv-*) rm -rf "$shm" ;; esac
}

@test "the logs are clean" {
	assert_logs_clean
}
