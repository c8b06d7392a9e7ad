"""fwtest: what the Python scenarios that drive the real fundwatch-server
share (casework.py, server_ingest.py, office.py): their first arguments, TAP
lines, the admin subcommands, and the data folder's profile.  fwclient.py,
beside it, is the independent protocol client; this module speaks only to
the server's command line and files.

Every script importing it is run as SCRIPT SERVER_BIN DATA_DIR PORT [...]:
SERVER, DATA, PORT and CA come from there.  ok() counts into n and failed;
the script reads them at its end (fwtest.n, fwtest.failed).
"""
import configparser
import json
import os
import subprocess
import sys

SERVER, DATA, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
CA = os.path.join(DATA, "tls", "ca.pem")
DETAIL_LINES = None     # at most this many lines of detail under a failure
n = 0
failed = 0


def ok(cond, desc, detail=""):
    """One TAP line; a failure prints detail under it.  Returns cond."""
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n, desc))
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:DETAIL_LINES]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def run(*args, stdin=None):
    """fundwatch-server with args, its output captured as text."""
    return subprocess.run([SERVER] + list(args), capture_output=True, text=True,
                          input=stdin)


def admin(*args, stdin=None):
    """An admin subcommand on DATA with --json: its JSON answer (None if it
    prints nothing); raises RuntimeError if it fails."""
    r = run(*(list(args) + ["--data", DATA, "--json"]), stdin=stdin)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout) if r.stdout.strip() else None


def profile():
    """The data folder's profile.conf."""
    p = configparser.ConfigParser(interpolation=None, strict=False,
                                  inline_comment_prefixes=(";", "#"))
    p.read(os.path.join(DATA, "profile.conf"), encoding="utf-8")
    return p


def profile_codes():
    """The profile's first appointment method and the attestations it
    requires."""
    p = profile()
    method = [s.split(None, 1)[1] for s in p.sections() if s.startswith("method ")][0]
    att = [s.split(None, 1)[1] for s in p.sections() if s.startswith("eligibility ")
           and p[s].get("required", "no").strip() in ("yes", "true", "1")]
    return method, att


def supervisor_args(sid, name, birth="1980-05-01", start="2025-01-01", unit=None):
    """`supervisor add` for sid with the profile's first method and every
    attestation it requires."""
    method, att = profile_codes()
    args = ["supervisor", "add", "--id", sid, "--name", name, "--birth", birth,
            "--method", method, "--start", start]
    if unit is not None:
        args += ["--unit", unit]
    for a in att:
        args += ["--attest", a]
    return args
