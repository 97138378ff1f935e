#!/usr/bin/env bats
# POSIX beyond values (issue 10): special files — FIFOs, devices, unix sockets — live in
# the index alone (no shard holds anything for them) and survive a rebuild and a remount;
# inode numbers are stored in the record and kept across a rename of a file or directory.

load helpers

setup_file() {
	start_cluster
	KV_MNT=$(mktemp -d /tmp/tinykv-posix.XXXXXX)
	chmod 755 "$KV_MNT"
	export KV_MNT M=$KV_MNT
	mount_kv allow_other
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-posix.*) rmdir "$KV_MNT" ;; esac
}

setup() { require_fuse; }

# Files below the shards' roots (values and temporary uploads), one per line.
shard_files() { find "$KV_DIR/shard1" "$KV_DIR/shard2" -type f -path '*/[0-9a-f][0-9a-f]/*' | sort; }

@test "a FIFO made in the mount carries bytes from a writer to a reader" {
	local before
	before=$(shard_files)
	mkfifo -m 640 "$M/pipe"
	run stat -c '%F %a' "$M/pipe"
	assert_output "fifo 640"
	[ "$(shard_files)" = "$before" ]	# nothing went to a shard
	(echo "through the pipe" >"$M/pipe") &
	local writer=$!
	run timeout 10 cat "$M/pipe"
	wait "$writer"
	assert_success
	assert_output "through the pipe"
	run mkfifo "$M/pipe"
	assert_failure
	assert_output --partial "File exists"
}

@test "mknod of a character and a block device shows type, mode, owner and rdev" {
	mknod -m 600 "$M/null" c 1 3
	mknod "$M/blk" b 7 200
	chown 12:34 "$M/blk"
	run stat -c '%F %a %t %T' "$M/null"
	assert_output "character special file 600 1 3"
	run stat -c '%F %u %g %t %T' "$M/blk"
	assert_output "block special file 12 34 7 c8"
	run ls -l "$M/null"
	assert_output --regexp '^crw------- .* 1, +3 '
}

@test "a unix socket bound in the mount accepts a connection" {
	run timeout 20 python3 - "$M/sock" <<'PY'
import os, socket, stat, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
assert stat.S_ISSOCK(os.stat(path).st_mode)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect(path)
conn, _ = srv.accept()
cli.sendall(b"hello socket")
print(conn.recv(100).decode())
PY
	assert_success
	assert_output "hello socket"
	run stat -c '%F' "$M/sock"
	assert_output "socket"
	rm "$M/sock"
	[ ! -e "$M/sock" ]
}

@test "special files over HTTP: listed, 404 to GET like symlinks, deletable" {
	mkdir -m 777 "$M/web"	# anonymous curl ("other") may write in it
	mkfifo "$M/web/fifo"
	chmod 666 "$M/web/fifo"	# and delete it: DELETE asks for write on the key
	ln -s fifo "$M/web/link"
	run kv '' 'web/?list'
	assert_output --partial '"web/fifo"'
	run kv_status -L web/fifo
	assert_output "404"
	run kv_body
	assert_output --partial "not found"
	run kv_status -L web/link	# as a symlink is answered
	assert_output "404"
	run kv_status -X DELETE web/fifo
	assert_output "200"
	run ls "$M/web"	# (a stat may still find the kernel's cached entry for a second)
	assert_output "link"
}

@test "special files are renamed, chmodded and removed in the index alone" {
	mkdir "$M/sp"
	mkfifo "$M/sp/f"
	mknod "$M/sp/c" c 4 5
	local before
	before=$(shard_files)
	mv "$M/sp/f" "$M/sp/g"
	chmod 600 "$M/sp/g"
	run stat -c '%F %a' "$M/sp/g"
	assert_output "fifo 600"
	[ ! -e "$M/sp/f" ]
	mv "$M/sp" "$M/sp2"
	run stat -c '%F %t %T' "$M/sp2/c"
	assert_output "character special file 4 5"
	rm "$M/sp2/g" "$M/sp2/c"
	rmdir "$M/sp2"
	[ "$(shard_files)" = "$before" ]
}

@test "st_ino stays the same when a file or a directory is renamed" {
	echo value >"$M/file"
	mkdir -p "$M/dir/sub"
	echo inner >"$M/dir/sub/inner"
	mkfifo "$M/fifo"
	local f d i p
	f=$(stat -c %i "$M/file")
	d=$(stat -c %i "$M/dir")
	i=$(stat -c %i "$M/dir/sub/inner")
	p=$(stat -c %i "$M/fifo")
	mv "$M/file" "$M/file2"
	mv "$M/dir" "$M/dir2"
	mv "$M/fifo" "$M/dir2/fifo"
	run stat -c %i "$M/file2" "$M/dir2" "$M/dir2/sub/inner" "$M/dir2/fifo"
	assert_output "$(printf '%s\n' "$f" "$d" "$i" "$p")"
	# readdir gives the same numbers
	run sh -c "ls -i '$M/dir2' | awk '\$2 == \"fifo\" { print \$1 }'"
	assert_output "$p"
	# and distinct files have distinct numbers
	echo other >"$M/file"
	[ "$(stat -c %i "$M/file")" != "$f" ]
	# overwriting a value keeps the file's number
	echo replaced >"$M/file2"
	[ "$(stat -c %i "$M/file2")" = "$f" ]
	# a file renamed onto another takes its own number along
	mv "$M/file2" "$M/file"
	[ "$(stat -c %i "$M/file")" = "$f" ]
	remount_kv allow_other
	run stat -c %i "$M/file" "$M/dir2" "$M/dir2/sub/inner" "$M/dir2/fifo"
	assert_output "$(printf '%s\n' "$f" "$d" "$i" "$p")"
}

@test "special files survive a rebuild of the index from the shards and a remount" {
	mkfifo -m 604 "$M/keptfifo"
	mknod "$M/keptdev" c 10 20
	echo v >"$M/keptfile"
	local ino
	ino=$(stat -c %i "$M/keptfifo")
	run "$BIN/tinykvd" rebuild -c "$KV_DIR/kv.conf"
	assert_success
	run "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf"
	assert_success
	remount_kv allow_other
	run stat -c '%F %a %i' "$M/keptfifo"
	assert_output "fifo 604 $ino"
	run stat -c '%F %t %T' "$M/keptdev"
	assert_output "character special file a 14"
	run cat "$M/keptfile"
	assert_output "v"
}

@test "the logs are clean" {
	assert_logs_clean
}
