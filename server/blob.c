/*
 * blob.c: the content-addressed blob store (evidence age files).
 *
 * A complete blob lives at blobs/<first two hex>/<sha256> and is never
 * rewritten.  An upload in progress lives at blobs/partial/<sha256>; the
 * bytes it holds are the offset the device continues from.  Every append
 * is fdatasync'd before it is acknowledged.  When the partial file reaches
 * the announced size its SHA-256 is checked against the address, then it is
 * fsync'd and renamed into place and both folders are fsync'd; a mismatch
 * discards it.  A power cut may leave unsynced garbage at the end of a
 * partial file: the final hash check catches it and the device starts that
 * blob again.  The rename is what makes a blob exist; the `blobs` table is
 * an index kept beside it (its row is committed without a sync of its own:
 * the commit of the bundle that names the blob writes it again, durably).  Partial files are locked (flock) so that an
 * import-bundle running beside the server cannot interleave appends.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "server.h"

void
blob_path(const struct server *s, const char *hex, int partial, char *out,
    size_t outsz)
{
	if (partial)
		snprintf(out, outsz, "%s/blobs/partial/%s", s->datadir, hex);
	else
		snprintf(out, outsz, "%s/blobs/%.2s/%s", s->datadir, hex, hex);
}

/* Refuse a write that would take free space below the configured reserve. */
fw_err
blob_check_space(const struct server *s, uint64_t more)
{
	struct statvfs sv;
	uint64_t avail;

	if (statvfs(s->datadir, &sv) == -1)
		return file_errno(errno, s->datadir);
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (avail < s->cfg.disk_reserve || avail - s->cfg.disk_reserve < more)
		return fw_seterr(FW_ERR_NOSPACE, "server storage: %" PRIu64 " bytes free,"
		    " reserve is %" PRIu64, avail, s->cfg.disk_reserve);
	return FW_OK;
}

fw_err
blob_held(const struct server *s, const char *hex, uint64_t *held, int *complete)
{
	char path[4096];
	struct stat st;

	blob_path(s, hex, 0, path, sizeof path);
	if (stat(path, &st) == 0) {
		*held = (uint64_t)st.st_size;
		*complete = 1;
		return FW_OK;
	}
	*complete = 0;
	blob_path(s, hex, 1, path, sizeof path);
	if (stat(path, &st) == 0) {
		*held = (uint64_t)st.st_size;
		return FW_OK;
	}
	if (errno != ENOENT)
		return file_errno(errno, path);
	*held = 0;
	return FW_OK;
}

static fw_err
blob_pwrite(int fd, const uint8_t *p, size_t n, uint64_t off, const char *path)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return file_errno(w == 0 ? EIO : errno, path);
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return FW_OK;
}

static fw_err
blob_datasync(int fd, const char *path)
{
	while (fdatasync(fd) == -1)
		if (errno != EINTR)
			return file_errno(errno, path);
	return FW_OK;
}

/* Compare p[0..n) with the file's bytes at off. */
static fw_err
blob_compare(int fd, uint64_t off, const uint8_t *p, size_t n, const char *hex)
{
	uint8_t tmp[16384];

	while (n > 0) {
		size_t want = n < sizeof tmp ? n : sizeof tmp;
		ssize_t r = pread(fd, tmp, want, (off_t)off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? fw_seterr(FW_ERR_IO, "blob %s: short read", hex)
			    : file_errno(errno, hex);
		if (memcmp(tmp, p, (size_t)r) != 0)
			return fw_seterr(FW_ERR_CONFLICT, "blob %s: bytes at offset %" PRIu64
			    " differ from those already held", hex, off);
		off += (uint64_t)r;
		p += r;
		n -= (size_t)r;
	}
	return FW_OK;
}

/* The partial file is whole: check its hash (whole_sha256, if it is
 * known already) and move it into place. */
static fw_err
blob_finish(const struct server *s, int fd, const char *hex, uint64_t size,
    const char *whole_sha256)
{
	char partial[4096], final[4096], dir[4096];
	uint8_t md[SHA256_LEN];
	char got[SHA256_HEX + 1];
	uint64_t n;
	fw_err e;

	blob_path(s, hex, 1, partial, sizeof partial);
	blob_path(s, hex, 0, final, sizeof final);
	if (whole_sha256 != NULL) {
		snprintf(got, sizeof got, "%s", whole_sha256);
		n = size;
	} else if ((e = sha256_file(partial, md, &n)) != FW_OK)
		return e;
	else
		hex_encode(md, sizeof md, got);
	if (n != size || strcmp(got, hex) != 0) {
		unlink(partial);
		file_fsync_dir(partial);
		return fw_seterr(FW_ERR_HASH_MISMATCH, "blob %s: the %" PRIu64 " bytes "
		    "received hash to %s; upload it again from offset 0", hex, n, got);
	}
	if ((e = file_fsync(fd, partial)) != FW_OK)
		return e;
	snprintf(dir, sizeof dir, "%s/blobs/%.2s", s->datadir, hex);
	if ((e = file_mkdirs(dir, 0750)) != FW_OK)
		return e;
	if (rename(partial, final) == -1)
		return file_errno(errno, final);
	if ((e = file_fsync_dir(final)) != FW_OK || (e = file_fsync_dir(partial)) != FW_OK)
		return e;
	return blob_index(s, hex, size);
}

/*
 * Note a whole blob in the `blobs` table (inside the caller's transaction
 * if one is open).  Alone, the row is committed lazily: the file, not the
 * row, is what makes the blob exist, and the commit of the bundle that
 * names it notes it again and makes it durable.
 */
fw_err
blob_index(const struct server *s, const char *hex, uint64_t size)
{
	int lazy = sqlite3_get_autocommit(s->db);
	fw_err e;

	if (lazy)
		db_lazy(s->db, 1);
	e = db_run(s->db, "INSERT OR IGNORE INTO blobs (id, size, stored) VALUES (?, ?, ?)",
	    "sii", hex, (int64_t)size, (int64_t)time(NULL));
	if (lazy)
		db_lazy(s->db, 0);
	return e;
}

fw_err
blob_index_bundle(const struct server *s, const struct fw_bundle *b)
{
	fw_err e = FW_OK;

	for (size_t i = 0; e == FW_OK && i < b->m->nobs; i++)
		for (size_t j = 0; e == FW_OK && j < b->m->obs[i].nevidence; j++)
			e = blob_index(s, b->m->obs[i].evidence[j].blob,
			    b->m->obs[i].evidence[j].blob_size);
	return e;
}

fw_err
blob_settle(const struct server *s, const char *hex, uint64_t size,
    uint64_t *held, int *complete)
{
	char path[4096];
	fw_err e;
	int fd;

	blob_path(s, hex, 1, path, sizeof path);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
		return errno == ENOENT ? blob_held(s, hex, held, complete)
		    : file_errno(errno, path);
	if (flock(fd, LOCK_EX) == -1) {
		e = file_errno(errno, path);
		close(fd);
		return e;
	}
	e = blob_finish(s, fd, hex, size, NULL);
	close(fd);
	if (e == FW_ERR_HASH_MISMATCH) {
		*held = 0;
		*complete = 0;
		return FW_OK;	/* discarded: the device starts again from 0 */
	}
	if (e == FW_ERR_NOT_FOUND)	/* another process finished it first */
		return blob_held(s, hex, held, complete);
	if (e == FW_OK) {
		*held = size;
		*complete = 1;
	}
	return e;
}

fw_err
blob_write(const struct server *s, const char *hex, uint64_t size,
    uint64_t offset, const uint8_t *p, size_t n, const char *p_sha256,
    uint64_t *held, int *complete)
{
	char path[4096];
	struct stat st;
	uint64_t h, over;
	fw_err e = FW_OK;
	int fd, created = 0, last, whole;

	if (offset > size || n > size - offset)
		return fw_seterr(FW_ERR_LIMIT, "blob %s: bytes %" PRIu64 "..%" PRIu64
		    " pass its size of %" PRIu64, hex, offset, offset + n, size);
	blob_path(s, hex, 0, path, sizeof path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		/* Already whole: a repeated chunk is checked, never rewritten. */
		e = blob_compare(fd, offset, p, n, hex);
		close(fd);
		*held = size;
		*complete = 1;
		return e;
	}
	blob_path(s, hex, 1, path, sizeof path);
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1 && errno == ENOENT) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		created = 1;
	}
	if (fd == -1)
		return file_errno(errno, path);
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1) {
		e = file_errno(errno, path);
		goto out;
	}
	h = (uint64_t)st.st_size;
	*held = h;
	*complete = 0;
	if (offset > h) {
		e = fw_seterr(FW_ERR_OFFSET, "blob %s: offset %" PRIu64 " is past the %"
		    PRIu64 " bytes held", hex, offset, h);
		goto out;
	}
	over = h - offset < n ? h - offset : n;
	if ((e = blob_compare(fd, offset, p, (size_t)over, hex)) != FW_OK)
		goto out;
	/* The last bytes of a blob need no sync of their own, nor does the
	 * folder of a partial file made for them: blob_finish syncs the file
	 * and both folders before anything is acknowledged. */
	last = h + (n - over) == size;
	whole = p_sha256 != NULL && offset == 0 && h == 0 && n == size;
	if (over < n) {
		if ((e = blob_check_space(s, n - over)) != FW_OK)
			goto out;
		if ((e = blob_pwrite(fd, p + over, n - over, h, path)) != FW_OK ||
		    (!last && (e = blob_datasync(fd, path)) != FW_OK)) {
			/* Drop what may have half-landed so the offset stays true. */
			if (ftruncate(fd, (off_t)h) == 0)
				(void)blob_datasync(fd, path);
			goto out;
		}
		h += n - over;
		*held = h;
	}
	if (created && !last && (e = file_fsync_dir(path)) != FW_OK)
		goto out;
	if (h == size) {
		/* Sent whole in this chunk onto an empty file: its hash is p's. */
		e = blob_finish(s, fd, hex, size, whole ? p_sha256 : NULL);
		if (e == FW_OK)
			*complete = 1;
		else if (e == FW_ERR_HASH_MISMATCH)
			*held = 0;
	}
out:
	close(fd);
	return e;
}
