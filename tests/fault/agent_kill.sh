#!/bin/sh
# agent_kill.sh: kill -9 the agent at random instants (DESIGN invariants 1
# and 2).  Each round starts a capture with evidence and a sync pass side by
# side and, after a random instant (0-60 ms for the capture, 0-120 ms
# for the sync) kills both with SIGKILL (mid
# encryption, mid-commit, mid-upload, between commit and receipt: wherever
# they are).  The rounds go on with the same store.  At the end a clean sync
# converges and every capture that printed an id is on the server exactly
# once with byte-identical blobs, nothing the agent does not hold is there,
# and SQLite and the blob store are clean.  Rounds go on until 30 processes
# were killed by SIGKILL (200 with FW_TORTURE=1; LOOPS= overrides), at most
# ten times that many rounds; each round bounded (10 s).
NAME=fault-agent-kill
. "$(dirname "$0")/../lib/common.shlib"

setup qingyuan
ok "server on 127.0.0.1:$PORT, agent enrolled as $DEV"
# Small chunks: an upload is many requests, so kills land between them.
printf '[sync]\nchunk_size = 32K\n' >"$T/agent.conf"
evidence_pool 8 2500000
: >"$T/acked"

okills=0 ykills=0 silent=0 rounds=0 start=$(date +%s)
while [ $((okills + ykills)) -lt "$LOOPS" ] && [ $rounds -lt $((LOOPS * 10)) ]; do
	e=$(rnd "$POOL")
	rm -f "$T/o.json"
	observe_bg "$T/o.json" "$T/pool/e$e.jpg"
	"$AGENT" sync --json >"$T/s.json" 2>"$T/s.err" &
	YPID=$!
	PIDS="$OPID $YPID"
	# A capture (up to 2.5 MB of evidence) takes 5-40 ms, a sync pass
	# from tens to a few hundred: aim inside each.
	rsleep 30
	kill -9 "$OPID" 2>/dev/null
	rsleep 120
	kill -9 "$YPID" 2>/dev/null
	wait_pid "$OPID" 100
	[ $? -eq 137 ] && okills=$((okills + 1)) && killed=1 || killed=0
	wait_pid "$YPID" 100
	[ $? -eq 137 ] && ykills=$((ykills + 1))
	PIDS=
	id=$(printed_id "$T/o.json")
	[ -n "$id" ] && echo "$id $(cat "$T/pool/e$e.sha")" >>"$T/acked"
	[ -z "$id" ] && [ $killed = 1 ] && silent=$((silent + 1))
	rounds=$((rounds + 1))
done
secs=$(( $(date +%s) - start ))
acked=$(wc -l <"$T/acked")
kills=$((okills + ykills))
late=$((okills - silent))
echo "# $rounds rounds in $secs s: $kills processes killed with SIGKILL ($okills captures, $silent before printing their id, $late after; $ykills sync passes), $acked captures acknowledged"
check "kills landed: $kills of $LOOPS wanted; $silent captures before their id, $ykills sync passes" \
    [ "$kills" -ge "$LOOPS" -a "$silent" -ge 1 -a "$ykills" -ge 1 ]

# The last passes in big chunks (resume works whatever the chunk size).
printf '[sync]\nchunk_size = 1M\n' >"$T/agent.conf"
if sync_until_done 10; then ok "a clean sync converges after the kills"; else
	nok "a clean sync converges after the kills"; show "$T/final-sync.json"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked" --age-key "$D/keys/office.key" --converged
"$SERVER" audit verify --data "$D" >"$T/audit.out" 2>&1
check "server: audit verify passes" grep -q 'chain intact' "$T/audit.out"
echo "summary: agent-kill: $kills SIGKILLs survived over $rounds rounds; $FIGURES"
[ $failed -eq 0 ]
