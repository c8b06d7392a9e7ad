#!/bin/sh
# The officer API (proto/OFFICE.md) against the real fundwatch-server on
# 127.0.0.1 (port 0) in a temporary data folder: office.py sets up units,
# officers, routes and a device's clues, then asserts the role x endpoint
# x unit matrix, tokens, evidence streaming and its memory, audit and the
# login rate limits.
B=${B:-build}
here=$(dirname "$0")
command -v age >/dev/null 2>&1 || { echo "skip: the age tool is not installed"; exit 0; }
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT INT TERM

$VALGRIND "$B/fundwatch-server" init --data "$t/d" --profile qingyuan >"$t/init.log" 2>&1 || {
	echo "not ok 1 - init"; cat "$t/init.log"; exit 1; }
sed -i 's/^listen *=.*/listen = 127.0.0.1:0/; s/^disk_reserve *=.*/disk_reserve = 1M/' \
    "$t/d/fundwatch.conf"
$VALGRIND "$B/fundwatch-server" run --data "$t/d" -d -v >"$t/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$t/d/run/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$t/d/run/port" ]; then
	echo "not ok 1 - server did not start"; cat "$t/server.log"; exit 1
fi
python3 "$here/office.py" "$B/fundwatch-server" "$t/d" "$(cat "$t/d/run/port")" \
    "$pid" "$t/server.log" "$t/sigterm"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# server: /' "$t/server.log" | tail -n 40
# office.py ends by sending SIGTERM itself (a stream under way must
# finish); a second one would find the server exiting without handlers.
[ -e "$t/sigterm" ] || kill -TERM "$pid"
wait "$pid"
src=$?
pid=
[ $src -eq 0 ] || echo "not ok - server exited $src after SIGTERM"
[ $rc -eq 0 ] && [ $src -eq 0 ]
