#!/bin/sh
# Casework on the real fundwatch-server (issue 6): starts it on 127.0.0.1
# port 0 in a temp data folder and runs casework.py against it.
B=${B:-build}
here=$(dirname "$0")
. "$here/../lib/server.shlib"

for tool in age openssl sha256sum; do
	command -v $tool >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 0; }
done
server_up
python3 "$here/casework.py" "$SERVER" "$t/d" "$PORT"
rc=$?
[ $rc -eq 0 ] || sed 's/^/# server: /' "$t/server.log" | tail -n 40
exit $rc
