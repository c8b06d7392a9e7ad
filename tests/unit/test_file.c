/*
 * test_file.c: durable writes (content, exact mode, no temporary file left
 * behind, old content kept on a full disk), create-only writes, bounded
 * reads and mkdirs.  Each test works in its own folder under /tmp.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "file.h"
#include "tmpdir.h"

struct fixture {
	char dir[TMPDIR_LEN];
	char full[96];	/* a tiny tmpfs, mounted by the test that needs it */
	int mounted;
};

static int
setup(void **state)
{
	*state = tmpdir_fixture_new(sizeof (struct fixture), "file");
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->mounted)
		umount(f->full);
	tmpdir_fixture_free(f);
	return 0;
}

/* Number of entries of dir whose name contains ".tmp.". */
static int
count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp.") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
assert_file_is(const char *path, const char *want)
{
	uint8_t *data;
	size_t len;

	assert_int_equal(file_read_all(path, 1 << 20, &data, &len), FW_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	assert_int_equal(data[len], 0);
	free(data);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_write_round_trip(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];
	mode_t old = umask(077);

	tmpdir_path(f->dir, "a.txt", p, sizeof p);
	assert_int_equal(file_write_durable(p, "first", 5, 0644), FW_OK);
	assert_file_is(p, "first");
	/* The mode asked for, whatever the umask. */
	assert_int_equal(mode_of(p), 0644);
	assert_int_equal(file_write_durable(p, "second one", 10, 0600), FW_OK);
	assert_file_is(p, "second one");
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(file_write_durable(p, "", 0, 0640), FW_OK);
	assert_file_is(p, "");
	assert_int_equal(count_temps(f->dir), 0);
	umask(old);
}

static void
test_write_bare_name(void **state)
{
	struct fixture *f = *state;
	char cwd[PATH_MAX];

	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(file_write_durable("bare", "x", 1, 0600), FW_OK);
	assert_int_equal(file_create_durable("bare2", "y", 1, 0600), FW_OK);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_create_refuses_existing(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	tmpdir_path(f->dir, "key", p, sizeof p);
	assert_int_equal(file_create_durable(p, "secret", 6, 0600), FW_OK);
	assert_int_equal(mode_of(p), 0600);
	assert_file_is(p, "secret");
	assert_int_equal(file_create_durable(p, "other", 5, 0600), FW_ERR_EXISTS);
	assert_non_null(strstr(fw_errmsg(), "already exists"));
	assert_file_is(p, "secret");
	assert_int_equal(count_temps(f->dir), 0);
	/* A dangling symlink also counts as existing: link(2) never
	 * follows it. */
	tmpdir_path(f->dir, "dangling", p, sizeof p);
	assert_int_equal(symlink("/nonexistent/target", p), 0);
	assert_int_equal(file_create_durable(p, "x", 1, 0600), FW_ERR_EXISTS);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_write_missing_folder(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	tmpdir_path(f->dir, "no/such/folder/file", p, sizeof p);
	assert_int_equal(file_write_durable(p, "x", 1, 0600), FW_ERR_IO);
	assert_non_null(strstr(fw_errmsg(), "No such file"));
	assert_int_equal(file_create_durable(p, "x", 1, 0600), FW_ERR_IO);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_write_over_folder(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	/* rename(2) cannot put a file over a folder: the temporary file
	 * must go. */
	tmpdir_path(f->dir, "sub", p, sizeof p);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(file_write_durable(p, "x", 1, 0600), FW_ERR_IO);
	assert_int_equal(count_temps(f->dir), 0);
	assert_int_equal(file_create_durable(p, "x", 1, 0600), FW_ERR_EXISTS);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];
	size_t big = 1 << 20;
	char *data;

	snprintf(f->full, sizeof f->full, "%s/full", f->dir);
	assert_int_equal(mkdir(f->full, 0700), 0);
	if (mount("tmpfs", f->full, "tmpfs", 0, "size=64k") == -1) {
		printf("skip: cannot mount a 64 KiB tmpfs (%s): disk-full case not run\n",
		    strerror(errno));
		skip();
	}
	f->mounted = 1;
	snprintf(p, sizeof p, "%s/target", f->full);
	assert_int_equal(file_write_durable(p, "old content", 11, 0640), FW_OK);
	assert_non_null(data = malloc(big));
	memset(data, 'n', big);
	assert_int_equal(file_write_durable(p, data, big, 0640), FW_ERR_NOSPACE);
	assert_non_null(strstr(fw_errmsg(), "No space left"));
	assert_file_is(p, "old content");
	assert_int_equal(count_temps(f->full), 0);
	snprintf(p, sizeof p, "%s/new", f->full);
	assert_int_equal(file_create_durable(p, data, big, 0600), FW_ERR_NOSPACE);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(count_temps(f->full), 0);
	free(data);
}

static void
test_write_all_full(void **state)
{
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	if (fd == -1) {
		printf("skip: no /dev/full\n");
		skip();
	}
	assert_int_equal(file_write_all(fd, "abc", 3, "/dev/full"), FW_ERR_NOSPACE);
	assert_int_equal(file_fsync(-1, "bad fd"), FW_ERR_IO);
	close(fd);
}

static void
test_read_cap(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];
	uint8_t *data = (uint8_t *)"sentinel";
	size_t len = 7;

	tmpdir_path(f->dir, "r", p, sizeof p);
	assert_int_equal(file_write_durable(p, "0123456789", 10, 0600), FW_OK);
	assert_int_equal(file_read_all(p, 10, &data, &len), FW_OK);
	assert_int_equal(len, 10);
	assert_string_equal((char *)data, "0123456789");
	free(data);
	assert_int_equal(file_read_all(p, 9, &data, &len), FW_ERR_LIMIT);
	assert_null(data);
	assert_int_equal(len, 0);
	assert_non_null(strstr(fw_errmsg(), "cap of 9"));
	tmpdir_path(f->dir, "empty", p, sizeof p);
	assert_int_equal(file_write_durable(p, "", 0, 0600), FW_OK);
	assert_int_equal(file_read_all(p, 0, &data, &len), FW_OK);
	assert_non_null(data);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], 0);
	free(data);
}

static void
test_read_not_regular(void **state)
{
	uint8_t *data;
	size_t len;

	(void)state;
	/* Endless: only the read loop's bound stops it. */
	assert_int_equal(file_read_all("/dev/zero", 100000, &data, &len),
	    FW_ERR_LIMIT);
	assert_null(data);
	assert_int_equal(file_read_all("/dev/null", 10, &data, &len), FW_OK);
	assert_int_equal(len, 0);
	free(data);
	assert_int_equal(file_read_all("/tmp", 10, &data, &len), FW_ERR_IO);
}

static void
test_read_pipe(void **state)
{
	uint8_t *data;
	size_t len;
	char path[64];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "piped", 5), 5);
	close(fds[1]);
	snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
	assert_int_equal(file_read_all(path, 5, &data, &len), FW_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "piped", 5);
	free(data);
	close(fds[0]);
}

static void
test_read_not_found(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];
	uint8_t *data;
	size_t len;

	tmpdir_path(f->dir, "absent", p, sizeof p);
	assert_int_equal(file_read_all(p, 10, &data, &len), FW_ERR_NOT_FOUND);
	assert_non_null(strstr(fw_errmsg(), "absent"));
}

static void
test_mkdirs(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];
	mode_t old = umask(077);

	tmpdir_path(f->dir, "a/b//c/", p, sizeof p);
	assert_int_equal(file_mkdirs(p, 0750), FW_OK);
	tmpdir_path(f->dir, "a/b/c", p, sizeof p);
	assert_int_equal(mode_of(p), 0750);
	tmpdir_path(f->dir, "a", p, sizeof p);
	assert_int_equal(mode_of(p), 0750);
	/* Existing levels are fine. */
	tmpdir_path(f->dir, "a/b/c", p, sizeof p);
	assert_int_equal(file_mkdirs(p, 0700), FW_OK);
	assert_int_equal(mode_of(p), 0750);
	/* A file in the way is not. */
	tmpdir_path(f->dir, "a/file", p, sizeof p);
	assert_int_equal(file_write_durable(p, "x", 1, 0600), FW_OK);
	tmpdir_path(f->dir, "a/file/d", p, sizeof p);
	assert_int_equal(file_mkdirs(p, 0700), FW_ERR_EXISTS);
	assert_int_equal(file_mkdirs("", 0700), FW_ERR_INVALID);
	umask(old);
}

static void
test_fsync_dir(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX];

	assert_int_equal(file_fsync_dir(f->dir), FW_OK);
	tmpdir_path(f->dir, "not-yet-there", p, sizeof p);
	assert_int_equal(file_fsync_dir(p), FW_OK);
	tmpdir_path(f->dir, "nodir/x", p, sizeof p);
	assert_int_equal(file_fsync_dir(p), FW_ERR_IO);
	assert_int_equal(file_fsync_dir("relative-name"), FW_OK);
}

static void
test_errno_map(void **state)
{
	(void)state;
	assert_int_equal(file_errno(ENOSPC, "w"), FW_ERR_NOSPACE);
	assert_int_equal(file_errno(EDQUOT, "w"), FW_ERR_NOSPACE);
	assert_int_equal(file_errno(ENOENT, "w"), FW_ERR_NOT_FOUND);
	assert_int_equal(file_errno(EEXIST, "w"), FW_ERR_EXISTS);
	assert_int_equal(file_errno(EIO, "w"), FW_ERR_IO);
	assert_string_equal(fw_errmsg(), "w: Input/output error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_bare_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_missing_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_over_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test(test_write_all_full),
		cmocka_unit_test_setup_teardown(test_read_cap, setup, teardown),
		cmocka_unit_test(test_read_not_regular),
		cmocka_unit_test(test_read_pipe),
		cmocka_unit_test_setup_teardown(test_read_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mkdirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
		cmocka_unit_test(test_errno_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
