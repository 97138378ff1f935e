#!/usr/bin/env bats
# cluster.bats — a new user's first day: scripts/install-deps (its exit status with and
# without a policy-rc.d), make check / run / lint on a fresh copy of the tree, and
# scripts/tinykv-cluster: what up records and advises, a dead mount seen and mended, down
# stopping exactly what up started. Every cluster here has its own --dir, free ports and a
# private mount point; nothing here touches /mnt/kv or /var/lib/tinykv-cluster.

load helpers

CLUSTER=$TOP/scripts/tinykv-cluster

setup_file() { kv_init 2; }
teardown_file() { kv_cleanup; }

setup() {
	D=$BATS_TEST_TMPDIR/cluster	# the cluster's state directory
	M=$BATS_TEST_TMPDIR/mnt		# its mount point
	P=$(free_port_block 3)		# tinykvd on P, shards on P+1, P+2
}

# another_store NAME: a one-shard store of its own (free port, config $BATS_TEST_TMPDIR/NAME.conf)
# that is not this test's cluster; its shard is stopped by kv_cleanup.
another_store() {
	local q
	q=$(free_port_block 1)
	while [ "$q" -ge "$P" ] && [ "$q" -le $((P + 2)) ]; do q=$(free_port_block 1); done
	"$TOP/scripts/tinykv-shard" --secret-file "$KV_SECRET" "$BATS_TEST_TMPDIR/$1/shard" "$q" \
		>>"$KV_DIR/$1.log" 2>&1 &
	record_pid "$1" $!
	wait_http "http://127.0.0.1:$q/"
	cat >"$BATS_TEST_TMPDIR/$1.conf" <<CONF
shards = localhost:$q
index = $BATS_TEST_TMPDIR/$1/index
cache = $BATS_TEST_TMPDIR/$1/cache
shard_secret_file = $KV_SECRET
CONF
	OTHER_PORT=$q
}

# The intent log an index leaves in /dev/shm (core/intents.c), removed after each test.
shm_of() { echo "/dev/shm/tinykv-$(printf '%s' "$(realpath -m "$1")" | md5sum | cut -c1-16)"; }

# running PID: exists and is not a zombie (the cluster's processes are orphans, which this
# machine's init reaps late).
running() { [ -e "/proc/$1/stat" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat")" != Z ]; }

stop_orphan() {	# stop_orphan PID: TERM, wait until it is gone or a zombie (10 s), KILL
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for i in $(seq 200); do running "$1" || return 0; sleep 0.05; done
	kill -KILL "$1" 2>/dev/null || true
}

# Stop whatever a test's cluster left, by the pids its pid files name and its mount point,
# whichever version of tinykv-cluster made them.
teardown() {
	local f pid
	if is_mounted "$M"; then
		umount "$M" 2>/dev/null || umount -l "$M"
	fi
	for f in "$D"/*.pid; do
		[ -e "$f" ] || continue
		read -r pid _ <"$f" || true
		[ -n "$pid" ] && stop_orphan "$pid"
	done
	rm -rf "$(shm_of "$D/index")" "$(shm_of "$BATS_TEST_TMPDIR/other/index")"
	return 0
}

cluster_up() {	# cluster_up [OPTIONS]: up on this test's directory, ports and mount point
	"$CLUSTER" up --dir "$D" --port "$P" --shard-port $((P + 1)) --mount "$M" "$@"
}

# The pid of the mount process: the one whose arguments are this cluster's config and $M.
mount_pid() {
	local p args
	for p in /proc/[0-9]*; do
		args=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null) || continue
		grep -qxF "$D/tinykv.conf" <<<"$args" && grep -qxF "$M" <<<"$args" &&
			{ echo "${p#/proc/}"; return 0; }
	done
	return 1
}

kill_mount() {	# kill -9 the mount's process; the kernel keeps a dead mount
	local pid
	pid=$(mount_pid)
	kill -9 "$pid"
	while running "$pid"; do sleep 0.05; done
	# A request the kernel had in flight when the connection went is aborted
	# (ECONNABORTED); every request after that sees ENOTCONN.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		run ls "$M"
		[[ $output == *"Software caused connection abort"* ]] || break
		sleep 0.1
	done
	assert_failure
	assert_output --partial "Transport endpoint is not connected"
}

# Nothing of the cluster runs: no pid file names a live process, nothing is mounted at $M.
assert_all_stopped() {
	local f pid
	! is_mounted "$M" || { echo "$M is still mounted"; return 1; }
	for f in "$D"/*.pid; do
		[ -e "$f" ] || continue
		read -r pid _ <"$f" || true
		! running "$pid" || { echo "$f: $pid still runs"; return 1; }
	done
}

# --- scripts/install-deps ---
# It runs in a private mount namespace whose /usr/sbin is an empty tmpfs (so the real
# /usr/sbin/policy-rc.d of this machine is never touched), with a policy-rc.d of "the image"
# there or not; apt-get and dpkg-query are stand-ins on PATH (a real install cannot be
# repeated without removing packages from a machine that others use): dpkg-query says the
# packages in $S/missing are not installed until apt-get "installs" them, and apt-get logs
# what a service start would get from policy-rc.d, as invoke-rc.d asks it.

make_stubs() {	# make_stubs MODE [MISSING...]: MODE ok | fail | hang | noop (exits 0, installs nothing)
	S=$BATS_TEST_TMPDIR/stubs
	mkdir -p "$S/bin"
	echo "$1" >"$S/mode"
	shift
	printf '%s\n' "$@" >"$S/missing"
	: >"$S/installed"
	: >"$S/apt.log"
	cat >"$S/bin/dpkg-query" <<STUB
#!/bin/bash
pkg=\${!#}
if grep -qxF "\$pkg" "$S/missing" && ! grep -qxF "\$pkg" "$S/installed"; then
	echo "dpkg-query: no packages found matching \$pkg" >&2
	exit 1
fi
printf 'install ok installed'
STUB
	cat >"$S/bin/apt-get" <<STUB
#!/bin/bash
echo "apt-get \$*" >>"$S/apt.log"
if [ -x /usr/sbin/policy-rc.d ]; then
	/usr/sbin/policy-rc.d nginx start
	echo "policy-rc.d nginx start: exit \$?" >>"$S/apt.log"
else
	echo "policy-rc.d nginx start: none" >>"$S/apt.log"
fi
case " \$* " in *" update "*) exit 0 ;; esac
case \$(cat "$S/mode") in
	fail) exit 100 ;;
	noop) exit 0 ;;
	hang) touch "$S/started"; sleep 60 ;;
esac
go=0 skip=0
for a; do
	if [ \$skip -eq 1 ]; then skip=0; continue; fi
	case "\$a" in
		-o) skip=1 ;;
		install) go=1 ;;
		-*) ;;
		*) [ \$go -eq 0 ] || echo "\$a" >>"$S/installed" ;;
	esac
done
STUB
	chmod 755 "$S/bin/dpkg-query" "$S/bin/apt-get"
}

# installer with|without [term]: run install-deps as described above; prints its output,
# then "rc=N" and "policy-rc.d after: ..." (its md5, or none). With "term", the installer
# gets SIGTERM (its process group: apt-get too) while apt-get runs.
installer() {
	S=$S TOP=$TOP unshare -m --propagation private bash -c '
		set -e
		mount -t tmpfs -o mode=755 tinykv-test /usr/sbin
		if [ "$1" = with ]; then
			printf "#!/bin/sh\n# the image'"'"'s own\nexit 101\n" >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			echo "policy-rc.d before: $(md5sum </usr/sbin/policy-rc.d)"
		fi
		set +e
		PATH=$S/bin:$PATH setsid "$TOP/scripts/install-deps" &
		pid=$!
		if [ "$2" = term ]; then
			while [ ! -e "$S/started" ]; do sleep 0.05; done
			kill -TERM -- "-$pid"
		fi
		wait "$pid"
		echo "rc=$?"
		if [ -e /usr/sbin/policy-rc.d ]; then
			echo "policy-rc.d after: $(md5sum </usr/sbin/policy-rc.d)"
		else
			echo "policy-rc.d after: none"
		fi' _ "$@"
}

@test "install-deps: installing with a policy-rc.d already there (Debian's images) exits 0 and keeps that file" {
	make_stubs ok nginx bats-file
	S=$S run installer with
	echo "$output"
	assert_success
	assert_line "rc=0"
	assert_output --partial "install-deps: installed nginx bats-file"
	local before after
	before=$(sed -n 's/^policy-rc.d before: //p' <<<"$output")
	after=$(sed -n 's/^policy-rc.d after: //p' <<<"$output")
	[ -n "$before" ] && [ "$before" = "$after" ]
	run cat "$S/apt.log"
	assert_line --partial "install -y --no-install-recommends nginx bats-file"
	assert_line "policy-rc.d nginx start: exit 101"
}

@test "install-deps: without a policy-rc.d, one denies service starts while apt-get runs and is gone after" {
	make_stubs ok nginx
	S=$S run installer without
	echo "$output"
	assert_success
	assert_line "rc=0"
	assert_line "policy-rc.d after: none"
	run cat "$S/apt.log"
	assert_line "policy-rc.d nginx start: exit 101"
	refute_line "policy-rc.d nginx start: none"
}

@test "install-deps: a failing apt-get fails the script; the policy-rc.d it made is gone, the image's is kept" {
	make_stubs fail nginx
	S=$S run installer without
	echo "$output"
	assert_line --regexp '^rc=[1-9]'
	assert_line "policy-rc.d after: none"
	refute_output --partial "install-deps: installed"
	# it tried again after apt-get update (a fresh image has no package lists)
	run grep -c -- "install -y" "$S/apt.log"
	assert_output 2
	make_stubs fail nginx
	S=$S run installer with
	assert_line --regexp '^rc=[1-9]'
	refute_line "policy-rc.d after: none"
}

@test "install-deps: killed (SIGTERM) while apt-get runs, it fails and the policy-rc.d it made is gone" {
	make_stubs hang nginx
	S=$S run installer without term
	echo "$output"
	assert_line --regexp '^rc=[1-9]'
	assert_line "policy-rc.d after: none"
}

@test "install-deps: an apt-get that succeeds without installing a package is a failure" {
	# apt-get answers 0 but dpkg still does not list nginx (a name that is a virtual package,
	# say): the script must not report success while doing nothing
	make_stubs noop nginx
	S=$S run installer without
	echo "$output"
	assert_line --regexp '^rc=[1-9]'
	assert_output --partial "still not installed: nginx"
	assert_line "policy-rc.d after: none"
}

# --- make check / run / lint on a fresh copy of the tree ---
# A copy of the tree (no build/) in a private mount namespace where pkg-config is hidden,
# as on a machine where nothing is installed yet; the copy's scripts/install-deps stands in
# for the installer by unhiding it (and logging), so the real Makefile must install before
# it builds, and build with the flags pkg-config gives once it is there.

fresh_copy() {	# fresh_copy: $C, a copy of the tree without build/ and with stand-ins
	C=$BATS_TEST_TMPDIR/tree
	mkdir -p "$C"
	tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$C" -xf -
	cat >"$C/scripts/install-deps" <<'STUB'
#!/bin/bash
echo "install-deps $*" >>"$(dirname "$0")/../order.log"
umount /usr/bin/pkgconf 2>/dev/null || true
STUB
	cat >"$C/test/run-all" <<'STUB'
#!/bin/bash
echo "run-all" >>"$(dirname "$0")/../order.log"
STUB
	cat >"$C/scripts/tinykv-cluster" <<'STUB'
#!/bin/bash
echo "tinykv-cluster $*" >>"$(dirname "$0")/../order.log"
STUB
	chmod 755 "$C/scripts/install-deps" "$C/test/run-all" "$C/scripts/tinykv-cluster"
}

# fresh_make TARGET: make TARGET in $C with pkg-config hidden; CC logs each compile.
fresh_make() {
	C=$C unshare -m --propagation private bash -c '
		set -e
		mount --bind /dev/null /usr/bin/pkgconf
		! pkg-config --version >/dev/null 2>&1
		cd "$C"
		make -j2 CC="$C/logcc" "$1"' _ "$1"
}

make_logcc() {
	cat >"$C/logcc" <<'CC'
#!/bin/bash
echo "cc" >>"$(dirname "$0")/order.log"
exec cc "$@"
CC
	chmod 755 "$C/logcc"
}

@test "make check on a fresh machine installs what it needs, then builds and runs the tests" {
	fresh_copy
	make_logcc
	C=$C run fresh_make check
	echo "$output" | tail -n 20
	assert_success
	[ -x "$C/build/tinykvd" ] && [ -x "$C/build/tinykv" ] && [ -x "$C/build/unit" ]
	[ -x "$C/build/asan/tinykvd" ]
	run uniq "$C/order.log"
	assert_line --index 0 "install-deps --lint"
	assert_line --index 1 "cc"
	assert_line --index 2 "run-all"
}

@test "make run on a fresh machine installs what it needs, then builds and starts the cluster" {
	fresh_copy
	make_logcc
	C=$C run fresh_make run
	echo "$output" | tail -n 20
	assert_success
	[ -x "$C/build/tinykvd" ] && [ -x "$C/build/tinykv" ]
	run uniq "$C/order.log"
	assert_line --index 0 "install-deps "
	assert_line --index 1 "cc"
	assert_line --index 2 "tinykv-cluster up"
}

@test "make lint fails on a finding of clang-format, shellcheck, cppcheck or check-cycles; make format fixes the C" {
	# A small tree with the real Makefile, checker settings and scripts, and one C file.
	C=$BATS_TEST_TMPDIR/tree
	mkdir -p "$C/core" "$C/fuse" "$C/mountd" "$C/test/unit" "$C/test/e2e" "$C/bench" "$C/.ci"
	cp "$TOP/Makefile" "$TOP/.clang-format" "$TOP/.cppcheck-suppressions" "$C/"
	cp -r "$TOP/scripts" "$C/"
	cp "$TOP/test/run-all" "$C/test/"
	cp "$TOP/test/e2e/helpers.bash" "$C/test/e2e/"
	cp "$TOP/.ci/run" "$C/.ci/"
	cp "$TOP/bench/run" "$TOP"/bench/*.sh "$C/bench/"
	cat >"$C/core/good.c" <<'SRC'
/* good.c — formatted as .clang-format says. */
#include <string.h>

int kv_good(const char *a, const char *b);

int kv_good(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return -1;
	return strcmp(a, b);
}
SRC
	run make -C "$C" lint
	echo "$output"
	assert_success
	assert_line "lint: clean"

	# one finding for each checker; lint reports all three (one failing does not hide the next)
	printf 'int kv_bad(int x);\nint kv_bad(int x) { if (x) return 1; return 0; }\n' >"$C/core/bad.c"
	printf '#!/bin/bash\nrm $1\n' >"$C/scripts/bad"	# an unquoted expansion
	printf 'void kv_oob(void);\nvoid kv_oob(void)\n{\n\tint a[2];\n\n\ta[2] = 0;\n\t(void)a;\n}\n' \
		>"$C/mountd/oob.c"	# a write past the end of an array
	printf 'int kv_cb(int x);\nint kv_ca(int x);\nint kv_ca(int x)\n{\n\treturn x ? kv_cb(x - 1) : 0;\n}\n' \
		>"$C/mountd/ca.c"	# two files calling each other
	printf 'int kv_ca(int x);\nint kv_cb(int x);\nint kv_cb(int x)\n{\n\treturn kv_ca(x);\n}\n' \
		>"$C/mountd/cb.c"
	run make -C "$C" lint
	echo "$output"
	assert_failure
	assert_output --partial "core/bad.c:2"
	assert_output --partial "SC2086"
	assert_output --partial "arrayIndexOutOfBounds"
	assert_output --partial "cycle: mountd/c"
	assert_line "  mountd/ca.c -> mountd/cb.c: kv_cb"
	assert_line "  mountd/cb.c -> mountd/ca.c: kv_ca"
	refute_line "lint: clean"

	# make format repairs the C file; without the other two, lint is clean again
	run make -C "$C" format
	assert_success
	rm "$C/scripts/bad" "$C/mountd/oob.c" "$C/mountd/ca.c" "$C/mountd/cb.c"
	run make -C "$C" lint
	echo "$output"
	assert_success
	assert_line "lint: clean"
	grep -q '^	if (x)$' "$C/core/bad.c"
}

# --- scripts/tinykv-cluster ---

@test "cluster: every line of up's advice works as printed; Stop: stops everything, the mount included" {
	require_fuse
	run cluster_up
	echo "$output"
	assert_success
	is_mounted "$M"
	local try cat stop
	try=$(sed -n 's/^Try: *//p' <<<"$output")
	cat=$(grep -A1 '^Try:' <<<"$output" | sed -n '2s/^ *//p')
	stop=$(sed -n 's/^Stop: *//p' <<<"$output")
	# never run a stop line that could reach another cluster
	[[ "$stop" == *"down --dir $D"* ]] || { echo "Stop line without --dir $D: $stop"; false; }
	run bash -c "$try"
	assert_success
	assert_line --partial "Transaction Successful. Value world is stored at http://localhost:"
	assert_line "world"
	run bash -c "$cat"
	assert_output "world"
	run bash -c "$stop"
	echo "$output"
	assert_success
	assert_all_stopped
	# the data stays: up again finds hello
	run cluster_up
	assert_success
	run cat "$M/hello"
	assert_output "world"
}

@test "cluster: up records its settings and mount point; status and down need only --dir" {
	require_fuse
	run cluster_up --replicas 2
	assert_success
	run cat "$D/cluster.state"
	assert_line "mount=$M"
	assert_line "port=$P"
	assert_line "shard_port=$((P + 1))"
	assert_line "replicas=2"
	run "$CLUSTER" status --dir "$D"
	echo "$output"
	assert_success
	assert_line --regexp "^mount: $M \(pid [0-9]+\)$"
	run "$CLUSTER" down --dir "$D"
	assert_success
	assert_all_stopped
	run "$CLUSTER" status --dir "$D"
	assert_failure
}

@test "cluster: status reports a dead mount (its process killed) and exits 1" {
	require_fuse
	run cluster_up
	assert_success
	kill_mount
	run "$CLUSTER" status --dir "$D"
	echo "$output"
	assert_failure
	assert_output --partial "dead at $M"
	assert_output --partial "Transport endpoint is not connected"
}

@test "cluster: up mends a dead mount (lazy unmount, mount again); what was stored reads back" {
	require_fuse
	run cluster_up
	assert_success
	echo "before the crash" >"$M/note"
	kill_mount
	run cluster_up
	echo "$output"
	assert_success
	assert_output --partial "dead"
	run cat "$M/note"
	assert_success
	assert_output "before the crash"
	echo "after" >"$M/later"
	[ "$(kv_at "$P" later)" = after ]
	run "$CLUSTER" status --dir "$D"
	assert_success
}

kv_at() { curl -s -L --max-time 10 "http://127.0.0.1:$1/$2"; }

@test "cluster: up refuses a mount point where another store is mounted, and down leaves that mount" {
	require_fuse
	# someone else's tinykv mount, of another config, at the place this cluster wants
	another_store other
	mkdir -p "$M"
	"$BIN/tinykv" "$BATS_TEST_TMPDIR/other.conf" "$M" 2>>"$KV_DIR/mount.log"
	echo "$M" >>"$KV_DIR/mounts"
	echo theirs >"$M/file"
	run cluster_up
	echo "$output"
	assert_failure
	assert_output --partial "not this cluster's"
	run "$CLUSTER" down --dir "$D" --mount "$M"
	echo "$output"
	assert_success
	grep -qs "^$BATS_TEST_TMPDIR/other.conf $M fuse.tinykv " /proc/mounts
	run cat "$M/file"
	assert_output theirs
}

@test "cluster: status and down do not take a recycled pid for the cluster's process" {
	mkdir -p "$D"
	sleep 300 &
	local other=$!
	record_pid other "$other"
	# pid files of a cluster whose processes are long gone; the pid went to another program
	echo "$other" >"$D/tinykvd.pid"
	echo "$other" >"$D/shard1.pid"
	run "$CLUSTER" status --dir "$D" --no-mount
	echo "$output"
	assert_failure
	assert_line "tinykvd: stopped"
	assert_line "shard1: stopped"
	run "$CLUSTER" down --dir "$D" --no-mount
	assert_success
	kill -0 "$other"
}

@test "cluster: up refuses a port another program listens on, and starts nothing" {
	another_store squatter	# an nginx on OTHER_PORT, not this cluster's
	run "$CLUSTER" up --dir "$D" --port "$OTHER_PORT" --shard-port $((P + 1)) --no-mount
	echo "$output"
	assert_failure
	assert_output --partial "port $OTHER_PORT is in use"
	assert_all_stopped
	[ ! -e "$D/tinykvd.pid" ]
}

@test "cluster: up keeps the layout the cluster was made with and refuses to change it" {
	run cluster_up --no-mount
	assert_success
	run cluster_up --no-mount --shards 3
	echo "$output"
	assert_failure
	assert_output --partial "made with --shards 2"
	[ ! -e "$D/shard3.pid" ]
	run "$CLUSTER" status --dir "$D"
	assert_success
}

@test "cluster: options that are not numbers or lack a value are usage errors" {
	run "$CLUSTER" up --dir "$D" --port 3x --shard-port $((P + 1)) --no-mount
	assert_failure 2
	assert_output --partial "--port '3x' is not a number"
	run "$CLUSTER" up --dir "$D" --port 70000 --shard-port $((P + 1)) --no-mount
	assert_failure 2
	run "$CLUSTER" up --dir
	assert_failure 2
	assert_output --partial "--dir needs a value"
	[ ! -e "$D" ]
}

@test "one version: tinykvd --version, tinykv --version and every man page's .Os agree" {
	local v
	v=$(sed -n 's/^#define TINYKV_VERSION "\(.*\)"$/\1/p' "$TOP/core/release.h")
	[ -n "$v" ]
	run "$BIN/tinykvd" --version
	assert_output "tinykvd $v"
	run "$BIN/tinykv" --version
	assert_output --partial "tinykv $v (libfuse"
	run grep -h '^\.Os' "$TOP"/man/*.[58]
	assert_output "$(printf '.Os tinykv %s\n.Os tinykv %s\n.Os tinykv %s' "$v" "$v" "$v")"
}

@test "the README's map names every file of core/, mountd/ and fuse/, and only those" {
	# A row's first cell names files, the first with its directory: `core/a.h`, `a.c`.
	run python3 - "$TOP" <<'PY'
import glob, os, re, sys
top = sys.argv[1]
mapped = set()
for line in open(os.path.join(top, "README.md")):
    m = re.match(r"\| (`(?:core|mountd|fuse)/[^|]*) \|", line)
    if not m:
        continue
    names = re.findall(r"`([^`]+)`", m.group(1))
    d = names[0].split("/")[0]
    mapped.update(n if "/" in n else d + "/" + n for n in names)
tree = {os.path.relpath(f, top) for d in ("core", "mountd", "fuse")
        for f in glob.glob(os.path.join(top, d, "*.[ch]"))}
print("not in the map:", " ".join(sorted(tree - mapped)) or "-")
print("in the map, not in the tree:", " ".join(sorted(mapped - tree)) or "-")
PY
	assert_output "not in the map: -
in the map, not in the tree: -"
}
