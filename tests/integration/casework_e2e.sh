#!/bin/sh
# Casework end to end on loopback with the real agent and server (issue 6):
# see casework_e2e.py.
B=${B:-build}
for tool in python3; do
	command -v $tool >/dev/null 2>&1 || { echo "skip: $tool not installed"; exit 0; }
done
exec python3 "$(dirname "$0")/casework_e2e.py" "$B"
