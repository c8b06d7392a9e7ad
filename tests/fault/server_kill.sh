#!/bin/sh
# server_kill.sh: kill -9 the server during ingest (DESIGN invariant 2).
# Each round captures one observation with evidence, starts a sync pass
# (32 KiB chunks: many upload requests, then commit and receipt) and after a
# random 0-300 ms kills the server with SIGKILL (mid-chunk, mid-commit,
# between commit and receipt: wherever it is), then restarts it on the same
# port.  At the end the agent's retries converge, every capture that
# printed an id is held exactly once with byte-identical blobs, nothing
# else is held, `audit verify` passes, SQLite is clean and no partial blob
# is left whole but unrecorded.  30 rounds, 200 with FW_TORTURE=1.
NAME=fault-server-kill
. "$(dirname "$0")/../lib/common.shlib"

PORT_FIXED=$(free_port)
setup qingyuan
ok "server on 127.0.0.1:$PORT, agent enrolled as $DEV"
printf '[sync]\nchunk_size = 32K\n' >"$T/agent.conf"
evidence_pool 8 400000
: >"$T/acked"

skills=0 restart_ms=0 rounds=0 start=$(date +%s)
i=0
while [ $i -lt "$LOOPS" ]; do
	i=$((i + 1))
	e=$(rnd "$POOL")
	rm -f "$T/o.json"
	observe "$T/o.json" "$T/pool/e$e.jpg"
	id=$(printed_id "$T/o.json")
	if [ -n "$id" ]; then
		echo "$id $(cat "$T/pool/e$e.sha")" >>"$T/acked"
	else
		nok "round $i: capture failed"; show "$T/o.json.err"
	fi
	"$AGENT" sync --json >"$T/s.json" 2>"$T/s.err" &
	YPID=$!
	PIDS=$YPID
	rsleep 300
	if kill -9 "$SPID" 2>/dev/null; then
		wait "$SPID" 2>/dev/null
		skills=$((skills + 1))
	fi
	SPID=
	t0=$(date +%s%N)
	server_start || bail "round $i: the server restarts after SIGKILL" "$T/server.log"
	t1=$(date +%s%N)
	restart_ms=$((restart_ms + (t1 - t0) / 1000000))
	# The pass may retry into the new server; give it 0.2 s more, then it
	# is killed too (the next round's pass resumes).
	wait_pid "$YPID" 4
	PIDS=
	rounds=$((rounds + 1))
done
secs=$(( $(date +%s) - start ))
echo "# $rounds rounds in $secs s: the server was killed with SIGKILL $skills times and restarted (restart and recovery: $((restart_ms / (rounds > 0 ? rounds : 1))) ms on average)"
check "the server restarted after each of $skills SIGKILLs" [ "$skills" -eq "$rounds" ]

printf '[sync]\nchunk_size = 1M\n' >"$T/agent.conf"
if sync_until_done 4; then ok "the agent's retries converge after the kills"; else
	nok "the agent's retries converge after the kills"; show "$T/final-sync.json"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked" --converged
"$SERVER" audit verify --data "$D" >"$T/audit.out" 2>&1
if grep -q 'chain intact' "$T/audit.out"; then ok "server: audit verify passes"; else
	nok "server: audit verify passes"; show "$T/audit.out"; fi
left=$(ls "$D/blobs/partial" 2>/dev/null | wc -l)
echo "# partial uploads left after the kill loop converged: $left"

# The state a crash leaves between the last chunk's fdatasync and the
# rename into blobs/xx/ (blob.c, blob_finish), made on purpose: the partial
# file is whole and its hash right, nothing else knows it.  The next sync
# must finish it (or upload it again) and converge.
head -c 100000 /dev/urandom >"$T/whole.jpg"
observe "$T/w.json" "$T/whole.jpg"
WID=$(printed_id "$T/w.json")
WBLOB=$(sqlite3 "$A/agent.db" "SELECT e.blob FROM evidence e JOIN obs o ON o.seq = e.obs_seq WHERE o.id = '$WID'")
server_kill
mkdir -p "$D/blobs/partial"
cp "$A/blobs/$WBLOB" "$D/blobs/partial/$WBLOB"
server_start || bail "the server restarts" "$T/server.log"
"$AGENT" sync --json >"$T/whole-sync.json" 2>"$T/whole-sync.err"
if [ "$(jget "$T/whole-sync.json" ok)" = true ] &&
    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$WID'")" = 1 ]; then
	ok "a partial blob left whole by a crash before its rename: the next sync finishes it"
else
	nok "a partial blob left whole by a crash before its rename: the next sync finishes it"
	show "$T/whole-sync.json"
fi
echo "summary: server-kill: $skills server SIGKILLs survived; $FIGURES; partial files left $left"
[ $failed -eq 0 ]
