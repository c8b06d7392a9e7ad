/*
 * lazyfs.c: a FUSE file system that loses what was never made durable, in
 * the manner of Jepsen's LazyFS, for the power-cut loops of tests/fault/.
 *
 *   lazyfs [--tear] [--seed N] [--max-cache BYTES] BACKING MOUNTPOINT [FUSE options]
 *
 * Reads and writes pass through to the folder BACKING, except that a write
 * no fsync/fdatasync has covered stays in this process's cache: per file
 * (keyed by the backing inode, so renames keep it) a list of unsynced
 * extents over the backing bytes, plus the file's logical size (an
 * unsynced truncate is cached too).  Reads and getattr see the cache.
 * fsync applies the file's extents to the backing file and fsyncs it.
 *
 * Directory operations are done on the backing folder at once but each
 * one leaves a record in an undo log that an fsync of the directory
 * holding the new name clears: create, mknod, mkdir, symlink, link,
 * rename (the destination's directory), unlink (the file goes to
 * BACKING.trash until the directory is fsync'd), rmdir.
 *
 * Power cut: SIGUSR1.  Under the global lock (no operation is half done),
 * optionally write a random prefix of the last unsynced write (--tear: a
 * torn write), drop every cached extent, undo the unsynced directory
 * records newest first, then exit; a forked helper lazily unmounts the
 * mount point once the daemon is gone.  BACKING then holds exactly what a
 * disk would after the cut, and a new lazyfs can be mounted over it.
 * SIGUSR2: "the kernel's writeback ran": make everything durable (used
 * after a test's set-up).  Both print one line on stderr.
 *
 * Runs in the foreground (-f is added); the test kills it with SIGUSR1 or
 * unmounts it (fusermount3 -u) for a clean stop, an orderly shutdown that
 * writes everything back.  Bounded: the cache refuses writes past --max-cache
 * (ENOSPC), default 512 MiB.
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* One unsynced write (data NULL: zeros, left by a truncate). */
struct ext {
	off_t off;
	size_t len, cap;
	char *data;
	struct ext *next;
};

/* What lazyfs knows of one backing inode. */
struct lnode {
	dev_t dev;
	ino_t ino;
	int fd;			/* our own descriptor of the inode */
	int fd_rw;		/* fd is open for writing */
	off_t size;		/* logical size, the cache included */
	size_t nopen;		/* handles open on it */
	struct ext *head, *tail;
	struct lnode *next;
};

/* An open file. */
struct handle {
	int fd;
	struct lnode *n;
};

enum rec_kind { REC_CREATE, REC_MKDIR, REC_RENAME, REC_UNLINK, REC_RMDIR };

/* One directory operation no directory fsync has covered yet. */
struct rec {
	enum rec_kind kind;
	dev_t ddev;
	ino_t dino;		/* the directory whose fsync makes it durable */
	ino_t ino;		/* the inode created, moved or unlinked */
	mode_t mode;		/* rmdir: the directory's mode */
	char *path;		/* backing path: the new name (rename: to) */
	char *from;		/* rename: the old name; unlink: the trash name */
	struct rec *prev, *next;
};

static struct {
	char backing[PATH_MAX];
	char trash[PATH_MAX];
	char mountpoint[PATH_MAX];
	int tear;
	uint64_t rng;
	size_t max_cache, cached;
	unsigned long trash_seq;
	pthread_mutex_t lock;
	struct lnode *nodes;
	struct rec *recs_head, *recs_tail;
	/* The last unsynced write, for --tear. */
	struct lnode *last_n;
	off_t last_off;
	char *last_data;
	size_t last_len;
} L = { .lock = PTHREAD_MUTEX_INITIALIZER, .max_cache = (size_t)512 << 20 };

static const char zeros[65536];

static uint64_t
rnd(void)
{
	L.rng ^= L.rng << 13;
	L.rng ^= L.rng >> 7;
	L.rng ^= L.rng << 17;
	return L.rng;
}

/* BACKING + path into out; -ENAMETOOLONG if it does not fit. */
static int
bpath(const char *path, char out[PATH_MAX])
{
	int k = snprintf(out, PATH_MAX, "%s%s", L.backing, path);

	return k < 0 || k >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* The parent folder of backing path p (lstat'd) into *st. */
static int
parent_stat(const char *p, struct stat *st)
{
	char d[PATH_MAX];
	char *slash;

	snprintf(d, sizeof(d), "%s", p);
	slash = strrchr(d, '/');
	if (slash == NULL)
		return -EINVAL;
	if (slash == d)
		slash[1] = '\0';
	else
		*slash = '\0';
	return lstat(d, st) == -1 ? -errno : 0;
}

/* ---- the file cache --------------------------------------------------- */

static struct lnode *
node_find(dev_t dev, ino_t ino)
{
	struct lnode *n;

	for (n = L.nodes; n != NULL; n = n->next)
		if (n->dev == dev && n->ino == ino)
			return n;
	return NULL;
}

/* The node of the inode open as fd, made (with a dup of fd) if new. */
static int
node_get(int fd, int writable, struct lnode **out)
{
	struct stat st;
	struct lnode *n;

	if (fstat(fd, &st) == -1)
		return -errno;
	n = node_find(st.st_dev, st.st_ino);
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		n->fd = dup(fd);
		if (n->fd == -1) {
			free(n);
			return -errno;
		}
		n->fd_rw = writable;
		n->dev = st.st_dev;
		n->ino = st.st_ino;
		n->size = st.st_size;
		n->next = L.nodes;
		L.nodes = n;
	} else if (writable && !n->fd_rw) {
		int nfd = dup(fd);

		if (nfd == -1)
			return -errno;
		close(n->fd);
		n->fd = nfd;
		n->fd_rw = 1;
	}
	*out = n;
	return 0;
}

static void
node_drop_cache(struct lnode *n)
{
	struct ext *e, *next;

	for (e = n->head; e != NULL; e = next) {
		next = e->next;
		if (e->data != NULL)
			L.cached -= e->cap;
		free(e->data);
		free(e);
	}
	n->head = n->tail = NULL;
	if (L.last_n == n)
		L.last_n = NULL;
}

/* Forget a node nobody holds open and that has nothing unsynced. */
static void
node_maybe_free(struct lnode *n)
{
	struct lnode **pp;

	if (n->nopen > 0 || n->head != NULL)
		return;
	for (pp = &L.nodes; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	close(n->fd);
	free(n);
}

static int
ext_append(struct lnode *n, off_t off, const char *data, size_t len)
{
	struct ext *t = n->tail, *e;

	if (data != NULL && L.cached + len > L.max_cache)
		return -ENOSPC;
	/* Sequential writes grow the last extent. */
	if (data != NULL && t != NULL && t->data != NULL &&
	    t->off + (off_t)t->len == off) {
		if (t->len + len > t->cap) {
			size_t cap = t->cap * 2;
			char *p;

			while (cap < t->len + len)
				cap *= 2;
			if (L.cached + (cap - t->cap) > L.max_cache)
				return -ENOSPC;
			p = realloc(t->data, cap);
			if (p == NULL)
				return -ENOMEM;
			L.cached += cap - t->cap;
			t->data = p;
			t->cap = cap;
		}
		memcpy(t->data + t->len, data, len);
		t->len += len;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->off = off;
	e->len = len;
	if (data != NULL) {
		e->cap = len < 4096 ? 4096 : len;
		e->data = malloc(e->cap);
		if (e->data == NULL) {
			free(e);
			return -ENOMEM;
		}
		memcpy(e->data, data, len);
		L.cached += e->cap;
	}
	if (n->tail != NULL)
		n->tail->next = e;
	else
		n->head = e;
	n->tail = e;
	return 0;
}

static int
node_write(struct lnode *n, const char *buf, size_t len, off_t off)
{
	int r = ext_append(n, off, buf, len);
	char *copy;

	if (r != 0)
		return r;
	if (off + (off_t)len > n->size)
		n->size = off + (off_t)len;
	/* Kept for --tear (at most 1 MiB of it). */
	if (len > ((size_t)1 << 20))
		len = (size_t)1 << 20;
	copy = realloc(L.last_data, len ? len : 1);
	if (copy != NULL) {
		memcpy(copy, buf, len);
		L.last_data = copy;
		L.last_len = len;
		L.last_off = off;
		L.last_n = n;
	}
	return 0;
}

static int
node_truncate(struct lnode *n, off_t size)
{
	if (size < n->size) {
		/* Whatever lay past the new end reads as zeros if the file
		 * grows again before a sync. */
		int r = ext_append(n, size, NULL, (size_t)(n->size - size));

		if (r != 0)
			return r;
	} else if (size > n->size && n->head == NULL) {
		/* Nothing to cache, but the size is still unsynced: an
		 * empty extent keeps the node dirty. */
		int r = ext_append(n, size, NULL, 0);

		if (r != 0)
			return r;
	}
	n->size = size;
	return 0;
}

static int
node_read(struct lnode *n, char *buf, size_t len, off_t off)
{
	ssize_t got;
	struct ext *e;

	if (off >= n->size)
		return 0;
	if ((off_t)len > n->size - off)
		len = (size_t)(n->size - off);
	got = pread(n->fd, buf, len, off);
	if (got < 0)
		return -errno;
	if ((size_t)got < len)
		memset(buf + got, 0, len - (size_t)got);
	for (e = n->head; e != NULL; e = e->next) {
		off_t a = e->off > off ? e->off : off;
		off_t b = e->off + (off_t)e->len;

		if (b > off + (off_t)len)
			b = off + (off_t)len;
		if (a >= b)
			continue;
		if (e->data != NULL)
			memcpy(buf + (a - off), e->data + (a - e->off), (size_t)(b - a));
		else
			memset(buf + (a - off), 0, (size_t)(b - a));
	}
	return (int)len;
}

static int
pwrite_all(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Make n durable: its extents onto the backing file, its size, fsync. */
static int
node_sync(struct lnode *n, int datasync)
{
	struct ext *e;
	int r;

	for (e = n->head; e != NULL; e = e->next) {
		if (e->data != NULL) {
			r = pwrite_all(n->fd, e->data, e->len, e->off);
		} else {
			size_t left = e->len;
			off_t o = e->off;

			r = 0;
			while (r == 0 && left > 0) {
				size_t k = left < sizeof(zeros) ? left : sizeof(zeros);

				r = pwrite_all(n->fd, zeros, k, o);
				left -= k;
				o += (off_t)k;
			}
		}
		if (r != 0)
			return r;
	}
	if (ftruncate(n->fd, n->size) == -1)
		return -errno;
	if ((datasync ? fdatasync(n->fd) : fsync(n->fd)) == -1)
		return -errno;
	node_drop_cache(n);
	return 0;
}

/* ---- the directory undo log ------------------------------------------- */

static int
rec_add(enum rec_kind kind, const char *path, const char *from, ino_t ino,
    mode_t mode)
{
	struct stat dst;
	struct rec *r;
	int e = parent_stat(path, &dst);

	if (e != 0)
		return e;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->kind = kind;
	r->ddev = dst.st_dev;
	r->dino = dst.st_ino;
	r->ino = ino;
	r->mode = mode;
	r->path = strdup(path);
	r->from = from != NULL ? strdup(from) : NULL;
	if (r->path == NULL || (from != NULL && r->from == NULL)) {
		free(r->path);
		free(r->from);
		free(r);
		return -ENOMEM;
	}
	r->prev = L.recs_tail;
	if (L.recs_tail != NULL)
		L.recs_tail->next = r;
	else
		L.recs_head = r;
	L.recs_tail = r;
	return 0;
}

static void
rec_remove(struct rec *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		L.recs_head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		L.recs_tail = r->prev;
	free(r->path);
	free(r->from);
	free(r);
}

/* A record made durable: an unlinked file really goes. */
static void
rec_commit(struct rec *r)
{
	if (r->kind == REC_UNLINK)
		unlink(r->from);
	rec_remove(r);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static int
same_inode(const char *p, ino_t ino)
{
	struct stat st;

	return lstat(p, &st) == 0 && st.st_ino == ino;
}

/* Undo one record (the power cut came before its directory's fsync). */
static void
rec_undo(struct rec *r)
{
	struct stat st;

	switch (r->kind) {
	case REC_CREATE:
		if (same_inode(r->path, r->ino))
			unlink(r->path);
		break;
	case REC_MKDIR:
		if (same_inode(r->path, r->ino))
			nftw(r->path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		break;
	case REC_RENAME:
		if (same_inode(r->path, r->ino) && lstat(r->from, &st) == -1)
			rename(r->path, r->from);
		break;
	case REC_UNLINK:
		if (lstat(r->path, &st) == -1)
			rename(r->from, r->path);
		else
			unlink(r->from);
		break;
	case REC_RMDIR:
		mkdir(r->path, r->mode & 07777);
		break;
	}
	rec_remove(r);
}

/* ---- power cut and writeback ------------------------------------------ */

static void
power_cut(void)
{
	struct lnode *n;
	size_t nrec = 0, nbytes = 0, torn = 0;

	pthread_mutex_lock(&L.lock);
	if (L.tear && L.last_n != NULL && L.last_len > 0 && L.last_n->fd_rw) {
		torn = (size_t)(rnd() % L.last_len);
		if (torn > 0)
			(void)pwrite_all(L.last_n->fd, L.last_data, torn, L.last_off);
	}
	for (n = L.nodes; n != NULL; n = n->next) {
		struct ext *e;

		for (e = n->head; e != NULL; e = e->next)
			nbytes += e->len;
	}
	while (L.recs_tail != NULL) {
		rec_undo(L.recs_tail);
		nrec++;
	}
	fprintf(stderr, "lazyfs: power cut: %zu unsynced bytes lost, %zu directory "
	    "operations undone, %zu bytes of a torn write kept\n", nbytes, nrec, torn);
	fflush(stderr);
	/* The helper unmounts once we are gone (the kernel then has no one
	 * to answer it, as after a real cut). */
	{
		pid_t parent = getpid();

		if (fork() == 0) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			int i;

			for (i = 0; i < 500 && getppid() == parent; i++)
				nanosleep(&ts, NULL);
			umount2(L.mountpoint, MNT_DETACH);
			_exit(0);
		}
	}
	_exit(0);
}

static void
writeback_all(void)
{
	struct lnode *n, *next;
	size_t nrec = 0, nnodes = 0;
	int failed = 0;

	pthread_mutex_lock(&L.lock);
	for (n = L.nodes; n != NULL; n = next) {
		next = n->next;
		if (n->head != NULL) {
			if (node_sync(n, 0) != 0)
				failed++;
			nnodes++;
			node_maybe_free(n);
		}
	}
	while (L.recs_head != NULL) {
		rec_commit(L.recs_head);
		nrec++;
	}
	sync();
	pthread_mutex_unlock(&L.lock);
	fprintf(stderr, "lazyfs: writeback: %zu files, %zu directory operations "
	    "made durable%s\n", nnodes, nrec, failed ? " (some failed)" : "");
}

static void *
control_main(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)
			power_cut();
		else if (sig == SIGUSR2)
			writeback_all();
	}
	return NULL;
}

/* ---- the FUSE operations ---------------------------------------------- */

#define LOCKED(expr) do {		\
	int r_;				\
	pthread_mutex_lock(&L.lock);	\
	r_ = (expr);			\
	pthread_mutex_unlock(&L.lock);	\
	return r_;			\
} while (0)

static struct handle *
H(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static int
do_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	struct lnode *n;
	int r;

	if (fi != NULL && fi->fh != 0) {
		if (fstat(H(fi)->fd, st) == -1)
			return -errno;
	} else {
		if ((r = bpath(path, p)) != 0)
			return r;
		if (lstat(p, st) == -1)
			return -errno;
	}
	if (S_ISREG(st->st_mode) &&
	    (n = node_find(st->st_dev, st->st_ino)) != NULL) {
		st->st_size = n->size;
		st->st_blocks = (n->size + 511) / 512;
	}
	return 0;
}

static int
op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	LOCKED(do_getattr(path, st, fi));
}

static int
op_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t k;
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	if (size == 0)
		return -EINVAL;
	k = readlink(p, buf, size - 1);
	if (k == -1)
		return -errno;
	buf[k] = '\0';
	return 0;
}

static int
do_made(const char *p, enum rec_kind kind)
{
	struct stat st;

	if (lstat(p, &st) == -1)
		return -errno;
	return rec_add(kind, p, NULL, st.st_ino, st.st_mode);
}

static int
do_mknod(const char *path, mode_t mode, dev_t rdev)
{
	char p[PATH_MAX];
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	if (mknod(p, mode, rdev) == -1)
		return -errno;
	return do_made(p, REC_CREATE);
}

static int
op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	LOCKED(do_mknod(path, mode, rdev));
}

static int
do_mkdir(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	if (mkdir(p, mode) == -1)
		return -errno;
	return do_made(p, REC_MKDIR);
}

static int
op_mkdir(const char *path, mode_t mode)
{
	LOCKED(do_mkdir(path, mode));
}

/* Move backing file p to the trash and record it as unlinked. */
static int
to_trash(const char *p)
{
	char t[PATH_MAX];
	struct stat st;
	int r;

	if (lstat(p, &st) == -1)
		return -errno;
	r = snprintf(t, sizeof(t), "%s/%lu", L.trash, ++L.trash_seq);
	if (r < 0 || r >= (int)sizeof(t))
		return -ENAMETOOLONG;
	if (rename(p, t) == -1)
		return -errno;
	return rec_add(REC_UNLINK, p, t, st.st_ino, st.st_mode);
}

static int
do_unlink(const char *path)
{
	char p[PATH_MAX];
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	return to_trash(p);
}

static int
op_unlink(const char *path)
{
	LOCKED(do_unlink(path));
}

static int
do_rmdir(const char *path)
{
	char p[PATH_MAX];
	struct stat st;
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	if (lstat(p, &st) == -1)
		return -errno;
	if (rmdir(p) == -1)
		return -errno;
	return rec_add(REC_RMDIR, p, NULL, st.st_ino, st.st_mode);
}

static int
op_rmdir(const char *path)
{
	LOCKED(do_rmdir(path));
}

static int
do_symlink(const char *target, const char *path)
{
	char p[PATH_MAX];
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	if (symlink(target, p) == -1)
		return -errno;
	return do_made(p, REC_CREATE);
}

static int
op_symlink(const char *target, const char *path)
{
	LOCKED(do_symlink(target, path));
}

static int
do_rename(const char *from, const char *to, unsigned int flags)
{
	char pf[PATH_MAX], pt[PATH_MAX];
	struct stat sf, st;
	int r;

	if (flags & ~(unsigned int)RENAME_NOREPLACE)
		return -EINVAL;
	if ((r = bpath(from, pf)) != 0 || (r = bpath(to, pt)) != 0)
		return r;
	if (lstat(pf, &sf) == -1)
		return -errno;
	if (lstat(pt, &st) == 0) {
		if (flags & RENAME_NOREPLACE)
			return -EEXIST;
		if (st.st_ino == sf.st_ino)
			return 0;
		if (S_ISDIR(st.st_mode) != S_ISDIR(sf.st_mode))
			return S_ISDIR(st.st_mode) ? -EISDIR : -ENOTDIR;
		if (!S_ISDIR(st.st_mode) && (r = to_trash(pt)) != 0)
			return r;
	}
	if (rename(pf, pt) == -1)
		return -errno;
	return rec_add(REC_RENAME, pt, pf, sf.st_ino, sf.st_mode);
}

static int
op_rename(const char *from, const char *to, unsigned int flags)
{
	LOCKED(do_rename(from, to, flags));
}

static int
do_link(const char *from, const char *to)
{
	char pf[PATH_MAX], pt[PATH_MAX];
	int r;

	if ((r = bpath(from, pf)) != 0 || (r = bpath(to, pt)) != 0)
		return r;
	if (link(pf, pt) == -1)
		return -errno;
	return do_made(pt, REC_CREATE);
}

static int
op_link(const char *from, const char *to)
{
	LOCKED(do_link(from, to));
}

static int
op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int r;

	if (fi != NULL && fi->fh != 0)
		return fchmod(H(fi)->fd, mode) == -1 ? -errno : 0;
	if ((r = bpath(path, p)) != 0)
		return r;
	return chmod(p, mode) == -1 ? -errno : 0;
}

static int
op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int r;

	if (fi != NULL && fi->fh != 0)
		return fchown(H(fi)->fd, uid, gid) == -1 ? -errno : 0;
	if ((r = bpath(path, p)) != 0)
		return r;
	return lchown(p, uid, gid) == -1 ? -errno : 0;
}

static int
do_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	struct lnode *n;
	int fd, r;

	if (size < 0)
		return -EINVAL;
	if (fi != NULL && fi->fh != 0)
		return node_truncate(H(fi)->n, size);
	if ((r = bpath(path, p)) != 0)
		return r;
	fd = open(p, O_RDWR);
	if (fd == -1)
		return -errno;
	r = node_get(fd, 1, &n);
	close(fd);
	if (r != 0)
		return r;
	r = node_truncate(n, size);
	node_maybe_free(n);
	return r;
}

static int
op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	LOCKED(do_truncate(path, size, fi));
}

/* A handle on the backing file fd (taken); O_TRUNC is cached. */
static int
handle_make(int fd, int flags, struct fuse_file_info *fi)
{
	struct handle *h = calloc(1, sizeof(*h));
	int r;

	if (h == NULL) {
		close(fd);
		return -ENOMEM;
	}
	r = node_get(fd, (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY, &h->n);
	if (r == 0 && (flags & O_TRUNC))
		r = node_truncate(h->n, 0);
	if (r != 0) {
		close(fd);
		free(h);
		return r;
	}
	h->fd = fd;
	h->n->nopen++;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 0;
	return 0;
}

static int
open_backing(const char *p, int flags, mode_t mode)
{
	int base = flags & ~(O_TRUNC | O_APPEND | O_CREAT | O_EXCL | O_ACCMODE);
	int fd = open(p, base | O_RDWR | (flags & (O_CREAT | O_EXCL)), mode);

	if (fd == -1 && errno != EEXIST && errno != ENOENT)
		fd = open(p, base | (flags & (O_ACCMODE | O_CREAT | O_EXCL)), mode);
	return fd;
}

static int
do_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int fd, r;

	if ((r = bpath(path, p)) != 0)
		return r;
	fd = open_backing(p, fi->flags, 0);
	if (fd == -1)
		return -errno;
	return handle_make(fd, fi->flags, fi);
}

static int
op_open(const char *path, struct fuse_file_info *fi)
{
	LOCKED(do_open(path, fi));
}

static int
do_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	struct stat st;
	int fd, r;

	if ((r = bpath(path, p)) != 0)
		return r;
	fd = open_backing(p, fi->flags | O_CREAT | O_EXCL, mode);
	if (fd == -1 && errno == EEXIST && !(fi->flags & O_EXCL))
		return do_open(path, fi);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1 ||
	    (r = rec_add(REC_CREATE, p, NULL, st.st_ino, st.st_mode)) != 0) {
		r = r ? r : -errno;
		close(fd);
		unlink(p);
		return r;
	}
	return handle_make(fd, fi->flags & ~O_TRUNC, fi);
}

static int
op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	LOCKED(do_create(path, mode, fi));
}

static int
op_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)path;
	if (size > INT_MAX)
		size = INT_MAX;
	LOCKED(node_read(H(fi)->n, buf, size, off));
}

static int
do_write(struct handle *h, const char *buf, size_t size, off_t off)
{
	int r;

	if (size > INT_MAX)
		size = INT_MAX;
	if ((fcntl(h->fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	if (!h->n->fd_rw && (r = node_get(h->fd, 1, &h->n)) != 0)
		return r;
	r = node_write(h->n, buf, size, off);
	return r != 0 ? r : (int)size;
}

static int
op_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(do_write(H(fi), buf, size, off));
}

static int
op_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return statvfs(L.backing, sv) == -1 ? -errno : 0;
}

static int
op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0;
}

static int
do_release(struct handle *h)
{
	struct lnode *n = h->n;

	close(h->fd);
	free(h);
	n->nopen--;
	node_maybe_free(n);
	return 0;
}

static int
op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(do_release(H(fi)));
}

static int
op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	LOCKED(node_sync(H(fi)->n, datasync));
}

static int
do_opendir(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	DIR *d;
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	d = opendir(p);
	if (d == NULL)
		return -errno;
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int
op_opendir(const char *path, struct fuse_file_info *fi)
{
	LOCKED(do_opendir(path, fi));
}

static int
do_readdir(DIR *d, void *buf, fuse_fill_dir_t fill)
{
	struct dirent *de;

	rewinddir(d);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)DTTOIF(de->d_type);
		if (fill(buf, de->d_name, &st, 0, 0) != 0)
			return 0;
	}
	return errno ? -errno : 0;
}

static int
op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)path;
	(void)off;
	(void)flags;
	LOCKED(do_readdir((DIR *)(uintptr_t)fi->fh, buf, fill));
}

static int
op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int
do_fsyncdir(DIR *d)
{
	struct stat st;
	struct rec *r, *next;
	int fd = dirfd(d);

	if (fstat(fd, &st) == -1)
		return -errno;
	for (r = L.recs_head; r != NULL; r = next) {
		next = r->next;
		if (r->dino == st.st_ino && r->ddev == st.st_dev)
			rec_commit(r);
	}
	return fsync(fd) == -1 ? -errno : 0;
}

static int
op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	LOCKED(do_fsyncdir((DIR *)(uintptr_t)fi->fh));
}

static int
op_access(const char *path, int mask)
{
	char p[PATH_MAX];
	int r;

	if ((r = bpath(path, p)) != 0)
		return r;
	return access(p, mask) == -1 ? -errno : 0;
}

static int
op_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	int r;

	if (fi != NULL && fi->fh != 0)
		return futimens(H(fi)->fd, tv) == -1 ? -errno : 0;
	if ((r = bpath(path, p)) != 0)
		return r;
	return utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW) == -1 ? -errno : 0;
}

static void *
op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	cfg->use_ino = 1;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 0;
	return NULL;
}

static const struct fuse_operations ops = {
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.init = op_init,
	.access = op_access,
	.create = op_create,
	.utimens = op_utimens,
};

static int
usage(void)
{
	fprintf(stderr, "usage: lazyfs [--tear] [--seed N] [--max-cache BYTES] "
	    "BACKING MOUNTPOINT [FUSE options]\n"
	    "  SIGUSR1: power cut (unsynced writes and directory operations are\n"
	    "  lost; --tear keeps a random prefix of the last write); SIGUSR2:\n"
	    "  make everything durable.\n");
	return 2;
}

/* Empty the trash left by an earlier run (its unlinks were durable). */
static int
trash_reset(void)
{
	struct stat st;

	if (lstat(L.trash, &st) == 0)
		nftw(L.trash, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(L.trash, 0700) == -1) {
		perror(L.trash);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char *fargv[64];
	int fargc = 0, i = 1, r;
	static sigset_t set;
	pthread_t ctl;
	struct stat st;

	L.rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--tear") == 0) {
			L.tear = 1;
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			L.rng = strtoull(argv[++i], NULL, 10) | 1;
		} else if (strcmp(argv[i], "--max-cache") == 0 && i + 1 < argc) {
			L.max_cache = (size_t)strtoull(argv[++i], NULL, 10);
		} else {
			return usage();
		}
	}
	if (argc - i < 2 || argc - i > 40)
		return usage();
	if (realpath(argv[i], L.backing) == NULL ||
	    realpath(argv[i + 1], L.mountpoint) == NULL) {
		perror("lazyfs: realpath");
		return 1;
	}
	if (stat(L.backing, &st) == -1 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "lazyfs: %s is not a folder\n", L.backing);
		return 1;
	}
	if (strcmp(L.backing, "/") == 0) {
		fprintf(stderr, "lazyfs: refusing / as the backing folder\n");
		return 1;
	}
	r = snprintf(L.trash, sizeof(L.trash), "%s.trash", L.backing);
	if (r < 0 || r >= (int)sizeof(L.trash) || trash_reset() == -1)
		return 1;

	/* Every thread (libfuse's too) blocks the two control signals; the
	 * control thread takes them with sigwait. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&ctl, NULL, control_main, &set) != 0) {
		fprintf(stderr, "lazyfs: cannot start the control thread\n");
		return 1;
	}

	fargv[fargc++] = argv[0];
	fargv[fargc++] = L.mountpoint;
	fargv[fargc++] = "-f";
	for (i += 2; i < argc; i++)
		fargv[fargc++] = argv[i];
	fargv[fargc] = NULL;
	r = fuse_main(fargc, fargv, &ops, NULL);
	/* A clean unmount is an orderly shutdown: everything is written. */
	writeback_all();
	return r;
}
