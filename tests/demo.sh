#!/bin/sh
# make demo: runs what exists of fundwatch end to end on the embedded
# defaults and says what it did.  Each piece of the system adds its part.
set -eu
B=${B:-build}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT INT TERM
say() { printf '%s\n' "$*"; }

say "== fundwatch demo"
say "$("$B/fundwatch-agent" --version); $("$B/fundwatch-server" --version)"

say ""
say "== 1. A device seals a bundle of two observations with encrypted evidence"
"$B/tests/tools/fwvec" make "$t/v" >/dev/null
say "device id:      $(cat "$t/v/device.id")"
say "bundle id:      $(cat "$t/v/bundle.id")"
say "manifest:       $(wc -c <"$t/v/manifest.json") bytes, deflated to $(($(wc -c <"$t/v/bundle.fwb") - 68)) bytes"
say "evidence:       $(wc -c <"$t/v/evidence.txt") bytes -> age file of $(wc -c <"$t/v/evidence.txt.age") bytes for $(cut -c1-20 "$t/v/office.pub")…"

say ""
say "== 2. Tools that are not fundwatch's check it"
openssl pkeyutl -verify -pubin -inkey "$t/v/device.pub.pem" -rawin \
    -in "$t/v/manifest.json" -sigfile "$t/v/manifest.sig" >/dev/null
say "openssl:        Ed25519 signature of the manifest verifies"
[ "$(sha256sum "$t/v/manifest.json" | cut -c1-64)" = "$(cat "$t/v/bundle.id")" ]
say "sha256sum:      bundle id is the SHA-256 of the manifest"
age -d -i "$t/v/office.key" "$t/v/evidence.txt.age" | cmp -s - "$t/v/evidence.txt"
say "age -d:         the office key decrypts the evidence:"
age -d -i "$t/v/office.key" "$t/v/evidence.txt.age" | sed 's/^/                  /'

say ""
say "== 3. fundwatch refuses a forged bundle"
cp "$t/v/bundle.fwb" "$t/forged.fwb"
printf 'X' | dd of="$t/forged.fwb" bs=1 seek=10 conv=notrunc 2>/dev/null
if "$B/tests/tools/fwvec" open-bundle "$t/v/device.pub.pem" "$t/forged.fwb" 2>"$t/err"; then
	say "forged bundle accepted: demo FAILED"
	exit 1
fi
say "one byte of the signature changed: $(sed 's/^fwvec: //' "$t/err")"

say ""
say "== 4. The office: a server, a supervisor, a one-time code, a device's bundle"
"$B/fundwatch-server" init --data "$t/office" --profile qingyuan >/dev/null
sed -i 's/^listen *=.*/listen = 127.0.0.1:0/' "$t/office/fundwatch.conf"
"$B/fundwatch-server" run --data "$t/office" -d 2>"$t/server.log" &
spid=$!
trap 'kill $spid 2>/dev/null || true; rm -rf "$t"' EXIT INT TERM
i=0
while [ ! -s "$t/office/run/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$t/office/run/port")
# Keep this port for the restart below: the device remembers the address.
sed -i "s/^listen *=.*/listen = 127.0.0.1:$port/" "$t/office/fundwatch.conf"
say "server:         https://127.0.0.1:$port (profile qingyuan)"
method=$(sed -n 's/^\[method \(.*\)\]/\1/p' "$t/office/profile.conf" | head -n 1)
set -- $(sed -n '/^\[eligibility /{s/^\[eligibility \(.*\)\]/\1/;h;};/^required *= *yes/{x;p;}' \
    "$t/office/profile.conf" | sed 's/^/--attest /')
"$B/fundwatch-server" supervisor add --data "$t/office" --name "李四" --birth 1975-03-08 \
    --method "$method" "$@" | sed 's/^/                /'
"$B/fundwatch-server" unit add CITY --name "清远市医疗保障局" --jurisdiction CITY --city \
    --data "$t/office" >/dev/null
echo "demo-password-1" | "$B/fundwatch-server" officer add li.wei --name "李伟" --unit CITY \
    --roles officer,unit_lead --data "$t/office" >/dev/null
echo "demo-password-2" | "$B/fundwatch-server" officer add wang.fang --name "王芳" --unit CITY \
    --roles reward_officer --data "$t/office" >/dev/null
say "office:         unit CITY, officer li.wei, reward officer wang.fang"
code=$("$B/fundwatch-server" device code --data "$t/office" --supervisor S0001 --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
say "one-time code:  issued for S0001 (valid 24 h, usable once)"
python3 tests/demo_client.py "$(cat "$t/office/run/port")" "$t/office/tls/ca.pem" "$code" |
    sed 's/^/                /'
"$B/fundwatch-server" device list --data "$t/office" | sed 's/^/                /'
"$B/fundwatch-server" audit verify --data "$t/office" | sed 's/^/                /'

say ""
say "== 5. A supervisor's day: enroll, capture offline, sync when the link is back"
export FUNDWATCH_AGENT_DATA="$t/agent" FUNDWATCH_AGENT_CONFIG="$t/agent.conf"
A="$B/fundwatch-agent"
code=$("$B/fundwatch-server" device code --data "$t/office" --supervisor S0001 --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["code"])')
"$A" enroll --server "https://127.0.0.1:$port" --code "$code" \
    --ca "$t/office/tls/ca.pem" | sed 's/^/                /'
kill -TERM $spid
wait $spid
say "the office's server goes down; the supervisor works offline:"
head -c 3145728 /dev/urandom >"$t/counter.jpg"
head -c 1048576 /dev/urandom >"$t/talk.m4a"
head -c 2097152 /dev/urandom >"$t/receipt.jpg"
for args in "康民大药房|刷社保卡购买日用品，开药品名目收据|$t/counter.jpg|$t/talk.m4a" \
    "仁和药店|医保卡代刷，店员承认按月结算|$t/receipt.jpg" \
    "惠民诊所|挂床住院：病床无人，仍按住院结算|$t/counter.jpg"; do
	name=${args%%|*}; rest=${args#*|}; what=${rest%%|*}; files=${rest#*|}
	set -- $(echo "$files" | tr '|' ' ')
	id=$("$A" observe --subject-kind pharmacy --subject "$name" --place "清城区" \
	    --category QY-5-1-01 --what "$what" --attach "$@")
	say "captured:       $id  $name ($# evidence file(s), encrypted at once)"
done
"$A" status | sed 's/^/                /'
"$B/fundwatch-server" run --data "$t/office" -d 2>>"$t/server.log" &
spid=$!
i=0
while [ ! -s "$t/office/run/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
say "the server is back; one sync pass (a progress bar when run on a terminal):"
"$A" sync 2>&1 | sed 's/^/                /'
"$A" list | sed 's/^/                /'
"$A" status | sed 's/^/                /'

say ""
say "== 6. The office handles the clue; the supervisor hears back"
"$B/fundwatch-server" case list --data "$t/office" | sed 's/^/                /'
python3 tests/demo_office.py "$port" "$t/office/tls/ca.pem" li.wei demo-password-1 \
    read "$t/counter.jpg" >"$t/office.out"
sed '$d' "$t/office.out" | sed '$d' | sed 's/^/                /'
case_id=$(tail -n 2 "$t/office.out" | head -n 1)
obs_id=$(tail -n 1 "$t/office.out")
"$A" sync >/dev/null 2>&1
say "the device syncs; the request shows in its feedback:"
"$A" feedback | grep -v '^ *$' | tail -n 3 | sed 's/^/                /'
head -c 524288 /dev/urandom >"$t/till.jpg"
say "the supervisor answers on the same observation (it is sealed, so a supplement):"
"$A" attach "$obs_id" "$t/till.jpg" --what "收银小票" | sed 's/^/                /'
"$A" sync >/dev/null 2>&1
python3 tests/demo_office.py "$port" "$t/office/tls/ca.pem" li.wei demo-password-1 \
    substantiate "$case_id" | sed 1d | sed 's/^/                /'
"$B/fundwatch-server" case approve "$case_id" --as wang.fang --data "$t/office" |
    sed 's/^/                /'
"$A" sync >/dev/null 2>&1
say "the device syncs; its feedback:"
"$A" feedback | grep -v '^ *$' | sed 's/^/                /'
"$B/fundwatch-server" case export "$case_id" --out "$t/export" --data "$t/office" |
    sed 's/^/                /'
"$B/fundwatch-server" verify-export "$t/export" | sed 's/^/                /'
say "the export's VERIFY.md lists the openssl, age and sha256sum commands that prove it."
"$B/fundwatch-server" audit verify --data "$t/office" | sed 's/^/                /'
kill -TERM $spid
wait $spid
say "server stopped cleanly (SIGTERM)."

say ""
say "demo done."
