"""Ingest over HTTPS against the real fundwatch-server (issue: server core).

Usage: server_ingest.py SERVER_BIN DATA_DIR PORT
Speaks the protocol through fwclient (an independent implementation of
proto/PROTOCOL.md) and prints TAP lines.  Every refusal must come with its
own JSON error code and leave the database and the blob store unchanged.
"""
import base64
import configparser
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwclient  # noqa: E402

SERVER, DATA, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
# make valgrind: the command that goes before the server (run-tests.sh)
VG = os.environ.get("VALGRIND", "").split()
CA = os.path.join(DATA, "tls", "ca.pem")
TMP = tempfile.mkdtemp()
n = 0
failed = 0


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print("#   " + line)
    sys.stdout.flush()


def admin(*args):
    r = subprocess.run(VG + [SERVER] + list(args) + ["--data", DATA, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.stdout.strip() else None


def profile_codes():
    """A method and the required attestations of the data folder's profile."""
    p = configparser.ConfigParser(interpolation=None, strict=False,
                                  inline_comment_prefixes=(";", "#"))
    p.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
    method = [s.split(None, 1)[1] for s in p.sections() if s.startswith("method ")][0]
    att = [s.split(None, 1)[1] for s in p.sections() if s.startswith("eligibility ")
           and p[s].get("required", "no").strip() in ("yes", "true", "1")]
    return method, att


def add_supervisor(sid, start="2025-01-01", birth="1980-05-01"):
    method, att = profile_codes()
    args = ["supervisor", "add", "--id", sid, "--name", "张三 " + sid, "--birth", birth,
            "--method", method, "--start", start]
    for a in att:
        args += ["--attest", a]
    return admin(*args)


def snapshot():
    db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"))
    counts = tuple(db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                   for t in ("observations", "observation_blobs", "blobs", "devices"))
    committed = db.execute("SELECT count(*) FROM bundles WHERE state='committed'"
                           ).fetchone()[0]
    db.close()
    files = []
    for root, _, names in os.walk(os.path.join(DATA, "blobs")):
        if not root.endswith("partial"):
            files += [os.path.join(root, f) for f in names]
    return counts, committed, sorted(files)


def refused(st, ans, code, before, desc):
    after = snapshot()
    ok(ans.get("error") == code and st >= 400 and after == before,
       "%s -> %s, nothing stored" % (desc, code),
       "status %d, answer %s, store %s -> %s" % (st, ans, before, after))


def refused_obs(d, bundle, code, before, desc, ids):
    """The office's rules refuse observations one by one: the offer names
    them, nothing of theirs is asked for, the commit's signed receipt names
    them apart, and nothing of them is stored."""
    st, ans = d.offer(bundle)
    got = [(r.get("observation"), r.get("error")) for r in ans.get("refused", [])]
    st2, rec = d.commit(ans.get("bundle", "")) if st == 200 else (st, ans)
    r = rec.get("receipt", {})
    after = snapshot()
    ok(st == 200 and got == [(i, code) for i in ids] and ans.get("missing") == [] and
       st2 == 200 and r.get("observations") == [] and
       [x["observation"] for x in r.get("refused", [])] == ids and
       d.check_receipt(rec) and after[0] == before[0] and after[2] == before[2],
       "%s -> refused as %s in a signed receipt, nothing stored" % (desc, code),
       "offer %d %s; commit %d %s; store %s -> %s" % (st, ans, st2, rec, before, after))


def new_device(sid):
    code = admin("device", "code", "--supervisor", sid)["code"]
    d = fwclient.Device(TMP, PORT, CA)
    st, ans = d.enroll(code)
    return d, st, ans, code


def evidence(size):
    plain = os.urandom(size)
    return plain, b"age-encryption.org/v1\n" + os.urandom(size + 100)


# --- enrollment -----------------------------------------------------------
add_supervisor("S1")
dev, st, ans, code = new_device("S1")
ok(st == 200 and ans.get("device") == dev.key.device and
   ans.get("office_recipient", "").startswith("age1") and len(ans.get("taxonomy", [])) > 0,
   "enrollment with a one-time code returns device, recipient, taxonomy", ans)
d2 = fwclient.Device(TMP, PORT, CA)
st, ans = d2.enroll(code)
ok(st == 403 and ans.get("error") == "bad_enrollment_code", "a used code is refused", ans)
st, ans = d2.enroll("ZZZZ-ZZZZ-ZZZZ")
ok(st == 403 and ans.get("error") == "bad_enrollment_code", "an unknown code is refused", ans)

# --- a full sync ------------------------------------------------------------
ev1, ev2 = evidence(300000), evidence(2500)
blobs = {hashlib.sha256(b).hexdigest(): b for _, b in (ev1, ev2)}
o1 = dev.observation([ev1])
o2 = dev.observation([ev2])
man = dev.manifest([o1, o2])
bundle = dev.bundle(man)
bid = hashlib.sha256(man).hexdigest()
st, ans = dev.sync(bundle, blobs)
ok(st == 200 and ans.get("state") == "committed" and ans["receipt"]["bundle"] == bid and
   ans["receipt"]["observations"] == [o1["id"], o2["id"]],
   "offer, chunked upload and commit give a receipt naming the bundle and observations", ans)
ok(st == 200 and dev.check_receipt(ans), "the receipt's signature verifies with the "
   "receipt key given at enrollment (openssl)")
receipt1 = ans
for h, b in blobs.items():
    path = os.path.join(DATA, "blobs", h[:2], h)
    ok(os.path.exists(path) and open(path, "rb").read() == b,
       "blob %s… stored whole under its address" % h[:8])

st, ans = dev.offer(bundle)
ok(st == 200 and fwclient.canonical(ans) == fwclient.canonical(receipt1),
   "re-offering a committed bundle returns the same receipt", ans)
st, ans = dev.commit(bid)
ok(st == 200 and fwclient.canonical(ans) == fwclient.canonical(receipt1),
   "re-committing returns the same receipt")

# The same observation again in a second bundle: stored once.
before = snapshot()
o3 = dev.observation()
man2 = dev.manifest([o3])
st, ans = dev.sync(dev.bundle(man2), {})
db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"))
cnt = db.execute("SELECT count(*) FROM observations WHERE device_id=?",
                 (dev.key.device,)).fetchone()[0]
ok(st == 200 and cnt == 3, "a third observation links to the held chain", ans)
man_dup = fwclient.canonical({"version": 1, "device": dev.key.device, "bundle_seq": 99,
                              "created": fwclient.iso(time.time()),
                              "observations": [o2, o3]})
st, ans = dev.sync(dev.bundle(man_dup), blobs)
cnt2 = db.execute("SELECT count(*) FROM observations WHERE device_id=?",
                  (dev.key.device,)).fetchone()[0]
ok(st == 200 and cnt2 == 3, "observations repeated in another bundle are stored once",
   ans)

# --- resumable upload -------------------------------------------------------
ev3 = evidence(200000)
b3 = ev3[1]
h3 = hashlib.sha256(b3).hexdigest()
o4 = dev.observation([ev3])
m4 = dev.manifest([o4])
bundle4 = dev.bundle(m4)
st, ans = dev.offer(bundle4)
ok(st == 200 and ans["missing"] == [{"blob": h3, "size": len(b3), "offset": 0}],
   "the offer lists the missing blob from offset 0", ans)
st, ans = dev.upload(h3, 0, b3[:70000])
st, ans = dev.offer(bundle4)
ok(st == 200 and ans["missing"][0]["offset"] == 70000,
   "after a partial upload the offer says where to continue", ans)
before = snapshot()
st, ans = dev.upload(h3, 90000, b3[90000:100000])
ok(st == 409 and ans.get("error") == "bad_offset" and ans.get("offset") == 70000,
   "a chunk past what the server holds -> bad_offset with the offset held", ans)
bad = bytearray(b3[50000:80000])
bad[0] ^= 1
st, ans = dev.upload(h3, 50000, bytes(bad))
refused(st, ans, "conflict", before, "an overlapping chunk with different bytes")
st, ans = dev.upload(h3, 50000, b3[50000:])
ok(st == 200 and ans.get("complete") is True and ans.get("offset") == len(b3),
   "a chunk starting in the middle of held bytes is checked and completed", ans)
st, ans = dev.commit(hashlib.sha256(m4).hexdigest())
ok(st == 200 and ans.get("state") == "committed", "commit after the resumed upload", ans)

# --- hash mismatch ----------------------------------------------------------
ev5 = evidence(5000)
o5 = dev.observation([ev5])
m5 = dev.manifest([o5])
bundle5 = dev.bundle(m5)
h5 = hashlib.sha256(ev5[1]).hexdigest()
st, ans = dev.offer(bundle5)
before = snapshot()
st, ans = dev.upload(h5, 0, os.urandom(len(ev5[1])))
refused(st, ans, "hash_mismatch", before, "a blob whose bytes do not hash to its address")
st, ans = dev.offer(bundle5)
ok(ans["missing"][0]["offset"] == 0, "after a mismatch the blob starts again from 0", ans)
st, ans = dev.commit(hashlib.sha256(m5).hexdigest())
refused(st, ans, "incomplete", before, "commit with a blob missing")
ok(ans.get("missing", [{}])[0].get("blob") == h5, "incomplete names the missing blob", ans)
st, ans = dev.sync(bundle5, {h5: ev5[1]})
ok(st == 200, "the bundle then goes through", ans)

# --- request authentication -------------------------------------------------
before = snapshot()
nonce = os.urandom(16).hex()
body = fwclient.canonical({"bundle": "0" * 64})
st, ans = dev.request("POST", "/v1/sync/commit", body, nonce=nonce)
st, ans = dev.request("POST", "/v1/sync/commit", body, nonce=nonce)
refused(st, ans, "replay", before, "a replayed request (same nonce)")
st, ans = dev.request("GET", "/v1/feed?after=0", when=int(time.time()) - 3600)
ok(st == 401 and ans.get("error") == "clock_skew" and
   abs(ans.get("server_time", 0) - time.time()) < 60,
   "a request an hour old -> clock_skew with the server's time", ans)
other = fwclient.Key(TMP)
good = dev.key
dev.key = other
other.device = good.device          # claims to be the device, signs with another key
st, ans = dev.offer(dev.bundle(dev.manifest([dev.observation()])))
dev.key = good
dev.seq -= 1
dev.prev = hashlib.sha256(fwclient.canonical(o5)).hexdigest()
refused(st, ans, "bad_signature", before, "a request signed with another key")
st, ans = dev.request("GET", "/v1/feed?after=0", sign=False)
refused(st, ans, "unauthenticated", before, "a request without FW-* headers")

# --- bundle checks ----------------------------------------------------------
before = snapshot()
o6 = dev.observation()
m6 = dev.manifest([o6])
st, ans = dev.offer(dev.bundle(m6, key=other))
refused(st, ans, "bad_signature", before, "a bundle signed by another key")
forged = dict(o2)
forged["what"] = "改写过的内容"
st, ans = dev.offer(dev.bundle(dev.manifest([forged])))
refused(st, ans, "conflict", before, "an observation id already held with other bytes")
db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"))
ok(db.execute("SELECT count(*) FROM conflicts WHERE observation_id=?",
              (o2["id"],)).fetchone()[0] >= 1, "the conflict is recorded for review")
words = [os.urandom(3).hex() for _ in range(16)]
import random  # noqa: E402
rnd = random.Random(7)
huge = " ".join(rnd.choice(words) for _ in range(1300000))
big = dict(dev.observation(), what=huge)
dev.seq -= 1
st, ans = dev.offer(dev.bundle(dev.manifest([big])))
refused(st, ans, "inflate_limit", before, "a manifest over 8 MiB once inflated")
bomb = b"FWB1" + b"\0" * 64 + zlib.compress(b" " * (64 << 20), 9)
st, ans = dev.offer(bomb)
refused(st, ans, "inflate_limit", before, "a deflate bomb (64 MiB of spaces in %d bytes)"
        % len(bomb))
st, ans = dev.offer(b"FWB1" + b"\0" * 10)
refused(st, ans, "truncated", before, "a truncated bundle")
st, ans = dev.offer(b"PK\x03\x04" + os.urandom(200))
refused(st, ans, "bad_format", before, "something that is not a bundle")
many = [dict(o6, id=os.urandom(16).hex(), seq=o6["seq"] + i) for i in range(257)]
st, ans = dev.offer(dev.bundle(dev.manifest(many)))
ok(st >= 400 and ans.get("error") in ("limit_exceeded", "chain_broken") and
   snapshot() == before, "257 observations in one bundle are refused", ans)
wrongcat = dev.observation(category="NO-SUCH-CODE")
dev.seq -= 1
dev.prev = hashlib.sha256(fwclient.canonical(o5)).hexdigest()
refused_obs(dev, dev.bundle(dev.manifest([wrongcat])), "policy", before,
            "a category outside the profile's taxonomy", [wrongcat["id"]])
before = snapshot()      # the refusal's bundle is committed: a new baseline
st, ans = dev.offer(dev.bundle(dev.manifest([dict(o6, prev="1" * 64)])))
refused(st, ans, "chain_broken", before, "an observation whose prev does not link")

lying = dev.observation([(ev1[0], ev1[1])])
lying["evidence"][0]["blob_size"] += 1
dev.seq -= 1
dev.prev = hashlib.sha256(fwclient.canonical(o5)).hexdigest()
st, ans = dev.offer(dev.bundle(dev.manifest([lying])))
refused(st, ans, "field_value", before, "evidence naming a held blob with another size")

# --- appointment ------------------------------------------------------------
add_supervisor("S2", start="2025-01-01")
dev2, st, ans, _ = new_device("S2")
old = dev2.observation(captured=time.mktime((2020, 6, 1, 12, 0, 0, 0, 0, 0)))
before = snapshot()
refused_obs(dev2, dev2.bundle(dev2.manifest([old])), "not_appointed", before,
            "an observation captured before the term began", [old["id"]])
dev2.seq, dev2.prev = 0, "0" * 64
today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
method, _ = profile_codes()
prof = configparser.ConfigParser(interpolation=None, strict=False,
                                  inline_comment_prefixes=(";", "#"))
prof.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
cause = [s.split(None, 1)[1] for s in prof.sections() if s.startswith("termination ")
         and prof[s].get("kind", "").strip() == "cause"][0]
admin("supervisor", "terminate", "S2", "--reason", cause, "--on", "2025-06-01",
      "--note", "test")
late = dev2.observation()
refused_obs(dev2, dev2.bundle(dev2.manifest([late])), "not_appointed", before,
            "an observation captured after the supervisor was terminated", [late["id"]])
dev2.seq, dev2.prev = 0, "0" * 64
early = dev2.observation(captured=time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, 0)))
st, ans = dev2.sync(dev2.bundle(dev2.manifest([early])), {})
ok(st == 200 and ans.get("state") == "committed", "an observation captured during the "
   "term is accepted after the termination (within the grace period)", ans)

admin("device", "revoke", dev.key.device, "--reason", "lost")
before = snapshot()
st, ans = dev.offer(dev.bundle(dev.manifest([o6])))
refused(st, ans, "device_revoked", before, "a revoked device")

# --- the audit log ----------------------------------------------------------
r = subprocess.run(VG + [SERVER, "audit", "verify", "--data", DATA], capture_output=True,
                   text=True)
ok(r.returncode == 0 and "intact" in r.stdout, "audit verify passes", r.stdout + r.stderr)
db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"))
acts = {a for (a,) in db.execute("SELECT DISTINCT action FROM audit")}
ok({"ingest.accepted", "ingest.refused", "ingest.conflict", "device.enrolled",
    "supervisor.added", "device.revoked"} <= acts, "the audit log holds every kind of "
   "decision", acts)
text = "".join(t for (t,) in db.execute("SELECT detail FROM audit"))
ok(code not in text and code.replace("-", "") not in text and "改写" not in text,
   "the audit log holds no enrollment code and no clue text")
print("# %d tests, %d failed" % (n, failed))
sys.exit(1 if failed else 0)
