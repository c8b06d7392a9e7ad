/*
 * fuzz_calendar.c: libFuzzer harness for the working-day calendar reader
 * (calendar_load_mem), the holiday list an office edits by hand.
 *
 * Any input must load, or be refused with FW_ERR_CONFIG naming the input
 * and no calendar.  A loaded calendar must answer consistently: adding n
 * working days lands on a working day (n >= 1), counting working days back
 * over that span gives n, and the count is antisymmetric.  abort() marks a
 * broken invariant.  Seeds: tests/fuzz/corpus/calendar/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct calendar *cal = NULL;
	cal_day start, end;
	fw_err e;

	e = calendar_load_mem("fuzz", data, size, &cal);
	if (e != FW_OK) {
		if (cal != NULL || e != FW_ERR_CONFIG ||
		    strncmp(fw_errmsg(), "fuzz", 4) != 0)
			abort();
		return 0;
	}
	if (cal == NULL)
		abort();
	/* A few starting days around the years fuzzers like to write. */
	static const int years[] = {2024, 2025, 2026, 1999, 9998};
	for (size_t y = 0; y < sizeof years / sizeof years[0]; y++) {
		if (calendar_day(years[y], 1 + (int)(size % 12), 1, &start) != FW_OK)
			abort();
		for (int64_t n = 0; n <= 40; n += 13) {
			if (calendar_add_working_days(cal, start, n, &end) != FW_OK)
				abort();	/* only n out of range may fail */
			if (n == 0 && end != start)
				abort();
			if (n > 0 && (end <= start || !calendar_is_working_day(cal, end)))
				abort();
			if (calendar_working_days_between(cal, start, end) != n ||
			    calendar_working_days_between(cal, end, start) != -n)
				abort();
		}
	}
	if (calendar_add_working_days(cal, start, CALENDAR_MAX_ADD + 1, &end) == FW_OK)
		abort();
	calendar_free(cal);
	return 0;
}
