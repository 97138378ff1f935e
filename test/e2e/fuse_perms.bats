#!/usr/bin/env bats
# The smaller POSIX rules of the mount (issue 10): a directory's times follow its entries,
# a name over NAME_MAX is ENAMETOOLONG, writes, truncates and chowns by other users clear
# set-user-ID and set-group-ID, ftruncate(2) changes ctime, and a directory's link count
# counts its subdirectories. The other user is nobody (65534, as_nobody).

load helpers

setup_file() {
	start_cluster
	# nobody must reach the mount point: not inside the private (0700) bats tmpdir.
	KV_MNT=$(mktemp -d /tmp/tinykv-perms.XXXXXX)
	chmod 755 "$KV_MNT"
	export KV_MNT M=$KV_MNT
	mount_kv allow_other
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-perms.*) rmdir "$KV_MNT" ;; esac
}

setup() { require_fuse; }

# A whole stat(2), as programs make it: "mode ctime_ns mtime_s nlink". (stat -c asking for
# only some fields may be answered from the kernel's attribute cache.)
full_stat() {
	python3 -c 'import os, sys
st = os.lstat(sys.argv[1])
print("%o %d %d %d" % (st.st_mode & 0o7777, st.st_ctime_ns, int(st.st_mtime), st.st_nlink))' "$1"
}

field() { full_stat "$1" | cut -d' ' -f"$2"; }

# dir_changes DIR COMMAND: COMMAND (a shell line) must set DIR's mtime to now (from 2001)
# and move its ctime on.
dir_changes() {
	local dir=$1 before
	touch -d '2001-01-01 00:00:00 UTC' "$dir"
	before=$(field "$dir" 2)
	sh -c "$2"
	[ "$(field "$dir" 3)" -gt 978307200 ] || { echo "$2: mtime of $dir stayed" >&2; return 1; }
	[ "$(field "$dir" 2)" -gt "$before" ] || { echo "$2: ctime of $dir stayed" >&2; return 1; }
}

@test "making, renaming and removing an entry updates its directory's mtime and ctime" {
	mkdir "$M/times" "$M/times2"
	dir_changes "$M/times" "mkdir '$M/times/sub'"
	dir_changes "$M/times" "echo f >'$M/times/file'"
	dir_changes "$M/times" "ln -s file '$M/times/link'"
	dir_changes "$M/times" "mv '$M/times/file' '$M/times/file2'"
	dir_changes "$M/times" "mv '$M/times/file2' '$M/times2/file'"
	dir_changes "$M/times2" "mv '$M/times/link' '$M/times2/link'"
	dir_changes "$M/times2" "rm '$M/times2/file'"
	dir_changes "$M/times" "mv '$M/times/sub' '$M/times2/sub'"
	dir_changes "$M/times2" "rmdir '$M/times2/sub'"
	# and the index keeps them: a new mount shows the same
	local want
	want=$(field "$M/times2" 2)
	remount_kv allow_other
	run field "$M/times2" 2
	assert_output "$want"
}

@test "a name over 255 bytes that does not exist is ENAMETOOLONG, not ENOENT" {
	local long
	long=$(printf 'n%.0s' $(seq 256))
	for cmd in "chmod 644" "chown 1" "chown -h 1" "truncate -c -s 0" "rm" "rmdir" "stat"; do
		run $cmd "$M/$long"
		assert_failure
		assert_output --partial "File name too long"
	done
	run mv "$M/$long" "$M/short"
	assert_output --partial "File name too long"
	run ls "$M/$long/below"
	assert_output --partial "File name too long"
	# a name of 255 bytes is only missing
	run stat "$M/${long:1}"
	assert_output --partial "No such file"
	# and a longer name stored through HTTP still opens
	kv -X PUT -d http "perms-long/$long" >/dev/null
	run cat "$M/perms-long/$long"
	assert_output "http"
}

@test "a write by another user clears set-user-ID, and set-group-ID with group-exec" {
	mkdir "$M/suid"
	chmod 777 "$M/suid"
	local mode
	for mode in 4777:777 2777:777 6777:777 2767:2767; do
		echo a >"$M/suid/f"
		chmod "${mode%:*}" "$M/suid/f"
		run as_nobody "echo x >>'$M/suid/f'"	# write-only: the kernel's page cache is bypassed
		assert_success
		run field "$M/suid/f" 1
		assert_output "${mode#*:}"
		chmod "${mode%:*}" "$M/suid/f"
		run as_nobody "exec 3<>'$M/suid/f' && echo y >&3"	# read-write: through the cache
		assert_success
		run field "$M/suid/f" 1
		assert_output "${mode#*:}"
		rm "$M/suid/f"
	done
	# root (CAP_FSETID) keeps them
	echo a >"$M/suid/f"
	chmod 6777 "$M/suid/f"
	echo b >>"$M/suid/f"
	run field "$M/suid/f" 1
	assert_output 6777
}

@test "a truncate or a chown by another user clears set-user-ID and set-group-ID" {
	mkdir -p "$M/suid2"
	echo a >"$M/suid2/f"
	chown 65534:65534 "$M/suid2/f"
	chmod 6777 "$M/suid2/f"
	run as_nobody "truncate -s 1 '$M/suid2/f'"
	assert_success
	run field "$M/suid2/f" 1
	assert_output 777
	chmod 6755 "$M/suid2/f"
	run as_nobody "chown 65534:65534 '$M/suid2/f'"
	assert_success
	run field "$M/suid2/f" 1
	assert_output 755
}

@test "ftruncate of an open file updates its ctime" {
	echo data >"$M/ftrunc"
	run python3 - "$M/ftrunc" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
before = os.fstat(fd).st_ctime_ns
os.ftruncate(fd, 123)
after = os.fstat(fd).st_ctime_ns
os.close(fd)
print("open", "later" if after > before else "same")
print("closed", "later" if os.stat(sys.argv[1]).st_ctime_ns > before else "same")
PY
	assert_output "$(printf 'open later\nclosed later')"
}

@test "a directory's link count is 2 and one per subdirectory" {
	mkdir -p "$M/links/a" "$M/links/b/deeper" "$M/links/c" "$M/links2"
	echo f >"$M/links/file"
	run field "$M/links" 4
	assert_output 5
	run field "$M/links/b" 4
	assert_output 3
	rmdir "$M/links/c"
	mv "$M/links/a" "$M/links2/a"
	run field "$M/links" 4
	assert_output 3
	run field "$M/links2" 4
	assert_output 3
	# a listing gives the same (readdirplus: attributes with the names)
	run sh -c "ls -l '$M' | awk '\$NF == \"links2\" { print \$2 }'"
	assert_output 3
	# past 1000 subdirectories the count is not kept up: 1, "not counted" to find(1)
	mkdir "$M/many"
	(cd "$M/many" && seq 1000 | xargs mkdir)
	run field "$M/many" 4
	assert_output 1002
	mkdir "$M/many/one-more"
	run field "$M/many" 4
	assert_output 1
}
