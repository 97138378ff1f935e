#!/usr/bin/env bats
# Who may ask tinykvd what (issue 9, DESIGN §7). These tests act as the attacker: another
# Unix user (nobody) with curl, requests with no, a wrong, an expired or a too narrow
# token, Basic and Bearer, a Host header naming another server (DNS rebinding), writes
# from an address that is not loopback (a network namespace behind a veth pair), a
# chmod 600 file made in a real mount fetched and deleted over HTTP; and tinykvd refusing
# to start with an unsafe token file or an open listen address. Each finds the attack
# refused and the data whole.
#
# Daemons, all on one index: kvd (no auth, the default: what make run starts) on KV_PORT;
# akvd (auth = the token file) on AUTH_PORT; on the veth's address NET_IP, nkvd
# (auth = none) on NET_PORT and tkvd (the token file) on NET_AUTH_PORT.

load helpers

setup_file() {
	start_cluster
	# Other users must reach the mount point: not inside the private (0700) bats tmpdir.
	KV_MNT=$(mktemp -d /tmp/tinykv-auth.XXXXXX)
	chmod 755 "$KV_MNT"
	export KV_MNT M=$KV_MNT
	mount_kv allow_other

	# The tokens: as given and as sha256:HEX.
	export ADMIN_TOKEN ALICE_TOKEN READER_TOKEN OLD_TOKEN BOB_TOKEN
	ADMIN_TOKEN=$(new_token)
	ALICE_TOKEN=$(new_token)
	READER_TOKEN=$(new_token)
	OLD_TOKEN=$(new_token)
	BOB_TOKEN=$(new_token)
	export TOKENS=$KV_DIR/tokens
	write_tokens
	export AUTH_PORT
	AUTH_PORT=$(free_port_block 1)
	auth_conf "$AUTH_PORT" 127.0.0.1 "auth = $TOKENS" >"$KV_DIR/akvd.conf"
	start_kvd_named akvd "$KV_DIR/akvd.conf" "http://127.0.0.1:$AUTH_PORT/"

	start_netns
}

teardown_file() {
	[ -z "${VETH:-}" ] || ip link del "$VETH" 2>/dev/null || true
	kv_cleanup
	case "${KV_MNT:-}" in /tmp/tinykv-auth.*) rmdir "$KV_MNT" ;; esac
}

new_token() { head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# The token file; alice's token is stored hashed.
write_tokens() {
	local alice_hash
	alice_hash=$(printf %s "$ALICE_TOKEN" | sha256sum | cut -c1-64)
	cat >"$TOKENS" <<EOF
# name   token                       rights       limits
root-ish $ADMIN_TOKEN                admin
alice    sha256:$alice_hash          read,write   prefix=alice/ uid=1000 gid=1000
reader   $READER_TOKEN               read
old      $OLD_TOKEN                  read,write   expires=2020-01-01
${1:-bob      $BOB_TOKEN                  read,write   uid=2000 gid=2000}
EOF
	chmod 600 "$TOKENS"
}

# auth_conf PORT LISTEN [LINE...]: a config for another daemon on the same index.
auth_conf() {
	local port=$1 listen=$2
	shift 2
	sed -e "s/^port = .*/port = $port/" "$KV_DIR/kv.conf"
	echo "listen = $listen"
	printf '%s\n' "$@"
}

# start_kvd_named NAME CONF URL: a tinykvd with CONF (log NAME.log), until URL answers.
start_kvd_named() {
	"$BIN/tinykvd" serve -c "$2" >>"$KV_DIR/$1.log" 2>&1 &
	record_pid "$1" $!
	wait_http "$3"
}

# A network namespace whose only way out is a veth pair on private addresses:
# NET_IP (this side) and PEER_IP (inside); in_ns runs a command in it.
start_netns() {
	local n=$((RANDOM % 250 + 2)) m=$((RANDOM % 60 * 4)) i
	unshare --net sh -c 'ip link set lo up && exec sleep 100000' &
	record_pid netns $!
	export NETNS=$! VETH=tkva$((RANDOM % 100000)) NET_IP=10.200.$n.$((m + 1))
	# the veth's far end must go into the new namespace, not this one: wait until it is
	for i in $(seq 100); do
		nsenter -t "$NETNS" -n ip -o addr show lo 2>/dev/null | grep -q 127.0.0.1 && break
		sleep 0.05
	done
	export PEER_IP=10.200.$n.$((m + 2))
	ip link add "$VETH" type veth peer name tkvb netns "$NETNS"
	ip addr add "$NET_IP/30" dev "$VETH"
	ip link set "$VETH" up
	in_ns ip addr add "$PEER_IP/30" dev tkvb
	in_ns ip link set tkvb up
	export NET_PORT NET_AUTH_PORT
	NET_PORT=$(free_port_block 1)
	auth_conf "$NET_PORT" "$NET_IP" "auth = none" >"$KV_DIR/nkvd.conf"
	start_kvd_named nkvd "$KV_DIR/nkvd.conf" "http://$NET_IP:$NET_PORT/"
	NET_AUTH_PORT=$(free_port_block 1)
	auth_conf "$NET_AUTH_PORT" "$NET_IP" "auth = $TOKENS" >"$KV_DIR/tkvd.conf"
	start_kvd_named tkvd "$KV_DIR/tkvd.conf" "http://$NET_IP:$NET_AUTH_PORT/"
	local i
	for i in $(seq 100); do
		in_ns curl -s -o /dev/null --max-time 1 "http://$NET_IP:$NET_PORT/" && return 0
		sleep 0.1
	done
	echo "the namespace does not reach $NET_IP" >&2
	return 1
}

in_ns() { nsenter -t "$NETNS" -n "$@"; }

# akv CURL-ARGS... PATH: curl against the daemon with the token file.
akv() {
	local last=${*: -1}
	curl -s --max-time 60 "${@:1:$#-1}" "http://127.0.0.1:$AUTH_PORT/$last"
}
akv_status() { akv -o "$KV_DIR/body" -w '%{http_code}' "$@"; }
bearer() { echo "Authorization: Bearer $1"; }

# The value of KEY as root reads it through the mount (the data is whole).
value_of() { cat "$M/$1"; }

setup() { require_fuse; }

@test "without auth the seed's examples work from loopback; new keys belong to anonymous" {
	run kv -L -X PUT -d world seedkey
	assert_output "Transaction Successful. Value world is stored at $(key_url seedkey)"
	run kv -L seedkey
	assert_output world
	run stat -c '%u %g %a' "$M/seedkey"
	assert_output "65534 65534 644"
	run kv -L -X DELETE seedkey
	assert_output "Delete succeeded."
	run kv -L seedkey
	assert_output "Key with value: 'seedkey' not found."
	grep -q 'access: no tokens (auth not set); anonymous: read, write' "$KV_DIR/kvd.log"
}

@test "chmod 600 in the mount: another user's curl gets 403 for GET, HEAD, DELETE; the file stays" {
	echo "top secret" >"$M/secret"
	chmod 600 "$M/secret"
	run as_nobody "cat '$M/secret'"
	assert_failure
	assert_output --partial "Permission denied"
	run as_nobody "curl -s -L -w '%{http_code}' http://127.0.0.1:$KV_PORT/secret"
	assert_output "$(printf "Forbidden: 'secret' is mode 0600, owned by uid 0, gid 0; anonymous requests (uid 65534, gid 65534) may not read it.\n403")"
	refute_output --partial "top secret"
	run as_nobody "curl -s -o /dev/null -w '%{http_code} %{redirect_url}' http://127.0.0.1:$KV_PORT/secret"
	assert_output "403 "
	run as_nobody "curl -s -I -o /dev/null -w '%{http_code}' http://127.0.0.1:$KV_PORT/secret"
	assert_output 403
	run as_nobody "curl -s -X DELETE -w '%{http_code}' http://127.0.0.1:$KV_PORT/secret"
	assert_output "$(printf "Forbidden: 'secret' is mode 0600, owned by uid 0, gid 0; anonymous requests (uid 65534, gid 65534) may not delete it.\n403")"
	run as_nobody "curl -s 'http://127.0.0.1:$KV_PORT/?list'"
	refute_output --partial '"secret"'
	run value_of secret
	assert_output "top secret"
	# the owner's own way in still works, and so does root's through the mount
	chmod 604 "$M/secret"
	run kv -L secret
	assert_output "top secret"
}

@test "anonymous DELETE needs ownership or other-write: root's 0644 file stays, a 0666 one goes" {
	echo "root's" >"$M/rootfile"
	run kv_status -X DELETE rootfile
	assert_output 403
	run kv_body
	assert_output --partial "may not delete it"
	run value_of rootfile
	assert_output "root's"
	echo "anyone's" >"$M/sharedfile"
	chmod 666 "$M/sharedfile"
	run kv_status -X DELETE sharedfile
	assert_output 200
	run kv_status sharedfile
	assert_output 404
}

@test "a directory made in the mount: PUT needs write on it, GET needs search; implied ones are open" {
	mkdir "$M/rootdir"
	run kv_status -X PUT -d intruder rootdir/new
	assert_output 403
	run kv_body
	assert_output "Forbidden: directory 'rootdir' is mode 0755, owned by uid 0, gid 0; anonymous requests (uid 65534, gid 65534) may not write in it."
	[ ! -e "$M/rootdir/new" ]
	chmod 1777 "$M/rootdir"
	run kv_status -X PUT -d guest rootdir/new
	assert_output 201
	mkdir "$M/nobodys"
	chown 65534:65534 "$M/nobodys"
	run kv_status -X PUT -d mine nobodys/f
	assert_output 201
	# search permission: a readable file in a 0700 directory is out of reach
	mkdir "$M/closed"
	echo inside >"$M/closed/f"
	chmod 700 "$M/closed"
	run as_nobody "cat '$M/closed/f'"
	assert_failure
	run kv_status closed/f
	assert_output 403
	run kv_body
	assert_output --partial "directory 'closed' is mode 0700"
	run kv "closed/?list"
	assert_output '{"next": "", "keys": []}'
	run kv_status -X DELETE closed/f
	assert_output 403
	run value_of closed/f
	assert_output inside
	# a directory nobody made (implied by the keys below it) puts no limit
	run kv_status -X PUT -d open implied/deep/key
	assert_output 201
}

@test "a Host header naming another server gets 421 naming server_name; nothing changes" {
	kv -X PUT -d kept rebind >/dev/null
	run kv_status -H "Host: evil.example:$KV_PORT" rebind
	assert_output 421
	run kv_body
	assert_output --partial "Misdirected request: Host 'evil.example:$KV_PORT' is not a name of this server."
	assert_output --partial "server_name (now: localhost, 127.0.0.1, [::1])"
	# what a browser sends after the attacker's name starts resolving to 127.0.0.1
	run curl -s -w ' %{http_code}' -X DELETE --resolve "evil.example:$KV_PORT:127.0.0.1" \
		"http://evil.example:$KV_PORT/rebind"
	assert_output --regexp ' 421$'
	run curl -s -w ' %{http_code}' -X PUT -d x --resolve "evil.example:$KV_PORT:127.0.0.1" \
		"http://evil.example:$KV_PORT/rebind2"
	assert_output --regexp ' 421$'
	run kv_status -H "Host: 127.0.0.1.evil.example" rebind
	assert_output 421
	run kv_status -H "Host: localhost:$KV_PORT:1" rebind
	assert_output 421
	run value_of rebind
	assert_output kept
	[ ! -e "$M/rebind2" ]
	# the server's own names, with or without the port
	local h
	for h in localhost "localhost:$KV_PORT" LOCALHOST 127.0.0.1 "127.0.0.1:$KV_PORT" "[::1]:$KV_PORT"; do
		run kv_status -H "Host: $h" rebind
		[ "$output" = 302 ] || { echo "Host: $h → $output"; return 1; }
	done
}

@test "server_name replaces the default names" {
	local port
	port=$(free_port_block 1)
	auth_conf "$port" 127.0.0.1 "server_name = kv.example, 127.0.0.1:$port" >"$KV_DIR/names.conf"
	start_kvd_named names "$KV_DIR/names.conf" "http://127.0.0.1:$port/"
	run curl -s -o /dev/null -w '%{http_code}' -H "Host: kv.example:8080" "http://127.0.0.1:$port/?list"
	assert_output 200
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/?list"
	assert_output 200
	run curl -s -o /dev/null -w '%{http_code}' "http://localhost:$port/?list"
	assert_output 421
	run curl -s -o /dev/null -w '%{http_code}' -H "Host: 127.0.0.1:1" "http://127.0.0.1:$port/?list"
	assert_output 421
	assert_stops_cleanly names
}

@test "with tokens, a request without one may read but not write (401 with a challenge)" {
	kv -X PUT -d public pub1 >/dev/null
	run akv -L pub1
	assert_output public
	run akv -D "$KV_DIR/headers" -o "$KV_DIR/body" -w '%{http_code}' -X PUT -d x anon-put
	assert_output 401
	grep -qi '^WWW-Authenticate: Bearer realm="tinykv"' "$KV_DIR/headers"
	grep -qi '^WWW-Authenticate: Basic realm="tinykv"' "$KV_DIR/headers"
	run kv_body
	assert_output "Unauthorized: to create, a request needs a token with the write right: send Authorization: Bearer TOKEN (or curl -u NAME:TOKEN)."
	run akv_status -X DELETE pub1
	assert_output 401
	[ ! -e "$M/anon-put" ]
	run value_of pub1
	assert_output public
	grep -q "access: 5 tokens from $TOKENS; anonymous: read" "$KV_DIR/akvd.log"
}

@test "a wrong token, a wrong name, an unknown scheme, an expired token: 401; nothing written" {
	local wrong
	wrong=$(new_token)
	run akv_status -H "$(bearer "$wrong")" -X PUT -d x bad1
	assert_output 401
	run kv_body
	assert_output "Unauthorized: no token of this server matches the one sent."
	run akv_status -u "alice:$wrong" -X PUT -d x alice/bad2
	assert_output 401
	run akv_status -u "mallory:$ALICE_TOKEN" -X PUT -d x alice/bad3
	assert_output 401
	run akv_status -H "Authorization: Digest username=alice" -X PUT -d x bad4
	assert_output 401
	run akv_status -H "Authorization: Basic !!!" -X PUT -d x bad5
	assert_output 401
	run akv_status -H "$(bearer "$OLD_TOKEN")" -X PUT -d x bad6
	assert_output 401
	run kv_body
	assert_output "Unauthorized: token 'old' expired at 2020-01-01T00:00:00Z."
	# a wrong token does not fall back to anonymous reading either
	kv -X PUT -d v readable1 >/dev/null
	run akv_status -H "$(bearer "$wrong")" readable1
	assert_output 401
	local k
	for k in bad1 alice/bad2 alice/bad3 bad4 bad5 bad6; do
		[ ! -e "$M/$k" ] || { echo "$k was stored"; return 1; }
	done
}

@test "Bearer and Basic (curl -u) both carry a token; keys it makes belong to its uid" {
	run akv_status -H "$(bearer "$ALICE_TOKEN")" -X PUT -d one alice/one
	assert_output 201
	run akv_status -u "alice:$ALICE_TOKEN" -X PUT -d two alice/two
	assert_output 201
	run stat -c '%u %g' "$M/alice/one" "$M/alice/two"
	assert_output "$(printf '1000 1000\n1000 1000')"
	run akv -L -u "alice:$ALICE_TOKEN" alice/two
	assert_output two
	run akv_status -u "alice:$ALICE_TOKEN" -X DELETE alice/one
	assert_output 200
	run kv_status alice/one
	assert_output 404
}

@test "a token limited to a prefix: nothing outside it, in reads, writes, deletes or listings" {
	kv -X PUT -d "bob's" bobs/file >/dev/null
	akv -u "alice:$ALICE_TOKEN" -X PUT -d a1 alice/l1 >/dev/null
	akv -u "alice:$ALICE_TOKEN" -X PUT -d a2 alice/l2 >/dev/null
	run akv_status -u "alice:$ALICE_TOKEN" bobs/file
	assert_output 403
	run kv_body
	assert_output "Forbidden: token 'alice' is limited to keys starting with 'alice/'."
	run akv_status -u "alice:$ALICE_TOKEN" -X PUT -d x bobs/new
	assert_output 403
	run akv_status -u "alice:$ALICE_TOKEN" -X DELETE bobs/file
	assert_output 403
	run akv_status -u "alice:$ALICE_TOKEN" -X PUT -d x alicex
	assert_output 403
	run akv_status -u "alice:$ALICE_TOKEN" "bobs/?list"
	assert_output 403
	# a listing of everything shows only what is under the prefix
	run akv -u "alice:$ALICE_TOKEN" "?list"
	assert_output --partial '"alice/l1", "alice/l2"'
	refute_output --partial 'bobs/'
	refute_output --partial 'pub1'
	run akv -u "alice:$ALICE_TOKEN" "al?list"
	assert_output --partial '"alice/l1", "alice/l2"'
	run value_of bobs/file
	assert_output "bob's"
	[ ! -e "$M/bobs/new" ] && [ ! -e "$M/alicex" ]
}

@test "a token's uid meets the bits as POSIX has it; admin and uid 0 pass them" {
	echo "root only" >"$M/rootsecret"
	chmod 600 "$M/rootsecret"
	echo "group" >"$M/groupfile"
	chown 0:2000 "$M/groupfile"
	chmod 640 "$M/groupfile"
	run akv_status -H "$(bearer "$BOB_TOKEN")" rootsecret
	assert_output 403
	run kv_body
	assert_output --partial "token 'bob' (uid 2000, gid 2000) may not read it"
	run akv_status -H "$(bearer "$BOB_TOKEN")" groupfile
	assert_output 302
	run akv_status -H "$(bearer "$BOB_TOKEN")" -X DELETE groupfile
	assert_output 403
	run akv_status -H "$(bearer "$READER_TOKEN")" -X PUT -d x reader-put
	assert_output 403
	run kv_body
	assert_output "Forbidden: token 'reader' has no write right."
	run akv_status -H "$(bearer "$ADMIN_TOKEN")" rootsecret
	assert_output 302
	run akv -L -H "$(bearer "$ADMIN_TOKEN")" "?list"
	assert_output --partial '"rootsecret"'
	run akv -L "?list"
	refute_output --partial '"rootsecret"'
	run akv_status -H "$(bearer "$ADMIN_TOKEN")" -X DELETE groupfile
	assert_output 200
	run value_of rootsecret
	assert_output "root only"
}

@test "tokens never show in the access log or in answers; SIGHUP reads the file again" {
	akv -H "$(bearer "$BOB_TOKEN")" -o /dev/null pub1
	akv -u "alice:$ALICE_TOKEN" -o /dev/null alice/two
	run grep -rlF -e "$ALICE_TOKEN" -e "$BOB_TOKEN" -e "$ADMIN_TOKEN" -e "$READER_TOKEN" \
		-e "$(printf 'alice:%s' "$ALICE_TOKEN" | base64 -w0)" "$KV_DIR"/*.log "$KV_DIR/body"
	assert_output ""
	run grep -c 'Authorization' "$KV_DIR/akvd.log"
	assert_output 0
	# revoke bob: his token stops working as soon as the daemon has read the file again
	write_tokens "# bob is gone"
	kill -HUP "$(pid_of akvd)"
	local i
	for i in $(seq 100); do
		grep -q 'SIGHUP: access: 4 tokens' "$KV_DIR/akvd.log" && break
		sleep 0.05
	done
	run akv_status -H "$(bearer "$BOB_TOKEN")" pub1
	assert_output 401
	# a file that became unsafe is not read; the tokens in use stay
	chmod 644 "$TOKENS"
	kill -HUP "$(pid_of akvd)"
	for i in $(seq 100); do
		grep -q 'SIGHUP: the tokens in use stay' "$KV_DIR/akvd.log" && break
		sleep 0.05
	done
	grep -q "SIGHUP: the tokens in use stay: auth file $TOKENS is open to group or others" "$KV_DIR/akvd.log"
	run akv_status -H "$(bearer "$READER_TOKEN")" pub1
	assert_output 302
	write_tokens
	kill -HUP "$(pid_of akvd)"
	for i in $(seq 100); do
		[ "$(akv_status -H "$(bearer "$BOB_TOKEN")" pub1)" = 302 ] && break
		sleep 0.05
	done
	run akv_status -H "$(bearer "$BOB_TOKEN")" pub1
	assert_output 302
}

@test "auth = none on a veth address: reads from the network, writes only from loopback (403)" {
	kv -X PUT -d "net value" netkey >/dev/null
	# (the shards are on this host's loopback, which the namespace cannot follow to)
	run in_ns curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://$NET_IP:$NET_PORT/netkey"
	assert_output "302 $(key_url netkey)"
	run in_ns curl -s -w '%{http_code}' -X PUT -d evil "http://$NET_IP:$NET_PORT/netnew"
	assert_output "$(printf 'Forbidden: anonymous writes are taken from loopback only; from elsewhere, a write needs a token with the write right (see auth in tinykv.conf(5)).\n403')"
	run in_ns curl -s -w ' %{http_code}' -X DELETE "http://$NET_IP:$NET_PORT/netkey"
	assert_output --regexp ' 403$'
	run value_of netkey
	assert_output "net value"
	[ ! -e "$M/netnew" ]
	grep -q "$PEER_IP .*\"PUT /netnew HTTP/1.1\" 403" "$KV_DIR/nkvd.log"
}

@test "with tokens on a veth address: a token writes from the network, anonymous does not" {
	run in_ns curl -s -o /dev/null -w '%{http_code}' -X PUT -d x "http://$NET_IP:$NET_AUTH_PORT/netanon"
	assert_output 401
	run in_ns curl -s -o /dev/null -w '%{http_code}' -u "alice:$ALICE_TOKEN" -X PUT -d "from afar" \
		"http://$NET_IP:$NET_AUTH_PORT/alice/net"
	assert_output 201
	run value_of alice/net
	assert_output "from afar"
	[ ! -e "$M/netanon" ]
}

# refuse CONF-LINES...: tinykvd with kv.conf plus the lines must refuse to start (exit 2).
refuse() {
	local port
	port=$(free_port_block 1)
	auth_conf "$port" "${LISTEN:-127.0.0.1}" "$@" >"$KV_DIR/refuse.conf"
	run timeout 10 "$BIN/tinykvd" serve -c "$KV_DIR/refuse.conf"
	[ "$status" -eq 2 ] || { echo "exit $status: $output"; return 1; }
}

@test "tinykvd refuses a token file others may read, owned by someone else, or a symlink" {
	local f=$KV_DIR/unsafe-tokens
	cp "$TOKENS" "$f"
	chmod 644 "$f"
	refuse "auth = $f"
	assert_output "tinykvd: refusing to serve: auth file $f is open to group or others (mode 0644), who could read the tokens: chmod 600 $f"
	chmod 600 "$f"
	chown 65534 "$f"
	refuse "auth = $f"
	assert_output "tinykvd: refusing to serve: auth file $f is owned by uid 65534, not by uid 0 that runs tinykvd: chown 0 $f"
	chown 0 "$f"
	ln -s "$f" "$KV_DIR/link-tokens"
	refuse "auth = $KV_DIR/link-tokens"
	assert_output "tinykvd: refusing to serve: auth file $KV_DIR/link-tokens is a symlink: name the file itself (a link can be turned to another file)"
	mkdir -m 777 "$KV_DIR/open-dir"
	cp -p "$f" "$KV_DIR/open-dir/tokens"
	refuse "auth = $KV_DIR/open-dir/tokens"
	assert_output --partial "which group or others may write in (mode 0777)"
	refuse "auth = $KV_DIR/missing-tokens"
	assert_output "tinykvd: refusing to serve: auth file $KV_DIR/missing-tokens: No such file or directory"
}

@test "tinykvd refuses a bad token file, naming the line and never the token" {
	local f=$KV_DIR/bad-tokens short=tooshort1
	printf 'ok %s read\nweak %s read\n' "$READER_TOKEN" "$short" >"$f"
	chmod 600 "$f"
	refuse "auth = $f"
	assert_output "tinykvd: refusing to serve: $f:2: the token of 'weak' is shorter than 16 characters (make one with: openssl rand -hex 32)"
	printf 'a %s read\nb %s write\n' "$READER_TOKEN" "$READER_TOKEN" >"$f"
	refuse "auth = $f"
	assert_output "tinykvd: refusing to serve: $f:2: 'b' has the same token as 'a': every token must be its own"
	printf 'a %s read,delete\n' "$READER_TOKEN" >"$f"
	refuse "auth = $f"
	assert_output --partial "$f:1: 'a': 'delete' is not a right"
	refute_output --partial "$READER_TOKEN"
	# a token in the wrong column is not echoed either
	printf '%s alice read\n' "$READER_TOKEN" >"$f"
	refuse "auth = $f"
	assert_output "tinykvd: refusing to serve: $f:1: the token of '(not shown: as long as a token)' is shorter than 16 characters (make one with: openssl rand -hex 32)"
	printf 'alice %s read uid=%s\n' "$ALICE_TOKEN" "$READER_TOKEN" >"$f"
	refuse "auth = $f"
	assert_output --partial "$f:1: 'alice': uid '(not shown: as long as a token)' is not a number"
	printf '# nothing\n' >"$f"
	refuse "auth = $f"
	assert_output --partial "has no tokens"
}

@test "tinykvd refuses to listen beyond loopback without auth; auth = none is the way to say so" {
	LISTEN=$NET_IP refuse
	assert_output "tinykvd: refusing to serve: listen = $NET_IP is not a loopback address and no auth is set: whoever reaches it could read every key. Set auth = FILE (a token file, see tinykv.conf(5)), or write auth = none to serve without tokens (writes are then still taken from loopback only)"
	LISTEN='*' refuse
	assert_output --partial "listen = * is not a loopback address"
	# nkvd, on the same address with auth = none, runs: see the tests above
	run in_ns curl -s -o /dev/null -w '%{http_code}' "http://$NET_IP:$NET_PORT/?list"
	assert_output 200
}

@test "the daemons stop cleanly and their logs are clean" {
	assert_logs_clean
	assert_stops_cleanly akvd
	assert_stops_cleanly nkvd
	assert_stops_cleanly tkvd
}
