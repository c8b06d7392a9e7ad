#!/bin/sh
# Runs every test of the tree and ends with one line "N passed, N failed".
#
# Unit tests are the cmocka binaries in $B/tests/ (each case counts once);
# script tests are tests/integration/*.sh and count what they print as
# "ok N - ..." / "not ok N - ..." lines (TAP-style), or once by exit status
# if they print none.  A script that prints "skip: reason" is listed as
# skipped, never silently passed.
#
# RUNNER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu") runs each unit
# binary; UNIT_ONLY=1 leaves out the scripts (a cross build has no server).
B=${B:-build}
export B
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT INT TERM

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	CMOCKA_MESSAGE_OUTPUT=stdout ${RUNNER:-} "$t" >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed before cmocka could count
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $(basename "$t"):"
		grep -v '^\[ *\(RUN\|OK\) *\]' "$log" | sed 's/^/    /'
	else
		echo "ok   $(basename "$t"): $p"
	fi
	grep '^summary: ' "$log" | sed 's/^summary: /     /'
done

for t in tests/integration/*.sh tests/fault/*.sh tests/net/*.sh tests/hostile/*.sh; do
	[ -f "$t" ] && [ -z "${UNIT_ONLY:-}" ] || continue
	name=$(basename "$t" .sh)
	sh "$t" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep '^skip: ' "$log" | head -n 1)
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ -z "$s" ]; then
		if [ "$rc" -eq 0 ]; then p=1; else f=1; fi
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name:"
		sed 's/^/    /' "$log"
	elif [ -n "$s" ] && [ "$p" -eq 0 ]; then
		echo "skip $name: ${s#skip: }"
	else
		echo "ok   $name: $p"
	fi
	# Lines a script wants on the summary (e.g. "cctv-age: 67 passed, ...").
	grep '^summary: ' "$log" | sed 's/^summary: /     /'
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
