/*
 * fuzz_profile.c: libFuzzer harness for the policy profile reader
 * (profile_load_mem), the data file a county may write itself (QY art 12).
 *
 * Any input must load, or be refused with FW_ERR_CONFIG, a message that
 * starts with the name given, and no profile.  A loaded profile must keep
 * the promises of server.h: every code valid, every list within
 * PROFILE_LIST_MAX, every label valid UTF-8 without control characters,
 * bounds in order.  abort() marks a broken invariant.
 * Seeds: tests/fuzz/corpus/profile/ (the built-in profiles and variants).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
text_ok(const char *s, int optional)
{
	if (s == NULL) {
		if (!optional)
			abort();
		return;
	}
	if (!jsonx_utf8_valid(s, strlen(s)))
		abort();
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void
entry_ok(const struct profile_entry *e)
{
	if (!profile_code_valid(e->code))
		abort();
	text_ok(e->zh, 1);
	text_ok(e->en, 1);
	text_ok(e->article, 1);
}

#define LIST_OK(arr, n, lookup) do {					\
	if ((n) > PROFILE_LIST_MAX || ((n) > 0 && (arr) == NULL))	\
		abort();						\
	for (size_t i_ = 0; i_ < (n); i_++) {				\
		entry_ok(&(arr)[i_].e);					\
		if (lookup(p, (arr)[i_].e.code) == NULL)		\
			abort();					\
	}								\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile *p = NULL;
	json_t *tax = NULL;
	fw_err e;

	e = profile_load_mem("fuzz", data, size, &p);
	if (e != FW_OK) {
		if (p != NULL || e != FW_ERR_CONFIG ||
		    strncmp(fw_errmsg(), "fuzz", 4) != 0)
			abort();
		return 0;
	}
	if (p == NULL || p->name == NULL)
		abort();
	text_ok(p->name, 0);
	text_ok(p->city, 1);
	text_ok(p->title, 1);
	LIST_OK(p->categories, p->ncategories, profile_category);
	LIST_OK(p->eligibility, p->neligibility, profile_eligibility);
	LIST_OK(p->methods, p->nmethods, profile_method);
	LIST_OK(p->terminations, p->nterminations, profile_termination);
	LIST_OK(p->grades, p->ngrades, profile_grade);
	for (size_t i = 0; i < p->ncategories; i++)
		if (p->categories[i].applies == 0 || p->categories[i].applies > 15)
			abort();
	if (p->reward.min_fen > p->reward.max_fen)
		abort();
	if (p->appt.age_min > p->appt.age_max)
		abort();
	if (profile_taxonomy_json(p, &tax) != FW_OK || tax == NULL ||
	    json_array_size(tax) != p->ncategories)
		abort();
	json_decref(tax);
	profile_free(p);
	return 0;
}
