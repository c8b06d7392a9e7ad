"""The officer API (proto/OFFICE.md) against the real fundwatch-server.

Usage: office.py SERVER_BIN DATA_DIR PORT PID SERVER_LOG SIGTERM_MARK
(SIGTERM_MARK: a file made once this script has sent the server SIGTERM.)
Two units, officers of every role, two cases (one each), evidence
encrypted with the stock `age` tool to the office's recipient and synced
by an independent device client (fwclient).  Asserts the role x endpoint x
own/other unit matrix, tokens (missing, malformed, expired, logged out),
evidence streamed back byte-identical (decrypted and as stored), the
server's peak RSS while 50 MiB of evidence streams out, a corrupt blob cut
short rather than passed off as whole, audit entries, the login rate
limits, and that no token or password reaches the log.  Prints TAP lines.
"""
import configparser
import hashlib
import http.client
import json
import os
import sqlite3
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwclient  # noqa: E402

SERVER, DATA, PORT, PID, LOG, MARK = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                      int(sys.argv[4]), sys.argv[5], sys.argv[6])
# make valgrind: the command that goes before the server (run-tests.sh)
VG = os.environ.get("VALGRIND", "").split()
CA = os.path.join(DATA, "tls", "ca.pem")
CTX = ssl.create_default_context(cafile=CA)
# beside the data folder, in office.sh's temporary folder, which it removes
TMP = os.path.join(os.path.dirname(os.path.abspath(DATA)), "client")
os.makedirs(TMP, exist_ok=True)
BIG = 50 << 20
n = 0
failed = 0
SECRETS = []            # every token and password: none may reach the log


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def admin(*args, stdin=None):
    r = subprocess.run(VG + [SERVER] + list(args) + ["--data", DATA],
                       capture_output=True, text=True, input=stdin)
    if r.returncode != 0:
        raise RuntimeError("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r.stdout


def req(method, path, token=None, body=None, headers=None):
    """One request on a new connection: (status, JSON or raw bytes)."""
    h = {"Content-Type": "application/json"}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    c = http.client.HTTPSConnection("127.0.0.1", PORT, context=CTX, timeout=60)
    data = b"" if body is None else (body if isinstance(body, bytes)
                                     else json.dumps(body).encode())
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, raw


def login(officer, password):
    st, ans = req("POST", "/v1/office/login", body={"officer": officer,
                                                   "password": password})
    if st == 200:
        SECRETS.append(ans["token"])
    return st, ans


def vm(field="VmHWM"):
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def vmhwm():
    return vm("VmHWM")


def stream(path, token, sink=None):
    """GET path reading the body 64 KiB at a time: (status, sha256 hex,
    bytes, error or None).  Never holds the body."""
    c = http.client.HTTPSConnection("127.0.0.1", PORT, context=CTX, timeout=60)
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    h = hashlib.sha256()
    got = 0
    err = None
    try:
        for _ in range(1 << 16):
            b = r.read(65536)
            if not b:
                break
            got += len(b)
            h.update(b)
            if sink is not None:
                sink(got)
    except (http.client.IncompleteRead, ConnectionError, ssl.SSLError) as ex:
        err = ex
    hdr = dict(r.getheaders())
    c.close()
    return r.status, h.hexdigest(), got, err, hdr


def supervisor_args(sid, unit):
    """`supervisor add` for sid with the profile's first method and every
    attestation it requires."""
    p = configparser.ConfigParser(interpolation=None, strict=False,
                                  inline_comment_prefixes=(";", "#"))
    p.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
    method = [s.split(None, 1)[1] for s in p.sections() if s.startswith("method ")][0]
    args = ["supervisor", "add", "--id", sid, "--name", "张三", "--birth",
            "1980-05-01", "--method", method, "--start", "2025-01-01", "--unit",
            unit]
    for s in p.sections():
        if s.startswith("eligibility ") and p[s].get("required", "no").strip() in (
                "yes", "true", "1"):
            args += ["--attest", s.split(None, 1)[1]]
    return args


def age_encrypt(plain_path):
    rcpt = open(os.path.join(DATA, "keys", "office.pub")).read().strip()
    out = plain_path + ".age"
    subprocess.run(["age", "-e", "-r", rcpt, "-o", out, plain_path], check=True)
    return out


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for _ in range(1 << 16):
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


# ---- setup: units, officers, routes, a device, two cases -------------------

db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"), timeout=30)
cats = None
PW = {}
OFFICERS = {
    # id: (unit, roles)
    "admin1": ("ua", "admin"),
    "liaison1": ("ua", "liaison"),
    "lead1": ("ua", "unit_lead"),
    "off1": ("ua", "officer"),
    "reward1": ("ua", "reward_officer"),
    "audit1": ("ua", "auditor"),
    "off2": ("ub", "officer"),
    "lead2": ("ub", "unit_lead"),
    "reward2": ("ub", "reward_officer"),
}
admin("unit", "add", "ua", "--name", "清城区医保局", "--jurisdiction", "ja",
      "--city")
admin("unit", "add", "ub", "--name", "清新区医保局", "--jurisdiction", "jb")
for oid, (unit, roles) in OFFICERS.items():
    PW[oid] = "pw-%s-%s" % (oid, os.urandom(6).hex())
    SECRETS.append(PW[oid])
    admin("officer", "add", oid, "--name", "干部 " + oid, "--unit", unit,
          "--roles", roles, stdin=PW[oid] + "\n")

admin(*supervisor_args("S001", "ja"))
code = json.loads(admin("device", "code", "--supervisor", "S001", "--json"))["code"]
dev = fwclient.Device(TMP, PORT, CA)
st, _ = dev.enroll(code)
ok(st == 200, "device enrolled")
cats = [t["code"] for t in dev.enrolled["taxonomy"]]
admin("route", "add", "--category", cats[0], "--unit", "ua")
admin("route", "add", "--category", cats[1], "--unit", "ub")
admin("route", "add", "--category", cats[2], "--unit", "ua")

# Evidence: small and 300 KiB on clue 1 (unit ua), small on clue 2 (unit
# ub), 50 MiB on clue 3 (unit ua, a case of its own, so that exports stay
# small); each encrypted with the stock age tool.
files = {}
for name, size in (("small", 5000), ("mid", 300 << 10), ("b", 7000), ("empty", 0)):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    files[name] = p
big = os.path.join(TMP, "big")
with open(big, "wb") as f:
    for _ in range(BIG >> 20):
        f.write(os.urandom(1 << 20))
files["big"] = big
ev = {}
for name, p in files.items():
    a = age_encrypt(p)
    ev[name] = {"plain": p, "age": a, "sha": sha_file(p), "blob": sha_file(a),
                "size": os.path.getsize(p)}
    if name == "big":
        os.unlink(p)


def obs(names, cat):
    o = dev.observation(category=cat)
    o["evidence"] = [{"kind": "photo", "media_type": "image/jpeg",
                      "size": ev[nm]["size"], "sha256": ev[nm]["sha"],
                      "blob": ev[nm]["blob"],
                      "blob_size": os.path.getsize(ev[nm]["age"]),
                      "captured": o["captured"]} for nm in names]
    # the chain covers the evidence: recompute this observation's hash
    dev.prev = hashlib.sha256(fwclient.canonical(o)).hexdigest()
    return o


class Blobs(dict):
    """blob id -> bytes, read from the age file when asked."""

    def __missing__(self, key):
        for e in ev.values():
            if e["blob"] == key:
                return open(e["age"], "rb").read()
        raise KeyError(key)


o1 = obs(["small", "mid", "empty"], cats[0])
o2 = obs(["b"], cats[1])
o3 = obs(["big"], cats[2])
manifest = dev.manifest([o1, o2, o3])
st, ans = dev.sync(dev.bundle(manifest), Blobs())
ok(st == 200 and ans.get("state") == "committed", "clues synced with 50 MiB of "
   "evidence", "%s %s" % (st, ans))

row = db.execute("SELECT case_id FROM clues WHERE observation_id = ?",
                 (o1["id"],)).fetchone()
CA_ID = row[0] if row else 0
row = db.execute("SELECT case_id FROM clues WHERE observation_id = ?",
                 (o2["id"],)).fetchone()
CB_ID = row[0] if row else 0
row = db.execute("SELECT case_id FROM clues WHERE observation_id = ?",
                 (o3["id"],)).fetchone()
CC_ID = row[0] if row else 0
units = dict(db.execute("SELECT id, unit FROM cases").fetchall())
ok(CA_ID and CB_ID and CC_ID and units.get(CA_ID) == "ua" and
   units.get(CB_ID) == "ub" and units.get(CC_ID) == "ua" and CC_ID != CA_ID,
   "clues 1 and 3 are cases of unit ua, clue 2 of unit ub", units)

# ---- login and tokens --------------------------------------------------------

TOK = {}
for oid in OFFICERS:
    st, ans = login(oid, PW[oid])
    if st == 200:
        TOK[oid] = ans["token"]
ok(len(TOK) == len(OFFICERS), "every officer logs in")
st, ans = login("off1", PW["off1"])
ok(st == 200 and len(ans["token"]) == 64 and ans["ttl"] == 900 and
   ans["officer"]["id"] == "off1" and ans["officer"]["unit"] == "ua" and
   ans["officer"]["roles"] == ["officer"], "login answers token, ttl, officer", ans)
st, me = req("GET", "/v1/office/me", TOK["lead1"])
ok(st == 200 and me["officer"]["id"] == "lead1" and
   me["officer"]["roles"] == ["unit_lead"], "me names the token's officer", me)
st, ans = login("off1", "wrong password!")
ok(st == 401 and ans["error"] == "unauthenticated", "wrong password: 401", ans)
st, ans = login("nobody", "whatever password")
ok(st == 401 and ans["error"] == "unauthenticated", "unknown officer: 401", ans)
st, ans = req("POST", "/v1/office/login", body=b'{"officer":"off1"}')
ok(st == 400 and ans["error"] == "field_missing", "login without password: 400", ans)
st, ans = req("POST", "/v1/office/login", body=b'{"officer":"off1","password":'
              b'"x","extra":1}')
ok(st == 400 and ans["error"] == "field_unknown", "login with an extra field: 400",
   ans)
st, ans = req("GET", "/v1/office/login")
ok(st == 405, "GET login: 405", ans)
st, ans = req("GET", "/v1/office/nothing")
ok(st == 404, "unknown office path: 404", ans)
st, ans = req("DELETE", "/v1/office/cases")
ok(st == 405, "DELETE cases: 405", ans)

# an expired token (its expiry moved into the past), a logged-out one
st, ans = login("off1", PW["off1"])
EXPIRED = ans["token"]
st, ans = login("off1", PW["off1"])
OUT = ans["token"]
db.execute("UPDATE office_tokens SET expires = ? WHERE hash = ?",
           (int(time.time()) - 1, hashlib.sha256(EXPIRED.encode()).hexdigest()))
db.commit()
st, ans = req("POST", "/v1/office/logout", OUT)
ok(st == 200 and ans == {"logged_out": True}, "logout", ans)
st, ans = req("GET", "/v1/office/me", OUT)
ok(st == 401 and "logged out" in ans["message"], "logged-out token: 401", ans)
st, ans = req("GET", "/v1/office/me", EXPIRED)
ok(st == 401 and "expired" in ans["message"], "expired token: 401", ans)
st, ans = req("GET", "/v1/office/me", headers={"Authorization": "Basic abc"})
ok(st == 401, "Basic authorization: 401", ans)
st, ans = req("GET", "/v1/office/me", "0" * 64)
ok(st == 401, "unknown token: 401", ans)
st, ans = req("GET", "/v1/office/me", TOK["off1"].upper())
ok(st == 401, "upper-case token: 401", ans)
rows = db.execute("SELECT count(*) FROM office_tokens WHERE hash IN (%s)" %
                  ",".join("?" * len(TOK)), list(TOK.values())).fetchone()[0]
ok(rows == 0, "tokens are stored hashed, never as sent")

# ---- the matrix ----------------------------------------------------------------

ROLE_OF = {oid: r for oid, (u, r) in OFFICERS.items()}
READ_OWN = {"officer", "unit_lead", "reward_officer", "liaison"}
READ_ANY = {"admin", "auditor"}


def may_read(oid, unit):
    u, r = OFFICERS[oid]
    return r in READ_ANY or (r in READ_OWN and u == unit)


def check_auth(method, path, body, what):
    """No token, an expired one: 401 before anything happens."""
    st1, a1 = req(method, path, None, body)
    st2, a2 = req(method, path, EXPIRED, body)
    ok(st1 == 401 and st2 == 401 and a1["error"] == "unauthenticated",
       "%s: no token 401, expired token 401" % what, "%s %s / %s %s" % (
           st1, a1, st2, a2))


def matrix_read(path_of, what, check=None):
    for cid, unit in ((CA_ID, "ua"), (CB_ID, "ub")):
        path = path_of(cid)
        if path is None:
            continue
        check_auth("GET", path, None, "%s of unit %s" % (what, unit))
        bad = []
        for oid in OFFICERS:
            st, ans = req("GET", path, TOK[oid])
            want = 200 if may_read(oid, unit) else 403
            if st != want or (check and st == 200 and not check(oid, ans)):
                bad.append("%s (%s, %s): %s %s" % (oid, ROLE_OF[oid],
                           OFFICERS[oid][0], st, str(ans)[:200]))
        ok(not bad, "%s of a unit-%s case: 200 for the roles that read, 403 "
           "for other roles and other units" % (what, unit), "\n".join(bad))


def names_ok(oid, ans):
    clues = ans.get("clue_list", [])
    sees = ROLE_OF[oid] in ("liaison", "reward_officer")
    return clues and all(c["reporter"].startswith("R") and len(c["reporter"]) == 16
                         and (("reporter_name" in c) == sees) for c in clues)


matrix_read(lambda cid: "/v1/office/cases/%d" % cid, "read case", names_ok)
matrix_read(lambda cid: "/v1/office/cases/%d/evidence/%s" % (
    cid, ev["small"]["blob"] if cid == CA_ID else ev["b"]["blob"]), "evidence")

# the list: each officer sees what they may read, nothing else
bad = []
for oid in OFFICERS:
    st, ans = req("GET", "/v1/office/cases", TOK[oid])
    if st != 200:
        bad.append("%s: %s %s" % (oid, st, ans))
        continue
    got = sorted(c["id"] for c in ans["cases"])
    want = sorted(c for c, u in ((CA_ID, "ua"), (CB_ID, "ub"), (CC_ID, "ua"))
                  if may_read(oid, u))
    if got != want:
        bad.append("%s: %s, expected %s" % (oid, got, want))
ok(not bad, "list: every officer sees exactly the cases they may read",
   "\n".join(bad))
check_auth("GET", "/v1/office/cases", None, "list")
st, ans = req("GET", "/v1/office/cases?unit=ub", TOK["off1"])
ok(st == 403, "list of another unit: 403", ans)
st, ans = req("GET", "/v1/office/cases?status=received&limit=1", TOK["admin1"])
ok(st == 200 and len(ans["cases"]) == 1 and ans["cases"][0]["status"] == "received",
   "list with status and limit", ans)
st, ans = req("GET", "/v1/office/cases?after=%d" % CA_ID, TOK["admin1"])
ok(st == 200 and all(c["id"] > CA_ID for c in ans["cases"]), "list after an id",
   ans)
st, ans = req("GET", "/v1/office/cases?status=nonsense", TOK["admin1"])
ok(st == 400 and ans["error"] == "invalid_argument", "list with a bad status: 400",
   ans)
st, ans = req("GET", "/v1/office/cases?limit=1&limit=2", TOK["admin1"])
ok(st == 400, "list with a parameter twice: 400", ans)
st, ans = req("GET", "/v1/office/cases/999999", TOK["admin1"])
ok(st == 404, "a case that does not exist: 404", ans)
st, ans = req("GET", "/v1/office/cases/%d/evidence/%s" % (CA_ID, ev["b"]["blob"]),
              TOK["admin1"])
ok(st == 404, "evidence of another case: 404", ans)
st, ans = req("GET", "/v1/office/notifications", TOK["lead1"])
ok(st == 200 and isinstance(ans.get("notifications"), list), "notifications", ans)
check_auth("GET", "/v1/office/notifications", None, "notifications")

# Changes on the unit-ua case, in an order its status table allows.  Each:
# no token and expired 401; wrong roles and the other unit 403 (and the
# case unchanged); then the right role 200.
GRADE = "1"
ACTIONS = [
    ("finding", {"text": "现场核查：刷卡记录与小票不符"}, "off1",
     ["liaison1", "reward1", "audit1"], ["off2", "lead2"]),
    ("status", {"status": "accepted"}, "off1", ["liaison1", "reward1"], ["off2"]),
    ("status", {"status": "investigating"}, "lead1", ["audit1"], ["lead2"]),
    ("request-evidence", {"text": "请补充购药小票照片", "observation": o1["id"]},
     "lead1", ["reward1", "liaison1"], ["off2"]),
    ("status", {"status": "investigating"}, "off1", ["reward1"], ["off2"]),
    ("assign", {"officer": "off1"}, "lead1", ["off1", "liaison1", "reward1"],
     ["lead2"]),
    ("assign", {"officer": "off1"}, "admin1", [], []),
    ("escalate", {"reason": "涉及金额较大"}, "off1", ["audit1", "reward1"],
     ["off2"]),
    ("extend", {"reason": "需调取医院记录"}, "lead1", ["off1", "admin1"], ["lead2"]),
    ("substantiate", {"verified_fen": 1234500, "grade": GRADE, "text": "属实"},
     "off1", ["reward1", "admin1"], ["off2", "lead2"]),
    ("approve-reward", {}, "reward1", ["off1", "lead1", "admin1"], ["reward2"]),
]


def case_row(cid):
    return db.execute("SELECT * FROM cases WHERE id = ?", (cid,)).fetchone()


for act, body, right, wrong, other in ACTIONS:
    path = "/v1/office/cases/%d/%s" % (CA_ID, act)
    check_auth("POST", path, body, act)
    before = case_row(CA_ID)
    bad = []
    for oid in wrong + other:
        st, ans = req("POST", path, TOK[oid], body)
        if st != 403 or ans.get("error") != "forbidden":
            bad.append("%s: %s %s" % (oid, st, ans))
    ok(not bad and case_row(CA_ID) == before, "%s: 403 for %s (wrong role) and %s "
       "(other unit), case unchanged" % (act, ",".join(wrong) or "-",
                                         ",".join(other) or "-"), "\n".join(bad))
    st, ans = req("POST", path, TOK[right], body)
    ok(st == 200 and ans.get("case", {}).get("id") == CA_ID, "%s by %s: 200" % (
        act, right), "%s %s" % (st, ans))
    if act == "substantiate" and st == 200:
        c = ans["case"]
        ok(c["status"] == "substantiated" and c["verified_fen"] == 1234500 and
           c.get("reward_state") == "proposed" and c.get("reward_fen", 0) > 0,
           "substantiated with the verified amount and a proposed reward", c)
    if act == "approve-reward" and st == 200:
        ok(ans["case"].get("reward_state") == "approved", "reward approved", ans)

st, ans = req("POST", "/v1/office/cases/%d/status" % CA_ID, TOK["off1"],
              {"status": "received"})
ok(st == 409 and ans["error"] == "conflict", "a transition the table refuses: 409",
   ans)
st, ans = req("POST", "/v1/office/cases/%d/status" % CA_ID, TOK["off1"],
              {"status": "nonsense"})
ok(st == 400 and ans["error"] == "field_value", "an unknown status: 400", ans)
st, ans = req("POST", "/v1/office/cases/%d/finding" % CA_ID, TOK["off1"],
              {"text": "x", "extra": 1})
ok(st == 400 and ans["error"] == "field_unknown", "an unknown field: 400", ans)
st, ans = req("GET", "/v1/office/cases/%d/finding" % CA_ID, TOK["off1"])
ok(st == 405, "GET on an action: 405", ans)

# export: the unit lead and auditor get the folder's name, admin its path too
path = "/v1/office/cases/%d/export" % CA_ID
check_auth("POST", path, {}, "export")
bad = []
for oid in ("off1", "liaison1", "reward1", "lead2", "off2"):
    st, ans = req("POST", path, TOK[oid], {})
    if st != 403:
        bad.append("%s: %s %s" % (oid, st, ans))
ok(not bad, "export: 403 for officer, liaison, reward officer and the other "
   "unit", "\n".join(bad))
st, ans = req("POST", path, TOK["audit1"], {})
ok(st == 200 and ans.get("export", "").startswith("case-%d-" % CA_ID) and
   "path" not in ans, "export by the auditor: a name, no path", ans)
st, ans = req("POST", path, TOK["admin1"], {})
ok(st == 200 and os.path.isdir(ans.get("path", "")), "export by admin: the path "
   "of a folder", ans)
if st == 200:
    r = subprocess.run(VG + [SERVER, "verify-export", ans["path"]], capture_output=True,
                       text=True)
    ok(r.returncode == 0, "the API's export verifies", r.stdout + r.stderr)

# ---- evidence --------------------------------------------------------------------

base = "/v1/office/cases/%d/evidence/" % CA_ID
for nm in ("small", "mid", "empty"):
    st, h, got, err, hdr = stream(base + ev[nm]["blob"], TOK["off1"])
    ok(st == 200 and err is None and h == ev[nm]["sha"] and got == ev[nm]["size"],
       "%s evidence streamed back decrypted, byte-identical" % nm,
       "%s %s %s %s" % (st, got, err, hdr))
st, h, got, err, hdr = stream(base + ev["small"]["blob"] + "?form=age", TOK["audit1"])
ok(st == 200 and h == ev["small"]["blob"], "form=age: the stored age file", hdr)
ok(hdr.get("Transfer-Encoding") == "chunked" and
   hdr.get("Content-Disposition") == "attachment" and
   hdr.get("Content-Type") == "application/octet-stream",
   "evidence goes chunked, as an attachment", hdr)
st, ans = req("GET", base + ev["small"]["blob"] + "?form=zip", TOK["off1"])
ok(st == 400, "form=zip: 400", ans)
st, ans = req("GET", base + "zz", TOK["off1"])
ok(st == 404, "a malformed blob id: 404", ans)

# 50 MiB: the peak RSS must not follow the file's size
before = vmhwm()
rss0 = vm("VmRSS")
peak = [0]


def sample(got):
    """Now and then, and once after a pause that would let a server that
    reads ahead fill its memory: the server's current RSS."""
    if got == 1 << 20:
        time.sleep(1)
    if got % (4 << 20) < 65536 or got == 1 << 20:
        peak[0] = max(peak[0], vm("VmRSS"))


bigpath = "/v1/office/cases/%d/evidence/%s" % (CC_ID, ev["big"]["blob"])
st, h, got, err, hdr = stream(bigpath, TOK["lead1"], sample)
after = vmhwm()
ok(st == 200 and err is None and h == ev["big"]["sha"] and got == BIG,
   "50 MiB evidence streamed back decrypted, byte-identical",
   "%s %s %s" % (st, got, err))
ok(after - before < 16 << 20, "server peak RSS grew %.1f MiB while streaming "
   "50 MiB (< 16 MiB)" % ((after - before) / 1048576.0),
   "VmHWM before %d after %d" % (before, after))
ok(peak[0] - rss0 < 16 << 20, "server RSS during the stream (a pause "
   "included) at most %.1f MiB over before (< 16 MiB)" % (
       (peak[0] - rss0) / 1048576.0), "VmRSS before %d peak %d" % (rss0, peak[0]))
print("summary: office: 50 MiB evidence streamed; server VmHWM %.1f -> %.1f MiB, "
      "VmRSS %.1f -> peak %.1f MiB" % (before / 1048576.0, after / 1048576.0,
                                       rss0 / 1048576.0, peak[0] / 1048576.0))

# a client that stops reading part way, then leaves: the server goes on
c = http.client.HTTPSConnection("127.0.0.1", PORT, context=CTX, timeout=30)
c.request("GET", bigpath, headers={"Authorization": "Bearer " +
                                                    TOK["off1"]})
r = c.getresponse()
r.read(100000)
c.close()
st, ans = req("GET", "/v1/office/me", TOK["off1"])
ok(st == 200, "a client leaving mid-stream leaves the server serving", ans)

# audit: one case.evidence_read per read, by officer and blob
reads = db.execute("SELECT actor, detail FROM audit WHERE action = "
                   "'case.evidence_read'").fetchall()
by = [(a, json.loads(d).get("blob")) for a, d in reads]
ok(("lead1", ev["big"]["blob"]) in by and ("off1", ev["mid"]["blob"]) in by and
   ("audit1", ev["small"]["blob"]) in by, "every evidence read is audited with "
   "its officer and blob", by[-10:])
ok(not any(a in ("off2", "lead2") and b in (ev["small"]["blob"],) for a, b in by),
   "refused evidence reads are not recorded as reads")

# a corrupt blob: verified plaintext only, and the body cut short
mid = ev["mid"]["blob"]
p = os.path.join(DATA, "blobs", mid[:2], mid)
os.chmod(p, 0o600)
with open(p, "r+b") as f:
    f.seek(200 << 10)
    x = f.read(1)
    f.seek(200 << 10)
    f.write(bytes([x[0] ^ 0xff]))
st, h, got, err, hdr = stream(base + mid, TOK["off1"])
ok(st == 200 and err is not None and got < ev["mid"]["size"] and got % 65536 == 0,
   "a corrupt blob: verified chunks only, then the body is cut (%d bytes, %s)"
   % (got, type(err).__name__ if err else "no error"), "%s %s" % (st, hdr))
st, ans = req("GET", "/v1/office/me", TOK["off1"])
ok(st == 200, "the server serves on after a failed stream", ans)

# ---- audit of logins; secrets never logged ------------------------------------

acts = [r[0] for r in db.execute("SELECT action FROM audit WHERE actor = 'off1'")]
ok("office.login" in acts and "office.login_failed" in acts,
   "logins and failed logins of off1 are audited", set(acts))
ok(db.execute("SELECT count(*) FROM audit WHERE action = 'office.logout'"
              ).fetchone()[0] >= 1, "logout is audited")
unk = db.execute("SELECT actor, subject FROM audit WHERE action = "
                 "'office.login_failed' AND actor = 'unknown'").fetchall()
ok(unk and all(s == "-" for a, s in unk), "a failed login of an unknown id "
   "does not record what was typed", unk)

# a disabled officer's tokens stop at once
admin("officer", "disable", "reward2")
st, ans = req("GET", "/v1/office/me", TOK["reward2"])
ok(st == 401 and "disabled" in ans.get("message", ""), "a disabled officer's "
   "token: 401", ans)
st, ans = login("reward2", PW["reward2"])
ok(st == 401, "a disabled officer cannot log in", ans)

# ---- rate limits (last: they lock this address out) ----------------------------

for i in range(5):
    login("lead2", "bad password %d" % i)
st, ans = login("lead2", PW["lead2"])
ok(st == 429 and ans["error"] == "rate_limited", "5 failed logins: the 6th, even "
   "right, is rate_limited", ans)
st, ans = login("audit1", PW["audit1"])
ok(st == 200, "another officer still logs in", ans)
for i in range(30):
    st, ans = login("ghost%d" % i, "bad password")
    if st == 429:
        break
ok(st == 429 and i < 20, "failures from one address: rate_limited after 20 "
   "(got it at attempt %d)" % i, ans)
st, ans = login("off2", PW["off2"])
ok(st == 429, "then every login from that address is rate_limited", ans)
nf = db.execute("SELECT count(*) FROM audit WHERE action = 'office.login_failed' "
                "AND actor = 'lead2'").fetchone()[0]
ok(nf == 5, "the 5 failures of lead2 are audited (%d)" % nf)

# audit chain intact after all of it
r = subprocess.run(VG + [SERVER, "audit", "verify", "--data", DATA],
                   capture_output=True, text=True)
ok(r.returncode == 0, "audit chain verifies", r.stdout + r.stderr)

time.sleep(0.5)
logtext = open(LOG, encoding="utf-8", errors="replace").read()
dump = "\n".join(str(r) for r in db.execute("SELECT * FROM audit"))
leaks = [s[:8] + "…" for s in SECRETS if s in logtext or s in dump]
ok(not leaks, "no token or password in the server log or the audit log "
   "(%d checked)" % len(SECRETS), leaks)

# SIGTERM while evidence streams: the download under way is carried out
c = http.client.HTTPSConnection("127.0.0.1", PORT, context=CTX, timeout=30)
c.request("GET", bigpath, headers={"Authorization": "Bearer " +
                                                    TOK["lead1"]})
r = c.getresponse()
h = hashlib.sha256()
got = 0
b = r.read(65536)
h.update(b)
got += len(b)
os.kill(PID, 15)
open(MARK, "w").close()
err = None
try:
    for _ in range(1 << 16):
        b = r.read(65536)
        if not b:
            break
        got += len(b)
        h.update(b)
except (http.client.IncompleteRead, ConnectionError, ssl.SSLError) as ex:
    err = ex
c.close()
ok(err is None and got == BIG and h.hexdigest() == ev["big"]["sha"],
   "SIGTERM mid-stream: the download under way completes", "%d %s" % (got, err))

db.close()
print("1..%d" % n)
sys.exit(1 if failed else 0)
