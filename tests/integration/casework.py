"""Casework end to end against the real fundwatch-server (issue 6).

Usage: casework.py SERVER_BIN DATA_DIR PORT
Devices (fwclient, an independent client of proto/PROTOCOL.md) sync clues
with real age-encrypted evidence; the admin subcommands then show the cases
formed, merged and routed; officers handle a case through `case ... --as`,
and the devices read the signed feedback and the reward from GET /v1/feed.
The case is exported and checked by verify-export and by the stock tools
VERIFY.md names; a tampered file is named.  Prints TAP lines.
"""
import base64
import configparser
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
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


def run(*args, stdin=None):
    return subprocess.run(VG + [SERVER] + list(args), capture_output=True, text=True,
                          input=stdin)


def admin(*args, stdin=None):
    r = run(*(list(args) + ["--data", DATA, "--json"]), stdin=stdin)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.stdout.strip() else None


def profile():
    p = configparser.ConfigParser(interpolation=None, strict=False,
                                  inline_comment_prefixes=(";", "#"))
    p.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
    return p


P = profile()
METHOD = [s.split(None, 1)[1] for s in P.sections() if s.startswith("method ")][0]
ATTEST = [s.split(None, 1)[1] for s in P.sections() if s.startswith("eligibility ")
          and P[s].get("required", "no").strip() in ("yes", "true", "1")]


def add_supervisor(sid, unit):
    args = ["supervisor", "add", "--id", sid, "--name", "李四 " + sid, "--birth",
            "1980-05-01", "--method", METHOD, "--start", "2025-01-01", "--unit", unit]
    for a in ATTEST:
        args += ["--attest", a]
    admin(*args)


def new_device(sid):
    code = admin("device", "code", "--supervisor", sid)["code"]
    d = fwclient.Device(TMP, PORT, CA)
    st, ans = d.enroll(code)
    assert st == 200, ans
    return d


def evidence(dev, size):
    """Real age evidence for the office recipient, encrypted by the age tool."""
    plain = os.urandom(size)
    r = subprocess.run(["age", "-r", dev.enrolled["office_recipient"]], input=plain,
                       capture_output=True, check=True)
    return plain, r.stdout


def clue(dev, cats, ev=(), inst="P44180200123", name="康民大药房",
         place="清城区 松岗路 12 号", severity="normal"):
    """Sync one observation; returns its id."""
    o = dev.observation(evidence=ev, category=cats[0])
    o["categories"] = cats
    o["subject"] = {"kind": "pharmacy", "name": name}
    if inst:
        o["subject"]["institution"] = inst
    o["place"]["text"] = place
    o["severity"] = severity
    dev.prev = hashlib.sha256(fwclient.canonical(o)).hexdigest()
    man = dev.manifest([o])
    st, ans = dev.sync(dev.bundle(man), {hashlib.sha256(b).hexdigest(): b
                                         for _, b in ev})
    assert st == 200 and ans.get("state") == "committed", (st, ans)
    return o["id"]


def db():
    return sqlite3.connect(os.path.join(DATA, "fundwatch.db"))


def case_of(obs):
    c = db()
    r = c.execute("SELECT case_id FROM clues WHERE observation_id = ?", (obs,)).fetchone()
    c.close()
    return r[0] if r else None


def feed(dev):
    st, ans = dev.request("GET", "/v1/feed?after=0&limit=100")
    assert st == 200, ans
    raw = base64.b64decode(dev.enrolled["receipt_key"])
    msgs = []
    for m in ans["messages"]:
        sig = base64.b64decode(m["signature"])
        body = dict(m)
        del body["signature"]
        msgs.append((fwclient.verify(raw, fwclient.canonical(body), sig), m))
    return msgs


cats = [s.split(None, 1)[1] for s in P.sections() if s.startswith("category ")
        and "pharmacy" in P[s].get("applies", "")]
if len(cats) < 2:
    cats = [s.split(None, 1)[1] for s in P.sections() if s.startswith("category ")]
CAT1, CAT2 = cats[0], cats[1]

# --- units, officers, routes ------------------------------------------------
admin("unit", "add", "city", "--name", "清远市医保局", "--jurisdiction", "qingyuan",
      "--city")
admin("unit", "add", "qc", "--name", "清城区医保局", "--jurisdiction", "qingcheng")
PW = "correct horse battery\n"
for oid, unit, roles in (("lead", "qc", "unit_lead"), ("off1", "qc", "officer"),
                         ("off2", "qc", "officer"), ("rew", "qc", "reward_officer"),
                         ("aud", "city", "auditor"), ("citylead", "city", "unit_lead")):
    admin("officer", "add", oid, "--name", "officer " + oid, "--unit", unit,
          "--roles", roles, stdin=PW)
admin("officer", "conflict", "off1", "--institution", "code:P44180200123")
admin("route", "add", "--jurisdiction", "qingcheng", "--unit", "qc")
units = admin("unit", "list")
offs = admin("officer", "list")
ok(len(units) == 2 and len(offs) == 6, "units and officers listed",
   json.dumps([units, offs]))
ok(run("officer", "add", "x1", "--name", "x", "--unit", "qc", "--roles", "officer",
       "--data", DATA, stdin="short\n").returncode == 1,
   "a password under 10 bytes is refused")
c = db()
pw = c.execute("SELECT password FROM officers WHERE id = 'off1'").fetchone()[0]
c.close()
ok(pw.startswith("scrypt$32768$8$1$") and "horse" not in pw,
   "passwords stored as scrypt", pw)

rt = admin("route", "test", "--jurisdiction", "qingcheng", "--kind", "pharmacy",
           "--category", CAT1, "--institution", "P44180200123")
ok(rt["unit"] == "qc" and rt["officer"] == "off2" and rt["skipped"] == ["off1"] and
   any("conflict" in w for w in rt["why"]),
   "route test: rule -> unit qc, off1 recused, off2 chosen, and says why",
   json.dumps(rt, ensure_ascii=False))

# --- clues into cases ---------------------------------------------------------
add_supervisor("S1", "qingcheng")
add_supervisor("S2", "qingcheng")
d1 = new_device("S1")
d2 = new_device("S2")
ev1 = evidence(d1, 3000)
a = clue(d1, [CAT1], ev=[ev1])
b = clue(d2, [CAT1])
cc = clue(d1, [CAT2])
d = clue(d2, [CAT1], inst=None, name="仁心 诊所", place="清城区 东门路 3 号",
         severity="major")
e = clue(d1, [CAT1], inst=None, name="仁心诊所。", place="清城区东门路3号")
ca, cb, ccc, cd, ce = (case_of(x) for x in (a, b, cc, d, e))
ok(ca is not None and ca == cb, "same institution and category: one case", (ca, cb))
ok(ccc is not None and ccc != ca, "same institution, other category: another case",
   (ca, ccc))
ok(cd is not None and cd == ce, "name and place variants merge", (cd, ce))
show = admin("case", "show", str(ca))
ok(show["first_observation"] == a and show["clues"] == 2 and
   show["unit"] == "qc" and show["assignee"] == "off2" and show["status"] == "received",
   "case formed, routed to qc and off2; first reporter is the first received",
   json.dumps(show, ensure_ascii=False)[:800])
reps = [cl["reporter"] for cl in show["clue_list"]]
ok(all(r.startswith("R") and len(r) == 16 for r in reps) and reps[0] != reps[1] and
   all("reporter_name" not in cl for cl in show["clue_list"]),
   "an auditor/admin sees pseudonyms, never names", reps)
rs = admin("case", "show", str(ca), "--as", "rew")
ok(rs["clue_list"][0].get("reporter_name", "").startswith("李四") and
   rs["clue_list"][0]["reporter"] == reps[0],
   "the reward officer sees the real name; the pseudonym is stable")
c = db()
notes = c.execute("SELECT officer_id, unit, kind FROM notifications WHERE case_id = ?"
                  " ORDER BY officer_id", (cd,)).fetchall()
c.close()
ok(("citylead", "city", "major") in notes and ("lead", "qc", "major") in notes,
   "a major clue notifies the unit lead and the city office", notes)
lst = admin("case", "list", "--as", "off1")
ok(len(lst) == 3 and all(x["unit"] == "qc" for x in lst), "an officer lists its unit's cases",
   lst)
ok(admin("case", "window") == {"merge_days": 30}, "the merge window is 30 days by default")
od = admin("case", "list", "--overdue")
ok(od == [], "no case is overdue yet", od)

# --- roles ------------------------------------------------------------------
def refused(args, desc):
    r = run(*(list(args) + ["--data", DATA]))
    ok(r.returncode == 1 and "forbidden" in r.stderr, desc, r.stderr)


refused(["case", "status", str(ca), "accepted", "--as", "aud"],
        "an auditor may not change a status")
refused(["case", "show", str(ca), "--as", "citylead"],
        "a lead of another unit may not read the case")
refused(["case", "approve", str(ca), "--as", "off2"],
        "an officer may not approve a reward")

# --- handling, feedback, reward -----------------------------------------------
admin("case", "status", str(ca), "accepted", "--as", "off2")
admin("case", "finding", str(ca), "--text", "账实不符", "--as", "off2")
admin("case", "substantiate", str(ca), "--amount", "50000", "--grade", "1",
      "--as", "off2")
s2 = admin("case", "show", str(ca))
ok(s2["status"] == "substantiated" and s2["verified_fen"] == 5000000 and
   s2["reward_fen"] == 150000 and s2["reward_state"] == "proposed",
   "substantiated at 50000 yuan, grade 1: reward 1500 yuan proposed", s2)
admin("case", "approve", str(ca), "--as", "rew")
f1 = feed(d1)
f2 = feed(d2)
ok(len(f1) > 0 and all(v for v, _ in f1) and all(v for v, _ in f2),
   "every feedback message verifies with the receipt key")
mine = [m["body"] for _, m in f1 if m["kind"] == "feedback" and
        m["body"]["observation"] == a]
st = [m["status"] for m in mine]
ok(st == ["received", "accepted", "substantiated", "reward_approved"] and
   mine[-1].get("reward_fen") == 150000 and mine[-1]["case"] == ca,
   "the first reporter's device hears every change and the reward", mine)
other = [m["body"] for _, m in f2 if m["body"]["observation"] == b]
ok([m["status"] for m in other] == ["received", "accepted", "substantiated"],
   "the second reporter hears the changes but gets no reward", other)

# --- evidence requests, extensions, overdue ------------------------------------
admin("case", "status", str(ccc), "accepted", "--as", "off2")
admin("case", "request-evidence", str(ccc), "--text", "请补拍收银小票", "--as", "off2")
admin("case", "extend", str(ccc), "--text", "需要现场核查", "--as", "lead")
r = run("case", "extend", str(ccc), "--text", "again", "--as", "lead", "--data", DATA)
ok(r.returncode == 1 and "policy" in r.stderr, "a second extension is refused", r.stderr)
got = [m["body"] for _, m in feed(d1) if m["body"]["case"] == ccc]
ok([g["status"] for g in got] == ["received", "accepted", "evidence_requested",
                                  "delayed"] and got[2]["text"] == "请补拍收银小票" and
   got[3]["text"] == "需要现场核查",
   "the reporter is asked for evidence and told of the delay, with the reasons", got)
c = db()
c.execute("UPDATE cases SET decide_by = '2020-01-02' WHERE id = ?", (cd,))
c.commit()
c.close()
od = admin("case", "list", "--overdue")
c = db()
esc = c.execute("SELECT officer_id FROM notifications WHERE case_id = ? AND kind ="
                " 'overdue'", (cd,)).fetchall()
c.close()
ok([x["id"] for x in od] == [cd] and od[0]["escalated"] and esc == [("lead",)],
   "an overdue case is listed and escalated once to its unit lead", (od, esc))
admin("case", "list", "--overdue")
c = db()
n2 = c.execute("SELECT count(*) FROM notifications WHERE case_id = ? AND kind ="
               " 'overdue'", (cd,)).fetchone()[0]
c.close()
ok(n2 == 1, "escalation is not repeated", n2)

# --- export -------------------------------------------------------------------
out = os.path.join(TMP, "export")
r = run("case", "export", str(ca), "--out", out, "--as", "aud", "--data", DATA)
ok(r.returncode == 0 and os.path.isfile(os.path.join(out, "VERIFY.md")),
   "case exported by the auditor", r.stderr)
r = run("verify-export", out)
ok(r.returncode == 0, "verify-export passes", r.stdout + r.stderr)
r = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out,
                   capture_output=True, text=True)
ok(r.returncode == 0, "sha256sum -c SHA256SUMS passes", r.stdout + r.stderr)
cmds = [l.strip() for l in open(os.path.join(out, "VERIFY.md")) if "pkeyutl" in l]
allv = True
md = open(os.path.join(out, "VERIFY.md")).read().replace("\\\n", " ")
for line in md.splitlines():
    line = line.strip()
    if line.startswith("openssl pkeyutl -verify"):
        r = subprocess.run(line, shell=True, cwd=out, capture_output=True, text=True)
        allv = allv and r.returncode == 0 and "Verified Successfully" in r.stdout
ok(allv and "pkeyutl" in md, "the openssl commands of VERIFY.md verify")
blob = hashlib.sha256(ev1[1]).hexdigest()
key = os.path.join(DATA, "keys", "office.key")
r = subprocess.run(["age", "-d", "-i", key, os.path.join(out, "blobs", blob)],
                   capture_output=True)
ok(r.returncode == 0 and r.stdout == ev1[0] and
   open(os.path.join(out, "evidence", blob), "rb").read() == ev1[0],
   "age -d of the exported blob gives the evidence captured")

t2 = os.path.join(TMP, "tampered")
shutil.copytree(out, t2)
p = os.path.join(t2, "evidence", blob)
data = bytearray(open(p, "rb").read())
data[10] ^= 1
open(p, "wb").write(data)
r = run("verify-export", t2)
ok(r.returncode == 1 and ("evidence/" + blob) in r.stderr,
   "a tampered evidence file is named", r.stderr)
t3 = os.path.join(TMP, "tampered3")
shutil.copytree(out, t3)
man = [f for f in os.listdir(os.path.join(t3, "bundles")) if f.endswith(".manifest")][0]
p = os.path.join(t3, "bundles", man)
open(p, "ab").write(b" ")
r = run("verify-export", t3)
ok(r.returncode == 1 and man in r.stderr, "a tampered manifest is named", r.stderr)
r = run("audit", "verify", "--data", DATA)
ok(r.returncode == 0, "the audit log's chain is intact", r.stderr)
c = db()
txt = " ".join(row[0] for row in c.execute("SELECT detail FROM audit"))
c.close()
ok("账实不符" not in txt and "李四" not in txt and "康民" not in txt and
   "请补拍" not in txt and "现场核查" not in txt,
   "no clue text, finding or name in the audit log")

shutil.rmtree(TMP, ignore_errors=True)
print("1..%d" % n)
sys.exit(1 if failed else 0)
