#!/bin/sh
# Checks proto/vectors/ with tools that are not fundwatch's, both ways:
# openssl, python3 (zlib, json, hashlib), sha256sum and age read what our
# code wrote; our code reads what they just wrote.  TAP-style output.
B=${B:-build}
V=proto/vectors
fwvec=$B/tests/tools/fwvec
n=0
bad=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT INT TERM

check() {	# description, then the command
	n=$((n + 1))
	desc=$1
	shift
	if "$@" >"$t/out" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$t/out"
		bad=1
	fi
}

for tool in openssl python3 sha256sum age age-keygen; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "skip: $tool not installed (make deps installs it)"
		exit 0
	fi
done

# --- independent tools read our bytes -----------------------------------
check "openssl pkeyutl -verify -rawin accepts manifest.sig" \
    openssl pkeyutl -verify -pubin -inkey $V/device.pub.pem -rawin \
    -in $V/manifest.json -sigfile $V/manifest.sig

check "python3 zlib inflates manifest.json.z to manifest.json" python3 -c '
import sys, zlib
z = open(sys.argv[1], "rb").read(); m = open(sys.argv[2], "rb").read()
sys.exit(0 if zlib.decompress(z) == m else 1)' $V/manifest.json.z $V/manifest.json

check "bundle.fwb = FWB1 | manifest.sig | zlib(manifest.json)" python3 -c '
import sys, zlib
b = open(sys.argv[1], "rb").read(); s = open(sys.argv[2], "rb").read()
m = open(sys.argv[3], "rb").read()
ok = b[:4] == b"FWB1" and b[4:68] == s and zlib.decompress(b[68:]) == m
sys.exit(0 if ok else 1)' $V/bundle.fwb $V/manifest.sig $V/manifest.json

check "sha256sum manifest.json is bundle.id" sh -c "
a=\$(sha256sum $V/manifest.json | cut -c1-64) && b=\$(cat $V/bundle.id) &&
[ \${#b} -eq 64 ] && [ \"\$a\" = \"\$b\" ]"

check "device.id is SHA-256(raw public key)[0:16] (openssl)" sh -c "
raw=\$(openssl pkey -pubin -in $V/device.pub.pem -outform DER | tail -c 32 | sha256sum | cut -c1-32) &&
id=\$(cat $V/device.id) && [ \${#id} -eq 32 ] && [ \"\$raw\" = \"\$id\" ]"

check "python3 canonical JSON of observation 1 is obs1.canonical; its hash is observation 2's prev" python3 -c '
import sys, json, hashlib
m = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
canon = json.dumps(m["observations"][0], sort_keys=True, separators=(",", ":"),
                   ensure_ascii=False).encode("utf-8")
ok = canon == open(sys.argv[2], "rb").read()
ok = ok and hashlib.sha256(canon).hexdigest() == m["observations"][1]["prev"]
ok = ok and m["observations"][0]["prev"] == "0" * 64
# the manifest itself is written in canonical form
ok = ok and json.dumps(m, sort_keys=True, separators=(",", ":"),
                       ensure_ascii=False).encode("utf-8") == open(sys.argv[1], "rb").read()
sys.exit(0 if ok else 1)' $V/manifest.json $V/obs1.canonical

check "evidence blob address and sizes match the manifest" python3 -c '
import sys, json, hashlib
m = json.loads(open(sys.argv[1], "rb").read())
ev = m["observations"][0]["evidence"][0]
c = open(sys.argv[2], "rb").read(); p = open(sys.argv[3], "rb").read()
ok = ev["blob"] == hashlib.sha256(c).hexdigest() and ev["blob_size"] == len(c)
ok = ok and ev["sha256"] == hashlib.sha256(p).hexdigest() and ev["size"] == len(p)
sys.exit(0 if ok else 1)' $V/manifest.json $V/evidence.txt.age $V/evidence.txt

check "age -d decrypts evidence.txt.age to evidence.txt" sh -c "
age -d -i $V/office.key -o $t/ev.out $V/evidence.txt.age && cmp $t/ev.out $V/evidence.txt"

check "age-keygen -y derives office.pub from office.key" sh -c "
a=\$(age-keygen -y $V/office.key) && b=\$(cat $V/office.pub) && [ -n \"\$b\" ] &&
[ \"\$a\" = \"\$b\" ]"

# --- our code reads what independent tools just wrote ----------------------
check "our bundle reader opens and verifies bundle.fwb" sh -c "
a=\$($fwvec open-bundle $V/device.pub.pem $V/bundle.fwb) && b=\$(cat $V/bundle.id) &&
[ -n \"\$b\" ] && [ \"\$a\" = \"\$b\" ]"

head -c 300000 /dev/urandom >"$t/plain"
age-keygen -o "$t/age.key" 2>/dev/null
check "our decryptor reads what age -e just encrypted" sh -c "
age -e -r \$(age-keygen -y $t/age.key) -o $t/plain.age $t/plain &&
$fwvec age-decrypt $t/age.key $t/plain.age $t/plain.out && cmp $t/plain $t/plain.out"

check "our decryptor refuses a file age -e made for another key" sh -c "
age-keygen -o $t/other.key 2>/dev/null &&
! $fwvec age-decrypt $t/other.key $t/plain.age $t/x.out 2>$t/err &&
grep -q age_no_match $t/err"

check "age -d reads what our encryptor just wrote" sh -c "
$fwvec age-encrypt \$(age-keygen -y $t/age.key) $t/plain $t/ours.age &&
age -d -i $t/age.key -o $t/ours.out $t/ours.age && cmp $t/plain $t/ours.out"

openssl genpkey -algorithm ed25519 -out "$t/sig.key" 2>/dev/null
openssl pkey -in "$t/sig.key" -pubout -out "$t/sig.pub" 2>/dev/null
check "our verify accepts what openssl pkeyutl -sign -rawin just signed" sh -c "
openssl pkeyutl -sign -inkey $t/sig.key -rawin -in $V/manifest.json -out $t/m.sig &&
$fwvec verify $t/sig.pub $V/manifest.json $t/m.sig"

check "our verify refuses that signature over other bytes" sh -c "
! $fwvec verify $t/sig.pub $V/obs1.canonical $t/m.sig 2>$t/err && grep -q bad_signature $t/err"

check "our inflate reads what python3 zlib.compress just made" sh -c "
python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1], \"rb\").read(), 6))' \
    $V/manifest.json >$t/py.z && $fwvec inflate $t/py.z $t/py.out && cmp $t/py.out $V/manifest.json"

check "our inflate refuses python3's zlib stream with one byte flipped" sh -c "
python3 -c '
import sys, zlib
z = bytearray(zlib.compress(open(sys.argv[1], \"rb\").read()))
z[len(z) // 2] ^= 0x40
sys.stdout.buffer.write(z)' $V/manifest.json >$t/bad.z && ! $fwvec inflate $t/bad.z $t/bad.out 2>/dev/null"

[ $bad -eq 0 ]
