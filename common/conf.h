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
/* Read path, at most max bytes, into *data (malloc'd) for a loader:
 * FW_ERR_CONFIG "path: larger than the max bytes a <what> may hold" if it
 * is larger, else what file_read_all says. */
fw_err conf_read_file(const char *path, size_t max, const char *what,
    uint8_t **data, size_t *len);
/* Apply one setting by name.  With section NULL, name may be
 * "section.name" (split at its last dot) or a name outside any section. */
fw_err conf_set(const struct conf_entry *table, size_t n, void *obj,
    const char *section, const char *name, const char *value);
/* Write a commented config file holding every default, durably, 0640. */
fw_err conf_write_defaults(const struct conf_entry *table, size_t n,
    const char *path, const char *header);
/* Free the CONF_STR fields of obj. */
void conf_free(const struct conf_entry *table, size_t n, void *obj);
/* 1 for yes/true/on/1, 0 for no/false/off/0 (any case), -1 otherwise. */
int conf_bool(const char *v);

/*
 * The line reader of conf_load_mem, shared with the other readers of files
 * held in memory (server/profile.c, server/calendar.c).  Lines end at '\n',
 * which is not part of the line; a UTF-8 byte order mark is taken off the
 * first.  The data need not be NUL-terminated and must be shorter than
 * INT_MAX bytes.  line is the number of the line last handed out.
 *
 * conf_lines_reader is inih's fgets (ini_parse_stream).  Each line goes
 * without its indentation and trailing blanks, a comment line as its first
 * character only (inih needs only to see that it is one), and, with
 * inline_comments, cut at a ';' or '#' that follows a blank.  It refuses a
 * NUL byte (with utf8: anywhere in the line, and invalid UTF-8 too), a line
 * longer than inih's buffer, which inih would split, and a "[" line that
 * section refuses.  The first error is kept (errline, err, msg) and ends
 * the reading.
 */
struct conf_lines {
	const char *name;	/* stands for the path in messages */
	const char *p, *end;	/* what has not been handed out */
	int line;		/* lines handed out so far */
	/* Options, set after conf_lines_init; all off by default. */
	int inline_comments;
	int utf8;
	const char *toolong;	/* after "line longer than N bytes" */
	size_t msgmax;		/* keep msg to msgmax - 1 bytes; 0: all of it */
	fw_err (*section)(void *arg, const char *s, size_t len);
	void *arg;
	/* The first error, with its "name:line: " in msg. */
	int errline;		/* 0 if none */
	fw_err err;
	char msg[FW_ERRMSG_MAX];
};

/* Start l over len bytes at data; every option is off. */
void conf_lines_init(struct conf_lines *l, const char *name, const void *data,
    size_t len);
/* The next line as it is, without its '\n': 1, or 0 at the end. */
int conf_lines_next(struct conf_lines *l, const char **s, size_t *len);
/* inih's fgets over a struct conf_lines: the next line, shaped and checked
 * as above, in str (num bytes) with "\n\0"; NULL at the end or on error. */
char *conf_lines_reader(char *str, int num, void *stream);
/* Keep the first error at the current line; a later one is dropped. */
void conf_lines_fail(struct conf_lines *l, fw_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Run inih over l, handing each "name = value" to handler (inih's
 * ini_handler) with user.  The error is the first of l's or inih's own
 * ("name:line: expected 'pair', '[section]' or a comment"). */
fw_err conf_lines_parse(struct conf_lines *l, int (*handler)(void *user,
    const char *section, const char *name, const char *value), void *user,
    const char *pair);

#endif
