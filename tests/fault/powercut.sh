#!/bin/sh
# powercut.sh: power cuts, not only process death (DESIGN invariant 1).
# The data folder lives on lazyfs (tests/fault/lazyfs.c), which keeps every
# write no fsync covered in its own cache and every directory operation no
# directory fsync covered in an undo log; SIGUSR1 "cuts the power": the
# cache is lost (the last write torn at a random byte), the directory
# operations undone, the mount gone.
#
# Agent: each round starts a capture with evidence (and every other round
# a sync pass), cuts the power at a random instant, kills what still runs,
# remounts and reopens the store: it must open clean (`status`, PRAGMA
# integrity_check = ok, nothing in tmp/).  At the end every capture that
# printed an id is intact (in the store with its evidence rows, `show
# --json` on a sample, blobs whole, decryptable with the office key by
# `age -d` to the SHA-256 recorded), and a sync delivers them all exactly
# once.  First, lazyfs_check.py shows the fault model bites: unsynced data
# and directory operations are lost, fsync'd ones kept.
# Server: the same with the server's data folder on lazyfs, the cut landing
# during ingest; the server restarts on the remounted folder, the agent's
# retries converge, each capture is held once, `audit verify` passes.
# 30 rounds each, 200 with FW_TORTURE=1.
NAME=fault-powercut
. "$(dirname "$0")/../lib/common.shlib"

[ -c /dev/fuse ] || { echo "skip: /dev/fuse is missing (no FUSE here)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "skip: mounting lazyfs needs root here"; exit 0; }
command -v age >/dev/null 2>&1 || { echo "skip: age is not installed"; exit 0; }
[ -x "$LAZYFS" ] || bail "lazyfs is built ($LAZYFS)"

LZPID=
LZPIDS=
# mount_lazy BACKING MOUNTPOINT: start lazyfs, wait for the mount (5 s).
mount_lazy() {
	mkdir -p "$1" "$2"
	"$LAZYFS" --tear "$1" "$2" 2>>"$T/lazyfs.log" &
	LZPID=$!
	LZPIDS="$LZPIDS $LZPID"
	case " $MOUNTS " in *" $2 "*) ;; *) MOUNTS="$MOUNTS $2" ;; esac
	_i=0
	while ! mountpoint -q "$2" && [ $_i -lt 50 ]; do sleep 0.05; _i=$((_i + 1)); done
	mountpoint -q "$2"
}
# cut_power MOUNTPOINT: SIGUSR1 to lazyfs, wait for it and the mount to go.
cut_power() {
	kill -USR1 "$LZPID" 2>/dev/null
	wait_pid "$LZPID" 100
	_i=0
	while mountpoint -q "$1" && [ $_i -lt 40 ]; do sleep 0.05; _i=$((_i + 1)); done
	mountpoint -q "$1" && { umount -l "$1" 2>/dev/null; lazy_umounts=$((lazy_umounts + 1)); }
	LZPIDS=$(echo "$LZPIDS" | sed "s/ $LZPID\\b//")
	LZPID=
	cuts=$((cuts + 1))
}
lazy_umounts=0
cuts=0
# tap_lines FILE: "ok - x" / "not ok - x" lines of a helper as TAP lines.
tap_lines() {
	while IFS= read -r _line; do
		case $_line in
		"ok - "*) ok "${_line#ok - }" ;;
		"not ok - "*) nok "${_line#not ok - }" ;;
		*) echo "# $_line" ;;
		esac
	done <"$1"
}

# ---- the fault model itself ------------------------------------------------------
mount_lazy "$T/lzback" "$T/lzmnt" || bail "lazyfs mounts" "$T/lazyfs.log"
python3 "$FAULT_DIR/lazyfs_check.py" before "$T/lzmnt" >"$T/lzc1.out" 2>&1 &
CPID=$!
PIDS=$CPID
wait_file "$T/lzc1.out" 100
cut_power "$T/lzmnt"
kill -9 $CPID 2>/dev/null; wait $CPID 2>/dev/null; PIDS=
tap_lines "$T/lzc1.out"
mount_lazy "$T/lzback" "$T/lzmnt" || bail "lazyfs remounts" "$T/lazyfs.log"
python3 "$FAULT_DIR/lazyfs_check.py" after "$T/lzmnt" >"$T/lzc2.out" 2>&1
tap_lines "$T/lzc2.out"
fusermount3 -u "$T/lzmnt" 2>/dev/null || umount -l "$T/lzmnt"
wait_pid "$LZPID" 50
cuts=0

# ---- the agent's data folder on lazyfs -----------------------------------------
setup_server_only() {
	server_init qingyuan
	server_start || bail "server writes run/port within 10 s" "$T/server.log"
	supervisor_add S1 || bail "supervisor add" "$T/sup-S1.json"
}
setup_server_only
mount_lazy "$T/aback" "$A" || bail "lazyfs mounts the agent's folder" "$T/lazyfs.log"
enroll S1 || bail "enroll on lazyfs" "$T/enroll.err"
ok "agent enrolled on lazyfs as $DEV"
# A cut right after enrollment: the enrollment itself must be durable.
cut_power "$A"
mount_lazy "$T/aback" "$A" || bail "lazyfs remounts" "$T/lazyfs.log"
"$AGENT" status --json >"$T/st0.json" 2>&1
if [ "$(jget "$T/st0.json" enrolled)" = true ] && [ "$(jget "$T/st0.json" key_usable)" = true ]; then
	ok "a power cut right after enroll: still enrolled, key usable"
else
	nok "a power cut right after enroll: still enrolled, key usable"; show "$T/st0.json"
	# Go on with a fresh enrollment so the capture loop still runs.
	"$SERVER" device code --supervisor S1 --json >"$T/code.json" 2>&1
	"$AGENT" enroll --force --server "$URL" --code "$(jget "$T/code.json" code)" \
	    --ca "$D/tls/ca.pem" --json >"$T/enroll.json" 2>"$T/enroll.err"
	kill -USR2 "$LZPID"
fi

evidence_pool 6 800000
: >"$T/acked"
bad_open=0 bad_integrity=0 rounds=0 start=$(date +%s)
i=0
while [ $i -lt "$LOOPS" ]; do
	i=$((i + 1))
	e=$(rnd "$POOL")
	rm -f "$T/o.json"
	observe_bg "$T/o.json" "$T/pool/e$e.jpg"
	YPID=
	if [ $((i % 2)) -eq 0 ]; then
		"$AGENT" sync --json >"$T/s.json" 2>&1 &
		YPID=$!
	fi
	PIDS="$OPID $YPID"
	rsleep 120
	cut_power "$A"
	for p in $OPID $YPID; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	PIDS=
	id=$(printed_id "$T/o.json")
	[ -n "$id" ] && echo "$id $(cat "$T/pool/e$e.sha")" >>"$T/acked"
	mount_lazy "$T/aback" "$A" || bail "round $i: lazyfs remounts" "$T/lazyfs.log"
	# Reopen: the store recovers (WAL, tmp/, orphan blobs) and opens clean.
	if ! "$AGENT" status --json >"$T/st.json" 2>&1; then
		bad_open=$((bad_open + 1)); echo "# round $i: status failed after the cut" >&2; show "$T/st.json"
	fi
	r=$(sqlite3 "$A/agent.db" 'PRAGMA integrity_check' 2>&1)
	if [ "$r" != ok ]; then
		bad_integrity=$((bad_integrity + 1)); echo "# round $i: integrity_check: $r" >&2
	fi
	rounds=$((rounds + 1))
done
secs=$(( $(date +%s) - start ))
acked=$(wc -l <"$T/acked")
echo "# agent: $rounds power cuts in $secs s, $acked captures acknowledged before a cut"
check "agent: the store reopened after each of $rounds power cuts" [ $bad_open -eq 0 ]
check "agent: PRAGMA integrity_check = ok after each power cut" [ $bad_integrity -eq 0 ]
check "agent: some captures were acknowledged before a cut ($acked)" [ "$acked" -ge 1 ]
# `show --json` on the first and the last four (verify.py reads them all
# from the store below).
shown=0 asked=0
{ head -n 1 "$T/acked"; tail -n 4 "$T/acked"; } | sort -u >"$T/sample"
while read -r id rest; do
	asked=$((asked + 1))
	"$AGENT" show "$id" --json >"$T/show.json" 2>&1 && [ "$(jget "$T/show.json" id)" = "$id" ] &&
	    [ "$(jget "$T/show.json" evidence.0.sha256)" = "$rest" ] && shown=$((shown + 1))
done <"$T/sample"
check "agent: show --json shows $shown of $asked acknowledged captures sampled, evidence SHA-256 as captured" [ "$shown" -eq "$asked" ]
verify --agent "$A" --acked "$T/acked" --age-key "$D/keys/office.key" --check agent
AFIG=$FIGURES
if sync_until_done 4; then ok "agent: a sync after the cuts converges"; else
	nok "agent: a sync after the cuts converges"; show "$T/final-sync.json"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked" --converged --check server
AFIG=$FIGURES
acuts=$cuts
server_stop
fusermount3 -u "$A" 2>/dev/null || umount -l "$A"
wait_pid "$LZPID" 50

# ---- the server's data folder on lazyfs ----------------------------------------
D=$T/server2 A=$T/agent2
FUNDWATCH_DATA=$D FUNDWATCH_AGENT_DATA=$A
export FUNDWATCH_DATA FUNDWATCH_AGENT_DATA
PORT_FIXED=$(free_port)
mount_lazy "$T/sback" "$D" || bail "lazyfs mounts the server's folder" "$T/lazyfs.log"
setup qingyuan
kill -USR2 "$LZPID"	# the set-up is on disk (init is not under test here)
ok "server on lazyfs at 127.0.0.1:$PORT, agent enrolled as $DEV"
printf '[sync]\nchunk_size = 32K\n' >"$T/agent.conf"
: >"$T/acked2"
bad_start=0 rounds=0 start=$(date +%s)
i=0
while [ $i -lt "$LOOPS" ]; do
	i=$((i + 1))
	e=$(rnd "$POOL")
	rm -f "$T/o.json"
	observe "$T/o.json" "$T/pool/e$e.jpg"
	id=$(printed_id "$T/o.json")
	[ -n "$id" ] && echo "$id $(cat "$T/pool/e$e.sha")" >>"$T/acked2"
	"$AGENT" sync --json >"$T/s.json" 2>&1 &
	YPID=$!
	PIDS=$YPID
	rsleep 250
	cut_power "$D"
	server_kill
	mount_lazy "$T/sback" "$D" || bail "round $i: lazyfs remounts" "$T/lazyfs.log"
	if ! server_start; then
		bad_start=$((bad_start + 1)); echo "# round $i: the server did not restart" >&2
		show "$T/server.log"; bail "server restarts after a power cut"
	fi
	wait_pid "$YPID" 2
	PIDS=
	r=$(sqlite3 "$D/fundwatch.db" 'PRAGMA integrity_check' 2>&1)
	[ "$r" = ok ] || { bad_integrity=$((bad_integrity + 1)); echo "# round $i: server integrity_check: $r" >&2; }
	rounds=$((rounds + 1))
done
secs=$(( $(date +%s) - start ))
echo "# server: $rounds power cuts in $secs s during ingest"
check "server: restarted after each of $rounds power cuts, integrity_check = ok" [ $bad_start -eq 0 -a $bad_integrity -eq 0 ]
printf '[sync]\nchunk_size = 1M\n' >"$T/agent.conf"
if sync_until_done 4; then ok "server: the agent's retries converge after the cuts"; else
	nok "server: the agent's retries converge after the cuts"; show "$T/final-sync.json"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked2" --age-key "$D/keys/office.key" --converged
"$SERVER" audit verify --data "$D" >"$T/audit.out" 2>&1
if grep -q 'chain intact' "$T/audit.out"; then ok "server: audit verify passes after the cuts"; else
	nok "server: audit verify passes after the cuts"; show "$T/audit.out"; fi
server_stop
fusermount3 -u "$D" 2>/dev/null || umount -l "$D"
wait_pid "$LZPID" 50
check "no lazyfs mount left behind" sh -c "! mount | grep -q '$T'"
echo "# lazy unmounts needed after a cut: $lazy_umounts"
echo "summary: powercut: agent $acuts cuts ($AFIG); server $((cuts - acuts)) cuts ($FIGURES)"
[ $failed -eq 0 ]
