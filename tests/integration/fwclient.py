"""fwclient: an independent client of fundwatch's wire protocol v1.

Written from proto/PROTOCOL.md alone, with python3's standard library and
the openssl command line for Ed25519 (python has no Ed25519 of its own): it
shares no code with fundwatch, so the server's tests also check that the
spec says enough to write a compatible client.
"""
import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import tempfile
import time
import zlib


def canonical(obj):
    """Canonical JSON bytes (PROTOCOL.md section 1)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Key:
    """An Ed25519 key held in a PEM file, used through openssl."""

    def __init__(self, folder):
        self.path = os.path.join(folder, "key-%s.pem" % os.urandom(4).hex())
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                        self.path], check=True, capture_output=True)
        os.chmod(self.path, 0o600)
        der = subprocess.run(["openssl", "pkey", "-in", self.path, "-pubout",
                              "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.raw = der[-32:]
        self.device = hashlib.sha256(self.raw).hexdigest()[:32]

    def sign(self, data):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey",
                                   self.path, "-rawin", "-in", f.name],
                                  check=True, capture_output=True).stdout


def verify(raw_pub, data, sig):
    """Ed25519 verify with openssl; raw_pub is 32 bytes."""
    der = bytes.fromhex("302a300506032b6570032100") + raw_pub
    with tempfile.TemporaryDirectory() as d:
        pub = os.path.join(d, "pub.der")
        msg = os.path.join(d, "msg")
        sg = os.path.join(d, "sig")
        open(pub, "wb").write(der)
        open(msg, "wb").write(data)
        open(sg, "wb").write(sig)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform",
                            "DER", "-inkey", pub, "-rawin", "-in", msg,
                            "-sigfile", sg], capture_output=True)
        return r.returncode == 0


class Device:
    """A device: key, chain state and the HTTPS connection."""

    def __init__(self, folder, port, ca):
        self.key = Key(folder)
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.seq = 0
        self.bundle_seq = 0
        self.prev = "0" * 64
        self.time_offset = 0
        self.enrolled = None

    def request(self, method, target, body=b"", sign=True, headers=None,
                nonce=None, when=None, ctype="application/json"):
        h = {"Content-Type": ctype}
        if sign:
            t = str(int(time.time()) + self.time_offset if when is None else when)
            n = nonce or os.urandom(16).hex()
            s = "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n" % (
                method, target, t, n, hashlib.sha256(body).hexdigest())
            h.update({"FW-Device": self.key.device, "FW-Time": t, "FW-Nonce": n,
                      "FW-Signature": base64.b64encode(
                          self.key.sign(s.encode())).decode()})
        h.update(headers or {})
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                        timeout=30)
        c.request(method, target, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, {"raw": data.decode("utf-8", "replace")}

    def enroll(self, code):
        pk = base64.b64encode(self.key.raw).decode()
        proof = "fundwatch-enroll-v1\n%s\n%s\n" % (code, pk)
        body = canonical({"code": code, "public_key": pk, "proof":
                          base64.b64encode(self.key.sign(proof.encode())).decode()})
        st, ans = self.request("POST", "/v1/enroll", body, sign=False)
        if st == 200:
            self.enrolled = ans
        return st, ans

    def observation(self, evidence=(), captured=None, category=None, what=None,
                    kind="pharmacy", seq=None, prev=None, oid=None):
        """The next observation of this device (advances the chain)."""
        self.seq = self.seq + 1 if seq is None else seq
        cat = category or self.enrolled["taxonomy"][0]["code"]
        o = {"id": oid or os.urandom(16).hex(), "seq": self.seq,
             "prev": self.prev if prev is None else prev,
             "captured": iso(captured or time.time()),
             "place": {"text": "清城区 松岗路 12 号", "lat_e7": 236817000,
                       "lon_e7": 1130342000},
             "subject": {"kind": kind, "name": "康民大药房",
                         "institution": "P44180200123"},
             "categories": [cat], "what": what or "刷卡购买日用品",
             "severity": "normal", "evidence": [
                 {"kind": "photo", "media_type": "image/jpeg",
                  "size": len(plain), "sha256": hashlib.sha256(plain).hexdigest(),
                  "blob": hashlib.sha256(blob).hexdigest(), "blob_size": len(blob),
                  "captured": iso(captured or time.time())}
                 for plain, blob in evidence]}
        self.prev = hashlib.sha256(canonical(o)).hexdigest()
        return o

    def manifest(self, observations):
        self.bundle_seq += 1
        return canonical({"version": 1, "device": self.key.device,
                          "bundle_seq": self.bundle_seq, "created": iso(time.time()),
                          "observations": observations})

    def bundle(self, manifest, key=None):
        return b"FWB1" + (key or self.key).sign(manifest) + zlib.compress(manifest, 9)

    def offer(self, bundle):
        return self.request("POST", "/v1/sync/offer", bundle,
                            ctype="application/vnd.fundwatch.bundle")

    def upload(self, blob_id, offset, data):
        return self.request("PUT", "/v1/blobs/%s?offset=%d" % (blob_id, offset), data,
                            ctype="application/octet-stream")

    def commit(self, bundle_id):
        return self.request("POST", "/v1/sync/commit", canonical({"bundle": bundle_id}))

    def sync(self, bundle, blobs):
        """offer, upload every missing blob from its offset, commit."""
        st, ans = self.offer(bundle)
        if st != 200:
            return st, ans
        if ans.get("state") == "committed":
            return st, ans
        for m in ans["missing"]:
            data = blobs[m["blob"]]
            off = m["offset"]
            chunk = ans["chunk_size"]
            while off < len(data):
                st, up = self.upload(m["blob"], off, data[off:off + chunk])
                if st != 200:
                    return st, up
                off = up["offset"]
        return self.commit(ans["bundle"])

    def check_receipt(self, ans):
        r = ans["receipt"]
        raw = base64.b64decode(self.enrolled["receipt_key"])
        return verify(raw, canonical(r), base64.b64decode(ans["signature"]))
