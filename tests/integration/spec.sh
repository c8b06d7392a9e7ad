#!/bin/sh
# The wire spec matches the code: every fw_err code (common/err.h) is in
# proto/PROTOCOL.md's error table with the same HTTP status, and every limit
# of common/fw.h that the spec's limits table names has the same value.
n=0
bad=0
t=$(mktemp)
trap 'rm -f "$t"' EXIT INT TERM
sed -n 's/.*X(FW_[A-Z0-9_]*, "\([a-z0-9_]*\)", \([0-9]*\),.*/\1 \2/p' common/err.h >"$t"
while read -r name status; do
	[ "$name" = ok ] && continue
	n=$((n + 1))
	if grep -q "^| \`$name\` | $status |" proto/PROTOCOL.md; then
		echo "ok $n - error code $name ($status) is in PROTOCOL.md"
	else
		echo "not ok $n - error code $name ($status) is missing from PROTOCOL.md's table, or has another status"
		bad=1
	fi
done <"$t"
[ "$n" -gt 40 ] || { echo "not ok - only $n codes read from common/err.h"; bad=1; }

limit() {	# macro, the value as PROTOCOL.md writes it
	n=$((n + 1))
	v=$(printf '#include "fw.h"\n%s\n' "$1" | cpp -P -I common - 2>/dev/null | tail -n 1 |
	    python3 -c 'import re, sys; print(eval(re.sub(r"(?<=[0-9])[uUlL]+", "", sys.stdin.read())))' 2>/dev/null)
	if [ "$v" = "$2" ] && grep -q "$3" proto/PROTOCOL.md; then
		echo "ok $n - $1 = $2, as PROTOCOL.md says"
	else
		echo "not ok $n - $1 is '$v' in fw.h; PROTOCOL.md says $2 ('$3')"
		bad=1
	fi
}
limit FW_MAX_BUNDLE 2097152 '| bundle on the wire | 2 MiB (2097152) |'
limit FW_MAX_MANIFEST 8388608 '| manifest after inflation | 8 MiB (8388608) |'
limit FW_MAX_INFLATE_RATIO 100 '| inflation ratio past the first 64 KiB | 100 |'
limit FW_MAX_OBSERVATIONS 256 '| observations per bundle | 256 |'
limit FW_MAX_EVIDENCE 32 '| evidence items per observation | 32 |'
limit FW_MAX_CATEGORIES 16 '| categories per observation | 1–16 |'
limit FW_MAX_WHAT 16384 '| `what` | 16384 bytes |'
limit FW_MAX_NAME 256 '| `subject.name` | 256 bytes |'
limit FW_MAX_PLACE 512 '| `place.text` | 512 bytes |'
limit FW_MAX_CODE 32 '| codes | 32 bytes |'
limit FW_MAX_MEDIA_TYPE 127 '| `media_type` | 127 bytes |'
limit FW_MAX_BLOB 4294967296 '| blob (age file) | 4 GiB (4294967296) |'
limit FW_MAX_CHUNK 4194304 '| upload chunk | 4 MiB (4194304) |'
limit FW_AUTH_WINDOW 300 '| authentication window | ±300 s |'
[ $bad -eq 0 ]
