#!/bin/sh
# agent_sync.sh: fundwatch-agent against the real fundwatch-server on
# loopback (proto/PROTOCOL.md sections 3-10).  Starts the server on port 0,
# appoints a supervisor, enrolls an agent, captures observations with photo,
# audio and video files made here, and checks: sync and verified receipts;
# each observation held once on the server and each blob byte-identical; a
# second sync sends nothing again; a sync cut mid-upload by a proxy resumes
# without resending finished chunks (bytes counted); a 503 with Retry-After
# is waited out; a wrong CA is a clear error; export-bundle then
# import-bundle; the daemon syncs on a nudge and stops on SIGTERM; a
# revocation is verified, destroys the key and stops syncing.
#
# Prints TAP lines "ok N - ..." / "not ok N - ..."; every wait is bounded;
# only 127.0.0.1 is used.  $B is the build folder (default build);
# $VALGRIND, if set, goes before every fundwatch-agent and fundwatch-server.
B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
AGENT=$B/fundwatch-agent
SERVER=$B/fundwatch-server
HERE=$(cd "$(dirname "$0")" && pwd)
PROXY=$HERE/agent_proxy.py

for tool in python3 sqlite3 openssl cmp; do
	command -v $tool >/dev/null 2>&1 || { echo "skip: $tool is not installed"; exit 0; }
done
[ -x "$AGENT" ] && [ -x "$SERVER" ] || { echo "skip: $AGENT or $SERVER not built"; exit 0; }

T=$(mktemp -d /tmp/fw-agent-sync.XXXXXX) || exit 1
D=$T/server
A=$T/agent
SPID= PPID1= PPID2= DPID=
n=0
failed=0

cleanup() {
	for p in $DPID $PPID1 $PPID2 $SPID; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in $DPID $PPID1 $PPID2 $SPID; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; failed=$((failed + 1)); }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}
# Show a file's content under a failed check.
show() { sed 's/^/#   /' "$1" >&2; }
bail() { nok "$1"; [ -f "$2" ] && show "$2"; echo "# bailing out" >&2; exit 1; }

# Wait (at most $2 tenths of a second) for a non-empty file.
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$1" ]
}
# A JSON field (dotted path) of a file, "" if absent.
jget() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) else v)
except Exception:
    print("")
EOF
}
sq() { sqlite3 "$D/fundwatch.db" "$1"; }

export FUNDWATCH_AGENT_DATA=$A
export FUNDWATCH_AGENT_CONFIG=$T/agent.conf
export FUNDWATCH_DATA=$D
unset FUNDWATCH_ACTOR

# ---- the server ------------------------------------------------------------
$VALGRIND "$SERVER" init --data "$D" --profile qingyuan >"$T/init.out" 2>&1 ||
	bail "server init" "$T/init.out"
python3 - "$D/fundwatch.conf" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s, k = re.subn(r"(?m)^[;#]?\s*listen\s*=.*$", "listen = 127.0.0.1:0", s, count=1)
if k == 0:
    s = s.replace("[server]", "[server]\nlisten = 127.0.0.1:0", 1)
open(p, "w").write(s)
EOF
$VALGRIND "$SERVER" run --data "$D" -d >"$T/server.log" 2>&1 &
SPID=$!
wait_file "$D/run/port" 300 || bail "server writes run/port within 30 s" "$T/server.log"
PORT=$(cat "$D/run/port")
URL=https://127.0.0.1:$PORT
ok "server runs on 127.0.0.1:$PORT"

$VALGRIND "$SERVER" supervisor add --name "Test Supervisor" --birth 1980-05-01 \
    --method self_nomination --id S1 --attest law_abiding \
    --attest insured_in_city --attest full_civil_capacity \
    --attest knows_regulations --attest volunteer --attest fit_for_duty \
    --attest no_conflict_of_interest --attest no_bad_credit \
    --json >"$T/sup.json" 2>&1 || bail "supervisor add" "$T/sup.json"
newcode() {
	$VALGRIND "$SERVER" device code --supervisor S1 --json >"$T/code.json" 2>&1 &&
	    jget "$T/code.json" code
}
CODE=$(newcode)
[ -n "$CODE" ] || bail "device code" "$T/code.json"

# ---- enrollment -------------------------------------------------------------
$VALGRIND "$AGENT" enroll --server "$URL" --code "$CODE" --ca "$D/tls/ca.pem" --json \
    >"$T/enroll.json" 2>"$T/enroll.err"
DEV=$(jget "$T/enroll.json" device)
if [ ${#DEV} -eq 32 ]; then ok "enroll: device $DEV"; else bail "enroll" "$T/enroll.err"; fi
check "device key is mode 600" [ "$(stat -c %a "$A/device.key")" = 600 ]
check "the server holds the device for S1" sh -c \
    "[ \"\$(sqlite3 '$D/fundwatch.db' \"SELECT supervisor_id FROM devices WHERE id = '$DEV'\")\" = S1 ]"
$VALGRIND "$AGENT" enroll --server "$URL" --code "$(newcode)" --ca "$D/tls/ca.pem" \
    >"$T/enroll2.out" 2>&1
rc=$?
check "enroll again without --force is refused" sh -c \
    "[ $rc -ne 0 ] && grep -q 'already enrolled' '$T/enroll2.out'"

# ---- captures ----------------------------------------------------------------
head -c 2500000 /dev/urandom >"$T/photo.jpg"
head -c 1300000 /dev/urandom >"$T/audio.m4a"
observe() {	# name, what, files...
	name=$1 what=$2
	shift 2
	[ $# -gt 0 ] && set -- --attach "$@"
	$VALGRIND "$AGENT" observe --subject-kind pharmacy --subject "$name" \
	    --place "清城区 test street 1" --category QY-5-1-01 --what "$what" \
	    "$@" --json >"$T/obs.json" 2>&1 && jget "$T/obs.json" id
}
OBS1=$(observe "康民大药房" "sold goods billed as medicine" "$T/photo.jpg" "$T/audio.m4a")
OBS2=$(observe "Second Pharmacy" "no evidence this time")
check "two observations captured" [ ${#OBS1} -eq 32 -a ${#OBS2} -eq 32 ]

# ---- first sync ---------------------------------------------------------------
$VALGRIND "$AGENT" sync --json >"$T/sync1.json" 2>"$T/sync1.err"
rc=$?
if [ $rc -eq 0 ] && [ "$(jget "$T/sync1.json" ok)" = true ]; then
	ok "sync: ok"
else
	nok "sync: ok"; show "$T/sync1.json"; show "$T/sync1.err"
fi
check "sync: 2 observations receipted" [ "$(jget "$T/sync1.json" observations)" = 2 ]
check "sync: 2 blobs uploaded" [ "$(jget "$T/sync1.json" blobs)" = 2 ]
$VALGRIND "$AGENT" show "$OBS1" --json >"$T/show1.json" 2>"$T/show1.err"
check "agent: observation 1 is receipted" sh -c \
    "grep -q '\"receipted\"' '$T/show1.json' || grep -q 'receipted' '$T/show1.json'"
$VALGRIND "$SERVER" device show "$DEV" --json >"$T/dev.json" 2>&1
check "server: device show lists 2 observations" [ "$(jget "$T/dev.json" observations)" = 2 ]
check "server: each observation held exactly once" \
    [ "$(sq "SELECT count(*) || '/' || count(DISTINCT id) FROM observations WHERE device_id = '$DEV'")" = 2/2 ]
check "server: observation ids are the agent's" \
    [ "$(sq "SELECT count(*) FROM observations WHERE id IN ('$OBS1', '$OBS2')")" = 2 ]
same_blobs() {
	cnt=0
	for f in "$A"/blobs/*; do
		h=$(basename "$f")
		s=$(ls "$D"/blobs/*/"$h" 2>/dev/null | head -n 1)
		[ -n "$s" ] && cmp -s "$f" "$s" || { echo "# blob $h differs or is missing" >&2; return 1; }
		cnt=$((cnt + 1))
	done
	[ $cnt -ge "$1" ]
}
check "server: every blob byte-identical to the agent's" same_blobs 2

# ---- nothing twice ------------------------------------------------------------
$VALGRIND "$AGENT" sync --json >"$T/sync2.json" 2>"$T/sync2.err"
check "second sync: ok, nothing re-sent" sh -c \
    "[ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"ok\"] and d[\"blob_bytes\"] == 0 and d[\"bytes_sent\"] == 0 and d[\"bundles\"] == 0)' '$T/sync2.json')\" = True ]"
check "server: still 2 observations, 2 blobs" \
    [ "$(sq "SELECT (SELECT count(*) FROM observations WHERE device_id = '$DEV') || '/' || (SELECT count(*) FROM blobs)")" = 2/2 ]

# ---- a sync cut mid-upload --------------------------------------------------
head -c 6000000 /dev/urandom >"$T/video.mp4"
OBS3=$(observe "Third Pharmacy" "video of the counter" "$T/video.mp4")
BLOB3=$(python3 - "$A" "$OBS3" <<'EOF'
import sqlite3, sys, os
# The newest blob file of the agent is the video's.
files = sorted((os.path.getmtime(os.path.join(sys.argv[1], "blobs", f)), f)
               for f in os.listdir(os.path.join(sys.argv[1], "blobs")))
print(files[-1][1])
EOF
)
SIZE3=$(stat -c %s "$A/blobs/$BLOB3")
CUT=3500000
python3 "$PROXY" tcp --target "$PORT" --port-file "$T/p1.port" --log "$T/p1.log" \
    --cut-after $CUT --lifetime 120 2>"$T/p1.err" &
PPID1=$!
wait_file "$T/p1.port" 100 || bail "proxy starts" "$T/p1.err"
printf '[sync]\nserver_url = https://127.0.0.1:%s\nchunk_size = 1M\n' "$(cat "$T/p1.port")" \
    >"$T/agent-p1.conf"
$VALGRIND "$AGENT" --config "$T/agent-p1.conf" sync --json >"$T/sync3.json" 2>"$T/sync3.err"
rc=$?
check "cut sync: the proxy cut the connection mid-upload" grep -q '^cut ' "$T/p1.log"
if [ $rc -ne 0 ]; then	# the pass may give up; the next one resumes
	$VALGRIND "$AGENT" --config "$T/agent-p1.conf" sync --json >"$T/sync3b.json" 2>>"$T/sync3.err"
	rc=$?
fi
if [ $rc -eq 0 ]; then ok "cut sync: resumed and finished"; else
	nok "cut sync: resumed and finished"; show "$T/sync3.json"; show "$T/sync3.err"; fi
kill $PPID1 2>/dev/null; wait $PPID1 2>/dev/null; PPID1=
UP=$(sed -n 's/^\(total\|up\) //p' "$T/p1.log" | sort -n | tail -n 1)
UP=${UP:-0}
RESENT=$((UP - SIZE3))
echo "# cut at $CUT bytes: $UP bytes went up for a blob of $SIZE3 (re-sent or overhead: $RESENT)"
echo "summary: agent-sync: blob $SIZE3 B, cut at $CUT B, $UP B through the proxy, $RESENT B beyond the blob"
# Without resume the whole blob would go again (>= SIZE3 more); with it, at
# most the chunk in flight (1 MiB) plus the bundle and TLS and HTTP overhead.
check "cut sync: re-sent at most one chunk (${RESENT} B beyond the blob)" \
    [ "$RESENT" -lt $((1048576 + 262144)) -a "$UP" -ge "$SIZE3" ]
check "cut sync: observation held once, blob identical" sh -c \
    "[ \"\$(sqlite3 '$D/fundwatch.db' \"SELECT count(*) FROM observations WHERE id = '$OBS3'\")\" = 1 ] && cmp -s '$A/blobs/$BLOB3' \"\$(ls '$D'/blobs/*/'$BLOB3')\""

# ---- 503 with Retry-After -----------------------------------------------------
head -c 200000 /dev/urandom >"$T/photo2.jpg"
OBS4=$(observe "Fourth Pharmacy" "after a busy server" "$T/photo2.jpg")
python3 "$PROXY" tls503 --target "$PORT" --port-file "$T/p2.port" --log "$T/p2.log" \
    --cert "$D/tls/server.pem" --key "$D/tls/server.key" --ca "$D/tls/ca.pem" \
    --fail 1 --retry-after 2 --lifetime 120 2>"$T/p2.err" &
PPID2=$!
wait_file "$T/p2.port" 100 || bail "TLS proxy starts" "$T/p2.err"
printf '[sync]\nserver_url = https://127.0.0.1:%s\n' "$(cat "$T/p2.port")" >"$T/agent-p2.conf"
$VALGRIND "$AGENT" --config "$T/agent-p2.conf" sync --json >"$T/sync4.json" 2>"$T/sync4.err"
rc=$?
if [ $rc -eq 0 ]; then ok "503: sync succeeded after the server's Retry-After"; else
	nok "503: sync succeeded after the server's Retry-After"; show "$T/sync4.json"
	show "$T/sync4.err"; show "$T/p2.log"; fi
check "503: the agent waited at least Retry-After (2 s) before retrying" python3 - "$T/p2.log" <<'EOF'
import sys
t503 = relay = None
for line in open(sys.argv[1]):
    w = line.split()
    if w[0] == "503" and t503 is None:
        t503 = float(w[1])
    elif w[0] == "relay" and t503 is not None and relay is None:
        relay = float(w[1])
sys.exit(0 if t503 and relay and relay - t503 >= 2.0 else 1)
EOF
kill $PPID2 2>/dev/null; wait $PPID2 2>/dev/null; PPID2=
check "503: observation 4 held once" [ "$(sq "SELECT count(*) FROM observations WHERE id = '$OBS4'")" = 1 ]

# ---- a device clock two hours fast ------------------------------------------
if command -v faketime >/dev/null 2>&1; then
	OBSK=$(observe "Skewed Pharmacy" "synced from a clock two hours fast")
	faketime -f '+2h' $VALGRIND "$AGENT" sync --json >"$T/skew.json" 2>"$T/skew.err"
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'correcting request times' "$T/skew.err"; then
		ok "clock_skew: the agent learnt the server's time and retried at once"
	else
		nok "clock_skew: the agent learnt the server's time and retried at once"
		show "$T/skew.json"; show "$T/skew.err"
	fi
	check "clock_skew: observation held once" \
	    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$OBSK'")" = 1 ]
else
	ok "clock_skew: skipped, faketime is not installed # SKIP"
fi

# ---- progress on a terminal, silence otherwise ---------------------------------
head -c 2000000 /dev/urandom >"$T/photo4.jpg"
OBSP=$(observe "Progress Pharmacy" "a bar on a terminal" "$T/photo4.jpg")
if command -v script >/dev/null 2>&1; then
	script -q -e -c "$VALGRIND '$AGENT' sync" "$T/tty.out" >/dev/null 2>&1
	check "sync on a terminal draws a progress bar (bytes, rate, time left)" sh -c \
	    "grep -q 'sending' '$T/tty.out' && grep -q '/s' '$T/tty.out' && grep -q 'left' '$T/tty.out'"
fi
OBSQ=$(observe "Quiet Pharmacy" "no terminal here" "$T/photo4.jpg")
$VALGRIND "$AGENT" sync >"$T/quiet.out" 2>"$T/quiet.err"
check "sync without a terminal: no progress output, nothing on stdout" sh -c \
    "[ ! -s '$T/quiet.out' ] && ! grep -q 'sending' '$T/quiet.err'"

# ---- a wrong CA ---------------------------------------------------------------
openssl req -x509 -newkey ed25519 -nodes -keyout "$T/wrong.key" -out "$T/wrong.pem" \
    -days 1 -subj /CN=not-the-office >/dev/null 2>&1
FUNDWATCH_AGENT_DATA=$T/agent2 $VALGRIND "$AGENT" enroll --server "$URL" --code "$(newcode)" \
    --ca "$T/wrong.pem" >"$T/wrongca.out" 2>&1
rc=$?
check "wrong CA: enroll refused, naming the certificate and the pinned CA" sh -c \
    "[ $rc -ne 0 ] && grep -q 'does not verify against the pinned CA' '$T/wrongca.out' && grep -q 'wrong.pem' '$T/wrongca.out'"
check "wrong CA: no key left behind" [ ! -e "$T/agent2/device.key" ]
cp "$A/ca.pem" "$T/ca.good"
cp "$T/wrong.pem" "$A/ca.pem"
$VALGRIND "$AGENT" sync >"$T/wrongca2.out" 2>&1
rc=$?
cp "$T/ca.good" "$A/ca.pem"
check "wrong CA: sync refused with a clear error" sh -c \
    "[ $rc -ne 0 ] && grep -q 'does not verify against the pinned CA' '$T/wrongca2.out'"

# ---- export-bundle, import-bundle --------------------------------------------
head -c 300000 /dev/urandom >"$T/photo3.jpg"
OBS5=$(observe "Fifth Pharmacy" "carried on a USB stick" "$T/photo3.jpg")
$VALGRIND "$AGENT" export-bundle --out "$T/usb" >"$T/export.out" 2>&1
check "export-bundle writes a bundle" sh -c "[ \$(ls '$T/usb'/*.fwb 2>/dev/null | wc -l) -ge 1 ]"
$VALGRIND "$SERVER" import-bundle "$T/usb" --json >"$T/import.out" 2>&1
check "import-bundle: observation 5 held once" sh -c \
    "[ \"\$(sqlite3 '$D/fundwatch.db' \"SELECT count(*) FROM observations WHERE id = '$OBS5'\")\" = 1 ]" ||
	show "$T/import.out"
$VALGRIND "$AGENT" sync --json >"$T/sync5.json" 2>"$T/sync5.err"
check "sync after import: receipt fetched, no blob sent again" sh -c \
    "[ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[\"ok\"] and d[\"blob_bytes\"] == 0 and d[\"observations\"] >= 1)' '$T/sync5.json')\" = True ]"

# ---- the daemon --------------------------------------------------------------
printf '[sync]\ninterval = 1h\n' >"$T/agent.conf"
$VALGRIND "$AGENT" run -d >"$T/daemon.log" 2>&1 &
DPID=$!
wait_file "$A/run.sock" 50 >/dev/null 2>&1
i=0
while [ ! -S "$A/run.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
OBS6=$(observe "Sixth Pharmacy" "synced by the daemon" )
i=0
while [ "$(sq "SELECT count(*) FROM observations WHERE id = '$OBS6'")" != 1 ] && [ $i -lt 200 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "daemon: a capture's nudge syncs it within 20 s" \
    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$OBS6'")" = 1 ]
kill -TERM $DPID
i=0
while kill -0 $DPID 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait $DPID
rc=$?
DPID=
check "daemon: SIGTERM stops it with status 0" [ $rc -eq 0 ]
check "daemon: socket removed" [ ! -e "$A/run.sock" ]

# SIGTERM in the middle of an upload (capped at 256 KiB/s): the daemon
# abandons the transfer and exits 0 at once; the next sync resumes from what
# the server holds.
printf '[sync]\ninterval = 1h\nbandwidth = 256K\n' >"$T/agent.conf"
head -c 4000000 /dev/urandom >"$T/video2.mp4"
OBS8=$(observe "Eighth Pharmacy" "stopped mid-upload" "$T/video2.mp4")
$VALGRIND "$AGENT" run -d >"$T/daemon2.log" 2>&1 &
DPID=$!
i=0 HELD=0
while [ $i -lt 300 ]; do
	HELD=$(stat -c %s "$D"/blobs/partial/* 2>/dev/null | sort -n | tail -n 1)
	[ "${HELD:-0}" -ge 1048576 ] && break
	sleep 0.1
	i=$((i + 1))
done
kill -TERM $DPID
i=0
while kill -0 $DPID 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $DPID 2>/dev/null && stuck=1 || stuck=0
wait $DPID
rc=$?
DPID=
check "daemon: SIGTERM mid-upload exits 0 within 5 s (server held ${HELD:-0} B)" \
    [ $stuck -eq 0 -a $rc -eq 0 -a "${HELD:-0}" -ge 1048576 ]
rm -f "$T/agent.conf"
HELD=$(stat -c %s "$D"/blobs/partial/* 2>/dev/null | sort -n | tail -n 1)
$VALGRIND "$AGENT" sync --json >"$T/sync9.json" 2>"$T/sync9.err"
SENT9=$(jget "$T/sync9.json" blob_bytes)
echo "# after SIGTERM the server held ${HELD:-0} B; the next sync sent ${SENT9:-?} B of blob"
resume_ok() {
	[ "$(jget "$T/sync9.json" ok)" = true ] && [ -n "$SENT9" ] &&
	    [ "$SENT9" -le $((4100000 - ${HELD:-0})) ] &&
	    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$OBS8'")" = 1 ]
}
check "resume after SIGTERM: only the bytes the server lacked were sent" resume_ok

# ---- revocation ----------------------------------------------------------------
OBS7=$(observe "Seventh Pharmacy" "captured before the revocation")
$VALGRIND "$SERVER" device revoke "$DEV" --reason "device lost" >"$T/revoke.out" 2>&1 ||
	show "$T/revoke.out"
$VALGRIND "$AGENT" sync --json >"$T/sync7.json" 2>"$T/sync7.err"
rc=$?
if [ "$(jget "$T/sync7.json" revoked)" = true ]; then
	ok "revocation: verified by the agent"
else
	nok "revocation: verified by the agent"; show "$T/sync7.json"; show "$T/sync7.err"
fi
check "revocation: the private key is destroyed" [ ! -e "$A/device.key" ]
$VALGRIND "$AGENT" sync >"$T/sync8.out" 2>&1
rc=$?
check "revocation: later syncs refuse and say so" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'revoked' '$T/sync8.out'"
check "revocation: the pending capture stays on the device" sh -c \
    "$VALGRIND '$AGENT' show '$OBS7' >/dev/null 2>&1"

# ---- enroll again after the revocation ----------------------------------------
$VALGRIND "$AGENT" enroll --force --server "$URL" --code "$(newcode)" --json \
    >"$T/enroll3.json" 2>"$T/enroll3.err"
DEV2=$(jget "$T/enroll3.json" device)
check "enroll --force: a new key and device id (pinned CA reused)" \
    [ ${#DEV2} -eq 32 -a "$DEV2" != "$DEV" -a "$(stat -c %a "$A/device.key")" = 600 ]
OBS9=$(observe "Ninth Pharmacy" "after enrolling again")
$VALGRIND "$AGENT" sync --json >"$T/sync10.json" 2>"$T/sync10.err"
reenroll_ok() {
	[ "$(jget "$T/sync10.json" ok)" = true ] &&
	    [ "$(jget "$T/sync10.json" skipped)" -ge 1 ] &&
	    [ "$(sq "SELECT device_id FROM observations WHERE id = '$OBS9'")" = "$DEV2" ]
}
if reenroll_ok; then ok "after enroll --force: new captures sync, old-key bundles skipped"; else
	nok "after enroll --force: new captures sync, old-key bundles skipped"
	show "$T/sync10.json"; show "$T/sync10.err"; fi

[ $failed -eq 0 ]
