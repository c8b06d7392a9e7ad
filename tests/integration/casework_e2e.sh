#!/bin/sh
# Casework end to end on loopback with the real agent and server (issue 6):
# see casework_e2e.py.
B=${B:-build}
command -v python3 >/dev/null 2>&1 || { echo "skip: python3 not installed"; exit 0; }
AGENT=$B/fundwatch-agent
SERVER=$B/fundwatch-server
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT INT TERM
. "$(dirname "$0")/../lib/valgrind.shlib"
vg_wrap "$t/vg" || exit 1
python3 "$(dirname "$0")/casework_e2e.py" "$SERVER" "$AGENT"
