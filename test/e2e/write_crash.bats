#!/usr/bin/env bats
# The write protocol cut at every step (issue 12): build/crashdrive does one put, delete,
# rename or rebalance through the core and dies (exit 99, as a kill -9 would leave
# things) at a crash point (core/crash.h); start-up recovery then leaves the state
# tinykvd(8) CONSISTENCY documents: the old value whole or the new one whole (never a
# mix, never a record without its files), no intent, and `tinykvd verify --deep` finds
# the cluster healthy with no orphan. Recovery cut at the same points is finished by the
# next; a reader before recovery is refused rather than given a mix. A reboot in between
# (the intent log forgotten) leaves a durable intent to finish, or a new key's copies or a
# replacement's temporary uploads as orphans that verify reports and verify --repair
# removes once older than orphan_grace, but never while their writer lives. What a version
# up to 0.1.0 left (temporary uploads named .tmp-<id>) is finished or undone as well.

load helpers

setup_file() {
	make -s -C "$TOP" build/crashdrive >/dev/null
	kv_init 2
	start_shard 1
	start_shard 2
	# Two replicas: a replacement's two MOVEs can be cut between each other.
	KV_REPLICAS=2 write_conf 1 2
	export CONF=$KV_DIR/kv.conf DRIVE=$TOP/build/crashdrive
	# Several MiB, so that the upload is cut while bytes are on the way (put.writing).
	head -c 2500000 /dev/urandom >"$KV_DIR/old"
	head -c 3500000 /dev/urandom >"$KV_DIR/new"
	: >"$KV_DIR/points"
}

teardown_file() { kv_cleanup; }

drive() { "$DRIVE" "$CONF" "$@"; }

# crash_at POINT CMD ARGS...: the driver must die at POINT, leaving work for recovery.
crash_at() {
	local point=$1
	shift
	echo "${point%%:*}" >>"$KV_DIR/points"
	run env TINYKV_CRASH_AT="$point" "$DRIVE" "$CONF" "$@"
	if [ "$status" -ne 99 ]; then
		echo "$* did not die at $point: status $status, $output"
		return 1
	fi
	[ "$(intent_count)" -ge 1 ] || { echo "$point: no intent left"; return 1; }
}

# recovered N: start-up recovery finishes N operations (a regular expression) and leaves
# no intent.
recovered() {
	run drive recover
	assert_success
	assert_output --regexp "^recovered $1\$"
	run intent_count
	assert_output 0
}

# holds KEY FILE: KEY's value is FILE's bytes, whole.
holds() {
	run drive get "$1" "$KV_DIR/back"
	assert_success
	cmp "$2" "$KV_DIR/back" || { echo "$1 does not hold $(basename "$2")"; return 1; }
}

# absent KEY: no record, and no file of KEY on a shard.
absent() {
	run drive get "$1" "$KV_DIR/back"
	[ "$status" -eq 3 ] || { echo "$1 exists: status $status, $output"; return 1; }
	if [ -e "$KV_DIR/shard1$(shard_path "$1")" ] || [ -e "$KV_DIR/shard2$(shard_path "$1")" ]; then
		echo "a file of $1 is on a shard"
		return 1
	fi
}

# The temporary uploads on the shards, by either name. (verify cannot see the .tmp-<id>
# of versions up to 0.1.0: the shards' PROPFIND lists no dotfiles. Hence find.)
tmp_files() {
	find "$KV_DIR/shard1" "$KV_DIR/shard2" -type f \( -name 'tmp.*' -o -name '.tmp-*' \) |
		sort
}

# as_legacy: the temporary uploads on the shards renamed .tmp-<id>, as a version up to
# 0.1.0 would have left them (an intent names only the id, so it reads the same).
as_legacy() {
	local f n=0
	for f in $(find "$KV_DIR/shard1" "$KV_DIR/shard2" -type f -name 'tmp.*'); do
		mv "$f" "$(dirname "$f")/.tmp-${f##*/tmp.}"
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || { echo "no temporary upload to rename"; return 1; }
}

# Every record has its files with the right size and md5; no file is left over.
healthy() {
	run tmp_files
	assert_output ""
	run "$BIN/tinykvd" verify --deep -c "$CONF"
	assert_success
	assert_output --regexp ' 0 missing, 0 wrong size, 0 damaged, 0 misplaced, 0 lost, 0 orphans, 0 strays, 0 unfinished operations'
	assert_line healthy
}

@test "put of a new key killed before its record: no key, no file" {
	local p
	for p in put.intent put.writing put.uploaded; do
		crash_at "$p" put "new-$p" "$KV_DIR/new"
		recovered 1
		absent "new-$p"
		healthy
	done
}

@test "put of a new key killed after its record: the new value" {
	crash_at put.indexed put new-indexed "$KV_DIR/new"
	recovered 1
	holds new-indexed "$KV_DIR/new"
	healthy
}

@test "replacement killed before its COMMIT: the old value, no temporary file" {
	local p
	for p in put.intent put.writing put.uploaded; do
		drive put "rep-$p" "$KV_DIR/old"
		crash_at "$p" put "rep-$p" "$KV_DIR/new"
		recovered 1
		holds "rep-$p" "$KV_DIR/old"
		healthy
	done
}

@test "replacement killed from its COMMIT on: the new value" {
	local p
	for p in commit.intent commit.move commit.moved commit.indexed commit.cleaned; do
		drive put "rep-$p" "$KV_DIR/old"
		crash_at "$p" put "rep-$p" "$KV_DIR/new"
		recovered 1
		holds "rep-$p" "$KV_DIR/new"
		healthy
	done
}

@test "replacement killed between its two MOVEs: the next writer of the key finishes it" {
	drive put rep-next "$KV_DIR/old"
	crash_at commit.move put rep-next "$KV_DIR/new"
	# No start-up recovery: the next put meets the dead intent and finishes it first.
	run drive put rep-next "$KV_DIR/old"
	assert_success
	run intent_count
	assert_output 0
	holds rep-next "$KV_DIR/old"
	healthy
}

@test "a reader between the crash and recovery gets no byte of the new value under the old record" {
	local p
	# Once a MOVE may have happened the old record no longer describes every replica: the
	# read is refused (kv_store_current sees the dead COMMIT intent) rather than mixed.
	for p in commit.intent commit.move commit.moved; do
		drive put "read-$p" "$KV_DIR/old"
		crash_at "$p" put "read-$p" "$KV_DIR/new"
		run drive get "read-$p" "$KV_DIR/back"
		assert_failure 1
		assert_output "crashdrive: get: 'read-$p' is being replaced"
		recovered 1
		holds "read-$p" "$KV_DIR/new"
	done
}

@test "recovery killed part-way: the next recovery finishes the replacement" {
	local p
	for p in commit.move commit.moved commit.indexed commit.cleaned; do
		drive put "again-$p" "$KV_DIR/old"
		crash_at commit.intent put "again-$p" "$KV_DIR/new"
		# Recovery runs the same steps, so it can be cut at the same points.
		crash_at "$p" recover
		recovered 1
		holds "again-$p" "$KV_DIR/new"
		healthy
	done
}

@test "delete killed before its COMMIT: the key whole" {
	drive put del-locked "$KV_DIR/old"
	crash_at delete.locked delete del-locked
	recovered 1
	holds del-locked "$KV_DIR/old"
	healthy
}

@test "delete killed from its COMMIT on: no key, no file" {
	local p
	for p in delete.intent delete.indexed delete.deleted; do
		drive put "del-$p" "$KV_DIR/old"
		crash_at "$p" delete "del-$p"
		recovered 1
		absent "del-$p"
		healthy
	done
}

@test "rename killed before its COMMIT: the source whole, no destination" {
	local p
	for p in rename.locked rename.staged; do
		drive put "from-$p" "$KV_DIR/old"
		crash_at "$p" rename "from-$p" "to-$p"
		recovered 2	# the destination's intent and the source's lock
		holds "from-$p" "$KV_DIR/old"
		absent "to-$p"
		healthy
	done
}

@test "rename killed from its COMMIT on: the destination holds the value, no source" {
	local p
	for p in commit.intent commit.move commit.moved commit.indexed commit.cleaned; do
		drive put "from-$p" "$KV_DIR/old"
		crash_at "$p" rename "from-$p" "to-$p"
		recovered 2
		absent "from-$p"
		holds "to-$p" "$KV_DIR/old"
		healthy
	done
}

@test "rename onto a key, killed before and after its COMMIT: one value each time, whole" {
	drive put over-a "$KV_DIR/old"
	drive put over-b "$KV_DIR/new"
	crash_at rename.staged rename over-a over-b
	recovered 2
	holds over-a "$KV_DIR/old"
	holds over-b "$KV_DIR/new"
	healthy
	crash_at commit.move rename over-a over-b
	recovered 2
	absent over-a
	holds over-b "$KV_DIR/old"
	healthy
}

# A hard link's value key unlinked: its value is copied to the other name's placement
# under a rename's intents (core/links.c, rename.c), so every cut leaves it whole under
# one name at least.
@test "unlink of a hard link's value key killed before its COMMIT: both names, the value whole" {
	local p
	for p in rename.locked rename.staged; do
		drive put "ul-$p" "$KV_DIR/old"
		drive link "ul-$p" "ul2-$p"
		crash_at "$p" delete "ul-$p"
		recovered 2	# the other name's intent and the unlinked name's lock
		holds "ul-$p" "$KV_DIR/old"
		holds "ul2-$p" "$KV_DIR/old"
		healthy
	done
}

@test "unlink of a hard link's value key killed from its COMMIT on: the other name holds it" {
	local p
	for p in commit.intent commit.move commit.moved commit.indexed commit.cleaned; do
		drive put "ul-$p" "$KV_DIR/old"
		drive link "ul-$p" "ul2-$p"
		crash_at "$p" delete "ul-$p"
		recovered 2
		absent "ul-$p"
		holds "ul2-$p" "$KV_DIR/old"
		healthy
	done
}

@test "a replacement through a hard link's other name, killed after its COMMIT: both names hold it" {
	drive put lk-a "$KV_DIR/old"
	drive link lk-a lk-b
	crash_at commit.move put lk-b "$KV_DIR/new"
	recovered '[12]'
	holds lk-a "$KV_DIR/new"
	holds lk-b "$KV_DIR/new"
	healthy
}

@test "directory rename killed part-way: every key whole under one of its names" {
	drive mkdir d1
	drive put d1/x "$KV_DIR/old"
	drive put d1/y "$KV_DIR/new"
	# The second key's copy staged: the first is renamed, the second not.
	crash_at rename.staged:2 rename d1 d2
	recovered 2
	holds d2/x "$KV_DIR/old"
	holds d1/y "$KV_DIR/new"
	absent d1/x
	absent d2/y
	healthy
	# The second key's record switched: both are renamed.
	drive rename d2/x d1/x
	crash_at commit.indexed:2 rename d1 d2
	recovered 2
	holds d2/x "$KV_DIR/old"
	holds d2/y "$KV_DIR/new"
	absent d1/x
	absent d1/y
	healthy
}

@test "directory rename killed after its keys, before its directory records: keys renamed" {
	drive mkdir d3
	drive put d3/x "$KV_DIR/old"
	echo rename_dir.keys >>"$KV_DIR/points"
	run env TINYKV_CRASH_AT=rename_dir.keys "$DRIVE" "$CONF" rename d3 d4
	assert_equal "$status" 99
	# Nothing in flight: each key's rename had finished.
	run intent_count
	assert_output 0
	holds d4/x "$KV_DIR/old"
	absent d3/x
	healthy
}

@test "reboot after a COMMIT with MOVEs: its durable copy finishes it (the new value)" {
	drive put boot-commit "$KV_DIR/old"
	crash_at commit.move put boot-commit "$KV_DIR/new"
	drive reboot
	recovered 1
	holds boot-commit "$KV_DIR/new"
	healthy
}

@test "reboot while a new key uploads: no intent left, its copies are orphans verify removes" {
	crash_at put.uploaded put boot-new "$KV_DIR/new"
	drive reboot
	recovered 0
	run drive get boot-new "$KV_DIR/back"
	assert_equal "$status" 3
	run "$BIN/tinykvd" verify -c "$CONF"
	assert_failure 1
	assert_output --partial " 2 orphans, 0 strays, 0 unfinished operations"
	run "$BIN/tinykvd" verify --repair -o orphan_grace=0 -c "$CONF"
	assert_output --partial "2 orphan or stray files deleted"
	absent boot-new
	healthy
}

@test "reboot while a replacement uploads: its temporary files are orphans, removed after orphan_grace" {
	drive put boot-rep "$KV_DIR/old"
	crash_at put.uploaded put boot-rep "$KV_DIR/new"
	drive reboot
	recovered 0
	holds boot-rep "$KV_DIR/old"
	[ "$(tmp_files | wc -l)" -eq 2 ]
	run "$BIN/tinykvd" verify -c "$CONF"
	assert_failure 1
	assert_output --partial " 2 orphans, 0 strays, 0 unfinished operations"
	[ "$(grep -c '^orphan (temporary upload no operation refers to): http://localhost:[0-9]*/../../tmp\.[0-9a-f]\{16\}$' <<<"$output")" -eq 2 ]
	# Younger than orphan_grace (an hour unless set): kept, and said so.
	run "$BIN/tinykvd" verify --repair -c "$CONF"
	assert_failure 1
	[ "$(grep -c '^kept: .*/tmp\.[0-9a-f]\{16\}: orphan (temporary upload no operation refers to), .* old, younger than orphan_grace (60 min)$' <<<"$output")" -eq 2 ]
	[ "$(tmp_files | wc -l)" -eq 2 ]
	run "$BIN/tinykvd" verify --repair -o orphan_grace=0 -c "$CONF"
	assert_success
	[ "$(grep -c '^deleted: .*/tmp\.[0-9a-f]\{16\}: orphan (temporary upload no operation refers to), on localhost:[0-9]*, .* old$' <<<"$output")" -eq 2 ]
	assert_output --partial "2 orphan or stray files deleted"
	holds boot-rep "$KV_DIR/old"
	healthy
}

@test "a replacement's temporary files are left alone while its writer lives, whatever orphan_grace" {
	local pid state="" rc=0
	drive put live-rep "$KV_DIR/old"
	# The writer stops itself with its uploads done, before its COMMIT: alive, its intent
	# naming them.
	TINYKV_CRASH_AT=put.uploaded TINYKV_CRASH_STOP=1 "$DRIVE" "$CONF" put live-rep \
		"$KV_DIR/new" >"$KV_DIR/writer.log" 2>&1 3>&- &
	pid=$!
	record_pid writer "$pid"
	for _ in $(seq 200); do
		state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || true
		[ "$state" != T ] || break
		sleep 0.05
	done
	assert_equal "$state" T
	[ "$(tmp_files | wc -l)" -eq 2 ]
	run "$BIN/tinykvd" verify --repair -o orphan_grace=0 -c "$CONF"
	refute_output --partial "tmp."
	assert_output --partial " 0 orphans, 0 strays, 0 unfinished operations"
	[ "$(tmp_files | wc -l)" -eq 2 ]
	kill -CONT "$pid"
	wait "$pid" || rc=$?
	assert_equal "$rc" 0
	holds live-rep "$KV_DIR/new"
	healthy
}

@test "upgrade: a replacement a version up to 0.1.0 left after its COMMIT (uploads .tmp-<id>) is finished" {
	drive put up-commit "$KV_DIR/old"
	crash_at commit.intent put up-commit "$KV_DIR/new"
	as_legacy
	drive reboot	# the intent's durable copy, as the older version synced it
	recovered 1
	holds up-commit "$KV_DIR/new"
	healthy
	# Cut between its two MOVEs: one copy in place, the other still under the old name.
	drive put up-move "$KV_DIR/old"
	crash_at commit.move put up-move "$KV_DIR/new"
	as_legacy
	recovered 1
	holds up-move "$KV_DIR/new"
	healthy
	drive put up-rename "$KV_DIR/old"
	crash_at commit.intent rename up-rename up-renamed
	as_legacy
	recovered 2
	absent up-rename
	holds up-renamed "$KV_DIR/old"
	healthy
}

@test "upgrade: a replacement a version up to 0.1.0 left before its COMMIT is undone, its .tmp- uploads deleted" {
	drive put up-prepare "$KV_DIR/old"
	crash_at put.uploaded put up-prepare "$KV_DIR/new"
	as_legacy
	recovered 1
	holds up-prepare "$KV_DIR/old"
	healthy
}

@test "rebalance killed after a key's switch: recovery removes the old copy, a rerun finishes" {
	local p CONF=$KV_DIR/kv1.conf	# the helpers use this one here: one replica, not two
	sed 's/^replicas = 2$/replicas = 1/' "$KV_DIR/kv.conf" >"$CONF"
	drive put reb "$KV_DIR/old"
	# Each key's second copy goes once its record lists one shard (kv__exec_commit); the
	# switched keys whose copies wait for that are all left to recovery.
	for p in commit.intent commit.indexed commit.cleaned; do
		crash_at "$p" rebalance
		recovered '[1-9][0-9]*'
	done
	run drive rebalance
	assert_success
	holds reb "$KV_DIR/old"
	healthy
	# Two replicas again, for what follows.
	CONF=$KV_DIR/kv.conf
	run drive rebalance
	assert_success
	holds reb "$KV_DIR/old"
	healthy
}

@test "every crash point of the core is exercised above" {
	local in_core
	in_core=$(grep -ohE 'kv_crash_point\("[^"]+"\)' "$TOP"/core/*.c | sed 's/.*("//; s/")//' | sort -u)
	[ -n "$in_core" ]
	run sh -c "sort -u '$KV_DIR/points'"
	assert_output "$in_core"
}
