#!/bin/sh
# diskfull.sh: full disks (DESIGN invariants 1 and 5).  The agent's data
# folder on a 3 MiB tmpfs: captures with evidence go on until one hits the
# full disk; it fails with a clear error (naming the lack of space) and
# leaves nothing partial (no tmp/ file, no orphan blob, no row, SQLite
# clean); every capture before it is intact and syncs.  The server's data
# folder on a small tmpfs with the disk reserve off (a truly full disk):
# the upload that hits it fails with a clear error, holds no observation
# and no blob that is not whole; once space is freed (the tmpfs grown),
# the next sync completes and each observation is held exactly once.  Then
# with a reserve larger than the free space: insufficient_storage, nothing
# written.
NAME=fault-diskfull
. "$(dirname "$0")/../lib/common.shlib"

[ "$(id -u)" = 0 ] || { echo "skip: mounting a tmpfs needs root here"; exit 0; }
command -v age >/dev/null 2>&1 || { echo "skip: age is not installed"; exit 0; }
# mount_tmpfs DIR SIZE
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0700" fw-fault-tmpfs "$1" || return 1
	MOUNTS="$MOUNTS $1"
}

# set_reserve SIZE: the server's [store] disk_reserve.
set_reserve() {
	python3 - "$D/fundwatch.conf" "$1" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s, k = re.subn(r"(?m)^[;#]?\s*disk_reserve\s*=.*$", "disk_reserve = " + sys.argv[2], s, count=1)
if k == 0:
    s += "\n[store]\ndisk_reserve = %s\n" % sys.argv[2]
open(p, "w").write(s)
EOF
}

# ---- the agent -------------------------------------------------------------------
server_init qingyuan
server_start || bail "server writes run/port within 10 s" "$T/server.log"
supervisor_add S1 || bail "supervisor add" "$T/sup-S1.json"
mount_tmpfs "$A" 3m || bail "tmpfs mounts"
enroll S1 || bail "enroll on a 3 MiB tmpfs" "$T/enroll.err"
ok "agent enrolled on a 3 MiB tmpfs"
: >"$T/acked"
full=0 k=0
while [ $k -lt 40 ]; do
	k=$((k + 1))
	head -c 400000 /dev/urandom >"$T/ev$k.jpg"
	before=$(sqlite3 "$A/agent.db" 'SELECT count(*) FROM obs' 2>&1)
	if observe "$T/o$k.json" "$T/ev$k.jpg"; then
		echo "$(printed_id "$T/o$k.json") $(sha256sum "$T/ev$k.jpg" | cut -c1-64)" >>"$T/acked"
		continue
	fi
	full=$k
	break
done
acked=$(wc -l <"$T/acked")
echo "# agent: $acked captures fit, capture $full hit the full disk"
if [ $full -gt 0 ] && grep -qi 'space\|full\|ENOSPC' "$T/o$full.json" "$T/o$full.json.err"; then
	ok "agent: the capture that hits the full disk fails naming the lack of space"
else
	nok "agent: the capture that hits the full disk fails naming the lack of space"
	[ $full -gt 0 ] && { show "$T/o$full.json"; show "$T/o$full.json.err"; }
fi
after=$(sqlite3 "$A/agent.db" 'SELECT count(*) FROM obs' 2>&1)
check "agent: the failed capture left no row ($before before, $after after)" [ "$before" = "$after" ]
"$AGENT" status --json >"$T/st.json" 2>&1
check "agent: the store opens after the failure" [ "$(jget "$T/st.json" enrolled)" = true ]
verify --agent "$A" --acked "$T/acked" --age-key "$D/keys/office.key" --check agent
# Space freed (a file of the user's removed): the store works again.
rm -f "$A/tmp/"* 2>/dev/null
mount -o remount,size=64m "$A"
if observe "$T/o-after.json" "$T/ev1.jpg"; then
	echo "$(printed_id "$T/o-after.json") $(sha256sum "$T/ev1.jpg" | cut -c1-64)" >>"$T/acked"
	ok "agent: captures work again once space is freed"
else
	nok "agent: captures work again once space is freed"; show "$T/o-after.json.err"
fi
if sync_until_done 5; then ok "agent: everything captured syncs"; else
	nok "agent: everything captured syncs"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked" --converged --check server
AFIG=$FIGURES
server_stop

# ---- the server --------------------------------------------------------------------
D=$T/server2 A=$T/agent2
FUNDWATCH_DATA=$D FUNDWATCH_AGENT_DATA=$A
export FUNDWATCH_DATA FUNDWATCH_AGENT_DATA
PORT_FIXED=$(free_port)
mount_tmpfs "$D" 4m || bail "tmpfs mounts"
server_init qingyuan
set_reserve 0
server_start || bail "server on a 4 MiB tmpfs starts" "$T/server.log"
supervisor_add S1 || bail "supervisor add" "$T/sup-S1.json"
enroll S1 || bail "enroll" "$T/enroll.err"
used=$(df -k --output=avail "$D" | tail -n 1)
ok "server on a 4 MiB tmpfs ($used KiB free), agent enrolled"
printf '[sync]\nchunk_size = 256K\n' >"$T/agent.conf"
: >"$T/acked2"
head -c 300000 /dev/urandom >"$T/small.jpg"
head -c 6000000 /dev/urandom >"$T/big.jpg"
observe "$T/s1.json" "$T/small.jpg" &&
    echo "$(printed_id "$T/s1.json") $(sha256sum "$T/small.jpg" | cut -c1-64)" >>"$T/acked2"
observe "$T/b1.json" "$T/big.jpg" &&
    echo "$(printed_id "$T/b1.json") $(sha256sum "$T/big.jpg" | cut -c1-64)" >>"$T/acked2"
BIG=$(printed_id "$T/b1.json")
# The agent retries a 5xx within its pass (30 s budget): 3 s show it.
timeout 3 "$AGENT" sync --json >"$T/full.json" 2>"$T/full.err"
rc=$?
if [ $rc -ne 0 ] && grep -qi 'space\|storage\|full' "$T/full.json" "$T/full.err"; then
	ok "server: the upload that hits the full disk fails with a clear error"
else
	nok "server: the upload that hits the full disk fails with a clear error (status $rc)"
	show "$T/full.json"; show "$T/full.err"
fi
check "server: the observation whose blob did not fit is not held" \
    [ "$(sq "SELECT count(*) FROM observations WHERE id = '$BIG'")" = 0 ]
bad=$(python3 - "$D" <<'EOF'
import hashlib, os, sqlite3, sys
d = sys.argv[1]
rec = {r[0] for r in sqlite3.connect(d + "/fundwatch.db").execute("SELECT id FROM blobs")}
bad = []
for sub in os.listdir(d + "/blobs"):
    if sub == "partial":
        continue
    for f in os.listdir(os.path.join(d, "blobs", sub)):
        p = os.path.join(d, "blobs", sub, f)
        if f not in rec or hashlib.sha256(open(p, "rb").read()).hexdigest() != f:
            bad.append(f)
print(" ".join(bad))
EOF
)
check "server: no blob in the store that is not whole and recorded" [ -z "$bad" ]
r=$(sqlite3 "$D/fundwatch.db" 'PRAGMA integrity_check' 2>&1)
check "server: SQLite clean after the full disk" [ "$r" = ok ]
"$SERVER" audit verify --data "$D" >"$T/audit.out" 2>&1
check "server: audit verify passes after the full disk" grep -q 'chain intact' "$T/audit.out"
mount -o remount,size=64m "$D"
if sync_until_done 5; then ok "server: once space is freed the next sync completes"; else
	nok "server: once space is freed the next sync completes"; show "$T/final-sync.json"; show "$T/final-sync.err"; fi
verify --server "$D" --agent "$A" --acked "$T/acked2" --converged

# ---- a reserve larger than the free space -------------------------------------------
server_stop
set_reserve 1G
server_start || bail "server restarts with a 1 GiB reserve" "$T/server.log"
head -c 100000 /dev/urandom >"$T/r.jpg"
observe "$T/r1.json" "$T/r.jpg"
R1=$(printed_id "$T/r1.json")
nblobs=$(sq "SELECT count(*) FROM blobs")
timeout 3 "$AGENT" sync --json >"$T/res.json" 2>"$T/res.err"
if grep -q 'insufficient_storage' "$T/res.json" "$T/res.err"; then
	ok "server: below the reserve an upload is refused with insufficient_storage"
else
	nok "server: below the reserve an upload is refused with insufficient_storage"
	show "$T/res.json"; show "$T/res.err"
fi
check "server: nothing written below the reserve" sh -c \
    "[ \"\$(sqlite3 '$D/fundwatch.db' \"SELECT count(*) FROM observations WHERE id = '$R1'\")\" = 0 ] && [ \"\$(sqlite3 '$D/fundwatch.db' 'SELECT count(*) FROM blobs')\" = $nblobs ] && [ -z \"\$(ls '$D/blobs/partial')\" ]"
server_stop
echo "summary: diskfull: agent $acked captures fit then a clean ENOSPC ($AFIG); server $FIGURES"
[ $failed -eq 0 ]
