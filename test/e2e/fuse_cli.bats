#!/usr/bin/env bats
# The tinykv program: options, foreground and debug runs, mount -t fuse.tinykv and fstab,
# config overrides, cache timeouts, and its memory on a large copy (issue 3).

load helpers

setup_file() {
	start_cluster
	kv -L -X PUT -d world hello >/dev/null
}

teardown_file() { kv_cleanup; }

setup() { require_fuse; }

# Every test starts and ends with nothing mounted at $KV_MNT.
teardown() { umount_kv; wait_unmounted "$KV_MNT"; }

@test "--help lists the options" {
	run "$BIN/tinykv" --help
	assert_success
	assert_output --partial "usage:"
	local opt
	for opt in shards= index= replicas= cache= timeout= attr_timeout= entry_timeout= \
		max_size= _netdev allow_other default_permissions -f -d; do
		assert_output --partial -- "$opt"
	done
	run "$BIN/tinykv" --version
	assert_success
	assert_output --regexp '^tinykv [0-9]'
}

@test "a wrong command line or config fails on the terminal and mounts nothing" {
	mkdir -p "$KV_MNT"
	run "$BIN/tinykv"
	assert_failure
	assert_output --partial "usage"
	run "$BIN/tinykv" "$KV_DIR/no-such.conf" "$KV_MNT"
	assert_failure
	assert_output --partial "no-such.conf"
	printf 'shards = localhost:1\nreplicas = 5\n' >"$KV_DIR/bad.conf"
	run "$BIN/tinykv" "$KV_DIR/bad.conf" "$KV_MNT"
	assert_failure
	assert_output --partial "replicas"
	run "$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT" -o replicas=zero
	assert_failure
	assert_output --partial "replicas"
	run "$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT" -o no_such_option
	assert_failure
	assert_output --partial "no_such_option"
	! is_mounted "$KV_MNT"
}

@test "-f runs in the foreground until unmounted" {
	mount_kv_fg
	local pid
	pid=$(pid_of tinykv)
	kill -0 "$pid"
	run cat "$KV_MNT/hello"
	assert_output "world"
	umount "$KV_MNT"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	! kill -0 "$pid" 2>/dev/null
}

@test "-d prints the FUSE requests and runs in the foreground" {
	mkdir -p "$KV_MNT"
	echo "$KV_MNT" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT" -d 2>"$KV_DIR/debug.out" &
	local pid=$!
	record_pid tinykv-d "$pid"
	wait_mounted "$KV_MNT"
	cat "$KV_MNT/hello" >/dev/null
	umount "$KV_MNT"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	run grep -c 'opcode: LOOKUP' "$KV_DIR/debug.out"
	[ "$output" -ge 1 ]
}

@test "a signal ends the mount; what open files hold is stored first" {
	mount_kv_fg
	run python3 - "$KV_MNT/sigterm" "$(pid_of tinykv)" <<'PY'
import os, signal, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"written, never closed")
pid = int(sys.argv[2])
os.kill(pid, signal.SIGTERM)
for _ in range(600):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        print("gone")
        break
    time.sleep(0.05)
PY
	assert_output "gone"
	wait_unmounted "$KV_MNT"
	run kv -L sigterm
	assert_output "written, never closed"
	run grep -c 'Ignoring invalid' "$KV_DIR/mount.log"
	assert_output 0
}

@test "fstab and systemd options are accepted and ignored" {
	mount_kv "_netdev,nofail,defaults,noauto,x-systemd.automount,x-systemd.device-timeout=10,comment=x,rw"
	is_mounted "$KV_MNT"
	run cat "$KV_MNT/hello"
	assert_output "world"
}

@test "-o shards=...,index=...,replicas=... override the config file" {
	# A config that would not work at all: every setting comes from -o.
	printf 'shards = localhost:1\nindex = %s\n' "$KV_DIR/wrong-index" >"$KV_DIR/override.conf"
	mkdir -p "$KV_MNT"
	echo "$KV_MNT" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/override.conf" "$KV_MNT" \
		-o "shards=$(shard_name 1);$(shard_name 2),index=$KV_INDEX,replicas=2,cache=$KV_CACHE" \
		-o "shard_secret_file=$KV_SECRET"
	run cat "$KV_MNT/hello"
	assert_output "world"
	echo twice >"$KV_MNT/twice"
	run curl -s "$(key_url twice 1)" "$(key_url twice 2)"
	assert_output "$(printf 'twice\ntwice')"
	[ ! -e "$KV_DIR/wrong-index" ]
}

@test "mount -t fuse.tinykv and an fstab line work with tinykv on PATH" {
	# mount(8) clears PATH before it runs mount.fuse3, whose /bin/sh then finds tinykv
	# in the default directories only (where make install puts it). A private mount
	# namespace shows build/tinykv in /usr/local/sbin without touching the system.
	local bin=$KV_DIR/pathbin fstab=$KV_DIR/fstab
	mkdir -p "$bin" "$KV_MNT"
	ln -sf "$BIN/tinykv" "$bin/tinykv"
	echo "$KV_DIR/kv.conf $KV_MNT fuse.tinykv defaults,_netdev 0 0" >"$fstab"
	export PATH=$BIN:$PATH
	run unshare --mount --propagation private bash -c "
		set -e
		mount --bind '$bin' /usr/local/sbin
		mount -t fuse.tinykv '$KV_DIR/kv.conf' '$KV_MNT' -o _netdev,nofail,x-systemd.automount
		trap 'umount -l \"$KV_MNT\" 2>/dev/null || true' EXIT
		grep ' $KV_MNT fuse.tinykv ' /proc/mounts | cut -d' ' -f1,3
		cat '$KV_MNT/hello'; echo
		umount '$KV_MNT'
		mount -T '$fstab' '$KV_MNT'
		cat '$KV_MNT/hello'; echo
		umount '$KV_MNT'
		! grep -q ' $KV_MNT ' /proc/mounts
		echo unmounted"
	assert_success
	assert_output "$(printf '%s fuse.tinykv\nworld\nworld\nunmounted' "$KV_DIR/kv.conf")"
}

@test "attribute and entry cache timeouts are options" {
	mount_kv attr_timeout=0,entry_timeout=0
	kv -L -X PUT -d short cached >/dev/null
	run cat "$KV_MNT/cached"
	assert_output "short"
	kv -L -X DELETE cached >/dev/null
	kv -L -X PUT -d "a much longer value" cached >/dev/null
	run cat "$KV_MNT/cached"
	assert_output "a much longer value"
	run stat -c %s "$KV_MNT/cached"
	assert_output 19
}

@test "memory stays bounded on a 100 MiB copy each way; spool files go after upload" {
	mount_kv_fg
	local pid src=$BATS_TEST_TMPDIR/big sum
	pid=$(pid_of tinykv)
	head -c 100M /dev/urandom >"$src"
	sum=$(md5sum <"$src")
	cp "$src" "$KV_MNT/big"
	cp "$KV_MNT/big" "$BATS_TEST_TMPDIR/back"
	assert_equal "$(md5sum <"$BATS_TEST_TMPDIR/back")" "$sum"
	run vm_hwm_kb "$pid"
	echo "tinykv peak RSS: $output kB" >&3
	# (a sanitizer build, TINYKV_BIN, pays for its shadow memory: no bound there)
	nm "$BIN/tinykv" 2>/dev/null | grep -q __asan_init || [ "$output" -lt 65536 ]
	# while a file is open for writing its spool is open (and unlinked) in the cache...
	exec 4>"$KV_MNT/spooled"
	echo data >&4
	run sh -c "ls -l /proc/$pid/fd | grep -c '$KV_CACHE/'"
	assert_output 1
	exec 4>&-
	# ...and gone after the upload
	run sh -c "ls -l /proc/$pid/fd | grep -c '$KV_CACHE/'"
	assert_output 0
	run ls -A "$KV_CACHE"
	assert_output ""
	run cat "$KV_MNT/spooled"
	assert_output "data"
	rm -f "$src" "$BATS_TEST_TMPDIR/back" "$KV_MNT/big"
}

@test "the logs are clean" {
	assert_logs_clean
}
