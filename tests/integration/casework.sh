#!/bin/sh
# Casework on the real fundwatch-server (issue 6): starts it on 127.0.0.1
# port 0 in a temp data folder and runs casework.py against it.
B=${B:-build}
here=$(dirname "$0")
t=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"; }
trap cleanup EXIT INT TERM

for tool in age openssl sha256sum; do
	command -v $tool >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 0; }
done
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
python3 "$here/casework.py" "$B/fundwatch-server" "$t/d" "$(cat "$t/d/run/port")"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# server: /' "$t/server.log" | tail -n 40
exit $rc
