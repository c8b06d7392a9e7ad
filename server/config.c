/*
 * config.c: the table of fundwatch.conf (server.h, struct srv_config).
 *
 * One row per setting: section, name, type, default, bounds and the field
 * it fills; common/conf.c reads the file against it and `init` writes the
 * commented defaults from it (conf_write_defaults), so the file a new data
 * folder gets and the values the server uses without one cannot drift
 * apart.  Checks that a table cannot express (the syntax of `listen`) are
 * made where the value is used, in http.c.
 */
#include <stddef.h>

#include "server.h"

#define CFG(sec, name, type, def, lo, hi, field, help) \
	{ sec, name, type, def, lo, hi, offsetof(struct srv_config, field), help }

const struct conf_entry srv_config_table[] = {
	CFG("server", "listen", CONF_STR, "127.0.0.1:8443", 0, 0, listen,
	    "address:port to listen on, numeric: 127.0.0.1:8443, [::1]:8443, "
	    "0.0.0.0:8443; port 0 picks a free port (written to run/port)"),
	CFG("server", "max_connections", CONF_INT, "256", 1, 65536,
	    max_connections,
	    "connections served at once; more are closed at once, before "
	    "their TLS handshake"),
	CFG("server", "timeout", CONF_DURATION, "30s", 1, 3600, timeout,
	    "idle limit of a connection; a request may take this long plus "
	    "1 s per KiB it sends (slower clients are cut off)"),
	CFG("server", "max_chunk", CONF_SIZE, "1M", 64 << 10, FW_MAX_CHUNK,
	    max_chunk,
	    "largest upload chunk accepted and offered to devices (chunk_size); "
	    "at most 4M (protocol limit)"),
	CFG("server", "log_file", CONF_STR, "", 0, 0, log_file,
	    "log to this file (reopened on SIGHUP); empty: syslog, or stderr "
	    "with -d"),
	CFG("store", "disk_reserve", CONF_SIZE, "256M", 0, 0, disk_reserve,
	    "refuse uploads with insufficient_storage when free disk space "
	    "falls below this"),
	CFG("registry", "grace", CONF_DURATION, "30d", 0, 3650 * 86400LL, grace,
	    "how long after a term ends observations captured during it are "
	    "still accepted (late sync)"),
	CFG("registry", "enroll_ttl", CONF_DURATION, "24h", 60, 30 * 86400LL,
	    enroll_ttl,
	    "lifetime of a one-time device enrollment code"),
};

const size_t srv_config_table_len =
    sizeof srv_config_table / sizeof srv_config_table[0];
