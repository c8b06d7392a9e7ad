"""Hostile input against the officer API (proto/OFFICE.md, server/office.c),
run by hostile.py: run(h) with h the hostile.py module, whose refused(),
count(), ok(), dump and device it uses.

Every endpoint under /v1/office/ is tried without a token, with a malformed
one, an expired one (its expiry moved into the past in the database, as
tests/integration/office.sh does) and one of a disabled officer; with the
wrong method; where it takes a body, with one over 64 KiB; and with the
roles and units that must not reach it (another unit's officer, an officer
approving a reward, an auditor changing a case...).  Then SQL
metacharacters and path traversal in every id and text field the API
takes.  Each must get its specific JSON error (code, and where the server
says which check failed, the words of that check) and leave the store as it
was: failed logins may only add their own rate-limit rows and audit entry.
"""
import hashlib
import json
import os
import sqlite3
import subprocess
import time

# Every endpoint: (name, method, path template, body).  {A}: the case of
# unit ua, {B}: the case of unit ub, {EA}/{EB}: an evidence blob of each.
ENDPOINTS = [
    ("logout", "POST", "/v1/office/logout", {}),
    ("me", "GET", "/v1/office/me", None),
    ("notifications", "GET", "/v1/office/notifications", None),
    ("cases", "GET", "/v1/office/cases", None),
    ("case", "GET", "/v1/office/cases/{A}", None),
    ("evidence", "GET", "/v1/office/cases/{A}/evidence/{EA}?form=age", None),
    ("finding", "POST", "/v1/office/cases/{A}/finding", {"text": "核查"}),
    ("request-evidence", "POST", "/v1/office/cases/{A}/request-evidence",
     {"text": "请补充小票"}),
    ("status", "POST", "/v1/office/cases/{A}/status", {"status": "accepted"}),
    ("assign", "POST", "/v1/office/cases/{A}/assign", {"officer": "off1"}),
    ("escalate", "POST", "/v1/office/cases/{A}/escalate", {"reason": "金额较大"}),
    ("extend", "POST", "/v1/office/cases/{A}/extend", {"reason": "调取记录"}),
    ("substantiate", "POST", "/v1/office/cases/{A}/substantiate",
     {"verified_fen": 100000, "grade": "1"}),
    ("approve-reward", "POST", "/v1/office/cases/{A}/approve-reward", {}),
    ("export", "POST", "/v1/office/cases/{A}/export", {}),
]

# Who must not reach each endpoint of the ua case: (officer, why), why
# "role" (no role for it) or "unit" (the role, but of the other unit).
DENIED = {
    "case": [("off2", "unit"), ("lead2", "unit"), ("reward2", "unit")],
    "evidence": [("off2", "unit"), ("lead2", "unit")],
    "finding": [("audit1", "role"), ("reward1", "role"), ("liaison1", "role"),
                ("off2", "unit")],
    "request-evidence": [("audit1", "role"), ("reward1", "role"), ("off2", "unit")],
    "status": [("audit1", "role"), ("liaison1", "role"), ("lead2", "unit")],
    "assign": [("off1", "role"), ("audit1", "role"), ("lead2", "unit")],
    "escalate": [("audit1", "role"), ("reward1", "role"), ("off2", "unit")],
    "extend": [("off1", "role"), ("admin1", "role"), ("lead2", "unit")],
    "substantiate": [("audit1", "role"), ("reward1", "role"), ("admin1", "role"),
                     ("off2", "unit")],
    "approve-reward": [("off1", "role"), ("lead1", "role"), ("admin1", "role"),
                       ("audit1", "role"), ("reward2", "unit")],
    "export": [("off1", "role"), ("liaison1", "role"), ("reward1", "role"),
               ("lead2", "unit")],
}
# Who may: the token the size and body attacks use, so that they get past
# the roles to the body.
RIGHT = {"finding": "off1", "request-evidence": "off1", "status": "off1",
         "assign": "lead1", "escalate": "off1", "extend": "lead1",
         "substantiate": "off1", "approve-reward": "reward1", "export": "lead1",
         "logout": "logout"}

OFFICERS = {"admin1": ("ua", "admin"), "lead1": ("ua", "unit_lead"),
            "off1": ("ua", "officer"), "reward1": ("ua", "reward_officer"),
            "audit1": ("ua", "auditor"), "liaison1": ("ua", "liaison"),
            "off2": ("ub", "officer"), "lead2": ("ub", "unit_lead"),
            "reward2": ("ub", "reward_officer"),
            "gone1": ("ua", "officer,unit_lead,reward_officer"),
            "exp1": ("ua", "admin")}
SQL = ["'; DROP TABLE cases; --", "x' OR '1'='1", "1 OR 1=1",
       "Robert'); DELETE FROM officers;--"]
# A failed login records itself: one rate-limit row and an audit entry.
LOGIN_FAILS = ("office_login_failures", "office.login_failed")


def run(h):
    db_path = os.path.join(h.DATA, "fundwatch.db")
    pw = {}

    def admin(*args, stdin=None):
        r = subprocess.run([h.SERVER] + list(args) + ["--data", h.DATA],
                           capture_output=True, text=True, input=stdin)
        if r.returncode != 0:
            raise RuntimeError("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def req(method, path, token=None, body=None, auth=None):
        hdr = {}
        if token is not None:
            hdr["Authorization"] = "Bearer " + token
        if auth is not None:
            hdr["Authorization"] = auth
        data = b"" if body is None else (body if isinstance(body, bytes)
                                         else json.dumps(body).encode())
        return h.dev.request(method, path, data, sign=False, headers=hdr)

    def login(oid):
        st, ans = req("POST", "/v1/office/login", body={"officer": oid,
                                                       "password": pw[oid]})
        if st != 200:
            raise RuntimeError("login %s: %s %s" % (oid, st, ans))
        return ans["token"]

    def expired():
        """A token of exp1 (an admin: it could do anything) whose expiry
        is moved one second into the past."""
        tok = login("exp1")
        db = sqlite3.connect(db_path, timeout=30)
        db.execute("UPDATE office_tokens SET expires = ? WHERE hash = ?",
                   (int(time.time()) - 1, hashlib.sha256(tok.encode()).hexdigest()))
        db.commit()
        db.close()
        return tok

    def says(*words):
        return lambda ans: all(w in ans.get("message", "") for w in words)

    # ---- setup: two units, officers of every role, a case in each ----------
    admin("unit", "add", "ua", "--name", "清城区医保局", "--jurisdiction", "ja", "--city")
    admin("unit", "add", "ub", "--name", "清新区医保局", "--jurisdiction", "jb")
    for oid, (unit, roles) in OFFICERS.items():
        pw[oid] = "pw-%s-%s" % (oid, os.urandom(6).hex())
        admin("officer", "add", oid, "--name", "干部 " + oid, "--unit", unit,
              "--roles", roles, stdin=pw[oid] + "\n")
    dev = h.dev
    cats = [t["code"] for t in dev.enrolled["taxonomy"]]
    admin("route", "add", "--category", cats[1], "--unit", "ua")
    admin("route", "add", "--category", cats[2], "--unit", "ub")
    obs, blobs = [], {}
    for cat in (cats[1], cats[2]):
        plain, blob = h.evidence(3000)
        o = dev.observation([(plain, blob)], category=cat)
        o["subject"]["institution"] = "P4418OFFICE" + cat[-1]
        dev.prev = hashlib.sha256(h.fwclient.canonical(o)).hexdigest()
        blobs[hashlib.sha256(blob).hexdigest()] = blob
        obs.append(o)
    st, ans = dev.sync(dev.bundle(dev.manifest(obs)), blobs)
    h.ok(st == 200 and ans.get("state") == "committed",
         "office: two clues synced for the officer API", ans)
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    ids = {}
    for key, o in (("A", obs[0]), ("B", obs[1])):
        row = db.execute("SELECT c.id, c.unit FROM clues l JOIN cases c ON"
                         " c.id = l.case_id WHERE l.observation_id = ?",
                         (o["id"],)).fetchone()
        ids[key] = row[0] if row else 0
        ids["E" + key] = o["evidence"][0]["blob"]
        ids["unit" + key] = row[1] if row else None
    db.close()
    h.ok(ids["unitA"] == "ua" and ids["unitB"] == "ub",
         "office: one case of unit ua, one of unit ub", ids)
    tok = {oid: login(oid) for oid in OFFICERS if oid != "exp1"}
    tok["logout"] = login("off1")      # the one a logout may end
    admin("officer", "disable", "gone1")

    def path_of(tmpl):
        return tmpl.format(**{k: v for k, v in ids.items() if not k.startswith("unit")})

    # ---- every endpoint: tokens, method, size ---------------------------------
    h.group[0] = "office tokens"
    wrong = {"GET": "POST", "POST": "GET"}
    for name, method, tmpl, body in ENDPOINTS:
        path = path_of(tmpl)
        h.refused("office %s: no token" % name, lambda: req(method, path, body=body),
                  "unauthenticated", check=says("required"))
        for desc, auth, words in (
                ("63 hex", "Bearer " + "a" * 63, "64 lowercase hex"),
                ("upper-case hex", "Bearer " + "A" * 64, "64 lowercase hex"),
                ("Basic scheme", "Basic b2ZmMTpwdw==", "must be 'Bearer"),
                ("SQL", "Bearer ' OR '1'='1' --" + "a" * 42, "64 lowercase hex")):
            h.refused("office %s: malformed token (%s)" % (name, desc),
                      lambda auth=auth: req(method, path, body=body, auth=auth),
                      "unauthenticated", check=says(words))
        h.refused("office %s: unknown token" % name, lambda: req(
            method, path, os.urandom(32).hex(), body), "unauthenticated",
            check=says("unknown"))
        exp = expired()
        h.refused("office %s: expired token" % name, lambda: req(
            method, path, exp, body), "unauthenticated", check=says("expired"))
        h.refused("office %s: token of a disabled officer" % name, lambda: req(
            method, path, tok["gone1"], body), "unauthenticated",
            check=says("disabled"))
        h.group[0] = "office methods"
        for m in (wrong[method], "PUT", "DELETE"):
            h.refused("office %s: %s instead of %s" % (name, m, method),
                      lambda m=m: req(m, path, tok["admin1"], body),
                      "method_not_allowed")
        h.group[0] = "office sizes"
        if method == "POST":
            who = RIGHT[name]
            h.refused("office %s: a body of 64 KiB + 1" % name, lambda: req(
                method, path, tok[who], b'{"text":"' + b"a" * (65537 - 11) + b'"}'),
                "limit_exceeded")
            h.refused("office %s: 33 values in the body" % name, lambda: req(
                method, path, tok[who], json.dumps(
                    {"k%d" % i: i for i in range(33)}).encode()),
                ("limit_exceeded", "bad_json"))
            h.refused("office %s: JSON nested 10,000 deep" % name, lambda: req(
                method, path, tok[who], b"[" * 10000 + b"]" * 10000),
                ("bad_json", "limit_exceeded"))
            h.refused("office %s: a body of 3 MiB (past the server's cap)" % name,
                      lambda: req(method, path, tok[who], b" " * (3 << 20)),
                      "limit_exceeded", status=413)
        h.group[0] = "office tokens"
    h.group[0] = "office sizes"
    h.refused("office login: a body of 64 KiB + 1", lambda: req(
        "POST", "/v1/office/login", body=b'{"officer":"' + b"a" * (65537 - 14) + b'"}'),
        "limit_exceeded")
    h.refused("office login: JSON nested 10,000 deep", lambda: req(
        "POST", "/v1/office/login", body=b"[" * 10000 + b"]" * 10000),
        ("bad_json", "limit_exceeded"))
    h.group[0] = "office methods"
    for m in ("GET", "PUT", "DELETE"):
        h.refused("office login: %s" % m, lambda m=m: req(m, "/v1/office/login"),
                  "method_not_allowed")

    # ---- roles and units ---------------------------------------------------------
    h.group[0] = "office roles and units"
    by_name = {e[0]: e for e in ENDPOINTS}
    for name, denied in DENIED.items():
        _, method, tmpl, body = by_name[name]
        for oid, why in denied:
            h.refused("office %s by %s (%s %s of unit %s)" % (
                name, oid, "wrong role:" if why == "role" else "other unit:",
                OFFICERS[oid][1], OFFICERS[oid][0]),
                lambda oid=oid, tmpl=tmpl, method=method, body=body: req(
                    method, path_of(tmpl), tok[oid], body), "forbidden",
                check=says("no role") if why == "role" else says("of unit ua"))
    h.refused("office cases: an officer of ua lists unit ub", lambda: req(
        "GET", "/v1/office/cases?unit=ub", tok["off1"]), "forbidden",
        check=says("of unit ub"))
    h.refused("office evidence: ub's blob through ua's case", lambda: req(
        "GET", path_of("/v1/office/cases/{A}/evidence/{EB}"), tok["off1"]),
        "not_found")
    h.refused("office evidence: ub's case by an officer of ua", lambda: req(
        "GET", path_of("/v1/office/cases/{B}/evidence/{EB}"), tok["off1"]),
        "forbidden", check=says("of unit ub"))
    h.refused("office assign: ua's case to an officer of ub", lambda: req(
        "POST", path_of("/v1/office/cases/{A}/assign"), tok["lead1"],
        {"officer": "off2"}), "invalid_argument", check=says("not of the case's unit"))
    h.refused("office assign: ua's case to a disabled officer", lambda: req(
        "POST", path_of("/v1/office/cases/{A}/assign"), tok["lead1"],
        {"officer": "gone1"}), "invalid_argument", check=says("disabled"))

    # ---- SQL metacharacters ---------------------------------------------------------
    h.group[0] = "office SQL"
    case_a = path_of("/v1/office/cases/{A}")
    for s in SQL:
        code = "field_value" if len(s) <= 32 else "field_length"
        h.refused("office assign: officer %r" % s, lambda s=s: req(
            "POST", case_a + "/assign", tok["lead1"], {"officer": s}),
            "not_found" if len(s) <= 32 else code)
        h.refused("office status: status %r" % s, lambda s=s: req(
            "POST", case_a + "/status", tok["off1"], {"status": s}), code)
        h.refused("office substantiate: grade %r" % s, lambda s=s: req(
            "POST", case_a + "/substantiate", tok["off1"],
            {"verified_fen": 100, "grade": s}), "policy" if len(s) <= 32 else code)
        h.refused("office request-evidence: observation %r" % s, lambda s=s: req(
            "POST", case_a + "/request-evidence", tok["off1"],
            {"text": "x", "observation": (s * 8)[:32]}), "field_value")
        for param in ("unit", "assignee", "status", "after", "limit", "overdue"):
            h.refused("office cases: %s=%r" % (param, s), lambda s=s, param=param: req(
                "GET", "/v1/office/cases?%s=%s" % (param, s.replace(" ", "+")),
                tok["admin1"]), ("invalid_argument", "not_found"))
        h.refused("office case id %r" % s, lambda s=s: req(
            "GET", "/v1/office/cases/" + s.replace(" ", "%20"), tok["admin1"]),
            "not_found")
        h.refused("office evidence blob %r" % s, lambda s=s: req(
            "GET", case_a + "/evidence/" + s.replace(" ", "%20"), tok["admin1"]),
            "not_found")
        h.refused("office evidence form %r" % s, lambda s=s: req(
            "GET", path_of("/v1/office/cases/{A}/evidence/{EA}?form=") +
            s.replace(" ", "+"), tok["admin1"]), "invalid_argument")
        h.refused("office login: officer %r" % s, lambda s=s: req(
            "POST", "/v1/office/login", body={"officer": s, "password": s}),
            ("unauthenticated", "rate_limited"), allow=LOGIN_FAILS)
    # Text is text: stored verbatim, never run.
    for s in SQL:
        st, ans = req("POST", case_a + "/finding", tok["off1"], {"text": "发现 " + s})
        st2, shown = req("GET", case_a, tok["off1"])
        db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE "
                                           "type='table'")}
        nofficers = db.execute("SELECT count(*) FROM officers").fetchone()[0]
        db.close()
        texts = [x.get("text") for x in shown.get("notes", [])] if st2 == 200 else []
        h.ok(h.count(st == 200 and "发现 " + s in texts and "cases" in tables and
                     nofficers == len(OFFICERS)),
             "office finding with SQL metacharacters stored verbatim: %r" % s,
             "%s %s / %s" % (st, ans, texts))

    # ---- path traversal ---------------------------------------------------------------
    h.group[0] = "office path traversal"
    for desc, target in (
            ("../ as a blob", "/evidence/../../fundwatch.db"),
            ("%2e%2e%2f as a blob", "/evidence/%2e%2e%2f%2e%2e%2ffundwatch.db"),
            (".. as a blob", "/evidence/.."),
            ("an absolute path as a blob", "/evidence//etc/passwd"),
            ("%2f-encoded absolute path", "/evidence/%2fetc%2fpasswd"),
            ("a blob's folder and ../", "/evidence/" + ids["EA"][:2] + "/../" + ids["EA"]),
            ("a partial/ prefix", "/evidence/partial%2f" + ids["EA"]),
            ("a NUL in a blob", "/evidence/" + ids["EA"][:32] + "%00" + ids["EA"][33:]),
            ("a backslash path", "/evidence/..\\..\\fundwatch.db")):
        h.refused("office path traversal: %s" % desc, lambda target=target: req(
            "GET", case_a + target, tok["admin1"]), ("not_found", "invalid_argument"))
    for desc, path in (("../ before a case id", "/v1/office/cases/../cases/%d" % ids["A"]),
                       ("../ after a case id", case_a + "/../%d/finding" % ids["B"]),
                       ("%2e%2e in a case id", "/v1/office/cases/%2e%2e"),
                       ("../ out of /v1/office", "/v1/office/../../etc/passwd")):
        h.refused("office path traversal: %s" % desc, lambda path=path: req(
            "POST", path, tok["admin1"], {"text": "x"}), ("not_found", "method_not_allowed"))
    h.refused("office export: a folder in the body", lambda: req(
        "POST", case_a + "/export", tok["lead1"], {"dir": "../../../tmp"}),
        "field_unknown")
    h.refused("office assign: officer ../../etc/passwd", lambda: req(
        "POST", case_a + "/assign", tok["lead1"], {"officer": "../../etc/passwd"}),
        "not_found", check=says("does not exist"))
    h.refused("office substantiate: grade ../1", lambda: req(
        "POST", case_a + "/substantiate", tok["off1"],
        {"verified_fen": 100, "grade": "../1"}), "policy")
    h.refused("office request-evidence: observation ../", lambda: req(
        "POST", case_a + "/request-evidence", tok["off1"],
        {"text": "x", "observation": "../" * 10 + "ab"}), "field_value")
    h.refused("office login: officer ../../etc/passwd", lambda: req(
        "POST", "/v1/office/login", body={"officer": "../../etc/passwd",
                                         "password": "x"}),
        ("unauthenticated", "rate_limited"), allow=LOGIN_FAILS)
    h.ok(not os.path.isdir(os.path.join(h.DATA, "exports")),
         "office: no export was written")
