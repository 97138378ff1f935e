#!/usr/bin/env bats
# Hard links (issue 10): ln in the mount gives one inode under two names, whose metadata,
# link count and value every name shows, kept until the last name goes; tinykvd serves
# each name (GET, PUT, DELETE); verify finds nothing wrong, rebuild keeps the value and
# rebalance moves it under the name that holds it, the other names following.

load helpers

setup_file() {
	kv_init 3	# the third shard joins for the rebalance at the end
	start_shard 1
	start_shard 2
	write_conf 1 2
	start_kvd
	KV_MNT=$(mktemp -d /tmp/tinykv-links.XXXXXX)
	export KV_MNT M=$KV_MNT
	mount_kv
}

teardown_file() {
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-links.*) rmdir "$KV_MNT" ;; esac
}

setup() { require_fuse; }

verify() { "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf" "$@"; }

@test "ln makes a second name of the same inode, st_nlink 2 on both" {
	echo one >"$M/a"
	run ln "$M/a" "$M/b"
	assert_success
	run stat -c '%h %i' "$M/a" "$M/b"
	assert_output "$(printf '2 %s\n2 %s' "$(stat -c %i "$M/a")" "$(stat -c %i "$M/a")")"
	run cat "$M/b"
	assert_output one
	run ln "$M/a" "$M/b"
	assert_failure
	assert_output --partial "File exists"
	mkdir "$M/dir"
	run ln "$M/dir" "$M/dirlink"
	assert_failure
	assert_output --partial "not allowed"
}

@test "a write and a chmod through one name show through the other" {
	echo two >"$M/b"
	run cat "$M/a"
	assert_output two
	chmod 0606 "$M/a"		# others (tinykvd's anonymous requests) read and write
	run stat -c '%a %h %s' "$M/b"
	assert_output "606 2 4"
}

@test "GET of either name redirects to the value; a new value through one shows in both" {
	run kv -L a
	assert_output two
	run kv -L b
	assert_output two
	run kv -X PUT -d other b	# tinykvd's PUT makes new keys only, as for any key
	assert_output "Key 'b' already exists."
	echo three >"$M/b"
	run kv -L a
	assert_output three
	run cat "$M/a"
	assert_output three
	run stat -c %h "$M/b"
	assert_output 2
}

@test "rm of the name holding the value keeps it under the other" {
	run rm "$M/a"
	assert_success
	[ ! -e "$M/a" ]
	run stat -c %h "$M/b"
	assert_output 1
	run cat "$M/b"
	assert_output three
	run kv -L b
	assert_output three
	run verify
	assert_success
}

@test "rm of a name not holding the value; DELETE of a name through tinykvd" {
	echo four >"$M/c"
	chmod 0666 "$M/c"		# tinykvd's anonymous requests may delete it
	ln "$M/c" "$M/d"
	ln "$M/c" "$M/e"
	run stat -c %h "$M/e"
	assert_output 3
	rm "$M/d"
	run stat -c %h "$M/c"
	assert_output 2
	run kv -X DELETE e
	assert_output "Delete succeeded."
	sleep 1.2	# the kernel keeps what the mount said of c for attr_timeout (1 s)
	run stat -c %h "$M/c"
	assert_output 1
	run kv -L c
	assert_output four
	run kv -L e
	assert_output --partial "not found"
	run verify
	assert_success
}

@test "rename of either name keeps the inode; onto another name of it does nothing" {
	echo five >"$M/f"
	ln "$M/f" "$M/g"
	mv "$M/g" "$M/h"		# a name without the value: the index alone
	mv "$M/f" "$M/i"		# the name with it: the value moves
	run stat -c %h "$M/h" "$M/i"
	assert_output "$(printf '2\n2')"
	run cat "$M/h"
	assert_output five
	run python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$M/h" "$M/i"
	assert_success
	[ -e "$M/h" ] && [ -e "$M/i" ]
	rm "$M/i"
	run cat "$M/h"
	assert_output five
	run verify
	assert_success
}

@test "git clone --local hard-links the objects and works" {
	local src="$KV_DIR/repo"
	git init -q "$src"
	echo one >"$src/a"
	git -C "$src" add a
	git -C "$src" -c user.name=t -c user.email=t@example.org commit -qm one
	git clone -q "$src" "$M/base"
	run git clone -q --local "$M/base" "$M/linked"
	assert_success
	run git -C "$M/linked" fsck --strict
	assert_success
	[ "$(git -C "$M/linked" log --format=%s)" = one ]
	local obj
	obj=$(find "$M/linked/.git/objects" -type f -name '[0-9a-f]*' | head -1)
	[ "$(stat -c %h "$obj")" -ge 2 ]
}

@test "an open file's link count follows links and unlinks of its other names" {
	echo hi >"$M/o1"
	run python3 - "$M/o1" "$M/o2" <<'PY'
import os, sys
a, b = sys.argv[1:]
fd = os.open(a, os.O_RDWR)
os.write(fd, b"x")			# not stored until the close
os.link(a, b)
print(os.stat(a).st_nlink, os.fstat(fd).st_nlink, os.stat(b).st_nlink)
os.close(fd)
print(os.stat(a).st_nlink, open(b, "rb").read().decode().strip())
fd = os.open(b, os.O_RDONLY)
os.unlink(a)
print(os.fstat(fd).st_nlink, os.read(fd, 3).decode().strip())
os.close(fd)
PY
	assert_success
	assert_output "$(printf '2 2 2\n2 xi\n1 xi')"
}

@test "the names share one set of extended attributes and one ACL" {
	echo seven >"$M/x1"
	setfattr -n user.color -v red "$M/x1"
	ln "$M/x1" "$M/x2"
	run getfattr --absolute-names --only-values -n user.color "$M/x2"
	assert_output red
	setfattr -n user.size -v big "$M/x2"
	run getfattr --absolute-names --only-values -n user.size "$M/x1"
	assert_output big
	setfacl -m u:nobody:r "$M/x1"
	run getfacl -cp "$M/x2"
	assert_output --partial "user:nobody:r--"
	setfattr -x user.color "$M/x1"
	run getfattr --absolute-names -n user.color "$M/x2"
	assert_failure
	rm "$M/x1"
	run getfattr --absolute-names --only-values -n user.size "$M/x2"
	assert_output big
}

@test "verify finds nothing wrong; rebuild keeps every value" {
	echo six >"$M/j"
	ln "$M/j" "$M/k"
	rm "$M/j"
	ln "$M/k" "$M/l"
	run verify --deep
	assert_success
	run "$BIN/tinykvd" rebuild -c "$KV_DIR/kv.conf"
	assert_success
	run verify
	assert_success
	remount_kv
	run cat "$M/k" "$M/l" "$M/b" "$M/c"
	assert_output "$(printf 'six\nsix\nthree\nfour')"
	run stat -c %h "$M/k"
	assert_output 2
}

@test "rebalance onto a third shard moves linked values; every name reads, verify is clean" {
	local i
	mkdir "$M/many"
	for i in $(seq -w 1 40); do
		echo "value $i" >"$M/many/v$i"
		ln "$M/many/v$i" "$M/many/w$i"
	done
	rm "$M/many/v0"*		# 01..09: the name holding the value goes
	start_shard 3
	write_conf 1 2 3
	stop_kvd
	start_kvd
	run "$BIN/tinykvd" rebalance -c "$KV_DIR/kv.conf"
	assert_success
	assert_output --regexp 'moved [1-9][0-9]* of'
	run verify --deep
	assert_success
	remount_kv
	for i in $(seq -w 1 40); do
		[ "$(kv -L "many/w$i")" = "value $i" ] || { echo "many/w$i"; return 1; }
		[ "$(cat "$M/many/w$i")" = "value $i" ] || { echo "w$i in the mount"; return 1; }
		[ "$i" -lt 10 ] || [ "$(kv -L "many/v$i")" = "value $i" ] || return 1
	done
	[ "$(stat -c %h "$M/many/w20")" = 2 ] && [ "$(stat -c %h "$M/many/w05")" = 1 ]
}

@test "the logs are clean" {
	assert_logs_clean
}
