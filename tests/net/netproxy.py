#!/usr/bin/env python3
"""netproxy.py: a fault-injecting TCP proxy for tests/net/net.sh: the bad
link between fundwatch-agent and fundwatch-server, on 127.0.0.1 only (the
kernel's netem is not available on these machines).

It forwards bytes both ways through TLS untouched and, as told:

  --rate BITS        caps each direction at BITS bit/s (shared by every
                     connection, a token bucket paced in small slices)
  --delay MS         holds every byte MS milliseconds in each direction
  --cut-every S      drops every live connection every S seconds (RST)
  --cut-bytes A:B    drops a connection after a random number of bytes in
                     [A, B] from the client (each of the first --cut-conns
                     connections, default all)
  --stall-every S    every S seconds forwards nothing in either direction
  --stall-for S      for S seconds (the sockets stay open: a stall)
  --half-open LIST   accepted connections by number (1 is the first, comma
                     separated) that are held open and never answered: no
                     upstream connection, nothing sent back
  --seed N           for the random offsets

Bytes are counted: "up" as read from the client, "down" as read from the
server.  For each cut the proxy logs how many bytes the client had sent
since the server last sent it anything: the request in flight, lost with
the connection, which the client has to send again (TLS cannot be read,
but HTTP/1.1 answers each request before the next begins, so the bytes up
since the last bytes down are the unanswered request).

Writes its port to --port-file once listening; one line per event to --log
("conn N", "halfopen N", "stall T S", "cut KIND conn=N up=B inflight=B
t=T"); and, on exit (SIGTERM or --lifetime), a JSON summary to --stats.
Python standard library only; every wait is bounded by --lifetime.
"""
import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time


class Bucket:
    """Token bucket of one direction; rate in bit/s, 0 = unlimited."""

    def __init__(self, rate):
        self.rate = rate
        self.t = 0.0

    async def take(self, n):
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.t = max(self.t, now) + n * 8.0 / self.rate
        if self.t > now:
            await asyncio.sleep(self.t - now)


class Proxy:
    def __init__(self, args):
        self.a = args
        self.rnd = random.Random(args.seed)
        self.up_bucket = Bucket(args.rate)
        self.down_bucket = Bucket(args.rate)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.conns = {}
        self.nconn = 0
        self.stats = {"up": 0, "down": 0, "conns": 0, "halfopen": 0, "stalls": 0,
                      "cuts": [], "delivered_up": 0}
        self.half = set(int(x) for x in args.half_open.split(",") if x.strip())
        self.t0 = time.monotonic()
        self.logf = open(args.log, "a", buffering=1)
        self.slice = 16384
        if args.rate > 0:   # about 20 slices a second keeps the pacing smooth
            self.slice = max(512, min(16384, args.rate // 8 // 20))

    def log(self, line):
        self.logf.write("%s t=%.2f\n" % (line, time.monotonic() - self.t0))

    async def accept(self, creader, cwriter):
        self.nconn += 1
        n = self.nconn
        self.stats["conns"] += 1
        if n in self.half:
            self.stats["halfopen"] += 1
            self.log("halfopen %d" % n)
            try:   # read and drop, answer nothing, until the client gives up
                end = time.monotonic() + self.a.lifetime
                while time.monotonic() < end:
                    data = await asyncio.wait_for(creader.read(65536),
                                                  timeout=end - time.monotonic())
                    if not data:
                        break
            except (OSError, asyncio.TimeoutError):
                pass
            cwriter.transport.abort()
            return
        try:
            sreader, swriter = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.a.target), timeout=10)
        except (OSError, asyncio.TimeoutError):
            cwriter.transport.abort()
            return
        self.log("conn %d" % n)
        c = {"n": n, "up": 0, "inflight": 0, "cw": cwriter, "sw": swriter,
             "cut_at": None, "dead": False, "tasks": []}
        if self.a.cut_bytes and (self.a.cut_conns == 0 or n <= self.a.cut_conns):
            lo, hi = (int(x) for x in self.a.cut_bytes.split(":"))
            c["cut_at"] = self.rnd.randint(lo, hi)
        self.conns[n] = c
        c["tasks"] = [asyncio.ensure_future(self.pipe(c, creader, swriter, True)),
                      asyncio.ensure_future(self.pipe(c, sreader, cwriter, False))]
        await asyncio.gather(*c["tasks"], return_exceptions=True)
        self.conns.pop(n, None)
        for w in (cwriter, swriter):
            w.transport.abort()

    def cut(self, c, kind):
        if c["dead"]:
            return
        c["dead"] = True
        self.stats["cuts"].append({"kind": kind, "conn": c["n"], "up": c["up"],
                                   "inflight": c["inflight"],
                                   "t": round(time.monotonic() - self.t0, 2)})
        self.log("cut %s conn=%d up=%d inflight=%d" % (kind, c["n"], c["up"],
                                                      c["inflight"]))
        for w in (c["cw"], c["sw"]):
            w.transport.abort()
        for t in c["tasks"]:
            t.cancel()

    async def pipe(self, c, reader, writer, upstream):
        """Read, pace, delay, deliver; one direction of one connection."""
        q = asyncio.Queue(maxsize=256)
        delay = self.a.delay / 1000.0
        bucket = self.up_bucket if upstream else self.down_bucket

        async def deliver():
            while True:
                when, data = await q.get()
                if data is None:
                    break
                wait = when - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.flowing.wait()
                writer.write(data)
                await writer.drain()
                if upstream:
                    self.stats["delivered_up"] += len(data)

        d = asyncio.ensure_future(deliver())
        try:
            while not c["dead"]:
                await self.flowing.wait()
                data = await reader.read(self.slice)
                if not data:
                    break
                if upstream and c["cut_at"] is not None and \
                        c["up"] + len(data) > c["cut_at"]:
                    keep = c["cut_at"] - c["up"]
                    c["up"] += keep
                    c["inflight"] += keep
                    self.stats["up"] += keep
                    self.cut(c, "bytes")
                    break
                await bucket.take(len(data))
                if upstream:
                    c["up"] += len(data)
                    c["inflight"] += len(data)
                    self.stats["up"] += len(data)
                else:
                    c["inflight"] = 0
                    self.stats["down"] += len(data)
                await q.put((time.monotonic() + delay, data))
            await q.put((0, None))
            await d
            if not c["dead"]:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
        except (OSError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            d.cancel()

    async def cutter(self):
        while True:
            await asyncio.sleep(self.a.cut_every)
            for c in list(self.conns.values()):
                self.cut(c, "timer")

    async def staller(self):
        while True:
            await asyncio.sleep(self.a.stall_every)
            self.stats["stalls"] += 1
            self.log("stall %.1f" % self.a.stall_for)
            self.flowing.clear()
            await asyncio.sleep(self.a.stall_for)
            self.flowing.set()

    def summary(self):
        s = dict(self.stats)
        s["inflight_lost"] = sum(x["inflight"] for x in s["cuts"])
        s["max_inflight_lost"] = max([x["inflight"] for x in s["cuts"]] or [0])
        return s


async def main_async(args):
    p = Proxy(args)
    server = await asyncio.start_server(p.accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    extra = []
    if args.cut_every > 0:
        extra.append(asyncio.ensure_future(p.cutter()))
    if args.stall_every > 0 and args.stall_for > 0:
        extra.append(asyncio.ensure_future(p.staller()))
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.lifetime)
    except asyncio.TimeoutError:
        p.log("lifetime over")
    for t in extra:
        t.cancel()
    server.close()
    for c in list(p.conns.values()):
        for w in (c["cw"], c["sw"]):
            w.transport.abort()
    s = p.summary()
    p.log("up %d down %d conns %d cuts %d" % (s["up"], s["down"], s["conns"],
                                              len(s["cuts"])))
    if args.stats:
        with open(args.stats + ".tmp", "w") as f:
            json.dump(s, f)
        os.rename(args.stats + ".tmp", args.stats)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--stats")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--delay", type=int, default=0)
    ap.add_argument("--cut-every", type=float, default=0)
    ap.add_argument("--cut-bytes", default="")
    ap.add_argument("--cut-conns", type=int, default=0)
    ap.add_argument("--stall-every", type=float, default=0)
    ap.add_argument("--stall-for", type=float, default=0)
    ap.add_argument("--half-open", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
