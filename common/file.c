/*
 * file.c: durable writes and bounded reads (file.h).
 *
 * A durable write goes to a temporary file beside the target (same folder,
 * so the same file system and rename(2) is atomic), is fsync'd and given its
 * mode, then renamed (or linked, to refuse an existing target) over the
 * target, and the folder is fsync'd so that the new name survives a power
 * cut.  Every failure before the rename removes the temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"

#define FILE_TMP_SUFFIX	".tmp.XXXXXX"
#define FILE_READ_CHUNK	(64u << 10)

fw_err
file_errno(int err, const char *what)
{
	fw_err e;

	switch (err) {
	case ENOSPC:
	case EDQUOT:
		e = FW_ERR_NOSPACE;
		break;
	case ENOENT:
		e = FW_ERR_NOT_FOUND;
		break;
	case EEXIST:
		e = FW_ERR_EXISTS;
		break;
	case ENOMEM:
		e = FW_ERR_NOMEM;
		break;
	default:
		e = FW_ERR_IO;
		break;
	}
	return fw_seterr(e, "%s: %s", what, strerror(err));
}

/*
 * The write functions promise FW_ERR_NOSPACE for a full disk and
 * FW_ERR_IO for everything else (file.h), so a missing folder is an I/O
 * error there rather than the NOT_FOUND of file_errno.
 */
static fw_err
file_werrno(int err, const char *what)
{
	fw_err e = file_errno(err, what);

	if (e == FW_ERR_NOSPACE || e == FW_ERR_NOMEM)
		return e;
	return fw_seterr(FW_ERR_IO, "%s: %s", what, strerror(err));
}

fw_err
file_write_all(int fd, const void *p, size_t n, const char *what)
{
	const uint8_t *s = p;
	ssize_t w;

	/* Each pass writes at least one byte or fails: at most n passes
	 * besides EINTR retries. */
	while (n > 0) {
		w = write(fd, s, n > SSIZE_MAX ? SSIZE_MAX : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return file_werrno(errno, what);
		}
		if (w == 0)
			return fw_seterr(FW_ERR_IO, "%s: write returned 0", what);
		s += w;
		n -= (size_t)w;
	}
	return FW_OK;
}

fw_err
file_fsync(int fd, const char *what)
{
	if (fsync(fd) == -1)
		return file_werrno(errno, what);
	return FW_OK;
}

/* The folder part of path: "." for a bare name, "/" for "/name". */
static fw_err
file_dirname(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	const char *from = path;
	size_t n;

	if (slash == NULL) {
		from = ".";
		n = 1;
	} else if (slash == path)
		n = 1;
	else
		n = (size_t)(slash - path);
	if (n >= dirlen)
		return fw_seterr(FW_ERR_INVALID, "%s: path too long", path);
	memcpy(dir, from, n);
	dir[n] = '\0';
	return FW_OK;
}

static fw_err
file_fsync_folder(const char *dir)
{
	fw_err e;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return file_werrno(errno, dir);
	/* Some file systems cannot fsync a folder and say EINVAL; there is
	 * nothing more durable to be had from them. */
	if (fsync(fd) == -1 && errno != EINVAL)
		e = file_werrno(errno, dir);
	else
		e = FW_OK;
	close(fd);
	return e;
}

fw_err
file_fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	fw_err e;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return file_fsync_folder(path);
	if ((e = file_dirname(path, dir, sizeof dir)) != FW_OK)
		return e;
	return file_fsync_folder(dir);
}

/*
 * Write data to a new temporary file beside path, synced and with mode;
 * its name is left in tmp.  On failure nothing is left behind.
 */
static fw_err
file_write_tmp(const char *path, const void *data, size_t len, mode_t mode,
    char *tmp, size_t tmplen)
{
	fw_err e;
	int fd;

	if ((size_t)snprintf(tmp, tmplen, "%s%s", path, FILE_TMP_SUFFIX) >= tmplen)
		return fw_seterr(FW_ERR_INVALID, "%s: path too long", path);
	/* Messages name the target: the temporary name means nothing to
	 * whoever reads them. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return file_werrno(errno, path);
	e = file_write_all(fd, data, len, path);
	if (e == FW_OK)
		e = file_fsync(fd, path);
	/* fchmod is not subject to the umask: the mode asked for is the
	 * mode the file gets. */
	if (e == FW_OK && fchmod(fd, mode) == -1)
		e = file_werrno(errno, path);
	/* close can report a deferred write error (NFS, quotas). */
	if (close(fd) == -1 && e == FW_OK)
		e = file_werrno(errno, path);
	if (e != FW_OK)
		unlink(tmp);
	return e;
}

fw_err
file_write_durable(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	fw_err e;

	if ((e = file_dirname(path, dir, sizeof dir)) != FW_OK)
		return e;
	if ((e = file_write_tmp(path, data, len, mode, tmp, sizeof tmp)) != FW_OK)
		return e;
	if (rename(tmp, path) == -1) {
		e = file_werrno(errno, path);
		unlink(tmp);
		return e;
	}
	return file_fsync_folder(dir);
}

/*
 * Give tmp the name path unless path exists.  link(2) is the portable
 * way; file systems without hard links (vfat on an SD card) refuse it
 * with EPERM, and renameat2's RENAME_NOREPLACE does the same job there.
 */
static fw_err
file_link_noreplace(const char *tmp, const char *path)
{
	int err;

	if (link(tmp, path) == 0) {
		unlink(tmp);
		return FW_OK;
	}
	err = errno;
	if ((err == EPERM || err == EOPNOTSUPP) &&
	    renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return FW_OK;
	if (err == EPERM || err == EOPNOTSUPP)
		err = errno;
	unlink(tmp);
	if (err == EEXIST)
		return fw_seterr(FW_ERR_EXISTS, "%s: already exists", path);
	return file_werrno(err, path);
}

fw_err
file_create_durable(const char *path, const void *data, size_t len,
    mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	fw_err e;

	if ((e = file_dirname(path, dir, sizeof dir)) != FW_OK)
		return e;
	if ((e = file_write_tmp(path, data, len, mode, tmp, sizeof tmp)) != FW_OK)
		return e;
	if ((e = file_link_noreplace(tmp, path)) != FW_OK)
		return e;
	return file_fsync_folder(dir);
}

/*
 * Read fd to its end into b, failing as soon as more than cap bytes come:
 * a file that grows while it is read, or a pipe, never costs more than
 * cap bytes of memory.
 */
static fw_err
file_read_capped(int fd, const char *path, size_t cap, struct buf *b)
{
	uint8_t *p, probe;
	size_t want;
	ssize_t r;

	/* Each pass reads at least one byte, or ends: bounded by cap + 1
	 * reads besides EINTR retries. */
	for (;;) {
		if (b->len == cap) {
			r = read(fd, &probe, 1);
			if (r > 0)
				return fw_seterr(FW_ERR_LIMIT,
				    "%s: larger than the cap of %zu bytes", path, cap);
		} else {
			want = cap - b->len;
			if (want > FILE_READ_CHUNK)
				want = FILE_READ_CHUNK;
			if ((p = buf_reserve(b, want)) == NULL)
				return FW_ERR_NOMEM;
			if ((r = read(fd, p, want)) > 0)
				buf_commit(b, (size_t)r);
		}
		if (r == 0)
			return FW_OK;
		if (r < 0 && errno != EINTR)
			return file_errno(errno, path);
	}
}

fw_err
file_read_all(const char *path, size_t cap, uint8_t **data, size_t *len)
{
	struct stat st;
	struct buf b;
	fw_err e;
	int fd;

	*data = NULL;
	*len = 0;
	if (cap == SIZE_MAX)
		cap--;	/* room for the NUL */
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		return file_errno(errno, path);
	if (fstat(fd, &st) == -1) {
		e = file_errno(errno, path);
		close(fd);
		return e;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > cap) {
		close(fd);
		return fw_seterr(FW_ERR_LIMIT, "%s: %lld bytes, more than the cap of %zu",
		    path, (long long)st.st_size, cap);
	}
	buf_init(&b, cap);
	/* One allocation for a regular file of known size. */
	if (S_ISREG(st.st_mode) && buf_reserve(&b, (size_t)st.st_size) == NULL) {
		close(fd);
		return FW_ERR_NOMEM;
	}
	e = file_read_capped(fd, path, cap, &b);
	close(fd);
	/* Even an empty file gets a NUL-terminated allocation. */
	if (e == FW_OK && buf_reserve(&b, 0) == NULL)
		e = FW_ERR_NOMEM;
	if (e == FW_OK)
		buf_commit(&b, 0);
	if (e != FW_OK) {
		buf_free(&b);
		return e;
	}
	*data = buf_take(&b, len);
	return FW_OK;
}

/* mkdir one level; an existing folder is fine, an existing file is not. */
static fw_err
file_mkdir1(const char *path, mode_t mode, int *made)
{
	struct stat st;

	*made = 0;
	if (mkdir(path, mode) == 0) {
		*made = 1;
		return FW_OK;
	}
	if (errno != EEXIST)
		return file_werrno(errno, path);
	if (stat(path, &st) == -1)
		return file_werrno(errno, path);
	if (!S_ISDIR(st.st_mode))
		return fw_seterr(FW_ERR_EXISTS, "%s: exists and is not a folder", path);
	return FW_OK;
}

/*
 * Give a new folder its exact mode (mkdir's is masked by the umask) and
 * sync its parent, which holds its name, so that the folder survives a
 * power cut together with what is written into it.
 */
static fw_err
file_made_dir(const char *path, mode_t mode)
{
	char parent[PATH_MAX];
	fw_err e;

	if (chmod(path, mode) == -1)
		return file_werrno(errno, path);
	if ((e = file_dirname(path, parent, sizeof parent)) != FW_OK)
		return e;
	return file_fsync_folder(parent);
}

fw_err
file_mkdirs(const char *path, mode_t mode)
{
	char p[PATH_MAX];
	size_t len = strlen(path), i;
	int made;
	fw_err e;

	if (len == 0)
		return fw_seterr(FW_ERR_INVALID, "mkdirs: empty path");
	if (len >= sizeof p)
		return fw_seterr(FW_ERR_INVALID, "%s: path too long", path);
	memcpy(p, path, len + 1);
	/* One mkdir per '/' after a component, and one for the whole path. */
	for (i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		if (p[i - 1] == '/')
			continue;	/* "a//b" */
		p[i] = '\0';
		if ((e = file_mkdir1(p, mode, &made)) != FW_OK)
			return e;
		if (made && (e = file_made_dir(p, mode)) != FW_OK)
			return e;
		if (i < len)
			p[i] = '/';
	}
	return FW_OK;
}
