#!/bin/sh
# clock.sh: wrong clocks and terms that end while a device is offline
# (DESIGN invariant 3), with libfaketime (`faketime`).
#
# A device clock wrong by hours (+5 h, -7 h) or years (+3 y, -2 y): a
# capture made under that clock syncs under it (the agent learns the
# server's time from clock_skew and corrects its requests) and is held
# exactly once, or, where the capture time cannot be trusted, is refused
# with a clear JSON error and nothing is held.  Every observation held has
# a capture time within a day of the real one or is refused; none is lost
# silently (the agent keeps it).
#
# A supervisor term (Gaoping profile: the appointment lapses at the term's
# end; grace period 30 days) that ends during an offline week: the office
# and the enrollment happen before the end (server under faketime), the
# device captures two days before the end and two days after it (device
# clock right for those days), then syncs a week after the end, within the
# grace period, against the server on the real clock: the capture before
# the end is accepted, the one after is refused as not_appointed.
NAME=fault-clock
. "$(dirname "$0")/../lib/common.shlib"

command -v faketime >/dev/null 2>&1 || { echo "skip: faketime (libfaketime) is not installed"; exit 0; }
# The boot clock stays true; only the wall clock is wrong, as on a device.
FAKETIME_DONT_FAKE_MONOTONIC=1
export FAKETIME_DONT_FAKE_MONOTONIC

# ---- a device clock wrong by hours or years -------------------------------------------
setup qingyuan
ok "server on 127.0.0.1:$PORT, agent enrolled as $DEV"
for off in +5h -7h +3y -2y; do
	case $off in
	*y) secs=$(( ${off%y} * 365 * 86400 )) ;;
	*h) secs=$(( ${off%h} * 3600 )) ;;
	esac
	real=$(date +%s)
	faketime -f "$off" "$AGENT" observe --subject-kind pharmacy --subject "Clock Pharmacy" \
	    --place "clock street" --category QY-5-1-01 --what "device clock $off" \
	    --json >"$T/c.json" 2>"$T/c.err"
	id=$(printed_id "$T/c.json")
	if [ -z "$id" ]; then
		nok "clock $off: capture"; show "$T/c.err"; continue
	fi
	echo "$id $off" >>"$T/clock-ids"
	faketime -f "$off" "$AGENT" sync --json >"$T/cs.json" 2>"$T/cs.err"
	held=$(sq "SELECT count(*) FROM observations WHERE id = '$id'")
	cap=$(sq "SELECT captured FROM observations WHERE id = '$id'")
	err=$(jget "$T/cs.json" error)
	case $off in
	*h)
		diff=$(( ${cap:-0} - real ))
		echo "# clock $off: held $held time(s); capture time recorded $diff s from the real one"
		check "clock $off: synced under the wrong clock, held exactly once" [ "$held" = 1 ]
		;;
	*)
		echo "# clock $off: held $held time(s); the pass said: $(jget "$T/cs.json" message)"
		if [ "$held" = 1 ]; then
			ok "clock $off: synced under the wrong clock, held exactly once"
		else
			check "clock $off: refused with a clear error ($err), nothing held, the agent keeps it" \
			    sh -c "[ -n '$err' ] && [ '$held' = 0 ] && '$AGENT' show '$id' >/dev/null 2>&1"
		fi
		;;
	esac
done
# The clock put right: whatever waits is offered again.
"$AGENT" sync --json >"$T/true.json" 2>"$T/true.err"
echo "# the sync on the true clock: $(jget "$T/true.json" error) $(jget "$T/true.json" message)"
while read -r id off; do
	h=$(sq "SELECT count(*) FROM observations WHERE id = '$id'")
	echo "# clock $off: after the true-clock sync held $h time(s)$( [ "$h" = 1 ] && echo ", captured $(sq "SELECT datetime(captured, 'unixepoch') || ', received ' || datetime(received, 'unixepoch') FROM observations WHERE id = '$id'")")"
	[ "$h" = 1 ] || "$AGENT" show "$id" >/dev/null 2>&1 || echo "# clock $off: $id neither held nor kept!" >&2
done <"$T/clock-ids"
held_or_kept() {
	while read -r id off; do
		[ "$(sq "SELECT count(*) FROM observations WHERE id = '$id'")" = 1 ] ||
		    "$AGENT" show "$id" >/dev/null 2>&1 || return 1
	done <"$T/clock-ids"
}
check "clock: every capture is held once or still kept by the agent" held_or_kept
dups=$(sq "SELECT count(*) - count(DISTINCT id) FROM observations")
check "clock: no observation held twice" [ "$dups" = 0 ]
# A capture time the server's clock has not reached cannot be true: an
# observation "captured" years after it was received must not be held.
future=$(sq "SELECT count(*) FROM observations WHERE captured > received + 86400")
check "clock: no observation held whose capture time is more than a day after its receipt ($future)" \
    [ "$future" = 0 ]
server_stop

# ---- a term that ends during an offline week ----------------------------------------
D=$T/server2 A=$T/agent2
FUNDWATCH_DATA=$D FUNDWATCH_AGENT_DATA=$A
export FUNDWATCH_DATA FUNDWATCH_AGENT_DATA
PORT_FIXED=$(free_port)
# The term's last day E is 8 days ago; its start 3 years (GP art 7) before.
E=$(date -u -d '8 days ago' +%Y-%m-%d)
START=$(date -u -d "$E 3 years ago" +%Y-%m-%d)
OFFICE="@$(date -u -d "$E 10 days ago" '+%Y-%m-%d') 02:00:00"
BEFORE="@$(date -u -d "$E 2 days ago" '+%Y-%m-%d') 02:00:00"
AFTER="@$(date -u -d "$E 2 days" '+%Y-%m-%d') 02:00:00"
faketime -f "$OFFICE" "$SERVER" init --data "$D" --profile gaoping >"$T/init2.out" 2>&1 ||
	bail "server init (gaoping) 10 days before the term's end" "$T/init2.out"
python3 - "$D/fundwatch.conf" "127.0.0.1:$PORT_FIXED" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s, k = re.subn(r"(?m)^[;#]?\s*listen\s*=.*$", "listen = " + sys.argv[2], s, count=1)
if k == 0:
    s = s.replace("[server]", "[server]\nlisten = " + sys.argv[2], 1)
open(p, "w").write(s)
EOF
METHOD=$(sed -n 's/^\[method \([a-z_]*\)\].*/\1/p' "$D/profile.conf" | head -n 1)
CAT=$(grep -o '^\[category [A-Z0-9-]*' "$D/profile.conf" | head -n 1 | cut -d' ' -f2)
[ -n "$CAT" ] || CAT=$(grep -o 'GP-[0-9]*-[0-9]*-[0-9]*' "$D/profile.conf" | head -n 1)
faketime -f "$OFFICE" "$SERVER" supervisor add --name "Term Ends" --birth 1980-05-01 \
    --method "${METHOD:-public_selection}" --id S2 --attest chinese_citizen --attest law_abiding \
    --attest knows_regulations --attest fit_for_duty --attest expertise \
    --start "$START" --json >"$T/sup2.json" 2>&1 || bail "supervisor add (gaoping)" "$T/sup2.json"
TEND=$(jget "$T/sup2.json" end)
check "the term runs $START .. $TEND (its last day 8 days ago)" [ "$TEND" = "$E" ]
# Under env (an exec, not a fork): $SPID is the server itself.
FTLIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
[ -n "$FTLIB" ] || bail "libfaketime.so.1 found"
server_start env LD_PRELOAD="$FTLIB" FAKETIME="$OFFICE" || bail "server starts 10 days before the term's end" "$T/server.log"
faketime -f "$OFFICE" "$SERVER" device code --supervisor S2 --json >"$T/code2.json" 2>&1
faketime -f "$OFFICE" "$AGENT" enroll --server "$URL" --code "$(jget "$T/code2.json" code)" \
    --ca "$D/tls/ca.pem" --json >"$T/enroll2.json" 2>"$T/enroll2.err" ||
	bail "enroll 10 days before the term's end" "$T/enroll2.err"
ok "enrolled 10 days before the term's end"
server_stop
cap_at() {	# FAKETIME OUT WHAT
	faketime -f "$1" "$AGENT" observe --subject-kind pharmacy --subject "Term Pharmacy" \
	    --place "term street" --category "$CAT" --what "$3" --json >"$2" 2>"$2.err"
}
cap_at "$BEFORE" "$T/before.json" "two days before the term's end"
cap_at "$AFTER" "$T/after.json" "two days after the term's end"
IDB=$(printed_id "$T/before.json")
IDA=$(printed_id "$T/after.json")
check "offline: both captures recorded on the device" [ ${#IDB} -eq 32 -a ${#IDA} -eq 32 ]
[ ${#IDB} -eq 32 ] || show "$T/before.json.err"
server_start || bail "server restarts on the real clock" "$T/server.log"
"$AGENT" sync --json >"$T/term-sync.json" 2>"$T/term-sync.err"
"$AGENT" sync --json >"$T/term-sync2.json" 2>>"$T/term-sync.err"
check "within the grace period: the capture before the term's end is accepted (held once)" \
    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$IDB'")" = 1 ]
check "the capture after the term's end is not held" \
    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$IDA'")" = 0 ]
if grep -q 'not_appointed' "$T/term-sync.json" "$T/term-sync2.json" "$T/term-sync.err"; then
	ok "the capture after the term's end is refused as not_appointed"
else
	nok "the capture after the term's end is refused as not_appointed"
	show "$T/term-sync.json"; show "$T/term-sync.err"
fi
"$AGENT" show "$IDA" --json >"$T/after-show.json" 2>&1
check "the device keeps the refused capture, marked refused with the reason" \
    [ "$(jget "$T/after-show.json" status)" = refused -a \
    -n "$(jget "$T/after-show.json" refusal | grep not_appointed)" ]
"$AGENT" show "$IDB" --json >"$T/before-show.json" 2>&1
check "and the accepted one receipted" [ "$(jget "$T/before-show.json" status)" = receipted ]
"$AGENT" status --json >"$T/status.json" 2>&1
check "status counts it refused" [ "$(jget "$T/status.json" refused_observations)" = 1 ]
"$SERVER" audit verify --data "$D" >"$T/audit.out" 2>&1
check "audit verify passes" grep -q 'chain intact' "$T/audit.out"
server_stop
echo "summary: clock: device clocks +5h -7h +3y -2y and a term ending offline checked"
[ $failed -eq 0 ]
