/*
 * conf.h: configuration files read by inih and checked against a table
 * (after Redis' config.c): each entry has a section, a name, a type, a
 * default, bounds and the offset of its field in the caller's struct.
 * Unknown names, bad values and out-of-range numbers are errors naming the
 * file, the line and what was expected.
 */
#ifndef FW_CONF_H
#define FW_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum conf_type {
	CONF_STR,	/* char * owned by the struct, strdup'd */
	CONF_INT,	/* int64_t within [min, max] */
	CONF_BOOL,	/* int: yes/no/true/false/on/off/1/0 */
	CONF_SIZE,	/* uint64_t with optional K/M/G suffix (powers of 1024) */
	CONF_DURATION,	/* int64_t seconds with optional s/m/h/d suffix */
};

/*
 * Bounds: min == max == 0 means the type's whole range (for CONF_SIZE and
 * CONF_DURATION, 0..INT64_MAX: neither is ever negative).  CONF_STR and
 * CONF_BOOL ignore them.  Section names are shorter than 50 bytes (inih
 * truncates longer ones), and a line holds at most 198 bytes besides its
 * indentation and trailing blanks (inih's fixed line buffer); longer lines
 * are refused, never split.  Values are taken as written up to an inline
 * comment (" ;"); multi-line values are not supported.
 */
struct conf_entry {
	const char *section;	/* "" for keys before any [section] */
	const char *name;
	enum conf_type type;
	const char *def;	/* default, in the file's syntax; NULL = none */
	int64_t min, max;	/* numeric bounds (inclusive) */
	size_t offset;		/* offsetof(struct yours, field) */
	const char *help;	/* one line, written as a comment by conf_write_defaults */
};

/* Set every field of obj to its default.  The CONF_STR fields are
 * overwritten, not freed: start from a zeroed struct, or conf_free first.
 * FW_ERR_CONFIG if a default in the table is not a valid value. */
fw_err conf_defaults(const struct conf_entry *table, size_t n, void *obj);
/* Read path over the current values of obj.  FW_ERR_NOT_FOUND if absent,
 * FW_ERR_CONFIG with "path:line: ..." on any bad line: an unknown section
 * or name, a bad value, a name set twice in the file, a line too long.
 * The whole file is checked before anything is applied, so on error obj
 * is as it was (short of running out of memory). */
fw_err conf_load(const struct conf_entry *table, size_t n, const char *path,
    void *obj);
/* The same over len bytes in memory; name stands for the path in
 * messages.  The input need not be NUL-terminated; a NUL byte is an
 * error.  conf_load reads the file (at most CONF_FILE_MAX bytes) and calls
 * this. */
#define CONF_FILE_MAX (1u << 20)
fw_err conf_load_mem(const struct conf_entry *table, size_t n,
    const char *name, const void *data, size_t len, void *obj);
/* Apply one setting by name.  With section NULL, name may be
 * "section.name" (split at its last dot) or a name outside any section. */
fw_err conf_set(const struct conf_entry *table, size_t n, void *obj,
    const char *section, const char *name, const char *value);
/* Write a commented config file holding every default, durably, 0640. */
fw_err conf_write_defaults(const struct conf_entry *table, size_t n,
    const char *path, const char *header);
/* Free the CONF_STR fields of obj. */
void conf_free(const struct conf_entry *table, size_t n, void *obj);

#endif
