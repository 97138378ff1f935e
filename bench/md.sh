# md.sh — the metadata table of issue 11, in the manner of mdtest: create, stat, read and
# unlink MD_FILES small files, all in one directory and spread over 100, through a tinykv
# mount, in a local directory and (fewer files, it is slow) through davfs2 on the peers'
# nginx; ops/s of each phase, run one after another in one process as mdtest does, the
# rounds alternating ours and the others. JuiceFS's published mdtest figures are the
# targets. Sourced by bench/run after fuse.sh (whose mounting helpers it uses); defines
# bench_md.
# shellcheck shell=bash

MD_PHASES=(create stat read unlink)
MD_SIZE=100	# bytes per file: a read is a real read of a value
# JuiceFS's published mdtest figures (ops/s), the targets: create, stat, read.
declare -A JUICEFS=([create]=1410 [stat]=5023 [read]=3488)

# wait_tree DIR N SIZE: until DIR and its subdirectories on a server's disk hold N files of
# SIZE bytes (davfs2 uploads after close()).
wait_tree() {
	for _ in $(seq 6000); do
		[ "$(find "$1" -type f -size "$3c" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	log "$1: not all of $2 files arrived in 10 minutes"
	return 1
}

# md_run WHO DIR N DIRS [SERVER_DIR]: the four phases in DIR (made here), each added to the
# results as md.DIRS.PHASE.WHO in ops/s. With SERVER_DIR (a peer that uploads after close),
# creates count once all files are there.
md_run() {
	local who=$1 dir=$2 n=$3 dirs=$4 srv=${5:-} ph t0 t
	mkdir "$dir" || { problem "mkdir $dir failed"; return 0; }
	for ph in "${MD_PHASES[@]}"; do
		t0=$(now)
		if timeout -k 5 1800 "$B/bin/mdload" "$ph" "$dir" "$n" "$dirs" "$MD_SIZE" >/dev/null &&
			{ [ "$ph" != create ] || [ -z "$srv" ] || wait_tree "$srv" "$n" "$MD_SIZE"; }; then
			t=$(since "$t0")
			add_result "md.$dirs.$ph.$who" "$(calc "$n / $t")"
		else
			problem "mdload $ph in $dir ($n files, $dirs directories) failed"
			add_result "md.$dirs.$ph.$who" ERR
		fi
	done
	rmdir "$dir" 2>/dev/null || true
}

bench_md() {
	local r dirs ph where
	section "Metadata (mdtest-like): $MD_FILES files of $MD_SIZE bytes; davfs2 $MD_PEER_FILES"
	note "Metadata: each phase (create, stat, read, unlink) runs over all files before the next, in one process, as mdtest does; the mount stays mounted between phases. Targets are JuiceFS's published mdtest figures (1,410 creates/s, 5,023 stats/s, 3,488 reads/s); subdirectories are made before the timed creates."
	start_kvd
	start_peer_dav
	KVM=$B/mnt/md-kv DAVM=$B/mnt/md-davfs
	mkdir -p "$PEER_DIR/davfs" "$B/md-local"
	mount_kv || die "tinykv did not mount"
	mount_davfs || die "davfs2 did not mount"
	for r in $(seq "$ROUNDS"); do
		for dirs in 1 100; do
			md_run kv "$KVM/md-$r-$dirs" "$MD_FILES" "$dirs"
			md_run local "$B/md-local/md-$r-$dirs" "$MD_FILES" "$dirs"
			md_run davfs "$DAVM/md-$r-$dirs" "$MD_PEER_FILES" "$dirs" \
				"$PEER_DIR/davfs/md-$r-$dirs"
		done
	done
	for dirs in 1 100; do
		where="in one directory"
		[ "$dirs" = 1 ] || where="over $dirs directories"
		for ph in "${MD_PHASES[@]}"; do
			if [ -n "${JUICEFS[$ph]:-}" ]; then
				row "$ph, $where (target: JuiceFS's figure)" "$(med "md.$dirs.$ph.kv")" \
					"$(med "md.$dirs.$ph.local")" ops/s min "${JUICEFS[$ph]}" \
					"local directory"
			else
				row "$ph, $where" "$(med "md.$dirs.$ph.kv")" \
					"$(med "md.$dirs.$ph.local")" ops/s "" "" "local directory"
			fi
			row "  the same" "$(med "md.$dirs.$ph.kv")" "$(med "md.$dirs.$ph.davfs")" ops/s \
				"" "" davfs2
		done
	done
	unmount "$KVM"
	unmount "$DAVM"
}
