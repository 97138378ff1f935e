#!/usr/bin/env bats
# Extended attributes and POSIX ACLs in the mount (issue 10): user.* attributes kept in
# the index with Linux's flags and errors, gone with their file, following renames of it
# and of its directory, trusted.* root's only, ACLs the kernel enforces (also for new
# files under a default ACL), and cp --preserve=all and rsync -aX carrying them.

load helpers

setup_file() {
	start_cluster
	# Other users must reach the mount point: not inside the private (0700) bats tmpdir.
	KV_MNT=$(mktemp -d /tmp/tinykv-xattr.XXXXXX)
	chmod 755 "$KV_MNT"
	export KV_MNT M=$KV_MNT
	mount_kv allow_other
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-xattr.*) rmdir "$KV_MNT" ;; esac
}

setup() {
	require_fuse
	command -v setfattr >/dev/null && command -v setfacl >/dev/null ||
		skip "attr and acl are not installed (scripts/install-deps)"
}

@test "user.* attributes round trip, are listed, removed, and survive a remount" {
	echo v >"$M/a"
	setfattr -n user.colour -v blue "$M/a"
	setfattr -n user.empty "$M/a"
	run getfattr --absolute-names --only-values -n user.colour "$M/a"
	assert_success
	assert_output "blue"
	run getfattr -d -m '' --absolute-names "$M/a"
	assert_output --partial 'user.colour="blue"'
	assert_output --partial 'user.empty'
	remount_kv allow_other
	run getfattr --absolute-names --only-values -n user.colour "$M/a"
	assert_output "blue"
	setfattr -x user.colour "$M/a"
	run getfattr --absolute-names -n user.colour "$M/a"
	assert_failure
	assert_output --partial "No such attribute"
	run setfattr -x user.colour "$M/a"
	assert_failure
	run cat "$M/a"
	assert_output "v"
}

@test "security.selinux is refused: not supported, not a missing attribute" {
	echo v >"$M/label"
	run setfattr -n security.selinux -v system_u:object_r:fusefs_t:s0 "$M/label"
	assert_failure
	assert_output --partial "Operation not supported"
	run getfattr --absolute-names -n security.selinux "$M/label"
	assert_failure
	assert_output --partial "Operation not supported"
	run getfattr -d -m '' --absolute-names "$M/label"
	refute_output --partial selinux
	setfattr -n security.other -v kept "$M/label"
	run getfattr --absolute-names --only-values -n security.other "$M/label"
	assert_output "kept"
	assert_logs_clean
}

@test "XATTR_CREATE and XATTR_REPLACE, size probes, ERANGE and the limits" {
	echo v >"$M/flags"
	run python3 - "$M/flags" <<'EOF'
import errno, os, sys
p = sys.argv[1]
def err(f):
    try:
        f()
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"
print(err(lambda: os.setxattr(p, "user.k", b"1", os.XATTR_REPLACE)))
print(err(lambda: os.setxattr(p, "user.k", b"1", os.XATTR_CREATE)))
print(err(lambda: os.setxattr(p, "user.k", b"2", os.XATTR_CREATE)))
print(err(lambda: os.setxattr(p, "user.k", b"22", os.XATTR_REPLACE)))
print(os.getxattr(p, "user.k").decode())
print(err(lambda: os.setxattr(p, "user." + "n" * 251, b"x")))
print(err(lambda: os.setxattr(p, "user." + "n" * 250, b"x")))
print(err(lambda: os.setxattr(p, "user.big", b"x" * 65536)))
print(err(lambda: os.setxattr(p, "user.toobig", b"x" * 65537)))
print(err(lambda: os.setxattr(p, "other.k", b"x")))
print(len(os.getxattr(p, "user.big")))
EOF
	assert_success
	assert_output "$(printf 'ENODATA\nok\nEEXIST\nok\n22\nERANGE\nok\nok\nE2BIG\nENOTSUP\n65536')"
	# A size-0 call asks the length; a short buffer is ERANGE (C, as programs do it).
	cat >"$BATS_FILE_TMPDIR/probe.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <sys/xattr.h>
int main(int argc, char **argv)
{
	char b[2];
	ssize_t n = getxattr(argv[1], "user.k", NULL, 0), l = listxattr(argv[1], NULL, 0);
	ssize_t s = getxattr(argv[1], "user.k", b, 1);
	int e = errno;
	ssize_t s2 = listxattr(argv[1], b, 2);

	printf("%zd %zd %zd %d %zd %d\n", n, l, s, e == ERANGE, s2, errno == ERANGE);
	return 0;
}
EOF
	cc -o "$BATS_FILE_TMPDIR/probe" "$BATS_FILE_TMPDIR/probe.c"
	run "$BATS_FILE_TMPDIR/probe" "$M/flags"
	# user.k, user.nnn…(250), user.big: 7 + 256 + 9 bytes of names
	assert_output "2 272 -1 1 -1 1"
}

@test "attributes go with rm, follow mv of a file and of a directory, and a replace" {
	echo v >"$M/gone"
	setfattr -n user.x -v 1 "$M/gone"
	rm "$M/gone"
	echo new >"$M/gone"
	run getfattr --absolute-names -n user.x "$M/gone"
	assert_failure
	# a DELETE over HTTP takes them too
	run kv_status -X PUT -d first overhttp
	assert_output 201
	setfattr -n user.h -v 1 "$M/overhttp"
	run kv_status -X DELETE overhttp
	assert_output 200
	run kv_status -X PUT -d again overhttp
	assert_output 201
	run getfattr --absolute-names -n user.h "$M/overhttp"
	assert_failure
	echo v >"$M/moved"
	setfattr -n user.x -v moved "$M/moved"
	mv "$M/moved" "$M/moved2"
	run getfattr --absolute-names --only-values -n user.x "$M/moved2"
	assert_output "moved"
	echo v >"$M/moved"
	run getfattr --absolute-names -n user.x "$M/moved"
	assert_failure
	# onto a file with attributes of its own: the source's replace them
	setfattr -n user.y -v old "$M/moved"
	mv "$M/moved2" "$M/moved"
	run getfattr -d --absolute-names "$M/moved"
	assert_output --partial 'user.x="moved"'
	refute_output --partial 'user.y'
	mkdir -p "$M/tree/sub"
	echo v >"$M/tree/sub/f"
	setfattr -n user.f -v file "$M/tree/sub/f"
	setfattr -n user.d -v dir "$M/tree/sub"
	setfattr -n user.t -v top "$M/tree"
	mv "$M/tree" "$M/tree2"
	run getfattr --absolute-names --only-values -n user.f "$M/tree2/sub/f"
	assert_output "file"
	run getfattr --absolute-names --only-values -n user.d "$M/tree2/sub"
	assert_output "dir"
	run getfattr --absolute-names --only-values -n user.t "$M/tree2"
	assert_output "top"
	mkdir -p "$M/tree/sub"
	run getfattr --absolute-names -n user.d "$M/tree/sub"
	assert_failure
	rm -r "$M/tree2"
	mkdir -p "$M/tree2/sub"
	run getfattr --absolute-names -n user.d "$M/tree2/sub"
	assert_failure
	# A directory that exists only because of a key below it becomes a directory of its
	# own when it gets an attribute (as with chmod), so the attribute does not outlive it.
	run kv_status -X PUT -d x implied/k
	assert_output 201
	setfattr -n user.i -v yes "$M/implied"
	rm "$M/implied/k"
	run getfattr --absolute-names --only-values -n user.i "$M/implied"
	assert_output "yes"
	rmdir "$M/implied"
	mkdir "$M/implied"
	run getfattr --absolute-names -n user.i "$M/implied"
	assert_failure
	rmdir "$M/implied"
	assert_logs_clean
}

@test "trusted.* is root's: refused to and hidden from another user" {
	echo v >"$M/tr"
	chmod 666 "$M/tr"
	setfattr -n trusted.t -v root "$M/tr"
	setfattr -n user.u -v all "$M/tr"
	run getfattr --absolute-names --only-values -n trusted.t "$M/tr"
	assert_output "root"
	run as_nobody "setfattr -n trusted.x -v 1 '$M/tr'"
	assert_failure
	run as_nobody "getfattr --absolute-names -n trusted.t '$M/tr'"
	assert_failure
	run as_nobody "getfattr -d -m - --absolute-names '$M/tr'"
	assert_output --partial 'user.u="all"'
	refute_output --partial 'trusted'
	# user.* needs write permission on the file
	chmod 644 "$M/tr"
	run as_nobody "setfattr -n user.v -v 1 '$M/tr'"
	assert_failure
	assert_output --partial "Permission denied"
}

@test "an access ACL is enforced, shows in the mode, and follows chmod" {
	echo secret >"$M/acl"
	chmod 600 "$M/acl"
	run as_nobody "cat '$M/acl'"
	assert_failure
	setfacl -m u:nobody:r "$M/acl"
	run as_nobody "cat '$M/acl'"
	assert_success
	assert_output "secret"
	run as_nobody "echo no >>'$M/acl'"
	assert_failure
	run getfacl -cp "$M/acl"
	assert_output --partial "user:nobody:r--"
	# the group bits are the mask now, as on a local disk
	run stat -c %A "$M/acl"
	assert_output "-rw-r-----"
	# chmod g-r narrows the mask: nobody's entry no longer grants reading
	chmod 600 "$M/acl"
	run getfacl -cp "$M/acl"
	assert_output --partial "mask::---"
	run as_nobody "cat '$M/acl'"
	assert_failure
	chmod 640 "$M/acl"
	# a chmod while the file is open and written is stored with its bytes: the same
	python3 - "$M/acl2" <<'PY'
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o640)
os.write(fd, b"one\n")
subprocess.run(["setfacl", "-m", "u:nobody:r", sys.argv[1]], check=True)
os.write(fd, b"two\n")
os.chmod(sys.argv[1], 0o600)
os.close(fd)
PY
	run getfacl -cp "$M/acl2"
	assert_output --partial "mask::---"
	run stat -c %a "$M/acl2"
	assert_output "600"
	run as_nobody "cat '$M/acl2'"
	assert_failure
	chmod 640 "$M/acl"
	remount_kv allow_other
	run as_nobody "cat '$M/acl'"
	assert_output "secret"
	setfacl -b "$M/acl"
	run as_nobody "cat '$M/acl'"
	assert_failure
	run getfattr --absolute-names -m - -d "$M/acl"
	refute_output --partial "posix_acl"
}

@test "a directory's default ACL is inherited by new files and directories" {
	mkdir "$M/shared"
	chmod 700 "$M/shared"
	setfacl -m u:nobody:rwx "$M/shared"
	setfacl -d -m u:nobody:rw "$M/shared"
	(umask 077 && echo made >"$M/shared/f" && mkdir "$M/shared/d")
	run getfacl -cp "$M/shared/f"
	assert_output --partial "user:nobody:rw-"
	run getfacl -cp "$M/shared/d"
	assert_output --partial "default:user:nobody:rw-"
	run as_nobody "cat '$M/shared/f' && echo more >>'$M/shared/f'"
	assert_success
	assert_output "made"
	run cat "$M/shared/f"
	assert_output "$(printf 'made\nmore')"
	# without a default ACL the umask applies as before
	(umask 077 && echo plain >"$M/plain")
	run stat -c %a "$M/plain"
	assert_output "600"
}

@test "a FIFO, a device and a socket made under a default ACL inherit it" {
	mkdir "$M/specials"
	setfacl -d -m u:nobody:rw "$M/specials"
	(umask 077 && mkfifo "$M/specials/fifo" && mknod -m 666 "$M/specials/null" c 1 3)
	(umask 077 && python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$M/specials/sock")
	local f
	for f in fifo null sock; do
		run getfacl -cp "$M/specials/$f"
		assert_output --partial "user:nobody:rw-"
	done
	# the mode the ACL implies, not the umask's
	run stat -c '%F %a' "$M/specials/fifo"
	assert_output "fifo 664"
	remount_kv allow_other
	run getfacl -cp "$M/specials/fifo"
	assert_output --partial "user:nobody:rw-"
}

@test "cp --preserve=all and rsync -aX keep attributes and ACLs" {
	local src=$BATS_FILE_TMPDIR/src
	mkdir -p "$src/d"
	echo one >"$src/d/one"
	setfattr -n user.keep -v cp "$src/d/one"
	setfacl -m u:nobody:r "$src/d/one"
	setfattr -n user.dir -v yes "$src/d"
	cp -a --preserve=all "$src/d" "$M/cp"
	run getfattr --absolute-names --only-values -n user.keep "$M/cp/one"
	assert_output "cp"
	run getfattr --absolute-names --only-values -n user.dir "$M/cp"
	assert_output "yes"
	run getfacl -cp "$M/cp/one"
	assert_output --partial "user:nobody:r--"
	rsync -aX "$src/d/" "$M/rs/"
	run getfattr --absolute-names --only-values -n user.keep "$M/rs/one"
	assert_output "cp"
	run getfattr --absolute-names --only-values -n user.dir "$M/rs"
	assert_output "yes"
	rsync -aAX "$src/d/" "$M/rsa/"
	run getfacl -cp "$M/rsa/one"
	assert_output --partial "user:nobody:r--"
	run cat "$M/rsa/one"
	assert_output "one"
	assert_logs_clean
}

@test "-o noacl: ACLs refused and left out, the mode bits alone count, ls -l asks nothing per file" {
	echo secret >"$M/na"
	chmod 600 "$M/na"
	setfacl -m u:nobody:r "$M/na"
	chmod 640 "$M/na"
	mkdir "$M/na-dir"
	setfacl -d -m u:nobody:rw "$M/na-dir"
	for i in 1 2 3 4 5; do echo "$i" >"$M/na-dir/f$i"; done
	local m2="$KV_DIR/mnt-noacl" log="$KV_DIR/noacl-requests.txt"
	mkdir -p "$m2"
	chmod 755 "$m2"
	echo "$m2" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$m2" -d -o allow_other,noacl 2>"$log" &
	record_pid tinykv-noacl $!
	wait_mounted "$m2"
	run setfacl -m u:nobody:rw "$m2/na"
	assert_failure
	assert_output --partial "Operation not supported"
	run getfattr --absolute-names -n system.posix_acl_access "$m2/na"
	assert_output --partial "Operation not supported"
	run getfattr -d -m - --absolute-names "$m2/na"
	refute_output --partial posix_acl
	# the stored ACL grants nobody nothing here: the mode's group bits are not nobody's
	run as_nobody "cat '$m2/na'"
	assert_failure
	run as_nobody "cat '$M/na'"
	assert_output "secret"
	# no default ACL is inherited; the umask applies
	(umask 077 && echo new >"$m2/na-dir/new")
	run stat -c %a "$m2/na-dir/new"
	assert_output "600"
	run getfattr -d -m - --absolute-names "$M/na-dir/new"
	refute_output --partial posix_acl
	# told once that ACLs are not supported, ls -l asks no attribute per file
	local before
	before=$(wc -l <"$log")
	ls -l "$m2/na-dir" >/dev/null
	asked=$(tail -n +"$((before + 1))" "$log" | grep -c 'opcode: GETXATTR' || true)
	echo "GETXATTR requests of ls -l: $asked for 6 files"
	[ "$asked" -le 2 ]
	ls -l "$m2/na-dir" | grep -q ' f5$'
	umount "$m2"
	assert_logs_clean
}
