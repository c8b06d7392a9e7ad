/*
 * fuzz_conf.c: libFuzzer harness for the config reader (conf_load_mem)
 * over a table with every type.
 *
 * Any input must load, or be refused with FW_ERR_CONFIG, a message naming
 * the input, and the settings exactly as they were.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sample {
	char *name;
	int64_t offset;
	char *url;
	int64_t port;
	int verbose;
	uint64_t max_blob;
	int64_t retry;
	char *path;
};

#define F(x) offsetof(struct sample, x)
static const struct conf_entry table[] = {
	{"", "name", CONF_STR, "fundwatch", 0, 0, F(name), "display name"},
	{"", "offset", CONF_INT, "-5", 0, 0, F(offset), "unbounded"},
	{"server", "url", CONF_STR, "https://localhost:8443", 0, 0, F(url), "url"},
	{"server", "port", CONF_INT, "8443", 1, 65535, F(port), "port"},
	{"server", "verbose", CONF_BOOL, "no", 0, 0, F(verbose), "verbose"},
	{"store", "max_blob", CONF_SIZE, "4G", 1024, INT64_C(1) << 40,
	    F(max_blob), "largest blob"},
	{"store", "retry", CONF_DURATION, "5m", 1, 7 * 86400, F(retry), "retry"},
	{"store", "path", CONF_STR, NULL, 0, 0, F(path), NULL},
};
#define NT (sizeof table / sizeof table[0])

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
same(const struct sample *a, const struct sample *b)
{
	return same_str(a->name, b->name) && a->offset == b->offset &&
	    same_str(a->url, b->url) && a->port == b->port &&
	    a->verbose == b->verbose && a->max_blob == b->max_blob &&
	    a->retry == b->retry && same_str(a->path, b->path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sample s, d;
	fw_err e;

	memset(&s, 0, sizeof s);
	memset(&d, 0, sizeof d);
	if (conf_defaults(table, NT, &s) != FW_OK ||
	    conf_defaults(table, NT, &d) != FW_OK)
		abort();
	e = conf_load_mem(table, NT, "fuzz", data, size, &s);
	if (e != FW_OK) {
		if (e != FW_ERR_CONFIG || strncmp(fw_errmsg(), "fuzz", 4) != 0)
			abort();
		if (!same(&s, &d))
			abort();
	} else if (s.port < 1 || s.port > 65535 || s.max_blob < 1024 ||
	    s.retry < 1 || s.retry > 7 * 86400 || (s.verbose != 0 && s.verbose != 1))
		abort();
	conf_free(table, NT, &s);
	conf_free(table, NT, &d);
	return 0;
}
