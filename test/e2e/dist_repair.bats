#!/usr/bin/env bats
# Replicas, rebuild and verify: R = 2 survives a stopped shard (curl and the mount); an
# index rebuilt from the shards lists the same keys with the same replicas; a wiped shard
# is left alone by verify --repair until --force names it, then gets every replica back;
# a few lost files come back without --force; strays and orphans are reported, and
# removed once older than orphan_grace, but never an orphan that may be a key's only copy.

load helpers

N=300

setup_file() {
	kv_init 3
	start_shard 1
	start_shard 2
	start_shard 3
	export KV_REPLICAS=2
	write_conf 1 2 3
	start_kvd -q
	local i
	for i in $(seq -w 1 "$N"); do
		curl -s -X PUT --data-binary "value of r-$i" "http://127.0.0.1:$KV_PORT/r-$i" >/dev/null
	done
}

teardown_file() { kv_cleanup; }

files_on() { find "$KV_DIR/shard$1" -path "$KV_DIR/shard$1/.nginx" -prune -o -type f -print | wc -l; }
listing() { curl -s "http://127.0.0.1:$1/?list&limit=10000"; }
verify() { "$BIN/tinykvd" verify -c "$KV_DIR/kv.conf" "$@"; }

# read_all curl|mount: every key reads back its value, through one curl (one URL after the
# other, on one connection) or one awk over the mount (a line per file). A shard stopped or
# started just before is seen by the probes within about a second: a read that fails is
# tried again for a few seconds before the test fails, showing what differs.
read_all() {
	local keys
	keys=$(seq -w 1 "$N" | sed 's/^/r-/')
	for _ in $(seq 20); do
		read_once "$1" "$keys" >/dev/null && return 0
		sleep 0.25
	done
	read_once "$1" "$keys"
}

read_once() {	# read_once curl|mount KEYS
	if [ "$1" = mount ]; then
		# shellcheck disable=SC2086 # a key per word
		(cd "$KV_MNT" && awk 1 $2) >"$KV_DIR/read_all.got" 2>&1
	else
		# shellcheck disable=SC2046
		curl -s -L --max-time 10 -w '\n' \
			$(sed "s|^|http://127.0.0.1:$KV_PORT/|" <<<"$2") >"$KV_DIR/read_all.got"
	fi
	diff <(sed 's/^/value of /' <<<"$2") "$KV_DIR/read_all.got"
}

@test "a PUT with replicas = 2 names both URLs and writes both copies" {
	run curl -s -X PUT -d two "http://127.0.0.1:$KV_PORT/two"
	assert_output --regexp "^Transaction Successful. Value two is stored at http://localhost:[0-9]+/[0-9a-f]{2}/[0-9a-f]{2}/dHdv, http://localhost:[0-9]+/[0-9a-f]{2}/[0-9a-f]{2}/dHdv$"
	[ $(( $(files_on 1) + $(files_on 2) + $(files_on 3) )) -eq $((2 * N + 2)) ]
	curl -s -X DELETE "http://127.0.0.1:$KV_PORT/two"
}

@test "R = 2: every key reads through curl and the mount with any one shard stopped" {
	require_fuse
	mount_kv
	for s in 1 2 3; do
		stop_shard "$s"
		sleep 2	# the probe notices within about a second
		read_all curl
		read_all mount
		start_shard "$s"
		sleep 2
	done
	umount_kv
}

@test "R = 2: reads survive a shard that hangs (SIGSTOP)" {
	pause_shard 2
	sleep 2
	read_all curl
	resume_shard 2
	sleep 2	# the probe sees it back within about a second
}

@test "rebuild into a new index lists the same keys with the same replicas" {
	"$BIN/tinykvd" rebuild -c "$KV_DIR/kv.conf" --index "$KV_DIR/index2"
	sed "s|^index = .*|index = $KV_DIR/index2|; s|^port = .*|port = $((KV_PORT + 100))|" \
		"$KV_DIR/kv.conf" >"$KV_DIR/kv2.conf"
	"$BIN/tinykvd" serve -c "$KV_DIR/kv2.conf" -q >>"$KV_DIR/kvd2.log" 2>&1 &
	record_pid kvd2 $!
	wait_http "http://127.0.0.1:$((KV_PORT + 100))/?list"
	[ "$(listing "$KV_PORT")" = "$(listing $((KV_PORT + 100)))" ]
	# same replicas, in the same order: the redirects agree once both
	# daemons' probes see every shard up (the test before paused shard 2)
	local i a b try
	for i in 001 050 150 299; do
		for try in $(seq 50); do
			a=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$KV_PORT/r-$i")
			b=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$((KV_PORT + 100))/r-$i")
			[ -n "$a" ] && [ "$a" = "$b" ] && break
			sleep 0.1
		done
		[ -n "$a" ] && [ "$a" = "$b" ]
	done
	run verify --index "$KV_DIR/index2"
	assert_success
	stop_pid "$(pid_of kvd2)"
}

@test "a deleted index is rebuilt from the shards, replicas included" {
	stop_kvd
	rm -rf "$KV_INDEX"
	run "$BIN/tinykvd" rebuild -c "$KV_DIR/kv.conf"
	assert_success
	assert_output --partial "$N keys added"
	start_kvd -q
	[ "$(listing "$KV_PORT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" -eq "$N" ]
	run verify
	assert_success
	assert_output --partial "0 missing"
	assert_output --partial "0 misplaced"
	read_all curl
}

@test "a wiped shard is left alone by verify --repair; --force naming it brings every replica back" {
	had=$(files_on 2)
	[ "$had" -gt 0 ]
	find "$KV_DIR/shard2" -mindepth 1 -maxdepth 1 -name '[0-9a-f][0-9a-f]' -exec rm -rf {} +
	[ "$(files_on 2)" -eq 0 ]
	run verify
	assert_failure
	assert_output --partial "$had missing"
	assert_output --partial "shard $(shard_name 2) holds 0 of the $had files the index places on it: is its disk mounted?"
	# without --force nothing is copied onto it and nothing is deleted
	run verify --repair
	assert_failure
	assert_output --partial "left alone: $had keys with a replica on $(shard_name 2), which is missing its data"
	assert_output --partial "problems remain"
	refute_output --partial "repaired: '"
	refute_output --partial "deleted: "
	refute_output --partial "deleted record"
	[ "$(files_on 2)" -eq 0 ]
	run verify --repair --force "$(shard_name 2)"
	assert_success
	assert_output --partial "healthy"
	[ "$(files_on 2)" -eq "$had" ]
	run verify
	assert_success
	read_all curl
}

@test "a shard that lost a few files gets them back from verify --repair, without --force" {
	local lost
	lost=$(find "$KV_DIR/shard3" -path "$KV_DIR/shard3/.nginx" -prune -o -type f -print | head -n 5)
	[ "$(echo "$lost" | wc -l)" -eq 5 ]
	# shellcheck disable=SC2086
	rm $lost
	run verify
	assert_failure
	assert_output --partial "5 missing"
	run verify --repair
	assert_success
	assert_output --partial "5 repaired, 0 not repaired"
	# shellcheck disable=SC2086
	ls $lost
	read_all curl
}

@test "strays and orphan copies older than orphan_grace are deleted and listed; younger ones kept" {
	echo junk >"$KV_DIR/shard1/stray.txt"
	mkdir -p "$KV_DIR/shard3/ab/cd"
	echo junk >"$KV_DIR/shard3/ab/cd/not-a-key"
	# an orphan: a copy of a key on a shard its record does not list
	key=r-001
	url=$(curl -s -o /dev/null -w '%{redirect_url}' "http://127.0.0.1:$KV_PORT/$key")
	path=${url#http://localhost:*/}
	for s in 1 2 3; do
		[ -e "$KV_DIR/shard$s/$path" ] || { mkdir -p "$(dirname "$KV_DIR/shard$s/$path")"; echo old >"$KV_DIR/shard$s/$path"; orphan=$s; }
	done
	touch -d '2 hours ago' "$KV_DIR/shard1/stray.txt" "$KV_DIR/shard3/ab/cd/not-a-key" \
		"$KV_DIR/shard$orphan/$path"
	echo young >"$KV_DIR/shard1/young.txt"
	shard_chown 1 2 3
	run verify
	assert_failure
	assert_output --partial "stray (no key lives at this path): http://localhost:$SHARD_PORT_1/stray.txt"
	assert_output --partial "/ab/cd/not-a-key"
	assert_output --partial "orphan (its key does not list this shard)"
	run verify --repair
	assert_failure
	assert_output --partial "deleted: http://localhost:$SHARD_PORT_1/stray.txt: stray (no key lives at this path), on $(shard_name 1), 2 h old"
	assert_output --partial "deleted: http://$(shard_name "$orphan")/$path: orphan (its key does not list this shard), copy of 'r-001' on $(shard_name "$orphan"), 2 h old"
	assert_output --partial "kept: http://localhost:$SHARD_PORT_1/young.txt: stray (no key lives at this path), "
	assert_output --partial "younger than orphan_grace (60 min)"
	[ ! -e "$KV_DIR/shard1/stray.txt" ]
	[ ! -e "$KV_DIR/shard3/ab/cd/not-a-key" ]
	[ ! -e "$KV_DIR/shard$orphan/$path" ]
	[ -e "$KV_DIR/shard1/young.txt" ]
	run verify --repair -o orphan_grace=0
	assert_success
	[ ! -e "$KV_DIR/shard1/young.txt" ]
	run curl -s -L "http://127.0.0.1:$KV_PORT/$key"
	assert_output "value of $key"
	assert_logs_clean
}

@test "an orphan copy is kept while its key has no good copy left, and the key's record is kept" {
	key=r-002
	path=$(shard_path "$key")
	held=() spare=""
	for s in 1 2 3; do
		if [ -e "$KV_DIR/shard$s$path" ]; then held+=("$s"); else spare=$s; fi
	done
	[ "${#held[@]}" -eq 2 ]
	[ -n "$spare" ]
	# the value survives only as an old copy on the shard its record does not list
	mkdir -p "$(dirname "$KV_DIR/shard$spare$path")"
	mv "$KV_DIR/shard${held[0]}$path" "$KV_DIR/shard$spare$path"
	rm "$KV_DIR/shard${held[1]}$path"
	touch -d '2 hours ago' "$KV_DIR/shard$spare$path"
	shard_chown "$spare"
	run verify --repair
	assert_failure
	assert_output --partial "lost: '$key' has no good copy on"
	assert_output --partial "kept: http://$(shard_name "$spare")$path: it may be the only copy of '$key'"
	[ -e "$KV_DIR/shard$spare$path" ]
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KV_PORT/$key"
	assert_output 302
	# put it back where its record says: healthy again
	cp "$KV_DIR/shard$spare$path" "$KV_DIR/shard${held[0]}$path"
	cp "$KV_DIR/shard$spare$path" "$KV_DIR/shard${held[1]}$path"
	shard_chown "${held[@]}"
	run verify --repair -o orphan_grace=0
	assert_success
	[ ! -e "$KV_DIR/shard$spare$path" ]
	read_all curl
	assert_logs_clean
}
