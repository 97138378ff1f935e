# helpers.bash — shared by the bats end-to-end tests: real nginx shards, the real daemon,
# real mounts, on private ports and a private directory per test file. Everything a test
# starts is recorded and stopped by kv_cleanup (by PID; mounts by path).
#
# In a .bats file:
#   load helpers
#   setup_file()    { kv_init; start_shard 1; start_shard 2; start_kvd; }
#   teardown_file() { kv_cleanup; }

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# TINYKV_BIN points the tests at another build of the programs (build/asan, say).
BIN=${TINYKV_BIN:-$TOP/build}
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
	# The cluster's shard secret (tinykv-shard --secret-file, shard_secret_file).
	export KV_SECRET=$KV_DIR/shard.secret
	(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$KV_SECRET")
	# The shards' nginx workers run as an unprivileged user (tinykv-shard), who must be
	# able to pass through to the shard directories (bats makes its run directory 0700).
	local d=$KV_DIR
	while [ "$d" != / ]; do
		[ -O "$d" ] && chmod o+x "$d"
		d=$(dirname "$d")
	done
}

# A block of N consecutive ports nobody listens on.
free_port_block() {
	local n=$1 base i ok
	for _ in $(seq 200); do
		# below the kernel's ephemeral range (32768-60999), where outgoing connections
		# could take a port between this check and the bind
		base=$((10000 + RANDOM % 22000))
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

start_shard() {	# start_shard I [OPTIONS...]: OPTIONS go to tinykv-shard
	local i=$1 port
	port=$(shard_port "$i")
	"$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" "${@:2}" "$KV_DIR/shard$i" "$port" \
		>>"$KV_DIR/shard$i.log" 2>&1 &
	record_pid "shard$i" $!
	wait_http "http://127.0.0.1:$port/"
}

stop_pid() {	# stop_pid PID [SIGNAL]: signal, then wait for it to go (10 s)
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	# a paused process (and its paused children, nginx's workers) must run to exit
	pkill -CONT -P "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_shard() { stop_pid "$(pid_of "shard$1")"; }
# shard_chown I...: what a test put into shard I's directory as root becomes the shard
# user's (tinykv-shard), as the files the shard writes are: nginx's workers are not root.
shard_chown() {
	local i
	for i in "$@"; do chown -R --reference="$KV_DIR/shard$i" "$KV_DIR/shard$i"; done
}
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
shard_secret_file = $KV_SECRET
CONF
}

# start_kvd [ARGS...]: tinykvd serve with $KV_DIR/kv.conf (written if missing)
start_kvd() {
	[ -f "$KV_DIR/kv.conf" ] || write_conf
	"$BIN/tinykvd" serve -c "$KV_DIR/kv.conf" "$@" >>"$KV_DIR/kvd.log" 2>&1 &
	record_pid kvd $!
	wait_http "http://127.0.0.1:$KV_PORT/?list&limit=1"
}

# start_cluster [ARGS...]: the usual setup of a test file: two shards and tinykvd (ARGS are
# start_kvd's) on a new $KV_DIR.
start_cluster() {
	kv_init 2
	start_shard 1
	start_shard 2
	write_conf 1 2
	start_kvd "$@"
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

# --- http helpers ---
# Used by the http_*.bats files.

# kv_status CURL-ARGS... PATH: print the HTTP status of the request; the body is left in
# $KV_DIR/body (read it with kv_body).
kv_status() { kv -o "$KV_DIR/body" -w '%{http_code}' "$@"; }
kv_body() { cat "$KV_DIR/body"; }

# owner_of KEY [SHARD...]: the index of the shard (of the given ones, default 1 2) that
# holds KEY with one replica: the highest md5(shard name ‖ key), as in DESIGN §2.
owner_of() {
	local key=$1 best="" owner="" i h
	shift
	local shards=("$@")
	[ $# -gt 0 ] || shards=(1 2)
	for i in "${shards[@]}"; do
		h=$(printf '%s%s' "$(shard_name "$i")" "$key" | md5sum | cut -c1-32)
		if [[ -z "$best" || "$h" > "$best" ]]; then best=$h; owner=$i; fi
	done
	echo "$owner"
}

# key_on I PREFIX [SHARD...]: the first of PREFIX0, PREFIX1, ... that shard I holds.
key_on() {
	local i=$1 prefix=$2 n
	shift 2
	for n in $(seq 0 999); do
		[ "$(owner_of "$prefix$n" "$@")" = "$i" ] && { echo "$prefix$n"; return 0; }
	done
	return 1
}

# kill9_shard I: SIGKILL the shard's nginx, master first (it would respawn a killed
# worker), then the workers it had (a killed master leaves its workers serving).
kill9_shard() {
	local pid workers w
	pid=$(pid_of "shard$1")
	workers=$(pgrep -P "$pid" || true)
	stop_pid "$pid" KILL
	for w in $workers; do stop_pid "$w" KILL; done
}

# start_kvd_as NAME CONF: another tinykvd (its log is $KV_DIR/NAME.log).
start_kvd_as() {
	local name=$1 conf=$2 port
	port=$(awk '$1 == "port" { print $3 }' "$conf")
	"$BIN/tinykvd" serve -c "$conf" >>"$KV_DIR/$name.log" 2>&1 &
	record_pid "$name" $!
	wait_http "http://127.0.0.1:$port/?list&limit=1"
}

# The intent log of $KV_INDEX (core/intents.h): its own LMDB environment in INDEX/intents.
intents_dir() { echo "$(realpath "$KV_INDEX")/intents"; }

# Number of intents (operations in flight or left by a dead process) in the log.
intent_count() {
	mdb_stat "$(intents_dir)" | awk '/Entries:/ { print $2 }'
}

# Peak resident memory of a process, in kB.
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# shard_path KEY: the path of KEY's value on a shard, /xx/yy/NAME (keys up to 191 bytes,
# whose NAME needs no splitting).
shard_path() {
	local md name
	md=$(printf '%s' "$1" | md5sum)
	name=$(printf '%s' "$1" | base64 -w0 | tr '+/' '-_')
	echo "/${md:0:2}/${md:2:2}/$name"
}

# key_url KEY [SHARD...]: the URL tinykvd reports for KEY with one replica.
key_url() { echo "http://$(shard_name "$(owner_of "$@")")$(shard_path "$1")"; }

# assert_stops_cleanly [NAME]: SIGTERM the daemon recorded as NAME (default kvd) and check
# that its log ends with its goodbye, so a sanitizer report at exit (leaks) is caught too.
assert_stops_cleanly() {
	local name=${1:-kvd} last
	stop_pid "$(pid_of "$name")"
	last=$(tail -n 1 "$KV_DIR/$name.log")
	[ "$last" = "tinykvd: stopped" ] || { echo "$name.log ends with: $last"; return 1; }
}

# --- fuse helpers ---
# Used by the fuse_*.bats files (and they use owner_of, key_on, vm_hwm_kb, intents_dir above).

# is_mounted DIR: is DIR a mount point right now?
is_mounted() { grep -qs " $1 " /proc/mounts; }

# wait_mounted DIR / wait_unmounted DIR: until the mount table says so (10 s).
wait_mounted() {
	local i
	for i in $(seq 200); do
		is_mounted "$1" && return 0
		sleep 0.05
	done
	echo "$1 did not get mounted" >&2
	return 1
}
wait_unmounted() {
	local i
	for i in $(seq 200); do
		is_mounted "$1" || return 0
		sleep 0.05
	done
	echo "$1 is still mounted" >&2
	return 1
}

# mount_kv_fg [OPTS]: mount with -f in the background; the process is recorded as
# "tinykv" (pid_of tinykv), so a test can look at it (memory, open files).
mount_kv_fg() {
	[ -f "$KV_DIR/kv.conf" ] || write_conf
	mkdir -p "$KV_MNT"
	echo "$KV_MNT" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/kv.conf" "$KV_MNT" -f ${1:+-o "$1"} 2>>"$KV_DIR/mount.log" &
	record_pid tinykv $!
	wait_mounted "$KV_MNT"
}

# remount_kv [OPTS]: unmount, wait for it to be gone, mount again.
remount_kv() {
	umount_kv
	wait_unmounted "$KV_MNT"
	mount_kv "$@"
}

# wait_kv KEY VALUE: until curl reads VALUE for KEY (10 s); for what the mount stores
# after the call that wrote it returned (mmap write-back, release).
wait_kv() {
	local i
	for i in $(seq 100); do
		[ "$(kv -L "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "$1 is '$(kv -L "$1")', not '$2'" >&2
	return 1
}

# as_nobody CMD: run a shell command as uid/gid 65534 without supplementary groups.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$1"; }

# refute_stored KEY...: no key listed and no file on shard 1 or 2 for the keys given.
refute_stored() {
	local k
	run kv '?list'
	for k in "$@"; do
		refute_output --partial "\"$k\""
		if [ -e "$KV_DIR/shard1$(shard_path "$k")" ] || [ -e "$KV_DIR/shard2$(shard_path "$k")" ]; then
			echo "a file of $k is on a shard"
			return 1
		fi
	done
}
