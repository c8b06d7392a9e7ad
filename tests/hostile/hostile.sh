#!/bin/sh
# hostile.sh: hostile input against the real fundwatch-server (issue 10,
# "Hostile input").  Starts the server on 127.0.0.1 (port 0) in a temp data
# folder, with a 5 s request timeout (so that slowloris and the connection
# floods are judged within the test's time; the default is 30 s), and runs
# tests/hostile/hostile.py against it: each attack must get its specific
# JSON error and leave the database and the blob folder unchanged; the
# officer API is attacked too (hostile_office.py).
# FW_TORTURE=1 floods with 10,000 connections instead of 1,000.
B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
SERVER=$B/fundwatch-server
HERE=$(cd "$(dirname "$0")" && pwd)

for tool in python3 openssl; do
	command -v $tool >/dev/null 2>&1 || { echo "skip: $tool is not installed"; exit 0; }
done
[ -x "$SERVER" ] || { echo "skip: $SERVER not built"; exit 0; }

T=$(mktemp -d /tmp/fw-hostile.XXXXXX) || exit 1
SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

"$SERVER" init --data "$T/d" --profile qingyuan >"$T/init.log" 2>&1 || {
	echo "not ok 1 - init"; sed 's/^/#   /' "$T/init.log"; exit 1; }
python3 - "$T/d/fundwatch.conf" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
for k, v in (("listen", "127.0.0.1:0"), ("timeout", "5s"), ("disk_reserve", "1M")):
    s, m = re.subn(r"(?m)^[;#]?\s*%s\s*=.*$" % k, "%s = %s" % (k, v), s, count=1)
    if m == 0:
        sec = "[store]" if k == "disk_reserve" else "[server]"
        s = s.replace(sec, "%s\n%s = %s" % (sec, k, v), 1)
open(p, "w").write(s)
PY
"$SERVER" run --data "$T/d" -d >"$T/server.log" 2>&1 &
SPID=$!
i=0
while [ ! -s "$T/d/run/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$T/d/run/port" ]; then
	echo "not ok 1 - server did not start"; sed 's/^/#   /' "$T/server.log"; exit 1
fi
timeout 900 python3 "$HERE/hostile.py" "$SERVER" "$T/d" "$(cat "$T/d/run/port")" "$SPID"
rc=$?
if ! kill -0 "$SPID" 2>/dev/null; then
	echo "not ok - the server died during the attacks"
	rc=1
fi
[ $rc -eq 0 ] || sed 's/^/# server: /' "$T/server.log" | grep -v 'connection closed' | tail -n 40
exit $rc
