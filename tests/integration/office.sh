#!/bin/sh
# The officer API (proto/OFFICE.md) against the real fundwatch-server on
# 127.0.0.1 (port 0) in a temporary data folder: office.py sets up units,
# officers, routes and a device's clues, then asserts the role x endpoint
# x unit matrix, tokens, evidence streaming and its memory, audit and the
# login rate limits.
B=${B:-build}
here=$(dirname "$0")
command -v age >/dev/null 2>&1 || { echo "skip: the age tool is not installed"; exit 0; }
. "$here/../lib/server.shlib"

server_up -v
python3 "$here/office.py" "$SERVER" "$t/d" "$PORT" \
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
