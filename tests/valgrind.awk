# Sums valgrind reports (run-tests.sh): processes by program, how many
# counted errors, how many never finished (no ERROR SUMMARY).
/Command: / {
	prog = $3
	sub(/.*\//, "", prog)
	procs[prog]++
	n++
}
/ERROR SUMMARY: / {
	done++
	if ($4 + 0 > 0)
		bad++
	errors += $4
}
END {
	s = ""
	for (p in procs)
		s = s (s == "" ? "" : ", ") procs[p] " " p
	printf "%d processes (%s), %d errors in %d of them, %d unfinished\n",
	    n, s, errors, bad, n - done
}
