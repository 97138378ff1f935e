# scale.sh — memory and scale: start-up time and peak memory of tinykvd and of the mount
# with 10k, 100k and 1M keys in the index (filled by populate), which must stay flat: the
# index loads nothing at start. Sourced by bench/run; defines bench_scale.
# shellcheck shell=bash

SCALE_KEYS=(10000 100000 1000000)
FLAT=1.5	# "flat": the figure with more keys at most 1.5 times the one with 10k

keys_name() { case "$1" in *000000) echo "${1%000000}M" ;; *000) echo "${1%000}k" ;; *) echo "$1" ;; esac; }

# ready_ms WHAT PID CMD...: milliseconds since $T0 until CMD succeeds (20 s), failing if
# PID exits first. CMD should not fork, so that polling is fine-grained.
ready_ms() {
	local what=$1 pid=$2
	shift 2
	for _ in $(seq 20000); do
		"$@" && { calc "$(since "$T0") * 1000"; return 0; }
		kill -0 "$pid" 2>/dev/null || { log "$what exited at start"; return 1; }
		sleep 0.001
	done
	log "$what did not get ready in 20 s"
	return 1
}

# is_302 PORT PATH: does a GET of PATH answer 302? (bash's /dev/tcp: no fork)
is_302() {
	local fd line=""
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&"$fd"
	read -r -t 5 line <&"$fd" || true
	exec {fd}<&-
	[[ "$line" == "HTTP/1."?" 302 "* ]]
}

# kvd_start N: ms from starting tinykvd on the index of N keys until it answers a GET of
# one of them (302); its peak RSS then goes to the results as kvd.rss.N.
kvd_start() {
	local n=$1 port pid ms
	port=$(free_port)
	write_conf "$B/scale-$n.conf" "$B/scale/idx-$n" "$port"
	T0=$(now)
	start_bg "kvd-$n" "$B/scale.log" "$BIN/tinykvd" serve -q -c "$B/scale-$n.conf"
	pid=$!
	ms=$(ready_ms tinykvd "$pid" is_302 "$port" /populate/000000001) ||
		{ stop_pid "$pid"; return 1; }
	add_result "kvd.rss.$n" "$(calc "$(vm_kb "$pid" VmHWM) / 1024")"
	stop_pid "$pid"
	echo "$ms"
}

# mount_start N: the same for a `tinykv -f` mount: until one of the keys is there (stat).
mount_start() {
	local n=$1 pid ms mnt=$B/mnt/scale
	mkdir -p "$mnt"
	track_mount "$mnt"
	T0=$(now)
	start_bg "mount-$n" "$B/scale.log" "$BIN/tinykv" "$B/scale-$n.conf" "$mnt" -f
	pid=$!
	ms=$(ready_ms tinykv "$pid" test -e "$mnt/populate/000000001") || { unmount "$mnt"; return 1; }
	add_result "mount.rss.$n" "$(calc "$(vm_kb "$pid" VmHWM) / 1024")"
	unmount "$mnt"
	stop_pid "$pid"
	echo "$ms"
}

bench_scale() {
	local n ten=${SCALE_KEYS[0]} who name
	section "Memory and scale: start-up with 10k, 100k and 1M keys in the index"
	start_shard
	mkdir -p "$B/scale"
	for n in "${SCALE_KEYS[@]}"; do
		log "populating an index with $n keys"
		"$B/bin/populate" "$B/scale/idx-$n" "$n" "localhost:$SHARD_PORT" ||
			die "populate failed"
	done
	for _ in $(seq "$ROUNDS"); do
		for n in "${SCALE_KEYS[@]}"; do measure "kvd.ms.$n" kvd_start "$n"; done
		for n in "${SCALE_KEYS[@]}"; do measure "mount.ms.$n" mount_start "$n"; done
	done
	for who in kvd mount; do
		[ "$who" = kvd ] && name=tinykvd || name="the mount"
		for n in "${SCALE_KEYS[@]:1}"; do
			row "$name start-up, $(keys_name "$n") keys vs $(keys_name "$ten")" \
				"$(med "$who.ms.$n")" "$(med "$who.ms.$ten")" ms "<=" "$FLAT" \
				"$(keys_name "$ten")"
		done
		for n in "${SCALE_KEYS[@]:1}"; do
			row "$name peak RSS at start-up, $(keys_name "$n") keys vs $(keys_name "$ten")" \
				"$(med "$who.rss.$n")" "$(med "$who.rss.$ten")" MiB "<=" "$FLAT" \
				"$(keys_name "$ten")"
		done
	done
}
