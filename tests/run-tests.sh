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
# binary; UNIT_ONLY=1 leaves out the scripts (a cross build has no server);
# SCRIPTS="name ..." runs only those scripts (by base name).
#
# VALGRIND (make valgrind: "valgrind --error-exitcode=99 ...") is the
# command the scripts put before every fundwatch-server and fundwatch-agent
# they start.  Each such process writes its report to a file of its own
# (--log-file, added here); a script any of whose processes counted an error
# (leaks of the kinds --errors-for-leak-kinds names count as errors) fails,
# with the reports shown.  A process that never wrote its ERROR SUMMARY
# (killed with SIGKILL, say) is counted as unfinished.
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
	case " ${SCRIPTS:-$name} " in *" $name "*) ;; *) continue ;; esac
	vg=
	if [ -n "${VALGRIND:-}" ]; then
		vg=$(mktemp -d)
		VALGRIND="$VALGRIND --log-file=$vg/%p.log" sh "$t" >"$log" 2>&1
	else
		sh "$t" >"$log" 2>&1
	fi
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep '^skip: ' "$log" | head -n 1)
	if [ -n "$vg" ]; then
		for r in "$vg"/*.log; do
			[ -f "$r" ] || continue
			n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) error.*/\1/p' "$r" | tail -n 1)
			if [ "${n:-0}" -gt 0 ]; then
				echo "not ok - valgrind: $n errors in" \
				    "$(sed -n 's/.*Command: //p' "$r" | head -n 1)"
				sed 's/^/#   /' "$r"
			fi
		done >>"$log"
		f=$((f + $(grep -c '^not ok - valgrind: ' "$log")))
		echo "summary: valgrind $name: $(cat "$vg"/*.log 2>/dev/null | awk -f tests/valgrind.awk)" >>"$log"
		rm -rf "$vg"
	fi
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
