#!/bin/sh
# body_budget.sh: what the server holds of request bodies is bounded
# (DESIGN invariant 4, server/http.c "memory").  evhttp keeps a body whole
# until it is answered; past HTTP_BODY_FREE a connection needs one of
# HTTP_BODY_SLOTS, or waits with its reading paused.  Here 48 connections
# send a 1 MiB PUT body each, all at once, each holding back its last byte
# until all are sent or 5 s have passed: every one is answered (401:
# the requests are not signed, which api.c sees only once the body is in,
# so each body is held whole first), none waits forever, and the server's
# peak RSS grows by less than 48 MiB (holding them all took about 90).
# Then an ordinary request is still served.
NAME=budget
. "$(dirname "$0")/../lib/common.shlib"	# server_init, server_start, bail
command -v openssl >/dev/null 2>&1 || { echo "skip: openssl is not installed"; exit 0; }
server_init
server_start || bail "server started" "$T/server.log"

timeout 300 python3 - "$PORT" "$D/tls/ca.pem" "$SPID" \
    "${FW_SANITIZED:-}" <<'PY'
import re, socket, ssl, sys, threading, time

PORT, CA, SPID, SANITIZED = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
N, SIZE = 48, 1 << 20
n = failed = 0


def ok(cond, what, detail=""):
    global n, failed
    n += 1
    if not cond:
        failed += 1
        print("not ok %d - %s" % (n, what))
        if detail:
            print("#   %s" % str(detail)[:500])
    else:
        print("ok %d - %s" % (n, what))


def hwm():
    """The server's peak RSS, kB."""
    return int(re.search(r"VmHWM:\s*(\d+)", open("/proc/%d/status" % SPID).read()).group(1))


def connect():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(CA)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")


def status_of(t):
    data = b""
    while b"\r\n" not in data and len(data) < 4096:
        got = t.recv(4096)
        if not got:
            break
        data += got
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


# An idle server's peak, with a request or two behind it.
t = connect()
t.sendall(b"GET /v1/feed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
status_of(t)
t.close()
hwm0 = hwm()

# Each sends all of its body but the last byte, then waits until all have
# (or 5 s have passed: those the server does not read yet are stuck in
# sendall), so that a server without the budget would hold every body.
results = [None] * N
sent = [0]
lock = threading.Lock()
last = threading.Event()
body = b"\0" * SIZE


def upload(i):
    try:
        t = connect()
        t.sendall(b"PUT /v1/blobs/" + b"a" * 64 + b"?offset=0 HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\nConnection: close\r\n\r\n" % SIZE)
        t.sendall(body[:-1])
        with lock:
            sent[0] += 1
        last.wait(30)
        t.sendall(body[-1:])
        results[i] = status_of(t)
        t.close()
    except Exception as e:  # noqa: BLE001
        results[i] = repr(e)


t0 = time.time()
threads = [threading.Thread(target=upload, args=(i,)) for i in range(N)]
for th in threads:
    th.start()
end = time.time() + 5
while sent[0] < N and time.time() < end:
    time.sleep(0.1)
print("# %d of %d bodies sent but their last byte" % (sent[0], N))
time.sleep(0.5)
last.set()
for th in threads:
    th.join(120)
took = time.time() - t0
hwm1 = hwm()
ok(all(r == 401 for r in results),
   "%d concurrent 1 MiB bodies all answered (401, unsigned) in %.1f s" % (N, took), results)
print("# server VmHWM %d kB before, %d kB after (+%d kB)" % (hwm0, hwm1, hwm1 - hwm0))
if SANITIZED:
    print("# memory bound not checked under %s" % SANITIZED)
else:
    # Held whole, 48 bodies cost about 90 MiB (evbuffer chains of TLS
    # records, then the contiguous copy); 12 slots and the free bytes of
    # the others, under 30.
    ok(hwm1 - hwm0 < 48 * 1024,
       "the server held less than 48 MiB more for them (+%d kB)" % (hwm1 - hwm0))
t = connect()
t.sendall(b"GET /v1/feed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
st = status_of(t)
t.close()
ok(st == 401, "an ordinary request is served after them (%s)" % st)
sys.exit(1 if failed else 0)
PY
rc=$?
if ! kill -0 "$SPID" 2>/dev/null; then
	echo "not ok - the server died"
	rc=1
fi
[ $rc -eq 0 ] || sed 's/^/# server: /' "$T/server.log" | tail -n 20
exit $rc
