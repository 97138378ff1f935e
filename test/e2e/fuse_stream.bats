#!/usr/bin/env bats
# Files written in order go up while they are written (past 1 MiB, bypassing the spool).
# Whatever else happens to such a file before close — a write elsewhere, a read through the
# mount, a truncate, an unlink, a dead shard — the value stored at close is exactly what
# a local disk would hold, or close reports the failure and the old value stays.

load helpers

setup_file() {
	start_cluster
	mount_kv timeout=3
	export M=$KV_MNT
	head -c $((8 << 20)) /dev/urandom >"$KV_DIR/src"
}

teardown_file() { kv_cleanup; }

setup() { require_fuse; }

teardown() {
	local i
	for i in 1 2; do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$(shard_port "$i")/" ||
			start_shard "$i"
	done
}

# py SCRIPT ARGS...: run a python3 snippet with the mount and source at hand.
py() { python3 -c "$1" "$M" "$KV_DIR/src" "${@:2}"; }

@test "a big file written in order is stored whole, through the mount and HTTP" {
	cp "$KV_DIR/src" "$M/inorder"
	cmp "$KV_DIR/src" "$M/inorder"
	kv -L inorder | cmp - "$KV_DIR/src"
}

@test "a write back at the start after streaming began: the file is what was written" {
	py '
import os, sys
m, src = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(m + "/rewrite", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, src[:3 << 20])
os.pwrite(fd, b"HEAD", 0)
os.write(fd, src[3 << 20:4 << 20])
os.close(fd)
want = b"HEAD" + src[4:4 << 20]
assert open(m + "/rewrite", "rb").read() == want
'
	kv -L rewrite | cmp - <(printf HEAD; head -c $((4 << 20)) "$KV_DIR/src" | tail -c +5)
}

@test "reading a file through the mount while it streams sees every byte written" {
	py '
import os, sys
m, src = sys.argv[1], open(sys.argv[2], "rb").read()
w = os.open(m + "/readback", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(w, src[:5 << 20])
r = os.open(m + "/readback", os.O_RDONLY)
assert os.pread(r, 5 << 20, 0) == src[:5 << 20]
os.write(w, src[5 << 20:6 << 20])
os.close(w)
os.close(r)
assert open(m + "/readback", "rb").read() == src[:6 << 20]
'
	kv -L readback | cmp - <(head -c $((6 << 20)) "$KV_DIR/src")
}

@test "ftruncate of a streaming file keeps what a local disk would" {
	py '
import os, sys
m, src = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(m + "/shrunk", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, src[:3 << 20])
os.ftruncate(fd, 2 << 20)
os.close(fd)
assert open(m + "/shrunk", "rb").read() == src[:2 << 20]
'
	[ "$(kv -L shrunk | wc -c)" -eq $((2 << 20)) ]
}

@test "a file removed while it streams is not stored" {
	py '
import os, sys
m, src = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(m + "/gone", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, src[:3 << 20])
os.unlink(m + "/gone")
os.write(fd, src[:1 << 20])
os.close(fd)
assert not os.path.exists(m + "/gone")
'
	run kv -L gone
	assert_output "Key with value: 'gone' not found."
}

@test "a shard that dies while a big file streams: close fails, the old value stays" {
	local key
	key=$(key_on 1 streamed-victim)
	kv -X PUT --data-binary old "$key" >/dev/null
	# the shard's nginx: master first (it would respawn a worker), then its workers
	run py '
import os, sys
m, src, key = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
fd = os.open(m + "/" + key, os.O_WRONLY | os.O_TRUNC)
os.write(fd, src[:3 << 20])
for pid in sys.argv[4:]:
    os.kill(int(pid), 9)
try:
    for i in range(3, 8):
        os.write(fd, src[i << 20:(i + 1) << 20])
    os.close(fd)
except OSError as e:
    print("failed:", e.strerror)
else:
    print("stored")
' "$key" "$(pid_of shard1)" $(pgrep -P "$(pid_of shard1)")
	assert_output --partial "failed: Input/output error"
	start_shard 1
	for _ in $(seq 50); do	# until tinykvd's probe has seen the shard back
		[ "$(kv -L "$key")" = old ] && break
		sleep 0.1
	done
	run kv -L "$key"
	assert_output "old"
	run cat "$M/$key"
	assert_output "old"
}

@test "reads of a big value in order, backwards and at random return the stored bytes" {
	kv -X PUT --data-binary @"$KV_DIR/src" readmix >/dev/null
	py '
import os, random, sys
m, src = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(m + "/readmix", os.O_RDONLY)
assert os.pread(fd, len(src), 0) == src
random.seed(7)
for _ in range(200):
    off = random.randrange(0, len(src))
    n = random.choice([1, 4096, 65536, 1 << 20])
    assert os.pread(fd, n, off) == src[off:off + n], (off, n)
for off in range(len(src) - (1 << 20), -1, -(1 << 20)):    # backwards, a MiB at a time
    assert os.pread(fd, 1 << 20, off) == src[off:off + (1 << 20)], off
os.close(fd)
'
}

@test "the logs are clean" {
	assert_logs_clean
}
