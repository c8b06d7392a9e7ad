"""The demo's office side, over HTTPS as an officer.  Usage:
demo_office.py PORT CA OFFICER PASSWORD read PHOTO
    logs in, finds the case a supervisor's clue opened, reads its evidence
    (decrypted by the server, checked against the photo the supervisor
    took), accepts the case and asks the reporter for more evidence; the
    last two lines printed are the case id and the observation id.
demo_office.py PORT CA OFFICER PASSWORD substantiate CASE
    shows the case's clues (the supplement among them) and substantiates it
    with a verified amount."""
import hashlib
import http.client
import json
import ssl
import sys

port, ca, officer, password, mode, arg = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)


def call(method, path, body=None, token=None):
    c = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=30)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        sys.exit("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return data


tok = json.loads(call("POST", "/v1/office/login", {"officer": officer,
                                                    "password": password}))["token"]
print("officer %s logged in (a 15-minute token)" % officer)
if mode == "substantiate":
    case = json.loads(call("GET", "/v1/office/cases/%s" % arg, token=tok))
    for clue in case["clue_list"]:
        print("clue %s… %s%s: %d evidence file(s)" % (
            clue["observation"][:12], clue["what"],
            " (supplements %s…)" % clue["supplements"][:12] if "supplements" in clue
            else "", len(clue["evidence"])))
    print("case %s: the new evidence is in; status %s" % (arg, case["status"]))
    r = json.loads(call("POST", "/v1/office/cases/%s/substantiate" % arg,
                        {"verified_fen": 1280000, "grade": "1",
                         "text": "查实：违规结算 12800 元"}, tok))
    print("case %s substantiated: 12,800 yuan verified; status %s"
          % (arg, r["case"].get("status")))
    sys.exit(0)
photo = arg
cases = json.loads(call("GET", "/v1/office/cases", token=tok))["cases"]
want = hashlib.sha256(open(photo, "rb").read()).hexdigest()
for k in cases:
    case = json.loads(call("GET", "/v1/office/cases/%s" % k["id"], token=tok))
    for clue in case.get("clue_list", []):
        for ev in clue.get("evidence", []):
            if ev["sha256"] != want:
                continue
            plain = call("GET", "/v1/office/cases/%s/evidence/%s" % (k["id"], ev["blob"]),
                         token=tok)
            print("case %s: %d clue(s), reporter %s; evidence %s… read, decrypted on "
                  "the server: %d bytes, SHA-256 matches the photo taken: %s" % (
                      k["id"], len(case["clue_list"]), clue["reporter"], ev["blob"][:12],
                      len(plain), hashlib.sha256(plain).hexdigest() == want))
            call("POST", "/v1/office/cases/%s/status" % k["id"],
                 {"status": "accepted", "text": "立案调查"}, tok)
            call("POST", "/v1/office/cases/%s/request-evidence" % k["id"],
                 {"text": "请补拍收银小票", "observation": clue["observation"]}, tok)
            print("case %s accepted; the officer asks the reporter for the till receipt"
                  % k["id"])
            print(k["id"])
            print(clue["observation"])
            sys.exit(0)
sys.exit("no case holds the photo")
