# helpers.bash — shared by the bats end-to-end tests: real nginx shards, the real daemon,
# real mounts, on private ports and a private directory per test file. Everything a test
# starts is recorded and stopped by kv_cleanup (by PID; mounts by path).
#
# In a .bats file:
#   load helpers
#   setup_file()    { kv_init; start_shard 1; start_shard 2; start_kvd; }
#   teardown_file() { kv_cleanup; }

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN=$TOP/build
bats_load_library bats-support
bats_load_library bats-assert

# kv_init [NSHARDS]: state directory and free ports (exported for the tests of the file).
kv_init() {
	export KV_DIR=${BATS_FILE_TMPDIR:?}/kv
	mkdir -p "$KV_DIR"
	: >"$KV_DIR/pids"
	: >"$KV_DIR/mounts"
	local n=${1:-4} base
	base=$(free_port_block $((n + 1)))
	export KV_PORT=$base
	local i
	for i in $(seq "$n"); do
		eval "export SHARD_PORT_$i=$((base + i))"
	done
	export KV_NSHARDS=$n
	export KV_MNT=$KV_DIR/mnt
	export KV_INDEX=$KV_DIR/index
	export KV_CACHE=$KV_DIR/cache
}

# A block of N consecutive ports nobody listens on.
free_port_block() {
	local n=$1 base i ok
	for _ in $(seq 200); do
		base=$((20000 + RANDOM % 30000))
		ok=1
		for i in $(seq 0 $((n - 1))); do
			if (exec 3<>/dev/tcp/127.0.0.1/$((base + i))) 2>/dev/null; then ok=0; break; fi
		done
		[ "$ok" -eq 1 ] && { echo "$base"; return 0; }
	done
	echo "no free ports" >&2
	return 1
}

shard_port() { eval "echo \$SHARD_PORT_$1"; }
shard_name() { echo "localhost:$(shard_port "$1")"; }

# shard_list 1 2 3 → "localhost:P1,localhost:P2,localhost:P3"
shard_list() {
	local out="" i
	for i in "$@"; do out="$out${out:+,}$(shard_name "$i")"; done
	echo "$out"
}

record_pid() { echo "$1 $2" >>"$KV_DIR/pids"; }	# record_pid NAME PID
pid_of() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$KV_DIR/pids"; }

wait_http() {	# wait_http URL: until anything answers (10 s)
	local i
	for i in $(seq 200); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.05
	done
	echo "nothing answers at $1" >&2
	return 1
}

start_shard() {	# start_shard I
	local i=$1 port
	port=$(shard_port "$i")
	"$TOP/scripts/tinykv-shard" "$KV_DIR/shard$i" "$port" >>"$KV_DIR/shard$i.log" 2>&1 &
	record_pid "shard$i" $!
	wait_http "http://127.0.0.1:$port/"
}

stop_pid() {	# stop_pid PID [SIGNAL]: signal, then wait for it to go (10 s)
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_shard() { stop_pid "$(pid_of "shard$1")"; }
pause_shard() { kill -STOP "$(pid_of "shard$1")"; pkill -STOP -P "$(pid_of "shard$1")" || true; }
resume_shard() { pkill -CONT -P "$(pid_of "shard$1")" || true; kill -CONT "$(pid_of "shard$1")"; }

# write_conf [SHARD...]: $KV_DIR/kv.conf for the given shards (default: 1 2)
write_conf() {
	local shards
	shards=$(shard_list "${@:-1 2}")
	[ $# -gt 0 ] || shards=$(shard_list 1 2)
	cat >"$KV_DIR/kv.conf" <<CONF
shards = $shards
index = $KV_INDEX
cache = $KV_CACHE
port = $KV_PORT
replicas = ${KV_REPLICAS:-1}
timeout = ${KV_TIMEOUT:-5}
CONF
}

# start_kvd [ARGS...]: tinykvd serve with $KV_DIR/kv.conf (written if missing)
start_kvd() {
	[ -f "$KV_DIR/kv.conf" ] || write_conf
	"$BIN/tinykvd" serve -c "$KV_DIR/kv.conf" "$@" >>"$KV_DIR/kvd.log" 2>&1 &
	record_pid kvd $!
	wait_http "http://127.0.0.1:$KV_PORT/?list&limit=1"
}

stop_kvd() { stop_pid "$(pid_of kvd)"; }
kill9_kvd() { stop_pid "$(pid_of kvd)" KILL; }

kv() {	# kv CURL-ARGS... PATH: curl against tinykvd; PATH is appended to its URL
	local last=${*: -1}
	curl -s --max-time 60 "${@:1:$#-1}" "http://127.0.0.1:$KV_PORT/$last"
}

# mount_kv [OPTS]: mount the store at $KV_MNT with $KV_DIR/kv.conf
mount_kv() {
	[ -f "$KV_DIR/kv.conf" ] || write_conf
	mkdir -p "$KV_MNT"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT" ${1:+-o "$1"} 2>>"$KV_DIR/mount.log"
	echo "$KV_MNT" >>"$KV_DIR/mounts"
}

umount_kv() {
	grep -qs " $KV_MNT " /proc/mounts || return 0
	umount "$KV_MNT" 2>/dev/null || fusermount3 -u "$KV_MNT" 2>/dev/null || umount -l "$KV_MNT"
}

# FUSE must work where CI says so; elsewhere a missing /dev/fuse skips.
require_fuse() {
	if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
		[ "${CI:-}" = true ] && { echo "FUSE is required in CI but unavailable" >&2; return 1; }
		skip "no FUSE here"
	fi
}

# The logs of everything started must not show crashes or sanitizer reports.
assert_logs_clean() {
	local f
	for f in "$KV_DIR"/*.log; do
		[ -e "$f" ] || continue
		if grep -E 'AddressSanitizer|runtime error:|LeakSanitizer|Segmentation|\[alert\]|\[emerg\]' "$f"; then
			echo "problems in $f" >&2
			return 1
		fi
	done
}

kv_cleanup() {
	local m name pid
	[ -n "${KV_DIR:-}" ] || return 0
	if [ -f "$KV_DIR/mounts" ]; then
		while read -r m; do
			grep -qs " $m " /proc/mounts || continue
			umount "$m" 2>/dev/null || fusermount3 -u "$m" 2>/dev/null || umount -l "$m"
		done <"$KV_DIR/mounts"
	fi
	if [ -f "$KV_DIR/pids" ]; then
		while read -r name pid; do
			kill -CONT "$pid" 2>/dev/null || true
			pkill -CONT -P "$pid" 2>/dev/null || true
			stop_pid "$pid"
		done <"$KV_DIR/pids"
	fi
}
