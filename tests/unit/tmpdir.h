/*
 * tmpdir.h: the temporary folder of a unit test that writes files: made
 * under /tmp with a name that says which test, removed whole (depth first,
 * links not followed) at teardown.  Header only, as each test binary is
 * one source file linked with the libraries (see the Makefile).
 */
#ifndef FW_TEST_TMPDIR_H
#define FW_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define TMPDIR_LEN 64	/* a fixture's dir[] */

/* Make /tmp/fw-test-NAME.XXXXXX into dir (dirsz bytes).  0, or -1 if the
 * name does not fit or mkdtemp fails. */
static inline int
tmpdir_make(char *dir, size_t dirsz, const char *name)
{
	if ((size_t)snprintf(dir, dirsz, "/tmp/fw-test-%s.XXXXXX", name) >= dirsz)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int
tmpdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove dir and everything in it. */
static inline void
tmpdir_remove(const char *dir)
{
	nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A test's fixture: size bytes, zeroed, whose first member is
 * char dir[TMPDIR_LEN], with that folder made as tmpdir_make.  NULL on
 * failure.  tmpdir_fixture_free removes the folder and frees it.
 */
static inline void *
tmpdir_fixture_new(size_t size, const char *name)
{
	char *f;

	if (size < TMPDIR_LEN || (f = calloc(1, size)) == NULL)
		return NULL;
	if (tmpdir_make(f, TMPDIR_LEN, name) != 0) {
		free(f);
		return NULL;
	}
	return f;
}

static inline void
tmpdir_fixture_free(void *f)
{
	tmpdir_remove(f);
	free(f);
}

/* dir/name into out (len bytes; truncated if longer). */
static inline void
tmpdir_path(const char *dir, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, name);
}

#endif
