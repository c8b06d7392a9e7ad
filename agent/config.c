/*
 * config.c: the table of agent.conf (agent.h, struct agent_config) and
 * where the configuration file and the data folder are.
 *
 * One row per setting; common/conf.c reads the file against it and
 * `config --defaults` writes the commented defaults from it, so the file and
 * the values used without one cannot drift apart.  A missing file is not an
 * error: a handheld runs on the defaults and the enrollment's server URL.
 * Values that a table cannot check (a URL's scheme) are checked where used.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

#define CFG(sec, name, type, def, lo, hi, field, help) \
	{ sec, name, type, def, lo, hi, offsetof(struct agent_config, field), help }

static const struct conf_entry agent_config_table[] = {
	CFG("agent", "data_dir", CONF_STR, "", 0, 0, data_dir,
	    "data folder (database, key, encrypted evidence); empty: "
	    AGENT_DATA_DEFAULT "; $FUNDWATCH_AGENT_DATA overrides"),
	CFG("agent", "log_file", CONF_STR, "", 0, 0, log_file,
	    "log file of `run`; empty: syslog, or stderr in the foreground"),
	CFG("sync", "server_url", CONF_STR, "", 0, 0, server_url,
	    "office server, https://host:port; empty: the URL given at "
	    "enrollment"),
	CFG("sync", "interval", CONF_DURATION, "15m", 10, 7 * 86400LL,
	    sync_interval,
	    "time between sync passes of `run` (a capture also wakes it)"),
	CFG("sync", "chunk_size", CONF_SIZE, "1M", 4 << 10, FW_MAX_CHUNK,
	    chunk_size,
	    "upload chunk; the server's chunk_size wins if smaller; at most 4M"),
	CFG("sync", "bandwidth", CONF_SIZE, "0", 0, 0, bandwidth,
	    "upload cap in bytes per second for metered links; 0: no cap"),
	CFG("sync", "bundle_max_observations", CONF_INT, "64", 1,
	    FW_MAX_OBSERVATIONS, bundle_max_obs,
	    "observations sealed into one bundle, 1..256"),
	CFG("sync", "bundle_max_bytes", CONF_SIZE, "64M", 0, 0,
	    bundle_max_bytes,
	    "evidence bytes named by one bundle (one observation always fits)"),
	CFG("store", "retention", CONF_DURATION, "7d", 0, 3650 * 86400LL,
	    retention,
	    "how long observations are kept after the office's receipt; then "
	    "their text and evidence are deleted from the device"),
};

#define AGENT_CONFIG_N (sizeof agent_config_table / sizeof agent_config_table[0])

fw_err
config_defaults(struct agent_config *c)
{
	return conf_defaults(agent_config_table, AGENT_CONFIG_N, c);
}

fw_err
config_load(struct agent_config *c, const char *path, int *found)
{
	fw_err e;

	if (found != NULL)
		*found = 0;
	config_free(c);
	if ((e = config_defaults(c)) != FW_OK)
		return e;
	e = conf_load(agent_config_table, AGENT_CONFIG_N, path, c);
	if (e == FW_ERR_NOT_FOUND) {
		log_debug("config %s: absent, using the defaults", path);
		return FW_OK;
	}
	if (e == FW_OK && found != NULL)
		*found = 1;
	return e;
}

/* arg if given, else $env if set and not empty, else NULL. */
static const char *
config_given(const char *arg, const char *env)
{
	const char *v;

	if (arg != NULL && *arg != '\0')
		return arg;
	v = getenv(env);
	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
config_path(const char *arg)
{
	const char *v = config_given(arg, "FUNDWATCH_AGENT_CONFIG");

	return v != NULL ? v : AGENT_CONFIG_DEFAULT;
}

const char *
config_data_dir(const struct agent_config *c, const char *arg)
{
	const char *v = config_given(arg, "FUNDWATCH_AGENT_DATA");

	if (v != NULL)
		return v;
	if (c != NULL && c->data_dir != NULL && *c->data_dir != '\0')
		return c->data_dir;
	return AGENT_DATA_DEFAULT;
}

static fw_err
config_dup(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return FW_OK;
	if ((*dst = strdup(src)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "config: out of memory");
	return FW_OK;
}

fw_err
config_copy(struct agent_config *dst, const struct agent_config *src)
{
	fw_err e;

	*dst = *src;
	dst->data_dir = dst->server_url = dst->log_file = NULL;
	if ((e = config_dup(&dst->data_dir, src->data_dir)) != FW_OK ||
	    (e = config_dup(&dst->server_url, src->server_url)) != FW_OK ||
	    (e = config_dup(&dst->log_file, src->log_file)) != FW_OK) {
		config_free(dst);
		return e;
	}
	return FW_OK;
}

fw_err
config_write_defaults(const char *path)
{
	return conf_write_defaults(agent_config_table, AGENT_CONFIG_N, path,
	    "fundwatch-agent configuration (agent.conf); every line shows "
	    "its default");
}

void
config_free(struct agent_config *c)
{
	if (c == NULL)
		return;
	conf_free(agent_config_table, AGENT_CONFIG_N, c);
	memset(c, 0, sizeof *c);
}
