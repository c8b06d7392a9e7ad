#!/usr/bin/env python3
"""agent_proxy.py: a loopback proxy between fundwatch-agent and the real
fundwatch-server, for tests/integration/agent_sync.sh.

Two modes, both on 127.0.0.1 only, both bounded in time (--lifetime):

  tcp      forwards bytes both ways and counts those from the agent to the
           server; with --cut-after N it closes both sides of the connection
           during which that count passes N (once), as a network cut would.
  tls503   terminates TLS with the server's own certificate (so the agent's
           pinned CA accepts it), answers the first --fail requests itself
           with "503, Retry-After: S" and a JSON error, then relays the
           others request by request to the server over TLS.

It writes its port to --port-file once listening, and one line per event to
--log ("cut <bytes>", "503 <unix time>", "relay <unix time> <METHOD> <path>"),
and on exit the byte count ("up <bytes>").  Python standard library only.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time

lock = threading.Lock()
state = {"up": 0, "cut": False, "failed": 0}


def log(args, line):
    with lock:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def pump(args, src, dst, upstream, peer):
    """Copy src to dst until EOF; cut both when the count passes the mark."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if upstream:
                with lock:
                    before = state["up"]
                    state["up"] += len(data)
                    cut = (args.cut_after is not None and not state["cut"]
                           and before + len(data) > args.cut_after)
                    if cut:
                        state["cut"] = True
                if cut:
                    keep = args.cut_after - before
                    if keep > 0:
                        dst.sendall(data[:keep])
                    log(args, "cut %d" % args.cut_after)
                    for s in (src, dst, peer):
                        try:
                            s.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    return
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass


def serve_tcp(args, client):
    try:
        server = socket.create_connection(("127.0.0.1", args.target), timeout=10)
    except OSError:
        client.close()
        return
    server.settimeout(None)
    client.settimeout(None)
    t = threading.Thread(target=pump, args=(args, server, client, False, None),
                         daemon=True)
    t.start()
    pump(args, client, server, True, server)
    t.join(timeout=args.lifetime)
    client.close()
    server.close()
    with lock:
        up = state["up"]
    log(args, "total %d" % up)


def read_message(sock, buf):
    """One HTTP/1.1 message (head and Content-Length body) from sock."""
    deadline = time.time() + 30
    while b"\r\n\r\n" not in buf:
        if time.time() > deadline or len(buf) > 65536:
            return None, b""
        data = sock.recv(65536)
        if not data:
            return None, b""
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        if time.time() > deadline:
            return None, b""
        data = sock.recv(min(65536, length - len(rest)))
        if not data:
            return None, b""
        rest += data
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


def serve_tls503(args, raw, ctx_in, ctx_out):
    try:
        client = ctx_in.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        raw.close()
        return
    client.settimeout(30)
    server = None
    buf = b""
    try:
        for _ in range(10000):
            msg, buf = read_message(client, buf)
            if msg is None:
                break
            line = msg.split(b"\r\n", 1)[0].decode("latin-1")
            with lock:
                fail = state["failed"] < args.fail
                if fail:
                    state["failed"] += 1
            if fail:
                body = (b'{"error":"unavailable","message":"test proxy: '
                        b'the server is busy"}')
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\n"
                               b"Retry-After: %d\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                               % (args.retry_after, len(body), body))
                log(args, "503 %.3f %s" % (time.time(), line))
                break
            if server is None:
                s = socket.create_connection(("127.0.0.1", args.target), timeout=30)
                server = ctx_out.wrap_socket(s, server_hostname="127.0.0.1")
            log(args, "relay %.3f %s" % (time.time(), line))
            server.sendall(msg)
            answer, _ = read_message(server, b"")
            if answer is None:
                break
            client.sendall(answer)
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        for s in (client, server):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tcp", "tls503"])
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--cut-after", type=int)
    p.add_argument("--fail", type=int, default=1)
    p.add_argument("--retry-after", type=int, default=2)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    p.add_argument("--lifetime", type=int, default=300)
    args = p.parse_args()

    ctx_in = ctx_out = None
    if args.mode == "tls503":
        ctx_in = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx_in.load_cert_chain(args.cert, args.key)
        ctx_out = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx_out.load_verify_locations(args.ca)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    lsock.settimeout(1.0)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args.port_file)

    end = time.time() + args.lifetime
    threads = []
    try:
        while time.time() < end:
            try:
                conn, _ = lsock.accept()
            except socket.timeout:
                continue
            if args.mode == "tcp":
                t = threading.Thread(target=serve_tcp, args=(args, conn), daemon=True)
            else:
                t = threading.Thread(target=serve_tls503,
                                     args=(args, conn, ctx_in, ctx_out), daemon=True)
            t.start()
            threads.append(t)
    except KeyboardInterrupt:
        pass
    finally:
        log(args, "up %d" % state["up"])
    return 0


def on_term(signum, frame):
    raise KeyboardInterrupt()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(main())
