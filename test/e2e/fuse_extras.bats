#!/usr/bin/env bats
# What everyday tools ask of the mount beyond pjdfstest (issue 10): fsync of a directory,
# fallocate, flock and fcntl locks between processes, O_TMPFILE, statx, git clone. The
# mount runs with sync=no, so that a directory's fsync is what makes the index durable.

load helpers

setup_file() {
	start_cluster
	KV_MNT=$(mktemp -d /tmp/tinykv-extras.XXXXXX)
	export KV_MNT M=$KV_MNT
	mount_kv sync=no
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-extras.*) rmdir "$KV_MNT" ;; esac
}

setup() { require_fuse; }

@test "fsync of a directory (and of the root) succeeds" {
	mkdir "$M/synced"
	touch "$M/synced/entry"
	run python3 - "$M/synced" "$M" <<'PY'
import os, sys
for d in sys.argv[1:]:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
print("synced")
PY
	assert_success
	assert_output "synced"
}

@test "fallocate grows a new file to its length with zeros, stored" {
	run fallocate -l 1M "$M/grown"
	assert_success
	run stat -c '%s' "$M/grown"
	assert_output 1048576
	cmp "$M/grown" <(head -c 1048576 /dev/zero)
	run kv -L -o /dev/null -w '%{http_code} %{size_download}' grown
	assert_output "200 1048576"
}

@test "fallocate past the end keeps the bytes already there" {
	printf 'abc' >"$M/kept"
	run fallocate -o 2 -l 6 "$M/kept"
	assert_success
	cmp "$M/kept" <(printf 'abc\0\0\0\0\0')
	run fallocate -l 4 "$M/kept"	# inside the file: nothing changes
	assert_success
	cmp "$M/kept" <(printf 'abc\0\0\0\0\0')
}

@test "fallocate --keep-size succeeds and leaves the size; holes and zero ranges are refused" {
	printf 'hello' >"$M/holes"
	run fallocate -n -l 1M "$M/holes"
	assert_success
	run stat -c '%s' "$M/holes"
	assert_output 5
	run fallocate -p -o 0 -l 2 "$M/holes"	# EOPNOTSUPP, in util-linux's words for -p
	assert_failure
	assert_output --partial "unsupported"
	run fallocate -z -o 0 -l 2 "$M/holes"
	assert_failure
	assert_output --partial "Operation not supported"
	run fallocate -c -o 0 -l 4096 "$M/holes"
	assert_failure
	[ "$(cat "$M/holes")" = hello ]
}

@test "flock excludes a second process of the same mount" {
	touch "$M/flocked"
	flock -n "$M/flocked" sleep 3 &
	local holder=$!
	sleep 1
	run flock -n "$M/flocked" true
	assert_failure
	wait "$holder"
	run flock -n "$M/flocked" true
	assert_success
}

@test "fcntl (lockf) locks exclude a second process of the same mount" {
	touch "$M/locked"
	run timeout 20 python3 - "$M/locked" <<'PY'
import fcntl, os, sys, time
path = sys.argv[1]
r, w = os.pipe()
child = os.fork()
if child == 0:
    fd = os.open(path, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    os.write(w, b"x")
    time.sleep(2)
    os._exit(0)
os.read(r, 1)
fd = os.open(path, os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("not excluded")
except OSError as e:
    print("excluded:", e.strerror)
os.waitpid(child, 0)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
print("taken after")
PY
	assert_success
	assert_line --index 0 --partial "excluded: "
	refute_output --partial "not excluded"
	assert_line --index 1 "taken after"
}

@test "O_TMPFILE is refused cleanly (EOPNOTSUPP) and leaves nothing" {
	mkdir "$M/tmpdir"
	run python3 - "$M/tmpdir" <<'PY'
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600)
    print("opened")
except OSError as e:
    print("EOPNOTSUPP" if e.errno == errno.EOPNOTSUPP else errno.errorcode[e.errno])
PY
	assert_output EOPNOTSUPP
	run ls -A "$M/tmpdir"
	assert_output ""
}

@test "stat through statx shows what getattr gives" {
	printf '12345' >"$M/statted"
	touch -d @1700000000 "$M/statted"
	run stat -c '%i %s %Y' "$M/statted"
	assert_success
	local want
	want=$(python3 -c 'import os, sys; s = os.stat(sys.argv[1]); print(s.st_ino, s.st_size, int(s.st_mtime))' "$M/statted")
	assert_output "$want"
	assert_output --regexp ' 5 1700000000$'
	run stat -c '%W' "$M/statted"	# no birth time: 0, not made up
	assert_output 0
}

# --local inside the mount hard-links its objects: fuse_links.bats. From another file
# system no link can be made (EXDEV), and git, told --local, stops cleanly.
@test "git clone works by path and with --no-hardlinks; --local from elsewhere fails cleanly" {
	local src="$KV_DIR/repo"
	git init -q "$src"
	echo one >"$src/a"
	git -C "$src" add a
	git -C "$src" -c user.name=t -c user.email=t@example.org commit -qm one
	run git clone -q "$src" "$M/byPath"
	assert_success
	run git -C "$M/byPath" fsck --strict
	assert_success
	[ "$(cat "$M/byPath/a")" = one ]
	run git clone -q --local --no-hardlinks "$src" "$M/copied"
	assert_success
	[ "$(git -C "$M/copied" log --format=%s)" = one ]
	run git clone -q --local "$src" "$M/linked"
	assert_failure
	assert_output --partial "failed to create link"
	[ ! -e "$M/linked" ]
}

@test "the logs are clean" {
	assert_logs_clean
}
