#!/usr/bin/env python3
"""casework_e2e.py: the whole path on loopback with the real programs.

A supervisor's device (fundwatch-agent) captures a clue with a photo and
syncs it to the real fundwatch-server; an officer logs in over the officer
API, reads the evidence (decrypted by the server) and asks the reporter for
more; the device shows the request, answers it with `attach` on the same
observation (a supplementary observation, since the first is sealed) and
syncs; the officer sees the new evidence in the same case, substantiates
it; a reward officer approves the reward; the device receives feedback and
the reward.  TAP output.  Usage:
casework_e2e.py SERVER AGENT   (the two programs, or wrappers around them)"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

SERVER, AGENT = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="fw-e2e.")
D = os.path.join(T, "office")
n = failed = 0
server = None
ENV = dict(os.environ, FUNDWATCH_AGENT_DATA=os.path.join(T, "agent"),
           FUNDWATCH_AGENT_CONFIG=os.path.join(T, "agent.conf"))


def ok(cond, what, detail=""):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, what), flush=True)
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
    return cond


def run(*argv, check=True):
    r = subprocess.run(argv, env=ENV, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        finish("%s failed (%d): %s" % (" ".join(argv[:3]), r.returncode,
                                        r.stderr[-800:]))
    return r


def admin(*args, stdin=None):
    r = subprocess.run((SERVER,) + args + ("--data", D), input=stdin, env=ENV,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        finish("fundwatch-server %s failed: %s" % (" ".join(args[:2]), r.stderr[-800:]))
    return r.stdout


def agent(*args, check=True):
    return run(AGENT, *args, check=check)


def finish(why=None):
    if why:
        ok(False, "bail out", why)
    if server is not None and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    if failed or why:
        try:
            print("".join("# server: " + l for l in open(os.path.join(T, "server.log"))
                          .readlines()[-30:]))
        except OSError:
            pass
    shutil.rmtree(T, ignore_errors=True)
    print("1..%d" % n)
    sys.exit(1 if failed or why else 0)


def start_server():
    global server
    port_file = os.path.join(D, "run", "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    server = subprocess.Popen((SERVER, "run", "--data", D, "-d"), env=ENV,
                              stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(T, "server.log"), "a"))
    for _ in range(600):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            return int(open(port_file).read())
        time.sleep(0.05)
    finish("the server did not start")


class Office:
    """An officer's session on the officer API."""

    def __init__(self, port, officer, password):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=os.path.join(D, "tls", "ca.pem"))
        self.token = None
        st, r = self.call("POST", "/v1/office/login", {"officer": officer,
                                                       "password": password})
        if st != 200:
            finish("login of %s: %d %s" % (officer, st, r))
        self.token = json.loads(r)["token"]

    def call(self, method, path, body=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                        timeout=30)
        h = {"Content-Type": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def json(self, method, path, body=None):
        st, data = self.call(method, path, body)
        if st != 200:
            finish("%s %s: %d %s" % (method, path, st, data[:300]))
        return json.loads(data)


def feedback():
    return json.loads(agent("feedback", "--json").stdout)["feedback"]


def main():
    global server
    # ---- the office and the device ---------------------------------------------
    admin("init", "--profile", "qingyuan")
    conf = os.path.join(D, "fundwatch.conf")
    text = open(conf).read()
    text = re.sub(r"(?m)^listen *=.*$", "listen = 127.0.0.1:0", text)
    text = re.sub(r"(?m)^disk_reserve *=.*$", "disk_reserve = 1M", text)
    open(conf, "w").write(text)
    port = start_server()
    # Keep the port across restarts: the device remembers the address.
    open(conf, "w").write(re.sub(r"(?m)^listen *=.*$", "listen = 127.0.0.1:%d" % port, text))

    profile = open(os.path.join(D, "profile.conf")).read()
    method = re.search(r"(?m)^\[method (.*)\]", profile).group(1)
    attest = []
    for sec, body in re.findall(r"(?ms)^\[eligibility (.*?)\]\n(.*?)(?=^\[|\Z)", profile):
        if re.search(r"(?m)^required *= *yes", body):
            attest += ["--attest", sec]
    admin("supervisor", "add", "--name", "李四", "--birth", "1975-03-08",
          "--method", method, *attest)
    admin("unit", "add", "CITY", "--name", "清远市医疗保障局", "--jurisdiction", "CITY",
          "--city")
    admin("officer", "add", "li.wei", "--name", "李伟", "--unit", "CITY", "--roles",
          "officer,unit_lead", stdin="e2e-password-1\n")
    admin("officer", "add", "wang.fang", "--name", "王芳", "--unit", "CITY", "--roles",
          "reward_officer", stdin="e2e-password-2\n")
    code = json.loads(admin("device", "code", "--supervisor", "S0001", "--json"))["code"]
    agent("enroll", "--server", "https://127.0.0.1:%d" % port, "--code", code,
          "--ca", os.path.join(D, "tls", "ca.pem"))

    photo = os.path.join(T, "counter.jpg")
    extra = os.path.join(T, "receipt.jpg")
    with open(photo, "wb") as f:
        f.write(os.urandom(700 * 1024))
    with open(extra, "wb") as f:
        f.write(os.urandom(300 * 1024))
    obs = agent("observe", "--subject-kind", "pharmacy", "--subject", "康民大药房",
                "--institution", "P-4418.01", "--place", "清城区 新城路 8 号",
                "--category", "QY-5-1-01", "--what", "刷社保卡购买日用品",
                "--attach", photo).stdout.strip()
    ok(re.fullmatch(r"[0-9a-f]{32}", obs) is not None, "observe prints the new id", obs)
    r = agent("sync", "--json")
    ok(json.loads(r.stdout).get("observations") == 1, "the clue syncs", r.stdout)

    # ---- the officer reads it and asks for more ---------------------------------
    off = Office(port, "li.wei", "e2e-password-1")
    cases = off.json("GET", "/v1/office/cases")["cases"]
    ok(len(cases) == 1 and cases[0]["status"] == "received",
       "the clue opened one case, status received", cases)
    cid = cases[0]["id"]
    case = off.json("GET", "/v1/office/cases/%d" % cid)
    ev = case["clue_list"][0]["evidence"][0]
    st, plain = off.call("GET", "/v1/office/cases/%d/evidence/%s" % (cid, ev["blob"]))
    ok(st == 200 and plain == open(photo, "rb").read(),
       "the officer reads the photo, decrypted by the server, byte for byte",
       "status %d, %d bytes" % (st, len(plain)))
    off.json("POST", "/v1/office/cases/%d/status" % cid, {"status": "accepted"})
    r = off.json("POST", "/v1/office/cases/%d/request-evidence" % cid,
                 {"text": "请补拍收银小票", "observation": obs})
    ok(r["case"]["status"] == "evidence_requested", "the officer asks for more evidence",
       r)

    agent("sync")
    fb = feedback()
    got = [(m["body"]["observation"], m["body"]["status"]) for m in fb]
    ok(got == [(obs, "received"), (obs, "accepted"), (obs, "evidence_requested")],
       "the device shows received, accepted and the evidence request", got)
    ok(fb[-1]["body"]["text"] == "请补拍收银小票", "with the officer's words", fb[-1])
    human = agent("feedback").stdout
    ok("fundwatch-agent attach %s FILE" % obs in human,
       "the human listing says how to answer", human)

    # ---- the device answers on the same observation ------------------------------
    r = agent("attach", obs, extra, "--what", "收银小票", "--json")
    sup = json.loads(r.stdout).get("supplement", "")
    ok(re.fullmatch(r"[0-9a-f]{32}", sup) is not None and sup != obs,
       "attach to the sealed observation makes a supplementary observation", r.stdout)
    shown = json.loads(agent("show", sup, "--json").stdout)
    ok(json.dumps(shown, ensure_ascii=False).count(obs) >= 1,
       "show names the observation it supplements", shown)
    r = agent("sync", "--json")
    ok(json.loads(r.stdout).get("observations") == 1, "the supplement syncs", r.stdout)

    cases = off.json("GET", "/v1/office/cases")["cases"]
    ok(len(cases) == 1, "no new case: the supplement joins the first", cases)
    case = off.json("GET", "/v1/office/cases/%d" % cid)
    clues = case["clue_list"]
    ok(len(clues) == 2 and clues[1]["observation"] == sup and
       clues[1].get("supplements") == obs and clues[1]["what"] == "收银小票",
       "the case holds the supplement, linked to the original", clues)
    ok(case["status"] == "investigating", "the case goes back to investigating",
       case["status"])
    ev2 = clues[1]["evidence"][0]
    st, plain = off.call("GET", "/v1/office/cases/%d/evidence/%s" % (cid, ev2["blob"]))
    ok(st == 200 and plain == open(extra, "rb").read(),
       "the officer reads the new evidence byte for byte", "status %d" % st)
    notes = off.json("GET", "/v1/office/notifications")["notifications"]
    ok(any(x["kind"] == "evidence_supplied" and x["case"] == cid for x in notes),
       "the assignee is notified of the evidence", notes)

    # ---- substantiated, rewarded, and the device hears of it ---------------------
    st, body = off.call("POST", "/v1/office/cases/%d/substantiate" % cid,
                        {"verified_fen": 1280000, "grade": "1", "reward_fen": 99900})
    ok(st == 400 and json.loads(body).get("error") == "invalid_argument",
       "a reward sum is refused for a grade that computes it", body)
    r = off.json("POST", "/v1/office/cases/%d/substantiate" % cid,
                 {"verified_fen": 1280000, "grade": "1", "text": "查实：违规结算 12800 元"})
    ok(r["case"]["status"] == "substantiated", "the officer substantiates 12,800 yuan", r)
    rew = Office(port, "wang.fang", "e2e-password-2")
    st, body = off.call("POST", "/v1/office/cases/%d/approve-reward" % cid, {})
    ok(st == 403 and json.loads(body).get("error") == "forbidden",
       "the case officer cannot approve the reward", body)
    r = rew.json("POST", "/v1/office/cases/%d/approve-reward" % cid, {})
    fen = r["case"].get("reward_fen")
    ok(isinstance(fen, int) and fen >= 20000, "the reward officer approves it", r)

    agent("sync")
    fb = feedback()
    last = fb[-1]["body"]
    tail = [(m["body"]["observation"], m["body"]["status"]) for m in fb[3:]]
    ok(tail == [(sup, "received"), (obs, "substantiated"), (sup, "substantiated"),
                (obs, "reward_approved")],
       "the device hears: supplement received, both substantiated, reward approved",
       [m["body"] for m in fb])
    ok(last.get("reward_fen") == fen and last["observation"] == obs,
       "the reward reaches the first reporter's observation with its amount", last)
    human = agent("feedback").stdout
    ok("reward %d.%02d yuan" % (fen // 100, fen % 100) in human,
       "the human listing shows the reward in yuan", human)
    lst = json.loads(agent("list", "--json").stdout)["observations"]
    ok([o["status"] for o in lst] == ["receipted", "receipted"],
       "both observations are receipted on the device", lst)
    r = subprocess.run((SERVER, "audit", "verify", "--data", D), capture_output=True,
                       text=True, timeout=60)
    ok(r.returncode == 0, "the audit chain verifies", r.stdout + r.stderr)


try:
    main()
except Exception as x:  # a crash of the test itself still stops the server
    finish("%s: %s" % (type(x).__name__, x))
finish()
