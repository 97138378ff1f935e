#!/usr/bin/env bats
# Big directories: a listing is read from the index in several kernel calls and must give
# every entry exactly once — stored keys, directories, and new files of this mount not
# closed yet — with the attributes attached (no lookup per file).

load helpers

N=5000

setup_file() {
	start_cluster -q
	local i cfg="$KV_DIR/put.cfg"
	echo v >"$KV_DIR/v"
	: >"$cfg"
	for i in $(seq -w 1 "$N"); do
		printf 'url = "http://127.0.0.1:%s/big/f%s"\nupload-file = "%s"\noutput = "/dev/null"\n' \
			"$KV_PORT" "$i" "$KV_DIR/v" >>"$cfg"
	done
	curl -s --parallel --parallel-max 16 -K "$cfg"
	mount_kv_fg
	export M=$KV_MNT
}

teardown_file() { kv_cleanup; }

setup() { require_fuse; }

@test "a directory of $N keys lists each exactly once, in order, with sizes" {
	run ls -1 "$M/big"
	assert_success
	[ "${#lines[@]}" -eq "$N" ]
	diff <(printf '%s\n' "${lines[@]}") <(seq -w 1 "$N" | sed 's/^/f/')
	[ "$(ls -l "$M/big" | awk 'NR > 1 && $5 == 2' | wc -l)" -eq "$N" ]
}

@test "subdirectories, explicit and implied, list once among the files" {
	mkdir "$M/big/m-made"
	kv -X PUT -d x big/m-implied/deep/file >/dev/null
	run ls -1 "$M/big"
	[ "${#lines[@]}" -eq $((N + 2)) ]
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^m-')" -eq 2 ]
	[ -d "$M/big/m-made" ] && [ -d "$M/big/m-implied" ]
}

@test "a new file not closed yet is listed, once" {
	exec 5>"$M/big/zz-open"
	echo partial >&5
	run ls -1 "$M/big"
	exec 5>&-
	[ "$(printf '%s\n' "${lines[@]}" | grep -c '^zz-open$')" -eq 1 ]
	[ "${#lines[@]}" -eq $((N + 3)) ]
}

@test "ls -l of the big directory asks the mount for no lookup and no SELinux label per file" {
	local m2="$KV_DIR/mnt-debug" log="$KV_DIR/debug-requests.txt"
	mkdir -p "$m2"
	echo "$m2" >>"$KV_DIR/mounts"
	# -d prints every request the kernel sends. Long cache timeouts: what is measured is
	# whether names come with their attributes; with the default 1 s, a loaded machine
	# (ls -l also asks each file's ACL, each request printed) lets the first entries
	# expire before ls stats them, and each expired one is looked up again.
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$m2" -d -o entry_timeout=60,attr_timeout=60 2>"$log" &
	record_pid tinykv-debug $!
	wait_mounted "$m2"
	ls -l "$m2/big" >/dev/null
	lookups=$(grep -c 'opcode: LOOKUP' "$log")
	echo "LOOKUP requests: $lookups for $N files"
	[ "$lookups" -lt 20 ]
	[ "$(grep -c 'opcode: READDIRPLUS' "$log")" -ge 1 ]
	# security.selinux is refused (EOPNOTSUPP), which ls remembers for the file system;
	# an ENODATA would cost a round trip per file.
	labels=$(grep -c '^getxattr .* security\.selinux' "$log" || true)
	echo "security.selinux requests: $labels"
	[ "$labels" -le 1 ]
	umount "$m2"
	assert_logs_clean
}
