# http.sh — the HTTP table of issues 5 and 11: tinykvd (-q) on one nginx shard against
# ceilings measured in the same run, each at its best on this machine: an nginx with a
# worker per core answering `return 302` / `return 404`, and direct WebDAV requests (with
# the cluster's secret, on value paths, as the core makes them) to the same shard, which
# runs as tinykv-shard defaults. Sourced by bench/run; defines bench_http.
# shellcheck shell=bash

CEIL_PORT=""
CEIL_WORKERS="worker_processes auto ($(nproc))"	# how the ceiling runs, for the table

# start_ceiling LOCATION BODY: an nginx at its best (a worker per core, logging nothing,
# keepalive like the shard's) whose /302 answers 302 to LOCATION and /404 answers 404 with
# BODY, as tinykvd does.
start_ceiling() {
	local dir=$B/ceiling user_line=""
	mkdir -p "$dir"
	[ "$(id -u)" -ne 0 ] || user_line="user root;"
	for _ in 1 2 3; do
		CEIL_PORT=$(free_port)
		cat >"$dir/nginx.conf" <<CONF
$user_line
daemon off;
master_process on;
worker_processes auto;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
	access_log off;
	tcp_nodelay on;
	keepalive_timeout 300s;
	keepalive_requests 1000000;
	default_type text/plain;
	types {}
	server {
		listen 127.0.0.1:$CEIL_PORT reuseport backlog=4096;
		location = /302 { return 302 $1; }
		location = /404 { return 404 "$2\n"; }
	}
}
CONF
		start_bg ceiling "$B/ceiling.log" "$(nginx_bin)" -p "$dir" -c "$dir/nginx.conf" -e stderr
		up ceiling "$B/ceiling.log" "http://127.0.0.1:$CEIL_PORT/302" && return 0
	done
	die "the ceiling nginx did not start"
}

# The wrk script for PUTs of new keys with 100-byte bodies. Arguments: kv|dav RUN [SECRET].
# kv: /wrk-THREAD-RUN-N; dav: /XX/YY/wrk-THREAD-RUN-N, XX/YY from a hash of the name,
# like tinykv's layout, so that both pay for creating directories alike, with the
# X-Tinykv-Secret header the shard wants for writes.
write_put_lua() {
	cat >"$B/put.lua" <<'LUA'
local nthreads = 0
function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end
function init(args)
	mode, run, n = args[1], args[2], 0
	body = string.rep("v", 100)
	headers = { ["X-Tinykv-Secret"] = args[3] }
end
function request()
	n = n + 1
	local name = "wrk-" .. tid .. "-" .. run .. "-" .. n
	if mode == "kv" then
		return wrk.format("PUT", "/" .. name, nil, body)
	end
	local h = 5381
	for i = 1, #name do h = (h * 33 + name:byte(i)) % 4294967296 end
	local dir = string.format("/%02x/%02x/", math.floor(h / 16777216), math.floor(h / 65536) % 256)
	return wrk.format("PUT", dir .. name, headers, body)
end
LUA
}

# wrk_rate EXPECT URL [SCRIPT ARG...]: requests/s of `wrk -t2 -c64` at URL. EXPECT "ok":
# every answer below 400 and no socket errors; "404": every answer a 404.
wrk_rate() {
	local expect=$1 url=$2 out reqs bad sock rate
	shift 2
	local cmd=(wrk -t2 -c64 --timeout 10s -d "${DURATION}s")
	[ $# -eq 0 ] || cmd+=(-s "$1")
	cmd+=("$url")
	[ $# -le 1 ] || cmd+=(-- "${@:2}")
	out=$("${cmd[@]}" 2>&1) || { log "wrk failed: $out"; return 1; }
	reqs=$(awk '/ requests in / { print $1 }' <<<"$out")
	bad=$(awk -F: '/Non-2xx or 3xx responses/ { print $2 + 0 }' <<<"$out")
	sock=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
	rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	if [ "${sock:-0}" -gt 0 ]; then log "wrk $url: socket errors: $out"; return 1; fi
	case "$expect" in
		ok) [ "${bad:-0}" -eq 0 ] || { log "wrk $url: $bad answers >= 400 of $reqs"; return 1; } ;;
		404) [ "${bad:-0}" -eq "$reqs" ] || { log "wrk $url: ${bad:-0} of $reqs were 404"; return 1; } ;;
	esac
	if [ -z "$rate" ] || [ "$reqs" -eq 0 ]; then log "wrk $url: no figure in: $out"; return 1; fi
	echo "$rate"
}

# cycles kv|dav URL: PUT, GET (following the redirect), DELETE cycles/s of 16 workers.
# Errors are counted by kvload (status and value checked); any is a problem.
cycles() {
	local out rate errs
	out=$(KVLOAD_SECRET_FILE=$SECRET "$B/bin/kvload" "$1" "$2" 16 "$DURATION" 100) ||
		{ log "kvload $1: $out"; }
	rate=$(awk '/cycles\/s/ { print $1 }' <<<"$out")
	errs=$(sed -n 's/.* \([0-9]*\) errors.*/\1/p' <<<"$out")
	[ "${errs:-1}" -eq 0 ] || problem "kvload $1 $2: $out"
	[ -n "$rate" ] || return 1
	echo "$rate"
}

content_length() { curl -sSIL "$1" | awk 'tolower($1) == "content-length:" { n = $2 } END { print n + 0 }'; }

# put_big kv|nosum|dav ROUND: MB/s of BIG_PUTS PUTs of the big file with `curl -T` (time of the
# PUTs only; each value is checked and deleted afterwards).
put_big() {
	local mode=$1 r=$2 i url code t total=0 size hdr=()
	size=$(stat -c %s "$B/big.src")
	for i in $(seq "$BIG_PUTS"); do
		if [ "$mode" = kv ]; then
			url=http://127.0.0.1:$KV_PORT/big-$r-$i
		elif [ "$mode" = nosum ]; then
			url=http://127.0.0.1:$NOSUM_PORT/bign-$r-$i
		else
			url=http://127.0.0.1:$SHARD_PORT/b1/00/big-$r-$i
			hdr=(-H "$(secret_header)")
		fi
		read -r code t < <(curl -sS "${hdr[@]}" -T "$B/big.src" -o /dev/null \
			-w '%{http_code} %{time_total}\n' "$url") || true
		case "${code:-}" in 201|204) ;; *) log "PUT $url: ${code:-no answer}"; return 1 ;; esac
		total=$(calc "$total + $t")
		[ "$(content_length "$url")" = "$size" ] || { log "$url: wrong size"; return 1; }
		curl -fsS "${hdr[@]}" -o /dev/null -X DELETE "$url" || return 1
	done
	calc "$BIG_PUTS * $size / $total / 1000000"
}

bench_http() {
	local r loc body hwm
	section "HTTP (tinykvd), wrk -t2 -c64 (${DURATION}s runs) or kvload"
	start_kvd
	curl -fsS -o /dev/null -X PUT --data-binary "$(printf '%0100d' 0)" \
		"http://127.0.0.1:$KV_PORT/bench-get" || die "cannot PUT through tinykvd"
	loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$KV_PORT/bench-get")
	body=$(curl -sS "http://127.0.0.1:$KV_PORT/bench-missing")
	if [ -z "$loc" ] || [[ "$body" == *[\"\\\$]* ]]; then die "unexpected answers from tinykvd"; fi
	start_ceiling "$loc" "$body"
	if curl -sSI "http://127.0.0.1:$KV_PORT/bench-get" | grep -qi '^connection: *close'; then
		note "tinykvd answers GET with 'Connection: close', so wrk opens a connection per GET."
	fi
	write_put_lua

	for r in $(seq "$ROUNDS"); do
		measure get.ours wrk_rate ok "http://127.0.0.1:$KV_PORT/bench-get"
		measure get.ceil wrk_rate ok "http://127.0.0.1:$CEIL_PORT/302"
	done
	row "GET of an existing key (302, not followed)" "$(med get.ours)" "$(med get.ceil)" \
		req/s ">=" 0.80 "nginx return 302, $CEIL_WORKERS"
	for r in $(seq "$ROUNDS"); do
		measure miss.ours wrk_rate 404 "http://127.0.0.1:$KV_PORT/bench-missing"
		measure miss.ceil wrk_rate 404 "http://127.0.0.1:$CEIL_PORT/404"
	done
	row "GET of a missing key (404)" "$(med miss.ours)" "$(med miss.ceil)" \
		req/s ">=" 0.80 "nginx return 404, $CEIL_WORKERS"
	for r in $(seq "$ROUNDS"); do
		measure put.ours wrk_rate ok "http://127.0.0.1:$KV_PORT/" "$B/put.lua" kv "$r"
		measure put.ceil wrk_rate ok "http://127.0.0.1:$SHARD_PORT/" "$B/put.lua" dav "$r" \
			"$(cat "$SECRET")"
	done
	row "PUT of new keys, 100-byte values" "$(med put.ours)" "$(med put.ceil)" \
		req/s ">=" 0.60 "WebDAV PUT to the shard, $(shard_label)"
	for r in $(seq "$ROUNDS"); do
		measure cycle.ours cycles kv "http://127.0.0.1:$KV_PORT"
		measure cycle.ceil cycles dav "http://127.0.0.1:$SHARD_PORT"
	done
	row "PUT, GET (redirect followed), DELETE per key, 16 workers" "$(med cycle.ours)" \
		"$(med cycle.ceil)" cycles/s ">=" 0.50 "the same on the shard, $(shard_label)"
	hwm=$(vm_kb "$(pid_of kvd)" VmHWM)
	row "tinykvd peak RSS (VmHWM) after the runs above (64 connections)" \
		"$(calc "$hwm / 1024")" "" MiB max 64

	head -c "$((BIG_MIB << 20))" /dev/urandom >"$B/big.src"
	start_kvd_nosum
	for r in $(seq "$ROUNDS"); do
		measure big.ours put_big kv "$r"
		measure big.ceil put_big dav "$r"
		measure big.nosum put_big nosum "$r"
	done
	rm -f "$B/big.src"
	row "PUT of $BIG_MIB MiB values (curl -T, $BIG_PUTS per run)" "$(med big.ours)" \
		"$(med big.ceil)" MB/s ">=" 0.50 "curl -T to the shard, $(shard_label)"
	row "  the same, checksum = no" "$(med big.nosum)" "$(med big.ceil)" MB/s ">=" 0.50 \
		"curl -T to the shard, $(shard_label)"
	hwm=$(vm_kb "$(pid_of kvd)" VmHWM)
	row "tinykvd peak RSS (VmHWM) after the $BIG_MIB MiB PUTs too" "$(calc "$hwm / 1024")" "" \
		MiB max 64
}
