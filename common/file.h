/*
 * file.h: durable file writes and bounded reads.
 *
 * Durable means: written to a temporary file in the same folder, fsync'd,
 * renamed over the target, and the folder fsync'd, so that after a power
 * cut the target holds either the old content or the new, never a mix.
 */
#ifndef FW_FILE_H
#define FW_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Write data to path durably with the given mode.  FW_ERR_NOSPACE on a full
 * disk, FW_ERR_IO otherwise; on failure the temporary file is removed and
 * path is untouched. */
fw_err file_write_durable(const char *path, const void *data, size_t len,
    mode_t mode);
/* Like file_write_durable, but refuses with FW_ERR_EXISTS if path exists
 * (link(2) of the synced temporary file, then unlink). */
fw_err file_create_durable(const char *path, const void *data, size_t len,
    mode_t mode);
/* fsync the folder that holds path (or path itself if it is a folder). */
fw_err file_fsync_dir(const char *path);
/* fsync fd; maps ENOSPC/EDQUOT to FW_ERR_NOSPACE. */
fw_err file_fsync(int fd, const char *what);
/* Read a whole file of at most cap bytes; *data is NUL-terminated, owned by
 * the caller.  FW_ERR_LIMIT if larger, FW_ERR_NOT_FOUND if absent. */
fw_err file_read_all(const char *path, size_t cap, uint8_t **data, size_t *len);
/* mkdir -p with mode for each created level. */
fw_err file_mkdirs(const char *path, mode_t mode);
/* Write all n bytes, retrying on EINTR and short writes. */
fw_err file_write_all(int fd, const void *p, size_t n, const char *what);
/* Map errno to fw_err with a message "what: strerror". */
fw_err file_errno(int err, const char *what);

#endif
