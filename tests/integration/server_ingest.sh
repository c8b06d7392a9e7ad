#!/bin/sh
# Starts the real fundwatch-server on 127.0.0.1 (port 0) in a temp data
# folder and runs the protocol scenarios of server_ingest.py against it.
B=${B:-build}
here=$(dirname "$0")
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT INT TERM

$VALGRIND "$B/fundwatch-server" init --data "$t/d" --profile qingyuan >"$t/init.log" 2>&1 || {
	echo "not ok 1 - init"; cat "$t/init.log"; exit 1; }
sed -i 's/^listen *=.*/listen = 127.0.0.1:0/; s/^disk_reserve *=.*/disk_reserve = 1M/' \
    "$t/d/fundwatch.conf"
$VALGRIND "$B/fundwatch-server" run --data "$t/d" -d >"$t/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$t/d/run/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$t/d/run/port" ]; then
	echo "not ok 1 - server did not start"; cat "$t/server.log"; exit 1
fi
python3 "$here/server_ingest.py" "$B/fundwatch-server" "$t/d" "$(cat "$t/d/run/port")"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# server: /' "$t/server.log" | tail -n 40

# Restart with a disk reserve no disk has free: uploads are refused.
kill -TERM "$pid"
wait "$pid"
sed -i 's/^disk_reserve *=.*/disk_reserve = 1000000G/' "$t/d/fundwatch.conf"
$VALGRIND "$B/fundwatch-server" run --data "$t/d" -d >>"$t/server.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$t/d/run/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
python3 "$here/server_reserve.py" "$B/fundwatch-server" "$t/d" "$(cat "$t/d/run/port")" \
    >"$t/reserve.out" 2>&1
rc2=$?
sed 's/^ok [0-9]*/ok/; s/^not ok [0-9]*/not ok/' "$t/reserve.out"
[ $rc2 -eq 0 ] || echo "not ok - server_reserve.py exited $rc2"
[ $rc -eq 0 ] && [ $rc2 -eq 0 ]
