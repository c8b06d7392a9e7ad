#!/bin/sh
# Runs each libFuzzer harness for FUZZ_SECONDS over its corpus in the tree
# (tests/fuzz/corpus/NAME, read only) plus, for fuzz_age, the C2SP CCTV age
# vectors from ../shared when present.  New inputs go to a temp folder.
set -eu
bdir=$1
shift
secs=${FUZZ_SECONDS:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
for src in "$@"; do
	name=$(basename "$src" .c)
	mkdir -p "$work/$name"
	seeds="tests/fuzz/corpus/${name#fuzz_}"
	[ -d "$seeds" ] || seeds=
	if [ "$name" = fuzz_age ] && [ -d ../shared/vectors/cctv-age/testdata ]; then
		# The vectors carry test headers before the age file: strip them.
		for v in ../shared/vectors/cctv-age/testdata/*; do
			sed '1,/^$/d' "$v" >"$work/$name/cctv-$(basename "$v")"
		done
	fi
	echo "fuzz: $name for ${secs}s"
	"$bdir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 "$work/$name" $seeds 2>"$work/$name.log" || {
		tail -n 40 "$work/$name.log"
		echo "fuzz: $name FAILED"
		exit 1
	}
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$name.log" |
	    sed "s/^/fuzz: $name /"
done
echo "fuzz: all harnesses ran ${secs}s without a crash"
