"""The demo's small test client: enrolls with a one-time code and syncs one
bundle of two observations (one with a photo) over HTTPS, using the
independent protocol client in tests/integration/fwclient.py."""
import hashlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import fwclient  # noqa: E402

port, ca, code = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tmp = tempfile.mkdtemp()
d = fwclient.Device(tmp, port, ca)
st, ans = d.enroll(code)
if st != 200:
    sys.exit("enroll: %d %s" % (st, ans))
print("enrolled device %s for supervisor %s (profile %s, %d categories)" % (
    ans["device"], ans["supervisor"], ans["profile"], len(ans["taxonomy"])))
photo = os.urandom(200 << 10)
blob = b"age-encryption.org/v1\n" + os.urandom(len(photo) + 200)
o1 = d.observation([(photo, blob)], what="店员代刷社保卡购买日用品")
o2 = d.observation(what="收费单据与实际服务不符")
man = d.manifest([o1, o2])
st, ans = d.sync(d.bundle(man), {hashlib.sha256(blob).hexdigest(): blob})
if st != 200:
    sys.exit("sync: %d %s" % (st, ans))
print("receipt (signature verifies: %s):" % d.check_receipt(ans))
print(json.dumps(ans["receipt"], indent=2, ensure_ascii=False))
st, again = d.offer(d.bundle(man))
print("offered again: state %s, same receipt: %s" % (
    again.get("state"), again == ans))
