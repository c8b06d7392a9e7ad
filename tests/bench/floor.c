/*
 * floor.c: the naive floor for one capture (tests/bench/run.sh, part
 * "capture"): what `fundwatch-agent observe --attach FILE` must at least do
 * to keep its promise (DESIGN.md invariant 1), done the plain way.  Copy
 * FILE into DIR/files/<n> (read, write), fsync it, fsync the folder, then
 * one INSERT into DIR/floor.db with synchronous=FULL in WAL mode (the
 * agent's journal mode, so the floor is not handicapped by a rollback
 * journal).  One capture per process, as `observe` is one process.
 *
 *   floor DIR FILE
 *   floor --startup        exits at once (process start-up alone)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static int
fail(const char *what)
{
	perror(what);
	return 1;
}

int
main(int argc, char **argv)
{
	char path[4096], buf[1 << 16];
	sqlite3 *db;
	sqlite3_stmt *st;
	struct timespec ts;
	ssize_t n;
	int in, out, dir;

	/* Start-up alone, to compare with `fundwatch-agent --help`. */
	if (argc == 2 && strcmp(argv[1], "--startup") == 0)
		return 0;
	if (argc != 3)
		return fprintf(stderr, "usage: floor DIR FILE\n"), 2;
	snprintf(path, sizeof path, "%s/files", argv[1]);
	mkdir(argv[1], 0700);
	mkdir(path, 0700);
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(path, sizeof path, "%s/files/%lld.%09ld.%d", argv[1], (long long)ts.tv_sec,
	    ts.tv_nsec, (int)getpid());
	if ((in = open(argv[2], O_RDONLY)) < 0)
		return fail(argv[2]);
	if ((out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return fail(path);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			return fail("write");
	if (n < 0 || fsync(out) != 0 || close(out) != 0)
		return fail("fsync");
	close(in);
	snprintf(buf, sizeof buf, "%s/files", argv[1]);
	if ((dir = open(buf, O_RDONLY | O_DIRECTORY)) < 0 || fsync(dir) != 0)
		return fail("fsync dir");
	close(dir);
	snprintf(buf, sizeof buf, "%s/floor.db", argv[1]);
	if (sqlite3_open(buf, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS capture (id INTEGER PRIMARY KEY, path TEXT,"
	    " at INTEGER)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO capture (path, at) VALUES (?, ?)", -1, &st,
	    NULL) != SQLITE_OK)
		return fprintf(stderr, "floor: sqlite: %s\n", sqlite3_errmsg(db)), 1;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ts.tv_sec);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fprintf(stderr, "floor: insert: %s\n", sqlite3_errmsg(db)), 1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
