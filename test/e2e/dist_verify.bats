#!/usr/bin/env bats
# tinykvd verify on a bad day, with replicas = 1 (cluster a: shards 1 and 2) and 2 (cluster
# b: shards 3, 4 and 5), each with its own index and tinykvd: a shard restarted on an empty
# directory (a data disk that did not mount) is reported as missing its data and repair
# loses nothing, then it is healthy once the disk is back; --deep finds values a shard
# host's crash damages (missing, short, flipped, empty) and --deep --repair restores them
# from a good replica or reports them lost, keeping their records; --force deletes the
# records of values lost on the shards it names, each listed; checksum = no is checked for
# size only and said so; keys in reports have their control bytes escaped; an operation
# a dead daemon left is reported with what undoing it deletes; temporary uploads nothing
# refers to are reported, and deleted once older than orphan_grace.

load helpers

N=120

setup_file() {
	kv_init 5
	local i
	for i in 1 2 3 4 5; do start_shard "$i"; done
	conf_for a 1 "$KV_PORT" 1 2
	conf_for b 2 "$(free_port_block 1)" 3 4 5
	start_kvd_as kvd-a "$KV_DIR/a.conf"
	start_kvd_as kvd-b "$KV_DIR/b.conf"
	put_many a
	put_many b
}

teardown_file() { kv_cleanup; }

# conf_for NAME R PORT SHARD...: $KV_DIR/NAME.conf, index $KV_DIR/index-NAME
conf_for() {
	local name=$1 r=$2 port=$3
	shift 3
	KV_INDEX=$KV_DIR/index-$name KV_REPLICAS=$r write_conf "$@"
	sed "s/^port = .*/port = $port/" "$KV_DIR/kv.conf" >"$KV_DIR/$name.conf"
	rm "$KV_DIR/kv.conf"
}

port_of() { awk '$1 == "port" { print $3 }' "$KV_DIR/$1.conf"; }

# put_many C: keys C-001.. with values "value of C-001" through cluster C's tinykvd
put_many() {
	local c=$1 i cfg="$KV_DIR/put-$1.cfg" vals="$KV_DIR/vals-$1"
	mkdir -p "$vals"
	: >"$cfg"
	for i in $(seq -w 1 "$N"); do
		printf 'value of %s-%s' "$c" "$i" >"$vals/$c-$i"
		printf 'url = "http://127.0.0.1:%s/%s-%s"\nupload-file = "%s/%s-%s"\noutput = "/dev/null"\n' \
			"$(port_of "$c")" "$c" "$i" "$vals" "$c" "$i" >>"$cfg"
	done
	curl -s --parallel --parallel-max 8 -K "$cfg"
	[ "$(key_count "$c")" -eq "$N" ]
}

key_count() {
	curl -s "http://127.0.0.1:$(port_of "$1")/?list&limit=10000" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))'
}

# read_all C: every key of cluster C reads back its value; tried again for a few seconds
# while tinykvd's probe catches up with a shard just restarted.
read_all() {
	local c=$1 i cfg="$KV_DIR/get-$1.cfg" out="$KV_DIR/got-$1"
	: >"$cfg"
	for i in $(seq -w 1 "$N"); do
		printf 'url = "http://127.0.0.1:%s/%s-%s"\noutput = "%s/%s-%s"\n' \
			"$(port_of "$c")" "$c" "$i" "$out" "$c" "$i" >>"$cfg"
	done
	for _ in $(seq 20); do
		rm -rf "$out"
		mkdir -p "$out"
		curl -s -L --max-time 10 --parallel --parallel-max 8 -K "$cfg"
		diff -r "$KV_DIR/vals-$c" "$out" >/dev/null && return 0
		sleep 0.25
	done
	diff -r "$KV_DIR/vals-$c" "$out"
}

verify() {	# verify C [ARGS...]
	local c=$1
	shift
	"$BIN/tinykvd" verify -c "$KV_DIR/$c.conf" "$@"
}

files_in() { find "$1" -path "$1/.nginx" -prune -o -type f -print | wc -l; }

# start_shard_on I DIR: shard I's port served from another directory
start_shard_on() {
	local port
	port=$(shard_port "$1")
	"$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" "$2" "$port" >>"$KV_DIR/shard$1.log" 2>&1 &
	record_pid "shard$1" $!
	wait_http "http://127.0.0.1:$port/"
}

# replica_files KEY SHARD...: the files holding KEY on those shards
replica_files() {
	local key=$1 path s
	shift
	path=$(shard_path "$key")
	for s in "$@"; do
		[ -e "$KV_DIR/shard$s$path" ] && echo "$KV_DIR/shard$s$path"
	done
	return 0
}

# damage_four C SHARD...: key C-011 truncated, C-012 one byte flipped (same size), C-013
# deleted, C-014 emptied, each in its first replica file on those shards
damage_four() {
	local c=$1 f
	shift
	f=$(replica_files "$c-011" "$@" | head -n 1)
	truncate -s 3 "$f"
	f=$(replica_files "$c-012" "$@" | head -n 1)
	printf 'V' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
	f=$(replica_files "$c-013" "$@" | head -n 1)
	rm "$f"
	f=$(replica_files "$c-014" "$@" | head -n 1)
	: >"$f"
}

@test "R = 1: a shard on an empty directory is missing its data; repair loses nothing; back on its disk, healthy" {
	run verify a
	assert_success
	had=$(files_in "$KV_DIR/shard1")
	[ "$had" -gt 0 ]
	stop_shard 1
	start_shard_on 1 "$KV_DIR/empty1"
	run verify a
	assert_failure
	assert_output --partial "shard $(shard_name 1) holds 0 of the $had files the index places on it: is its disk mounted?"
	run verify a --repair
	assert_failure
	assert_output --partial "left alone: $had keys with a replica on $(shard_name 1), which is missing its data"
	assert_output --partial "problems remain"
	refute_output --partial "deleted: "
	refute_output --partial "deleted record"
	refute_output --partial "lost: "
	[ "$(key_count a)" -eq "$N" ]
	run verify a --repair
	assert_failure
	stop_shard 1
	start_shard 1
	run verify a
	assert_success
	assert_output --partial "healthy"
	[ "$(files_in "$KV_DIR/shard1")" -eq "$had" ]
	read_all a
}

@test "R = 2: a shard on an empty directory gets nothing copied onto it; back on its disk, healthy" {
	had=$(files_in "$KV_DIR/shard3")
	[ "$had" -gt 0 ]
	stop_shard 3
	start_shard_on 3 "$KV_DIR/empty3"
	run verify b
	assert_failure
	assert_output --partial "shard $(shard_name 3) holds 0 of the $had files the index places on it: is its disk mounted?"
	run verify b --repair
	assert_failure
	assert_output --partial "left alone: $had keys with a replica on $(shard_name 3)"
	refute_output --partial "repaired: '"
	refute_output --partial "deleted: "
	[ "$(files_in "$KV_DIR/empty3")" -eq 0 ]
	[ "$(key_count b)" -eq "$N" ]
	stop_shard 3
	start_shard 3
	run verify b
	assert_success
	assert_output --partial "healthy"
	read_all b
}

@test "R = 2: --deep finds short, flipped, deleted and emptied replicas; --deep --repair restores them" {
	damage_four b 3 4 5
	# HEAD sees sizes only: the flipped byte passes
	run verify b
	assert_failure
	assert_output --partial "1 missing, 2 wrong size, 0 misplaced"
	refute_output --partial "b-012"
	run verify b --deep
	assert_failure
	assert_output --partial "1 missing, 2 wrong size, 1 damaged"
	assert_output --regexp "wrong size: 'b-011' on localhost:[0-9]+ has 3 bytes, not 14"
	assert_output --regexp "damaged: 'b-012' on localhost:[0-9]+ has md5 [0-9a-f]{32}, its record says $(printf 'value of b-012' | md5sum | cut -c1-32)"
	assert_output --regexp "missing: 'b-013' has no replica on localhost:[0-9]+"
	assert_output --regexp "wrong size: 'b-014' on localhost:[0-9]+ has 0 bytes, not 14"
	run verify b --deep --repair
	assert_success
	assert_output --partial "4 repaired, 0 not repaired"
	assert_output --regexp "repaired: 'b-012'; copied to localhost:[0-9]+"
	run verify b --deep
	assert_success
	for k in b-011 b-012 b-013 b-014; do
		for f in $(replica_files "$k" 3 4 5); do
			[ "$(cat "$f")" = "value of $k" ]
		done
	done
	read_all b
}

@test "R = 1: --deep --repair reports damaged values lost, keeps their records and files" {
	damage_four a 1 2
	run verify a --deep --repair
	assert_failure
	for k in a-011 a-012 a-013 a-014; do
		assert_output --regexp "lost: '$k' has no good copy on localhost:[0-9]+; its record is kept"
	done
	assert_output --partial "1 missing, 2 wrong size, 1 damaged"
	refute_output --partial "deleted: "
	refute_output --partial "deleted record"
	[ "$(key_count a)" -eq "$N" ]
	[ "$(replica_files a-012 1 2 | wc -l)" -eq 1 ]
	[ "$(replica_files a-011 1 2 | wc -l)" -eq 1 ]
}

@test "--force SHARD deletes the records of values lost on it, each listed; their files go after orphan_grace" {
	run verify a --deep --repair --force "localhost:1"
	[ "$status" -eq 2 ]
	assert_output --partial "--force localhost:1: not one of the configured shards"
	run verify a --force "$(shard_name 1)"
	[ "$status" -eq 2 ]
	run verify a --deep --repair --force "$(shard_name 1)" --force "http://$(shard_name 2)/"
	assert_success
	for k in a-011 a-012 a-013 a-014; do
		assert_output --regexp "deleted record: '$k': no good copy on localhost:[0-9]+ \(forced: its data is gone\)"
	done
	[ "$(key_count a)" -eq $((N - 4)) ]
	# the short, flipped and empty files are orphans now, too young to go
	run verify a --repair
	assert_failure
	assert_output --partial "3 orphans"
	assert_output --partial "younger than orphan_grace"
	run verify a --repair -o orphan_grace=0
	assert_success
	[ "$(echo "$output" | grep -c '^deleted: .*orphan (its key does not list this shard), copy of .a-01[124].')" -eq 3 ]
	run verify a
	assert_success
	# the four keys can be written again
	for k in a-011 a-012 a-013 a-014; do
		run curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "value of $k" "http://127.0.0.1:$KV_PORT/$k"
		assert_output 201
	done
	read_all a
}

@test "checksum = no: --deep checks those values for size only, and says so" {
	sed "s/^port = .*/port = $(free_port_block 1)/" "$KV_DIR/a.conf" >"$KV_DIR/a-nosum.conf"
	echo "checksum = no" >>"$KV_DIR/a-nosum.conf"
	start_kvd_as kvd-nosum "$KV_DIR/a-nosum.conf"
	run curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "no sum here" \
		"http://127.0.0.1:$(port_of a-nosum)/nosum"
	assert_output 201
	f=$(replica_files nosum 1 2)
	printf 'N' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
	run verify a --deep
	assert_success
	assert_output --partial "1 value has no md5 in its record (written with checksum = no, or found by rebuild): checked for size only"
	truncate -s 2 "$f"
	run verify a --deep
	assert_failure
	assert_output --regexp "wrong size: 'nosum' on localhost:[0-9]+ has 2 bytes, not 11"
	run curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$KV_PORT/nosum"
	assert_output 200
	stop_pid "$(pid_of kvd-nosum)"
}

@test "keys in reports have their control bytes escaped" {
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -d x "http://127.0.0.1:$KV_PORT/esc%1B%5B31mred%07%5C"
	assert_output 201
	rm "$(replica_files "$(printf 'esc\033[31mred\007\\')" 1 2)"
	run verify a
	assert_failure
	assert_output --partial "missing: 'esc\\x1b[31mred\\x07\\\\' has no replica on"
	if printf '%s' "$output" | grep -q "$(printf '\033')"; then
		echo "a raw ESC reached the report"
		false
	fi
	run curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$KV_PORT/esc%1B%5B31mred%07%5C"
	assert_output 200
	run verify a
	assert_success
	assert_logs_clean
}

@test "an operation left by a dead daemon is reported; repair says which files undoing it deletes" {
	local k
	k=$(key_on 3 stuck- 3 4 5)
	pause_shard 3
	curl -s -o /dev/null --max-time 30 -X PUT -d never "http://127.0.0.1:$(port_of b)/$k" 3>&- &
	for _ in $(seq 300); do
		[ "$(KV_INDEX=$KV_DIR/index-b intent_count)" -ge 1 ] && break
		sleep 0.1
	done
	stop_pid "$(pid_of kvd-b)" KILL
	wait || true
	resume_shard 3
	run verify b
	assert_failure
	assert_output --partial "unfinished: put of '$k' by dead process"
	refute_output --partial "orphan ("
	run verify b --repair
	assert_success
	assert_output --regexp "unfinished: put of '$k' by dead process [0-9]+ \(repair undoes it; its files on localhost:[0-9]+, localhost:[0-9]+ are deleted unless a record lists them\)"
	[ "$(KV_INDEX=$KV_DIR/index-b intent_count)" -eq 0 ]
	[ -z "$(replica_files "$k" 3 4 5)" ]
	start_kvd_as kvd-b "$KV_DIR/b.conf"
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port_of b)/$k"
	assert_output 404
	read_all b
}

@test "temporary uploads nothing refers to are reported; repair deletes those older than orphan_grace, each listed" {
	local dir old young p
	dir=$(dirname "$(shard_path a-020)")
	old=$dir/tmp.00000000000000a1 young=$dir/tmp.00000000000000a2
	for p in "$old" "$young"; do
		run curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Tinykv-Secret: $(cat "$KV_SECRET")" \
			--data-binary "half a value" "http://127.0.0.1:$(shard_port 1)$p"
		assert_output 201
	done
	touch -d '3 hours ago' "$KV_DIR/shard1$old"
	run verify a
	assert_failure
	assert_output --partial " 2 orphans, 0 strays"
	assert_line "orphan (temporary upload no operation refers to): http://$(shard_name 1)$old"
	assert_line "orphan (temporary upload no operation refers to): http://$(shard_name 1)$young"
	run verify a --repair
	assert_failure	# the young one is kept
	assert_line "deleted: http://$(shard_name 1)$old: orphan (temporary upload no operation refers to), on $(shard_name 1), 3 h old"
	assert_line --regexp "^kept: http://$(shard_name 1)$young: orphan \(temporary upload no operation refers to\), [0-9]+ s old, younger than orphan_grace \(60 min\)$"
	[ ! -e "$KV_DIR/shard1$old" ]
	[ -e "$KV_DIR/shard1$young" ]
	run verify a --repair -o orphan_grace=0
	assert_success
	[ ! -e "$KV_DIR/shard1$young" ]
	run verify a
	assert_success
	read_all a
}
