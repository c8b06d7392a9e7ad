#!/usr/bin/env python3
"""lazyfs_check.py: shows that lazyfs loses what a power cut loses.

    lazyfs_check.py before MOUNT   (writes; the test then cuts the power)
    lazyfs_check.py after MOUNT    (after the remount: prints ok/not ok lines)

before: a file written and fsync'd in a folder that was fsync'd; a file
written without fsync; a file created and fsync'd but whose folder was not;
a rename whose folder was fsync'd and one whose folder was not; an unlink
not covered; an fsync'd file grown by an unsynced append; a truncate not
covered; SQLite (WAL, synchronous=FULL) with a committed row, then one
more row in a transaction left open.
"""
import os
import sqlite3
import sys


def fsync_path(p, flags=os.O_RDONLY):
    fd = os.open(p, flags)
    os.fsync(fd)
    os.close(fd)


def write(p, data, sync):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def before(m):
    d = os.path.join(m, "d")
    os.mkdir(d)
    # SQLite fsyncs the folder of its WAL: give it its own.
    os.mkdir(os.path.join(m, "s"))
    fsync_path(m)
    write(os.path.join(d, "synced"), b"S" * 10000, True)
    write(os.path.join(d, "unsynced"), b"U" * 10000, False)
    write(os.path.join(d, "old"), b"R" * 100, True)
    write(os.path.join(d, "gone"), b"G" * 100, True)
    write(os.path.join(d, "grown"), b"A" * 100, True)
    write(os.path.join(d, "cut"), b"C" * 100, True)
    fsync_path(d)
    # Made durable by the folder fsync below.
    os.rename(os.path.join(d, "old"), os.path.join(d, "new"))
    fsync_path(d)
    # Not covered by any folder fsync from here on.
    os.rename(os.path.join(d, "new"), os.path.join(d, "newer"))
    os.unlink(os.path.join(d, "gone"))
    e = os.path.join(m, "e")
    os.mkdir(e)
    write(os.path.join(e, "file"), b"F" * 100, True)
    fd = os.open(os.path.join(d, "grown"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"B" * 100)
    os.close(fd)
    os.truncate(os.path.join(d, "cut"), 10)
    db = sqlite3.connect(os.path.join(m, "s", "t.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2)")
    # Reads through the cache see everything before the cut.
    ok = (open(os.path.join(d, "unsynced"), "rb").read() == b"U" * 10000 and
          os.path.getsize(os.path.join(d, "grown")) == 200 and
          os.path.getsize(os.path.join(d, "cut")) == 10 and
          not os.path.exists(os.path.join(d, "gone")))
    print("ok - lazyfs: reads see the unsynced writes before the cut" if ok else
          "not ok - lazyfs: reads see the unsynced writes before the cut")
    sys.stdout.flush()
    # The test cuts the power now, with the transaction open.
    os.kill(os.getpid(), 19)  # SIGSTOP: the test kills us after the cut


def after(m):
    d = os.path.join(m, "d")
    res = []

    def chk(cond, what):
        res.append(("ok - " if cond else "not ok - ") + "lazyfs: " + what)

    def read(p):
        try:
            return open(p, "rb").read()
        except OSError:
            return None
    chk(read(os.path.join(d, "synced")) == b"S" * 10000,
        "an fsync'd file in an fsync'd folder survives the cut")
    u = read(os.path.join(d, "unsynced"))
    chk(u is not None and u == b"U" * len(u) and len(u) < 10000,
        "a file never fsync'd survives only as its fsync'd (empty) or torn part")
    chk(read(os.path.join(d, "newer")) is None and read(os.path.join(d, "new")) == b"R" * 100,
        "a rename fsync'd by its folder stays, a later one is undone")
    chk(read(os.path.join(d, "gone")) == b"G" * 100, "an unlink not fsync'd is undone")
    chk(not os.path.exists(os.path.join(m, "e")), "a mkdir not fsync'd is undone, content and all")
    g = read(os.path.join(d, "grown"))
    chk(g is not None and g[:100] == b"A" * 100 and len(g) <= 200 and
        g[100:] == b"B" * (len(g) - 100),
        "an unsynced append is lost (or torn), the fsync'd part kept")
    chk(read(os.path.join(d, "cut")) == b"C" * 100, "an unsynced truncate is undone")
    try:
        db = sqlite3.connect(os.path.join(m, "s", "t.db"))
        rows = db.execute("SELECT x FROM t").fetchall()
        ic = db.execute("PRAGMA integrity_check").fetchall()
        db.close()
    except sqlite3.Error as e:
        rows, ic = str(e), None
    chk(rows == [(1,)] and ic == [("ok",)],
        "SQLite keeps the committed row, not the open transaction's (%r)" % (rows,))
    print("\n".join(res))


if __name__ == "__main__":
    (before if sys.argv[1] == "before" else after)(sys.argv[2])
