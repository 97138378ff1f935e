#!/usr/bin/env bats
# Concurrent writers (issue 2): two writers racing on one key get exactly one 201 and one
# clear 409; two tinykvd processes serving one index at once stay consistent.

load helpers

setup_file() {
	start_cluster
	# A second daemon on the same index (and so the same intent log).
	export KV_PORT2
	KV_PORT2=$(free_port_block 1)
	sed "s/^port = .*/port = $KV_PORT2/" "$KV_DIR/kv.conf" >"$KV_DIR/kv2.conf"
	start_kvd_as kvd2 "$KV_DIR/kv2.conf"
}

teardown_file() { kv_cleanup; }

# A test that fails half-way must not leave shard 1 paused.
teardown() { resume_shard 1 2>/dev/null || true; }

# put_to PORT KEY VALUE TAG: PUT in the background-friendly form; code and body go to
# $KV_DIR/TAG.code and $KV_DIR/TAG.body.
put_to() {
	curl -s --max-time 60 -o "$KV_DIR/$4.body" -w '%{http_code}' -X PUT --data-binary "$3" \
		"http://127.0.0.1:$1/$2" >"$KV_DIR/$4.code"
}

# race PORT_A PORT_B ROUNDS PREFIX: two writers per key, at once; checks every round.
race() {
	local pa=$1 pb=$2 rounds=$3 prefix=$4 n k codes winner loser busy=0
	for n in $(seq "$rounds"); do
		k=$prefix$n
		put_to "$pa" "$k" "A-$n" a 3>&- &
		put_to "$pb" "$k" "B-$n" b 3>&- &
		wait
		codes=$(printf '%s\n%s\n' "$(cat "$KV_DIR/a.code")" "$(cat "$KV_DIR/b.code")" | sort | tr '\n' ' ')
		[ "$codes" = "201 409 " ] || {
			echo "round $n: codes $codes: $(cat "$KV_DIR/a.body" "$KV_DIR/b.body")"
			return 1
		}
		if [ "$(cat "$KV_DIR/a.code")" = 201 ]; then winner=A loser=b; else winner=B loser=a; fi
		# The loser is told why, in one of the two clear messages.
		case "$(cat "$KV_DIR/$loser.body")" in
		"Key '$k' already exists.") ;;
		"Key '$k' is being written by another request; try again.") busy=$((busy + 1)) ;;
		*) echo "round $n: unclear 409: $(cat "$KV_DIR/$loser.body")"; return 1 ;;
		esac
		[ "$(kv -L "$k")" = "$winner-$n" ] || { echo "round $n: value $(kv -L "$k")"; return 1; }
	done
	echo "# $busy of $rounds losers met the lock itself" >&3
}

@test "two writers racing on one key: exactly one 201, the other a clear 409" {
	race "$KV_PORT" "$KV_PORT" 60 race-
	run intent_count
	assert_output 0
}

@test "a write through one daemon is visible through the other" {
	run curl -s -X PUT -d from-one "http://127.0.0.1:$KV_PORT/shared"
	assert_output "Transaction Successful. Value from-one is stored at $(key_url shared)"
	run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$KV_PORT2/shared"
	assert_output "302 $(key_url shared)"
	run curl -s -L "http://127.0.0.1:$KV_PORT2/shared"
	assert_output from-one
	run curl -s "http://127.0.0.1:$KV_PORT2/?list"
	assert_output --partial '"shared"'
}

@test "the other daemon answers 409 for a key the first one wrote, and deletes it for both" {
	run curl -s -w ' %{http_code}' -X PUT -d from-two "http://127.0.0.1:$KV_PORT2/shared"
	assert_output $'Key \'shared\' already exists.\n 409'
	run curl -s -L "http://127.0.0.1:$KV_PORT/shared"
	assert_output from-one
	run curl -s -w ' %{http_code}' -X DELETE "http://127.0.0.1:$KV_PORT2/shared"
	assert_output $'Delete succeeded.\n 200'
	run curl -s -w ' %{http_code}' "http://127.0.0.1:$KV_PORT/shared"
	assert_output $'Key with value: \'shared\' not found.\n 404'
	run curl -s -w ' %{http_code}' -X PUT -d again "http://127.0.0.1:$KV_PORT/shared"
	assert_output --partial " 201"
}

@test "two writers racing across the two daemons: exactly one 201" {
	race "$KV_PORT" "$KV_PORT2" 60 across-
	run intent_count
	assert_output 0
}

@test "parallel writers of distinct keys through both daemons all succeed" {
	local w n port
	mkdir -p "$KV_DIR/par"
	for w in 1 2 3 4 5 6; do
		port=$KV_PORT
		[ $((w % 2)) -eq 0 ] && port=$KV_PORT2
		(
			for n in $(seq 40); do
				curl -s -o /dev/null -w "p$w-$n %{http_code}\n" -X PUT -d "value-$w-$n" \
					"http://127.0.0.1:$port/p$w-$n"
			done >"$KV_DIR/par/$w"
		) 3>&- &
	done
	wait
	run sh -c "cat '$KV_DIR'/par/* | grep -vc ' 201$'"
	assert_output 0
	run sh -c "curl -s 'http://127.0.0.1:$KV_PORT2/p?list' | jq '.keys | length'"
	assert_output 240
	for w in 1 2 3 4 5 6; do
		for n in 1 20 40; do
			[ "$(kv -L "p$w-$n")" = "value-$w-$n" ]
		done
	done
	run intent_count
	assert_output 0
}

@test "one daemon killed mid-PUT: the other takes the key over at its next write" {
	local k i
	k=$(key_on 1 orphan-)
	pause_shard 1
	curl -s -o /dev/null -X PUT -d lost "http://127.0.0.1:$KV_PORT2/$k" 3>&- &
	for i in $(seq 300); do
		[ "$(intent_count)" = 1 ] && break
		sleep 0.1
	done
	run intent_count
	assert_output 1
	stop_pid "$(pid_of kvd2)" KILL
	wait || true
	resume_shard 1
	# The dead daemon's lock does not outlive it: no 409, no restart needed.
	run kv_status -X PUT -d taken-over "$k"
	assert_output 201
	run kv -L "$k"
	assert_output taken-over
	run intent_count
	assert_output 0
}

@test "tinykvd stops cleanly; the logs show no crash or sanitizer report" {
	assert_stops_cleanly
	assert_logs_clean
}
