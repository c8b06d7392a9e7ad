#!/bin/sh
# run.sh: `make bench` -- the figures of issue 8, each next to its reference
# measured in the same run, on loopback, in a temp folder.  Never fails on a
# timing: a missed target is a line of the table, not an exit status.
#
#   sh tests/bench/run.sh [PART...]     PART: capture memory wire resume
#                                       ingest upload scale (default: all)
# Environment (defaults sized for a few minutes on 2 cores):
#   BENCH_CAPTURES=200   captures timed (part capture)
#   BENCH_EVIDENCE_MB=200 evidence synced while the agent's RSS is watched
#   BENCH_CUTS=50        cuts of the resume part
#   BENCH_SECONDS=4      seconds per ingest run
#   BENCH_REPEAT=3       ingest runs per point (the table gives medians)
#   BENCH_UPLOADS=64 BENCH_UPLOAD_MB=16   concurrent uploads and their size
#                        (the issue asks 64 x 100 MiB)
#   BENCH_SCALE=10000    observations pre-filled for the cost-growth part,
#                        comma-separated (e.g. 10000,100000,1000000)
# Output: a table on stdout and bench/results.json.  $B is the build folder.
B=${B:-build}
case $B in /*) ;; *) B=$(pwd)/$B ;; esac
AGENT=$B/fundwatch-agent
SERVER=$B/fundwatch-server
LOAD=$B/tests/bench/load
FLOOR=$B/tests/bench/floor
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROXY=$ROOT/tests/integration/agent_proxy.py
OUT=$ROOT/bench
PARTS=${*:-capture memory wire resume ingest upload scale}
CAPTURES=${BENCH_CAPTURES:-200}
EVIDENCE_MB=${BENCH_EVIDENCE_MB:-200}
CUTS=${BENCH_CUTS:-50}
SECONDS_RUN=${BENCH_SECONDS:-4}
REPEAT=${BENCH_REPEAT:-3}
UPLOADS=${BENCH_UPLOADS:-64}
UPLOAD_MB=${BENCH_UPLOAD_MB:-16}
SCALE=${BENCH_SCALE:-10000}

for tool in python3 sqlite3 openssl; do
	command -v $tool >/dev/null 2>&1 || { echo "bench: $tool is not installed"; exit 1; }
done
for f in "$AGENT" "$SERVER" "$LOAD" "$FLOOR"; do
	[ -x "$f" ] || { echo "bench: $f is not built"; exit 1; }
done

T=$(mktemp -d /tmp/fw-bench.XXXXXX) || exit 1
D=$T/server
R=$T/results.jsonl
SPID='' NPID='' RPID='' PXPID='' DPID='' PERFPID=''
: >"$R"

cleanup() {
	for p in $PERFPID $DPID $PXPID $RPID $NPID $SPID; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for p in $PERFPID $DPID $PXPID $RPID $NPID $SPID; do
		[ -n "$p" ] && wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then echo "# kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

T0=$(date +%s)
say() { echo "# [$(($(date +%s) - T0)) s] $*" >&2; }
# CPU seconds (user + system) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' /proc/"$1"/stat 2>/dev/null; }
# Record one figure: part, JSON object (python3 literal-safe).
record() { printf '{"part":"%s","data":%s}\n' "$1" "$2" >>"$R"; }
# Bytes of the files under a folder.
bytes_in() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
# A file's JSON, or null if it is empty or absent.
jf() { if [ -s "$1" ]; then cat "$1"; else echo null; fi; }
wait_file() {
	wi=0
	while [ ! -s "$1" ] && [ $wi -lt "$2" ]; do sleep 0.1; wi=$((wi + 1)); done
	[ -s "$1" ]
}
jget() {
	python3 -c 'import json,sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[k]
    print(v)
except Exception:
    print("")' "$1" "$2"
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Peak and current RSS (KiB) of a process; reset its peak.
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$1"/status 2>/dev/null; }
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$1"/status 2>/dev/null; }
hwm_reset() { echo 5 >/proc/"$1"/clear_refs 2>/dev/null; }

export FUNDWATCH_DATA=$D
export FUNDWATCH_AGENT_CONFIG=$T/agent.conf
unset FUNDWATCH_ACTOR

# ---- the server ------------------------------------------------------------
"$SERVER" init --data "$D" --profile qingyuan >"$T/init.out" 2>&1 ||
	{ cat "$T/init.out"; exit 1; }
python3 - "$D/fundwatch.conf" <<'EOF'
import re, sys
p = sys.argv[1]
s = open(p).read()
s, k = re.subn(r"(?m)^[;#]?\s*listen\s*=.*$", "listen = 127.0.0.1:0", s, count=1)
if k == 0:
    s = s.replace("[server]", "[server]\nlisten = 127.0.0.1:0", 1)
open(p, "w").write(s)
EOF
"$SERVER" run --data "$D" -d >"$T/server.log" 2>&1 &
SPID=$!
wait_file "$D/run/port" 100 || { cat "$T/server.log"; exit 1; }
PORT=$(cat "$D/run/port")
URL=https://127.0.0.1:$PORT
"$SERVER" supervisor add --name "Bench Supervisor" --birth 1980-05-01 \
    --method self_nomination --id S1 --attest law_abiding \
    --attest insured_in_city --attest full_civil_capacity \
    --attest knows_regulations --attest volunteer --attest fit_for_duty \
    --attest no_conflict_of_interest --attest no_bad_credit \
    --json >"$T/sup.json" 2>&1 || { cat "$T/sup.json"; exit 1; }
say "server on 127.0.0.1:$PORT, data $D"

# n codes into a file (one a line).
codes() {
	: >"$2"
	ci=0
	while [ $ci -lt "$1" ]; do
		"$SERVER" device code --supervisor S1 --json >"$T/code.json" 2>&1
		jget "$T/code.json" code >>"$2"
		ci=$((ci + 1))
	done
}
# A freshly enrolled agent data folder.
new_agent() {
	codes 1 "$T/one.code"
	FUNDWATCH_AGENT_DATA=$1 "$AGENT" enroll --server "$URL" --code "$(cat "$T/one.code")" \
	    --ca "$D/tls/ca.pem" --json >"$T/enroll.json" 2>&1 ||
		{ cat "$T/enroll.json" >&2; return 1; }
}
observe() {	# what, files...
	what=$1
	shift
	[ $# -gt 0 ] && set -- --attach "$@"
	"$AGENT" observe --subject-kind pharmacy --subject "Bench Pharmacy" \
	    --place "清城区 bench street 1" --category QY-5-1-01 --what "$what" "$@" \
	    >/dev/null 2>>"$T/observe.err"
}
want() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
# Bytes a tcp proxy log counted upstream.
proxy_up() { sed -n 's/^\(total\|up\) //p' "$1" | sort -n | tail -n 1; }
start_proxy() {	# target port, name, [cut]
	rm -f "$T/$2.port" "$T/$2.log"
	python3 "$PROXY" tcp --target "$1" --port-file "$T/$2.port" --log "$T/$2.log" \
	    ${3:+--cut-after "$3"} --lifetime 600 2>"$T/$2.err" &
	PXPID=$!
	wait_file "$T/$2.port" 100
}
stop_proxy() { [ -n "$PXPID" ] && kill "$PXPID" 2>/dev/null && wait "$PXPID" 2>/dev/null; PXPID=; }

# ---- 1. capture latency ------------------------------------------------------
if want capture; then
	say "capture: $CAPTURES x observe --attach 3 MiB, alternating with the floor"
	export FUNDWATCH_AGENT_DATA=$T/a-capture
	new_agent "$FUNDWATCH_AGENT_DATA"
	head -c 3145728 /dev/urandom >"$T/photo3m.jpg"
	"$LOAD" exec -n "$CAPTURES" -- "$AGENT" observe --subject-kind pharmacy \
	    --subject "Bench Pharmacy" --place "清城区 bench street 1" \
	    --category QY-5-1-01 --what "capture latency" --attach "$T/photo3m.jpg" \
	    -- "$FLOOR" "$T/floor" "$T/photo3m.jpg" >"$T/capture.json" 2>"$T/capture.err"
	record capture "$(jf "$T/capture.json")"
	# Process start-up alone (dynamic linking, library initialisation).
	"$LOAD" exec -n 50 -- "$AGENT" --help -- "$FLOOR" --startup >"$T/startup.json" 2>/dev/null
	record startup "$(jf "$T/startup.json")"
	rm -rf "$T/floor" "$FUNDWATCH_AGENT_DATA"
fi

# ---- 2. agent memory -----------------------------------------------------------
if want memory; then
	n=$(((EVIDENCE_MB + 3) / 4))
	say "memory: $n captures of 4 MiB, then sync under /usr/bin/time; idle run"
	export FUNDWATCH_AGENT_DATA=$T/a-memory
	new_agent "$FUNDWATCH_AGENT_DATA"
	head -c 4194304 /dev/urandom >"$T/ev4m.mp4"
	i=0
	while [ $i -lt $n ]; do observe "memory $i" "$T/ev4m.mp4"; i=$((i + 1)); done
	/usr/bin/time -f '%M %e' -o "$T/mem.time" "$AGENT" sync --json >"$T/mem.sync" 2>"$T/mem.err"
	peak=$(cut -d' ' -f1 "$T/mem.time" | tail -n 1)
	secs=$(cut -d' ' -f2 "$T/mem.time" | tail -n 1)
	printf '[sync]\ninterval = 1h\n' >"$T/agent.conf"
	"$AGENT" run -d >"$T/daemon.log" 2>&1 &
	DPID=$!
	sleep 3
	idle_hwm=$(hwm $DPID) idle_rss=$(rss $DPID)
	kill -TERM $DPID 2>/dev/null; wait $DPID 2>/dev/null; DPID=
	rm -f "$T/agent.conf"
	record memory "{\"evidence_mib\":$((n * 4)),\"sync_peak_kib\":${peak:-0},\"sync_s\":${secs:-0},\"sync_ok\":\"$(jget "$T/mem.sync" ok)\",\"blob_bytes\":\"$(jget "$T/mem.sync" blob_bytes)\",\"idle_peak_kib\":${idle_hwm:-0},\"idle_rss_kib\":${idle_rss:-0}}"
	rm -rf "$FUNDWATCH_AGENT_DATA"
fi

# ---- 3. wire efficiency ---------------------------------------------------------
if want wire; then
	say "wire: a day's work (50 observations, 30 photos 2-4 MiB, 10 audio) through a counting proxy; rsync -z of the same files"
	export FUNDWATCH_AGENT_DATA=$T/a-wire
	new_agent "$FUNDWATCH_AGENT_DATA"
	mkdir -p "$T/day"
	python3 - "$T/day" <<'EOF'
import os, random, sys
random.seed(8)
for i in range(30):
    with open(os.path.join(sys.argv[1], "photo%02d.jpg" % i), "wb") as f:
        f.write(os.urandom(random.randint(2 << 20, 4 << 20)))
for i in range(10):
    with open(os.path.join(sys.argv[1], "audio%02d.m4a" % i), "wb") as f:
        f.write(os.urandom(random.randint(1 << 20, 3 << 20)))
EOF
	i=0
	for f in "$T"/day/photo*.jpg "$T"/day/audio*.m4a; do
		observe "day observation $i" "$f"
		i=$((i + 1))
	done
	while [ $i -lt 50 ]; do observe "day observation $i, no evidence"; i=$((i + 1)); done
	blobs=$(bytes_in "$FUNDWATCH_AGENT_DATA/blobs")
	plain=$(bytes_in "$T/day")
	start_proxy "$PORT" pwire
	printf '[sync]\nserver_url = https://127.0.0.1:%s\n' "$(cat "$T/pwire.port")" >"$T/agent.conf"
	"$AGENT" sync --json >"$T/wire.sync" 2>"$T/wire.err"
	stop_proxy
	up=$(proxy_up "$T/pwire.log")
	rm -f "$T/agent.conf"
	# Containers and manifests as the agent stored them.
	python3 - "$FUNDWATCH_AGENT_DATA/agent.db" >"$T/wire.man" <<'EOF'
import sqlite3, sys, zlib
db = sqlite3.connect(sys.argv[1])
cols = [r[1] for r in db.execute("PRAGMA table_info(bundles)")]
col = next((c for c in cols if c in ("container", "bundle", "data", "bytes")), None)
c = m = 0
for (b,) in db.execute("SELECT %s FROM bundles" % col):
    c += len(b)
    m += len(zlib.decompress(bytes(b)[68:]))
print(c, m)
EOF
	cont=$(cut -d' ' -f1 "$T/wire.man") man=$(cut -d' ' -f2 "$T/wire.man")
	# rsync daemon on a free loopback port, a counting proxy in front.
	RP=$(free_port)
	mkdir -p "$T/rsyncdst"
	cat >"$T/rsyncd.conf" <<EOF
pid file = $T/rsyncd.pid
use chroot = false
[bench]
path = $T/rsyncdst
read only = false
EOF
	rsync --daemon --no-detach --address=127.0.0.1 --port="$RP" --config="$T/rsyncd.conf" \
	    --log-file="$T/rsyncd.log" &
	RPID=$!
	i=0
	while ! python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$RP),1)" 2>/dev/null &&
	    [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	start_proxy "$RP" prsync
	rsync -az "$T/day/" "rsync://127.0.0.1:$(cat "$T/prsync.port")/bench/" >"$T/rsync.out" 2>&1
	stop_proxy
	kill $RPID 2>/dev/null; wait $RPID 2>/dev/null; RPID=
	rup=$(proxy_up "$T/prsync.log")
	record wire "{\"plain_bytes\":$plain,\"blob_bytes\":$blobs,\"container_bytes\":${cont:-0},\"manifest_bytes\":${man:-0},\"wire_up_bytes\":${up:-0},\"rsync_up_bytes\":${rup:-0},\"sync_ok\":\"$(jget "$T/wire.sync" ok)\"}"
	rm -rf "$T/rsyncdst"
fi

# ---- 4. resume after cuts -------------------------------------------------------
if want resume; then
	say "resume: $CUTS syncs of a 4 MiB capture cut at a random byte, counted by the proxy"
	export FUNDWATCH_AGENT_DATA=$T/a-resume
	new_agent "$FUNDWATCH_AGENT_DATA"
	head -c 4194304 /dev/urandom >"$T/ev4m.mp4"
	# A clean sync of the same shape: what an uncut sync sends.
	observe "resume baseline" "$T/ev4m.mp4"
	start_proxy "$PORT" pres0
	printf '[sync]\nserver_url = https://127.0.0.1:%s\n' "$(cat "$T/pres0.port")" >"$T/agent.conf"
	"$AGENT" sync --json >"$T/res0.sync" 2>&1
	stop_proxy
	base=$(proxy_up "$T/pres0.log")
	: >"$T/resume.txt"
	k=0
	while [ $k -lt "$CUTS" ]; do
		observe "resume $k" "$T/ev4m.mp4"
		cut=$(python3 -c "import random; print(random.randint(2000, $base))")
		start_proxy "$PORT" pres "$cut"
		printf '[sync]\nserver_url = https://127.0.0.1:%s\n' "$(cat "$T/pres.port")" >"$T/agent.conf"
		"$AGENT" sync --json >"$T/res.sync" 2>>"$T/res.err" ||
			"$AGENT" sync --json >"$T/res.sync" 2>>"$T/res.err"
		ok=$(jget "$T/res.sync" ok)
		stop_proxy
		echo "$cut $(proxy_up "$T/pres.log") $ok" >>"$T/resume.txt"
		k=$((k + 1))
	done
	rm -f "$T/agent.conf"
	record resume "{\"base_up_bytes\":${base:-0},\"chunk\":1048576,\"cuts\":[$(awk '{ printf("%s[%s,%s,\"%s\"]", (NR > 1 ? "," : ""), $1, $2, $3) }' "$T/resume.txt")]}"
	rm -rf "$FUNDWATCH_AGENT_DATA"
fi

# ---- 5. ingest throughput, nginx as the ceiling -----------------------------------
start_nginx() {
	[ -n "$NPID" ] && return 0
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || return 1
	N=$T/nginx
	mkdir -p "$N/www" "$N/tmp"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	    -keyout "$N/key.pem" -out "$N/cert.pem" -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || return 1
	NP=$(free_port)
	# As root, nginx's worker runs as nobody: let it into the temp folder.
	if [ "$(id -u)" = 0 ]; then
		chmod 711 "$T"
		chown -R nobody "$N/www" "$N/tmp" 2>/dev/null
	fi
	cat >"$N/nginx.conf" <<EOF
# One worker: fundwatch-server is one event loop too.
worker_processes 1;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $N/tmp;
	proxy_temp_path $N/tmp;
	fastcgi_temp_path $N/tmp;
	uwsgi_temp_path $N/tmp;
	scgi_temp_path $N/tmp;
	server {
		listen 127.0.0.1:$NP ssl;
		ssl_certificate $N/cert.pem;
		ssl_certificate_key $N/key.pem;
		client_max_body_size 8m;
		client_body_buffer_size 16k;
		client_body_in_file_only clean;
		keepalive_requests 1000000;
		root $N/www;
		location / {
			dav_methods PUT;
			create_full_put_path on;
		}
	}
}
EOF
	PATH=$PATH:/usr/sbin nginx -e "$N/error.log" -c "$N/nginx.conf" >"$N/out.log" 2>&1 &
	NPID=$!
	i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1',$NP),1)" 2>/dev/null &&
	    [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	NURL=https://127.0.0.1:$NP
}
# Peak RSS of nginx's processes (master + worker), KiB.
nginx_hwm() {
	s=0
	for p in $NPID $(pgrep -P "$NPID" 2>/dev/null); do s=$((s + $(hwm "$p"))); done
	echo $s
}
if want ingest; then
	start_nginx || say "nginx not available: no ceiling"
	for n in 1 8 32; do
		rep=0
		while [ $rep -lt "$REPEAT" ]; do
			rep=$((rep + 1))
			say "ingest: $n clients, ${SECONDS_RUN}s on fundwatch-server then nginx (run $rep of $REPEAT)"
			codes "$n" "$T/codes"
			hwm_reset $SPID
			rm -f "$T/ing.json"
			c0=$(cpu_of $SPID)
			"$LOAD" ingest --url "$URL" --ca "$D/tls/ca.pem" --codes "$T/codes" --clients "$n" \
			    --seconds "$SECONDS_RUN" --photo 200K >"$T/ing.json" 2>>"$T/ing.err"
			c1=$(cpu_of $SPID)
			record ingest "{\"system\":\"fundwatch\",\"server_peak_kib\":$(hwm $SPID),\"server_cpu_s\":$(echo "$c1 $c0" | awk '{ print $1 - $2 }'),\"load\":$(jf "$T/ing.json")}"
			if [ -n "$NPID" ]; then
				for p in $NPID $(pgrep -P "$NPID" 2>/dev/null); do hwm_reset "$p"; done
				rm -f "$T/ing.json"
				c0=0
				for p in $NPID $(pgrep -P "$NPID" 2>/dev/null); do c0=$(echo "$c0 $(cpu_of "$p")" | awk '{ print $1 + $2 }'); done
				"$LOAD" ingest --nginx --url "$NURL" --ca "$T/nginx/cert.pem" --clients "$n" \
				    --seconds "$SECONDS_RUN" --photo 200K >"$T/ing.json" 2>>"$T/ing.err"
				c1=0
				for p in $NPID $(pgrep -P "$NPID" 2>/dev/null); do c1=$(echo "$c1 $(cpu_of "$p")" | awk '{ print $1 + $2 }'); done
				record ingest "{\"system\":\"nginx\",\"server_peak_kib\":$(nginx_hwm),\"server_cpu_s\":$(echo "$c1 $c0" | awk '{ print $1 - $2 }'),\"load\":$(jf "$T/ing.json")}"
			fi
		done
	done
	# Where the server's time goes, at 8 clients (perf, if it can sample).
	if command -v perf >/dev/null 2>&1; then
		codes 8 "$T/codes"
		perf record -q -e cpu-clock -g -p $SPID -o "$T/perf.data" >/dev/null 2>&1 &
		PERFPID=$!
		"$LOAD" ingest --url "$URL" --ca "$D/tls/ca.pem" --codes "$T/codes" --clients 8 \
		    --seconds "$SECONDS_RUN" --photo 200K >/dev/null 2>>"$T/ing.err"
		kill -INT $PERFPID 2>/dev/null; wait $PERFPID 2>/dev/null; PERFPID=
		perf report -i "$T/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
		    grep -E '^ +[0-9.]+%' | head -n 12 >"$T/perf.txt"
		perf report -i "$T/perf.data" --no-children --sort dso --stdio 2>/dev/null |
		    grep -E '^ +[0-9.]+%' | head -n 8 >"$T/perf-dso.txt"
		python3 -c 'import json,sys; print(json.dumps({"top": open(sys.argv[1]).read().splitlines(), "dso": open(sys.argv[2]).read().splitlines()}))' \
		    "$T/perf.txt" "$T/perf-dso.txt" >"$T/perf.json"
		record perf "$(jf "$T/perf.json")"
	fi
fi

# ---- 6. server memory under concurrent big uploads -----------------------------------
if want upload; then
	say "upload: $UPLOADS concurrent uploads of $UPLOAD_MB MiB blobs"
	codes "$UPLOADS" "$T/codes"
	hwm_reset $SPID
	"$LOAD" ingest --url "$URL" --ca "$D/tls/ca.pem" --codes "$T/codes" --clients "$UPLOADS" \
	    --bundles "$UPLOADS" --seconds 0 --photo "${UPLOAD_MB}M" --prng >"$T/up.json" 2>>"$T/up.err"
	record upload "{\"uploads\":$UPLOADS,\"mib\":$UPLOAD_MB,\"server_peak_kib\":$(hwm $SPID),\"load\":$(jf "$T/up.json")}"
	# The blobs are not needed any more; keep the disk free.
	find "$D/blobs" -type f -size +1M -delete 2>/dev/null
fi

# ---- 7. cost growth -------------------------------------------------------------------
if want scale; then
	have=$(sqlite3 "$D/fundwatch.db" "SELECT count(*) FROM observations")
	# The store as the parts before left it, as the first point.
	for target in $have $(echo "$SCALE" | tr ',' ' '); do
		need=$((target - have))
		if [ $need -gt 0 ]; then
			nb=$(((need + 255) / 256))
			say "scale: pre-filling $need observations ($nb bundles of 256) through the API"
			codes 4 "$T/codes"
			"$LOAD" ingest --url "$URL" --ca "$D/tls/ca.pem" --codes "$T/codes" --clients 4 \
			    --bundles "$nb" --seconds 0 --obs 256 --photo 0 >"$T/fill.json" 2>>"$T/fill.err"
		fi
		have=$(sqlite3 "$D/fundwatch.db" "SELECT count(*) FROM observations")
		rep=0
		while [ $rep -lt "$REPEAT" ]; do
			rep=$((rep + 1))
			say "scale: $have observations held; ingest at 8 clients (run $rep of $REPEAT)"
			codes 8 "$T/codes"
			rm -f "$T/sc.json"
			"$LOAD" ingest --url "$URL" --ca "$D/tls/ca.pem" --codes "$T/codes" --clients 8 \
			    --seconds "$SECONDS_RUN" --photo 200K >"$T/sc.json" 2>>"$T/sc.err"
			after=$(sqlite3 "$D/fundwatch.db" "SELECT count(*) FROM observations")
			dbsz=$(($(stat -c %s "$D/fundwatch.db") + $(stat -c %s "$D/fundwatch.db-wal" 2>/dev/null || echo 0)))
			record scale "{\"observations\":$have,\"after\":$after,\"db_bytes\":$dbsz,\"store_bytes\":$(du -sb "$D" | cut -f1),\"fill\":$(jf "$T/fill.json"),\"load\":$(jf "$T/sc.json")}"
		done
		have=$(sqlite3 "$D/fundwatch.db" "SELECT count(*) FROM observations")
		rm -f "$T/fill.json"
	done
fi

mkdir -p "$OUT"
python3 "$HERE/report.py" "$R" "$OUT/results.json" "$(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$PARTS"
exit 0
