#!/bin/sh
# Starts the real fundwatch-server on 127.0.0.1 (port 0) in a temp data
# folder and runs the protocol scenarios of server_ingest.py against it.
B=${B:-build}
here=$(dirname "$0")
. "$here/../lib/server.shlib"

server_up
python3 "$here/server_ingest.py" "$SERVER" "$t/d" "$PORT"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# server: /' "$t/server.log" | tail -n 40

# Restart with a disk reserve no disk has free: uploads are refused.
kill -TERM "$pid"
wait "$pid"
sed -i 's/^disk_reserve *=.*/disk_reserve = 1000000G/' "$t/d/fundwatch.conf"
server_run
python3 "$here/server_reserve.py" "$SERVER" "$t/d" "$PORT" \
    >"$t/reserve.out" 2>&1
rc2=$?
sed 's/^ok [0-9]*/ok/; s/^not ok [0-9]*/not ok/' "$t/reserve.out"
[ $rc2 -eq 0 ] || echo "not ok - server_reserve.py exited $rc2"
[ $rc -eq 0 ] && [ $rc2 -eq 0 ]
