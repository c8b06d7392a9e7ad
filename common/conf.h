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

struct conf_entry {
	const char *section;	/* "" for keys before any [section] */
	const char *name;
	enum conf_type type;
	const char *def;	/* default, in the file's syntax; NULL = none */
	int64_t min, max;	/* numeric bounds (inclusive) */
	size_t offset;		/* offsetof(struct yours, field) */
	const char *help;	/* one line, written as a comment by conf_write_defaults */
};

/* Set every field of obj to its default. */
fw_err conf_defaults(const struct conf_entry *table, size_t n, void *obj);
/* Read path over the current values of obj.  FW_ERR_NOT_FOUND if absent,
 * FW_ERR_CONFIG with "path:line: ..." on any bad line. */
fw_err conf_load(const struct conf_entry *table, size_t n, const char *path,
    void *obj);
/* Apply one setting by name ("section.name" or "name"). */
fw_err conf_set(const struct conf_entry *table, size_t n, void *obj,
    const char *section, const char *name, const char *value);
/* Write a commented config file holding every default, durably, 0640. */
fw_err conf_write_defaults(const struct conf_entry *table, size_t n,
    const char *path, const char *header);
/* Free the CONF_STR fields of obj. */
void conf_free(const struct conf_entry *table, size_t n, void *obj);

#endif
