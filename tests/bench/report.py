#!/usr/bin/env python3
"""report.py: the table of `make bench` (tests/bench/run.sh) from the JSON
lines the parts recorded; writes bench/results.json.  Each row says how its
figure was measured and whether its target (issue 8) is met.  Never fails
on a figure: a missing part prints as "not run".

usage: report.py RESULTS.jsonl OUT.json MACHINE PARTS
"""
import json
import statistics
import sys
import time

MiB = 1 << 20


def load(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        out.setdefault(r["part"], []).append(r["data"])
    return out


def med(runs, key):
    """Median over repeated runs of a load figure (or the server's RSS)."""
    if key == "server_peak_kib":
        return statistics.median(r[key] for r in runs)
    return statistics.median(r["load"][key] for r in runs)


def cpu_pct(runs):
    """Median share of one core the server used during the runs."""
    v = [100 * r["server_cpu_s"] / r["load"]["seconds"] for r in runs
         if "server_cpu_s" in r and r["load"]["seconds"]]
    return statistics.median(v) if v else float("nan")


def verdict(ok):
    return "met" if ok else "NOT MET"


def main():
    res = load(sys.argv[1])
    rows = []   # (figure, value, reference, target, status, how)

    def row(*a):
        rows.append(a)

    try:
        c = (res.get("capture") or [None])[0]
        if c and c.get("a", {}).get("runs"):
            a, b = c["a"], c["b"]
            ratio = a["median_ms"] / b["median_ms"] if b["median_ms"] else 0
            row("1 capture latency, observe --attach 3 MiB",
                "median %.1f ms, p99 %.1f ms" % (a["median_ms"], a["p99_ms"]),
                "floor median %.1f ms, p99 %.1f ms; ratio %.2fx" % (b["median_ms"], b["p99_ms"], ratio),
                "<= 1.2x floor", verdict(ratio <= 1.2),
                "%d runs each, alternating, one process per capture, wall clock "
                "(fork to exit); floor = tests/bench/floor.c: copy, fsync file+dir, "
                "1 INSERT (WAL, synchronous=FULL); failed runs: %d/%d"
                % (a["runs"], a["failed"], b["failed"]))
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'capture', "no figure: %r" % e, "", "", "-", "")

    try:
        su = (res.get("startup") or [None])[0]
        if su and su.get("a", {}).get("runs"):
            row("1 process start-up alone", "fundwatch-agent --help median %.1f ms"
                % su["a"]["median_ms"], "floor --startup median %.1f ms" % su["b"]["median_ms"],
                "", "-", "%d runs each, alternating: the share of a capture that is "
                "loading the binary and its shared libraries" % su["a"]["runs"])
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'startup', "no figure: %r" % e, "", "", "-", "")

    try:
        m = (res.get("memory") or [None])[0]
        if m:
            peak = m["sync_peak_kib"] / 1024
            row("2 agent peak RSS, sync of %d MiB" % m["evidence_mib"],
                "%.1f MiB (sync %.1f s, ok=%s)" % (peak, m["sync_s"], m["sync_ok"]),
                "", "< 16 MiB", verdict(peak < 16 and m["sync_ok"] == "True"),
                "/usr/bin/time -f %M of `fundwatch-agent sync`")
            row("2 agent RSS at idle in `run`",
                "%.1f MiB (peak %.1f MiB)" % (m["idle_rss_kib"] / 1024, m["idle_peak_kib"] / 1024),
                "", "", "-", "/proc/PID/status VmRSS, VmHWM 3 s after start")
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'memory', "no figure: %r" % e, "", "", "-", "")

    try:
        w = (res.get("wire") or [None])[0]
        if w:
            payload = w["blob_bytes"] + w["container_bytes"]
            ratio = w["wire_up_bytes"] / payload if payload else 0
            rratio = w["rsync_up_bytes"] / w["plain_bytes"] if w["plain_bytes"] else 0
            mratio = w["manifest_bytes"] / w["container_bytes"] if w["container_bytes"] else 0
            row("3 wire bytes / compressed payload, a day's work",
                "%.4f (%.1f MiB up for %.1f MiB)" % (ratio, w["wire_up_bytes"] / MiB, payload / MiB),
                "rsync -az to rsyncd: %.4f of the plain files (%.1f MiB)"
                % (rratio, w["rsync_up_bytes"] / MiB), "<= 1.05",
                verdict(0 < ratio <= 1.05 and w["sync_ok"] == "True"),
                "bytes agent->server through a counting TCP proxy (TLS, HTTP, "
                "bundles, blobs); payload = age blobs + bundle containers; 50 obs, "
                "30 photos 2-4 MiB, 10 audio 1-3 MiB, random bytes")
            row("3 manifest compression ratio", "%.2f : 1 (%d B -> %d B)"
                % (mratio, w["manifest_bytes"], w["container_bytes"]), "", "", "-",
                "manifest bytes / FWB1 container bytes, all bundles of the day")
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'wire', "no figure: %r" % e, "", "", "-", "")

    try:
        r = (res.get("resume") or [None])[0]
        if r and r["cuts"]:
            base = r["base_up_bytes"]
            resent = [max(0, up - base) for cut, up, ok in r["cuts"]]
            # A cut costs the chunk in flight plus a new connection: a TLS
            # handshake and the re-offer of the bundle (a few KiB).
            slack = 64 << 10
            bad = sum(1 for x in resent if x > r["chunk"] + slack)
            over = sum(1 for x in resent if x > r["chunk"])
            oks = sum(1 for cut, up, ok in r["cuts"] if ok == "True")
            row("4 bytes re-sent after a cut (%d cuts)" % len(resent),
                "median %.0f KiB, max %.0f KiB" % (statistics.median(resent) / 1024,
                                                  max(resent) / 1024),
                "uncut sync of the same capture: %.2f MiB" % (base / MiB),
                "<= 1 chunk (1 MiB) + reconnect (64 KiB) each",
                verdict(bad == 0 and oks == len(resent)),
                "proxy bytes up (cut once at a random byte of an uncut sync's "
                "stream, then the agent's own retries and a second `sync` if the "
                "first gave up) minus an uncut sync of the same capture; %d of %d "
                "over 1 MiB, %d over 1 MiB + 64 KiB; %d/%d syncs finished"
                % (over, len(resent), bad, oks, len(resent)))
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'resume', "no figure: %r" % e, "", "", "-", "")

    try:
        ing = res.get("ingest") or []
        by = {}
        for x in ing:
            if x.get("load"):
                by.setdefault((x["system"], x["load"]["clients"]), []).append(x)

        for n in (1, 8, 32):
            f = by.get(("fundwatch", n))
            g = by.get(("nginx", n))
            if not f:
                continue
            ref, st = "nginx not run", "-"
            rate = med(f, "rate")
            if g:
                grate = med(g, "rate")
                ratio = rate / grate if grate else 0
                ref = ("nginx %.0f/s, p50 %.1f ms, p99 %.1f ms, RSS %.1f MiB, CPU %.0f%%; "
                       "ratio %.0f%%" % (grate, med(g, "p50_ms"), med(g, "p99_ms"),
                                         med(g, "server_peak_kib") / 1024, cpu_pct(g),
                                         100 * ratio))
                st = verdict(ratio >= 0.6)
            if n == 8:
                ref += "; ODK-class ~150/s (quoted from issue 8, not measured): %.2fx" % (
                    rate / 150)
                if g:
                    st = verdict(ratio >= 0.6 and rate >= 1500)
            row("5 ingest, %d clients, 1 obs + 200 KiB photo" % n,
                "%.0f bundles/s, p50 %.1f ms, p99 %.1f ms, server RSS %.1f MiB, CPU %.0f%%, "
                "errors %d" % (rate, med(f, "p50_ms"), med(f, "p99_ms"),
                               med(f, "server_peak_kib") / 1024, cpu_pct(f),
                               sum(r["load"]["errors"] for r in f)),
                ref, ">= 60% of nginx" + ("; >= 10x ODK (1500/s)" if n == 8 else ""), st,
                "median of %d runs of %.1f s each (fundwatch, then nginx, alternating), "
                "tests/bench/load.c: offer + PUT + commit per bundle, HTTPS keep-alive, "
                "one client thread; client CPU %.1f s per run (%.0f%% of a core); nginx: "
                "1 worker, dav PUT of the same bodies into files, no fsync; CPU = "
                "utime + stime of the server's processes over the run / wall time"
                % (len(f), med(f, "seconds"), med(f, "client_cpu_s"), med(f, "client_cpu_pct")))
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'ingest', "no figure: %r" % e, "", "", "-", "")

    try:
        u = (res.get("upload") or [None])[0]
        if u and u.get("load"):
            peak = u["server_peak_kib"] / 1024
            row("6 server peak RSS, %d concurrent uploads of %d MiB" % (u["uploads"], u["mib"]),
                "%.1f MiB (%d blobs done in %.1f s, errors %d)"
                % (peak, u["load"]["bundles"], u["load"]["seconds"], u["load"]["errors"]),
                "", "< 64 MiB", verdict(peak < 64 and u["load"]["errors"] == 0),
                "VmHWM of fundwatch-server (reset before); 1 MiB chunks as the server "
                "advertises; blobs are generated bytes (the server does not read evidence)")
    except Exception as e:  # a part that recorded odd data
        row("part %s" % 'upload', "no figure: %r" % e, "", "", "-", "")

    try:
        sc = {}
        for x in res.get("scale") or []:
            if x.get("load"):
                sc.setdefault(x["observations"], []).append(x)
        for held in sorted(sc):
            runs = sc[held]
            last = runs[-1]
            row("7 ingest with %d observations held" % held,
                "%.0f bundles/s at 8 clients, p50 %.1f ms" % (med(runs, "rate"), med(runs, "p50_ms")),
                "db %.1f MiB (%.0f B/obs), data folder %.1f MiB"
                % (last["db_bytes"] / MiB, last["db_bytes"] / max(1, last.get("after", held)),
                   last["store_bytes"] / MiB),
                "flat rate", "-", "median of %d runs as part 5 at 8 clients; pre-filled "
                "through the API (bundles of 256 obs without evidence)" % len(runs))
    except Exception as e:  # a part that recorded odd data
        row("part %s" % '?', "no figure: %r" % e, "", "", "-", "")

    p = (res.get("perf") or [None])[0]
    widths = [52, 58, 70]
    print("fundwatch benchmark, %s, %s" % (sys.argv[3], time.strftime("%Y-%m-%d %H:%M UTC",
                                                                    time.gmtime())))
    print()
    print("| figure | measured | reference (same run) | target | status |")
    print("| --- | --- | --- | --- | --- |")
    for fig, val, ref, tgt, st, how in rows:
        print("| %s | %s | %s | %s | %s |" % (fig, val, ref or "", tgt or "", st))
    print()
    print("How each figure was measured:")
    for fig, val, ref, tgt, st, how in rows:
        print("- %s: %s" % (fig.split(",")[0], how))
    if p:
        print()
        print("Where fundwatch-server's time goes at 8 clients (perf, cpu-clock samples):")
        for line in p.get("dso", []):
            print("    " + line.strip())
        for line in p.get("top", []):
            print("    " + line.strip())
    del widths
    json.dump({"machine": sys.argv[3], "parts": sys.argv[4].split(),
               "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "rows": [dict(zip(("figure", "measured", "reference", "target", "status",
                                  "how"), r)) for r in rows],
               "raw": res}, open(sys.argv[2], "w"), indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
