"""After server_ingest.py: the server restarted with a disk reserve larger
than the free space refuses an upload with insufficient_storage and writes
nothing; the audit log, altered by hand, fails `audit verify` naming the
entry.  Usage: server_reserve.py SERVER_BIN DATA_DIR PORT"""
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fwclient  # noqa: E402

SERVER, DATA, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
# make valgrind: the command that goes before the server (run-tests.sh)
VG = os.environ.get("VALGRIND", "").split()
n = 0
bad = 0


def ok(cond, desc, detail=""):
    global n, bad
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        bad += 1
        print("#   %s" % detail)


def admin(*args):
    r = subprocess.run(VG + [SERVER] + list(args) + ["--data", DATA, "--json"],
                       capture_output=True, text=True)
    return r


import json  # noqa: E402
code = json.loads(admin("device", "code", "--supervisor", "S1").stdout)["code"]
d = fwclient.Device(tempfile.mkdtemp(), PORT, os.path.join(DATA, "tls", "ca.pem"))
st, ans = d.enroll(code)
ok(st == 200, "enrollment still works below the reserve (it writes no blob)", ans)
blob = os.urandom(4096)
o = d.observation([(b"x", blob)])
st, ans = d.offer(d.bundle(d.manifest([o])))
ok(st == 507 and ans.get("error") == "insufficient_storage",
   "an offer below the disk reserve -> insufficient_storage", ans)
partial = os.path.join(DATA, "blobs", "partial", hashlib.sha256(blob).hexdigest())
ok(not os.path.exists(partial), "nothing was written for the blob")

r = admin("audit", "verify")
ok(r.returncode == 0, "audit verify passes before tampering", r.stderr)
db = sqlite3.connect(os.path.join(DATA, "fundwatch.db"))
seq = db.execute("SELECT min(seq) FROM audit WHERE action = 'ingest.accepted'").fetchone()[0]
db.execute("UPDATE audit SET detail = replace(detail, 'bundle', 'bundlE') WHERE seq = ?",
           (seq,))
db.commit()
r = admin("audit", "verify")
ok(r.returncode != 0 and ("audit entry %d:" % seq) in r.stderr and "chain_broken" in r.stderr,
   "an altered audit entry makes audit verify fail, naming entry %d" % seq, r.stderr)
db.execute("UPDATE audit SET detail = replace(detail, 'bundlE', 'bundle') WHERE seq = ?",
           (seq,))
db.execute("DELETE FROM audit WHERE seq = 3")
db.commit()
r = admin("audit", "verify")
ok(r.returncode != 0 and "entries missing" in r.stderr,
   "a removed audit entry makes audit verify fail", r.stderr)
sys.exit(1 if bad else 0)
