"""Hostile input against the running fundwatch-server (issue 10, "Hostile
input").

Usage: hostile.py SERVER_BIN DATA_DIR PORT SERVER_PID

Speaks the protocol through tests/integration/fwclient.py (an independent
client written from proto/PROTOCOL.md) and raw sockets.  Every attack must
get its own JSON error (the code the protocol names for it) and leave the
store as it was: a dump of every table of fundwatch.db (the audit log may
only gain the refusals it records, "ingest.refused" and "ingest.conflict")
and of the blob folder (every file, partial ones included, with its
SHA-256) is taken before and compared after.  Text fields full of SQL
metacharacters must be stored verbatim.  The server must keep serving under
slowloris and a flood of connections, with bounded memory (VmHWM), and
refuse TLS 1.0 and 1.1.  The officer API's attacks (every endpoint's
tokens, methods, sizes, roles and units, SQL and path traversal) are in
hostile_office.py.

Prints TAP lines, then "summary: hostile: N tried, M accepted" and the same
by group.
FW_TORTURE=1 opens 10,000 connections instead of 1,000.
"""
import base64
import configparser
import hashlib
import json
import os
import resource
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import fwclient  # noqa: E402
import hostile_office  # noqa: E402

SERVER, DATA, PORT, SPID = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
CA = os.path.join(DATA, "tls", "ca.pem")
TMP = tempfile.mkdtemp()
TORTURE = bool(os.environ.get("FW_TORTURE"))
n = 0
failed = 0
tried = 0
accepted = 0
GROUPS = {}             # group -> [tried, accepted], in the order first tried
group = ["device auth"]
AUDIT_OK = {"ingest.refused", "ingest.conflict"}


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:20]:
            print("#   " + line[:400])
    sys.stdout.flush()
    return cond


def admin(*args):
    r = subprocess.run([SERVER] + list(args) + ["--data", DATA, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.stdout.strip() else None


ATTEST = ["law_abiding", "insured_in_city", "full_civil_capacity", "knows_regulations",
          "volunteer", "fit_for_duty", "no_conflict_of_interest", "no_bad_credit"]


def add_supervisor(sid, name=None, start="2025-01-01"):
    args = ["supervisor", "add", "--id", sid, "--name", name or ("张三 " + sid),
            "--birth", "1980-05-01", "--method", "self_nomination", "--start", start]
    for a in ATTEST:
        args += ["--attest", a]
    return admin(*args)


def new_device(sid):
    code = admin("device", "code", "--supervisor", sid)["code"]
    d = fwclient.Device(TMP, PORT, CA)
    st, ans = d.enroll(code)
    if st != 200:
        raise RuntimeError("enroll: %s %s" % (st, ans))
    return d


def count(good):
    """One hostile input tried in the current group; good: refused as it
    should be."""
    global tried, accepted
    g = GROUPS.setdefault(group[0], [0, 0])
    tried += 1
    g[0] += 1
    if not good:
        accepted += 1
        g[1] += 1
    return good


# ---- the store, dumped -------------------------------------------------------
def dump():
    """Every table but the audit log and the request nonces (what the
    replay defence remembers, by design, of every authenticated request),
    the audit actions, the blob folder."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "fundwatch.db"),
                         uri=True, timeout=30)
    tables = {}
    for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                           "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        if t in ("audit", "nonces"):   # nonces: the replay defence's own record
            continue
        # An expired office token is as good as gone: the server drops
        # it when it is next shown.
        live = " WHERE expires > %d" % time.time() if t == "office_tokens" else ""
        rows = db.execute("SELECT * FROM \"%s\"%s" % (t, live)).fetchall()
        tables[t] = sorted(repr(r) for r in rows)
    audit = [a for (a,) in db.execute("SELECT action FROM audit ORDER BY rowid")]
    db.close()
    files = {}
    for root, _, names in os.walk(os.path.join(DATA, "blobs")):
        for f in names:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                files[os.path.relpath(p, DATA)] = hashlib.sha256(fh.read()).hexdigest()
    return tables, audit, files


def diff(before, after, allow=()):
    """What changed, as text; "" if nothing that may not (allow: tables
    that may change and audit actions that may be added, beyond
    AUDIT_OK)."""
    out = []
    tb, ab, fb = before
    ta, aa, fa = after
    for t in sorted(set(tb) | set(ta)):
        if tb.get(t) != ta.get(t) and t not in allow:
            out.append("table %s changed: %d -> %d rows" % (t, len(tb.get(t, [])),
                                                          len(ta.get(t, []))))
    if aa[:len(ab)] != ab:
        out.append("audit log rewritten")
    extra = [a for a in aa[len(ab):] if a not in AUDIT_OK and a not in allow]
    if extra:
        out.append("audit gained %s" % extra)
    if fb != fa:
        out.append("blob folder changed: %s" % sorted(set(fa.items()) ^ set(fb.items())))
    return "\n".join(out)


def refused(desc, call, codes, status=None, allow=(), check=None):
    """One hostile input: call() -> (status, answer); the answer must be one
    of codes (a JSON error) and the store unchanged but for allow (see
    diff); check(answer), if given, must hold too."""
    if isinstance(codes, str):
        codes = (codes,)
    before = dump()
    try:
        st, ans = call()
    except Exception as e:  # noqa: BLE001 - a broken connection is a result too
        st, ans = 0, {"raw": "exception %r" % e}
    changed = diff(before, dump(), allow)
    good = (st >= 400 and isinstance(ans, dict) and ans.get("error") in codes and
            isinstance(ans.get("message"), str) and not changed and
            (check is None or check(ans)))
    if status is not None and st == status and not changed and "raw" in ans:
        good = True     # evhttp's own answer (413 past the body cap): no JSON
    count(good)
    ok(good, "%s -> %s, store unchanged" % (desc, "/".join(codes)),
       "status %s, answer %s\n%s" % (st, json.dumps(ans, ensure_ascii=False)[:600],
                                     changed))
    return st, ans


# ---- setup -------------------------------------------------------------------
add_supervisor("S1")
add_supervisor("S2")
add_supervisor("S3")
dev = new_device("S1")
dev_other = new_device("S1")
dev_rev = new_device("S2")
dev_term = new_device("S3")


def fresh_obs(d, **kw):
    """An observation next in d's chain, without advancing the chain."""
    seq, prev = d.seq, d.prev
    o = d.observation(**kw)
    d.seq, d.prev = seq, prev
    return o


def manifest_of(d, obs, bundle_seq=None):
    return fwclient.canonical({"version": 1, "device": d.key.device,
                               "bundle_seq": bundle_seq or d.bundle_seq + 1,
                               "created": fwclient.iso(time.time()),
                               "observations": obs})


def sealed(d, man_bytes, key=None):
    return b"FWB1" + (key or d.key).sign(man_bytes) + zlib.compress(man_bytes, 9)


def evidence(size):
    plain = os.urandom(size)
    return plain, b"age-encryption.org/v1\n" + os.urandom(size + 100)


# A first honest sync, so that the store holds something to protect.
ev = evidence(40000)
o1 = dev.observation([ev])
m1 = dev.manifest([o1])
b1 = dev.bundle(m1)
st, ans = dev.sync(b1, {hashlib.sha256(ev[1]).hexdigest(): ev[1]})
ok(st == 200 and ans.get("state") == "committed", "an honest sync goes through", ans)
st, ans = dev_rev.sync(dev_rev.bundle(dev_rev.manifest([dev_rev.observation()])), {})
ok(st == 200, "the soon-revoked device syncs once", ans)

# ---- authentication ------------------------------------------------------------
other_key = fwclient.Key(TMP)


def forged_request():
    good = dev.key
    fake = fwclient.Key.__new__(fwclient.Key)
    fake.path, fake.raw, fake.device = other_key.path, other_key.raw, good.device
    dev.key = fake
    try:
        return dev.offer(sealed(dev, manifest_of(dev, [fresh_obs(dev)]), key=good))
    finally:
        dev.key = good


refused("forged request signature (another key claims the device)", forged_request,
        "bad_signature")
refused("forged bundle signature", lambda: dev.offer(
    sealed(dev, manifest_of(dev, [fresh_obs(dev)]), key=other_key)), "bad_signature")
flipped = bytearray(sealed(dev, manifest_of(dev, [fresh_obs(dev)])))
flipped[10] ^= 0x01
refused("bundle signature with one bit flipped", lambda: dev.offer(bytes(flipped)),
        "bad_signature")
refused("a valid bundle replayed by another device", lambda: dev_other.offer(b1),
        "forbidden")
refused("a valid bundle of one device committed by another",
        lambda: dev_other.commit(hashlib.sha256(m1).hexdigest()), ("not_found", "forbidden"))
# A pending bundle of dev (no evidence: it could be committed at once).
pend_o = fresh_obs(dev)
pend_m = manifest_of(dev, [pend_o])
st, ans = dev.offer(sealed(dev, pend_m))
ok(st == 200 and ans.get("state") == "pending", "a bundle of dev is pending", ans)
refused("another device commits a pending bundle of dev", lambda: dev_other.commit(
    hashlib.sha256(pend_m).hexdigest()), ("not_found", "forbidden"))
nonce = os.urandom(16).hex()
pend = sealed(dev, manifest_of(dev, [fresh_obs(dev)]))
body = fwclient.canonical({"bundle": "0" * 64})
dev.request("POST", "/v1/sync/commit", body, nonce=nonce)
refused("a request replayed (same nonce, same bytes)",
        lambda: dev.request("POST", "/v1/sync/commit", body, nonce=nonce), "replay")
refused("a replayed nonce on another request",
        lambda: dev.request("POST", "/v1/sync/offer", pend, nonce=nonce,
                            ctype="application/vnd.fundwatch.bundle"), "replay")
refused("a request an hour old", lambda: dev.request(
    "POST", "/v1/sync/offer", pend, when=int(time.time()) - 3600,
    ctype="application/vnd.fundwatch.bundle"), "clock_skew")
refused("a request from the far future", lambda: dev.request(
    "POST", "/v1/sync/offer", pend, when=2 ** 62, ctype="application/vnd.fundwatch.bundle"),
    ("clock_skew", "unauthenticated"))


def tampered_body():
    """Signed over one body, sent with another."""
    t = str(int(time.time()))
    nn = os.urandom(16).hex()
    s = "fundwatch-request-v1\nPOST\n/v1/sync/offer\n%s\n%s\n%s\n" % (
        t, nn, hashlib.sha256(b"other").hexdigest())
    return dev.request("POST", "/v1/sync/offer", pend, sign=False,
                       ctype="application/vnd.fundwatch.bundle",
                       headers={"FW-Device": dev.key.device, "FW-Time": t, "FW-Nonce": nn,
                                "FW-Signature": base64.b64encode(
                                    dev.key.sign(s.encode())).decode()})


refused("a body that is not the one signed", tampered_body,
        ("bad_signature", "unauthenticated"))
refused("no authentication headers", lambda: dev.request(
    "POST", "/v1/sync/offer", pend, sign=False, ctype="application/vnd.fundwatch.bundle"),
    "unauthenticated")
refused("an unknown device", lambda: fwclient.Device(TMP, PORT, CA).request(
    "GET", "/v1/feed?after=0"), "unknown_device")

admin("device", "revoke", dev_rev.key.device, "--reason", "lost")
refused("a revoked device offers", lambda: dev_rev.offer(
    sealed(dev_rev, manifest_of(dev_rev, [fresh_obs(dev_rev)]))), "device_revoked")
refused("a revoked device uploads", lambda: dev_rev.upload("a" * 64, 0, b"x"),
        "device_revoked")
refused("a revoked device commits", lambda: dev_rev.commit("a" * 64), "device_revoked")
# The termination reason code comes from the profile: the first of kind cause.
prof = configparser.ConfigParser(interpolation=None, strict=False,
                                 inline_comment_prefixes=(";", "#"))
prof.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
cause = [s.split(None, 1)[1] for s in prof.sections() if s.startswith("termination ")
         and prof[s].get("kind", "").strip() == "cause"][0]
admin("supervisor", "terminate", "S3", "--reason", cause, "--on", "2025-06-01",
      "--note", "test")
def refused_obs(desc, call, code):
    """An observation the office's rules refuse (PROTOCOL.md 8.1): the offer
    names it in "refused" and asks for none of its evidence; nothing of it is
    stored (only the offered bundle is recorded, so that its receipt can say
    the observation was refused)."""
    before = dump()
    st, ans = call()
    after = dump()
    keep = ("observations", "observation_blobs", "blobs")
    changed = [t for t in keep if before[0].get(t) != after[0].get(t)]
    changed += ["blob files"] if before[2] != after[2] else []
    good = (st == 200 and [r.get("error") for r in ans.get("refused", [])] == [code]
            and ans.get("missing") == [] and not changed)
    count(good)
    ok(good, "%s -> refused as %s, nothing of it stored" % (desc, code),
       "status %s, answer %s, changed %s" % (st, json.dumps(ans)[:600], changed))


refused_obs("a device of a terminated supervisor, capture after the termination",
            lambda: dev_term.offer(sealed(dev_term, manifest_of(dev_term,
                                                                [fresh_obs(dev_term)]))),
            "not_appointed")

# ---- sizes past the limits ----------------------------------------------------
group[0] = "device limits"
rnd_words = [os.urandom(4).hex() for _ in range(64)]


def incompressible_text(nbytes):
    import random
    r = random.Random(nbytes)
    s = " ".join(r.choice(rnd_words) for _ in range(nbytes // 8 + 2))
    return s[:nbytes]


# A manifest of exactly 8 MiB + 1 byte once inflated.
base = fresh_obs(dev)
skel = manifest_of(dev, [dict(base, what="")])
pad = 8388608 + 1 - len(skel)
big = manifest_of(dev, [dict(base, what=incompressible_text(pad))])
ok(len(big) == 8388609, "the oversized manifest is 8 MiB + 1 bytes", len(big))
refused("a manifest of 8 MiB + 1 bytes (what over its limit too)",
        lambda: dev.offer(sealed(dev, big)), ("inflate_limit", "limit_exceeded"))
wire = b"FWB1" + b"\0" * 64 + os.urandom(2097152 + 1 - 68)
refused("a bundle of 2 MiB + 1 bytes on the wire", lambda: dev.offer(wire),
        "limit_exceeded")
refused("what of 16384 + 1 bytes", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [fresh_obs(dev, what="x" * 16385)]))), "field_length")
refused("subject.name of 256 + 1 bytes", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [dict(base, subject={"kind": "pharmacy", "name": "n" * 257})]))), "field_length")
refused("place.text of 512 + 1 bytes", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [dict(base, place={"text": "p" * 513})]))), "field_length")
refused("a code of 32 + 1 bytes", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [dict(base, categories=["C" * 33])]))), "field_length")
ev_item = fresh_obs(dev, evidence=[evidence(10)])["evidence"][0]
refused("media_type of 127 + 1 bytes", lambda: dev.offer(sealed(dev, manifest_of(dev, [dict(
    base, evidence=[dict(ev_item, media_type="image/" + "j" * 122)])]))), "field_length")
many = []
prev = dev.prev
for i in range(257):
    o = dict(base, id=os.urandom(16).hex(), seq=dev.seq + 1 + i, prev=prev)
    prev = hashlib.sha256(fwclient.canonical(o)).hexdigest()
    many.append(o)
refused("257 observations in one bundle", lambda: dev.offer(sealed(dev, manifest_of(
    dev, many))), "limit_exceeded")
ev33 = fresh_obs(dev, evidence=[evidence(5) for _ in range(33)])
refused("33 evidence items in one observation", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [ev33]))), "limit_exceeded")
refused("17 categories", lambda: dev.offer(sealed(dev, manifest_of(
    dev, [dict(base, categories=["QY-5-1-%02d" % i for i in range(17)])]))),
    ("field_length", "limit_exceeded"))
refused("blob_size of 2^32 + 1", lambda: dev.offer(sealed(dev, manifest_of(dev, [dict(
    base, evidence=[dict(fresh_obs(dev, evidence=[evidence(10)])["evidence"][0],
                         blob_size=2 ** 32 + 1)])]))), "field_range")

# Chunks: the server's max_chunk + 1 and the protocol's 4 MiB + 1.
evc = evidence(3 << 20)
oc = dev.observation([evc])
mc = dev.manifest([oc])
hc = hashlib.sha256(evc[1]).hexdigest()
st, ans = dev.offer(dev.bundle(mc))
ok(st == 200 and ans["missing"][0]["blob"] == hc, "a bundle with a 3 MiB blob is pending",
   ans)
max_chunk = ans.get("chunk_size", 1048576)
refused("a chunk of max_chunk (%d) + 1 bytes" % max_chunk,
        lambda: dev.upload(hc, 0, evc[1][:max_chunk + 1]), "limit_exceeded")
refused("a chunk of 4 MiB + 1 bytes", lambda: dev.upload(hc, 0, os.urandom(4194305)),
        "limit_exceeded", status=413)
refused("a chunk past the blob's end", lambda: dev.upload(
    hc, len(evc[1]) - 10, b"x" * 11), ("limit_exceeded", "bad_offset"))
refused("a negative offset", lambda: dev.request(
    "PUT", "/v1/blobs/%s?offset=-1" % hc, b"x", ctype="application/octet-stream"),
    "invalid_argument")
refused("an offset past 2^64", lambda: dev.request(
    "PUT", "/v1/blobs/%s?offset=99999999999999999999999" % hc, b"x",
    ctype="application/octet-stream"), "invalid_argument")
refused("a commit body of 64 KiB + 1", lambda: dev.request(
    "POST", "/v1/sync/commit", b'{"bundle":"' + b"a" * (65537 - 13) + b'"}'),
    "limit_exceeded")
refused("an enroll body of 64 KiB + 1", lambda: dev.request(
    "POST", "/v1/enroll", b'{"code":"' + b"a" * (65537 - 11) + b'"}', sign=False),
    "limit_exceeded")

# ---- deflate bombs -------------------------------------------------------------
group[0] = "deflate bombs"
for desc, raw in (("64 MiB of spaces", b" " * (64 << 20)),
                  ("9 MiB of zeros", b"\0" * (9 << 20)),
                  ("1 MiB of a valid-looking manifest prefix, ratio over 100",
                   b'{"version":1,"observations":[' + b" " * (1 << 20))):
    bomb = b"FWB1" + b"\0" * 64 + zlib.compress(raw, 9)
    refused("a deflate bomb (%s in %d bytes)" % (desc, len(bomb)),
            lambda bomb=bomb: dev.offer(bomb), "inflate_limit")
nested = zlib.compressobj(9)
bomb = b"FWB1" + b"\0" * 64 + nested.compress(zlib.compress(b" " * (8 << 20), 9)) + \
    nested.flush()
refused("a zlib stream inside a zlib stream", lambda: dev.offer(bomb),
        ("bad_json", "bad_utf8", "bad_signature", "inflate_limit"))
refused("bytes after the end of the zlib stream", lambda: dev.offer(
    sealed(dev, manifest_of(dev, [fresh_obs(dev)])) + b"trailing"), "bad_compression")
refused("a corrupt zlib stream", lambda: dev.offer(b"FWB1" + b"\0" * 64 + b"\x78\x9c" +
                                                   os.urandom(200)), "bad_compression")


# ---- JSON -------------------------------------------------------------------------
group[0] = "device JSON"
def manifest_text(text):
    """A bundle around manifest bytes, signed by dev."""
    return dev.offer(sealed(dev, text))


deep = b'{"version":1,"x":' + b"[" * 10000 + b"]" * 10000 + b"}"
# The JSON reader caps values and containers per byte: limit_exceeded.
NEST = ("bad_json", "limit_exceeded")
refused("a manifest nested 10,000 deep", lambda: manifest_text(deep), NEST)
refused("a commit body nested 10,000 deep", lambda: dev.request(
    "POST", "/v1/sync/commit", b'{"bundle":' + b"[" * 10000 + b"]" * 10000 + b"}"),
    NEST)
refused("an enroll body nested 10,000 deep", lambda: dev.request(
    "POST", "/v1/enroll", b"{\"code\":" + b"{\"a\":" * 10000 + b"1" + b"}" * 10001,
    sign=False), NEST)
good_man = manifest_of(dev, [fresh_obs(dev)])
dup = good_man.replace(b'"version":1', b'"version":1,"version":1', 1)
refused("duplicate keys at the top of a manifest", lambda: manifest_text(dup),
        "field_duplicate")
dup2 = good_man.replace(b'"severity":"normal"', b'"severity":"normal","severity":"major"', 1)
refused("duplicate keys inside an observation", lambda: manifest_text(dup2),
        "field_duplicate")
refused("duplicate keys in a commit body", lambda: dev.request(
    "POST", "/v1/sync/commit", b'{"bundle":"' + b"a" * 64 + b'","bundle":"' + b"b" * 64 +
    b'"}'), "field_duplicate")
for desc, bad in (("a lone continuation byte", b"\x80"), ("an overlong '/'", b"\xc0\xaf"),
                  ("a surrogate", b"\xed\xa0\x80"), ("past U+10FFFF", b"\xf4\x90\x80\x80"),
                  ("a truncated sequence", b"\xe4\xb8")):
    refused("invalid UTF-8 in what (%s)" % desc, lambda bad=bad: manifest_text(
        good_man.replace(b'"what":"', b'"what":"' + bad, 1)), "bad_utf8")
refused("invalid UTF-8 in a commit body", lambda: dev.request(
    "POST", "/v1/sync/commit", b'{"bundle":"\xff\xfe"}'), "bad_utf8")
for desc, num in (("2^53", b"9007199254740992"), ("2^53 + 1", b"9007199254740993"),
                  ("2^64", b"18446744073709551616"), ("1e400", b"1e400"),
                  ("-1", b"-1"), ("1.0", b"1.0")):
    codes = ("field_type", "field_range") if desc in ("1e400", "1.0") else "field_range"
    man = json.loads(good_man)
    raw = good_man.replace(b'"bundle_seq":%d' % man["bundle_seq"], b'"bundle_seq":' + num)
    refused("bundle_seq %s" % desc, lambda raw=raw: manifest_text(raw),
            codes + ("bad_json",) if isinstance(codes, tuple) else (codes, "bad_json"))
seqd = good_man.replace(b'"seq":%d' % (dev.seq + 1), b'"seq":9007199254740993')
refused("an observation seq of 2^53 + 1", lambda: manifest_text(seqd),
        ("field_range", "bad_json"))
refused("a NUL in what (\\u0000)", lambda: manifest_text(
    good_man.replace(b'"what":"', b'"what":"a\\u0000b', 1)), ("field_value", "bad_json"))
refused("a raw NUL byte in what", lambda: manifest_text(
    good_man.replace(b'"what":"', b'"what":"a\x00b', 1)), ("bad_json", "field_value"))
refused("a NUL in place.text", lambda: manifest_text(
    good_man.replace(b'"text":"', b'"text":"\\u0000', 1)), ("field_value", "bad_json"))
refused("a NUL in a commit's bundle id", lambda: dev.request(
    "POST", "/v1/sync/commit", b'{"bundle":"' + b"a" * 63 + b'\\u0000"}'),
    ("field_value", "bad_json", "field_length"))
refused("a NUL in the enrollment code", lambda: dev.request(
    "POST", "/v1/enroll", fwclient.canonical({"code": "AAAA\u0000BBBB-CCCC",
                                             "public_key": "A" * 43 + "=",
                                             "proof": "A" * 86 + "=="}), sign=False),
    ("bad_enrollment_code", "field_value", "bad_json"))
refused("a control character in what", lambda: manifest_text(
    good_man.replace(b'"what":"', b'"what":"\\u001b[2J', 1)), "field_value")
refused("a field the protocol does not define", lambda: manifest_text(
    good_man.replace(b'"version":1', b'"version":1,"admin":true', 1)), "field_unknown")
refused("not JSON at all", lambda: manifest_text(b"\xff\xd8\xff\xe0 JFIF"),
        ("bad_json", "bad_utf8"))
refused("trailing bytes after the manifest", lambda: manifest_text(good_man + b" {}"),
        "bad_json")

# ---- content against hash -----------------------------------------------------------
group[0] = "blob content"
evm = evidence(5000)
om = dev.observation([evm])
mm = dev.manifest([om])
hm = hashlib.sha256(evm[1]).hexdigest()
st, ans = dev.offer(dev.bundle(mm))
ok(st == 200, "a bundle whose blob will be forged is pending", ans)
refused("a blob whose content does not match its hash",
        lambda: dev.upload(hm, 0, os.urandom(len(evm[1]))), "hash_mismatch")
refused("another device uploads the blob of dev's pending bundle",
        lambda: dev_other.upload(hm, 0, evm[1]), ("not_found", "forbidden"))
refused("commit while that blob is missing", lambda: dev.commit(
    hashlib.sha256(mm).hexdigest()), "incomplete")

# ---- path traversal --------------------------------------------------------------
group[0] = "device path traversal"
marker = os.path.join(TMP, "pwned")
for desc, target in (
        ("../ in a blob id", "/v1/blobs/../../../../etc/passwd?offset=0"),
        ("%2e%2e%2f in a blob id", "/v1/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd?offset=0"),
        ("%2e%2e in a blob id", "/v1/blobs/%2e%2e?offset=0"),
        (".. as a blob id", "/v1/blobs/..?offset=0"),
        ("an absolute path as a blob id", "/v1/blobs/" + marker + "?offset=0"),
        ("%2f-encoded absolute path", "/v1/blobs/%2ftmp%2fpwned?offset=0"),
        ("an overlong blob id (600 bytes)", "/v1/blobs/" + "a" * 600 + "?offset=0"),
        ("a 65-hex blob id", "/v1/blobs/" + "a" * 65 + "?offset=0"),
        ("an upper-case hex blob id", "/v1/blobs/" + "A" * 64 + "?offset=0"),
        ("an overlong UTF-8 '/' in a blob id", "/v1/blobs/%c0%af" + "a" * 60 + "?offset=0"),
        ("a NUL in a blob id", "/v1/blobs/" + "a" * 32 + "%00" + "a" * 31 + "?offset=0"),
        ("a backslash path", "/v1/blobs/..\\..\\etc\\passwd?offset=0"),
        ("a partial/ prefix", "/v1/blobs/partial%2f" + hm + "?offset=0"),
        ("a held blob's id with ../", "/v1/blobs/" + hm[:2] + "/../" + hm + "?offset=0")):
    refused("path traversal: %s" % desc, lambda target=target: dev.request(
        "PUT", target, b"age-encryption.org/v1\n", ctype="application/octet-stream"),
        ("not_found", "invalid_argument", "field_value"))
refused("path traversal: ../ in the device header", lambda: dev.request(
    "GET", "/v1/feed?after=0", headers={"FW-Device": "../../../../etc/passwd"}),
    ("unauthenticated", "bad_signature"))
refused("path traversal: ../ as a bundle id", lambda: dev.request(
    "POST", "/v1/sync/commit", fwclient.canonical({"bundle": "../" * 21 + "a"})),
    "field_value")
refused("path traversal: ../ as an evidence blob in a manifest", lambda: manifest_text(
    manifest_of(dev, [dict(base, evidence=[dict(fresh_obs(
        dev, evidence=[evidence(10)])["evidence"][0], blob="../../" + "a" * 58)])])),
    "field_value")
refused("path traversal: ../ as an observation id", lambda: manifest_text(manifest_of(
    dev, [dict(base, id="../../../../../../../../etc/pass")])), "field_value")
refused("path traversal: ../ in the feed cursor", lambda: dev.request(
    "GET", "/v1/feed?after=../../1"), "invalid_argument")
refused("path traversal: ../ in the path", lambda: dev.request(
    "GET", "/v1/../v1/feed?after=0"), ("not_found", "invalid_argument"))
ok(not os.path.exists(marker), "no file was made outside the blob folder")

# ---- SQL metacharacters: stored verbatim, never executed ----------------------------
group[0] = "device SQL"
SQL = ["'; DROP TABLE observations; --", "\" OR \"1\"=\"1", "Robert'); DELETE FROM devices;--",
       "1; ATTACH DATABASE '/tmp/x.db' AS x; --", "%' OR 1=1 --", "\\'; SELECT sqlite_version(); --"]
for i, s in enumerate(SQL):
    o = dev.observation(what="药房 %s 刷卡" % s)
    o["place"]["text"] = "清城区 " + s
    o["subject"]["name"] = s
    # changed after observation() hashed it: link the chain to these bytes
    dev.prev = hashlib.sha256(fwclient.canonical(o)).hexdigest()
    st, ans = dev.sync(dev.bundle(dev.manifest([o])), {})
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "fundwatch.db"), uri=True)
    row = db.execute("SELECT canonical FROM observations WHERE id=?", (o["id"],)).fetchone()
    tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    ndev = db.execute("SELECT count(*) FROM devices").fetchone()[0]
    db.close()
    good = (st == 200 and row is not None and
            json.loads(bytes(row[0]))["what"] == o["what"] and
            json.loads(bytes(row[0]))["subject"]["name"] == s and
            json.loads(bytes(row[0]))["place"]["text"] == o["place"]["text"] and
            {"observations", "devices"} <= tables and ndev >= 4 and
            not os.path.exists("/tmp/x.db"))
    count(good)
    ok(good, "SQL metacharacters in what, place.text, subject.name stored verbatim: %r" % s,
       "%s %s" % (st, ans))
for s in SQL[:3]:
    refused("SQL metacharacters in a code (institution) %r" % s, lambda s=s: manifest_text(
        manifest_of(dev, [dict(base, subject={"kind": "pharmacy", "name": "x",
                                              "institution": s})])), "field_value")
    refused("SQL metacharacters in a category %r" % s, lambda s=s: manifest_text(
        manifest_of(dev, [dict(base, categories=[s[:32]])])), ("field_value", "policy"))
    refused("SQL metacharacters in an enrollment code %r" % s, lambda s=s: dev.request(
        "POST", "/v1/enroll", fwclient.canonical({"code": s[:32], "public_key": "A" * 43 + "=",
                                                 "proof": "A" * 86 + "=="}), sign=False),
        ("bad_enrollment_code", "bad_key"))
    refused("SQL metacharacters in the device header %r" % s, lambda s=s: dev.request(
        "GET", "/v1/feed?after=0", headers={"FW-Device": s}), "unauthenticated")
    refused("SQL metacharacters in the nonce %r" % s, lambda s=s: dev.request(
        "GET", "/v1/feed?after=0", headers={"FW-Nonce": s}),
        ("unauthenticated", "bad_signature"))
    refused("SQL metacharacters in a commit's bundle id %r" % s, lambda s=s: dev.request(
        "POST", "/v1/sync/commit", fwclient.canonical({"bundle": (s * 20)[:64]})),
        "field_value")
sid = "S9"
name = "王五'); DROP TABLE supervisors; --"
add_supervisor(sid, name=name)
db = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "fundwatch.db"), uri=True)
got = db.execute("SELECT name FROM supervisors WHERE id=?", (sid,)).fetchone()
db.close()
ok(count(got is not None and got[0] == name),
   "SQL metacharacters in a supervisor's name (admin) stored verbatim", got)

# ---- the officer API ----------------------------------------------------------------
hostile_office.run(sys.modules[__name__])

# ---- TLS downgrade ----------------------------------------------------------------
group[0] = "TLS downgrade"
warnings.simplefilter("ignore", DeprecationWarning)
for ver, name in ((ssl.TLSVersion.TLSv1, "TLS 1.0"), (ssl.TLSVersion.TLSv1_1, "TLS 1.1")):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CA)
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
        ctx.minimum_version = ver
        ctx.maximum_version = ver
    except (ValueError, ssl.SSLError):
        pass
    res = "connected"
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                res = "connected with " + str(t.version())
    except ssl.SSLError as e:
        res = "refused: %s" % e
    except OSError as e:
        res = "refused (closed): %s" % e
    refusal = count(res.startswith("refused"))
    ok(refusal, "%s refused by the server" % name, res)
    print("# %s: %s" % (name, res))
for flag in ("-tls1", "-tls1_1"):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % PORT, flag,
                        "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", CA],
                       input=b"", capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode("latin-1")
    refusal = count(r.returncode != 0 and "Cipher is (NONE)" in out or
                    "alert protocol version" in out or "no protocols available" in out or
                    "unsupported protocol" in out)
    ok(refusal, "openssl s_client %s refused" % flag, out[-800:])

# ---- the server still serves, memory bounded ---------------------------------------
group[0] = "floods"
def vmhwm():
    with open("/proc/%d/status" % SPID) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def serves(timeout=60):
    """An honest request succeeds within timeout seconds (retrying)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            st, ans = dev_other.request("GET", "/v1/feed?after=0")
            if st == 200:
                return True, time.time() + timeout - end
            last = (st, ans)
        except Exception as e:  # noqa: BLE001
            last = repr(e)
        time.sleep(0.5)
    return False, last


try:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
except (ValueError, OSError):
    pass
hwm0 = vmhwm()
print("# server VmHWM before the floods: %d kB" % hwm0)

# Slowloris: many connections, each trickling a request head a byte at a time.
NSLOW = 200
stop = threading.Event()
slow_socks = []
slow_alive = [0]


def slowloris():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CA)
    for _ in range(NSLOW):
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
            t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
            t.sendall(b"PUT /v1/blobs/" + b"a" * 64 + b"?offset=0 HTTP/1.1\r\nHost: x\r\n")
            slow_socks.append(t)
        except (OSError, ssl.SSLError):
            pass
    end = time.time() + 40
    while not stop.is_set() and time.time() < end:
        alive = 0
        for t in slow_socks:
            try:
                t.sendall(b"X")
                alive += 1
            except (OSError, ssl.SSLError):
                pass
        slow_alive[0] = alive
        stop.wait(1)


th = threading.Thread(target=slowloris, daemon=True)
th.start()
time.sleep(4)
good, took = serves(60)
count(good)
ok(good, "slowloris (%d connections trickling a byte a second): an honest request is "
   "served (%.1f s)" % (NSLOW, took if good else -1), took)
time.sleep(max(0, 15 - 4))
alive = slow_alive[0]
stop.set()
th.join(10)
for t in slow_socks:
    try:
        t.close()
    except OSError:
        pass
ok(alive < NSLOW, "slowloris: the server dropped trickling connections after its timeout "
   "(%d of %d still open at 15 s)" % (alive, NSLOW), alive)

# A client opening many connections and holding them.
NFLOOD = 10000 if TORTURE else 1000
flood = []
t0 = time.time()
for i in range(NFLOOD):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", PORT))
        flood.append(s)
    except OSError:
        break
    if i % 200 == 199:
        time.sleep(0.05)
print("# opened %d connections in %.1f s" % (len(flood), time.time() - t0))
time.sleep(2)
good, took = serves(90)
count(good)
ok(good, "%d connections held open: an honest request is served (%.1f s)" % (
    len(flood), took if good else -1), took)
for s in flood:
    try:
        s.close()
    except OSError:
        pass
# Many connections that each start a TLS handshake and stop half way.
half = []
for i in range(NFLOOD // 2):
    try:
        s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(32))
        half.append(s)
    except OSError:
        break
good, took = serves(90)
count(good)
ok(good, "%d half-finished TLS handshakes held: an honest request is served (%.1f s)" % (
    len(half), took if good else -1), took)
for s in half:
    s.close()
hwm1 = vmhwm()
print("# server VmHWM after the floods: %d kB (+%d kB)" % (hwm1, hwm1 - hwm0))
if os.environ.get("FW_SANITIZED"):
    # ASan's shadow memory and quarantine make VmHWM say nothing of ours.
    print("# memory bound not checked under %s" % os.environ["FW_SANITIZED"])
else:
    ok(hwm1 < 256 * 1024 and hwm1 - hwm0 < 128 * 1024,
       "server memory stays bounded under the floods (VmHWM %d kB, +%d kB)" %
       (hwm1, hwm1 - hwm0))
time.sleep(1)
good, _ = serves(60)
ok(good, "after the floods the server serves as before")
ok(os.path.exists("/proc/%d" % SPID), "the server never crashed")

r = subprocess.run([SERVER, "audit", "verify", "--data", DATA], capture_output=True,
                   text=True)
ok(r.returncode == 0, "audit verify passes after the attacks", r.stdout + r.stderr)
print("summary: hostile: %d tried, %d accepted" % (tried, accepted))
print("summary: hostile by group (tried/accepted): " + ", ".join(
    "%s %d/%d" % (g, t, a) for g, (t, a) in GROUPS.items()))
print("# %d tests, %d failed" % (n, failed))
sys.exit(1 if failed else 0)
