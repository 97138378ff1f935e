#!/usr/bin/env bats
# Local state on a bad day (issues 8 and 9): the index, the intent log and the mount's
# spool are private to the user running tinykvd or the mount, a path another user
# prepared first is refused without writing anything through it, and an update cut at
# its COMMIT point is finished after a reboot.
#
# The attacker is a second, unprivileged user (nobody, uid 65534) preparing paths in a
# world-writable sticky directory, as /tmp is, before root's programs start.

load helpers

setup_file() {
	kv_init 3
	start_shard 1
	# A public directory like /tmp (1777), in a place nobody can reach.
	PUB=$(mktemp -d /tmp/tinykv-pub.XXXXXX)
	chmod 1777 "$PUB"
	echo "$PUB" >"$KV_DIR/pub"
	export PUB
	# What the attacker's links point at: root's files, which must stay as they are.
	printf 'precious\n' >"$KV_DIR/victim"
	printf 'keep me\n' >"$KV_DIR/victim2"
}

teardown_file() {
	local shm
	kv_cleanup
	[ -n "${PUB:-}" ] && rm -rf "$PUB"
	shm=$(cat "$KV_DIR/shm" 2>/dev/null)
	case "$shm" in /dev/shm/tinykv-*) rm -rf "$shm" ;; esac
	true
}

victims_untouched() {
	[ "$(cat "$KV_DIR/victim")" = precious ] || { echo "victim now: $(head -c 64 "$KV_DIR/victim" | od -c | head -2)"; return 1; }
	[ "$(stat -c %s "$KV_DIR/victim")" = 9 ] || { echo "victim size $(stat -c %s "$KV_DIR/victim")"; return 1; }
	[ "$(cat "$KV_DIR/victim2")" = "keep me" ] || { echo "victim2 changed"; return 1; }
	[ "$(stat -c %s "$KV_DIR/victim2")" = 8 ] || { echo "victim2 size $(stat -c %s "$KV_DIR/victim2")"; return 1; }
}

# kvd_once ARGS...: run `tinykvd serve` with ARGS on a port of ours for a moment; its
# output (it should refuse at once) is the result.
kvd_once() {
	timeout 10 "$BIN/tinykvd" serve -s "$(shard_name 1)" -p "$KV_PORT" "$@" 2>&1
}

# mount_once OPTS: the mount with OPTS (it should refuse); never left mounted.
mount_once() {
	mkdir -p "$KV_MNT"
	echo "$KV_MNT" >>"$KV_DIR/mounts"
	"$BIN/tinykv" none "$KV_MNT" -o "shards=$(shard_name 1),$1" 2>&1
}

@test "an index directory another user made first (0777, LMDB's names linked to root's files) is refused; nothing is written through it" {
	as_nobody "mkdir -m 0777 '$PUB/index' && ln -s '$KV_DIR/victim' '$PUB/index/data.mdb' && ln -s '$KV_DIR/victim2' '$PUB/index/lock.mdb'"
	run kvd_once -i "$PUB/index"
	victims_untouched
	assert_failure 1
	assert_output "tinykvd: index $PUB/index is owned by uid 65534 (nobody), not by uid 0 (root) who runs this: remove it (or, if it is yours, chown 0 it)"
	run mount_once "index=$PUB/index,cache=$KV_DIR/cache1"
	victims_untouched
	assert_failure 1
	assert_output "tinykv: index $PUB/index is owned by uid 65534 (nobody), not by uid 0 (root) who runs this: remove it (or, if it is yours, chown 0 it)"
	! is_mounted "$KV_MNT"
	# The admin verbs open it the same way.
	run "$BIN/tinykvd" verify -s "$(shard_name 1)" -i "$PUB/index"
	assert_failure 1
	assert_output --partial "is owned by uid 65534 (nobody)"
	victims_untouched
	# Nothing of ours went in.
	run ls -A "$PUB/index"
	assert_output "data.mdb
lock.mdb"
}

@test "the old intent-log path (/dev/shm/tinykv-<md5 of the index>) prepared by another user reaches nothing" {
	local idx=$KV_DIR/index-shm SHM
	SHM=/dev/shm/tinykv-$(printf '%s' "$(realpath -m "$idx")" | md5sum | cut -c1-16)
	echo "$SHM" >"$KV_DIR/shm"	# for teardown_file
	# data.mdb names a file that does not exist yet: LMDB would make it, 1 GiB long.
	as_nobody "mkdir -m 0777 '$SHM' && ln -s '$KV_DIR/created' '$SHM/data.mdb' && ln -s '$KV_DIR/victim2' '$SHM/lock.mdb'"
	"$BIN/tinykvd" serve -s "$(shard_name 1)" -i "$idx" -p "$KV_PORT" -o "shard_secret_file=$KV_SECRET" >>"$KV_DIR/kvd-shm.log" 2>&1 &
	record_pid kvd-shm $!
	wait_http "http://127.0.0.1:$KV_PORT/?list&limit=1" || true
	run kv_status -X PUT -d v shm-key
	stop_pid "$(pid_of kvd-shm)"
	victims_untouched
	[ ! -e "$KV_DIR/created" ] || { echo "created: $(stat -c %s "$KV_DIR/created") bytes"; return 1; }
	assert_output 201
	run ls -A "$SHM"
	assert_output "data.mdb
lock.mdb"
	rm -rf "$SHM"
}

@test "an index that is a symbolic link, or another user's private directory, is refused with what to do" {
	mkdir -m 0700 "$KV_DIR/real-index"
	ln -s "$KV_DIR/real-index" "$KV_DIR/link-index"
	run kvd_once -i "$KV_DIR/link-index"
	assert_failure 1
	assert_output "tinykvd: index $KV_DIR/link-index is a symbolic link: give the directory itself (a link can be pointed elsewhere by whoever owns it)"
	run mount_once "index=$KV_DIR/link-index,cache=$KV_DIR/cache1"
	assert_failure 1
	assert_output --partial "tinykv: index $KV_DIR/link-index is a symbolic link"
	! is_mounted "$KV_MNT"
	[ -z "$(ls -A "$KV_DIR/real-index")" ]
	mkdir -m 0700 "$KV_DIR/their-index"
	chown 65534:65534 "$KV_DIR/their-index"
	run kvd_once -i "$KV_DIR/their-index"
	assert_failure 1
	assert_output "tinykvd: index $KV_DIR/their-index is owned by uid 65534 (nobody), not by uid 0 (root) who runs this: remove it (or, if it is yours, chown 0 it)"
	[ -z "$(ls -A "$KV_DIR/their-index")" ]
	# Ours, but others may write in it: refused, not quietly "fixed".
	mkdir "$KV_DIR/open-index"
	chmod 0777 "$KV_DIR/open-index"
	run kvd_once -i "$KV_DIR/open-index"
	assert_failure 1
	assert_output "tinykvd: index $KV_DIR/open-index may be written by others (mode 0777): check what is in it, then chmod 700 $KV_DIR/open-index"
	[ "$(stat -c %a "$KV_DIR/open-index")" = 777 ]
	# In a sticky directory others may write, as /tmp: fine (they cannot move ours).
	run "$BIN/tinykvd" rebalance -s "$(shard_name 1)" -i "$PUB/x/index"
	assert_success
	run stat -c %a "$PUB/x" "$PUB/x/index"
	assert_output "755
700"
	# Below one that is not sticky: refused, and nothing is made there.
	chmod 0777 "$PUB"
	run kvd_once -i "$PUB/y/index"
	chmod 1777 "$PUB"
	assert_failure 1
	assert_output "tinykvd: index $PUB/y/index: $PUB may be written by others (mode 0777), who could replace what is in it: chmod go-w $PUB (or chmod +t), or choose another place"
	[ ! -e "$PUB/y" ]
}

@test "a cache (spool) directory another user made first is refused" {
	require_fuse
	as_nobody "mkdir -m 0777 '$PUB/cache'"
	run mount_once "index=$KV_DIR/index-c,cache=$PUB/cache"
	assert_failure 1
	assert_output "tinykv: cache $PUB/cache is owned by uid 65534 (nobody), not by uid 0 (root) who runs this: remove it (or, if it is yours, chown 0 it)"
	! is_mounted "$KV_MNT"
	[ ! -e "$KV_DIR/index-c" ]
}

# modes DIR...: "MODE NAME" of each, relative to $KV_DIR.
modes() { (cd "$KV_DIR" && stat -c '%a %n' "$@"); }

@test "everything tinykvd and the mount create is 0700 / 0600, whatever the umask" {
	require_fuse
	write_conf 1
	(umask 000 && start_kvd)
	run kv_status -X PUT -d v modes-key
	assert_output 201
	(umask 000 && mount_kv_fg)
	run modes index index/data.mdb index/lock.mdb index/intents index/intents/data.mdb \
		index/intents/lock.mdb cache
	assert_output "700 index
600 index/data.mdb
600 index/lock.mdb
700 index/intents
600 index/intents/data.mdb
600 index/intents/lock.mdb
700 cache"
	# A file being written has its spool open in the cache directory: unnamed, 0600.
	local pid fd spool=""
	pid=$(pid_of tinykv)
	exec 5>"$KV_MNT/spooled"
	echo data >&5
	for fd in /proc/"$pid"/fd/*; do
		case "$(readlink "$fd")" in "$(realpath "$KV_CACHE")"/*) spool=$fd ;; esac
	done
	[ -n "$spool" ] || { exec 5>&-; echo "no spool open"; return 1; }
	run stat -L -c %a "$spool"
	exec 5>&-
	assert_output 600
	[ -z "$(ls -A "$KV_CACHE")" ]
	umount_kv
	stop_kvd
}

@test "a cache directory removed while mounted is made again, as private" {
	require_fuse
	start_kvd
	mount_kv_fg
	rm -rf "$KV_CACHE"
	echo again >"$KV_MNT/again"
	run kv -L again
	assert_output again
	run modes cache
	assert_output "700 cache"
	umount_kv
	stop_kvd
}

@test "an older install's 0755 index and 0644 files, and a 0755 cache, are tightened, with a note" {
	require_fuse
	chmod 0755 "$KV_INDEX" "$KV_INDEX/intents" "$KV_CACHE"
	chmod 0644 "$KV_INDEX/data.mdb" "$KV_INDEX/lock.mdb"
	local nlog
	nlog=$(wc -l <"$KV_DIR/kvd.log")
	start_kvd
	run sh -c "tail -n +$((nlog + 1)) '$KV_DIR/kvd.log' | grep '^tinykvd: note:'"
	assert_output "tinykvd: note: index $KV_INDEX was open to others (mode 0755); it is 0700 now
tinykvd: note: index $KV_INDEX/data.mdb was open to others (mode 0644); it is 0600 now
tinykvd: note: index $KV_INDEX/lock.mdb was open to others (mode 0644); it is 0600 now
tinykvd: note: intent log $KV_INDEX/intents was open to others (mode 0755); it is 0700 now"
	run modes index index/data.mdb index/lock.mdb index/intents
	assert_output "700 index
600 index/data.mdb
600 index/lock.mdb
700 index/intents"
	run kv -L modes-key
	assert_output v
	run "$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT"
	assert_success
	echo "$KV_MNT" >>"$KV_DIR/mounts"
	assert_output "tinykv: note: cache $KV_CACHE was open to others (mode 0755); it is 0700 now"
	run modes cache
	assert_output "700 cache"
	umount_kv
	stop_kvd
}

# --- an update cut at its COMMIT point, then a reboot ---

# A TCP proxy in front of shard 1 that passes everything, except that once $KV_DIR/arm
# exists it holds the first MOVE it meets: "request" keeps the MOVE from nginx, "response"
# lets nginx do it but keeps the answer from the writer. Either way $KV_DIR/held appears
# and the writer waits there, at the COMMIT point, until it is killed.
start_hold_proxy() {
	cat >"$KV_DIR/hold.py" <<'PY'
import os, socket, sys, threading
port, target, mode, d = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
done = [False]
def arm(conn):
    with lock:
        if done[0] or not os.path.exists(d + "/arm"):
            return False
        done[0] = True
        conn["held"] = True
        return True
def up(c, s, conn):
    tail = b""
    while True:
        data = c.recv(65536)
        if not data:
            break
        seen = tail + data
        tail = seen[-8:]
        if b"MOVE /" in seen and arm(conn) and mode == "request":
            open(d + "/held", "w").close()
            continue
        if conn["held"] and mode == "request":
            continue
        # A shard takes a MOVE only to a Destination of its own (host and port).
        s.sendall(data.replace(b"Destination: http://localhost:%d/" % port,
                               b"Destination: http://localhost:%d/" % target))
def down(s, c, conn):
    while True:
        data = s.recv(65536)
        if not data:
            break
        if conn["held"]:
            open(d + "/held", "w").close()
            continue
        c.sendall(data)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
while True:
    c, _ = srv.accept()
    s = socket.create_connection(("127.0.0.1", target))
    conn = {"held": False}
    threading.Thread(target=up, args=(c, s, conn), daemon=True).start()
    threading.Thread(target=down, args=(s, c, conn), daemon=True).start()
PY
	python3 "$KV_DIR/hold.py" "$(shard_port 3)" "$(shard_port 1)" "$1" "$KV_DIR" \
		>>"$KV_DIR/proxy.log" 2>&1 &
	record_pid proxy $!
	wait_http "http://127.0.0.1:$(shard_port 3)/"
}

# record_size_md5 KEY: "SIZE MD5" of KEY's index record (core/record.c: the size is the
# 8 little-endian bytes at 14, the md5 the 16 at 54).
record_size_md5() {
	python3 - "$KV_INDEX" "$1" <<'PY'
import subprocess, sys
out = subprocess.run(["mdb_dump", "-s", "keys", sys.argv[1]], capture_output=True,
                     text=True, check=True).stdout
rows = out.split("HEADER=END\n", 1)[1].split("\n")
for k, v in zip(rows[0::2], rows[1::2]):
    if k.strip() == sys.argv[2].encode().hex():
        b = bytes.fromhex(v.strip())
        print(int.from_bytes(b[14:22], "little"), b[54:70].hex())
PY
}

# durable_intents: entries in the index's table of intents that must outlive a reboot.
durable_intents() {
	mdb_stat -s intents "$KV_INDEX" 2>/dev/null | awk '/Entries:/ { print $2 }'
}

# reboot_now: what a restart of the machine does to local state. Every process is gone
# (the caller killed them); the boot id changes, which the index sees as its intent log
# being of another boot (simulated: the log's boot recorded in the index is replaced);
# the log's unsynced pages may be torn (simulated: garbage). When the log lived on tmpfs,
# a reboot emptied it (so that is done too).
reboot_now() {
	printf 'intents.boot\n00000000-0000-0000-0000-000000000000\n' |
		mdb_load -T -s meta "$KV_INDEX"
	head -c 65536 /dev/urandom >"$KV_INDEX/intents/data.mdb"
	rm -f "$KV_INDEX/intents/lock.mdb"
	rm -rf "/dev/shm/tinykv-$(printf '%s' "$(realpath "$KV_INDEX")" | md5sum | cut -c1-16)"
}

# update_cut_at_commit MODE: overwrite a file through the mount while the proxy holds
# its MOVE (MODE as for start_hold_proxy), kill the mount -9 there, reboot, start
# tinykvd: recovery finishes the update from the intent that was on disk.
update_cut_at_commit() {
	local mode=$1 k=doc-$1 old=old-value new="the new value, longer" path nlog
	export KV_INDEX=$KV_DIR/index-$mode KV_CACHE=$KV_DIR/cache-$mode KV_TIMEOUT=60
	rm -f "$KV_DIR/arm" "$KV_DIR/held" "$KV_DIR/kv.conf"
	start_hold_proxy "$mode"
	cat >"$KV_DIR/kv.conf" <<CONF
shards = localhost:$(shard_port 3)
index = $KV_INDEX
cache = $KV_CACHE
port = $KV_PORT
timeout = 60
shard_secret_file = $KV_SECRET
CONF
	mount_kv_fg
	printf '%s' "$old" >"$KV_MNT/$k"
	path=$KV_DIR/shard1$(shard_path "$k")
	[ "$(cat "$path")" = "$old" ]
	touch "$KV_DIR/arm"
	# Written over in place (no O_TRUNC, which would store an empty value first): the
	# new value is longer than the old, so it is all new.
	printf '%s' "$new" 1<>"$KV_MNT/$k" 2>/dev/null 3>&- &
	local i
	for i in $(seq 300); do
		[ -e "$KV_DIR/held" ] && break
		sleep 0.1
	done
	[ -e "$KV_DIR/held" ] || { echo "the update never reached its MOVE"; return 1; }
	if [ "$mode" = response ]; then
		# nginx has moved the new value onto the key's path; the index still says old.
		run cat "$path"
		assert_output "$new"
		run record_size_md5 "$k"
		assert_output "${#old} $(printf '%s' "$old" | md5sum | cut -c1-32)"
	else
		# The new value waits beside the old one, for the MOVE.
		run cat "$path"
		assert_output "$old"
	fi
	# The COMMIT intent is on disk in the index, not only in the log.
	run durable_intents
	assert_output 1
	stop_pid "$(pid_of tinykv)" KILL
	stop_pid "$(pid_of proxy)"
	wait || true
	umount -l "$KV_MNT"
	reboot_now
	rm -f "$KV_DIR/arm"
	start_hold_proxy "$mode"	# unarmed: passes everything
	nlog=$(wc -l <"$KV_DIR/kvd.log" 2>/dev/null || echo 0)
	start_kvd
	run sh -c "tail -n +$((nlog + 1)) '$KV_DIR/kvd.log' | grep -c 'recovered 1 unfinished operation\$'"
	assert_output 1
	run durable_intents
	assert_output 0
	run intent_count
	assert_output 0
	run kv -L "$k"
	assert_output "$new"
	run record_size_md5 "$k"
	assert_output "${#new} $(printf '%s' "$new" | md5sum | cut -c1-32)"
	[ -z "$(find "$KV_DIR/shard1" -type f \( -name 'tmp.*' -o -name '.tmp-*' \))" ]
	stop_kvd
	stop_pid "$(pid_of proxy)"
}

@test "reboot after an update's MOVE, before its index commit: recovery records the new size and md5" {
	require_fuse
	update_cut_at_commit response
}

@test "reboot at an update's COMMIT point, before its MOVE: recovery finishes the update" {
	require_fuse
	update_cut_at_commit request
}

@test "the logs show no crash or sanitizer report" {
	assert_logs_clean
}
