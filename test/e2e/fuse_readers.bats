#!/usr/bin/env bats
# Readers never see a mix (issue 8, item 4): a program holding a file open while its value
# is replaced reads the old value whole (a replace made through the mount, as on a local
# disk) or gets EIO (a replace made elsewhere, through HTTP), never bytes of two values
# and never a short file that looks whole; fstat of the descriptor and an mv of the open
# file keep working. Values are one byte repeated, so a stray byte shows (readers.py).

load helpers

setup_file() {
	start_cluster
	mount_kv
	export M=$KV_MNT
	export R="python3 $BATS_TEST_DIRNAME/readers.py"
	export V=$KV_DIR/values
	mkdir -p "$V"
}

teardown_file() { kv_cleanup; }

setup() {
	require_fuse
	rm -f "$KV_DIR"/ready-* "$KV_DIR"/go-*
}

# hold_across NAME FILE BYTE SIZE [eio-ok] -- COMMAND...: a reader opens FILE, reads a
# piece; COMMAND runs; the reader reads the rest. Its verdict is in $output.
hold_across() {
	local name=$1 file=$2 byte=$3 size=$4 mode="" ready go pid
	shift 4
	if [ "$1" = eio-ok ]; then mode=eio-ok; shift; fi
	shift	# --
	ready=$KV_DIR/ready-$name
	go=$KV_DIR/go-$name
	$R hold "$file" "$byte" "$size" "$ready" "$go" $mode >"$KV_DIR/out-$name" 2>&1 &
	pid=$!
	local i
	for i in $(seq 1200); do
		[ -e "$ready" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	"$@"
	touch "$go"
	wait "$pid" && status=0 || status=$?
	output=$(cat "$KV_DIR/out-$name")
}

http_put() {	# http_put KEY FILE
	run kv -L -X PUT --data-binary @"$2" "$1"
	assert_output --partial "Transaction Successful"
}

@test "a reader open across an editor's save in the mount reads the old value whole" {
	$R value 97 3145728 "$M/saved"
	hold_across save "$M/saved" 97 3145728 -- $R save 98 3145728 "$M/saved"
	assert_success
	assert_output "whole"
	# and the file now holds the new value, for a new open
	run $R hold "$M/saved" 98 3145728 /dev/null "$M/saved"
	assert_output "whole"
}

@test "a reader open across a save to a shorter value reads the old one whole" {
	$R value 99 3145728 "$M/shrunk"
	hold_across shrink "$M/shrunk" 99 3145728 -- $R save 100 81920 "$M/shrunk"
	assert_success
	assert_output "whole"
	[ "$(stat -c %s "$M/shrunk")" -eq 81920 ]
}

@test "a reader open across HTTP DELETE and PUT reads the old value or gets EIO, never a mix" {
	$R value 101 3145728 "$V/old"
	$R value 102 3145728 "$V/same"
	http_put viahttp "$V/old"
	hold_across http "$M/viahttp" 101 3145728 eio-ok -- \
		sh -c "curl -sf -X DELETE http://127.0.0.1:$KV_PORT/viahttp >/dev/null &&
		       curl -sfL -X PUT --data-binary @$V/same http://127.0.0.1:$KV_PORT/viahttp >/dev/null"
	assert_success
	[[ "$output" == whole || "$output" == eio ]]
}

@test "a reader open across HTTP DELETE and PUT of a shorter value never sees a short file" {
	$R value 103 3145728 "$V/old2"
	$R value 104 81920 "$V/short"
	http_put viahttp2 "$V/old2"
	hold_across http2 "$M/viahttp2" 103 3145728 eio-ok -- \
		sh -c "curl -sf -X DELETE http://127.0.0.1:$KV_PORT/viahttp2 >/dev/null &&
		       curl -sfL -X PUT --data-binary @$V/short http://127.0.0.1:$KV_PORT/viahttp2 >/dev/null"
	assert_success
	[[ "$output" == whole || "$output" == eio ]]
}

# The new name is placed on the other shard, so the value moves there (a key's place
# depends on its name).
@test "mv of an open file keeps its reads working" {
	local from to
	from=$(key_on 1 moving)
	to=$(key_on 2 moved)
	$R value 105 3145728 "$M/$from"
	hold_across mv "$M/$from" 105 3145728 -- mv "$M/$from" "$M/$to"
	assert_success
	assert_output "whole"
	[ ! -e "$M/$from" ]
	[ "$(stat -c %s "$M/$to")" -eq 3145728 ]
}

@test "mv of an open file into another directory keeps its reads working" {
	local from to
	mkdir -p "$M/there"
	from=$(key_on 2 wander)
	to=$(key_on 1 there/wander)
	$R value 106 3145728 "$M/$from"
	hold_across mvdir "$M/$from" 106 3145728 -- mv "$M/$from" "$M/$to"
	assert_success
	assert_output "whole"
}

@test "a file removed while open reads on whole, and fstat works on it" {
	$R value 107 3145728 "$M/removed"
	hold_across rm "$M/removed" 107 3145728 -- rm "$M/removed"
	assert_success
	assert_output "whole"
	[ ! -e "$M/removed" ]
	run kv -o /dev/null -w '%{http_code}' removed
	assert_output 404
	run ls -a "$M"
	refute_output --partial .fuse_hidden
}

@test "fchmod, fchown and futimens of a file removed while open change only its open copy" {
	echo kept >"$M/gone-meta"
	echo other >"$M/gone-meta-new"
	run python3 - "$M/gone-meta" "$M/gone-meta-new" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.unlink(sys.argv[1])
os.rename(sys.argv[2], sys.argv[1])  # another file now has the name
os.fchmod(fd, 0o600)
os.fchown(fd, 77, 88)
os.utime(fd, ns=(946684800000000000, 946684800000000000))
st = os.fstat(fd)
print("%o %d %d %d %s" % (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime,
                          os.read(fd, 100).decode().strip()))
os.close(fd)
PY
	assert_success
	assert_output "600 77 88 946684800 kept"
	# the file that has the name now is not touched
	run stat -c '%a %u %Y' "$M/gone-meta"
	refute_output --partial 600
	refute_output --partial 946684800
	run cat "$M/gone-meta"
	assert_output other
}

# HTTP readers poll the key during the save: the hiding of the open file must not remove
# it first.
save_polled() {
	local stop=$KV_DIR/stop-poll poller
	rm -f "$stop"
	(while [ ! -e "$stop" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$KV_PORT/$1"
	done) >"$KV_DIR/polled" &
	poller=$!
	sleep 0.2
	$R save 109 16777216 "$M/$1"
	sleep 0.2
	touch "$stop"
	wait "$poller"
}

@test "a save over a file open in the mount is atomic over HTTP, and nothing hidden is stored" {
	$R value 108 1048576 "$M/atomic"
	hold_across atomic "$M/atomic" 108 1048576 -- save_polled atomic
	assert_output "whole"
	sort "$KV_DIR/polled" | uniq -c
	run grep -vx 302 "$KV_DIR/polled"
	assert_failure	# every answer a redirect to the value: never 404
	run kv -L atomic
	[ "${#output}" -eq 16777216 ]
	run kv "?list"
	refute_output --partial fuse_hidden
	run ls -a "$M"
	refute_output --partial .fuse_hidden
}

@test "readers against many saves in the mount: every pass is one value whole" {
	$R value 1 1048576 "$M/busy"
	local r1 r2 r3 i
	$R loop "$M/busy" 20 1048576 81920 3145728 >"$KV_DIR/loop1" 2>&1 & r1=$!
	$R loop "$M/busy" 20 1048576 81920 3145728 >"$KV_DIR/loop2" 2>&1 & r2=$!
	$R loop "$M/busy" 20 1048576 81920 3145728 >"$KV_DIR/loop3" 2>&1 & r3=$!
	for i in $(seq 2 61); do
		case $((i % 3)) in
		0) $R save "$i" 1048576 "$M/busy" ;;
		1) $R save "$i" 81920 "$M/busy" ;;
		2) $R save "$i" 3145728 "$M/busy" ;;
		esac
	done
	local st=0
	wait "$r1" || st=1
	wait "$r2" || st=1
	wait "$r3" || st=1
	cat "$KV_DIR"/loop[123]
	[ "$st" -eq 0 ]
}

# Values of one size: a shorter one, once the kernel learns its size (the name keeps its
# inode there), ends an old reader's read early — the limit tinykv(8) states.
@test "readers against HTTP replaces: every pass is one value whole or EIO" {
	$R value 1 3145728 "$V/v1"
	$R value 2 3145728 "$V/v2"
	$R value 3 3145728 "$V/v3"
	http_put hammered "$V/v1"
	local r1 r2 i
	$R loop "$M/hammered" 20 3145728 >"$KV_DIR/hloop1" 2>&1 & r1=$!
	$R loop "$M/hammered" 20 3145728 >"$KV_DIR/hloop2" 2>&1 & r2=$!
	for i in $(seq 40); do
		kv -X DELETE hammered >/dev/null
		kv -L -X PUT --data-binary @"$V/v$((i % 3 + 1))" hammered >/dev/null
	done
	local st=0
	wait "$r1" || st=1
	wait "$r2" || st=1
	cat "$KV_DIR"/hloop[12]
	[ "$st" -eq 0 ]
}

@test "the mount's log shows no errors but the reported replacements" {
	assert_logs_clean
}
