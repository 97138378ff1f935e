#!/usr/bin/env bats
# One namespace for curl and the mount: a PUT may not turn a directory of the mount into a
# file or put a key below a file (409), nor store a key the mount cannot show (400), and
# the check holds against a mkdir or a PUT of a parent that lands while the value uploads.
# Keys an older version stored against these rules stay listed, readable and deletable.

load helpers

# ns_conf SHARD...: kv.conf for these shards, with an admin token (keys tinykvd rebuild
# finds are root's, mode 0644: an admin cleans them up); requests without a token may
# still read and write, from loopback.
ns_conf() {
	write_conf "$@"
	printf 'auth = %s\nanonymous = read, write\n' "$KV_DIR/tokens" >>"$KV_DIR/kv.conf"
}

setup_file() {
	kv_init 3
	export ADMIN_TOKEN
	ADMIN_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	(umask 077; echo "admin $ADMIN_TOKEN admin" >"$KV_DIR/tokens")
	start_shard 1
	start_shard 2
	ns_conf 1 2
	start_kvd -q
	mount_kv_fg
	export M=$KV_MNT
}

# as_admin CURL-ARGS... PATH: kv_status with the admin token.
as_admin() { kv_status -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }

teardown_file() { kv_cleanup; }

# keys_under PREFIX: the keys ?list gives for PREFIX, one per line.
keys_under() { kv "$1?list" | jq -r '.keys[]'; }

# wait_intents N: until N operations are in flight in the index (a PUT holds its key's
# intent from its start to its commit); 30 s.
wait_intents() {
	local i
	for i in $(seq 300); do
		[ "$(intent_count)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "no PUT in flight" >&2
	return 1
}

# slow_put KEY: PUT 256 kB to KEY at 32 kB/s in the background (streamed to the shards,
# not collected), its status into $KV_DIR/slow.code; returns once the PUT holds the key.
slow_put() {
	head -c 262144 /dev/zero | tr '\0' s >"$KV_DIR/slow"
	curl -s -o "$KV_DIR/slow.body" -w '%{http_code}' --limit-rate 32k --max-time 120 \
		-X PUT -T "$KV_DIR/slow" "http://127.0.0.1:$KV_PORT/$1" >"$KV_DIR/slow.code" &
	SLOW_PID=$!
	wait_intents 1
}

@test "PUT where the mount has a directory → 409 naming it; the directory stays whole" {
	mkdir "$M/proj"
	echo inside >"$M/proj/file"
	wait_kv proj/file inside
	run kv_status -X PUT -d flat proj
	assert_output 409
	run kv_body
	assert_output "Conflict: 'proj' is a directory (made in the mount), so it cannot be a key too."
	run cat "$M/proj/file"
	assert_success
	assert_output inside
	run keys_under proj
	assert_output proj/file
	# an empty directory made by mkdir counts too, and a large (streamed) body alike
	mkdir "$M/empty"
	run kv_status -X PUT -d x empty
	assert_output 409
	run kv_body
	assert_output "Conflict: 'empty' is a directory (made in the mount), so it cannot be a key too."
	head -c 200000 /dev/zero >"$KV_DIR/big"
	run kv_status -X PUT -T "$KV_DIR/big" empty
	assert_output 409
	[ -d "$M/empty" ]
	run keys_under empty
	assert_output ""
	# a directory only curl made (implied by a key below it)
	run kv_status -X PUT -d deep only/curl/key
	assert_output 201
	run kv_status -X PUT -d x only/curl
	assert_output 409
	run kv_body
	assert_output "Conflict: 'only/curl' is a directory (there are keys below it, starting with 'only/curl/'), so it cannot be a key too."
	run kv_status -X PUT -d x only
	assert_output 409
	[ "$(cat "$M/only/curl/key")" = deep ]
}

@test "PUT below a file or symlink → 409 naming the file; nothing is stored" {
	run kv_status -X PUT -d top leaf
	assert_output 201
	run kv_status -X PUT -d below leaf/child
	assert_output 409
	run kv_body
	assert_output "Conflict: key 'leaf' is a file, so there can be no key 'leaf/child' below it."
	run kv_status -X PUT -d deeper leaf/a/b
	assert_output 409
	run kv_body
	assert_output "Conflict: key 'leaf' is a file, so there can be no key 'leaf/a/b' below it."
	ln -s somewhere "$M/link"
	run kv_status -X PUT -d x link/inside
	assert_output 409
	run keys_under leaf
	assert_output leaf
	[ -f "$M/leaf" ] && [ "$(cat "$M/leaf")" = top ]
	# the files' names on the shards: none for the refused keys
	[ -z "$(find "$KV_DIR/shard1" "$KV_DIR/shard2" -name "$(printf leaf/child | base64 -w0 | tr '+/' '-_')")" ]
}

@test "keys the mount cannot show → 400 stating the rule; never stored" {
	local bad
	for bad in dir/ a//b //lead / . .. a/./b a/../b ../up x/. \
		%2E%2E 'a%2F%2Fb' 'end%2F' 'a%2F%2E%2E%2Fb'; do
		run kv_status --path-as-is -X PUT -d v "$bad"
		[ "$output" = 400 ] || { echo "PUT $bad: $output $(kv_body)"; return 1; }
		run kv_body
		assert_output --partial "Bad key: key "
		assert_output --partial "(a key is names joined by single '/'s, none of them empty, '.' or '..')."
		[ "$(wc -l <"$KV_DIR/body")" -eq 1 ]
	done
	run kv_status --path-as-is -X PUT -d v a//b
	run kv_body
	assert_output "Bad key: key has an empty name ('//') (a key is names joined by single '/'s, none of them empty, '.' or '..')."
	run kv_status --path-as-is -X PUT -d v dir/
	run kv_body
	assert_output "Bad key: key ends with '/' (a key is names joined by single '/'s, none of them empty, '.' or '..')."
	# a large body is refused before it is read, too
	head -c 200000 /dev/zero >"$KV_DIR/big"
	run kv_status --path-as-is -X PUT -T "$KV_DIR/big" a/../b
	assert_output 400
	run kv_body
	assert_output "Bad key: key has a '..' name (a key is names joined by single '/'s, none of them empty, '.' or '..')."
	run kv '?list'
	refute_output --partial '"dir/"'
	refute_output --partial '"a//b"'
	refute_output --partial '..'
	# names with dots are fine
	run kv_status -X PUT -d v 'dots/.hidden/..x/x..'
	assert_output 201
	[ "$(cat "$M/dots/.hidden/..x/x..")" = v ]
}

# close_errno PATH: write a new file at PATH; print the errno name close() fails with,
# or "stored".
close_errno() {
	python3 - "$1" <<'PY'
import errno, sys
f = open(sys.argv[1], "w")
f.write("x")
try:
    f.close()
    print("stored")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

@test "in the mount: below a file → ENOTDIR, mkdir over one → EEXIST, stale caches too" {
	echo plain >"$M/reg"
	run touch "$M/reg/b"
	assert_failure
	assert_output --partial "Not a directory"
	run mkdir "$M/reg/sub"
	assert_failure
	assert_output --partial "Not a directory"
	run mkdir "$M/reg"
	assert_failure
	assert_output --partial "File exists"
	run keys_under reg
	assert_output reg
	# a key curl stored, seen by the mount for the first time
	kv -X PUT -d c fromcurl >/dev/null
	run mkdir "$M/fromcurl"
	assert_failure
	assert_output --partial "File exists"
	run touch "$M/fromcurl/b"
	assert_output --partial "Not a directory"
	# a second mount whose kernel caches keep its first view of "stale" (a directory)
	# while curl makes it a file: the store refuses what the kernel lets through
	local m2=$KV_DIR/mnt-cached
	mkdir -p "$m2"
	echo "$m2" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$m2" -f -o entry_timeout=120,attr_timeout=120 \
		2>>"$KV_DIR/mount2.log" &
	record_pid tinykv2 $!
	wait_mounted "$m2"
	kv -X PUT -d x stale/x >/dev/null
	kv -X PUT -d moving mvsrc >/dev/null
	[ -d "$m2/stale" ] && [ -f "$m2/mvsrc" ]
	ls "$m2/stale" >/dev/null
	run kv_status -X DELETE stale/x
	assert_output 200
	run kv_status -X PUT -d now-a-file stale
	assert_output 201
	# a rename into it: refused in the transaction that would store the new name; the
	# copy it made for the new name is gone again
	run python3 -c 'import errno, os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
    print("renamed")
except OSError as e:
    print(errno.errorcode[e.errno])' "$m2/mvsrc" "$m2/stale/moved"
	assert_output ENOTDIR
	run keys_under mvsrc
	assert_output mvsrc
	run keys_under stale
	assert_output stale
	[ -z "$(find "$KV_DIR/shard1" "$KV_DIR/shard2" -type f -name "$(printf stale/moved | base64 -w0 | tr '+/' '-_')*")" ]
	[ "$(intent_count)" -eq 0 ]
	run mkdir "$m2/stale/sub"
	assert_failure
	assert_output --partial "Not a directory"
	run ln -s target "$m2/stale/lnk"
	assert_failure
	assert_output --partial "Not a directory"
	run close_errno "$m2/stale/new"
	assert_output ENOTDIR
	run keys_under stale
	assert_output stale
	# a new file whose name curl makes a directory before the file is stored
	run python3 - "$M/late" "$KV_PORT" <<'PY'
import errno, sys, urllib.request
f = open(sys.argv[1], "w")
f.write("late")
f.flush()
urllib.request.urlopen(urllib.request.Request(
    "http://127.0.0.1:%s/late/x" % sys.argv[2], data=b"x", method="PUT"))
try:
    f.close()
    print("stored")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
	assert_output EISDIR
	run keys_under late
	assert_output late/x
	[ "$(cat "$M/stale")" = now-a-file ]
	umount "$m2"
	wait_unmounted "$m2"
}

@test "a mkdir in the mount while the PUT of that name uploads: the PUT → 409, no file left" {
	slow_put race-dir
	mkdir "$M/race-dir"	# the key is not stored yet: the mkdir wins
	wait "$SLOW_PID" || true
	[ "$(cat "$KV_DIR/slow.code")" = 409 ] || { cat "$KV_DIR/slow.code" "$KV_DIR/slow.body"; return 1; }
	run cat "$KV_DIR/slow.body"
	assert_output "Conflict: 'race-dir' is a directory (made in the mount), so it cannot be a key too."
	[ -d "$M/race-dir" ]
	run keys_under race-dir
	assert_output ""
	# the uploaded value went with the refusal: no file of it on any shard
	[ -z "$(find "$KV_DIR/shard1" "$KV_DIR/shard2" -type f -name "$(printf race-dir | base64 -w0 | tr '+/' '-_')*")" ]
	[ "$(intent_count)" -eq 0 ]
}

@test "a PUT of the parent while a PUT below it uploads: the later commit → 409" {
	slow_put racy/child
	run kv_status -X PUT -d parent racy
	assert_output 201
	wait "$SLOW_PID" || true
	[ "$(cat "$KV_DIR/slow.code")" = 409 ] || { cat "$KV_DIR/slow.code" "$KV_DIR/slow.body"; return 1; }
	run cat "$KV_DIR/slow.body"
	assert_output "Conflict: key 'racy' is a file, so there can be no key 'racy/child' below it."
	run keys_under racy
	assert_output racy
	[ "$(cat "$M/racy")" = parent ]
	[ "$(intent_count)" -eq 0 ]
}

@test "mkdir and PUT of one name at once: exactly one of them wins, every time" {
	local i code made
	for i in $(seq 20); do
		kv -o /dev/null -w '%{http_code}' -X PUT -d v "both$i" >"$KV_DIR/both.code" &
		made=0
		mkdir "$M/both$i" 2>/dev/null && made=1
		wait $!
		code=$(cat "$KV_DIR/both.code")
		if [ "$made" = 1 ]; then
			[ "$code" = 409 ] || { echo "both$i: mkdir and PUT ($code) both won"; return 1; }
		else
			[ "$code" = 201 ] || { echo "both$i: neither won ($code)"; return 1; }
		fi
	done
}

# --- keys stored by an older version that break the rules ---

# wait_mount_reads PATH VALUE: until PATH in a mount reads VALUE (10 s).
wait_mount_reads() {
	local i
	for i in $(seq 100); do
		[ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 does not read '$2'" >&2
	return 1
}

# plant KEY VALUE: put VALUE on KEY's owner shard as an older tinykv would have stored it
# (for tinykvd rebuild to find).
plant() {
	local owner path
	owner=$(owner_of "$1")
	path="$KV_DIR/shard$owner$(shard_path "$1")"
	mkdir -p "$(dirname "$path")"
	printf '%s' "$2" >"$path"
	shard_chown "$owner"
}

@test "older keys that break the rules: rebuilt, listed, readable, rebalanced, deletable" {
	local moving
	moving=$(key_on 3 'old//' 1 2 3)	# one that a third shard will own
	plant old/ trailing
	plant old//two double
	plant "$moving" moving
	plant clash clash-file
	plant clash/inner clash-inner
	run "$BIN/tinykvd" rebuild -c "$KV_DIR/kv.conf"
	assert_success
	assert_output --partial "5 keys added"
	run keys_under old
	assert_output "$(printf '%s\n' old/ "$moving" old//two | sort)"
	run keys_under clash
	assert_output $'clash\nclash/inner'
	[ "$(kv -L old/)" = trailing ]
	[ "$(kv -L --path-as-is old//two)" = double ]
	# the mount shows what it can: the file of a name that is also a directory; a
	# directory whose only keys have no name it can show looks empty and stays
	remount_kv
	[ "$(cat "$M/clash")" = clash-file ]
	run cat "$M/clash/inner"
	assert_failure
	[ -d "$M/old" ] && [ -z "$(ls -A "$M/old")" ]
	run rmdir "$M/old"
	assert_failure
	assert_output --partial "Directory not empty"
	# a mount run with -d says why
	local m3=$KV_DIR/mnt-debug
	mkdir -p "$m3"
	echo "$m3" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$m3" -d 2>>"$KV_DIR/mount3.log" &
	record_pid tinykv3 $!
	wait_mounted "$m3"
	run rmdir "$m3/old"
	assert_failure
	umount "$m3"
	wait_unmounted "$m3"
	grep -F "tinykv: rmdir /old: 'old' holds keys the mount cannot show, such as 'old/': list them with GET /old/?list and delete them over HTTP" "$KV_DIR/mount3.log"
	# the rules hold around them: nothing new below the file, no new file over the dir
	run kv_status -X PUT -d x clash/new
	assert_output 409
	run kv_status -X PUT -d x old
	assert_output 409
	# verify and rebalance take them as they are
	run "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf"
	assert_success
	start_shard 3
	ns_conf 1 2 3
	run "$BIN/tinykvd" rebalance -c "$KV_DIR/kv.conf"
	assert_success
	[ "$(cat "$KV_DIR/shard3$(shard_path "$moving")")" = moving ]
	run "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf"
	assert_success
	assert_output --partial "0 misplaced"
	stop_kvd
	start_kvd -q
	[ "$(kv -L --path-as-is "$moving")" = moving ]
	# cleaning up over HTTP (rebuilt keys are root's: an admin token may delete them)
	run as_admin -X DELETE old/
	assert_output 200
	run as_admin --path-as-is -X DELETE old//two
	assert_output 200
	run as_admin --path-as-is -X DELETE "$moving"
	assert_output 200
	run as_admin -X DELETE clash
	assert_output 200
	# once the kernel's name cache (1 s) forgets "clash" was a file
	wait_mount_reads "$M/clash/inner" clash-inner
	[ ! -e "$M/old" ]
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	umount_kv
	assert_stops_cleanly
	assert_logs_clean
}
