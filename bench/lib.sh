# lib.sh — shared by bench/run and the parts it sources (http.sh, fuse.sh, scale.sh).
# Everything started is recorded in $B (the private temporary directory) and stopped by
# bench_cleanup: mounts by path, processes by PID. Nothing is found or killed by name.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$TOP/build
B=""		# private temporary directory (bench_init)
SHARD_PORT=""	# the nginx shard every part measures against (start_shard)
SHARD_DIR=""
KV_PORT=""	# tinykvd (start_kvd)
KV_CONF=""
NOSUM_PORT=""	# a second tinykvd on the same index, with checksum = no (start_kvd_nosum)
SECRET=""	# the cluster's shard secret file (bench_init); the shard takes writes with it
PEER_PORT=""	# a plain nginx WebDAV server for davfs2 and rclone (start_peer_dav)
PEER_DIR=""

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# note TEXT: a remark printed under the table; a "problem:" makes bench/run exit 1.
note() { printf '%s\n' "$*" >>"$B/notes"; log "$*"; }
problem() { note "problem: $*"; }

bench_init() {
	B=$(mktemp -d "${TMPDIR:-/tmp}/tinykv-bench.XXXXXX")
	chmod 755 "$B"	# davfs2 drops to its own user, which must reach its cache dir
	: >"$B/pids"; : >"$B/mounts"; : >"$B/indexes"; : >"$B/rows"; : >"$B/notes"
	: >"$B/ports"
	mkdir -p "$B/bin" "$B/mnt"
	SECRET=$B/shard.secret
	(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$SECRET")
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# --- processes and mounts ----------------------------------------------------------------

track() { echo "$1 $2" >>"$B/pids"; }	# track NAME PID
pid_of() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$B/pids"; }

# ours PID: a process this run started and that still runs: a child of this shell, or a
# davfs2 daemon (PIDs are reused quickly on a busy machine; never signal another's).
ours() {
	local stat ppid
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	ppid=$(awk '{ print $2 }' <<<"${stat##*)}")	# after "(comm)": state, ppid
	[ "$ppid" = "$$" ] || [[ "$stat" == *"(mount.davfs)"* ]]
}

stop_pid() {	# stop_pid PID: TERM, wait up to 10 s, then KILL (only a process of ours)
	local pid=$1
	[ -n "$pid" ] && ours "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# start_bg NAME LOG CMD...: CMD in the background, recorded as NAME.
start_bg() {
	local name=$1 logf=$2
	shift 2
	"$@" >>"$logf" 2>&1 </dev/null &
	track "$name" $!
}

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; }

wait_mounted() {	# wait_mounted DIR [PID]: until mounted (20 s), failing if PID dies
	for _ in $(seq 200); do
		is_mounted "$1" && return 0
		[ -z "${2:-}" ] || kill -0 "$2" 2>/dev/null || { log "mounting $1 failed"; return 1; }
		sleep 0.1
	done
	log "$1 did not get mounted"
	return 1
}

track_mount() { echo "$1" >>"$B/mounts"; }

# unmount DIR: politely (davfs2 uploads what it holds first), lazily if that fails.
unmount() {
	is_mounted "$1" || return 0
	timeout 300 umount "$1" >/dev/null 2>&1 || fusermount3 -u "$1" 2>/dev/null || umount -l "$1" ||
		true
	for _ in $(seq 100); do
		is_mounted "$1" || return 0
		sleep 0.1
	done
	umount -l "$1" 2>/dev/null || true
}

bench_cleanup() {
	local rc=$? m name pid idx shm
	set +e
	trap - EXIT INT TERM
	[ -n "$B" ] && [ -d "$B" ] || exit "$rc"
	log "cleaning up"
	tac "$B/mounts" | while read -r m; do unmount "$m"; done
	tac "$B/pids" | while read -r name pid; do stop_pid "$pid"; done
	while read -r idx; do
		shm=$(intents_dir "$idx")
		case "$shm" in /dev/shm/tinykv-*) rm -rf "$shm" ;; esac
	done <"$B/indexes"
	if awk -v d="$B/" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		log "something is still mounted under $B; leaving it"
	elif [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept $B"
	else
		log "removing $B"
		rm -rf --one-file-system "$B"
	fi
	log "cleaned up"
	exit "$rc"
}

# The intent log of an index (core/intents.c): /dev/shm/tinykv-<md5 of its real path>.
intents_dir() {
	local real
	real=$(realpath -m "$1")
	echo "/dev/shm/tinykv-$(printf '%s' "$real" | md5sum | cut -c1-16)"
}

# --- ports, readiness ----------------------------------------------------------------------

# free_port: a port nobody listens on and this run has not handed out yet, outside the
# kernel's ephemeral range (where an outgoing connection may hold it and bind would fail).
free_port() {
	local p lo hi base=10000 span
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	if [ "$lo" -gt 12000 ]; then span=$((lo - base)); else base=$((hi + 1)) span=$((65536 - hi - 1)); fi
	for _ in $(seq 500); do
		p=$((base + RANDOM % span))
		grep -qx "$p" "$B/ports" && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		echo "$p" >>"$B/ports"
		echo "$p"
		return 0
	done
	die "no free port"
}

wait_http() {	# wait_http URL PID: until URL answers (20 s), failing if PID exits
	for _ in $(seq 400); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		kill -0 "$2" 2>/dev/null || { log "the server for $1 exited"; return 1; }
		sleep 0.05
	done
	log "nothing answers at $1"
	return 1
}

# --- what every part needs: one shard, tinykvd ----------------------------------------------

# up NAME LOG URL: wait until the server just started as NAME answers at URL; else show
# its log and stop it (the port may have been taken meanwhile: callers try three ports).
up() {
	wait_http "$3" "$(pid_of "$1")" && return 0
	tail -n 5 "$2" >&2
	stop_pid "$(pid_of "$1")"
	return 1
}

# The X-Tinykv-Secret header that direct writes to the shard need (as the core sends it).
secret_header() { printf 'X-Tinykv-Secret: %s' "$(cat "$SECRET")"; }

start_shard() {	# the nginx WebDAV shard (tinykv-shard as it defaults), once
	[ -z "$SHARD_PORT" ] || return 0
	SHARD_DIR=$B/shard
	for _ in 1 2 3; do
		SHARD_PORT=$(free_port)
		start_bg shard "$B/shard.log" "$TOP/scripts/tinykv-shard" --secret-file "$SECRET" \
			"$SHARD_DIR" "$SHARD_PORT"
		up shard "$B/shard.log" "http://127.0.0.1:$SHARD_PORT/" && return 0
	done
	die "the shard did not start"
}

# shard_workers: the worker_processes the shard's nginx runs with (from the config
# tinykv-shard wrote, in its default state directory), or "?" before it started.
shard_workers() {
	awk '$1 == "worker_processes" { sub(";", "", $2); w = $2 } END { print w ? w : "?" }' \
		"$SHARD_DIR.nginx/nginx.conf" 2>/dev/null || echo "?"
}

shard_label() { echo "tinykv-shard defaults: $(shard_workers) worker(s)"; }

# write_conf FILE INDEX PORT: a tinykv.conf for the shard.
write_conf() {
	cat >"$1" <<CONF
shards = localhost:$SHARD_PORT
index = $2
cache = $B/cache
port = $3
replicas = 1
shard_secret_file = $SECRET
CONF
	echo "$2" >>"$B/indexes"
}

# nginx_bin: the nginx that tinykv-shard runs too.
nginx_bin() { echo "${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"; }

# start_peer_dav: for davfs2 and rclone, which need all of WebDAV on any path (the shard
# serves tinykv's requests only): a plain nginx WebDAV server at its best, a worker per
# core, with the shard's buffers and keepalive, serving $B/peers. Once.
start_peer_dav() {
	local dir=$B/peer-nginx user_line=""
	[ -z "$PEER_PORT" ] || return 0
	PEER_DIR=$B/peers
	mkdir -p "$dir/body" "$PEER_DIR"
	[ "$(id -u)" -ne 0 ] || user_line="user root;"
	for _ in 1 2 3; do
		PEER_PORT=$(free_port)
		cat >"$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
$user_line
daemon off;
master_process on;
worker_processes auto;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 300s;
	keepalive_requests 1000000;
	client_max_body_size 0;
	client_body_buffer_size 1m;
	client_body_temp_path $dir/body;
	default_type application/octet-stream;
	types {}
	server {
		listen 127.0.0.1:$PEER_PORT reuseport backlog=4096;
		root $PEER_DIR;
		location / {
			dav_methods PUT DELETE MKCOL COPY MOVE;
			dav_ext_methods PROPFIND OPTIONS;
			dav_access user:rw group:r all:r;
			create_full_put_path on;
			autoindex on;
		}
	}
}
CONF
		start_bg peer-nginx "$B/peer-nginx.log" "$(nginx_bin)" -p "$dir" -c "$dir/nginx.conf" \
			-e stderr
		up peer-nginx "$B/peer-nginx.log" "http://127.0.0.1:$PEER_PORT/" && return 0
	done
	die "the peers' nginx did not start"
}

start_kvd() {	# tinykvd -q (no access log) on the shard, once
	[ -z "$KV_PORT" ] || return 0
	start_shard
	KV_CONF=$B/kv.conf
	for _ in 1 2 3; do
		KV_PORT=$(free_port)
		write_conf "$KV_CONF" "$B/index" "$KV_PORT"
		start_bg kvd "$B/kvd.log" "$BIN/tinykvd" serve -q -c "$KV_CONF"
		up kvd "$B/kvd.log" "http://127.0.0.1:$KV_PORT/?list&limit=1" && return 0
	done
	die "tinykvd did not start"
}

# start_kvd_nosum: a second tinykvd on the same shard and index that keeps no md5 of values
# (checksum = no), to show what the checksum costs on big writes.
start_kvd_nosum() {
	[ -z "$NOSUM_PORT" ] || return 0
	start_kvd
	NOSUM_PORT=$(free_port)
	start_bg kvd-nosum "$B/kvd-nosum.log" "$BIN/tinykvd" serve -q -c "$KV_CONF" \
		-p "$NOSUM_PORT" -o checksum=no
	up kvd-nosum "$B/kvd-nosum.log" "http://127.0.0.1:$NOSUM_PORT/?list&limit=1" ||
		die "tinykvd with checksum = no did not start"
}

# --- measuring -----------------------------------------------------------------------------

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.6f\n", b - a }'; }
calc() { awk "BEGIN { printf \"%.10g\\n\", ($*) }"; }	# calc EXPR: floating point

# vm_kb PID FIELD: VmHWM or VmRSS of a process, in kB.
vm_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

declare -A RES=()

add_result() { RES[$1]="${RES[$1]:-} $2"; }	# add_result NAME FIGURE

# measure NAME CMD...: run CMD (in this shell, so that what it starts is ours to stop),
# which prints one number; add it to the results of NAME. A failure is noted, recorded as
# "ERR", and the run goes on.
measure() {
	local name=$1 out=""
	shift
	if "$@" >"$B/figure"; then out=$(<"$B/figure"); fi
	if [[ "$out" =~ ^[0-9][0-9.e+-]*$ ]]; then
		add_result "$name" "$out"
	else
		problem "$name: no figure (from: $*)"
		add_result "$name" ERR
	fi
}

med() {	# med NAME: the median of NAME's results, ERR if any failed, empty if none
	local vals=${RES[$1]:-}
	[ -n "$vals" ] || return 0
	case " $vals " in *" ERR "*) echo ERR; return 0 ;; esac
	tr ' ' '\n' <<<"$vals" | sed '/^$/d' | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- the table -----------------------------------------------------------------------------

fmt() {	# fmt VALUE UNIT: a readable figure
	case "$1" in
		ERR|"") echo "${1:-—}" ;;
		*) awk -v v="$1" -v u="$2" 'BEGIN {
			s = sprintf(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v)
			print s (u == "" ? "" : " " u) }' ;;
	esac
}

# row WORKLOAD OURS PEER UNIT OP LIMIT [PEER_NAME]
#   OP ">=": ratio ours/peer must be >= LIMIT; "<=": ratio ours/peer must be <= LIMIT;
#   "max": no peer, OURS must be <= LIMIT (in UNIT); "min": OURS must be >= LIMIT (in UNIT;
#   PEER, if any, is shown for scale); "": no target (information only).
row() {
	local w=$1 ours=$2 peer=$3 unit=$4 op=$5 limit=$6 pname=${7:-}
	local ratio="—" target="—" met="—" o p
	o=$(fmt "$ours" "$unit")
	p=$(fmt "$peer" "$unit")
	[ -z "$pname" ] || [ "$p" = "—" ] || p="$p ($pname)"
	if [[ "$ours" =~ ^[0-9] && "$peer" =~ ^[0-9] ]] && [ "$(calc "$peer > 0")" = 1 ]; then
		ratio=$(calc "$ours / $peer" | awk '{ printf "%.2f", $1 }')
	fi
	case "$op" in
		">="|"<=")
			target="${op/>=/≥} $limit" target=${target/<=/≤}
			if [ "$ratio" != "—" ]; then
				met=$(awk -v r="$ratio" -v l="$limit" -v op="$op" \
					'BEGIN { ok = op == ">=" ? r >= l : r <= l; print ok ? "yes" : "NO" }')
			else
				met="?"
			fi ;;
		max|min)
			target="$([ "$op" = max ] && echo "≤" || echo "≥") $limit $unit"
			if [[ "$ours" =~ ^[0-9] ]]; then
				met=$(awk -v v="$ours" -v l="$limit" -v op="$op" \
					'BEGIN { ok = op == "max" ? v <= l : v >= l; print ok ? "yes" : "NO" }')
			else
				met="?"
			fi ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$o" "$p" "$ratio" "$target" "$met" >>"$B/rows"
}

section() { printf '§\t%s\n' "$1" >>"$B/rows"; log "== $1"; }
