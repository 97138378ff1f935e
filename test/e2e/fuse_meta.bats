#!/usr/bin/env bats
# Metadata is real and kept in the index: mode, owner, times, symlinks, inode numbers,
# enforced permissions; and everything survives an unmount and a new mount (issue 3).

load helpers

setup_file() {
	start_cluster
	# Other users must reach the mount point: not inside the private (0700) bats tmpdir.
	KV_MNT=$(mktemp -d /tmp/tinykv-meta.XXXXXX)
	chmod 755 "$KV_MNT"
	export KV_MNT M=$KV_MNT
	mount_kv allow_other
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-meta.*) rmdir "$KV_MNT" ;; esac
}

setup() { require_fuse; }

# "name mtime_ns ctime_ns" of each file named (in the mount).
times_of() {
	python3 -c 'import os, sys
for name in sys.argv[2:]:
    st = os.stat(os.path.join(sys.argv[1], name))
    print(name, st.st_mtime_ns, st.st_ctime_ns)' "$M" "$@"
}

@test "chmod, chown and touch -d show in stat, and after a remount" {
	echo meta >"$M/meta"
	mkdir "$M/metadir"
	chmod 640 "$M/meta"
	chown 1234:5678 "$M/meta"
	touch -d '2001-02-03 04:05:06' "$M/meta"
	chmod 1750 "$M/metadir"
	chown 42:43 "$M/metadir"
	touch -d '2002-03-04 05:06:07' "$M/metadir"
	local want
	want=$(printf '640 1234 5678 2001-02-03 04:05:06.000000000 +0000\n1750 42 43 2002-03-04 05:06:07.000000000 +0000')
	run env TZ=UTC stat -c '%a %u %g %y' "$M/meta" "$M/metadir"
	assert_output "$want"
	remount_kv allow_other
	run env TZ=UTC stat -c '%a %u %g %y' "$M/meta" "$M/metadir"
	assert_output "$want"
	run cat "$M/meta"
	assert_output "meta"
}

@test "the mount's root has metadata too" {
	chmod 751 "$M"
	touch -d '2003-04-05 06:07:08 UTC' "$M"
	run stat -c '%a %Y' "$M"
	assert_output "751 1049522828"
	remount_kv allow_other
	run stat -c '%a %Y' "$M"
	assert_output "751 1049522828"
	chmod 755 "$M"
}

@test "utimensat sets access and modification times to the nanosecond" {
	echo t >"$M/utimes"
	python3 -c 'import os, sys; os.utime(sys.argv[1], ns=(1000000000123456789, 1100000000987654321))' "$M/utimes"
	run stat -c '%X.%x %Y.%y' "$M/utimes"
	assert_output --regexp '^1000000000\.[-0-9]+ [:0-9]+\.123456789 .* 1100000000\.[-0-9]+ [:0-9]+\.987654321 '
	# UTIME_OMIT leaves a time alone, UTIME_NOW sets it to now
	touch -m -d '2010-01-01 00:00:00 UTC' "$M/utimes"
	run stat -c '%X %Y' "$M/utimes"
	assert_output "1000000000 1262304000"
	touch -a "$M/utimes"
	run stat -c %X "$M/utimes"
	[ "$output" -ge "$(($(date +%s) - 60))" ]
	remount_kv allow_other
	run stat -c %Y "$M/utimes"
	assert_output 1262304000
}

@test "writing a file updates its mtime; metadata set while it is open is kept" {
	echo a >"$M/openmeta"
	touch -d '2000-01-01 00:00:00 UTC' "$M/openmeta"
	echo b >>"$M/openmeta"
	run stat -c %Y "$M/openmeta"
	[ "$output" -gt 946684800 ]
	python3 - "$M/openmeta" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"new\n")
os.fchmod(fd, 0o600)
os.fchown(fd, 77, 88)
os.utime(fd, ns=(946684800000000000, 946684800000000000))
os.close(fd)
PY
	run stat -c '%a %u %g %Y %s' "$M/openmeta"
	assert_output "600 77 88 946684800 4"
	remount_kv allow_other
	run stat -c '%a %u %g %Y %s' "$M/openmeta"
	assert_output "600 77 88 946684800 4"
}

@test "a file keeps the times it showed while open when close stores it" {
	# Stored at close, which comes later than its last write or its creation: the times
	# stat showed while it was open stay (pjdfstest compares them in whole seconds).
	echo old >"$M/closetimes-old"
	local seen
	seen=$(python3 - "$M/closetimes-new" "$M/closetimes-touched" "$M/closetimes-old" <<'PY'
import os, sys, time
fds = [os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644),
       os.open(sys.argv[2], os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o644),
       os.open(sys.argv[3], os.O_WRONLY | os.O_TRUNC)]
os.write(fds[0], b"new\n")
os.write(fds[2], b"rewritten\n")
for path, fd in zip(sys.argv[1:], fds):
    st = os.fstat(fd)
    print(os.path.basename(path), st.st_mtime_ns, st.st_ctime_ns)
time.sleep(1.2)  # past a second boundary before the store
for fd in fds:
    os.close(fd)
PY
	)
	[ "$(echo "$seen" | wc -l)" -eq 3 ]
	run times_of closetimes-new closetimes-touched closetimes-old
	assert_output "$seen"
	remount_kv allow_other
	run times_of closetimes-new closetimes-touched closetimes-old
	assert_output "$seen"
}

@test "rsync -a copies content, modes, owners, times and symlinks" {
	command -v rsync >/dev/null || skip "rsync is not installed (scripts/install-deps)"
	local src=$BATS_TEST_TMPDIR/src
	mkdir -p "$src/sub/deeper" "$src/emptydir"
	echo one >"$src/one"
	printf 'two\0bytes' >"$src/sub/two"
	head -c 300000 /dev/urandom >"$src/sub/deeper/bin"
	ln -s one "$src/link"
	ln -s ../nowhere "$src/sub/dangling"
	chmod 600 "$src/one"
	chmod 751 "$src/sub"
	chown 1001:1002 "$src/sub/two"
	chown -h 1003:1004 "$src/link"
	touch -d '1999-12-31 23:59:59' "$src/one" "$src/sub/two" "$src/sub/deeper/bin"
	touch -h -d '1998-01-01' "$src/link" "$src/sub/dangling"
	touch -d '1997-01-01' "$src/sub/deeper" "$src/sub" "$src/emptydir" "$src"
	rsync -a "$src/" "$M/rs/"
	# a second run finds nothing to change: every attribute it compares matches
	run rsync -ai --dry-run "$src/" "$M/rs/"
	assert_success
	assert_output ""
	run cmp "$src/sub/deeper/bin" "$M/rs/sub/deeper/bin"
	assert_success
	remount_kv allow_other
	run rsync -ai --dry-run "$src/" "$M/rs/"
	assert_output ""
	run readlink "$M/rs/link"
	assert_output "one"
	run stat -c '%a %u %g' "$M/rs/one" "$M/rs/sub" "$M/rs/sub/two"
	assert_output "$(printf '600 0 0\n751 0 0\n644 1001 1002')"
}

@test "permissions are enforced (default_permissions)" {
	echo secret >"$M/rootfile"
	chmod 644 "$M/rootfile"
	echo hidden >"$M/private"
	chmod 600 "$M/private"
	run as_nobody "cat '$M/rootfile'"
	assert_success
	assert_output "secret"
	run as_nobody "echo bad >> '$M/rootfile'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody "cat '$M/private'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody "echo x > '$M/nobody-new'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody "rm -f '$M/rootfile'"
	assert_failure
	run as_nobody "chmod 666 '$M/rootfile'"
	assert_failure
	assert_output --partial "Operation not permitted"
	run cat "$M/rootfile"
	assert_output "secret"
	run stat -c %a "$M/rootfile"
	assert_output 644
	[ ! -e "$M/nobody-new" ]
}

@test "a user writes in a directory of theirs and owns what they make" {
	mkdir "$M/home"
	chown 65534:65534 "$M/home"
	run as_nobody "echo mine > '$M/home/f' && mkdir '$M/home/d' && cat '$M/home/f'"
	assert_success
	assert_output "mine"
	run stat -c '%u %g %a' "$M/home/f" "$M/home/d"
	assert_output "$(printf '65534 65534 644\n65534 65534 755')"
	run as_nobody "chown 0 '$M/home/f'"
	assert_failure
	assert_output --partial "Operation not permitted"
	run as_nobody "chmod 600 '$M/home/f' && stat -c %a '$M/home/f'"
	assert_output 600
}

@test "symlinks: ln -s, readlink, through them, and after a remount" {
	echo target >"$M/target"
	ln -s target "$M/link"
	ln -s /no/such/place "$M/dangling"
	mkdir -p "$M/ldir"
	ln -s ../target "$M/ldir/up"
	run readlink "$M/link"
	assert_output "target"
	run cat "$M/link" "$M/ldir/up"
	assert_output "$(printf 'target\ntarget')"
	run stat -c '%F %s' "$M/link"
	assert_output "symbolic link 6"
	run ls -l "$M/dangling"
	assert_output --partial "dangling -> /no/such/place"
	run ln -s elsewhere "$M/link"
	assert_failure
	assert_output --partial "File exists"
	remount_kv allow_other
	run readlink "$M/link" "$M/dangling" "$M/ldir/up"
	assert_output "$(printf 'target\n/no/such/place\n../target')"
	rm "$M/dangling"
	[ ! -L "$M/dangling" ]
	run cat "$M/target"
	assert_output "target"
}

@test "inode numbers are stable across remounts" {
	echo i >"$M/ino"
	mkdir -p "$M/inodir"
	chmod 777 "$M/inodir"	# anonymous curl ("other") writes in it too
	ln -sf ino "$M/inolink"
	kv -L -X PUT -d fromcurl inodir/curl >/dev/null
	local before
	before=$(stat -c '%i %n' "$M/ino" "$M/inodir" "$M/inolink" "$M/inodir/curl")
	remount_kv allow_other
	run stat -c '%i %n' "$M/ino" "$M/inodir" "$M/inolink" "$M/inodir/curl"
	assert_output "$before"
	run sh -c "ls -i '$M/inodir' | awk '{print \$1}'"
	assert_output "$(stat -c %i "$M/inodir/curl")"
}

@test "df shows real, non-zero figures" {
	run df -P "$M"
	assert_success
	run sh -c "df -P '$M' | awk 'NR == 2 { print (\$2 > 0), (\$4 > 0) }'"
	assert_output "1 1"
	run stat -f -c '%b %a %c' "$M"
	[[ "$output" =~ ^[1-9][0-9]*\ [1-9][0-9]*\ [1-9][0-9]*$ ]]
}

@test "an unmount and a new mount keep everything: files, empty directories, metadata" {
	mkdir -p "$M/keep/empty/deeper"
	chmod 777 "$M/keep"	# anonymous curl ("other") writes in it too
	echo v1 >"$M/keep/file"
	kv -L -X PUT -d curl keep/curl >/dev/null
	chmod 700 "$M/keep/empty"
	local before
	before=$(cd "$M/keep" && find . -printf '%p %y %m %s\n' | sort)
	remount_kv allow_other
	run sh -c "cd '$M/keep' && find . -printf '%p %y %m %s\n' | sort"
	assert_output "$before"
	run ls "$M/keep/empty"
	assert_output "deeper"
	run cat "$M/keep/file" "$M/keep/curl"
	assert_output "$(printf 'v1\ncurl')"
}

@test "the logs are clean" {
	assert_logs_clean
}
