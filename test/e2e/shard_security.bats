#!/usr/bin/env bats
# The shards against an attacker (issue 9, DESIGN §7): a second, unprivileged local user
# (nobody) sends raw requests to the shard ports. Each attack is refused and leaves the data
# whole (every value reads back, nginx's config unchanged); nginx's workers are not root and
# the data is not readable by others; secrets never show. Shards 1 and 2 serve tinykvd as
# usual; shard 3 has --signed-reads and serves a second tinykvd with sign_reads = yes.

load helpers

setup_file() {
	kv_init 3
	start_shard 1
	start_shard 2
	start_shard 3 --signed-reads --server-name shard3.test
	write_conf 1 2
	start_kvd
	export SIGNED_PORT
	SIGNED_PORT=$(free_port_block 1)
	cat >"$KV_DIR/signed.conf" <<CONF
shards = $(shard_list 3)
index = $KV_DIR/index-signed
cache = $KV_DIR/cache-signed
port = $SIGNED_PORT
shard_secret_file = $KV_SECRET
sign_reads = yes
read_link_ttl = 300
CONF
	start_kvd_as kvd-signed "$KV_DIR/signed.conf"
	local i
	for i in $(seq 0 19); do
		kv -X PUT -d "value $i" "k$i" >/dev/null
	done
	curl -s -X PUT -d signed-value "http://127.0.0.1:$SIGNED_PORT/sk" >/dev/null
}

teardown_file() { kv_cleanup; }

# attack CURL-ARGS... URL: curl as nobody; prints the HTTP status (the body is dropped).
attack() {
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@"
}
# attack_body CURL-ARGS... URL: the same, printing the body instead.
attack_body() { setpriv --reuid=65534 --regid=65534 --clear-groups curl -s --max-time 10 "$@"; }

shard_url() { echo "http://127.0.0.1:$(shard_port "$1")"; }
# link_sig EXPIRES PATH: what secure_link checks, base64url(md5("EXPIRES" PATH " " SECRET))
link_sig() {
	printf '%s%s %s' "$1" "$2" "$(secret)" | python3 -c 'import base64, hashlib, sys
print(base64.urlsafe_b64encode(hashlib.md5(sys.stdin.buffer.read()).digest()).decode().rstrip("="))'
}
secret() { cat "$KV_SECRET"; }
# The secret, as someone holding it would send it (the policy applies to them too).
with_secret() { curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Tinykv-Secret: $(secret)" "$@"; }

# nginx's config of shard I (DIR.nginx; before the shards were secured, DIR/.nginx).
conf_of() {
	local c=$KV_DIR/shard$1.nginx/nginx.conf
	[ -f "$c" ] || c=$KV_DIR/shard$1/.nginx/nginx.conf
	echo "$c"
}

# Every value tinykvd stored still reads back; nginx's config is what tinykv-shard wrote.
assert_data_whole() {
	local i
	for i in $(seq 0 19); do
		[ "$(kv -L "k$i")" = "value $i" ] || { echo "k$i does not read back"; return 1; }
	done
	for i in 1 2 3; do
		[ "$(md5sum <"$(conf_of "$i")")" = "$(cat "$KV_DIR/conf$i.md5")" ] ||
			{ echo "nginx.conf of shard $i changed"; return 1; }
	done
	run kv_status -X PUT -d after "after-$BATS_TEST_NUMBER"
	assert_output 201
}

setup() {
	local i
	for i in 1 2 3; do
		[ -f "$KV_DIR/conf$i.md5" ] || md5sum <"$(conf_of "$i")" >"$KV_DIR/conf$i.md5"
	done
}

@test "nginx's workers run as an unprivileged user that owns the data; nobody else can read it" {
	local i master users k path uid
	uid=$(id -u tinykv-shard)
	[ "$uid" -ne 0 ]
	for i in 1 2 3; do
		master=$(pid_of "shard$i")
		[ "$(ps -o uid= -p "$master" | tr -d ' ')" = 0 ]	# binds the port, reads the config
		users=$(ps -o uid= --ppid "$master" | tr -d ' ' | sort -u)
		[ -n "$users" ]
		[ "$users" = "$uid" ] || { echo "workers of shard $i run as uid: $users"; return 1; }
		[ "$(stat -c '%U %a' "$KV_DIR/shard$i")" = "tinykv-shard 700" ]
		# nginx's own files are outside the served tree, readable by root only
		[ ! -e "$KV_DIR/shard$i/.nginx" ]
		[ "$(stat -c '%U %a' "$KV_DIR/shard$i.nginx/nginx.conf")" = "root 600" ]
	done
	k=$(key_on 1 k 1 2)
	path=$KV_DIR/shard1$(shard_path "$k")
	[ "$(stat -c '%U %a' "$path")" = "tinykv-shard 600" ]
	run as_nobody "cat '$path'"
	assert_failure
	run as_nobody "ls '$KV_DIR/shard1'"
	assert_failure
	run as_nobody "cat '$KV_DIR/shard1.nginx/nginx.conf'"
	assert_failure
	run as_nobody "cat '$KV_SECRET'"
	assert_failure
}

@test "DELETE of / and of hash directories is refused, with or without the secret" {
	local k p
	k=$(key_on 1 k 1 2)
	p=$(shard_path "$k")
	run attack -X DELETE "$(shard_url 1)/"
	assert_output 403
	run with_secret -X DELETE "$(shard_url 1)/"
	assert_output 403
	run with_secret -X DELETE -H 'Depth: infinity' "$(shard_url 1)/"
	assert_output 403
	run with_secret -X DELETE "$(shard_url 1)${p:0:4}"	# /xx/
	assert_output 403
	run with_secret -X DELETE "$(shard_url 1)${p:0:3}"	# /xx, a directory
	assert_output 409
	run with_secret -X DELETE "$(shard_url 1)${p:0:7}"	# /xx/yy/
	assert_output 403
	run with_secret -X DELETE "$(shard_url 1)${p:0:6}"	# /xx/yy
	assert_output 409
	run attack -X DELETE "$(shard_url 1)$p"
	assert_output 401
	run with_secret -X DELETE -H 'Depth: infinity' "$(shard_url 1)$p"
	assert_output 403
	[ -d "$KV_DIR/shard1${p:0:6}" ]
	assert_data_whole
}

@test "MOVE and COPY with a forged Destination are refused; nginx's config stays" {
	local k p u d
	k=$(key_on 1 k 1 2)
	p=$(shard_path "$k")
	u=$(shard_url 1)
	for d in "$u/.nginx/nginx.conf" "http://localhost:$(shard_port 1)/../shard1.nginx/nginx.conf" \
		"/../shard1.nginx/nginx.conf" "/ab/cd/Zm9v" "http://localhost:$(shard_port 1)/not-a-value" \
		"http://localhost:$(shard_port 1)/ab/cd/" "http://evil.example:$(shard_port 1)/ab/cd/Zm9v" \
		"http://localhost:$(shard_port 2)/ab/cd/Zm9v" "http://localhost:$(shard_port 1)/ab/cd/%2e%2e"; do
		run with_secret -X MOVE -H "Destination: $d" -H "Host: localhost:$(shard_port 1)" "$u$p"
		[ "$output" = 403 ] || { echo "MOVE to $d answered $output"; return 1; }
		run with_secret -X COPY -H "Destination: $d" -H "Host: localhost:$(shard_port 1)" "$u$p"
		[ "$output" = 403 ] || { echo "COPY to $d answered $output"; return 1; }
	done
	# a legitimate destination, but COPY is not a request tinykv makes
	run with_secret -X COPY -H "Destination: http://localhost:$(shard_port 1)/ab/cd/Zm9v" \
		-H "Host: localhost:$(shard_port 1)" "$u$p"
	assert_output 403
	# a collection, with the Depth: infinity MOVE implies
	run with_secret -X MOVE -H "Destination: http://localhost:$(shard_port 1)/ab/" \
		-H "Host: localhost:$(shard_port 1)" "$u${p:0:4}"
	assert_output 403
	# without the secret, even a well-formed MOVE
	run attack -X MOVE -H "Destination: http://localhost:$(shard_port 1)/ab/cd/Zm9v" \
		-H "Host: localhost:$(shard_port 1)" "$u$p"
	assert_output 401
	[ ! -e "$KV_DIR/shard1/ab/cd/Zm9v" ]
	assert_data_whole
}

@test "Depth: infinity and listings without the secret are refused; no key name leaks" {
	run with_secret -X PROPFIND -H 'Depth: infinity' "$(shard_url 1)/"
	assert_output 403
	run with_secret -X PROPFIND "$(shard_url 1)/"	# no Depth means infinity
	assert_output 403
	run attack_body -X PROPFIND -H 'Depth: 1' "$(shard_url 1)/"
	refute_output --partial multistatus
	run attack -X PROPFIND -H 'Depth: 1' "$(shard_url 1)/"
	assert_output 401
	run with_secret -X PROPFIND -H 'Depth: 1' "$(shard_url 1)/"
	assert_output 207
	run with_secret -X PROPFIND -H 'Depth: 1' "$(shard_url 1)/.nginx/"
	assert_output 403
	run with_secret -X MKCOL "$(shard_url 1)/zz/"
	assert_output 403
	[ ! -e "$KV_DIR/shard1/zz" ]
	assert_data_whole
}

@test "PUT and DELETE without the secret or with a wrong one: 401, nothing written or removed" {
	local k p
	k=$(key_on 1 k 1 2)
	p=$(shard_path "$k")
	run attack -X PUT -d planted "$(shard_url 1)/ab/cd/cGxhbnRlZA=="
	assert_output 401
	run attack -X PUT -d planted -H 'X-Tinykv-Secret: 0123456789abcdef0123456789abcdef' \
		"$(shard_url 1)/ab/cd/cGxhbnRlZA=="
	assert_output 401
	run attack -X PUT -d planted -H "X-Tinykv-Secret: " "$(shard_url 1)$p"
	assert_output 401
	[ ! -e "$KV_DIR/shard1/ab/cd/cGxhbnRlZA==" ]
	run attack -X PUT -d planted "$(shard_url 1)/index.html"
	assert_output 403
	run with_secret -X PUT -d planted "$(shard_url 1)/index.html"
	assert_output 403
	run with_secret -X PUT -d planted "$(shard_url 1)/.nginx/nginx.conf"
	assert_output 403
	run attack -X DELETE -H 'X-Tinykv-Secret: wrong' "$(shard_url 1)$p"
	assert_output 401
	[ -f "$KV_DIR/shard1$p" ]
	# reads stay open: tinykvd's redirects work for anyone
	run attack_body "$(shard_url 1)$p"
	assert_output "value ${k#k}"
	run attack -X OPTIONS "$(shard_url 1)/"
	assert_output 200
	find "$KV_DIR/shard1" -name index.html | grep -q . && { echo "index.html was stored"; return 1; }
	assert_data_whole
}

@test "a Host header that does not name the shard is refused (DNS rebinding)" {
	local k p
	k=$(key_on 1 k 1 2)
	p=$(shard_path "$k")
	run attack -H 'Host: rebind.attacker.example' "$(shard_url 1)$p"
	assert_output 421
	run attack_body -H "Host: rebind.attacker.example:$(shard_port 1)" "$(shard_url 1)$p"
	refute_output --partial "value"
	run with_secret -X PUT -d planted -H "Host: rebind.attacker.example:$(shard_port 1)" \
		"$(shard_url 1)/ab/cd/cGxhbnRlZA=="
	assert_output 421
	[ ! -e "$KV_DIR/shard1/ab/cd/cGxhbnRlZA==" ]
	run attack -H "Host: localhost:$(shard_port 1)" "$(shard_url 1)$p"
	assert_output 200
	run attack -H "Host: 127.0.0.1:$(shard_port 1)" "$(shard_url 1)$p"
	assert_output 200
	# --server-name adds a name
	run with_secret -H "Host: shard3.test:$(shard_port 3)" -X PROPFIND -H 'Depth: 1' "$(shard_url 3)/"
	assert_output 207
	run with_secret -H "Host: shard3.test:$(shard_port 3)" -X PROPFIND -H 'Depth: 1' "$(shard_url 1)/"
	assert_output 421
	assert_data_whole
}

@test "signed reads: tinykvd's redirect works; unsigned, guessed, tampered and expired URLs are refused" {
	local loc base path exp sig past psig other
	loc=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$SIGNED_PORT/sk")
	[[ "$loc" =~ ^http://localhost:$(shard_port 3)/[0-9a-f]{2}/[0-9a-f]{2}/c2s=\?md5=[A-Za-z0-9_-]{22}\&expires=[0-9]+$ ]] ||
		{ echo "redirect: $loc"; return 1; }
	run attack_body -L "http://127.0.0.1:$SIGNED_PORT/sk"
	assert_output signed-value
	run attack_body "$loc"
	assert_output signed-value
	base=${loc%%\?*}
	path=/${base#http://*/}
	exp=${loc##*expires=}
	sig=${loc#*md5=}
	sig=${sig%%&*}
	[ "$exp" -gt "$(date +%s)" ] && [ "$exp" -le $(($(date +%s) + 300)) ]
	run attack "$base"				# unsigned
	assert_output 403
	run attack "$base?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=$exp"	# guessed
	assert_output 403
	run attack "$base?md5=$sig&expires=$((exp + 3600))"	# a later expiry, same signature
	assert_output 403
	# the signature of this path, for another key's path
	curl -s -X PUT -d other-value "http://127.0.0.1:$SIGNED_PORT/other" >/dev/null
	other=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$SIGNED_PORT/other")
	run attack "${other%%\?*}?md5=$sig&expires=$exp"
	assert_output 403
	# correctly signed, but expired
	past=$(($(date +%s) - 10))
	psig=$(link_sig "$past" "$path")
	run attack "$base?md5=$psig&expires=$past"
	assert_output 403
	# ...which is the same signature made for a time to come
	psig=$(link_sig "$exp" "$path")
	[ "$psig" = "$sig" ]
	# the core's own reads carry the secret: verify reads every replica
	run "$BIN/tinykvd" verify -c "$KV_DIR/signed.conf"
	assert_success
	assert_output --partial healthy
}

@test "the mount reads and writes through a shard with --signed-reads" {
	require_fuse
	mkdir -p "$KV_DIR/mnt-signed"
	echo "$KV_DIR/mnt-signed" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/signed.conf" "$KV_DIR/mnt-signed" 2>>"$KV_DIR/mount.log"
	run cat "$KV_DIR/mnt-signed/sk"
	assert_output signed-value
	echo written >"$KV_DIR/mnt-signed/from-mount"
	run cat "$KV_DIR/mnt-signed/from-mount"
	assert_output written
	umount "$KV_DIR/mnt-signed"
	run curl -s -L "http://127.0.0.1:$SIGNED_PORT/from-mount"
	assert_output written
}

@test "a password in a shard URL is refused without showing it" {
	run "$BIN/tinykvd" serve --shards "http://user:hunter2@localhost:$(shard_port 1)" \
		--index "$KV_DIR/index-pw" --port "$(free_port_block 1)"
	assert_failure
	refute_output --partial hunter2
	assert_output --partial "shard_secret_file"
	assert_output --partial "...@localhost:$(shard_port 1)"
	[ ! -e "$KV_DIR/index-pw" ]
}

@test "without the secret tinykvd's writes fail with a message saying what to set" {
	local port
	port=$(free_port_block 1)
	grep -v shard_secret_file "$KV_DIR/kv.conf" | sed "s/^port = .*/port = $port/" >"$KV_DIR/nosecret.conf"
	start_kvd_as kvd-nosecret "$KV_DIR/nosecret.conf"
	run curl -s -w ' %{http_code}' -X PUT -d x "http://127.0.0.1:$port/$(key_on 1 nosecret- 1 2)"
	assert_output --partial "503"
	assert_output --partial "shard_secret_file"
	# the store failed, not the client's rights (403 is tinykvd's access control)
	run curl -s -w ' %{http_code}' -X DELETE "http://127.0.0.1:$port/k0"
	assert_output --partial "503"
	assert_output --partial "shard_secret_file"
	[ "$(kv -L k0)" = "value 0" ]
	stop_pid "$(pid_of kvd-nosecret)"
	# the mount: an I/O error at close (logged), not a permission the caller lacks
	require_fuse
	mkdir -p "$KV_DIR/mnt-nosecret"
	echo "$KV_DIR/mnt-nosecret" >>"$KV_DIR/mounts"
	"$BIN/tinykv" "$KV_DIR/nosecret.conf" "$KV_DIR/mnt-nosecret" 2>>"$KV_DIR/mount.log"
	run cp /etc/hostname "$KV_DIR/mnt-nosecret/$(key_on 1 nosecret- 1 2)"
	assert_failure
	assert_output --partial "Input/output error"
	umount "$KV_DIR/mnt-nosecret"
}

@test "a secret file others may read, a symlink or a missing --secret-file is refused" {
	local bad=$KV_DIR/bad.secret port
	port=$(free_port_block 1)
	cp "$KV_SECRET" "$bad"
	chmod 644 "$bad"
	run timeout 10 "$TOP/scripts/tinykv-shard" --secret-file "$bad" "$KV_DIR/shard-bad" "$port"
	assert_failure
	assert_output --partial "chmod 600 $bad"
	ln -s "$KV_SECRET" "$KV_DIR/link.secret"
	run timeout 10 "$TOP/scripts/tinykv-shard" --secret-file "$KV_DIR/link.secret" "$KV_DIR/shard-bad" "$port"
	assert_failure
	assert_output --partial "symbolic link"
	run timeout 10 "$TOP/scripts/tinykv-shard" "$KV_DIR/shard-bad" "$port"
	assert_failure
	assert_output --partial "--secret-file FILE is required"
	chown 65534 "$bad"
	chmod 600 "$bad"
	run timeout 10 "$TOP/scripts/tinykv-shard" --secret-file "$bad" "$KV_DIR/shard-bad" "$port"
	assert_failure
	assert_output --partial "belongs to uid 65534"
	# nothing listens
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/"
	assert_output 000
	# tinykvd and the mount check the same
	chown 0 "$bad"
	chmod 640 "$bad"
	run "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf" -o "shard_secret_file=$bad"
	assert_failure
	assert_output --partial "chmod 600 $bad"
	run "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf" -o "shard_secret_file=$KV_DIR/link.secret"
	assert_failure
	assert_output --partial "symbolic link"
}

@test "a shard directory of the old layout keeps its data and loses its .nginx" {
	local d=$KV_DIR/shard4 port v
	port=$(free_port_block 1)
	v=$(shard_path hello)
	mkdir -p "$d/.nginx/body" "$(dirname "$d$v")"
	printf '# Generated by tinykv-shard; rewritten at every start.\n' >"$d/.nginx/nginx.conf"
	echo world >"$d$v"
	chmod 644 "$d$v"
	"$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" "$d" "$port" >>"$KV_DIR/shard4.log" 2>&1 &
	record_pid shard4 $!
	wait_http "http://127.0.0.1:$port/"
	[ ! -e "$d/.nginx" ]
	[ "$(stat -c '%U %a' "$d$v")" = "tinykv-shard 600" ]
	run attack_body "http://127.0.0.1:$port$v"
	assert_output world
	run attack "http://127.0.0.1:$port/.nginx/nginx.conf"
	assert_output 403
	stop_pid "$(pid_of shard4)"
}

@test "the secret shows in no log, no command line and no answer" {
	local s pid
	s=$(secret)
	run grep -rl -- "$s" "$KV_DIR"/*.log
	assert_failure
	for pid in $(awk '{ print $2 }' "$KV_DIR/pids"); do
		[ -r "/proc/$pid/cmdline" ] || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$s" && { echo "in the command line of $pid"; return 1; }
		for w in $(pgrep -P "$pid"); do
			tr '\0' ' ' <"/proc/$w/cmdline" | grep -q -- "$s" && { echo "in the command line of $w"; return 1; }
		done
	done
	run curl -s -i -X PUT -d v "http://127.0.0.1:$KV_PORT/shows"
	refute_output --partial "$s"
	run curl -s -i "http://127.0.0.1:$SIGNED_PORT/sk"
	refute_output --partial "$s"
	assert_logs_clean
}

@test "--sync: directories, values and temporary uploads carry the synchronous attribute; without it, the directories lose it" {
	local d=$KV_DIR/shard5 port v
	mkdir -p "$KV_DIR/probe-sync"
	chattr +S "$KV_DIR/probe-sync" 2>/dev/null || skip "this file system has no synchronous attribute"
	port=$(free_port_block 1)
	v=$(shard_path synced)
	"$TOP/scripts/tinykv-shard" --sync --secret-file "$KV_SECRET" "$d" "$port" >>"$KV_DIR/shard5.log" 2>&1 &
	record_pid shard5 $!
	wait_http "http://127.0.0.1:$port/"
	run with_secret -X PUT -d v "http://127.0.0.1:$port$v"
	assert_output 201
	run lsattr -d "$d" "$d${v:0:3}" "$d${v:0:6}" "$d$v" "$d.nginx/body"
	[ "$(echo "$output" | awk '$1 !~ /S/' | wc -l)" -eq 0 ] || { echo "$output"; return 1; }
	stop_pid "$(pid_of shard5)"
	"$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" "$d" "$port" >>"$KV_DIR/shard5.log" 2>&1 &
	record_pid shard5 $!
	wait_http "http://127.0.0.1:$port/"
	run lsattr -d "$d" "$d${v:0:3}" "$d${v:0:6}" "$d.nginx/body"
	[ "$(echo "$output" | awk '$1 ~ /S/' | wc -l)" -eq 0 ] || { echo "$output"; return 1; }
	run attack_body "http://127.0.0.1:$port$v"
	assert_output v
	stop_pid "$(pid_of shard5)"
}
