# fuse.sh — the FUSE table of issues 5 and 11: a tinykv mount of the shard against davfs2
# and `rclone mount` (webdav, --vfs-cache-mode writes) on a plain nginx WebDAV server with a
# worker per core (start_peer_dav: the shard serves tinykv's requests only), a local
# directory, and curl to the shard. "Cold" means freshly mounted (the servers' disk caches
# stay warm for all). Sourced by bench/run; defines bench_fuse and the mounting helpers
# that md.sh uses too.
# shellcheck shell=bash

KVM=""		# the tinykv mount point
DAVM=""		# davfs2's, serving the peers' nginx's /davfs/
RCM=""		# rclone's, serving the peers' nginx's /rclone/
NSM=""		# a second tinykv mount, with checksum = no
NAM=""		# a third, with -o noacl (mounted for the ls -l rows only)
DAV_N=0 RC_PORT=""

# --- mounting --------------------------------------------------------------------------------

mount_kv() {	# a fresh `tinykv -f` process, recorded as "mount" (its VmHWM is read)
	mkdir -p "$KVM"
	track_mount "$KVM"
	start_bg mount "$B/mount.log" "$BIN/tinykv" "$KV_CONF" "$KVM" -f
	wait_mounted "$KVM" "$(pid_of mount)" || { tail -n 5 "$B/mount.log" >&2; return 1; }
}

mount_nosum() {	# the same store at $NSM, keeping no md5 of values (checksum = no)
	mkdir -p "$NSM"
	track_mount "$NSM"
	start_bg mount-nosum "$B/mount-nosum.log" "$BIN/tinykv" "$KV_CONF" "$NSM" -f \
		-o checksum=no
	wait_mounted "$NSM" "$(pid_of mount-nosum)" ||
		{ tail -n 5 "$B/mount-nosum.log" >&2; return 1; }
}

mount_noacl() {	# the same store at $NAM, refusing POSIX ACLs (-o noacl)
	mkdir -p "$NAM"
	track_mount "$NAM"
	start_bg mount-noacl "$B/mount-noacl.log" "$BIN/tinykv" "$KV_CONF" "$NAM" -f -o noacl
	wait_mounted "$NAM" "$(pid_of mount-noacl)" ||
		{ tail -n 5 "$B/mount-noacl.log" >&2; return 1; }
}

# davfs2 1.6 needs buf_size 64 here, ask_auth 0 to mount without asking, and a cache
# directory its own user can write; a fresh one each time, so each mount starts cold.
mount_davfs() {
	local cache conf pidfile
	DAV_N=$((DAV_N + 1))
	cache=$B/davfs-cache-$DAV_N conf=$B/davfs2-$DAV_N.conf
	mkdir -p "$cache" "$DAVM"
	chmod 777 "$cache"
	printf 'buf_size 64\nask_auth 0\nuse_locks 0\ncache_dir %s\n' "$cache" >"$conf"
	track_mount "$DAVM"
	mount -t davfs -o "conf=$conf,uid=0,gid=0" "http://127.0.0.1:$PEER_PORT/davfs/" \
		"$DAVM" </dev/null >>"$B/davfs.log" 2>&1 ||
		{ tail -n 5 "$B/davfs.log" >&2; log "davfs2 did not mount"; return 1; }
	pidfile=/var/run/mount.davfs/$(tr / - <<<"${DAVM#/}").pid
	[ ! -f "$pidfile" ] || track davfs "$(cat "$pidfile")"
}

mount_rclone() {	# (on a fresh --rc-addr port if the last one was taken meanwhile)
	mkdir -p "$RCM"
	track_mount "$RCM"
	for _ in 1 2 3; do
		start_bg rclone "$B/rclone.log" rclone --config "$B/rclone.conf" mount bench: "$RCM" \
			--vfs-cache-mode writes --cache-dir "$B/rclone-cache" \
			--rc --rc-addr "127.0.0.1:$RC_PORT" --rc-no-auth
		wait_mounted "$RCM" "$(pid_of rclone)" && return 0
		tail -n 5 "$B/rclone.log" >&2
		stop_pid "$(pid_of rclone)"
		RC_PORT=$(free_port)
	done
	return 1
}

# rclone loses files still queued at unmount: wait until it has uploaded everything.
rclone_idle() {
	local stats
	for _ in $(seq 600); do
		stats=$(rclone rc --url "http://127.0.0.1:$RC_PORT/" vfs/stats 2>/dev/null) || return 0
		grep -qE '"uploads(InProgress|Queued)": [1-9]' <<<"$stats" || return 0
		sleep 0.5
	done
	problem "rclone still uploads after 5 minutes"
}

# remount kv|davfs|rclone: unmount (after the process is gone) and mount again: cold.
remount() {
	case "$1" in
		kv) unmount "$KVM"; stop_pid "$(pid_of mount)"; mount_kv ;;
		noacl) unmount "$NAM"; stop_pid "$(pid_of mount-noacl)"; mount_noacl ;;
		davfs) unmount "$DAVM"; stop_pid "$(pid_of davfs)"; mount_davfs ;;
		rclone) rclone_idle; unmount "$RCM"; stop_pid "$(pid_of rclone)"; mount_rclone ;;
	esac
}

# --- workloads -------------------------------------------------------------------------------

# on_shard SIZE KEY...: how many of the keys the shard holds, with SIZE bytes, on its disk
# (at /XX/YY/base64(key), XX/YY from md5(key); one shard, so no placement to compute).
on_shard() {
	python3 - "$SHARD_DIR" "$@" <<'PY'
import base64, hashlib, os, sys
root, size, keys = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
n = 0
for k in keys:
    h = hashlib.md5(k.encode()).hexdigest()
    p = os.path.join(root, h[:2], h[2:4], base64.urlsafe_b64encode(k.encode()).decode())
    n += os.path.isfile(p) and os.path.getsize(p) == size
print(n)
PY
}

# wait_on_server DIR N SIZE: until DIR on the shard's disk holds N files of SIZE bytes.
wait_on_server() {
	for _ in $(seq 6000); do
		[ "$(find "$1" -maxdepth 1 -type f -size "$3c" 2>/dev/null | wc -l)" -ge "$2" ] &&
			return 0
		sleep 0.1
	done
	log "$1: not all of $2 files arrived in 10 minutes"
	return 1
}

fsload() { timeout -k 5 900 "$B/bin/fsload" "$@" >/dev/null; }

# create_files DIR [SERVER_DIR]: files/s of FILES new 4 KiB files written into DIR, counted
# until all are on the server: for a peer, until they are in SERVER_DIR on the shard's disk;
# for tinykv (no SERVER_DIR), at close, and checked to be on the shard right after.
create_files() {
	local dir=$1 srv=${2:-} t0 t keys
	mkdir "$dir" || return 1
	t0=$(now)
	fsload create "$dir" "$FILES" 4096 || return 1
	[ -z "$srv" ] || wait_on_server "$srv" "$FILES" 4096 || return 1
	t=$(since "$t0")
	if [ -z "$srv" ]; then
		mapfile -t keys < <(seq -f "${dir#"$KVM/"}/f%05g" 0 $((FILES - 1)))
		[ "$(on_shard 4096 "${keys[@]}")" = "$FILES" ] ||
			{ log "$dir: not every file was on the shard when close returned"; return 1; }
	fi
	calc "$FILES / $t"
}

read_files() {	# read_files DIR: files/s reading back (and checking) what create_files wrote
	local t0
	t0=$(now)
	fsload read "$1" "$FILES" 4096 || return 1
	calc "$FILES / $(since "$t0")"
}

ls_ms() {	# ls_ms DIR N: milliseconds of `ls -l DIR`, which must list N entries
	local t0 t lines
	t0=$(now)
	timeout -k 5 600 ls -l "$1" >"$B/ls.out" || return 1
	t=$(since "$t0")
	lines=$(grep -c '^-' "$B/ls.out" || true)
	[ "$lines" = "$2" ] || { log "ls -l $1 listed $lines files, not $2"; return 1; }
	calc "$t * 1000"
}

# write_kv NAME: MB/s of writing the big file into the mount (dd, until close returns), and
# checked to be on the shard then.
write_kv() {	# write_kv NAME [MOUNT]
	local t0 t size
	size=$(stat -c %s "$B/big.src")
	t0=$(now)
	timeout -k 5 900 dd if="$B/big.src" of="${2:-$KVM}/$1" bs=1M status=none || return 1
	t=$(since "$t0")
	[ "$(on_shard "$size" "$1")" = 1 ] || { log "$1 was not on the shard at close"; return 1; }
	calc "$size / $t / 1000000"
}

# write_curl NAME: MB/s of `curl -T` of the big file to the shard (a value path, with the
# secret, as the core writes).
write_curl() {
	local code t size url=http://127.0.0.1:$SHARD_PORT/c0/00/$1 hdr
	hdr=$(secret_header)
	size=$(stat -c %s "$B/big.src")
	read -r code t < <(curl -sS -H "$hdr" -T "$B/big.src" -o /dev/null \
		-w '%{http_code} %{time_total}\n' "$url") || true
	case "${code:-}" in 201|204) ;; *) log "PUT $url: ${code:-no answer}"; return 1 ;; esac
	curl -fsS -H "$hdr" -o /dev/null -X DELETE "$url" || return 1
	calc "$size / $t / 1000000"
}

read_kv() {	# read_kv NAME: MB/s of reading a file of the (fresh) mount with dd
	local t0 t bytes
	t0=$(now)
	bytes=$(timeout -k 5 900 dd if="$KVM/$1" of=/dev/null bs=1M 2>&1 |
		awk '/bytes/ { print $1 }') || return 1
	t=$(since "$t0")
	[ "$bytes" = "$(stat -c %s "$B/big.src")" ] || { log "read $bytes bytes of $1"; return 1; }
	calc "$bytes / $t / 1000000"
}

read_curl() {	# read_curl URL: MB/s of a curl GET
	local code bytes t
	read -r code bytes t < <(curl -sS -o /dev/null \
		-w '%{http_code} %{size_download} %{time_total}\n' "$1") || true
	if [ "${code:-}" != 200 ] || [ "$bytes" != "$(stat -c %s "$B/big.src")" ]; then
		log "GET $1: ${code:-no answer}, ${bytes:-0} bytes"
		return 1
	fi
	calc "$bytes / $t / 1000000"
}

# --- the table ---------------------------------------------------------------------------------

bench_fuse() {
	local r p loc hwm src_kv=create-1 big=$FUSE_BIG_MIB
	section "FUSE (tinykv mount) against davfs2, rclone mount, a local directory, curl"
	note "FUSE: cold = freshly mounted (davfs2 with an empty cache); the servers' and the local directory's disk caches stay warm. davfs2 and rclone (on a plain nginx WebDAV server with a worker per core) count a file once it is on the server's disk."
	start_kvd
	start_peer_dav
	KVM=$B/mnt/kv NSM=$B/mnt/kv-nosum NAM=$B/mnt/kv-noacl DAVM=$B/mnt/davfs RCM=$B/mnt/rclone
	RC_PORT=$(free_port)
	mkdir -p "$PEER_DIR/davfs" "$PEER_DIR/rclone" "$B/local"
	printf '[bench]\ntype = webdav\nurl = http://127.0.0.1:%s/rclone\nvendor = other\n' \
		"$PEER_PORT" >"$B/rclone.conf"
	mount_kv || die "tinykv did not mount"
	mount_nosum || die "tinykv with checksum = no did not mount"
	mount_davfs || die "davfs2 did not mount"
	mount_rclone || die "rclone did not mount"

	for r in $(seq "$ROUNDS"); do
		measure create.kv create_files "$KVM/create-$r"
		measure create.davfs create_files "$DAVM/create-$r" "$PEER_DIR/davfs/create-$r"
		measure create.rclone create_files "$RCM/create-$r" "$PEER_DIR/rclone/create-$r"
	done
	row "create $FILES files of 4 KiB (until on the server)" "$(med create.kv)" \
		"$(med create.davfs)" files/s ">=" 10 "davfs2 on nginx, worker_processes auto"
	row "  the same" "$(med create.kv)" "$(med create.rclone)" files/s "" "" rclone

	for r in $(seq "$ROUNDS"); do
		for p in kv davfs rclone; do
			remount "$p" || die "remounting $p failed"
			case $p in
				kv) measure read.kv read_files "$KVM/$src_kv" ;;
				davfs) measure read.davfs read_files "$DAVM/$src_kv" ;;
				rclone) measure read.rclone read_files "$RCM/$src_kv" ;;
			esac
		done
	done
	row "read those $FILES files, cold" "$(med read.kv)" "$(med read.davfs)" files/s ">=" 3 \
		"davfs2 on nginx, worker_processes auto"
	row "  the same" "$(med read.kv)" "$(med read.rclone)" files/s "" "" rclone

	log "making $LS_FILES files to list (through the mount for tinykv, on disk for the rest)"
	for p in "$KVM/ls" "$PEER_DIR/davfs/ls" "$PEER_DIR/rclone/ls" "$B/local/ls"; do
		mkdir "$p" || die "mkdir $p failed"
		fsload create "$p" "$LS_FILES" 100 || die "filling $p failed"
	done
	for r in $(seq "$ROUNDS"); do
		for p in kv noacl davfs rclone; do remount "$p" || die "remounting $p failed"; done
		measure ls.kv ls_ms "$KVM/ls" "$LS_FILES"
		measure ls.noacl ls_ms "$NAM/ls" "$LS_FILES"
		measure ls.davfs ls_ms "$DAVM/ls" "$LS_FILES"
		measure ls.rclone ls_ms "$RCM/ls" "$LS_FILES"
		measure ls.local ls_ms "$B/local/ls" "$LS_FILES"
	done
	row "ls -l of $LS_FILES files, cold mount" "$(med ls.kv)" "$(med ls.local)" ms "<=" 2 \
		"local directory"
	row "  the same, -o noacl" "$(med ls.noacl)" "$(med ls.local)" ms "<=" 2 \
		"local directory"
	row "  the same" "$(med ls.kv)" "$(med ls.davfs)" ms "" "" davfs2
	row "  the same" "$(med ls.kv)" "$(med ls.rclone)" ms "" "" rclone

	head -c "$((big << 20))" /dev/urandom >"$B/big.src"
	for r in $(seq "$ROUNDS"); do
		measure bigw.kv write_kv "big-$r"
		[ "$r" = 1 ] || rm -f "$KVM/big-$r"
		measure bigw.curl write_curl "big-$r"
		measure bigw.nosum write_kv "bign-$r" "$NSM"
		rm -f "$NSM/bign-$r"
	done
	row "write a $big MiB file sequentially (until on the shard)" "$(med bigw.kv)" \
		"$(med bigw.curl)" MB/s ">=" 0.70 "curl -T to the shard"
	row "  the same, checksum = no" "$(med bigw.nosum)" "$(med bigw.curl)" MB/s ">=" 0.70 \
		"curl -T to the shard"
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$KV_PORT/big-1")
	for r in $(seq "$ROUNDS"); do
		remount kv || die "remounting tinykv failed"
		measure bigr.kv read_kv big-1
		measure bigr.curl read_curl "${loc:-http://127.0.0.1:$KV_PORT/big-1}"
	done
	rm -f "$KVM/big-1"
	row "read a $big MiB file sequentially, cold" "$(med bigr.kv)" "$(med bigr.curl)" MB/s \
		">=" 0.80 "curl GET from the shard"

	remount kv || die "remounting tinykv failed"
	if cp "$B/big.src" "$KVM/cp-in" && cp "$KVM/cp-in" "$B/cp-out" && cmp -s "$B/big.src" "$B/cp-out"
	then
		hwm=$(vm_kb "$(pid_of mount)" VmHWM)
		hwm=$(calc "$hwm / 1024")
	else
		problem "cp of the $big MiB file in and out of the mount failed or differs"
		hwm=ERR
	fi
	rm -f "$KVM/cp-in" "$B/cp-out" "$B/big.src"
	row "tinykv peak RSS (VmHWM) over cp of a $big MiB file in and out" "$hwm" "" MiB max 64
	for p in "$KVM" "$NSM" "$NAM" "$DAVM" "$RCM"; do
		[ "$p" != "$RCM" ] || rclone_idle
		unmount "$p"
	done
}
