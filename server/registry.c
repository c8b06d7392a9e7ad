/*
 * registry.c: supervisors, their terms and their devices, as the database
 * holds them.  The rules of a profile (age bounds, term lengths, reasons)
 * are in rules.c; this file applies them to stored records and answers the
 * question ingest asks of every observation: was this supervisor appointed
 * when it was captured?
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

void
registry_day(int64_t t, char out[11])
{
	calendar_format(calendar_china_day(t), out);
}

/*
 * Walk the supervisor's terms and apply the profile's rules (rules_state)
 * to the China-local day of t.  A non-lapsing profile keeps a supervisor
 * appointed past the term's end until renewal or termination (QY art
 * 11(6)); a lapsing one (GP art 7) does not.
 */
fw_err
registry_term_at(struct server *s, const char *sup, int64_t t, char end[11],
    int64_t *end_t)
{
	sqlite3_stmt *st;
	cal_day day = calendar_china_day(t), start, last, term = CAL_NONE;
	cal_day stop = CAL_NONE;
	char buf[CAL_DATE_LEN];
	fw_err e;
	int rc, found = 0;

	if ((e = db_prepare(s->db, &st, "SELECT t.start_day, t.end_day, s.terminated_on"
	    " FROM terms t JOIN supervisors s ON s.id = t.supervisor_id"
	    " WHERE t.supervisor_id = ? ORDER BY t.start_day", "s", sup)) != FW_OK)
		return e;
	while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *off = (const char *)sqlite3_column_text(st, 2);
		if (calendar_parse((const char *)sqlite3_column_text(st, 0), &start) != FW_OK ||
		    calendar_parse((const char *)sqlite3_column_text(st, 1), &last) != FW_OK ||
		    (off != NULL && calendar_parse(off, &stop) != FW_OK)) {
			sqlite3_finalize(st);
			return fw_seterr(FW_ERR_INTERNAL, "supervisor %s: a stored date is "
			    "unreadable", sup);
		}
		if (rules_appointed(rules_state(s->profile, start, last, stop, day))) {
			found = 1;
			term = last;
		}
	}
	if (!found && rc != SQLITE_DONE) {
		sqlite3_finalize(st);
		return db_error(s->db, "appointment");
	}
	sqlite3_finalize(st);
	if (!found)
		return fw_seterr(FW_ERR_NOT_APPOINTED, "supervisor %s had no active "
		    "appointment on %s", sup, calendar_format(day, buf));
	/* Past a non-lapsing term's end the appointment runs on: no grace
	 * period applies then, so the "end" is open. */
	if (day > term)
		term = CAL_NONE;
	if (end != NULL) {
		if (term == CAL_NONE)
			snprintf(end, 11, "open");
		else
			calendar_format(term, end);
	}
	if (end_t != NULL)	/* end of that day, China time */
		*end_t = term == CAL_NONE ? INT64_MAX / 2 : (term + 1) * 86400 - 8 * 3600;
	return FW_OK;
}
